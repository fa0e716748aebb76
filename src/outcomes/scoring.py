"""One vectorised scoring function for every instrument in the registry (docs/questionnaires.md).

Rules (docs/questionnaires.md, *Scoring conventions*): reverse scoring ``(min + max) - x``
on the item code range; when proration is allowed a sum score is ``mean(answered items) *
n_items`` and a mean score is ``mean(answered items)``; proration happens after reversal;
nothing is rounded. A score is missing when more items are missing than the score's
``max_missing``. Table scores (SWEMWBS) convert the integer raw sum and need complete
responses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from outcomes.errors import ConfigError
from outcomes.instruments import Instrument, Score


@dataclass(frozen=True)
class ScoredValues:
    """Score values of one PARAMCD for a batch of responses (arrays of equal length)."""

    paramcd: str
    value: np.ndarray  # float, NaN where not scoreable
    n_items: np.ndarray  # items answered (int)
    n_missing: np.ndarray  # items missing (int)
    prorated: np.ndarray  # bool: scored with at least one item imputed


def reverse_items(items: np.ndarray, instrument: Instrument, reversed_items=None) -> np.ndarray:
    """Return a copy of ``items`` (n x n_items, float, NaN = missing) with reversed items flipped."""
    out = np.array(items, dtype=float, copy=True)
    rev = instrument.reversed if reversed_items is None else tuple(reversed_items)
    if rev:
        cols = [i - 1 for i in rev]
        out[:, cols] = (instrument.code_min + instrument.code_max) - out[:, cols]
    return out


def _max_missing(score: Score, override: int | Mapping[str, int] | None) -> int:
    if override is None:
        return score.max_missing
    if isinstance(override, Mapping):
        return int(override.get(score.paramcd, score.max_missing))
    return int(override)


def score_items(
    items: np.ndarray,
    instrument: Instrument,
    *,
    max_missing: int | Mapping[str, int] | None = None,
    reversed_items=None,
) -> list[ScoredValues]:
    """Score a matrix of item responses with every score the instrument declares.

    ``items`` is ``(n, instrument.n_items)`` in item order with NaN for a missing item;
    codes must already be validated (in range, integer). ``max_missing`` overrides the
    declared missing-item rule (one number for all scores, or a mapping by PARAMCD);
    ``reversed_items`` overrides the declared reversed items. Items are summed column by
    column (a column-major ``items`` is not copied); the sums are exact for integer codes,
    so they equal the whole-matrix rules (tests/test_scoring_properties.py).
    """
    items = np.asarray(items, dtype=float)
    if items.ndim != 2 or items.shape[1] != instrument.n_items:
        raise ValueError(
            f"{instrument.key}: expected an (n, {instrument.n_items}) item matrix, got {items.shape}"
        )
    # One column at a time (contiguous after one Fortran-order copy at most): a few passes
    # over n values per item instead of whole-matrix copies per score (issue 17).
    columns = np.asfortranarray(items)
    n = columns.shape[0]
    rev = instrument.reversed if reversed_items is None else tuple(reversed_items)
    flipped = {i - 1 for i in rev}
    top = float(instrument.code_min + instrument.code_max)
    answered_cache: dict[int, np.ndarray] = {}
    results = []
    for score in instrument.scores:
        cols = [i - 1 for i in score.items]
        k = len(cols)
        limit = _max_missing(score, max_missing)
        if score.method == "table" and limit > 0:
            raise ConfigError(
                f"missing_items.{instrument.key}: {score.paramcd} is a table conversion defined "
                "for complete responses only; max_missing must be 0"
            )
        total = np.zeros(n)
        count = np.zeros(n, dtype=np.uint16)  # narrow: less memory traffic than int64
        for j in cols:
            col = columns[:, j]
            ans = answered_cache.get(j)
            if ans is None:
                ans = answered_cache[j] = ~np.isnan(col)
            count += ans
            # exact: codes are integers, so the order of the additions does not matter
            np.add(total, (top - col) if j in flipped else col, out=total, where=ans)
        n_ans = count.astype(np.int64)
        n_miss = k - n_ans
        ok = (n_miss <= limit) & (n_ans > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / n_ans
        if score.method == "sum":
            value = np.where(n_miss == 0, total, mean * k)
        elif score.method == "mean":
            value = mean
        else:  # table
            assert score.table is not None
            keys = np.array(sorted(score.table))
            lookup = np.full(int(keys.max()) + 1, np.nan)
            lookup[keys] = [score.table[int(r)] for r in keys]
            raw = np.where(ok, total, 0).astype(np.int64)
            inside = (raw >= 0) & (raw < lookup.size)
            value = np.where(inside, lookup[np.clip(raw, 0, lookup.size - 1)], np.nan)
        value = np.where(ok, value, np.nan)
        results.append(
            ScoredValues(
                paramcd=score.paramcd,
                value=value,
                n_items=n_ans,
                n_missing=n_miss,
                prorated=ok & (n_miss > 0),
            )
        )
    return results


def item_matrix(frame: pd.DataFrame, instrument: Instrument) -> np.ndarray:
    """The instrument's item columns of a questionnaire frame as a float matrix (NaN = missing)."""
    cols = instrument.item_columns()
    return frame.reindex(columns=cols).apply(pd.to_numeric, errors="raise").to_numpy(
        dtype=float, na_value=np.nan
    )
