"""Fast exact operations on identifier columns: duplicates and look-ups.

Identifiers of up to 16 bytes (after whitespace stripping) are packed into two uint64
words (space-padded, so the packing is one-to-one for stripped values) and hashed to
one int64; duplicates are found by sorting the hashes, look-ups by a hash index, and
every candidate is confirmed on the packed words, so the result is exact. Longer
identifiers use pyarrow's hash kernels. Both give the same answers; packing is several
times faster on a million ids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from outcomes.validation.convert import null_mask, string_buffers

_WIDTH = 16
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)


def pack(arr: pa.Array) -> np.ndarray | None:
    """(n, 2) uint64 words of each value (nulls as 16 spaces), or None if a value is longer."""
    if len(arr) == 0:
        return np.zeros((0, 2), dtype=np.uint64)
    offsets, _ = string_buffers(arr)
    if int(np.diff(offsets).max()) > _WIDTH:
        return None
    padded = pc.utf8_rpad(arr.fill_null(""), _WIDTH, " ")
    offsets, data = string_buffers(padded)
    block = data[offsets[0] : offsets[-1]]
    if len(block) != _WIDTH * len(arr):
        return None  # multi-byte characters: utf8_rpad counts code points
    return block.reshape(-1, _WIDTH).view("<u8")


def _hash(words: np.ndarray) -> np.ndarray:
    return (words[:, 0] * _K1 ^ words[:, 1] * _K2).view(np.int64)


def _dup_mask(h: np.ndarray) -> np.ndarray:
    order = np.argsort(h)
    s = h[order]
    eq = s[1:] == s[:-1]
    d = np.zeros(len(h), dtype=bool)
    d[1:] |= eq
    d[:-1] |= eq
    out = np.zeros(len(h), dtype=bool)
    out[order] = d
    return out


def duplicated_values(arr: pa.Array) -> np.ndarray:
    """Mask of the non-null values that occur more than once (every copy)."""
    n = len(arr)
    if n - arr.null_count < 2:
        return np.zeros(n, dtype=bool)
    valid = ~null_mask(arr)
    words = pack(arr)
    if words is not None:
        cand = np.zeros(n, dtype=bool)
        cand[valid] = _dup_mask(_hash(words[valid]))
        if not cand.any():
            return cand
        sub = pc.filter(arr, pa.array(cand))  # exact check among the candidates only
        out = np.zeros(n, dtype=bool)
        out[cand] = _exact_duplicated(sub)
        return out
    return _exact_duplicated(arr)


def _exact_duplicated(arr: pa.Array) -> np.ndarray:
    vc = pc.value_counts(arr)
    counts = vc.field("counts").to_numpy(zero_copy_only=False)
    if (counts <= 1).all():
        return np.zeros(len(arr), dtype=bool)
    dups = pc.filter(vc.field("values"), pa.array(counts > 1))
    return pc.is_in(arr, value_set=dups, skip_nulls=True).fill_null(False).to_numpy(zero_copy_only=False)


def lookup(values: pa.Array, table: pa.Array) -> np.ndarray:
    """Position of each value in ``table`` (its first occurrence); -1 if absent or null."""
    n = len(values)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(table) == 0:
        return out
    wv, wt = pack(values), pack(table)
    if wv is not None and wt is not None:
        hv, ht = _hash(wv), _hash(wt)
        tvalid = ~null_mask(table)
        order = np.flatnonzero(tvalid)
        order = order[np.argsort(ht[order])]
        sorted_h = ht[order]
        unique = bool((sorted_h[1:] != sorted_h[:-1]).all())
        if not unique:  # first occurrences first among equal hashes
            order = np.flatnonzero(tvalid)
            order = order[np.argsort(ht[order], kind="stable")]
            sorted_h = ht[order]
        if len(sorted_h):
            if unique:  # a hash index is fastest
                at = pd.Index(sorted_h).get_indexer(hv)
                found = at >= 0
                at = np.maximum(at, 0)
            else:
                at = np.searchsorted(sorted_h, hv, side="left")
                at = np.minimum(at, len(sorted_h) - 1)
                found = sorted_h[at] == hv
            pos = order[at]
            hit = found & ~null_mask(values)
            exact = hit & (wt[pos, 0] == wv[:, 0]) & (wt[pos, 1] == wv[:, 1])
            if (exact == hit).all():  # no hash collision: the answer is exact
                out[exact] = pos[exact]
                return out
    code = pc.index_in(values, value_set=table, skip_nulls=True)
    return code.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


__all__ = ["duplicated_values", "lookup", "pack"]
