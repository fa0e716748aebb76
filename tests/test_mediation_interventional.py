"""Interventional direct and indirect effects (outcomes.mediation.interventional).

No R package for them is installed here (R ``mediation`` and CMAverse are not in Debian),
so the checks are: the product-of-coefficients closed form of a linear outcome computed
from independent fits (statsmodels' least squares; scipy's BFGS on the penalised
likelihood of the ridge logistic confounder models) to 1e-7 (the optimisers' tolerance,
the same estimates otherwise); the data-generating truth at large n (to 4 bootstrap SEs); a brute-force Monte
Carlo g-computation from the fitted models for the logistic and Weibull outcomes (to 4
Monte Carlo SEs); and what must not change (the natural rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from outcomes.mediation import fit_mediation
from outcomes.mediation.interventional import SUFFIX, monte_carlo_po


def _expit(x):
    return 1 / (1 + np.exp(-x))


def _data(n, seed, *, engagement=False, outcome="linear", two=False):
    rng = np.random.default_rng(seed)
    a = rng.permutation(np.arange(n) % 2).astype(float)
    x = rng.normal(size=n)
    lin = (0.3 + 0.4 * x) if engagement else (-1.0 + 1.2 * a + 0.4 * x)
    L = (rng.random(n) < _expit(lin)).astype(float) * (a if engagement else 1.0)
    L2 = (rng.random(n) < _expit(-0.5 + 0.8 * a + 0.7 * L)).astype(float)
    m = 0.3 * a + 0.8 * L + 0.5 * x + rng.normal(size=n)
    m2 = 0.2 * a + 0.4 * L2 - 0.3 * x + rng.normal(size=n)
    eta = 0.25 * a + 0.5 * m + 0.8 * L + 0.3 * x + (0.3 * m2 - 0.5 * L2 if two else 0.0)
    d = pd.DataFrame({"a": a, "x": x, "L": L, "L2": L2, "m": m, "m2": m2})
    if outcome == "linear":
        d["y"] = eta + rng.normal(size=n)
    elif outcome == "logistic":
        d["y"] = (rng.random(n) < _expit(eta - 0.5)).astype(float)
    else:
        t = np.exp(5.0 - 0.4 * eta + 0.8 * np.log(rng.exponential(size=n)))
        d["days"] = np.minimum(t, 365.0)
        d["event"] = (t <= 365.0).astype(float)
    return d


def _rows(res, kind="interventional"):
    t = res.to_frame()
    iv = t["effect"].str.startswith("interventional")
    return t.loc[iv if kind == "interventional" else ~iv].set_index("effect")


def _single_set(d):
    """The engine's design of mediator m alone with covariate x (arm a), as a SetModel."""
    from outcomes.mediation.models import SetModel

    one = np.ones((len(d), 1))
    X, T, M = d[["x"]].to_numpy(), d["a"].to_numpy(), d[["m"]].to_numpy()
    return SetModel("m", "single", ("m",), ["x"], np.hstack([one, X]), np.hstack([one, T[:, None], X]),
                    np.hstack([one, T[:, None], M, X]), M, False, False, "a")


def _ridge_logit(d, y, xs):
    """Ridge logistic regression with the confounder models' penalty (CONFOUNDER_RIDGE / 2
    x squared coefficients of the columns standardised over the sample) by scipy's BFGS
    on the penalised log-likelihood, back on the original scale."""
    from scipy.optimize import minimize

    from outcomes.mediation.interventional import CONFOUNDER_RIDGE

    X = d[xs].to_numpy(float)
    mu, sd = X.mean(axis=0), X.std(axis=0)
    Z = sm.add_constant((X - mu) / sd)
    v = d[y].to_numpy(float)

    def loss(g):
        eta = Z @ g
        pen = 0.5 * CONFOUNDER_RIDGE * np.r_[0.0, g[1:]]
        return (-(v * eta - np.logaddexp(0, eta)).sum() + (pen * g).sum(),
                -Z.T @ (v - _expit(eta)) + 2 * pen)

    g = minimize(loss, np.zeros(Z.shape[1]), jac=True, method="BFGS", options={"gtol": 1e-10}).x
    b = g[1:] / sd
    return pd.Series(np.r_[g[0] - (b * mu).sum(), b], index=["const", *xs])


