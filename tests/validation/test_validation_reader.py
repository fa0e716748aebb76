"""Line numbers and record handling of the reader: quotes, blank lines, CRLF, malformed rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from validation_helpers import findings_at

from outcomes.validation.reader import UnreadableFile, column_labels, read_bytes

REQ = ("a", "b", "c")


def lines_of(data: bytes):
    raw = read_bytes(data, "t", REQ, "t.csv")
    return raw, raw.lines.tolist(), raw.bad_lines.tolist()


def test_plain():
    raw, lines, bad = lines_of(b"a,b,c\n1,2,3\n4,5,6\n")
    assert lines == [2, 3] and bad == []
    assert raw.data.column("b").to_pylist() == ["2", "5"]


def test_no_final_newline_and_crlf():
    _, lines, _ = lines_of(b"a,b,c\r\n1,2,3\r\n4,5,6")
    assert lines == [2, 3]


def test_blank_lines_are_skipped_but_counted():
    _, lines, _ = lines_of(b"a,b,c\n1,2,3\n\n\n4,5,6\n\n")
    assert lines == [2, 5]


def test_quoted_newline_keeps_line_numbers():
    raw, lines, bad = lines_of(b'a,b,c\n1,"two\nlines",3\n4,5,6\n7,"x,y",9\n')
    assert lines == [2, 4, 5]
    assert raw.data.column("b").to_pylist() == ["two\nlines", "5", "x,y"]


def test_malformed_rows_keep_their_lines():
    raw, lines, bad = lines_of(b'a,b,c\n1,2,3\n4,5\n"6\n",7,8\n9,10,11,12\n13,14,15\n')
    assert lines == [2, 4, 7]
    assert bad == [3, 6]
    assert raw.bad_fields == [["4", "5"], ["9", "10", "11", "12"]]
    assert raw.rows_in == 5


def test_stray_quote_inside_a_field_uses_the_exact_path():
    raw, lines, bad = lines_of(b'a,b,c\n1,5\'11",3\n4,5,6\n')
    assert lines == [2, 3]
    assert raw.data.column("b").to_pylist() == ["5'11\"", "5"]


def test_lone_carriage_returns():
    _, lines, _ = lines_of(b"a,b,c\r1,2,3\r4,5,6\r")
    assert lines == [2, 3]


def test_unbalanced_quote_is_unreadable():
    with pytest.raises(UnreadableFile, match="line 3"):
        read_bytes(b'a,b,c\n1,2,3\n"4,5,6\n7,8,9\n', "t", REQ, "t.csv")


def test_header_only():
    raw, lines, bad = lines_of(b"a,b,c\n")
    assert lines == [] and raw.data.num_rows == 0


def test_large_file_fast_path_lines():
    body = b"a,b,c\n" + b"".join(b"%d,x,y\n" % i for i in range(5000))
    raw, lines, _ = lines_of(body)
    assert np.array_equal(raw.lines, np.arange(2, 5002))


def test_malformed_row_in_extract_is_quarantined(tables, run):
    def post(d):
        p = d / "peer_contacts.csv"
        text = p.read_text().splitlines(keepends=True)
        text.insert(3, "P001,2024-03-01,W1\n")  # becomes line 4
        text.insert(5, '\n')  # a blank line 6
        p.write_text("".join(text))

    r = run(tables, post=post)
    assert ("peer_contacts", 4, "") in findings_at(r, "FIL-002")
    q = r.quarantine["peer_contacts"]
    assert q["source_row"].tolist() == [4]
    assert q["rule_ids"].tolist() == ["FIL-002"]
    assert q["participant_id"].tolist() == ["P001"]
    assert q["mode"].tolist() == [""]
    clean = r.clean["peer_contacts"]
    # rows after the malformed row and the blank line keep their line numbers
    assert clean["source_row"].tolist() == [2, 3, 5, 7, 8, 9, 10, 11, 12]
    acc = r.row_accounting.set_index("table").loc["peer_contacts"]
    assert (acc["rows_in"], acc["rows_used"], acc["rows_quarantined"]) == (10, 9, 1)


def test_quoted_values_with_newlines_in_extract(tables, run):
    tables["admissions"].loc[1, "admission_id"] = "A002\nsecond line"
    tables["admissions"].loc[3, "legal_status"] = "sectioned"
    r = run(tables)
    # the quoted id spans lines 3-4: A004 is on line 6, not 5
    assert ("admissions", 6, "legal_status") in findings_at(r, "ADM-006")


def test_lone_carriage_returns_with_quoted_newline():
    raw, lines, _ = lines_of(b'a,b,c\r1,"x\ry",3\r4,5,6\r')
    assert lines == [2, 4]
    assert raw.data.column("b").to_pylist() == ["x\ry", "5"]


def test_record_spanning_lines_knows_both_lines_with_bom_and_crlf():
    raw = read_bytes(b'\xef\xbb\xbfa,b,c\r\n1,"x\r\ny",3\r\n\r\n4,5,6\r\n', "t", REQ, "t.csv")
    assert raw.lines.tolist() == [2, 5]
    assert raw.end_lines.tolist() == [3, 5]


def test_record_spanning_lines_on_the_exact_path():
    # a stray quote inside an unquoted field sends the file to the csv-module path
    raw = read_bytes(b'a,b,c\n1,5\'11",3\n4,"x\ny",6\n7,8,9\n', "t", REQ, "t.csv")
    assert raw.lines.tolist() == [2, 3, 5]
    assert raw.end_lines.tolist() == [2, 4, 5]


def test_malformed_record_spanning_lines_names_both_lines(tables, run):
    # the quote opens in peer_worker_id (line 3) and closes in participant_id (line 4): one
    # record of 8 fields instead of two of 5
    def post(d):
        p = d / "peer_contacts.csv"
        b = p.read_bytes().replace(b"2024-02-11,W1,", b'2024-02-11,"W1,', 1)
        p.write_bytes(b.replace(b"P001,2024-02-12", b'P001",2024-02-12', 1))

    r = run(tables, post=post)
    f = r.findings[r.findings["rule_id"] == "FIL-002"]
    assert f["row"].tolist() == [3]
    assert "spans lines 3-4" in f["message"].iloc[0]
    acc = r.row_accounting.set_index("table").loc["peer_contacts"]
    assert (acc["rows_in"], acc["rows_used"], acc["rows_quarantined"]) == (8, 7, 1)


def test_quote_over_two_lines_is_quarantined_with_both_lines(tables, run, tmp_path):
    """The issue's case: two records merged into one with the right field count (exit 0
    before); now a finding naming both lines, the merged record quarantined and counted."""

    def post(d):
        p = d / "peer_contacts.csv"
        b = p.read_bytes().replace(b"\n", b"\r\n")  # CRLF and a BOM do not shift the lines
        b = b.replace(b"2024-02-11,W1,", b'2024-02-11,"W1,', 1).replace(b"2024-02-12,W1,", b'2024-02-12,W1",', 1)
        p.write_bytes(b"\xef\xbb\xbf" + b)

    r = run(tables, post=post)
    assert r.exit_code == 1
    f = r.findings[r.findings["rule_id"] == "FIL-009"]
    assert f[["table", "row", "column"]].values.tolist() == [["peer_contacts", 3, "peer_worker_id"]]
    assert f["message"].iloc[0].endswith("the record spans lines 3-4")
    q = r.quarantine["peer_contacts"]
    assert q["source_row"].tolist() == [3] and q["rule_ids"].tolist() == ["FIL-009"]
    assert r.clean["peer_contacts"]["source_row"].tolist() == [2, 5, 6, 7, 8, 9, 10]
    acc = r.row_accounting.set_index("table").loc["peer_contacts"]
    assert (acc["rows_in"], acc["rows_used"], acc["rows_quarantined"]) == (8, 7, 1)
    r.write(tmp_path / "out")  # a value holding a line break round-trips through the TSV
    detail = pd.read_csv(tmp_path / "out" / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert "\r\n" in detail.loc[detail["rule_id"] == "FIL-009", "value"].iloc[0]


def test_line_break_in_an_extra_column_is_allowed(tables, run):
    tables["admissions"]["comment"] = ["", "two\nlines", "", "", ""]
    r = run(tables)
    assert set(r.findings["rule_id"]) == {"FIL-003"}
    assert r.exit_code == 0
    assert r.clean["admissions"]["source_row"].tolist() == [2, 3, 5, 6, 7]


def test_unnamed_column_labels_never_collide_with_a_real_header():
    labels, unnamed = column_labels(["a", "", "(unnamed column 2)", " ", "(unnamed column 4)'"])
    assert labels == ["a", "(unnamed column 2)'", "(unnamed column 2)", "(unnamed column 4)", "(unnamed column 4)'"]
    assert unnamed == (1, 3)


def test_empty_header_next_to_a_column_named_like_its_label(tables, run, tmp_path):
    """An empty header name and a real column literally named ``(unnamed column 6)``:
    an internal KeyError before; now the real column is an extra column and the empty one
    a column without a name."""
    tables["peer_contacts"].loc[3, "contact_date"] = "bad"  # line 5, quarantined

    def post(d):
        p = d / "peer_contacts.csv"
        lines = p.read_text().splitlines()
        lines[0] += ",,(unnamed column 6)"
        lines[1:] = [ln + ",,note" for ln in lines[1:]]
        lines[2] = lines[2][: -len(",,note")] + ",oops,note"
        p.write_text("\n".join(lines) + "\n")

    r = run(tables, post=post)
    got = {(rule, row, col) for rule, row, col in r.findings[["rule_id", "row", "column"]].values.tolist()}
    assert got == {
        ("FIL-003", 1, "(unnamed column 6)"),
        ("FIL-011", 3, "(unnamed column 6)'"),
        ("PCT-002", 5, "contact_date"),
    }
    f = r.findings.set_index("rule_id")
    assert f.loc["FIL-011", "value"] == "oops"
    q = r.quarantine["peer_contacts"]
    assert q["source_row"].tolist() == [3, 5]
    assert q["(unnamed column 6)'"].tolist() == ["oops", ""]
    assert q["(unnamed column 6)"].tolist() == ["note", "note"]
    r.write(tmp_path / "out")


def test_unnamed_columns_in_the_middle_and_duplicated_empty_names():
    raw = read_bytes(b"a,,b,,c\n1,,2,,3\n", "t", REQ, "t.csv")
    assert raw.header == ["a", "(unnamed column 2)", "b", "(unnamed column 4)", "c"]
    assert raw.unnamed == (1, 3)
    assert raw.data.column("c").to_pylist() == ["3"]


@pytest.mark.parametrize(
    ("header", "row", "hint"),
    [
        ("a,b,c,,", "1,2,3", "2 of them without a name at its end: delete the header's trailing commas"),
        ("a,b,c", "1,2,3,,", "the extra fields are empty: delete the row's trailing commas"),
    ],
)
def test_malformed_row_message_points_at_trailing_commas(header, row, hint):
    from outcomes.validation.structure import malformed_messages

    raw = read_bytes(f"{header}\n1,2,3{header[5:]}\n{row}\n".encode(), "t", REQ, "t.csv")
    assert raw.bad_lines.tolist() == [3]
    assert malformed_messages(raw) == [f"row has {row.count(',') + 1} fields, the header has {header.count(',') + 1} ({hint})"]
