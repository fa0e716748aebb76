"""Explained findings keep their audit trail (issue 11, point 6): who accepted an explanation
and when, from the explanations file into the listing; files of the earlier three-column
format are still read, with a notice per absent column."""

from __future__ import annotations

import pandas as pd
from extract_factory import write_extract
from validation_helpers import explanations_tsv, findings_at

from outcomes.cli import main


def test_audit_columns_reach_the_listing(tables, run, tmp_path):
    tables["participants"].loc[0, "age"] = "101"
    r = run(tables, explanations=explanations_tsv(("PAR-007", "P001", "age confirmed with site"),
                                                  audit=("Jo Smith (data manager)", "2026-11-02")))
    assert r.exit_code == 0
    f = r.findings
    assert f[["rule_id", "explained", "reason", "explained_by", "explained_on"]].values.tolist() == [
        ["PAR-007", "yes", "age confirmed with site", "Jo Smith (data manager)", "2026-11-02"]]
    r.write(tmp_path / "out")
    detail = pd.read_csv(tmp_path / "out" / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert detail.loc[0, ["explained_by", "explained_on"]].tolist() == ["Jo Smith (data manager)", "2026-11-02"]


def test_a_three_column_file_is_read_with_a_notice(tables, tmp_path, capsys):
    tables["participants"].loc[0, "age"] = "101"
    d = write_extract(tables, tmp_path / "x")
    e = tmp_path / "explanations.tsv"
    e.write_text("rule_id\trecord_key\treason\nPAR-007\tP001\tage confirmed with site\n", encoding="utf-8")
    assert main(["validate", str(d), "--out", str(tmp_path / "o"), "--explanations", str(e),
                 "--data-cut", "2024-12-31"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    detail = pd.read_csv(tmp_path / "o" / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    explained = detail[detail["rule_id"] == "PAR-007"]
    assert explained[["explained", "reason", "explained_by", "explained_on"]].values.tolist() == [
        ["yes", "age confirmed with site", "", ""]]
    notices = detail[detail["rule_id"] == "FIL-004"]
    assert notices[["severity", "table", "row", "column"]].values.tolist() == [
        ["notice", "explanations", "1", "explained_by"], ["notice", "explanations", "1", "explained_on"]]
    assert "who accepted each explanation and when is not recorded" in notices["message"].iloc[0]


def test_no_notice_without_an_explanations_file_or_with_the_audit_columns(tables, run):
    assert not findings_at(run(tables), "FIL-004")
    assert not findings_at(run(tables, explanations=explanations_tsv()), "FIL-004")


def test_issues_explained_counts_who_accepted_what_and_when(tables, run, tmp_path):
    tables["participants"].loc[0:2, "age"] = "101"
    r = run(tables, explanations=explanations_tsv(("PAR-007", "P001", "ok"), ("PAR-007", "P002", "ok"),
                                                  audit=("Jo", "2026-11-02"))
            + "PAR-007\tP003\tok\tAl\t2026-10-30\n")
    r.write(tmp_path / "out")
    got = pd.read_csv(tmp_path / "out" / "issues_explained.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert got.values.tolist() == [["PAR-007", "error", "participants", "Al", "2026-10-30", "1"],
                                   ["PAR-007", "error", "participants", "Jo", "2026-11-02", "2"]]
    assert "P001" not in (tmp_path / "out" / "issues_explained.tsv").read_text()  # no record keys
