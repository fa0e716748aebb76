"""Recurrent readmissions: NB2 rate ratio, Andersen–Gill Cox, days in hospital.

Tolerances: NB2 against statsmodels GLM NegativeBinomial with alpha fixed at the NB2
estimate to 1e-5 (both optimisers stop at ~1e-8 gradient; the GLM's IRLS at 1e-8 deviance
change); against a Poisson GLM on Poisson data, where the NB2 alpha estimate tends to 0, to
2e-3 on the log rate ratio and 5% on its SE (alpha-hat is 0.03 there, not exactly 0). Andersen–Gill
coefficients against statsmodels PHReg with entry times to 1e-6 (same likelihood).
Bootstrap SE of a mean difference against the analytic SE to 10% (B = 2000: MC error 1.6%).
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxTimeVaryingFitter
from scipy.special import digamma, gammaln, polygamma
from statsmodels.duration.hazard_regression import PHReg
from survival_dgp import simulate_trial

from outcomes.clustering.bootstrap import block_rows
from outcomes.survival import andersen_gill, hospital_days, negative_binomial
from outcomes.survival._common import design
from outcomes.survival.cox import efron_score_residuals
from outcomes.survival.negbin import _of_counts
from outcomes.survival.recurrent import bootstrap_mean_median


@pytest.fixture(scope="module")
def trial():
    return simulate_trial(800, seed=8)


def _design(adre, adsl):
    pp = adre.drop_duplicates("USUBJID").merge(adsl, on="USUBJID")
    X = np.column_stack([np.ones(len(pp)), pp.ARM == "peer_support",
                         design(pp, ["SITEID", "DIAGGR"])]).astype(float)
    return pp, X


def test_nb2_matches_glm_with_alpha_fixed(trial):
    adsl, _, adre, _ = trial
    res = negative_binomial(adre, adsl)
    assert res.converged
    pp, X = _design(adre, adsl)
    glm = sm.GLM(pp.NREADM.to_numpy(float), X,
                 family=sm.families.NegativeBinomial(alpha=res.alpha),
                 offset=np.log(pp.RISKDAYS.to_numpy())).fit(tol=1e-12)
    np.testing.assert_allclose(res.params, glm.params, atol=1e-5)
    assert res.n == len(pp) and res.events == pp.NREADM.sum()
    f = res.to_frame()
    assert f.estimate_type.tolist() == ["rate_ratio"]
    assert f.estimate.iloc[0] == pytest.approx(np.exp(res.params[1]))


def test_nb2_tends_to_poisson_without_overdispersion():
    rng = np.random.default_rng(4)
    n = 1000
    arm = rng.integers(0, 2, n)
    days = rng.uniform(100, 365, n)
    y = rng.poisson(0.005 * days * np.exp(-0.3 * arm))
    ids = [f"P{i}" for i in range(n)]
    adre = pd.DataFrame({"USUBJID": ids, "NREADM": y, "RISKDAYS": days})
    adsl = pd.DataFrame({"USUBJID": ids,
                         "ARM": np.where(arm == 1, "peer_support", "usual_care")})
    res = negative_binomial(adre, adsl, covariates=())
    pois = sm.GLM(y, sm.add_constant(arm.astype(float)), family=sm.families.Poisson(),
                  offset=np.log(days)).fit()
    assert res.converged and res.alpha < 0.05
    assert res.params[1] == pytest.approx(pois.params[1], abs=2e-3)
    assert res.bse[1] == pytest.approx(pois.bse[1], rel=0.05)


def test_zero_days_at_risk_are_left_out(trial):
    adsl, _, adre, _ = trial
    first = adre.USUBJID.iloc[0]
    a2 = adre.copy()
    a2.loc[a2.USUBJID == first, "RISKDAYS"] = 0.0
    res = negative_binomial(a2, adsl)
    assert res.n_excluded == 1 and res.n == adsl.shape[0] - 1


def test_andersen_gill_against_statsmodels_and_robust_by_participant(trial):
    adsl, _, adre, _ = trial
    res = andersen_gill(adre, adsl)
    d = adre.merge(adsl, on="USUBJID")
    X = np.column_stack([d.ARM == "peer_support", d.PRIORADM, d.DETINDFL == "Y"]).astype(float)
    # (start, stop] intervals: a row is at risk at t when start < t <= stop, so a participant
    # whose interval ends with an event at t and whose next interval starts at t is at risk
    # once. statsmodels PHReg counts entry <= t (the participant twice at each of their own
    # event times); shifting the entries by 1e-9 gives the counting-process convention.
    ref = PHReg(d.TSTOP.to_numpy(), X, status=d.EVENT.to_numpy(),
                entry=d.TSTART.to_numpy() + 1e-9, strata=d.SITEID.to_numpy(),
                ties="efron").fit()
    np.testing.assert_allclose(res.coef, ref.params, atol=1e-6)
    raw = PHReg(d.TSTOP.to_numpy(), X, status=d.EVENT.to_numpy(), entry=d.TSTART.to_numpy(),
                strata=d.SITEID.to_numpy(), ties="efron").fit()
    assert np.abs(raw.params - res.coef).max() > 1e-4
    dd = pd.DataFrame({"id": d.USUBJID, "start": d.TSTART, "stop": d.TSTOP, "e": d.EVENT,
                       "a": X[:, 0], "p": X[:, 1], "det": X[:, 2], "s": d.SITEID})
    ctv = CoxTimeVaryingFitter().fit(dd, id_col="id", start_col="start", stop_col="stop",
                                     event_col="e", strata=["s"])
    np.testing.assert_allclose(res.coef, ctv.params_.to_numpy(), atol=1e-6)
    assert res.n_clusters == adsl.shape[0]
    U = efron_score_residuals(res.coef, X, d.TSTOP.to_numpy(), d.EVENT.to_numpy(),
                              d.TSTART.to_numpy(), d.SITEID.to_numpy())
    Ug = pd.DataFrame(U).groupby(d.USUBJID.to_numpy()).sum().to_numpy()
    np.testing.assert_allclose(res.robust_cov, res.cov @ Ug.T @ Ug @ res.cov, rtol=1e-10)
    # frailty makes the events of a participant correlated: robust SE > model SE for arm
    assert res.robust_se[0] > res.se[0]
    f = res.to_frame()
    assert f.n.iloc[0] == adsl.shape[0] and f.events.iloc[0] == adre.EVENT.sum()


def test_hospital_days(trial):
    adsl, _, adre, _ = trial
    res = hospital_days(adre, adsl, n_boot=2000, rng=np.random.default_rng(3))
    again = hospital_days(adre, adsl, n_boot=2000, rng=np.random.default_rng(3))
    assert res == again  # seeded: reproducible
    pp = adre.drop_duplicates("USUBJID").merge(adsl, on="USUBJID")
    x1 = pp.loc[pp.ARM == "peer_support", "BEDDAYS"]
    x0 = pp.loc[pp.ARM == "usual_care", "BEDDAYS"]
    assert res.difference == pytest.approx(x1.mean() - x0.mean())
    se = np.sqrt(x1.var() / len(x1) + x0.var() / len(x0))
    assert res.difference_se == pytest.approx(se, rel=0.10)
    assert res.difference_ci[0] < res.difference < res.difference_ci[1]
    assert res.median == (x1.median(), x0.median())
    f = res.to_frame()
    assert f.estimate_type.tolist() == ["mean", "median", "mean", "median", "mean_difference"]
    # days are not events: events NA, the participants readmitted in their own column
    assert f.events.isna().all()
    k1, k0 = ((pp.loc[pp.ARM == a, "NREADM"] > 0).sum() for a in ("peer_support", "usual_care"))
    assert f.n_readmitted.tolist() == [k1, k1, k0, k0, k1 + k0]
    # std_error: the SD of the bootstrap replicates (the same draws, replayed), and for the
    # mean close to the closed form s/sqrt(n)
    rng = np.random.default_rng(3)
    b1 = x1.to_numpy()[rng.integers(0, len(x1), size=(2000, len(x1)))]
    b0 = x0.to_numpy()[rng.integers(0, len(x0), size=(2000, len(x0)))]
    np.testing.assert_allclose(
        f.std_error, [b1.mean(1).std(ddof=1), np.median(b1, 1).std(ddof=1),
                      b0.mean(1).std(ddof=1), np.median(b0, 1).std(ddof=1),
                      (b1.mean(1) - b0.mean(1)).std(ddof=1)], rtol=1e-12)
    assert f.std_error[0] == pytest.approx(x1.std() / np.sqrt(len(x1)), rel=0.1)


@pytest.mark.parametrize(("n", "n_boot"), [(1, 50), (7, 50), (400, 700), (3000, 300)])
def test_bootstrap_mean_median_in_blocks_is_the_one_call_bootstrap(n, n_boot):
    """The blocked draws (memory O(n), issue 17) are the one-call draws of the earlier
    code, bit for bit: same replicates, same order, same generator state afterwards. n =
    400 and 3,000 split the replicates into blocks of 327 and 43 rows, the last partial."""
    x = np.random.default_rng(n).poisson(1.5, n).astype(float) * 1.25
    bm, bmed = bootstrap_mean_median(x, rng := np.random.default_rng(11), n_boot)
    ref = np.random.default_rng(11)
    bx = x[ref.integers(0, n, size=(n_boot, n))]
    assert n < 400 or n_boot % block_rows(n) > 0
    np.testing.assert_array_equal(bm, bx.mean(axis=1))
    np.testing.assert_array_equal(bmed, np.median(bx, axis=1))
    assert rng.random() == ref.random()


def test_special_functions_of_counts_are_evaluated_per_distinct_count():
    """nb2_loglik evaluates gammaln, digamma and trigamma once per distinct count: the same
    values as row by row (bit for bit), so the fit is unchanged."""
    y = np.random.default_rng(4).negative_binomial(2, 0.4, 5000).astype(float)
    for f in (gammaln, digamma, lambda v: polygamma(1, v)):
        np.testing.assert_array_equal(_of_counts(f, y, 0.73), f(y + 0.73))
