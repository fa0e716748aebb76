"""Cox model (Efron ties, strata, counting process) and its robust variance.

References and tolerances:
- Rossi recidivism data against R survival::coxph published coefficients (Fox & Weisberg,
  "Cox proportional-hazards regression for survival data in R", appendix to An R
  Companion to Applied Regression): printed to 5 decimals, so 1e-4 absolute.
- statsmodels PHReg(ties="efron") on generated day-valued tied data with strata: both
  maximise the same likelihood to convergence, 1e-6 on coefficients, 1e-5 (relative) on SEs.
- The robust variance is checked against an explicit hand computation (loops over the
  event times, the textbook formulas) to 1e-10, and the Efron score residuals against a
  finite-difference derivative of the case-weighted Efron score to 1e-6 (central
  differences with step 1e-6 have error O(1e-10) on this scale).
"""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.datasets import load_rossi
from statsmodels.duration.hazard_regression import PHReg

from outcomes.survival import cox, efron_score_residuals, tenure_cox
from outcomes.survival.cox import efron_loglik, fit_efron

R_ROSSI = {"fin": -0.3794, "age": -0.0574, "race": 0.3139, "wexp": -0.1498, "mar": -0.4337,
           "paro": -0.0849, "prio": 0.0915}
COLS = list(R_ROSSI)


def test_rossi_against_published_r_values():
    r = load_rossi()
    cph = CoxPHFitter().fit(r, "week", "arrest")
    beta, *_ = fit_efron(r[COLS].to_numpy(float), r.week.to_numpy(float), r.arrest.to_numpy())
    for k, c in enumerate(COLS):
        assert cph.params_[c] == pytest.approx(R_ROSSI[c], abs=1e-4)
        assert beta[k] == pytest.approx(R_ROSSI[c], abs=1e-4)


def _tied(n=500, seed=0):
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    prior = rng.poisson(1.2, n)
    det = rng.random(n) < 0.4
    site = rng.choice(["A", "B", "C", "D"], n)
    lp = -0.35 * arm + 0.2 * prior + 0.3 * det
    t = rng.exponential(1 / (0.004 * np.exp(lp) * (1 + (site == "B"))))
    c = rng.uniform(60, 600, n)
    time = np.floor(np.minimum(np.minimum(t, c), 365))
    ev = ((t <= c) & (t < 365)).astype(int)
    return pd.DataFrame({"USUBJID": [f"P{i}" for i in range(n)], "PARAMCD": "READMIT",
                         "AVAL": time, "CNSR": 1 - ev,
                         "ARM": np.where(arm == 1, "peer_support", "usual_care"),
                         "PRIORADM": prior, "DETINDFL": np.where(det, "Y", "N"),
                         "SITEID": site, "CMPEVFL": "N"})


def test_cox_matches_statsmodels_phreg_with_ties_and_strata():
    d = _tied()
    assert d.AVAL.duplicated().sum() > 200  # plenty of ties
    res = tenure_cox(d, ph=False)
    X = np.column_stack([(d.ARM == "peer_support"), d.PRIORADM, d.DETINDFL == "Y"]).astype(float)
    ref = PHReg(d.AVAL.to_numpy(), X, status=(1 - d.CNSR).to_numpy(), ties="efron",
                strata=d.SITEID.to_numpy()).fit()
    np.testing.assert_allclose(res.coef, ref.params, atol=1e-6)
    np.testing.assert_allclose(res.se, ref.bse, rtol=1e-5)
    assert res.terms == ("ARM", "PRIORADM", "DETINDFL")
    assert res.loglik == pytest.approx(ref.llf, abs=1e-8)


def test_counting_process_matches_statsmodels_entry():
    # (start, stop] data: split every row at day 100 -> same likelihood as unsplit
    d = _tied(seed=1)
    X = np.column_stack([(d.ARM == "peer_support"), d.PRIORADM]).astype(float)
    ev = (1 - d.CNSR).to_numpy()
    b_plain, *_ = fit_efron(X, d.AVAL.to_numpy(), ev)
    late = d.AVAL.to_numpy() > 100
    start = np.r_[np.zeros(len(d)), np.full(late.sum(), 100.0)]
    stop = np.r_[np.where(late, 100.0, d.AVAL), d.AVAL[late]]
    event = np.r_[np.where(late, 0, ev), ev[late]]
    Xs = np.vstack([X, X[late]])
    b_split, *_ = fit_efron(Xs, stop, event, start)
    np.testing.assert_allclose(b_split, b_plain, atol=1e-8)
    ref = PHReg(stop, Xs, status=event, entry=start, ties="efron").fit()
    np.testing.assert_allclose(b_split, ref.params, atol=1e-6)


