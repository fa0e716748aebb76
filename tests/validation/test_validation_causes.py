"""Root causes first (issue 11, point 4): knock-on findings link to the findings that caused
them, counts tell the two apart, explaining a cause explains its knock-ons, and a
duplicated key names its partner lines and the columns on which the copies conflict."""

from __future__ import annotations

import pandas as pd
import pytest
from validation_helpers import explanations_tsv

OLD_DETAIL_COLUMNS = ["rule_id", "severity", "category", "table", "row", "participant_id", "record_key",
                      "column", "value", "message", "explained", "reason"]
OLD_SUMMARY_COLUMNS = ["rule_id", "severity", "table", "count", "message", "explained"]


def _break(tables):
    """P001 twice (the copy in the other arm), P002 with two quarantining errors, P003's row
    malformed (a field too many), P004 with a masked age: 9 + 3 + 5 knock-ons."""
    p = tables["participants"]
    copy = p.iloc[[0]].assign(arm="usual_care")
    p.loc[1, ["arm", "randomisation_date"]] = ["", "2024-13-01"]
    p.loc[3, "age"] = "150"
    malformed = ",".join(p.loc[2].tolist()) + ",extra\n"
    tables["participants"] = pd.concat([p.drop(index=2), copy], ignore_index=True)

    def post(d):
        with open(d / "participants.csv", "a", encoding="utf-8") as fh:
            fh.write(malformed)

    return post


@pytest.fixture
def broken(tables, run):
    post = _break(tables)
    return tables, post, run(tables, post=post)


