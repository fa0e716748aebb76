"""Tables meant for people are safe to open in a spreadsheet: no cell runs as a formula.

A spreadsheet (Excel, LibreOffice, Google Sheets) evaluates a cell that starts with
``=``, ``+``, ``-`` or ``@`` as a formula, and some also after a leading tab or carriage
return ("CSV injection", OWASP, https://owasp.org/www-community/attacks/CSV_Injection).
Following OWASP's advice, :func:`neutralise_formulas` puts a single quote ``'`` in
front of every text cell that starts with one of these characters, or with ``'`` itself
(so that the change can be undone unambiguously: drop the first ``'``). Cells that are
plain numbers (``-0.5``, ``-3``, ``+1e-3``) stay as they are, and so do numeric columns.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP)."""
GUARD = "'"
NEEDS_GUARD = r"^[=+\-@\t\r']"
PLAIN_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
"""The rule as two regular expressions (a cell is guarded when it matches the first and
does not match the whole of the second), in the syntax that Python's ``re``, RE2 (pyarrow)
and JavaScript read alike: validation.html's CSV export applies exactly these."""
_NEEDS_GUARD = re.compile(NEEDS_GUARD)
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)


def needs_guard(text: str) -> bool:
    """Would ``text`` be read as a formula (or start with the guard itself)?"""
    # fullmatch: "$" alone would also match before a final line break ("-1\n" is not a number)
    return bool(_NEEDS_GUARD.match(text)) and not _PLAIN_NUMBER.fullmatch(text)


def neutralise(text: str) -> str:
    """``text`` as written in a table meant for people (see the module docstring)."""
    return GUARD + text if needs_guard(text) else text


def original(text: str) -> str:
    """Inverse of :func:`neutralise`: the value before a guard was added."""
    return text[1:] if text.startswith(GUARD) and needs_guard(text[1:]) else text


def neutralise_values(values) -> np.ndarray:
    """:func:`neutralise` applied to an array of values (non-strings are left alone)."""
    arr = np.asarray(values, dtype=object)
    s = pd.Series(arr, dtype=object, copy=False)
    is_text = s.map(type).eq(str).to_numpy()
    if not is_text.any():
        return arr
    text = s[is_text].astype(str)
    # cheap screen on the first character before any regular expression
    first = text.str[:1]
    cand = first.isin(("=", "+", "-", "@", "\t", "\r", GUARD)).to_numpy()
    if not cand.any():
        return arr
    sub = text[cand]
    guard = ~sub.str.fullmatch(_PLAIN_NUMBER.pattern[1:-1]).fillna(False).to_numpy(dtype=bool)
    if not guard.any():
        return arr
    out = arr.copy()
    where = np.flatnonzero(is_text)[np.flatnonzero(cand)[guard]]
    out[where] = GUARD + sub[guard].to_numpy(dtype=object)
    return out


def _guard_arrow(arr: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array | None:
    """Vectorised :func:`neutralise` of an Arrow string array; None when nothing changes."""
    cand = pc.match_substring_regex(arr, _NEEDS_GUARD.pattern)
    if not pc.any(cand).as_py():
        return None
    need = pc.and_kleene(cand, pc.invert(pc.match_substring_regex(arr, _PLAIN_NUMBER.pattern)))
    need = pc.fill_null(need, False)
    if not pc.any(need).as_py():
        return None
    guard, empty = pa.scalar(GUARD, arr.type), pa.scalar("", arr.type)
    return pc.if_else(need, pc.binary_join_element_wise(guard, arr, empty), arr)


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot run as spreadsheet formulas.

    Only columns of text (object, string or categorical dtype) are looked at; numbers,
    dates and booleans are never changed. The frame is returned unchanged (not copied) when no cell
    needs a guard.
    """
    out = None
    for col in df.columns:
        s = df[col]
        if not (s.dtype == object or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype))):
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = s.cat.categories
            new_cats = neutralise_values(cats.to_numpy(dtype=object))
            if (new_cats == cats.to_numpy(dtype=object)).all():
                continue
            new_s = s.cat.rename_categories(list(new_cats))  # injective: no two merge
        elif isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
            guarded = _guard_arrow(pa.array(s))
            if guarded is None:
                continue
            new_s = pd.Series(guarded.to_pandas().array, index=df.index, dtype=s.dtype)
        else:
            values = s.to_numpy(dtype=object)
            new = neutralise_values(values)
            if new is values:
                continue
            new_s = pd.Series(new, index=df.index, dtype=s.dtype)
        if out is None:
            out = df.copy()
        out[col] = new_s
    return df if out is None else out


__all__ = ["FORMULA_STARTS", "GUARD", "NEEDS_GUARD", "PLAIN_NUMBER", "needs_guard", "neutralise", "neutralise_formulas", "neutralise_values", "original"]