# ----------------------------------------------------------------------- robust variance
# Small example with tied events (1 covariate): time, event, x, cluster
SMALL = pd.DataFrame({
    "time": [1, 1, 2, 2, 2, 3, 4, 4, 5, 6, 6, 7],
    "event": [1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0],
    "x": [0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 0],
    "cl": ["a", "a", "b", "c", "c", "d", "e", "f", "f", "g", "h", "h"],
})


def _efron_score_weighted(beta, t, e, x, w):
    """Efron score with case weights, by loops (R's convention: the tied events of a time
    enter with their mean weight)."""
    u = 0.0
    for s in np.unique(t[e == 1]):
        risk = t >= s
        dead = (t == s) & (e == 1)
        d = dead.sum()
        r = w * np.exp(beta * x)
        s0, s1 = (r * risk).sum(), (r * x * risk).sum()
        s0d, s1d = (r * dead).sum(), (r * x * dead).sum()
        wbar = w[dead].mean()
        u += (w * x * dead).sum()
        for k in range(d):
            u -= wbar * (s1 - k / d * s1d) / (s0 - k / d * s0d)
    return u


def _hand_score_residuals(beta, t, e, x):
    """Score residuals by the textbook formula (Therneau & Grambsch 2000, §3.4)."""
    res = np.zeros(t.size)
    r = np.exp(beta * x)
    for s in np.unique(t[e == 1]):
        risk = t >= s
        dead = (t == s) & (e == 1)
        d = dead.sum()
        for k in range(d):
            f = k / d
            s0 = (r * risk).sum() - f * (r * dead).sum()
            xbar = ((r * x * risk).sum() - f * (r * x * dead).sum()) / s0
            for i in np.flatnonzero(risk):
                if dead[i]:
                    res[i] += (x[i] - xbar) / d - r[i] * (1 - f) * (x[i] - xbar) / s0
                else:
                    res[i] -= r[i] * (x[i] - xbar) / s0
    return res


def test_score_residuals_are_the_case_weight_derivative_of_the_efron_score():
    t, e, x = (SMALL[c].to_numpy(float) for c in ("time", "event", "x"))
    beta = 0.37
    U = efron_score_residuals(np.array([beta]), x[:, None], t, e)[:, 0]
    np.testing.assert_allclose(U, _hand_score_residuals(beta, t, e, x), atol=1e-12)
    h = 1e-6
    for i in range(t.size):
        wp, wm = np.ones(t.size), np.ones(t.size)
        wp[i] += h
        wm[i] -= h
        fd = (_efron_score_weighted(beta, t, e, x, wp)
              - _efron_score_weighted(beta, t, e, x, wm)) / (2 * h)
        assert U[i] == pytest.approx(fd, abs=1e-6)
    # they sum to the Efron score
    _, g, _ = efron_loglik(np.array([beta]), x[:, None], t, e)
    assert U.sum() == pytest.approx(g[0], abs=1e-12)


def test_cluster_robust_variance_by_hand_and_vs_lifelines_statsmodels():
    d = SMALL.assign(ARM=np.where(SMALL.x == 1, "peer_support", "usual_care"))
    res = cox(d, covariates=(), time_col="time", event_col="event", censor_col=None,
              cluster="cl")
    t, e, x = (d[c].to_numpy(float) for c in ("time", "event", "x"))
    beta = res.coef[0]
    # hand: information I = -d2 loglik; U_g = sum of residuals in cluster g;
    # robust var = sum_g U_g^2 / I^2  (R coxph: D'D with D = dfbeta = U / I)
    _, _, hess = efron_loglik(np.array([beta]), x[:, None], t, e)
    info = -hess[0, 0]
    Ug = pd.Series(_hand_score_residuals(beta, t, e, x)).groupby(d.cl.to_numpy()).sum()
    hand = np.sqrt((Ug**2).sum()) / info
    assert res.robust_se[0] == pytest.approx(hand, rel=1e-10)
    assert res.n_clusters == 8
    # statsmodels and lifelines on the same tied data
    sm = PHReg(t, x[:, None], status=e, ties="efron").fit(groups=d.cl.to_numpy())
    assert sm.params[0] == pytest.approx(beta, abs=1e-6)
    ll = CoxPHFitter().fit(d[["time", "event", "x", "cl"]], "time", "event", cluster_col="cl")
    assert ll.params_["x"] == pytest.approx(beta, abs=1e-6)
    # both use Breslow-form score residuals at the Efron estimate: they differ from R's
    assert abs(sm.bse[0] / hand - 1) > 0.005
    assert abs(ll.standard_errors_["x"] / hand - 1) > 0.005


