"""Property tests of the scoring function over every registered instrument."""

import numpy as np
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