def test_linear_closed_form_matches_independent_fits():
    """IIE = sum_j b_j (a_j + sum_k a_jk dp_k) and IDE = b_T + sum_k c_k dp_k for a linear
    outcome without interaction (dp_k = mean_i [P(L_k = 1 | 1, x_i) - P(L_k = 1 | 0, x_i)]
    from the L model), with statsmodels' least squares and scipy's ridge logistic fits;
    two mediators and two confounders, the second confounder's model containing the first
    (sequential)."""
    d = _data(800, 1, two=True)
    res = fit_mediation(d, exposure="a", mediators=["m", "m2"], outcome="y",
                        outcome_type="linear", covariates=["x"], n_boot=20, singles=False,
                        rng=np.random.default_rng(2), exposure_induced_confounders=["L", "L2"])
    g1 = _ridge_logit(d, "L", ["a", "x"])
    g2 = _ridge_logit(d, "L2", ["a", "L", "x"])

    def p1(t):
        return _expit(g1["const"] + g1["a"] * t + g1["x"] * d["x"])

    def p2(t):  # P(L2 = 1 | t) = sum_l P(L2 = 1 | t, L = l) P(L = l | t)
        q = [_expit(g2["const"] + g2["a"] * t + g2["L"] * v + g2["x"] * d["x"]) for v in (0, 1)]
        return q[0] * (1 - p1(t)) + q[1] * p1(t)

    dp = np.array([(p1(1) - p1(0)).mean(), (p2(1) - p2(0)).mean()])
    XM = sm.add_constant(d[["a", "L", "L2", "x"]])
    am = [sm.OLS(d[m], XM).fit().params for m in ("m", "m2")]
    b = sm.OLS(d["y"], sm.add_constant(d[["a", "m", "m2", "x", "L", "L2"]])).fit().params
    iie = sum(b[m] * (p["a"] + p["L"] * dp[0] + p["L2"] * dp[1]) for m, p in zip(("m", "m2"), am, strict=True))
    ide = b["a"] + b["L"] * dp[0] + b["L2"] * dp[1]
    r = _rows(res)
    assert r.at["interventional_indirect", "estimate"] == pytest.approx(iie, abs=1e-7)
    assert r.at["interventional_direct", "estimate"] == pytest.approx(ide, abs=1e-7)
    assert r.at["interventional_overall", "estimate"] == pytest.approx(iie + ide, abs=1e-7)
    assert set(r["estimate_type"]) == {"mean_difference"}
    assert (r["mediator"] == "m+m2").all()


def test_engagement_like_confounder_and_truth_at_large_n():
    """L only possible under treatment (nobody engages in usual care): modelled in the
    treated arm, 0 in control. At n = 20,000 the estimates are within 4 bootstrap SEs of
    the DGP's closed form: IIE = 0.5 (0.3 + 0.8 dp), IDE = 0.25 + 0.8 dp,
    dp = E[expit(0.3 + 0.4 x)] (by 1-d quadrature)."""
    d = _data(20_000, 3, engagement=True)
    res = fit_mediation(d, exposure="a", mediators=["m"], outcome="y", outcome_type="linear",
                        covariates=["x"], n_boot=60, rng=np.random.default_rng(4),
                        exposure_induced_confounders=["L"])
    z, w = np.polynomial.hermite_e.hermegauss(80)
    dp = float((w / w.sum()) @ _expit(0.3 + 0.4 * z))
    truth = {"interventional_indirect": 0.5 * (0.3 + 0.8 * dp),
             "interventional_direct": 0.25 + 0.8 * dp}
    r = _rows(res)
    for eff, v in truth.items():
        assert abs(r.at[eff, "estimate"] - v) < 4 * r.at[eff, "std_error"], eff
        assert r.at[eff, "ci_low"] < r.at[eff, "estimate"] < r.at[eff, "ci_high"]
    assert (r["status"] == "estimated").all()
    assert any("arm 1 only" in v for v in res.models["m"].values())


