"""validation.html in a real browser (issue 11, point 4): the root causes lead the listing,
each with its knock-on count, and their knock-ons are folded beneath them until opened.
Same skip/fail rule as the report's browser test."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from test_report import chrome, console_problems
from test_validation_html_listing import export, parse_csv

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_factory import valid_extract, write_extract

from outcomes import cli


def _rows(driver) -> list[dict]:
    return driver.execute_script(
        "var cols = Array.from(document.querySelectorAll('#head th')).map(h => h.textContent);"
        "return Array.from(document.querySelectorAll('#body tr')).map(function (tr) {"
        "  var cells = Array.from(tr.children).map(c => c.textContent), o = {};"
        "  cols.forEach(function (c, i) { o[c] = cells[i]; });"
        "  o._class = tr.className; o._cause = tr.getAttribute('data-cause'); return o; });")


def test_root_causes_lead_and_knock_ons_fold_beneath_them(tmp_path):
    t = valid_extract(40)
    p = t["participants"]
    p.loc[1, "arm"] = "placebo"  # P002: PAR-004, 3 knock-ons
    p.loc[10:39, "age"] = "150"  # 30 masked ages: findings that cause nothing
    t["participants"] = pd.concat([p, p.iloc[[0]].assign(arm="usual_care")], ignore_index=True)  # P001 twice: 9
    d = write_extract(t, tmp_path / "extract")
    out = tmp_path / "validation"
    assert cli.main(["validate", str(d), "--out", str(out), "--data-cut", "2024-12-31"]) == 1
    detail = pd.read_csv(out / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    n_knock = int((detail.caused_by != "").sum())
    assert n_knock == 9 + 3

    driver = chrome(tmp_path)
    try:
        driver.get((out / "validation.html").resolve().as_uri())
        assert console_problems(driver) == []
        rows = _rows(driver)
        # the two copies of P001 (9 knock-ons each) first, then P002's arm (3), then the rest
        assert [(r["rule_id"], r["row"], r["knock_ons"]) for r in rows[:3]] == [
            ("PAR-002", "2", "\u25b8 9"), ("PAR-002", "42", "\u25b8 9"), ("PAR-004", "3", "\u25b8 3")]
        assert all("cause" in r["_class"].split() for r in rows[:3])
        assert not any(r["rule_id"] == "XTB-002" for r in rows)  # folded away
        assert len(rows) == len(detail) - n_knock
        info = driver.find_element("id", "info").text
        assert f"of {len(detail) - n_knock} " in info and f"and {n_knock} knock-on findings" in info
        assert driver.find_element("id", "knock-on-note").text.startswith(f"{n_knock} of the findings are knock-ons")

        # the export holds every finding of the view in the listing's order: each root
        # cause followed by its knock-ons (folded or not), each knock-on once
        driver.downloads = tmp_path / "downloads"
        driver.downloads.mkdir()
        driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": str(driver.downloads)})
        records = parse_csv(export(driver)[1])
        head, body = records[0], records[1:]
        got = [dict(zip(head, r, strict=True)) for r in body]
        assert len(got) == len(detail)
        assert sorted(r["row"] + r["table"] + r["rule_id"] for r in got) == sorted(
            (detail.row + detail.table + detail.rule_id).tolist())
        assert [(r["rule_id"], r["row"]) for r in got[:1]] == [("PAR-002", "2")]
        assert [r["caused_by"] for r in got[1:10]] == ["PAR-002 P001"] * 9
        assert [(r["rule_id"], r["row"]) for r in got[10:12]] == [("PAR-002", "42"), ("PAR-004", "3")]
        assert [r["caused_by"] for r in got[12:15]] == ["PAR-004 P002"] * 3
        assert not any(r["caused_by"] for r in got[15:])

        # open P002's knock-ons: they appear beneath it, then close again
        button = driver.find_element("css selector", "#body tr:nth-child(3) button.knock-on-toggle")
        assert button.get_attribute("aria-expanded") == "false"
        button.click()
        rows = _rows(driver)
        kids = rows[3:6]
        assert [r["rule_id"] for r in kids] == ["XTB-002"] * 3
        assert {r["caused_by"] for r in kids} == {"PAR-004 P002"}
        assert all("knock-on" in r["_class"].split() and r["_cause"] is not None for r in kids)
        assert rows[6]["rule_id"] != "XTB-002"
        driver.find_element("css selector", "#body tr:nth-child(3) button.knock-on-toggle").click()
        assert len(_rows(driver)) == len(detail) - n_knock

        # filtered to the knock-on rule, the knock-ons are listed on their own
        driver.execute_script("var s = document.getElementById('f-rule'); s.value = 'XTB-002';"
                              "s.dispatchEvent(new Event('change'));")
        rows = _rows(driver)
        assert len(rows) == n_knock and {r["rule_id"] for r in rows} == {"XTB-002"}
        assert console_problems(driver) == []
    finally:
        driver.quit()
