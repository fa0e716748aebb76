"""Vectorised conversion of text columns to typed values.

Each function takes a pyarrow string array (nulls = empty cells) and returns typed values
plus the positions that could not be converted. There is a cheap check for the common
case (a clean column) and a slower, still vectorised, path for columns with problems.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DATE_MIN_YEAR = 1900
DATE_MAX_YEAR = 2100
"""Dates outside 1900-01-01..2100-12-31 are treated as invalid (typos such as 1024 or 2204)."""
INT_MAX_DIGITS = 18
"""An integer has at most 18 digits (every such number fits in int64)."""



def as_array(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if col.type == pa.large_string():
        col = col.cast(pa.string())
    return col


def null_mask(arr: pa.Array) -> np.ndarray:
    """Boolean numpy mask of the nulls of ``arr`` (unpacked from its validity bitmap)."""
    n = len(arr)
    if arr.null_count == 0:
        return np.zeros(n, dtype=bool)
    if arr.null_count == n or arr.buffers()[0] is None:
        return arr.is_null().to_numpy(zero_copy_only=False)
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    valid = np.unpackbits(bits, bitorder="little", count=arr.offset + n)[arr.offset :]
    return valid == 0


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data bytes) of a ``string`` array, respecting its offset."""
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    buf = arr.buffers()[2]
    data = np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, dtype=np.uint8)
    return offsets, data


def _value_bytes(arr: pa.Array) -> np.ndarray:
    offsets, data = string_buffers(arr)
    return data[offsets[0] : offsets[-1]] if len(offsets) else data[:0]


def _is_space(b: np.ndarray) -> np.ndarray:
    # ASCII whitespace, or a non-ASCII byte that may start/end a Unicode space (checked exactly later)
    return (b == 32) | ((b >= 9) & (b <= 13)) | (b >= 0x80)


def may_need_strip(arr: pa.Array) -> bool:
    """Cheap test: could a value start or end with whitespace, or be empty? (False: certainly not.)"""
    if arr.null_count == len(arr):
        return False
    offsets, data = string_buffers(arr)
    lengths = np.diff(offsets)
    valid = ~null_mask(arr) if arr.null_count else np.ones(len(arr), dtype=bool)
    if (valid & (lengths == 0)).any():
        return True
    nonempty = valid & (lengths > 0)
    starts = offsets[:-1][nonempty]
    ends = offsets[1:][nonempty] - 1
    return bool(_is_space(data[starts]).any() or _is_space(data[ends]).any())


@dataclass
class Stripped:
    values: pa.Array
    n_changed: int
    first_changed: int  # position, -1 if none


def strip(arr: pa.Array) -> Stripped:
    """Trim leading/trailing whitespace; values that become empty become null."""
    if not may_need_strip(arr):
        return Stripped(arr, 0, -1)
    trimmed = pc.utf8_trim_whitespace(arr)
    changed = pc.not_equal(trimmed, arr).fill_null(False).to_numpy(zero_copy_only=False)
    n = int(changed.sum())
    values = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
    return Stripped(values, n, int(np.argmax(changed)) if n else -1)


@dataclass
class Ints:
    values: pd.arrays.IntegerArray
    bad: np.ndarray  # positions of non-null values that are not integers
    n_decimal: int  # integral decimals accepted (3.0)
    first_decimal: int


def _int_array(arr: pa.Array) -> pd.arrays.IntegerArray:
    """An arrow int64 array as a pandas IntegerArray (values copied: pandas may write to them)."""
    n = len(arr)
    mask = null_mask(arr)
    values = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n].copy()
    return pd.arrays.IntegerArray(values, mask)


def _digits_only(arr: pa.Array) -> bool:
    b = _value_bytes(arr)
    return bool((((b >= 48) & (b <= 57)) | (b == 45)).all())


def parse_ints(arr: pa.Array) -> Ints:
    """Integers written as ``-?[0-9]{1,18}``; integral decimals (``3.0``) accepted and counted.

    Each value is judged on its own text: ``3``, ``03``, ``-0`` and ``3.0`` are 3, 3, 0
    and 3 whatever the other values of the column are.
    """
    empty = np.zeros(0, dtype=np.int64)
    n = len(arr)
    if arr.null_count == n:
        return Ints(pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, bool)), empty, 0, -1)
    offsets, data = string_buffers(arr)
    mask = null_mask(arr)
    if len(data) and ((np.diff(offsets) == 1) | mask).all():
        # every value is one byte: the questionnaire items. Decode the bytes directly.
        digits = data[np.minimum(offsets[:-1], len(data) - 1)] - np.uint8(48)
        if ((digits <= 9) | mask).all():
            return Ints(pd.arrays.IntegerArray(digits.astype(np.int64), mask), empty, 0, -1)
    # cast only when every value is short enough to be judged the same way as by the
    # exact path below (at most 18 digits): each cell is judged on its own text, never
    # on the path the other values of its column select
    if int(np.diff(offsets).max(initial=0)) <= INT_MAX_DIGITS and _digits_only(arr):
        try:
            return Ints(_int_array(pc.cast(arr, pa.int64())), empty, 0, -1)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # "-", "1-2" or too many digits: the exact path below says which
    is_int = pc.match_substring_regex(arr, rf"^-?[0-9]{{1,{INT_MAX_DIGITS}}}$").fill_null(False)
    is_dec = pc.match_substring_regex(arr, rf"^-?[0-9]{{1,{INT_MAX_DIGITS}}}\.0*$").fill_null(False)
    whole = pc.replace_substring_regex(arr, r"\.0*$", "")
    ok = pc.or_(is_int, is_dec)
    cast = pc.cast(pc.if_else(ok, whole, pa.scalar(None, pa.string())), pa.int64())
    ok_np = ok.to_numpy(zero_copy_only=False)
    dec_np = is_dec.to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(~null_mask(arr) & ~ok_np)
    n_dec = int(dec_np.sum())
    return Ints(_int_array(cast), bad, n_dec, int(np.argmax(dec_np)) if n_dec else -1)


