"""Line numbers and record handling of the reader: quotes, blank lines, CRLF, malformed rows."""

from __future__ import annotations

import numpy as np
import pytest
from validation_helpers import findings_at

from outcomes.validation.reader import UnreadableFile, read_bytes

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
