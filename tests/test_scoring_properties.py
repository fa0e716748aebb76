"""Property tests of the scoring function over every registered instrument."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes.instruments import load_registry
from outcomes.scoring import reverse_items, score_items

REG = load_registry()
KEYS = sorted(REG)


@st.composite
def complete_responses(draw):
    inst = REG[draw(st.sampled_from(KEYS))]
    n = draw(st.integers(min_value=1, max_value=20))
    codes = st.integers(min_value=inst.code_min, max_value=inst.code_max)
    rows = draw(st.lists(st.lists(codes, min_size=inst.n_items, max_size=inst.n_items), min_size=n, max_size=n))
    return inst, np.array(rows, dtype=float)


@settings(max_examples=200, deadline=None)
@given(complete_responses())
def test_complete_responses_score_inside_the_declared_range(case):
    inst, items = case
    for scored in score_items(items, inst):
        score = next(s for s in inst.scores if s.paramcd == scored.paramcd)
        assert not np.isnan(scored.value).any()
        assert (scored.value >= score.range[0] - 1e-9).all()
        assert (scored.value <= score.range[1] + 1e-9).all()
        assert (scored.n_missing == 0).all() and not scored.prorated.any()


@settings(max_examples=200, deadline=None)
@given(complete_responses())
def test_reversing_twice_is_the_identity(case):
    inst, items = case
    np.testing.assert_array_equal(reverse_items(reverse_items(items, inst), inst), items)


@settings(max_examples=100, deadline=None)
@given(complete_responses(), st.data())
def test_missing_items_beyond_the_rule_give_no_score(case, data):
    inst, items = case
    row = items[0].copy()
    k = data.draw(st.integers(min_value=1, max_value=inst.n_items))
    row[:k] = np.nan
    for scored, score in zip(score_items(row[None, :], inst), inst.scores, strict=True):
        n_missing = int(np.isnan(row[[i - 1 for i in score.items]]).sum())
        answered = len(score.items) - n_missing
        expect_score = n_missing <= score.max_missing and answered > 0
        assert bool(~np.isnan(scored.value[0])) == expect_score
        assert scored.n_missing[0] == n_missing


def _whole_matrix_reference(items, inst, max_missing=None, reversed_items=None):
    """The scoring rules written as whole-matrix numpy (nansum over the reversed matrix):
    an independent oracle of the column-wise ``score_items``."""
    flipped = reverse_items(items, inst, reversed_items)
    out = {}
    for score in inst.scores:
        sel = flipped[:, [i - 1 for i in score.items]]
        k = sel.shape[1]
        n_ans = (~np.isnan(sel)).sum(axis=1)
        limit = score.max_missing if max_missing is None else max_missing
        ok = (k - n_ans <= limit) & (n_ans > 0)
        total = np.nansum(sel, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / n_ans
        if score.method == "sum":
            value = np.where(n_ans == k, total, mean * k)
        elif score.method == "mean":
            value = mean
        else:
            value = np.array([score.table.get(int(t), np.nan) if o else np.nan for t, o in zip(total, ok, strict=True)])
        out[score.paramcd] = (np.where(ok, value, np.nan), n_ans, k - n_ans, ok & (n_ans < k))
    return out


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("order", ["C", "F"])
def test_column_wise_scoring_equals_the_whole_matrix_rules(key, order):
    inst = REG[key]
    rng = np.random.default_rng(17)
    items = rng.integers(inst.code_min, inst.code_max + 1, (2000, inst.n_items)).astype(float)
    items[rng.random(items.shape) < 0.15] = np.nan
    items[:20] = np.nan  # nothing answered
    items = np.asarray(items, order=order)
    table = any(s.method == "table" for s in inst.scores)
    for kw in ({}, {"reversed_items": [1, inst.n_items]}) + (() if table else ({"max_missing": 1},)):
        expect = _whole_matrix_reference(items, inst, **kw)
        for got in score_items(items, inst, **kw):
            value, n_ans, n_miss, prorated = expect[got.paramcd]
            np.testing.assert_array_equal(got.value, value)  # exact: integer codes
            np.testing.assert_array_equal(got.n_items, n_ans)
            np.testing.assert_array_equal(got.n_missing, n_miss)
            np.testing.assert_array_equal(got.prorated, prorated)
            assert got.n_items.dtype == got.n_missing.dtype == np.int64
