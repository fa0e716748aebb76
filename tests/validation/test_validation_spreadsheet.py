"""The listings are safe to open in a spreadsheet; record keys round-trip into explanations."""

from __future__ import annotations

import csv

import pandas as pd

from outcomes.spreadsheet import FORMULA_STARTS, neutralise, original

P, A = "participants", "admissions"
PAYLOAD_SEX = "=cmd|' /C calc'!A0"
PAYLOAD_ID = '=HYPERLINK("http://evil.example","x")'


def _read_tsv(path):
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def test_listing_cells_cannot_run_formulas(tables, run, tmp_path):
    tables[P].loc[0, "sex"] = PAYLOAD_SEX  # PAR-008, value
    tables[P].loc[1, "participant_id"] = PAYLOAD_ID  # participant_id and record_key
    tables[P].loc[1, "site"] = ""  # quarantined: the quarantine keeps the bytes
    tables[P].loc[2, "prior_admissions"] = "-1"  # a number stays a number
    tables[A].loc[3, "legal_status"] = "@SUM(1+9)*cmd|' /C calc'!A0"
    tables[A].loc[4, "legal_status"] = "\t=1+1"
    tables[P]["+extra"] = "x"  # FIL-003: the column name is input text too
    r = run(tables)
    out = tmp_path / "out"
    r.write(out)
    for name in ("issues_detail.tsv", "issues_summary.tsv"):
        t = _read_tsv(out / name)
        for col in t.columns:
            # nothing starts like a formula except plain numbers (which neutralise leaves alone)
            risky = [v for v in t[col] if v[:1] in FORMULA_STARTS and neutralise(v) != v]
            assert risky == [], (name, col, risky)
    d = _read_tsv(out / "issues_detail.tsv")
    sex = d.loc[d["rule_id"] == "PAR-008", "value"].tolist()
    assert sex == ["'" + PAYLOAD_SEX] and original(sex[0]) == PAYLOAD_SEX
    assert "'" + PAYLOAD_ID in set(d["record_key"]) and "'" + PAYLOAD_ID in set(d["participant_id"])
    assert d.loc[d["rule_id"] == "PAR-010", "value"].tolist() == ["-1"]
    assert set(d.loc[d["rule_id"] == "ADM-006", "value"]) == {"'@SUM(1+9)*cmd|' /C calc'!A0", "'\t=1+1"}
    assert "'+extra" in set(d["column"])
    # the in-memory result and the quarantine keep the original text
    assert PAYLOAD_SEX in set(r.findings["value"])
    q = pd.read_csv(out / "quarantine" / "participants.csv", dtype=str, keep_default_na=False)
    assert q["participant_id"].tolist() == [PAYLOAD_ID]
    assert PAYLOAD_ID.encode() in (out / "quarantine" / "participants.csv").read_bytes().replace(b'""', b'"')


def test_record_keys_with_quotes_and_guards_round_trip_into_explanations(tables, run, tmp_path):
    tables[A].loc[3, "admission_id"] = 'A"4'
    tables[A].loc[3, "legal_status"] = "x"
    tables[A].loc[4, "admission_id"] = "=A5"
    tables[A].loc[4, "legal_status"] = "y"
    tables[P].loc[0, "participant_id"] = '"P1"'
    tables[P].loc[0, "sex"] = "z"
    r = run(tables)
    assert r.exit_code == 1
    r.write(tmp_path / "out")
    detail = _read_tsv(tmp_path / "out" / "issues_detail.tsv")
    errors = detail[detail["severity"] == "error"]
    # (1) the listing read and written again with a TSV library
    expl = errors[["rule_id", "record_key"]].assign(reason="checked with the site")
    lib = tmp_path / "lib.tsv"
    expl.to_csv(lib, sep="\t", index=False)
    # (2) the lines copied by hand from the listing, fields as they stand in the file
    with open(tmp_path / "out" / "issues_detail.tsv", newline="", encoding="utf-8") as fh:
        text_lines = fh.read().split("\n")
    header = text_lines[0].split("\t")
    copied = ["rule_id\trecord_key\treason"]
    for line in text_lines[1:]:
        if not line:
            continue
        fields = next(csv.reader([line], delimiter="\t"))
        if fields[header.index("severity")] == "error":
            raw_key = line.split("\t")[header.index("record_key")]
            copied.append(f"{fields[0]}\t{raw_key}\tchecked")
    by_hand = "\n".join(copied) + "\n"
    for explanations in (lib.read_text(encoding="utf-8"), by_hand):
        r2 = run(tables, explanations=explanations)
        assert r2.exit_code == 0, r2.findings.to_string()
        assert "FIL-008" not in set(r2.findings["rule_id"])
    # (3) the key as it is in the data (no guard) matches too
    r3 = run(tables, explanations='rule_id\trecord_key\treason\nADM-006\t=A5\tok\nADM-006\t"A""4"\tok\n')
    f = r3.findings
    assert set(f.loc[f["rule_id"] == "ADM-006", "explained"]) == {"yes"}


def test_unclosed_quote_in_explanations_names_the_line(tables, run, tmp_path):
    from outcomes.errors import ExtractUnreadableError

    tables[P].loc[0, "sex"] = "z"
    try:
        run(tables, explanations='rule_id\trecord_key\treason\nPAR-008\tP001\tok\nPAR-008\t"P002\tok\n')
    except ExtractUnreadableError as exc:
        assert "line 3" in str(exc) and "double quote" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("an unclosed quote must make the explanations file unreadable")
