"""What ``outcomes validate`` prints at the end: the summary (stdout) and the unreadable
extract's problem list (stderr)."""

from __future__ import annotations

import pandas as pd
from extract_factory import write_extract

from outcomes.cli import main
from outcomes.validation.console import rule_counts, summary_text, unreadable_text
from outcomes.validation.reader import UnreadableFile, UnreadableFiles

EXPL = ("rule_id\trecord_key\treason\texplained_by\texplained_on\n"
        "PAR-007\tP002\tage confirmed with the site\tA. Data Manager\t2024-12-02\n")


def _broken(tables):
    """Two ages out of range (one explained), a duplicated id (its tables' rows follow it
    into quarantine), and a column that is not part of the contract."""
    p = tables["participants"]
    p.loc[0, "age"] = "101"
    p.loc[1, "age"] = "102"
    p.loc[2, "participant_id"] = "P001"
    p["favourite_colour"] = "blue"
    return tables


def _body(text: str, start: str, end: str) -> list[str]:
    lines = text.splitlines()
    i = lines.index(start)
    j = next(k for k in range(i + 1, len(lines)) if lines[k].startswith(end))
    return lines[i + 1:j]


def test_summary_counts_rows_rules_explained_and_the_verdict(tables, run):
    r = run(_broken(tables), explanations=EXPL)
    text = summary_text(r, "out/validation.html")
    lines = text.splitlines()
    assert lines[0] == f"outcomes validate: {r.data_dir}"
    # rows per table, as row_accounting.tsv has them, and their total
    rows = _body(text, "Rows (rows in = used + quarantined):", "Unexplained")
    assert rows[0].split() == ["table", "rows", "in", "used", "quarantined"]
    acc = r.row_accounting
    expected = [[t, str(i), str(u), str(q)] for t, i, u, q in acc.itertuples(index=False)]
    expected.append(["total", *(str(int(acc[c].sum())) for c in ("rows_in", "rows_used", "rows_quarantined"))])
    assert [row.split() for row in rows[1:]] == expected
    assert int(acc.loc[acc["table"] == "participants", "rows_quarantined"].iloc[0]) == 2
    # unexplained findings per rule: errors before warnings, root causes before knock-ons,
    # largest count first; the knock-on findings a rule's findings caused beside it
    rules = _body(text, "Unexplained findings by rule (errors, warnings, notices; root causes first, "
                        "largest first):", "Explained")
    assert rules[0].split() == ["rule", "severity", "findings", "knock-ons", "message"]
    assert [row.split()[:3] for row in rules[1:-1]] == [
        ["XTB-001", "error", "5"], ["PAR-002", "error", "2"], ["PAR-007", "error", "1"], ["XTB-002", "error", "9"],
        ["FIL-003", "warning", "1"]]
    assert "  PAR-002  error            2          9  participant_id is duplicated (every copy quarantined)" in lines
    assert rules[-1].startswith("  (knock-ons: ")
    # explained findings counted apart; the verdict in words; where the listing is
    assert ("Explained (accepted in the explanations file, not counted above): 1 finding (1 error) "
            "of PAR-007 (1).") in lines
    assert lines[-2] == ("Gate FAILED: 17 unexplained errors (exit status 1); fix the extract or explain "
                         "each finding, then validate again.")
    assert r.n_errors == 17
    assert lines[-1] == "Listing: out/validation.html"


def test_summary_caps_the_rule_list_and_cuts_long_messages(tables, run):
    r = run(_broken(tables))
    text = summary_text(r, None, max_rules=4)
    rules = _body(text, "Unexplained findings by rule (errors, warnings, notices; root causes first, "
                        "largest first):", "Gate")
    assert [row.split()[0] for row in rules[1:5]] == ["XTB-001", "PAR-002", "PAR-007", "XTB-002"]
    assert rules[5] == "  ... and 1 more rule: 1 finding (1 warning); all are in the listing"
    assert rules[4].endswith("  the participant's row in participants.csv was quarantined (row...")
    assert max(len(line) for line in rules) <= 110
    assert not text.splitlines()[-1].startswith("Listing")


def test_summary_of_a_clean_extract_says_the_gate_passed(tables, run):
    tables["participants"]["favourite_colour"] = "blue"
    r = run(tables)
    lines = summary_text(r, "v/validation.html").splitlines()
    assert lines[-2] == "Gate passed: no unexplained errors (exit status 0); 1 warning to review."
    r = run(tables, explanations="rule_id\trecord_key\treason\texplained_by\texplained_on\n"
                                 "FIL-003\tfavourite_colour\tdropped\tA. Data Manager\t2024-12-02\n")
    text = summary_text(r, None)
    assert "Findings: none unexplained." in text.splitlines()
    assert text.splitlines()[-1] == "Gate passed: no unexplained errors (exit status 0)."


def test_rule_counts_of_no_findings_is_empty():
    empty = pd.DataFrame(columns=["rule_id", "severity", "table", "count", "message", "explained"])
    assert rule_counts(empty).empty


def test_unreadable_lists_every_file_then_the_listing():
    one = UnreadableFile("x/admissions.csv", "file not found", table="admissions")
    assert unreadable_text(one, "o/validation.html").splitlines() == [
        "outcomes validate: x/admissions.csv: file not found",
        "outcomes validate: the extract cannot be read (exit status 2); listing: o/validation.html",
    ]
    two = UnreadableFiles([UnreadableFile("x/participants.csv", "empty file (0 bytes)", table="participants"),
                           one])
    assert unreadable_text(two, None, failure="disk full").splitlines() == [
        "outcomes validate: x/participants.csv: empty file (0 bytes)",
        "outcomes validate: x/admissions.csv: file not found",
        "outcomes validate: 2 files of the extract cannot be read (exit status 2); listing not written: disk full",
    ]
    expl = UnreadableFile("e.tsv", "line 2: empty reason", table="explanations", line=2)
    assert unreadable_text(expl, None).splitlines()[-1] == (
        "outcomes validate: the explanations file cannot be read (exit status 2)")


def test_cli_prints_the_summary_on_stdout_and_every_unreadable_file_on_stderr(tables, tmp_path, capsys):
    d = write_extract(_broken(tables), tmp_path / "x")
    out = tmp_path / "o"
    assert main(["validate", str(d), "--out", str(out), "--data-cut", "2024-12-31"]) == 1
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines()[-1] == f"Listing: {out / 'validation.html'}"
    assert "Gate FAILED: 18 unexplained errors (exit status 1)" in captured.out
    # two files that cannot be read: both named, in table order, both in the listing
    (d / "questionnaires.csv").write_bytes(b"")
    (d / "peer_contacts.csv").unlink()
    assert main(["validate", str(d), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"outcomes validate: {d / 'questionnaires.csv'}: empty file (0 bytes)",
        f"outcomes validate: {d / 'peer_contacts.csv'}: file not found",
        f"outcomes validate: 2 files of the extract cannot be read (exit status 2); "
        f"listing: {out / 'validation.html'}",
    ]
    detail = pd.read_csv(out / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert detail[["rule_id", "table"]].values.tolist() == [["FIL-001", "questionnaires"],
                                                            ["FIL-001", "peer_contacts"]]
