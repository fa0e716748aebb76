"""Time-to-event outcome: the Weibull fit with censoring and day-0 events, and the effects
against a g-computation by simulating counterfactual event times."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from lifelines import WeibullAFTFitter
from scipy.optimize import minimize

from outcomes.mediation import fit_mediation
from outcomes.mediation.fitting import fit_weibull


def trial(n=400, seed=4, zeros=0):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"arm": rng.permutation(np.arange(n) % 2), "x": rng.normal(size=n),
                      "site": rng.choice(["a", "b", "c"], n)})
    d["m"] = 0.6 * d.arm + 0.4 * d.x + rng.normal(size=n)
    loc = 6.0 + 0.3 * d.arm + 0.4 * d.m - 0.2 * d.x
    t_event = np.exp(loc + 0.9 * np.log(rng.exponential(size=n)))
    t_cens = rng.uniform(200, 700, n)
    d["days"] = np.floor(np.minimum(t_event, t_cens))
    d["event"] = (t_event <= t_cens).astype(int)
    if zeros:
        idx = rng.choice(np.flatnonzero(d.event == 1), zeros, replace=False)
        d.loc[idx, "days"] = 0.0
    return d


LIFELINES_PANDAS = "ignore:Starting with pandas version 4.0"


@pytest.mark.filterwarnings(LIFELINES_PANDAS)
def test_weibull_fit_matches_lifelines():
    """Same model, same likelihood (right censoring, no zero times): lifelines' optimiser
    converges to ~1e-6 relative, hence tolerance 1e-5."""
    d = trial()
    d = d[d.days > 0]
    X = np.column_stack([np.ones(len(d)), d[["arm", "m", "x"]].to_numpy(float)])
    fit = fit_weibull(X, d.days.to_numpy(), d.event.to_numpy(), np.ones((1, len(d))))
    aft = WeibullAFTFitter().fit(d[["days", "event", "arm", "m", "x"]], "days", "event")
    lam = aft.params_["lambda_"]
    np.testing.assert_allclose(fit.coef[0], [lam["Intercept"], lam["arm"], lam["m"], lam["x"]],
                               rtol=1e-5, atol=1e-5)
    assert 1 / fit.sigma[0] == pytest.approx(np.exp(aft.params_["rho_"]["Intercept"]), rel=1e-5)


def test_day_zero_events_are_kept_as_interval_censored_in_the_first_day():
    """Nobody is dropped; the fit maximises the likelihood in which an event at day 0
    contributes log(1 - S(1)), checked against a direct numerical maximisation (scipy BFGS
    on the same likelihood written independently). Tolerance 1e-5."""
    d = trial(zeros=8)
    assert (d.days == 0).sum() == 8
    X = np.column_stack([np.ones(len(d)), d[["arm", "m"]].to_numpy(float)])
    t, e = d.days.to_numpy(float), d.event.to_numpy()
    fit = fit_weibull(X, t, e, np.ones((1, len(d))))

    @np.errstate(all="ignore")
    def negll(theta):
        beta, log_sigma = theta[:-1], theta[-1]
        sig = np.exp(log_sigma)
        lp = X @ beta

        def surv(tt):
            return np.exp(-np.exp((np.log(tt) - lp) / sig))

        ll = 0.0
        zero = (t == 0) & (e == 1)
        ev = (t > 0) & (e == 1)
        ce = e == 0
        z = (np.log(np.where(ev, t, 1.0)) - lp) / sig
        ll += np.sum((z - np.exp(z) - np.log(sig) - np.log(np.where(ev, t, 1.0)))[ev])
        ll += np.sum(np.log(surv(np.where(ce, np.maximum(t, 1e-300), 1.0)))[ce])
        ll += np.sum(np.log(1 - surv(1.0))[zero])
        return -ll if np.isfinite(ll) else np.inf

    start = np.r_[np.linalg.lstsq(X, np.log(t + 1), rcond=None)[0], 0.0]
    with np.errstate(invalid="ignore"):  # finite differences across an infinite trial step
        ref = minimize(negll, start, method="BFGS", options={"gtol": 1e-9})
    np.testing.assert_allclose(fit.coef[0], ref.x[:-1], atol=1e-5)
    assert np.log(fit.sigma[0]) == pytest.approx(ref.x[-1], abs=1e-5)
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome_type="weibull",
                        time="days", event="event", n_boot=0, rng=np.random.default_rng(0))
    assert res.n == len(d) and res.events == int(d.event.sum())


@pytest.mark.filterwarnings(LIFELINES_PANDAS)
def test_weibull_effects_match_g_computation_by_simulated_event_times():
    """Independent code path: mediator model refitted by statsmodels, outcome model by
    lifelines; for each participant draw M(t') from N(mean, sigma^2) and an event time
    T = exp(eta + sigma_T log E), E ~ Exp(1), from the fitted Weibull; the risk by 365 days
    is the share of simulated times <= 365 and the median is the sample median of all the
    simulated times (the marginal counterfactual distribution). Tolerance 4 MC SE (risk:
    binomial over independent draws; median: sqrt(p(1-p)/N) / density at the median)."""
    d = trial(n=300, seed=8)
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome_type="weibull",
                        time="days", event="event", covariates=["x"], horizon=365.0,
                        n_boot=0, rng=np.random.default_rng(0))
    fm = smf.ols("m ~ arm + x", d).fit()
    sd_m = np.sqrt(fm.scale)
    dd = d[["days", "event", "arm", "m", "x"]].assign(days=np.maximum(d.days, 1.0))
    dd.loc[d.days == 0, "days"] = 0.5  # lifelines cannot take 0; none in this data
    assert (d.days > 0).all()
    aft = WeibullAFTFitter().fit(dd, "days", "event")
    lam = aft.params_["lambda_"]
    sig_t = 1 / np.exp(aft.params_["rho_"]["Intercept"])
    rng = np.random.default_rng(21)
    R = 400
    sims = {}
    for t in (0, 1):
        for tp in (0, 1):
            mean_m = fm.params["Intercept"] + fm.params["arm"] * tp + fm.params["x"] * d.x
            m = mean_m.to_numpy()[None] + sd_m * rng.standard_normal((R, len(d)))
            eta = (lam["Intercept"] + lam["arm"] * t + lam["m"] * m
                   + lam["x"] * d.x.to_numpy()[None])
            sims[(t, tp)] = np.exp(eta + sig_t * np.log(rng.exponential(size=eta.shape))).ravel()
    tab = res.to_frame().set_index(["estimate_type", "effect"])["estimate"]
    pairs = {"acme_control": ((0, 1), (0, 0)), "acme_treated": ((1, 1), (1, 0)),
             "ade_control": ((1, 0), (0, 0)), "total": ((1, 1), (0, 0))}
    N = R * len(d)
    for name, (a, b) in pairs.items():
        ra, rb = (sims[a] <= 365).mean(), (sims[b] <= 365).mean()
        se = np.sqrt(ra * (1 - ra) / N + rb * (1 - rb) / N)
        assert abs(tab[("risk_difference", name)] - (ra - rb)) < 4 * se, name

        def med_se(x):
            m = np.median(x)
            h = 0.02 * m
            dens = ((x > m - h) & (x < m + h)).mean() / (2 * h)
            return 0.5 / np.sqrt(N) / dens

        ma, mb = np.median(sims[a]), np.median(sims[b])
        se_m = np.hypot(med_se(sims[a]), med_se(sims[b]))
        assert abs(tab[("median_difference", name)] - (ma - mb)) < 4 * se_m, name


def test_weibull_bootstrap_runs_and_reports_horizon():
    d = trial(n=200, seed=5, zeros=3)
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome_type="weibull",
                        time="days", event="event", covariates=["x", "site"], horizon=180,
                        n_boot=60, rng=np.random.default_rng(2))
    tab = res.to_frame()
    assert set(tab.estimate_type) == {"risk_difference", "median_difference", "rmst_difference"}
    assert (tab.horizon == 180).all()
    assert tab[["ci_low", "ci_high"]].notna().all().all()
    assert res.n_boot_failed["m"] == 0
    assert any("interval-censored" in a for a in res.assumptions)
    row = tab.set_index(["estimate_type", "effect"]).loc[("risk_difference", "total")]
    assert row.ci_low < row.estimate < row.ci_high
