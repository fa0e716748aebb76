"""Listing, explanations, HTML, arms, the command line's exit statuses 0 and 1."""

from __future__ import annotations

import json
import re

import pandas as pd
from extract_factory import valid_extract, write_extract
from validation_helpers import explanations_tsv, findings_at

from outcomes.cli import main
from outcomes.validation import validate_extract


def test_explained_error_gives_exit_0(tables, run):
    tables["participants"].loc[0, "age"] = "101"
    tables["questionnaires"] = tables["questionnaires"].drop(columns=["ucla3_03"])
    r = run(tables)
    assert r.exit_code == 1
    expl = explanations_tsv(("PAR-007", "P001", "age confirmed with site: 101"),
                            ("QST-008", "ucla3_03", "not collected"))
    r = run(tables, explanations=expl)
    assert r.exit_code == 0
    f = r.findings.set_index("rule_id")
    assert f.loc["PAR-007", "explained"] == "yes"
    assert f.loc["PAR-007", "reason"] == "age confirmed with site: 101"
    assert f.loc["QST-008", "explained"] == "yes"
    s = r.summary.set_index("rule_id")
    assert s.loc["PAR-007", "explained"] == 1 and s.loc["PAR-007", "count"] == 1


def test_explanation_matches_rule_and_key_only(tables, run):
    tables["participants"].loc[0, "age"] = "101"
    tables["participants"].loc[1, "age"] = "102"
    r = run(tables, explanations=explanations_tsv(("PAR-007", "P001", "ok"), ("PAR-008", "P002", "wrong rule")))
    assert r.exit_code == 1
    f = r.findings
    assert f.loc[(f["record_key"] == "P002") & (f["rule_id"] == "PAR-007"), "explained"].tolist() == ["no"]
    assert ("explanations", 3, "") in findings_at(r, "FIL-008")


def test_explanation_of_a_questionnaire_key(tables, run):
    tables["questionnaires"].loc[3, "hhi_01"] = "9"
    r = run(tables, explanations=explanations_tsv(("QST-007", "P002|month_4", "paper form says 9")))
    assert r.exit_code == 0
    assert r.findings["record_key"].tolist() == ["P002|month_4"]


