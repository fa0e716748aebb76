"""NB2 rate ratio: the maximum likelihood, against R ``MASS::glm.nb``.

The reference (tests/r/fixtures/nb_bundled_trial.tsv) is R's glm.nb on the bundled trial's
per-participant counts (nb_bundled_trial.csv, derived from synthetic_data/), iterated to
epsilon 1e-12, with SEs from the joint observed information of (β, log θ) written out in
tests/r/nb_joint.R; regenerate with ``Rscript tests/r/glm_nb.R <csv> <tsv>``. Tolerance
1e-6 relative: both fits are at the maximum to ~1e-10. The fit the package used before
(statsmodels NegativeBinomial: Newton gave NaN on these data, the BFGS fall-back was
accepted with a score component of 0.006) was 2.5e-4 off on the log rate ratio and
1e-3 on the other coefficients.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from outcomes.errors import NotEstimable, SingularDesign
from outcomes.survival import negative_binomial
from outcomes.survival.negbin import nb2_fit, nb2_loglik

FIX = Path(__file__).parent / "r" / "fixtures"


def _frames(pp: pd.DataFrame):
    adre = pp[["USUBJID", "NREADM", "RISKDAYS"]]
    adsl = pp[["USUBJID", "ARM", "SITEID", "DIAGGR"]]
    return adre, adsl


def test_rate_ratio_equals_glm_nb_on_the_bundled_trial():
    pp = pd.read_csv(FIX / "nb_bundled_trial.csv")
    r = pd.read_csv(FIX / "nb_bundled_trial.tsv", sep="\t")
    res = negative_binomial(*_frames(pp))
    np.testing.assert_allclose(res.params, r.estimate.iloc[:-1], rtol=1e-6)
    np.testing.assert_allclose(res.bse, r.se.iloc[:-1], rtol=1e-6)
    assert res.alpha == pytest.approx(r.estimate.iloc[-1], rel=1e-6)
    assert res.converged and res.n == (pp.RISKDAYS > 0).sum()
    row = res.to_frame().iloc[0]
    assert row.estimate == pytest.approx(np.exp(r.estimate.iloc[1]), rel=1e-6)


def test_fit_is_at_the_maximum():
    """Gradient ~0, and no direction improves the log-likelihood."""
    pp = pd.read_csv(FIX / "nb_bundled_trial.csv")
    pp = pp[pp.RISKDAYS > 0]
    X = np.column_stack([np.ones(len(pp)), pp.ARM == "peer_support",
                         pd.get_dummies(pp.SITEID, drop_first=True),
                         pd.get_dummies(pp.DIAGGR, drop_first=True)]).astype(float)
    y, off = pp.NREADM.to_numpy(float), np.log(pp.RISKDAYS.to_numpy(float))
    fit = nb2_fit(X, y, off)
    assert np.max(np.abs(fit.gradient)) < 1e-6
    par = np.r_[fit.beta, np.log(1 / fit.alpha)]
    rng = np.random.default_rng(1)
    for _ in range(20):
        d = rng.normal(size=par.size) * 1e-4
        assert nb2_loglik(par[:-1] + d[:-1], par[-1] + d[-1], X, y, off, False) < fit.loglik


def test_gradient_and_hessian_by_finite_differences():
    rng = np.random.default_rng(3)
    n = 60
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=n)])
    y = rng.negative_binomial(2, 0.4, n).astype(float)
    off = np.log(rng.uniform(100, 365, n))
    par = np.array([-5.0, 0.3, -0.2, 0.4])
    f = lambda q: nb2_loglik(q[:-1], q[-1], X, y, off, False)  # noqa: E731
    _, g, H = nb2_loglik(par[:-1], par[-1], X, y, off)
    h = 1e-5
    E = np.eye(par.size) * h
    num_g = np.array([(f(par + e) - f(par - e)) / (2 * h) for e in E])
    num_H = np.array([[(f(par + a + b) - f(par + a - b) - f(par - a + b) + f(par - a - b))
                       / (4 * h * h) for b in E] for a in E])
    np.testing.assert_allclose(g, num_g, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(H, num_H, rtol=1e-4, atol=1e-4)


def test_underdispersed_counts_give_the_poisson_boundary():
    """With less variation than Poisson the likelihood increases towards α = 0: the MLE is
    the Poisson fit, with α̂ = 0 and the Poisson information."""
    rng = np.random.default_rng(5)
    n = 400
    arm = rng.integers(0, 2, n)
    y = rng.binomial(2, np.where(arm == 1, 0.3, 0.45)).astype(float)
    days = np.full(n, 365.0)
    X = np.column_stack([np.ones(n), arm]).astype(float)
    fit = nb2_fit(X, y, np.log(days))
    pois = sm.GLM(y, X, family=sm.families.Poisson(), offset=np.log(days)).fit(tol=1e-12)
    assert fit.boundary and fit.alpha == 0.0
    np.testing.assert_allclose(fit.beta, pois.params, rtol=1e-8)
    np.testing.assert_allclose(fit.bse, pois.bse, rtol=1e-6)


def test_not_estimable_cases_name_the_reason():
    pp = pd.read_csv(FIX / "nb_bundled_trial.csv")
    with pytest.raises(NotEstimable, match="no readmission in the peer_support arm"):
        negative_binomial(*_frames(pp.assign(NREADM=np.where(pp.ARM == "peer_support", 0,
                                                             pp.NREADM))))
    with pytest.raises(NotEstimable, match="no event"):
        nb2_fit(np.ones((5, 1)), np.zeros(5), np.zeros(5))
    s3 = pp.assign(NREADM=np.where(pp.SITEID == "S3", 0, pp.NREADM))
    with pytest.raises(NotEstimable, match=r"participants with SITEID\[S3\]"):
        negative_binomial(*_frames(s3))
    # a covariate aliased with arm (e.g. one site per arm)
    aliased = pp.assign(SITEID=np.where(pp.ARM == "peer_support", "S1", "S2"))
    with pytest.raises(SingularDesign, match="negative binomial model"):
        negative_binomial(*_frames(aliased))
