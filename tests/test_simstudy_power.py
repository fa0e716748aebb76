"""Power curve of a simulation study (outcomes.simstudy.power): the probit-on-√n model
recovers a known curve, agrees with the closed-form power of a two-proportion z-test on
simulated tests, and says when it cannot be fitted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from outcomes.errors import NotEstimable
from outcomes.simstudy.power import power_curve


def test_recovers_a_known_probit_curve_and_its_size_for_80_percent():
    rng = np.random.default_rng(11)
    a, b = -1.5, 0.08
    n = np.repeat([100, 200, 400, 800, 1600], 2000)
    rejected = rng.random(n.size) < stats.norm.cdf(a + b * np.sqrt(n))
    curve = power_curve(pd.DataFrame({"n": n, "rejected": rejected}))
    se = np.sqrt(np.diag(curve.cov))
    assert abs(curve.a - a) < 4 * se[0] and abs(curve.b - b) < 4 * se[1]
    x, lo, hi = curve.size_for(0.8)
    truth = ((stats.norm.ppf(0.8) - a) / b) ** 2
    assert lo < truth < hi and abs(x - truth) / truth < 0.05
    frame = curve.to_frame()
    assert {"n", "power", "ci_low", "ci_high", "observed", "mcse"} <= set(frame.columns)
    run = frame.dropna(subset=["observed"])
    assert list(run["n"]) == [100, 200, 400, 800, 1600] and (run["replicates"] == 2000).all()
    assert (frame["ci_low"] <= frame["power"]).all() and (frame["power"] <= frame["ci_high"]).all()


def _exact_z_test_power(n: int, p1: float, p0: float) -> float:
    """Power of the two-sided pooled-variance z-test of two proportions, n/2 per arm, by
    enumerating both binomial counts (no normal approximation)."""
    m = n // 2
    k = np.arange(m + 1)
    x1, x0 = np.meshgrid(k, k, indexing="ij")
    pool = (x1 + x0) / (2 * m)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (x1 - x0) / m / np.sqrt(pool * (1 - pool) * 2 / m)
    prob = np.outer(stats.binom.pmf(k, m, p1), stats.binom.pmf(k, m, p0))
    return float(prob[np.abs(np.nan_to_num(z)) > stats.norm.ppf(0.975)].sum())


def test_the_curve_of_simulated_z_tests_matches_their_exact_power():
    """Two-proportion z-tests (risks 0.40 vs 0.50, n/2 per arm) simulated 3,000 times at five
    sizes: the fitted curve is within 0.015 of the test's exact power at each size (its
    Monte Carlo SE is about 0.005; the two-parameter form misfits by up to ~0.012 here), and
    the size for 80% power within 5% of the exact one. (The normal-approximation formula is
    itself 0.011 below the exact power at n = 600.)"""
    rng = np.random.default_rng(12)
    p1, p0, reps = 0.40, 0.50, 3000
    sizes, rows = (200, 400, 600, 800, 1000), []
    for n in sizes:
        m = n // 2
        x1, x0 = rng.binomial(m, p1, reps), rng.binomial(m, p0, reps)
        pool = (x1 + x0) / n
        z = (x1 / m - x0 / m) / np.sqrt(pool * (1 - pool) * 2 / m)
        rows.append(pd.DataFrame({"n": n, "rejected": np.abs(z) > stats.norm.ppf(0.975)}))
    curve = power_curve(pd.concat(rows, ignore_index=True))
    for n in sizes:
        assert abs(float(curve.power(n)) - _exact_z_test_power(n, p1, p0)) < 0.015, n
    exact_n = next(n for n in range(600, 1000, 2) if _exact_z_test_power(n, p1, p0) >= 0.8)
    x, lo, hi = curve.size_for(0.8)
    assert abs(x - exact_n) / exact_n < 0.05, (x, exact_n)


def test_not_estimable_without_two_sizes_or_with_no_variation():
    with pytest.raises(NotEstimable, match="two values of n"):
        power_curve(pd.DataFrame({"n": [100, 100], "rejected": [True, False]}))
    with pytest.raises(NotEstimable, match="every replicate rejected"):
        power_curve(pd.DataFrame({"n": [100, 200], "rejected": [True, True]}))