def test_listing_is_sorted_and_complete(tables, run, tmp_path):
    n = 40
    t = valid_extract(n)
    t["participants"]["age"] = "abc"
    t["participants"].loc[3, "sex"] = "?"
    t["admissions"].loc[0, "legal_status"] = "x"
    r = run(t)
    f = r.findings
    assert (f["rule_id"] == "PAR-007").sum() == n  # never capped
    order = {"participants": 0, "questionnaires": 1, "admissions": 2, "peer_contacts": 3}
    key = list(zip(f["table"].map(order), f["row"], f["column"], f["rule_id"], strict=True))
    assert key == sorted(key)
    r.write(tmp_path / "out")
    detail = pd.read_csv(tmp_path / "out" / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert len(detail) == len(f)
    summary = pd.read_csv(tmp_path / "out" / "issues_summary.tsv", sep="\t")
    assert summary.set_index("rule_id").loc["PAR-007", "count"] == n


def test_values_with_tabs_and_newlines_survive_the_tsv(tables, run, tmp_path):
    tables["admissions"].loc[3, "legal_status"] = "sec\ttion\n3"
    r = run(tables)
    r.write(tmp_path / "out")
    detail = pd.read_csv(tmp_path / "out" / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert detail.loc[detail["rule_id"] == "ADM-006", "value"].tolist() == ["sec\ttion\n3"]


def test_html_is_self_contained_and_pages_many_findings(tmp_path):
    n = 10_000
    t = valid_extract(n)
    t["participants"]["age"] = "abc"
    d = write_extract(t, tmp_path / "x")
    r = validate_extract(d)
    assert len(r.findings) >= n
    r.write(tmp_path / "out")
    html = (tmp_path / "out" / "validation.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html
    assert html.count("<tr") < 100  # detail rows are rendered by script, a page at a time
    data = re.search(r'<script id="findings-data" type="application/json">(.*?)</script>', html, re.S)
    payload = json.loads(data.group(1))
    assert len(payload["rows"]) == len(r.findings)
    assert payload["columns"][:3] == ["rule_id", "severity", "category"]


def test_html_escapes_values(tables, run, tmp_path):
    tables["admissions"].loc[3, "legal_status"] = "</script><b>x</b>"
    r = run(tables)
    r.write(tmp_path / "out")
    html = (tmp_path / "out" / "validation.html").read_text(encoding="utf-8")
    assert "</script><b>" not in html


def test_renamed_arms(tables, run):
    tables["participants"]["arm"] = tables["participants"]["arm"].map(
        {"peer_support": "intervention", "usual_care": "control"}
    )
    assert run(tables).exit_code == 1
    r = run(tables, arms=("intervention", "control"))
    assert r.exit_code == 0, r.findings.to_string()
    tables["peer_contacts"].loc[len(tables["peer_contacts"])] = ["P002", "2024-03-01", "W1", "30", "text"]
    r = run(tables, arms=("intervention", "control"))
    assert ("peer_contacts", 11, "participant_id") in findings_at(r, "XTB-007")


def test_cli_exit_0_and_1(tables, tmp_path, capsys):
    d = write_extract(tables, tmp_path / "x")
    assert main(["validate", str(d), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr()
    assert "  FIL-014  notice" in out.out and out.err == ""  # no data cut
    assert "Gate passed: no unexplained errors (exit status 0)." in out.out.splitlines()
    assert main(["validate", str(d), "--out", str(tmp_path / "o"), "--data-cut", "2024-12-31"]) == 0
    out = capsys.readouterr()
    assert "Findings: none unexplained." in out.out.splitlines() and out.err == ""
    assert main(["validate", str(d), "--out", str(tmp_path / "o"), "--data-cut", "2024-06-30"]) == 0
    # P004's death (2024-09-01) and A005's admission lie after this cut
    assert "(exit status 0); 2 warnings to review." in capsys.readouterr().out
    tables["participants"].loc[0, "age"] = "7"
    d = write_extract(tables, tmp_path / "y")
    assert main(["validate", str(d), "--out", str(tmp_path / "o2")]) == 1
    out = capsys.readouterr()
    assert out.err == ""  # errors found is the command's result (stdout), not its failure
    assert out.out.splitlines()[-2:] == [
        "Gate FAILED: 1 unexplained error (exit status 1); fix the extract or explain each finding, "
        "then validate again.",
        f"Listing: {tmp_path / 'o2' / 'validation.html'}",
    ]
    e = tmp_path / "e.tsv"
    e.write_text(explanations_tsv(("PAR-007", "P001", "checked")))
    assert main(["validate", str(d), "--out", str(tmp_path / "o3"), "--explanations", str(e),
                 "--data-cut", "2024-12-31"]) == 0
    detail = pd.read_csv(tmp_path / "o3" / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert detail[["explained", "reason"]].values.tolist() == [["yes", "checked"]]


def test_quarantine_files_keep_original_text(tables, run, tmp_path):
    tables["participants"].loc[2, "participant_id"] = "P001"
    tables["participants"].loc[2, "site"] = "  S1  "
    r = run(tables)
    r.write(tmp_path / "out")
    q = pd.read_csv(tmp_path / "out" / "quarantine" / "participants.csv", dtype=str, keep_default_na=False)
    assert q["source_row"].tolist() == ["2", "4"]
    assert q["rule_ids"].tolist() == ["PAR-002", "PAR-002"]
    assert q["site"].tolist() == ["S1", "  S1  "]
    for t in ("questionnaires", "admissions", "peer_contacts"):
        assert (tmp_path / "out" / "quarantine" / f"{t}.csv").is_file()
    acc = pd.read_csv(tmp_path / "out" / "row_accounting.tsv", sep="\t").set_index("table")
    assert acc.loc["participants", "rows_quarantined"] == 2
    assert (acc["rows_in"] == acc["rows_used"] + acc["rows_quarantined"]).all()


def test_same_arm_twice_is_a_config_error(tables, tmp_path, capsys):
    d = write_extract(tables, tmp_path / "x")
    assert main(["validate", str(d), "--out", str(tmp_path / "o"), "--arms", "a", "a"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("outcomes validate: arms:") and "Traceback" not in err
    assert main(["validate", str(d), "--out", str(tmp_path / "o"), "--data-cut", "2024-31-12"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "outcomes validate: data_cut: '2024-31-12' is not a YYYY-MM-DD date"


def test_quarantine_columns_never_overwrite_input_columns(tables, run, tmp_path):
    p = tables["participants"]
    p["source_row"] = [f"s{i}" for i in range(len(p))]
    p["rule_ids"] = [f"r{i}" for i in range(len(p))]
    p["validator_source_row"] = "taken too"
    p.loc[1, "site"] = ""  # quarantined (PAR-003), line 3
    r = run(tables)
    r.write(tmp_path / "out")
    q = pd.read_csv(tmp_path / "out" / "quarantine" / "participants.csv", dtype=str, keep_default_na=False)
    assert list(q.columns[-5:]) == [
        "source_row", "rule_ids", "validator_source_row", "validator_source_row_2", "validator_rule_ids",
    ]
    assert q[["source_row", "rule_ids", "validator_source_row"]].values.tolist() == [["s1", "r1", "taken too"]]
    assert q[["validator_source_row_2", "validator_rule_ids"]].values.tolist() == [["3", "PAR-003"]]
    assert {"source_row", "rule_ids"} <= {c for _, _, c in findings_at(r, "FIL-003")}


def _payload(html):
    data = re.search(r'<script id="findings-data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(data.group(1))


def test_html_embeds_the_first_findings_of_each_rule_and_says_so(tables, run):
    from outcomes.validation.report import _render_html

    t = valid_extract(40)
    t["participants"]["age"] = "abc"  # PAR-007 on 40 rows
    t["admissions"].loc[0, "legal_status"] = "x"  # ADM-006 once
    r = run(t)
    n_par7 = int((r.findings["rule_id"] == "PAR-007").sum())
    assert n_par7 == 40
    html = _render_html(r.findings, r.summary, r.row_accounting, r.exit_code, "x", max_per_rule=5)
    p = _payload(html)
    rows = pd.DataFrame(p["rows"], columns=p["columns"])
    assert p["total"] == len(r.findings) and p["per_rule"] == 5
    par7 = rows[rows["rule_id"] == "PAR-007"]
    assert par7["row"].tolist() == [2, 3, 4, 5, 6]  # the first five, in listing order
    assert (rows["rule_id"] == "ADM-006").sum() == 1  # rules under the cap are complete
    assert len(rows) == len(r.findings) - (n_par7 - 5)
    assert f"{len(rows)} of {len(r.findings)} findings are listed below" in html
    assert "issues_detail.tsv" in html and "(first 5 below)" in html
    # the counts at the top are over every finding
    assert f"{r.counts()['error']} errors" in html
    # under the cap: everything embedded, no note
    html = _render_html(r.findings, r.summary, r.row_accounting, r.exit_code, "x", max_per_rule=40)
    p = _payload(html)
    assert len(p["rows"]) == len(r.findings) and p["per_rule"] is None
    assert 'id="capped-note"' not in html


def test_header_only_extract_exits_1_with_no_participants(tmp_path, capsys):
    """Every file header-only: exit 0 before (and a failure later in derive); now exit 1
    with the one finding that says why."""
    tables = {t: df.iloc[0:0] for t, df in valid_extract().items()}
    d = write_extract(tables, tmp_path / "x")
    assert main(["validate", str(d), "--out", str(tmp_path / "o"), "--data-cut", "2024-12-31"]) == 1
    detail = pd.read_csv(tmp_path / "o" / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert detail[["rule_id", "table", "row"]].values.tolist() == [["FIL-013", "participants", "1"]]
    assert detail["message"].iloc[0].startswith("no participants: participants.csv has no data rows")
