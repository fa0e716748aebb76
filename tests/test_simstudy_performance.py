"""ADEMP performance measures (outcomes.simstudy.performance) against hand computation and
against the known truth of a simulation whose estimator's behaviour is known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from outcomes.simstudy import MEASURES, performance


def test_hand_computed_small_example():
    # estimates 1..4, truth 2: bias 0.5, sd sqrt(5/3), mse (1 + 0 + 1 + 4) / 4
    reps = pd.DataFrame({"estimate": [1.0, 2.0, 3.0, 4.0], "se": [1.0, 1.0, 2.0, 2.0],
                         "lower": [0.0, 1.5, 2.5, 1.0], "upper": [1.5, 3.0, 3.5, 5.0],
                         "p_value": [0.01, 0.2, 0.04, 0.5]})
    perf = performance(reps, true_value=2.0)
    sd = math.sqrt(5.0 / 3.0)
    assert perf.values["bias"] == pytest.approx(0.5, abs=1e-15)
    assert perf.mcse["bias"] == pytest.approx(sd / 2.0, rel=1e-14)
    assert perf.values["empse"] == pytest.approx(sd, rel=1e-14)
    assert perf.mcse["empse"] == pytest.approx(sd / math.sqrt(6.0), rel=1e-14)
    assert perf.values["mse"] == pytest.approx(1.5, rel=1e-14)
    # squared errors 1, 0, 1, 4 about their mean 1.5: sum of squares 1/4+9/4+1/4+25/4 = 9
    assert perf.mcse["mse"] == pytest.approx(math.sqrt(9.0 / 12.0), rel=1e-14)
    # model variances 1, 1, 4, 4: modse sqrt(2.5), var of variances 3 (ddof 1)
    assert perf.values["modse"] == pytest.approx(math.sqrt(2.5), rel=1e-14)
    assert perf.mcse["modse"] == pytest.approx(math.sqrt(3.0 / (4 * 4 * 2.5)), rel=1e-14)
    ratio = math.sqrt(2.5) / sd
    assert perf.values["relerror_modse"] == pytest.approx(100 * (ratio - 1), rel=1e-13)
    assert perf.mcse["relerror_modse"] == pytest.approx(
        100 * ratio * math.sqrt(3.0 / (4 * 4 * 2.5**2) + 1.0 / 6.0), rel=1e-13)
    # intervals containing 2: rows 2 and 4; containing the mean 2.5: rows 2, 3, 4
    assert perf.values["coverage"] == 0.5 and perf.mcse["coverage"] == pytest.approx(0.25)
    assert perf.values["becoverage"] == 0.75
    assert perf.mcse["becoverage"] == pytest.approx(math.sqrt(0.75 * 0.25 / 4))
    assert perf.values["rejection"] == 0.5


def test_not_estimable_replicates_are_counted_not_used():
    reps = pd.DataFrame({"estimate": [1.0, np.nan, 3.0], "se": [1.0, np.nan, 1.0]})
    perf = performance(reps, true_value=0.0)
    assert (perf.n_replicates, perf.n_estimable) == (3, 2)
    assert perf.values["bias"] == 2.0
    assert math.isnan(perf.values["coverage"]) and math.isnan(perf.values["rejection"])
    frame = perf.to_frame()
    assert list(frame["measure"]) == list(MEASURES)
    assert set(frame["n_estimable"]) == {2}


def test_a_missing_se_among_estimable_replicates_is_not_silently_dropped():
    reps = pd.DataFrame({"estimate": [1.0, 2.0, 3.0], "se": [1.0, np.nan, 1.0]})
    perf = performance(reps, true_value=2.0)
    assert math.isnan(perf.values["modse"]) and math.isnan(perf.values["relerror_modse"])


def test_one_replicate_gives_no_spread_measures():
    perf = performance(pd.DataFrame({"estimate": [1.0]}), true_value=0.0)
    assert perf.values["bias"] == 1.0
    assert math.isnan(perf.values["empse"]) and math.isnan(perf.mcse["bias"])


@pytest.mark.parametrize("delta", [0.0, 0.5])
def test_known_truth_of_the_z_test_of_a_normal_mean(delta):
    """Mean of n = 25 draws of N(delta, 1), z-interval with known sigma: unbiased, empirical
    SE 1/5 = model SE, coverage 95%, rejection = the closed-form power (5% at delta = 0).
    Each measure is within 4 Monte Carlo SEs of its truth (a false alarm ~1e-4 per check;
    the seed is fixed, so the test is deterministic)."""
    rng = np.random.default_rng(20261201)
    n, reps = 25, 4000
    means = rng.normal(delta, 1.0, size=(reps, n)).mean(axis=1)
    se = np.full(reps, 1.0 / math.sqrt(n))
    z = stats.norm.ppf(0.975)
    frame = pd.DataFrame({"estimate": means, "se": se, "lower": means - z * se,
                          "upper": means + z * se,
                          "p_value": 2 * stats.norm.sf(np.abs(means) / se)})
    perf = performance(frame, true_value=delta)
    power = stats.norm.sf(z - delta * math.sqrt(n)) + stats.norm.cdf(-z - delta * math.sqrt(n))
    truth = {"bias": 0.0, "empse": 0.2, "relerror_modse": 0.0, "coverage": 0.95,
             "becoverage": 0.95, "rejection": power}
    for measure, value in truth.items():
        assert abs(perf.values[measure] - value) < 4 * perf.mcse[measure], measure
    assert perf.values["modse"] == pytest.approx(0.2, rel=1e-12)
    assert perf.mcse["modse"] < 1e-15  # every replicate has the same model SE


def test_needs_an_estimate_column():
    with pytest.raises(ValueError, match="estimate"):
        performance(pd.DataFrame({"est": [1.0]}), true_value=0.0)