def test_knock_ons_name_their_causes_and_causes_count_them(broken, tmp_path):
    _, _, r = broken
    f = r.findings
    knock = f[f["rule_id"] == "XTB-002"]
    assert dict(knock.groupby("participant_id")["caused_by"].agg(set)) == {
        "P001": {"PAR-002 P001"}, "P002": {"PAR-004 P002; PAR-005 P002"}, "P003": {"FIL-002 P003"}}
    assert knock["participant_id"].value_counts().to_dict() == {"P001": 9, "P003": 5, "P002": 3}
    assert (knock["knock_ons"] == 0).all()
    others = f[f["rule_id"] != "XTB-002"]
    assert (others["caused_by"] == "").all()
    causes = others[others["knock_ons"] > 0]
    assert sorted(zip(causes["rule_id"], causes["row"], causes["knock_ons"], strict=True)) == [
        ("FIL-002", 8, 5), ("PAR-002", 2, 9), ("PAR-002", 7, 9), ("PAR-004", 3, 3), ("PAR-005", 3, 3)]
    # a masked cell quarantines nothing: it causes nothing
    assert others.loc[others["rule_id"] == "PAR-007", "knock_ons"].tolist() == [0]

    s = r.summary.set_index(["rule_id", "table"])
    assert list(r.summary.columns[:6]) == OLD_SUMMARY_COLUMNS
    assert s.loc[("PAR-002", "participants"), ["count", "root_causes", "knock_ons"]].tolist() == [2, 2, 9]
    assert s.loc[("PAR-004", "participants"), ["count", "root_causes", "knock_ons"]].tolist() == [1, 1, 3]
    assert s.loc[("XTB-002", "questionnaires"), ["count", "root_causes", "knock_ons"]].tolist() == [7, 0, 0]
    assert int(s["count"].sum() - s["root_causes"].sum()) == len(knock) == 17

    acc = r.row_accounting.set_index("table")
    assert (acc["rows_in"] == acc["rows_used"] + acc["rows_quarantined"]).all()
    assert acc.loc["questionnaires", "rows_quarantined"] == 7

    r.write(tmp_path / "out")
    detail = pd.read_csv(tmp_path / "out" / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(detail.columns[:12]) == OLD_DETAIL_COLUMNS  # existing columns stay where they were
    assert list(detail.columns[12:]) == ["explained_by", "explained_on", "caused_by", "knock_ons"]
    roots = detail[detail["caused_by"] == ""]  # the spreadsheet filter "caused_by: (empty)"
    assert "XTB-002" not in set(roots["rule_id"])
    assert len(detail[detail["caused_by"] == "PAR-002 P001"]) == 9
    summary = pd.read_csv(tmp_path / "out" / "issues_summary.tsv", sep="\t")
    assert list(summary.columns[:6]) == OLD_SUMMARY_COLUMNS


def test_explaining_a_cause_explains_its_knock_ons(broken, run):
    tables, post, _ = broken
    # one of P002's two causes explained: its knock-ons are not
    r = run(tables, post=post, explanations=explanations_tsv(("PAR-004", "P002", "arm unknown at site")))
    f = r.findings
    assert set(f.loc[f["participant_id"].eq("P002") & f["rule_id"].eq("XTB-002"), "explained"]) == {"no"}
    # both causes, by one person on two days: that person, the later day
    r = run(tables, post=post, explanations=explanations_tsv(("PAR-004", "P002", "arm unknown at site"))
            + "PAR-005\tP002\tdate unreadable\tJ. Data Manager\t2026-12-01\n")
    f = r.findings
    knock = f[f["participant_id"].eq("P002") & f["rule_id"].eq("XTB-002")]
    assert set(zip(knock["explained"], knock["explained_by"], knock["explained_on"], strict=True)) == {
        ("yes", "J. Data Manager", "2026-12-01")}

    r = run(tables, post=post, explanations=explanations_tsv(
        ("PAR-004", "P002", "arm unknown at site"),
        ("PAR-005", "P002", "date unreadable on the CRF"),
        ("PAR-002", "P001", "the site entered P001 twice"),
        ("FIL-002", "P003", "stray comma, fixed in the next extract"),
        ("XTB-002", "P003|baseline", "checked on its own"),
        ("PAR-007", "P004", "age confirmed"),
        audit=("A. Manager", "2026-11-02"),
    ).replace("PAR-005\tP002\tdate unreadable on the CRF\tA. Manager\t2026-11-02",
              "PAR-005\tP002\tdate unreadable on the CRF\tB. Statistician\t2026-11-20"))
    assert r.exit_code == 0
    f = r.findings.set_index(["rule_id", "record_key"])
    ko = f.loc[("XTB-002", "P002|baseline")]
    assert ko["explained"] == "yes"
    assert ko["reason"] == "PAR-004 P002: arm unknown at site; PAR-005 P002: date unreadable on the CRF"
    assert ko["explained_by"] == "A. Manager; B. Statistician"
    assert ko["explained_on"] == "2026-11-20"  # the knock-on is explained once both causes are
    assert f.loc[("XTB-002", "A001"), "reason"] == "PAR-002 P001: the site entered P001 twice"
    # a knock-on's own explanation wins over its cause's
    assert f.loc[("XTB-002", "P003|baseline"), "reason"] == "checked on its own"
    assert f.loc[("XTB-002", "P003|month_4"), "reason"] == "FIL-002 P003: stray comma, fixed in the next extract"
    s = r.summary.set_index(["rule_id", "table"])
    assert s.loc[("XTB-002", "questionnaires"), "explained"] == 7


def test_duplicate_keys_name_their_partner_lines_and_conflicts(tables, run):
    p, q, a, c = (tables[t] for t in ("participants", "questionnaires", "admissions", "peer_contacts"))
    tables["participants"] = pd.concat([p, p.iloc[[0]].assign(arm="usual_care", death_date="2024-05-01"),
                                        p.iloc[[1, 1, 1, 1, 1, 1, 1]]], ignore_index=True)
    tables["questionnaires"] = pd.concat([q, q.iloc[[0]]], ignore_index=True)
    tables["admissions"] = pd.concat([a, a.iloc[[2]].assign(legal_status="detained")], ignore_index=True)
    tables["peer_contacts"] = pd.concat([c, c.iloc[[5]].assign(duration_minutes="50")], ignore_index=True)
    f = run(tables).findings
    msg = {(r, t, int(line)): m[m.index("also on"):] for r, t, line, m in
           zip(f["rule_id"], f["table"], f["row"], f["message"], strict=True)
           if r in ("PAR-002", "QST-003", "ADM-003", "PCT-006")}
    assert msg[("PAR-002", "participants", 2)] == "also on line 8; copies conflict on arm, death_date"
    assert msg[("PAR-002", "participants", 8)] == "also on line 2; copies conflict on arm, death_date"
    # eight copies: the first five other lines, then how many more
    assert msg[("PAR-002", "participants", 3)] == "also on lines 9, 10, 11, 12, 13 and 2 more; identical copies"
    assert msg[("PAR-002", "participants", 15)] == "also on lines 3, 9, 10, 11, 12 and 2 more; identical copies"
    n_q = len(q) + 1
    assert msg[("QST-003", "questionnaires", 2)] == f"also on line {n_q + 1}; identical copies"
    assert msg[("ADM-003", "admissions", 4)] == "also on line 7; copies conflict on legal_status"
    assert msg[("PCT-006", "peer_contacts", 7)] == f"also on line {len(c) + 2}; copies conflict on duration_minutes"
    assert set(f.loc[f["rule_id"] == "PAR-002", "message"].str.split(": ").str[0]) == {
        "participant_id is duplicated (every copy quarantined)"}
