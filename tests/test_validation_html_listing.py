"""validation.html as a working tool (issue 11, point 5), in headless Chromium: the view
exports to CSV exactly as issues_detail.tsv writes it, the view lives in the URL fragment
(reload, back, forward), a finding's key copies as an explanations line that a rerun
accepts, and at a narrow width no id, key or date breaks inside a word."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pandas as pd
import pytest
from test_report import DATA, chrome, console_problems
from test_report_validation_html import _select, _state, _total
from test_spreadsheet import TRICKY

from outcomes import cli
from outcomes.spreadsheet import neutralise_formulas
from outcomes.validation.catalogue import build_catalogue
from outcomes.validation.findings import DETAIL_COLUMNS, summarise
from outcomes.validation.report import _render_html

NARROW = 500  # px: the narrowest window headless Chromium keeps
PILOT = "@P9999"  # a questionnaire of a participant not in the trial (XTB-001)


def faulty_extract(dest: Path) -> Path:
    """The bundled extract with a few faults a data manager meets: an implausible count
    to explain, values a spreadsheet would run or split, and 150 warnings to page through."""
    dest.mkdir(parents=True)
    t = {n: pd.read_csv(DATA / f"{n}.csv", dtype=str, keep_default_na=False)
         for n in ("participants", "questionnaires", "admissions", "peer_contacts")}
    p = t["participants"]
    p.loc[0, "prior_admissions"] = "62"  # PAR-017
    p.loc[1, "age"] = "=1+1"  # PAR-007, guarded in the listings
    p.loc[2, "sex"] = 'said "no", twice'  # PAR-008, a quote and a comma
    t["questionnaires"].loc[0, "participant_id"] = PILOT  # XTB-001, key '@P9999|baseline
    t["peer_contacts"].loc[:149, "peer_worker_id"] = ""  # PCT-003 warnings
    for name, frame in t.items():
        frame.to_csv(dest / f"{name}.csv", index=False)
    return dest


@pytest.fixture(scope="module")
def listing(tmp_path_factory):
    """The faulty extract, validated: (extract dir, output dir, issues_detail.tsv as text)."""
    tmp = tmp_path_factory.mktemp("listing")
    data = faulty_extract(tmp / "extract")
    out = tmp / "validation"
    assert cli.main(["validate", str(data), "--out", str(out), "--data-cut", "2025-12-31"]) == 1
    detail = pd.read_csv(out / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    return data, out, detail


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One Chromium for the module, downloading into ``browser.downloads`` and allowed to
    read the clipboard."""
    tmp = tmp_path_factory.mktemp("browser")
    driver = chrome(tmp)
    driver.downloads = tmp / "downloads"
    driver.downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(driver.downloads)})
    driver.execute_cdp_cmd("Browser.grantPermissions",
                           {"permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    yield driver
    driver.quit()


def export(driver) -> tuple[str, bytes]:
    """Click the export button; the downloaded file's name and bytes."""
    for f in driver.downloads.iterdir():
        f.unlink()
    driver.find_element("id", "export").click()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done = [f for f in driver.downloads.iterdir() if not f.name.endswith(".crdownload")]
        if done:
            time.sleep(0.05)
            return done[0].name, done[0].read_bytes()
        time.sleep(0.05)
    raise AssertionError("no download within 10 s")


def parse_csv(raw: bytes) -> list[list[str]]:
    """RFC 4180 as a spreadsheet reads it: UTF-8 with a byte-order mark, CRLF records."""
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw[3:].decode("utf-8")
    records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    # every record ends in CRLF; a bare LF or CR only inside a quoted field
    assert text.endswith("\r\n")
    assert text.count("\r\n") >= len(records)
    return records


def fragment(driver) -> str:
    return driver.execute_script("return location.hash")


def controls(driver) -> dict:
    return driver.execute_script(
        "var v = {}; ['f-rule','f-table','f-severity','f-explained','f-text','pagesize']"
        ".forEach(function (id) { v[id] = document.getElementById(id).value; }); return v;")


def test_export_guards_cells_as_the_tsv_writer_does(tmp_path, browser):
    """Every tricky value, in each text column a finding has, exported by the page's
    JavaScript, is the cell issues_detail.tsv's writer (outcomes.spreadsheet) writes."""
    n = len(TRICKY)
    findings = pd.DataFrame({
        "rule_id": "PAR-008", "severity": "error", "category": "code", "table": "participants",
        "row": range(2, n + 2), "participant_id": TRICKY, "record_key": TRICKY[::-1],
        "column": "sex", "value": TRICKY, "message": "sex is missing or not one of ...",
        "explained": "no", "reason": "", "explained_by": "", "explained_on": "",
        "caused_by": "", "knock_ons": 0,
    })[list(DETAIL_COLUMNS)]
    page = tmp_path / "validation.html"
    page.write_text(_render_html(findings, summarise(findings, build_catalogue()), None, 1, "x"),
                    encoding="utf-8")
    browser.get(page.as_uri())
    name, raw = export(browser)
    assert name == "validation-findings-all.csv"
    records = parse_csv(raw)
    want = neutralise_formulas(findings).astype(str)
    assert records[0] == list(DETAIL_COLUMNS)
    assert records[1:] == want.to_numpy().tolist()
    # the copy buttons guard the record key the same way (and quote it as the TSV does)
    keys = browser.execute_script(
        "document.getElementById('pagesize').value = '500';"
        "document.getElementById('pagesize').dispatchEvent(new Event('change'));"
        "return Array.from(document.querySelectorAll('#body button.copy-key'), b => b.dataset.key)")
    lines = [next(csv.reader([k], delimiter="\t")) for k in keys]
    assert lines == [["PAR-008", k] for k in want["record_key"]]
    assert console_problems(browser) == []

    # a capped page exports what it holds and says where the full listing is
    page.write_text(_render_html(findings, summarise(findings, build_catalogue()), None, 1, "x",
                                 max_per_rule=10), encoding="utf-8")
    browser.get(page.as_uri())
    note = browser.find_element("id", "export-note").text
    assert "first 10 findings of each rule and table" in note and "issues_detail.tsv" in note
    assert parse_csv(export(browser)[1])[1:] == want.to_numpy().tolist()[:10]


def test_view_in_url_export_and_copy_key(listing, browser, tmp_path):
    data, out, detail = listing
    browser.set_window_size(1280, 900)
    browser.get((out / "validation.html").as_uri())
    assert fragment(browser) == ""

    # the whole listing exports as issues_detail.tsv holds it
    name, raw = export(browser)
    assert name == "validation-findings-all.csv"
    records = parse_csv(raw)
    assert records[0] == list(detail.columns) and records[1:] == detail.to_numpy().tolist()
    assert any(r[detail.columns.get_loc("value")] == "'=1+1" for r in records)

    # a view: filter, typed search (one history entry), sort by row descending, page 2
    length = browser.execute_script("return history.length")
    _select(browser, "f-rule", "PCT-003")
    assert fragment(browser) == "#rule=PCT-003"
    browser.find_element("id", "f-text").send_keys("|20")
    assert browser.execute_script("return history.length") == length + 2
    heads = browser.find_elements("css selector", "#head th")
    row_col = [h.text for h in heads].index("row")  # display order, not the TSV's
    heads[row_col].click()
    heads[row_col].click()
    _select(browser, "pagesize", "50")
    browser.find_element("id", "next").click()
    assert fragment(browser) == "#rule=PCT-003&q=%7C20&sort=-row&size=50&page=2"
    seen, ctl = _state(browser), controls(browser)
    want = detail[(detail.rule_id == "PCT-003") & detail.record_key.str.contains("|20", regex=False)]
    assert _total(seen["info"]) == len(want) > 50 and seen["info"].startswith("findings 51\u2013")
    assert [r[row_col] for r in seen["rows"]] == sorted(want.row, key=int, reverse=True)[50:100]

    # the export holds every page of the view, in its order; the name says what it is
    name, raw = export(browser)
    assert name == "validation-findings-rule=PCT-003_search=-20.csv"
    records = parse_csv(raw)
    assert records[1:] == want.iloc[::-1].to_numpy().tolist()  # listing order is by row

    # a reload, and the same URL in a new tab, show the same view
    url = browser.current_url
    browser.refresh()
    assert _state(browser) == seen and controls(browser) == ctl
    browser.switch_to.new_window("tab")
    browser.get(url)
    assert _state(browser) == seen and controls(browser) == ctl
    browser.close()
    browser.switch_to.window(browser.window_handles[0])

    # back and forward step through the views
    browser.back()
    assert fragment(browser) == "#rule=PCT-003&q=%7C20&sort=-row&size=50"
    assert _state(browser)["info"].startswith("findings 1\u201350 of")
    for _ in range(3):  # page size, descending, ascending
        browser.back()
    assert fragment(browser) == "#rule=PCT-003&q=%7C20"
    browser.back()
    assert fragment(browser) == "#rule=PCT-003" and controls(browser)["f-text"] == ""
    assert _total(_state(browser)["info"]) == 150
    browser.forward()
    assert controls(browser)["f-text"] == "|20"

    # a link to a rule without findings shows none (not every finding)
    browser.get(url.split("#")[0] + "#rule=ADM-003")
    assert _state(browser)["info"] == "no findings match"
    assert controls(browser)["f-rule"] == "ADM-003"

    # copy a finding's key, paste it into explanations.tsv with a reason, rerun
    browser.get(url.split("#")[0] + "#rule=XTB-001")
    browser.find_element("css selector", "#body button.copy-key").click()
    copied = browser.execute_async_script(
        "var done = arguments[0]; navigator.clipboard.readText().then(done, e => done(String(e)))")
    assert copied == f"XTB-001\t'{PILOT}|baseline"
    expl = tmp_path / "explanations.tsv"
    expl.write_text(f"rule_id\trecord_key\treason\n{copied}\tpilot participant, not randomised\n",
                    encoding="utf-8")
    out2 = tmp_path / "validation"
    assert cli.main(["validate", str(data), "--out", str(out2), "--data-cut", "2025-12-31",
                     "--explanations", str(expl)]) == 1
    again = pd.read_csv(out2 / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    hit = again[again.rule_id == "XTB-001"]
    assert hit.explained.tolist() == ["yes"] and hit.reason.tolist() == ["pilot participant, not randomised"]
    assert "FIL-008" not in set(again.rule_id)
    browser.get((out2 / "validation.html").as_uri() + "#explained=yes")
    seen = _state(browser)
    assert _total(seen["info"]) == 1 and seen["classes"] == ["error explained"]
    assert console_problems(browser) == []


def test_narrow_window_never_breaks_a_word(listing, browser):
    """At 500 px ids, rule ids, keys and dates stay on one line, messages wrap at spaces
    only, and the listing scrolls sideways in its box instead of the page."""
    out = listing[1]
    browser.set_window_size(NARROW, 900)
    browser.get((out / "validation.html").as_uri())
    m = browser.execute_script("""
        function lines(node, start, end) {
          var r = document.createRange(); r.setStart(node, start); r.setEnd(node, end);
          var tops = {}; Array.from(r.getClientRects()).forEach(function (q) { tops[Math.round(q.top)] = 1; });
          return Object.keys(tops).length;
        }
        var head = Array.from(document.querySelectorAll('#head th'), h => h.textContent);
        var broken = [], wrapped = 0, wordsBroken = [];
        document.querySelectorAll('#body tr').forEach(function (tr) {
          Array.from(tr.children).forEach(function (td, i) {
            var t = td.firstChild;
            if (!t || t.nodeType !== 3 || !t.data) return;
            if (td.classList.contains('text') || td.classList.contains('value')) {
              if (lines(t, 0, t.data.length) > 1) wrapped++;
              var re = /\\S+/g, w;
              while ((w = re.exec(t.data))) { if (lines(t, w.index, w.index + w[0].length) > 1) wordsBroken.push(w[0]); }
            } else if (lines(t, 0, t.data.length) > 1) { broken.push(head[i] + ': ' + t.data); }
          });
        });
        var box = document.querySelector('#detail').parentNode;
        return {broken: broken, wrapped: wrapped, wordsBroken: wordsBroken,
                rows: document.querySelectorAll('#body tr').length,
                page: [document.documentElement.scrollWidth, window.innerWidth],
                box: [box.scrollWidth, box.clientWidth]};
    """)
    assert m["page"][1] <= NARROW + 20 and m["rows"] == 100
    assert m["broken"] == [], m["broken"][:5]
    assert m["wordsBroken"] == [], m["wordsBroken"][:5]
    assert m["wrapped"] > 0  # messages do wrap, at spaces
    assert m["page"][0] <= m["page"][1], "the page itself scrolls sideways"
    assert m["box"][0] > m["box"][1], "the listing should scroll sideways in its box"
    browser.set_window_size(1280, 900)
