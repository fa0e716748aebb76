"""Integers are judged cell by cell: a value's fate never depends on the rest of its column."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes.validation.convert import parse_ints

CONTEXTS = {
    "alone": [],
    "one-digit items": ["3", "1", "0"],
    "plain integers": ["12", "7"],
    "an integral decimal": ["3.0"],
    "a bad value": ["x"],
    "a 19-digit number": ["1234567890123456789"],
    "empty cells": [None],
}
EDGE = ["3", "03", "-0", "3.0", "3.", "-", "1-2", "0" * 18 + "3", "9" * 18, "9" * 19,
        "1234567890123456789", "-" + "9" * 18, "3.5", "+3", ""]


def _judge(cell, context):
    r = parse_ints(pa.array([cell, *context], type=pa.string()))
    value = r.values[0]
    return (None if value is None or value is r.values.dtype.na_value else int(value)), 0 in set(r.bad.tolist())


def _same_everywhere(cell):
    verdicts = {name: _judge(cell, ctx) for name, ctx in CONTEXTS.items()}
    assert len(set(verdicts.values())) == 1, (cell, verdicts)
    return verdicts["alone"]


def test_edge_cases_are_judged_on_their_own_text():
    assert _same_everywhere("03") == (3, False)
    assert _same_everywhere("3.0") == (3, False)
    assert _same_everywhere("-0") == (0, False)
    assert _same_everywhere("0" * 18 + "3") == (None, True)  # 19 digits: not an integer
    assert _same_everywhere("1234567890123456789") == (None, True)
    assert _same_everywhere("-" + "9" * 18) == (-(10**18 - 1), False)
    for cell in EDGE:
        _same_everywhere(cell)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789-.+ x", min_size=1, max_size=22))
def test_any_cell_is_judged_on_its_own_text(cell):
    _same_everywhere(cell)