@pytest.mark.parametrize("outcome", ["logistic", "weibull"])
def test_quadrature_matches_brute_force_monte_carlo(outcome):
    """The exact sum over L and Gauss-Hermite integral over M equals a brute-force Monte
    Carlo g-computation (draw L, an independent L', the mediators given L', the outcome
    mean) from the same fitted models, to 4 Monte Carlo SEs (SE from 4 independent runs)."""
    from outcomes.mediation.engine import K_REF
    from outcomes.mediation.interventional import InterventionalAnalysis

    d = _data(600, 5, outcome=outcome)
    kw = (dict(outcome="y") if outcome == "logistic" else dict(time="days", event="event"))
    res = fit_mediation(d, exposure="a", mediators=["m"], outcome_type=outcome,
                        covariates=["x"], n_boot=0, rng=np.random.default_rng(6),
                        exposure_induced_confounders=["L"], **kw)
    T = d["a"].to_numpy()
    s = _single_set(d)
    y = d["y"].to_numpy() if outcome == "logistic" else None
    tm = d["days"].to_numpy() if outcome == "weibull" else None
    ev = d["event"].to_numpy() if outcome == "weibull" else None
    ivs = InterventionalAnalysis([s], d[["L"]].to_numpy(), ["L"], T, outcome, y, tm, ev, 365.0)
    ivs.point(K_REF)
    exact = ivs.point_eff[("m" + SUFFIX, "risk_difference")]
    r = _rows(res)
    assert r["estimate"].to_numpy() == pytest.approx(exact, abs=1e-12)
    mc = []
    for k in range(4):
        po = monte_carlo_po(ivs.models["m"], ivs.params["m"], np.random.default_rng([7, k]),
                            draws=250)["risk_difference"][0]
        mc.append([po[0] - po[1], po[1] - po[2], po[0] - po[2]])
    mc = np.array(mc)
    se = mc.std(axis=0, ddof=1) / 2
    assert np.all(np.abs(mc.mean(axis=0) - exact) < 4 * se)


def test_natural_rows_unchanged_and_reproducible():
    d = _data(300, 8, outcome="logistic")
    kw = dict(exposure="a", mediators=["m"], outcome="y", outcome_type="logistic",
              covariates=["x"], n_boot=100)
    plain = fit_mediation(d, rng=np.random.default_rng(9), **kw).to_frame()
    with_iv = fit_mediation(d, rng=np.random.default_rng(9), exposure_induced_confounders=["L"],
                            **kw)
    again = fit_mediation(d, rng=np.random.default_rng(9), exposure_induced_confounders=["L"],
                          **kw)
    pd.testing.assert_frame_equal(with_iv.to_frame().iloc[: len(plain)], plain)
    pd.testing.assert_frame_equal(with_iv.to_frame(), again.to_frame())
    r = _rows(with_iv)
    assert len(r) == 3 and (r["n_boot"] == 100).all()
    assert r["std_error"].gt(0).all() and r["p_value"].between(0, 1).all()
    assert ("m" + SUFFIX, "risk_difference") in with_iv.replicates


def test_confounder_that_is_a_function_of_the_arm_is_not_estimable():
    """L = arm cannot be told apart from the exposure: the interventional rows say why;
    the natural rows are estimated as before."""
    d = _data(200, 10).assign(L=lambda f: f["a"])
    res = fit_mediation(d, exposure="a", mediators=["m"], outcome="y", outcome_type="linear",
                        covariates=["x"], n_boot=50, rng=np.random.default_rng(11),
                        exposure_induced_confounders=["L"])
    r = _rows(res)
    assert (r["status"] == "not estimable").all() and r["estimate"].isna().all()
    assert "function of the arm" in r["reason"].iloc[0]
    assert (_rows(res, "natural")["status"] == "estimated").all()
    assert any("not estimable" in note for note in res.notes)


def test_pooled_over_imputations():
    """MI Boot pooled (outcomes.mediation.mi) pools the interventional rows too: the point
    estimate is the mean of the imputations' estimates."""
    from outcomes.mediation.mi import fit_mediation_mi

    base = _data(300, 12)
    completed = [base.assign(m=base["m"] + 0.1 * k) for k in range(2)]
    kw = dict(exposure="a", mediators=["m"], outcome="y", outcome_type="linear",
              covariates=["x"], exposure_induced_confounders=["L"])
    pooled = fit_mediation_mi(completed, seed=np.random.SeedSequence(13), n_boot=40, **kw)
    each = [_rows(fit_mediation(c, n_boot=0, rng=np.random.default_rng(0), **kw)) for c in completed]
    r = pooled.to_frame().set_index("effect").loc[list(each[0].index)]
    want = (each[0]["estimate"] + each[1]["estimate"]) / 2
    assert r["estimate"].to_numpy() == pytest.approx(want.to_numpy(), abs=1e-12)
    assert (r["status"] == "estimated").all() and (r["m"] == 2).all()
    assert r["fmi"].notna().all()