@dataclass
class Dates:
    values: np.ndarray  # datetime64[s], NaT for missing or invalid
    bad: np.ndarray  # positions of non-null values that are not valid ISO dates


def _fixed_width_bytes(arr: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_cand x width) byte matrix of the values of length ``width`` and their positions."""
    offsets, data = string_buffers(arr)
    lengths = np.diff(offsets)
    valid = ~null_mask(arr)
    cand = valid & (lengths == width)
    pos = np.flatnonzero(cand)
    if len(pos) == 0:
        return np.zeros((0, width), dtype=np.uint8), pos
    if (lengths[~cand] == 0).all():
        # the candidates are contiguous in the data buffer
        block = data[offsets[0] : offsets[-1]]
        return block.reshape(-1, width), pos
    starts = offsets[:-1][pos]
    return data[starts[:, None] + np.arange(width)], pos


def _pair_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables indexed by two bytes read as a little-endian uint16.

    ``two``: the 2-digit number ``00..99`` or -1; ``dash_digit``: the digit of ``-d`` or
    -1; ``digit_dash``: the digit of ``d-`` or -1.
    """
    b0 = np.arange(65536) & 0xFF
    b1 = np.arange(65536) >> 8
    d0, d1 = b0 - 48, b1 - 48
    is0, is1 = (d0 >= 0) & (d0 <= 9), (d1 >= 0) & (d1 <= 9)
    two = np.where(is0 & is1, d0 * 10 + d1, -1).astype(np.int16)
    dash_digit = np.where((b0 == 45) & is1, d1, -1).astype(np.int16)
    digit_dash = np.where(is0 & (b1 == 45), d0, -1).astype(np.int16)
    return two, dash_digit, digit_dash


_TWO, _DASH_DIGIT, _DIGIT_DASH = _pair_tables()
_YEARS = np.arange(DATE_MIN_YEAR, DATE_MAX_YEAR + 1)
_LEAP = ((_YEARS % 4 == 0) & ((_YEARS % 100 != 0) | (_YEARS % 400 == 0))).astype(np.intp)
_YEAR_START = (
    (_YEARS - 1970) * 365
    + np.floor_divide(_YEARS - 1969, 4)
    - np.floor_divide(_YEARS - 1901, 100)
    + np.floor_divide(_YEARS - 1601, 400)
).astype(np.int64)
"""Days from 1970-01-01 to 1 January of each year (proleptic Gregorian)."""
_MONTH_DAYS = np.array(
    [[0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
     [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]],
    dtype=np.int64,
)
_MONTH_START = np.concatenate([np.zeros((2, 1), np.int64), np.cumsum(_MONTH_DAYS, axis=1)[:, :-1]], axis=1)
_MONTH_START[:, 0] = 0


def parse_dates(arr: pa.Array) -> Dates:
    """Strict ISO 8601 calendar dates ``YYYY-MM-DD`` (real dates only: no 2024-02-31).

    Vectorised over the bytes: each value of length 10 is read as five 2-byte pairs
    (``YY YY -M M- DD``) decoded through lookup tables.
    """
    n = len(arr)
    out = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    valid = ~null_mask(arr)
    mat, pos = _fixed_width_bytes(arr, 10)
    good = np.zeros(n, dtype=bool)
    if len(pos):
        p = np.ascontiguousarray(mat).view("<u2").reshape(-1, 5)
        c1, c2 = _TWO[p[:, 0]], _TWO[p[:, 1]]
        m1, m2, day = _DASH_DIGIT[p[:, 2]], _DIGIT_DASH[p[:, 3]], _TWO[p[:, 4]]
        ok = (c1 >= 0) & (c2 >= 0) & (m1 >= 0) & (m2 >= 0) & (day >= 1)
        year = c1.astype(np.int32) * 100 + c2
        month = m1 * 10 + m2
        ok &= (year >= DATE_MIN_YEAR) & (year <= DATE_MAX_YEAR) & (month >= 1) & (month <= 12)
        yi = np.where(ok, year - DATE_MIN_YEAR, 0)
        mi = np.where(ok, month, 1)
        leap = _LEAP[yi]
        ok &= day <= _MONTH_DAYS[leap, mi]
        days = _YEAR_START[yi] + _MONTH_START[leap, mi] + day - 1
        if len(pos) == n and ok.all():  # every value is a valid date
            return Dates((days * 86400).view("datetime64[s]"), np.zeros(0, dtype=np.int64))
        out[pos[ok]] = days[ok] * 86400
        good[pos[ok]] = True
    bad = np.flatnonzero(valid & ~good)
    return Dates(out.view("datetime64[s]"), bad)
