"""Scoring against hand-computed vectors (the published rules of docs/questionnaires.md)."""

import numpy as np
import pytest

from outcomes.errors import ConfigError
from outcomes.instruments import load_registry
from outcomes.scoring import score_items

REG = load_registry()
NAN = np.nan

# The published SWEMWBS raw -> metric table (Warwick), typed in again here by hand
# so that the test does not read the value it checks from the YAML under test.
SWEMWBS_TABLE = {
    7: 7.00, 8: 9.51, 9: 11.25, 10: 12.40, 11: 13.33, 12: 14.08, 13: 14.75, 14: 15.32,
    15: 15.84, 16: 16.36, 17: 16.88, 18: 17.43, 19: 17.98, 20: 18.59, 21: 19.25,
    22: 19.98, 23: 20.73, 24: 21.54, 25: 22.35, 26: 23.21, 27: 24.11, 28: 25.03,
    29: 26.02, 30: 27.03, 31: 28.13, 32: 29.31, 33: 30.70, 34: 32.55, 35: 35.00,
}


def _scores(key, rows, **kw):
    return {s.paramcd: s for s in score_items(np.array(rows, dtype=float), REG[key], **kw)}


@pytest.mark.parametrize("raw", sorted(SWEMWBS_TABLE))
def test_swemwbs_every_conversion(raw):
    # Spread the raw sum over 7 items as evenly as possible (each 1..5).
    base, extra = divmod(raw, 7)
    items = [base + (1 if i < extra else 0) for i in range(7)]
    assert sum(items) == raw
    s = _scores("swemwbs", [items])
    assert s["SWEMRAW"].value[0] == raw
    assert s["SWEMWBS"].value[0] == pytest.approx(SWEMWBS_TABLE[raw], abs=1e-12)


def test_swemwbs_suggested_vectors_and_missing():
    s = _scores("swemwbs", [[1] * 7, [3] * 7, [5] * 7, [4, 4, 4, 4, 4, 4, 5], [4, 4, NAN, 4, 4, 4, 5]])
    np.testing.assert_allclose(s["SWEMWBS"].value[:4], [7.0, 19.25, 35.0, 26.02])
    assert np.isnan(s["SWEMWBS"].value[4])  # table needs complete responses
    with pytest.raises(ConfigError, match="swemwbs"):
        _scores("swemwbs", [[1] * 7], max_missing=1)


def test_swemwbs_reads_wemwbs_items_1_2_3_6_7_9_11():
    assert REG["swemwbs"].item_columns() == [
        "wemwbs_01", "wemwbs_02", "wemwbs_03", "wemwbs_06", "wemwbs_07", "wemwbs_09", "wemwbs_11",
    ]


def test_hhi_reverses_items_3_and_6():
    # items 1..12 all = 1 except item 3 = 2 and item 6 = 4: reversed 3 -> 3, 6 -> 1.
    row = [1] * 12
    row[2], row[5] = 2, 4
    s = _scores("hhi", [row, [1] * 12, [4] * 12])
    assert s["HHI"].value[0] == 10 * 1 + 3 + 1
    assert s["HHI"].value[1] == 10 + 4 + 4
    assert s["HHI"].value[2] == 40 + 1 + 1


def test_gse_official_missing_rule():
    rows = [
        [4] * 10,
        [4, 4, 4, NAN, NAN, NAN, 1, 1, 1, 1],  # 3 missing: mean of 7 answered x 10
        [NAN] * 4 + [2] * 6,  # 4 missing: not scored
    ]
    s = _scores("gse", rows)["GSE"]
    assert s.value[0] == 40
    assert s.value[1] == pytest.approx((12 + 4) / 7 * 10)
    assert np.isnan(s.value[2])
    assert list(s.prorated) == [False, True, False]
    assert list(s.n_missing) == [0, 3, 4]


def test_complete_case_default_and_override():
    row = [[3] * 13 + [NAN]]
    assert np.isnan(_scores("wemwbs", row)["WEMWBS"].value[0])
    s = _scores("wemwbs", row, max_missing=3)["WEMWBS"]
    assert s.value[0] == pytest.approx(42.0) and s.prorated[0]


def test_ismi10_mean_with_reversal_and_min_answered():
    row = [2] * 10  # items 7 and 10 reversed: 5 - 2 = 3
    s = _scores("ismi10", [row, [2] * 7 + [NAN, NAN, NAN]])["ISMI10"]
    assert s.value[0] == pytest.approx((8 * 2 + 2 * 3) / 10)
    assert np.isnan(s.value[1])  # 3 missing > 2 allowed


@pytest.mark.parametrize("key", sorted(REG))
def test_boundaries_all_minimum_and_all_maximum(key):
    inst = REG[key]
    lo = np.full((1, inst.n_items), inst.code_min, dtype=float)
    hi = np.full((1, inst.n_items), inst.code_max, dtype=float)
    for rows in (lo, hi):
        for s in score_items(rows, inst):
            score = next(x for x in inst.scores if x.paramcd == s.paramcd)
            assert score.range[0] <= s.value[0] <= score.range[1]
    if not inst.reversed:
        for s_lo, s_hi, score in zip(score_items(lo, inst), score_items(hi, inst), inst.scores, strict=True):
            best, worst = (s_hi, s_lo)
            assert worst.value[0] == pytest.approx(score.range[0])
            assert best.value[0] == pytest.approx(score.range[1])


def test_subscale_ranges():
    lsns = _scores("lsns6", [[5, 5, 5, 0, 0, 0]])
    assert (lsns["LSNS6FAM"].value[0], lsns["LSNS6FRI"].value[0], lsns["LSNS6"].value[0]) == (15, 0, 15)
    wai = _scores("wai_sr", [[1, 1, 5, 2, 5, 2, 5, 2, 5, 1, 2, 1]])
    assert wai["WAISRBD"].value[0] == 20
    assert wai["WAISRGL"].value[0] == 8
    assert wai["WAISRTK"].value[0] == 4
    assert wai["WAISR"].value[0] == 32
    assert wai["WAISRMN"].value[0] == pytest.approx(32 / 12)