def test_binary_mediator_has_not_estimable_interventional_rows():
    """A binary mediator (logistic mediator model, outcomes.mediation.binary_mediator) is
    not covered by the normal-mediator integration: its interventional rows say so."""
    d = _data(300, 14).assign(m=lambda f: (f["m"] > 0.5).astype(float))
    res = fit_mediation(d, exposure="a", mediators=["m"], outcome="y", outcome_type="linear",
                        covariates=["x"], n_boot=30, rng=np.random.default_rng(15),
                        exposure_induced_confounders=["L"])
    r = _rows(res)
    assert len(r) == 3 and (r["status"] == "not estimable").all()
    assert "binary mediator" in r["reason"].iloc[0]
    assert (_rows(res, "natural")["status"] == "estimated").all()


def test_confounder_constant_in_the_sample_is_left_out():
    """A confounder with one value for everyone analysed (early readmission in a landmark
    sample) confounds nothing: it is left out, said so, and with no other confounder the
    interventional effects of a linear outcome without interaction are the natural ones."""
    d = _data(300, 16).assign(L0=0.0)
    res = fit_mediation(d, exposure="a", mediators=["m"], outcome="y", outcome_type="linear",
                        covariates=["x"], n_boot=40, rng=np.random.default_rng(17),
                        exposure_induced_confounders=["L0"])
    iv, nat = _rows(res), _rows(res, "natural")
    assert (iv["status"] == "estimated").all()
    assert iv.at["interventional_indirect", "estimate"] == pytest.approx(
        nat.at["acme_average", "estimate"], abs=1e-10)
    assert iv.at["interventional_direct", "estimate"] == pytest.approx(
        nat.at["ade_average", "estimate"], abs=1e-10)
    assert "L0: the same value" in res.models["m"]["interventional: not used"]


def test_outcome_weights_reach_the_outcome_model_only():
    """outcome_weights (the hook for censoring weights) weight the outcome model's fit;
    the confounder and mediator models and the standardisation keep the resample counts:
    with 0/1 weights the linear closed form uses the outcome model of the weighted rows."""
    from outcomes.mediation.engine import K_REF
    from outcomes.mediation.interventional import InterventionalAnalysis

    d = _data(500, 18)
    keep = (np.arange(len(d)) % 3 != 0).astype(float)
    T = d["a"].to_numpy()
    s = _single_set(d)
    ivs = InterventionalAnalysis([s], d[["L"]].to_numpy(), ["L"], T, "linear",
                                 d["y"].to_numpy(), None, None, 365.0,
                                 outcome_weights=lambda W: W * keep)
    ivs.point(K_REF)
    iie = ivs.point_eff[("m" + SUFFIX, "mean_difference")][0]
    g = _ridge_logit(d, "L", ["a", "x"])
    p = [_expit(g["const"] + g["a"] * t + g["x"] * d["x"]) for t in (0, 1)]
    dp = float((p[1] - p[0]).mean())
    a = sm.OLS(d["m"], sm.add_constant(d[["a", "L", "x"]])).fit().params
    b = sm.WLS(d["y"], sm.add_constant(d[["a", "m", "x", "L"]]), weights=keep).fit().params
    assert iie == pytest.approx(b["m"] * (a["a"] + a["L"] * dp), abs=1e-7)


