"""Every rule of the catalogue: a fixture that breaks it, and the finding it must produce.

Lines: data row ``i`` (0-based) of a table is on line ``i + 2`` (header = line 1).
The valid extract (tests/extract_factory.py): participants P001..P006 (arms alternate,
P001 treated); questionnaires rows 2i/2i+1 = baseline/month_4 of participant i, row 12 an
unattended month_12 of P001; admissions A001..A005 (A001-A003 of P001, A004 of P002,
A005 of P004); peer contacts rows 0-2 of P001, 3-5 of P003, 6-8 of P005.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

import pandas as pd
import pytest
from validation_helpers import findings_at

from outcomes.validation import build_catalogue


@dataclass
class Case:
    rule_id: str
    name: str
    mutate: object  # callable(tables) -> None
    expect: list  # [(table, line, column)]
    post: object = None  # callable(data_dir) -> None, after writing
    explanations: str | None = None
    exit_code: int | None = None
    extra: dict = field(default_factory=dict)


def setv(table, row, col, value):
    def f(t):
        t[table].loc[row, col] = value

    return f


def seq(*fns):
    def f(t):
        for fn in fns:
            fn(t)

    return f


def append_row(table, values):
    def f(t):
        t[table].loc[len(t[table])] = values

    return f


def drop_col(table, col):
    def f(t):
        t[table] = t[table].drop(columns=[col])

    return f


def add_col(table, col, value):
    def f(t):
        t[table][col] = value

    return f


def append_line(file, text):
    def f(d):
        with open(d / file, "a", encoding="utf-8") as fh:
            fh.write(text)

    return f


def add_bom(file):
    def f(d):
        p = d / file
        p.write_bytes(codecs.BOM_UTF8 + p.read_bytes())

    return f


def rewrite(file, fn):
    def f(d):
        p = d / file
        p.write_bytes(fn(p.read_bytes()))

    return f


def per_line(fn):
    """bytes -> bytes applying ``fn(i, line)`` to each line (0 = header, without its newline)."""
    return lambda b: b"".join(fn(i, ln) + b"\n" for i, ln in enumerate(b.splitlines()))


def empty_tables(*names):
    def f(t):
        for name in names:
            t[name] = t[name].iloc[0:0]

    return f


# a quote opened in peer_worker_id on line 3 and closed in peer_worker_id on line 4: the
# two lines become one record with the right number of fields
QUOTE_OVER_TWO_LINES = rewrite(
    "peer_contacts.csv",
    lambda b: b.replace(b"2024-02-11,W1,", b'2024-02-11,"W1,', 1).replace(b"2024-02-12,W1,", b'2024-02-12,W1",', 1),
)


P, Q, A, C = "participants", "questionnaires", "admissions", "peer_contacts"

CASES = [
    # file level
    Case("FIL-002", "too few fields", lambda t: None, [(A, 7, "")], post=append_line("admissions.csv", "P002,A9,2024-01-01\n")),
    Case("FIL-002", "too many fields", lambda t: None, [(A, 7, "")], post=append_line("admissions.csv", "P002,A9,2024-01-01,,informal,x\n")),
    Case("FIL-003", "extra column", add_col(P, "nhs_number", "x"), [(P, 1, "nhs_number")], exit_code=0),
    Case("FIL-004", "optional column absent", drop_col(P, "death_date"), [(P, 1, "death_date")], exit_code=0),
    Case("FIL-005", "byte-order mark", lambda t: None, [(P, 1, "")], post=add_bom("participants.csv"), exit_code=0),
    Case("FIL-006", "whitespace", setv(P, 1, "site", "  S2 "), [(P, 1, "site")], exit_code=0),
    Case("FIL-006", "whitespace in a date", setv(A, 0, "admission_date", " 2024-03-01"), [(A, 1, "admission_date")], exit_code=0),
    Case("FIL-006", "whitespace in an integer", setv(P, 0, "age", "20 "), [(P, 1, "age")], exit_code=0),
    Case("FIL-007", "integral decimal", setv(Q, 0, "wemwbs_02", "3.0"), [(Q, 1, "wemwbs_02")], exit_code=0),
    Case("FIL-008", "stale explanation", lambda t: None, [("explanations", 2, "")],
         explanations="rule_id\trecord_key\treason\nPAR-007\tP999\tno such participant\n", exit_code=0),
    Case("FIL-009", "quote opened on one line, closed on the next", lambda t: None, [(C, 3, "peer_worker_id")],
         post=QUOTE_OVER_TWO_LINES),
    Case("FIL-009", "line break in a quoted id", setv(A, 1, "admission_id", "A002\nsecond line"), [(A, 3, "admission_id")]),
    Case("FIL-010", "trailing empty columns (Excel)", lambda t: None, [(C, 1, "(unnamed column 6)")],
         post=rewrite("peer_contacts.csv", per_line(lambda i, ln: ln + b",,")), exit_code=0),
    Case("FIL-011", "value under an unnamed column", lambda t: None, [(C, 3, "(unnamed column 6)")],
         post=rewrite("peer_contacts.csv", per_line(lambda i, ln: ln + (b",x" if i == 2 else b",")))),
    Case("FIL-012", "double byte-order mark", lambda t: None, [(P, 1, "")],
         post=rewrite("participants.csv", lambda b: codecs.BOM_UTF8 * 2 + b), exit_code=0),
    Case("FIL-013", "header-only extract", empty_tables(P, Q, A, C), [(P, 1, "")]),
    Case("FIL-013", "every participant quarantined", lambda t: t[P].__setitem__("site", ""), [(P, 1, "")]),

    Case("FIL-014", "no data cut", lambda t: None, [("", 1, "")], exit_code=0, extra={"data_cut": None}),
    # participants
    Case("PAR-001", "empty id", setv(P, 1, "participant_id", ""), [(P, 3, "participant_id")]),
    Case("PAR-002", "duplicated id", setv(P, 1, "participant_id", "P001"), [(P, 2, "participant_id"), (P, 3, "participant_id")]),
    Case("PAR-003", "site empty", setv(P, 2, "site", ""), [(P, 4, "site")]),
    Case("PAR-004", "unknown arm", setv(P, 2, "arm", "control"), [(P, 4, "arm")]),
    Case("PAR-004", "arm empty", setv(P, 2, "arm", ""), [(P, 4, "arm")]),
    Case("PAR-005", "randomisation_date 31/02/2024", setv(P, 0, "randomisation_date", "31/02/2024"), [(P, 2, "randomisation_date")]),
    Case("PAR-005", "randomisation_date empty", setv(P, 0, "randomisation_date", ""), [(P, 2, "randomisation_date")]),
    Case("PAR-006", "index_discharge_date 2024-13-01", setv(P, 0, "index_discharge_date", "2024-13-01"), [(P, 2, "index_discharge_date")]),
    Case("PAR-007", "age 15", setv(P, 0, "age", "15"), [(P, 2, "age")]),
    Case("PAR-007", "age 101", setv(P, 0, "age", "101"), [(P, 2, "age")]),
    Case("PAR-007", "age text", setv(P, 0, "age", "thirty"), [(P, 2, "age")]),
    Case("PAR-007", "age 30.5", setv(P, 0, "age", "30.5"), [(P, 2, "age")]),
    Case("PAR-007", "age empty", setv(P, 0, "age", ""), [(P, 2, "age")]),
    Case("PAR-008", "sex code", setv(P, 4, "sex", "F"), [(P, 6, "sex")]),
    Case("PAR-009", "diagnosis code", setv(P, 4, "diagnosis_group", "schizophrenia"), [(P, 6, "diagnosis_group")]),
    Case("PAR-010", "prior_admissions -1", setv(P, 5, "prior_admissions", "-1"), [(P, 7, "prior_admissions")]),
    Case("PAR-010", "prior_admissions text", setv(P, 5, "prior_admissions", "two"), [(P, 7, "prior_admissions")]),
    Case("PAR-017", "prior_admissions 51", setv(P, 5, "prior_admissions", "51"), [(P, 7, "prior_admissions")]),
    Case("PAR-017", "prior_admissions 999 explained", setv(P, 5, "prior_admissions", "999"), [(P, 7, "prior_admissions")],
         explanations="rule_id\trecord_key\treason\nPAR-017\tP006\tconfirmed by the site\n", exit_code=0),
    Case("PAR-018", "death in 2030", setv(P, 3, "death_date", "2030-01-01"), [(P, 5, "death_date")], exit_code=0),
    Case("PAR-018", "randomised after the data cut",
         seq(setv(P, 1, "randomisation_date", "2025-01-02"), setv(P, 1, "index_discharge_date", "2025-01-03")),
         [(P, 3, "randomisation_date"), (P, 3, "index_discharge_date")]),
    Case("PAR-011", "detained yes", setv(P, 5, "detained_at_index", "yes"), [(P, 7, "detained_at_index")]),
    Case("PAR-011", "detained TRUE", setv(P, 5, "detained_at_index", "TRUE"), [(P, 7, "detained_at_index")]),
    Case("PAR-012", "withdrawal_date 2024-02-31", setv(P, 2, "withdrawal_date", "2024-02-31"), [(P, 4, "withdrawal_date")]),
    Case("PAR-013", "death_date 2024-13-01", setv(P, 3, "death_date", "2024-13-01"), [(P, 5, "death_date")]),
    Case("PAR-014", "index discharge before randomisation", setv(P, 0, "index_discharge_date", "2024-01-05"), [(P, 2, "index_discharge_date")]),
    Case("PAR-015", "withdrawal before randomisation", setv(P, 2, "withdrawal_date", "2024-01-01"), [(P, 4, "withdrawal_date")]),
    Case("PAR-016", "death before randomisation", setv(P, 3, "death_date", "2024-01-01"), [(P, 5, "death_date")]),
    # questionnaires
    Case("QST-001", "empty id", setv(Q, 0, "participant_id", ""), [(Q, 2, "participant_id")]),
    Case("QST-002", "unknown visit", setv(Q, 3, "visit", "month_6"), [(Q, 5, "visit")]),
    Case("QST-009", "completion after the data cut", setv(Q, 2, "completion_date", "2025-01-01"), [(Q, 4, "completion_date")], exit_code=0),
    Case("QST-003", "duplicated visit", setv(Q, 1, "visit", "baseline"), [(Q, 2, "visit"), (Q, 3, "visit")]),
    Case("QST-004", "completion_date 2024-02-30", setv(Q, 2, "completion_date", "2024-02-30"), [(Q, 4, "completion_date")]),
    Case("QST-005", "completion_date missing", setv(Q, 2, "completion_date", ""), [(Q, 4, "completion_date")]),
    Case("QST-006", "item text", setv(Q, 4, "hhi_03", "often"), [(Q, 6, "hhi_03")]),
    Case("QST-006", "item 2.5", setv(Q, 4, "hhi_03", "2.5"), [(Q, 6, "hhi_03")]),
    Case("QST-007", "item above range", setv(Q, 5, "wemwbs_14", "6"), [(Q, 7, "wemwbs_14")]),
    Case("QST-007", "item below range", setv(Q, 5, "lsns6_01", "-1"), [(Q, 7, "lsns6_01")]),
    Case("QST-007", "item 0 of a 1..5 scale", setv(Q, 5, "wai_sr_12", "0"), [(Q, 7, "wai_sr_12")]),
    Case("QST-008", "partial instrument", drop_col(Q, "ucla3_02"), [(Q, 1, "ucla3_02")]),
    # admissions
    Case("ADM-001", "empty participant", setv(A, 3, "participant_id", ""), [(A, 5, "participant_id")]),
    Case("ADM-002", "empty admission_id", setv(A, 3, "admission_id", ""), [(A, 5, "admission_id")]),
    Case("ADM-003", "duplicated admission_id", setv(A, 4, "admission_id", "A004"), [(A, 5, "admission_id"), (A, 6, "admission_id")]),
    Case("ADM-004", "admission_date 2024-3-1", setv(A, 3, "admission_date", "2024-3-1"), [(A, 5, "admission_date")]),
    Case("ADM-004", "admission_date empty", setv(A, 3, "admission_date", ""), [(A, 5, "admission_date")]),
    Case("ADM-005", "discharge_date text", setv(A, 3, "discharge_date", "soon"), [(A, 5, "discharge_date")]),
    Case("ADM-006", "legal status", setv(A, 3, "legal_status", "section_3"), [(A, 5, "legal_status")]),
    Case("ADM-007", "discharge before admission", setv(A, 3, "discharge_date", "2024-04-01"), [(A, 5, "discharge_date")]),
    Case("ADM-009", "discharged after the data cut", setv(A, 3, "discharge_date", "2025-02-01"), [(A, 5, "discharge_date")], exit_code=0),
    Case("ADM-008", "overlap", setv(A, 1, "admission_date", "2024-03-05"), [(A, 2, "admission_date"), (A, 3, "admission_date")]),
    Case("ADM-008", "overlap with an open admission", append_row(A, ["P001", "A009", "2024-09-01", "2024-09-10", "informal"]),
         [(A, 4, "admission_date"), (A, 7, "admission_date")]),
    Case("ADM-008", "nested overlap", seq(setv(A, 0, "discharge_date", "2024-07-01"), setv(A, 1, "admission_date", "2024-03-20")),
         [(A, 2, "admission_date"), (A, 3, "admission_date")]),
    # peer contacts
    Case("PCT-001", "empty participant", setv(C, 1, "participant_id", ""), [(C, 3, "participant_id")]),
    Case("PCT-002", "contact_date invalid", setv(C, 1, "contact_date", "2024-02-30"), [(C, 3, "contact_date")]),
    Case("PCT-003", "peer worker empty", setv(C, 1, "peer_worker_id", ""), [(C, 3, "peer_worker_id")], exit_code=0),
    Case("PCT-004", "duration 0", setv(C, 4, "duration_minutes", "0"), [(C, 6, "duration_minutes")]),
    Case("PCT-004", "duration 601", setv(C, 4, "duration_minutes", "601"), [(C, 6, "duration_minutes")]),
    Case("PCT-004", "duration text", setv(C, 4, "duration_minutes", "half an hour"), [(C, 6, "duration_minutes")]),
    Case("PCT-005", "mode", setv(C, 4, "mode", "email"), [(C, 6, "mode")]),
    Case("PCT-006", "duplicate contact", setv(C, 1, "contact_date", "2024-02-10"), [(C, 2, "contact_date"), (C, 3, "contact_date")], exit_code=0),
    Case("PCT-007", "contact after the data cut", setv(C, 4, "contact_date", "2025-03-01"), [(C, 6, "contact_date")], exit_code=0),
    # cross-table
    Case("XTB-001", "unknown participant in questionnaires", setv(Q, 4, "participant_id", "P999"), [(Q, 6, "participant_id")]),
    Case("XTB-001", "unknown participant in admissions", setv(A, 4, "participant_id", "P999"), [(A, 6, "participant_id")]),
    Case("XTB-001", "unknown participant in peer contacts", setv(C, 4, "participant_id", "P999"), [(C, 6, "participant_id")]),
    Case("XTB-002", "cascade of a quarantined participant", setv(P, 0, "site", ""),
         [(Q, 2, "participant_id"), (Q, 3, "participant_id"), (Q, 14, "participant_id"), (A, 2, "participant_id"), (C, 2, "participant_id")]),
    Case("XTB-002", "cascade of a malformed participant row", lambda t: None,
         [(Q, 2, "participant_id"), (A, 2, "participant_id"), (C, 2, "participant_id")],
         post=lambda d: (d / "participants.csv").write_text(
             (d / "participants.csv").read_text().replace("P001,S1,", "P001,S1,extra,", 1))),
    Case("XTB-003", "questionnaire after death", setv(Q, 7, "completion_date", "2024-10-01"), [(Q, 9, "completion_date")]),
    Case("XTB-004", "questionnaire after withdrawal", setv(Q, 5, "completion_date", "2024-07-01"), [(Q, 7, "completion_date")], exit_code=0),
    Case("XTB-005", "admission after death", seq(setv(A, 4, "admission_date", "2024-10-01"), setv(A, 4, "discharge_date", "2024-10-05")),
         [(A, 6, "admission_date")]),
    Case("XTB-006", "contact after death", setv(P, 4, "death_date", "2024-02-14"), [(C, 9, "contact_date"), (C, 10, "contact_date")]),
    Case("XTB-007", "contamination", append_row(C, ["P002", "2024-03-01", "W1", "30", "telephone"]), [(C, 11, "participant_id")], exit_code=0),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule_id}-{c.name}" for c in CASES])
def test_rule(case: Case, tables, run):
    case.mutate(tables)
    r = run(tables, post=case.post, explanations=case.explanations, **case.extra)
    got = findings_at(r, case.rule_id)
    for where in case.expect:
        assert where in got, f"{case.rule_id} not reported at {where}; got {sorted(got)}"
    rule = build_catalogue()[case.rule_id]
    f = r.findings[r.findings["rule_id"] == case.rule_id]
    assert set(f["severity"]) == {rule.severity}
    assert (f["message"].str.len() > 0).all()
    if case.exit_code is not None:
        assert r.exit_code == case.exit_code, r.findings.to_string()
    elif rule.severity == "error":
        assert r.exit_code == 1
    # nothing is lost
    acc = r.row_accounting
    assert (acc["rows_in"] == acc["rows_used"] + acc["rows_quarantined"]).all()


def test_every_rule_has_a_case():
    covered = {c.rule_id for c in CASES} | {"FIL-001"}  # FIL-001: test_validation_unreadable.py
    assert covered == set(build_catalogue())


def test_quarantine_and_mask_follow_the_rule_action(tables, run):
    tables[P].loc[0, "age"] = "150"  # mask
    tables[P].loc[1, "site"] = ""  # quarantine
    tables[A].loc[0, "legal_status"] = "x"  # mask
    tables[A].loc[3, "discharge_date"] = "2024-04-01"  # quarantine (before admission)
    r = run(tables)
    clean_p = r.clean[P].set_index("participant_id")
    assert pd.isna(clean_p.loc["P001", "age"])
    assert "P002" not in clean_p.index
    assert pd.isna(r.clean[A].set_index("admission_id").loc["A001", "legal_status"])
    qa = r.quarantine[A]
    assert qa["admission_id"].tolist() == ["A004"]
    assert qa["rule_ids"].tolist() == ["ADM-007;XTB-002"]  # A004 is P002's
    qp = r.quarantine[P]
    assert qp["source_row"].tolist() == [3]
    assert qp["rule_ids"].tolist() == ["PAR-003"]
    assert qp["site"].tolist() == [""]
    # P002's questionnaires and admission follow it into quarantine
    assert set(r.quarantine[Q]["rule_ids"]) == {"XTB-002"}
    assert r.quarantine[Q]["participant_id"].unique().tolist() == ["P002"]


def test_warnings_never_quarantine_or_mask(tables, run):
    tables[C].loc[1, "peer_worker_id"] = ""
    tables[C].loc[len(tables[C])] = ["P002", "2024-03-01", "W1", "30", "telephone"]
    r = run(tables)
    assert r.exit_code == 0
    assert r.row_accounting["rows_quarantined"].sum() == 0
    assert len(r.clean[C]) == len(tables[C])


def test_prior_admissions_at_the_plausible_maximum_passes_and_above_is_kept(tables, run):
    tables[P].loc[0, "prior_admissions"] = "50"
    tables[P].loc[1, "prior_admissions"] = "051"  # judged on its own text: 51
    r = run(tables)
    assert findings_at(r, "PAR-017") == {(P, 3, "prior_admissions")}
    clean = r.clean[P].set_index("participant_id")["prior_admissions"]
    assert clean.loc["P001"] == 50 and clean.loc["P002"] == 51  # reported, not masked


def test_dates_on_the_data_cut_are_not_findings_and_the_message_names_the_cut(tables, run):
    tables[P].loc[3, "death_date"] = "2024-12-31"  # on the cut: fine
    tables[C].loc[4, "contact_date"] = "2025-01-01"
    r = run(tables)
    assert findings_at(r, "PAR-018") == set()
    f = r.findings[r.findings["rule_id"] == "PCT-007"]
    assert f["message"].tolist() == [
        "date after the data cut (not counted by the analysis): data cut 2024-12-31"
    ]
    assert "FIL-009" not in set(r.findings["rule_id"])
    assert findings_at(run(tables, data_cut="2025-06-30"), "PCT-007") == set()


def test_a_bad_data_cut_is_a_config_error(tables, run):
    from outcomes.errors import ConfigError

    with pytest.raises(ConfigError, match="data_cut: '31/12/2024' is not a YYYY-MM-DD date"):
        run(tables, data_cut="31/12/2024")