def test_robust_variance_agrees_with_statsmodels_and_lifelines_without_ties():
    rng = np.random.default_rng(7)
    n = 200
    x = rng.normal(size=(n, 2))
    t = rng.exponential(1 / np.exp(x @ [0.5, -0.3]))
    c = rng.exponential(2.0, n)
    time, ev = np.minimum(t, c), (t <= c).astype(float)
    cl = rng.integers(0, 60, n)
    beta, _, _, _, h = fit_efron(x, time, ev)
    V = np.linalg.inv(-h)
    U = efron_score_residuals(beta, x, time, ev)
    Ug = pd.DataFrame(U).groupby(cl).sum().to_numpy()
    mine = np.sqrt(np.diag(V @ Ug.T @ Ug @ V))
    # statsmodels gives NaN score residuals to rows never at risk at an event time (here
    # those censored before the first event), and so a NaN robust covariance; with those
    # residuals set to their true value 0 it agrees.
    m = PHReg(time, x, status=ev, ties="efron")
    assert np.isnan(m.fit(groups=cl).bse).all()
    Usm = np.nan_to_num(m.score_residuals(beta))
    Usm_g = pd.DataFrame(Usm).groupby(cl).sum().to_numpy()
    np.testing.assert_allclose(mine, np.sqrt(np.diag(V @ Usm_g.T @ Usm_g @ V)), rtol=1e-6)
    df = pd.DataFrame({"t": time, "e": ev, "x0": x[:, 0], "x1": x[:, 1], "cl": cl})
    ll = CoxPHFitter().fit(df, "t", "e", cluster_col="cl")
    np.testing.assert_allclose(mine, ll.standard_errors_.to_numpy(), rtol=1e-5)


def test_dfbeta_tracks_leave_one_out_better_than_breslow_form_on_rossi():
    """dfbeta = U I^-1 is a one-step approximation of beta - beta(-i); the Efron-form
    residuals approximate the exact leave-one-out changes better than statsmodels'
    (Breslow-form) residuals, which do not even sum to zero at the Efron estimate."""
    r = load_rossi()
    X, t, e = r[COLS].to_numpy(float), r.week.to_numpy(float), r.arrest.to_numpy(float)
    beta, _, _, _, h = fit_efron(X, t, e)
    V = np.linalg.inv(-h)
    idx = np.arange(0, len(r), 4)  # every 4th subject keeps the test fast
    loo = np.array([fit_efron(np.delete(X, i, 0), np.delete(t, i), np.delete(e, i))[0]
                    for i in idx])
    exact = beta - loo
    mine = (efron_score_residuals(beta, X, t, e) @ V)[idx]
    Usm = PHReg(t, X, status=e, ties="efron").score_residuals(beta)
    assert np.abs(Usm.sum(axis=0)).max() > 0.1
    sm = (Usm @ V)[idx]
    err_mine = np.sqrt(((mine - exact) ** 2).sum())
    err_sm = np.sqrt(((sm - exact) ** 2).sum())
    assert err_mine < err_sm


def test_ph_test_per_covariate_and_global():
    d = _tied(seed=3)
    res = tenure_cox(d, ph=True)
    ph = res.ph_test
    assert list(ph.term) == ["ARM", "PRIORADM", "DETINDFL", "GLOBAL"]
    assert ((ph.p_value > 0) & (ph.p_value <= 1)).all()
    f = res.to_frame()
    assert (f.estimate_type == "ph_test_chisq").sum() == 4
    # with one covariate the global test is the covariate's test
    one = cox(d, covariates=(), strata=("SITEID",), ph=True).ph_test
    assert one.statistic.iloc[0] == pytest.approx(one.statistic.iloc[1], rel=1e-8)
    # and non-proportional hazards are detected
    rng = np.random.default_rng(0)
    n = 600
    arm = rng.integers(0, 2, n)
    t = np.where(arm == 1, rng.weibull(0.5, n), rng.weibull(2.0, n)) * 100
    dd = pd.DataFrame({"AVAL": np.ceil(t), "CNSR": 0,
                       "ARM": np.where(arm == 1, "peer_support", "usual_care")})
    bad = cox(dd, covariates=(), ph=True).ph_test
    assert bad.p_value.iloc[0] < 1e-6