def test_ridge_outcome_models_match_scipy():
    """The interventional outcome models' weak ridge penalty (OUTCOME_RIDGE on the log odds
    or hazard ratio per SD of each regressor): the logistic fit equals scipy's BFGS on the
    penalised likelihood, the Weibull AFT fit equals scipy's BFGS on its own penalised
    log-likelihood written from the density (to 1e-5: the optimisers' tolerance)."""
    from scipy.optimize import minimize

    from outcomes.mediation.engine import K_REF
    from outcomes.mediation.fitting import fit_weibull
    from outcomes.mediation.interventional import (
        CONFOUNDER_RIDGE,
        OUTCOME_RIDGE,
        InterventionalAnalysis,
    )

    assert OUTCOME_RIDGE == CONFOUNDER_RIDGE  # so _ridge_logit's penalty is the outcome model's
    d = _data(500, 21, engagement=True, outcome="logistic")
    T = d["a"].to_numpy()
    s = _single_set(d)
    ivs = InterventionalAnalysis([s], d[["L"]].to_numpy(), ["L"], T, "logistic",
                                 d["y"].to_numpy(), None, None, 365.0)
    ivs.point(K_REF)
    ref = _ridge_logit(d, "y", ["a", "m", "x", "L"])
    np.testing.assert_allclose(ivs.params["m"]["outcome"][0], ref.to_numpy(), atol=1e-5)

    w = _data(600, 22, outcome="weibull")
    Xw = np.column_stack([np.ones(len(w)), w[["a", "m", "x", "L"]].to_numpy()])
    t, e = w["days"].to_numpy(), w["event"].to_numpy()
    fit = fit_weibull(Xw, t, e, np.ones((1, len(w))), ridge=OUTCOME_RIDGE)
    mu, sd = Xw[:, 1:].mean(axis=0), Xw[:, 1:].std(axis=0)
    Z = np.column_stack([np.ones(len(w)), (Xw[:, 1:] - mu) / sd])

    def loss(th):  # th = (beta on Z, log sigma); log T = Z beta + sigma W, W ~ Gumbel(min)
        b, sig = th[:-1], np.exp(th[-1])
        z = (np.log(t) - Z @ b) / sig
        ll = np.where(e == 1, -np.log(sig) + z - np.exp(z), -np.exp(z)).sum()
        return -ll + 0.5 * OUTCOME_RIDGE * ((b[1:] / sig) ** 2).sum()

    th = minimize(loss, np.r_[np.log(t).mean(), np.zeros(Z.shape[1] - 1), 0.0], method="BFGS",
                  options={"gtol": 1e-9}).x
    b = th[:-1] / np.r_[1.0, sd]
    b[0] = th[0] - (b[1:] * mu).sum()
    assert fit.converged[0]
    np.testing.assert_allclose(fit.coef[0], b, atol=1e-5)
    assert fit.sigma[0] == pytest.approx(np.exp(th[-1]), abs=1e-5)
    # without the penalty the same data give the unpenalised fit (the engine's natural model)
    assert not np.allclose(fit_weibull(Xw, t, e, np.ones((1, len(w)))).coef[0], fit.coef[0],
                           atol=1e-6)


@pytest.mark.parametrize("outcome", ["logistic", "weibull"])
def test_treated_non_engagers_without_events_are_estimable(outcome):
    """Engagement-like L (0 for everyone in usual care): with the L term in the outcome
    model the arm's coefficient is the contrast of the treated who did not engage. When
    that cell has no event (quasi-complete separation, as in a share of the resamples of
    a small trial, decisions L63), the unpenalised fit diverges (logistic) or runs off to
    an arm coefficient of e^30 on the time scale (Weibull: monotone likelihood); the
    ridge-penalised outcome model gives finite effects inside their CIs (decisions L67)."""
    from outcomes.mediation.fitting import fit_logistic, fit_weibull

    d = _data(400, 23, engagement=True, outcome=outcome)
    cell = (d["a"] == 1) & (d["L"] == 0)
    if outcome == "logistic":
        d.loc[cell, "y"] = 0.0
        kw = dict(outcome="y")
    else:
        d.loc[cell, "event"] = 0.0
        d.loc[cell, "days"] = 365.0
        kw = dict(time="days", event="event", horizon=365.0)
    X = np.column_stack([np.ones(len(d)), d[["a", "m", "x", "L"]].to_numpy()])
    W = np.ones((1, len(d)))
    plain = (fit_logistic(X, d["y"].to_numpy(), W) if outcome == "logistic"
             else fit_weibull(X, d["days"].to_numpy(), d["event"].to_numpy(), W))
    assert not plain.converged[0] or abs(plain.coef[0, 1]) > 20
    res = fit_mediation(d, exposure="a", mediators=["m"], outcome_type=outcome, covariates=["x"],
                        n_boot=100, rng=np.random.default_rng(24),
                        exposure_induced_confounders=["L"], **kw)
    r = _rows(res)
    assert (r["status"] == "estimated").all(), r["reason"].tolist()
    assert (r["ci_low"] <= r["estimate"]).all() and (r["estimate"] <= r["ci_high"]).all()
