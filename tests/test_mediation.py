"""Mediation effects against independent references (statsmodels fits, closed forms).

Tolerances: 1e-10 where both sides are exact least-squares algebra in double precision
(they differ only by rounding: statsmodels solves by pinv/QR, the engine by normal equations
on standardised columns); Monte Carlo comparisons use 4 Monte Carlo standard errors.
"""

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.stats.mediation import Mediation

from outcomes.mediation import (
    RESULT_COLUMNS,
    MediationDataError,
    fit_mediation,
)


def trial(n=500, seed=1, *, interaction=0.0, binary=False):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({
        "arm": rng.permutation(np.arange(n) % 2),
        "age": rng.normal(40, 12, n),
        "base": rng.normal(0, 1, n),
        "site": rng.choice(["north", "south", "east", "west"], n),
    })
    s = d["site"].map({"north": 0.0, "south": 0.3, "east": -0.2, "west": 0.1})
    d["m1"] = 0.5 * d.arm + 0.4 * d.base + s + rng.normal(size=n)
    d["m2"] = 0.3 * d.arm + 0.3 * d.m1 + rng.normal(size=n)
    d["m3"] = -0.2 * d.arm + 0.2 * d.base + rng.normal(size=n)
    lin = 0.3 * d.arm + 0.5 * d.m1 + 0.2 * d.m2 - 0.3 * d.m3 + interaction * d.arm * d.m1
    lin = lin + 0.02 * (d.age - 40) + 0.3 * d.base + s
    d["y"] = lin + rng.normal(size=n)
    d["yb"] = (rng.random(n) < 1 / (1 + np.exp(-(lin - 0.5)))).astype(int)
    return d


COVS = ["age", "base", "site"]
FORMULA_COVS = "age + base + C(site)"


def frame(res):
    tab = res.to_frame().set_index(["mediator", "estimate_type", "effect"])
    return tab["estimate"].sort_index()


def test_linear_no_interaction_is_product_of_coefficients():
    d = trial()
    res = fit_mediation(d, exposure="arm", mediators=["m1"], outcome="y", outcome_type="linear",
                        covariates=COVS, n_boot=0, rng=np.random.default_rng(0))
    a = smf.ols(f"m1 ~ arm + {FORMULA_COVS}", d).fit().params["arm"]
    fit_y = smf.ols(f"y ~ arm + m1 + {FORMULA_COVS}", d).fit()
    b, c = fit_y.params["m1"], fit_y.params["arm"]
    total = smf.ols(f"y ~ arm + {FORMULA_COVS}", d).fit().params["arm"]
    e = frame(res).loc[("m1", "mean_difference")]
    for name in ("acme_control", "acme_treated", "acme_average"):
        assert e[name] == pytest.approx(a * b, abs=1e-10)
    for name in ("ade_control", "ade_treated", "ade_average"):
        assert e[name] == pytest.approx(c, abs=1e-10)
    # total = c' + ab = the arm coefficient without the mediator (OLS algebra)
    assert e["total"] == pytest.approx(total, abs=1e-10)
    assert e["prop_mediated"] == pytest.approx(a * b / total, abs=1e-10)


def test_linear_with_interaction_matches_vanderweele_closed_forms():
    """VanderWeele & Vansteelandt (2009), VanderWeele (2015) eqs for continuous M and Y with
    an exposure-mediator product: with M = b0 + b1 a + b2'c and Y = t0 + t1 a + t2 m + t3 a m
    + t4'c, for a = 1 vs a* = 0 at covariates c = sample means:
    NDE (pure, mediator at control) = t1 + t3 (b0 + b2'c),  NIE (total) = (t2 + t3) b1,
    and the other decomposition: NIE (pure) = t2 b1, NDE (total) = t1 + t3 (b0 + b1 + b2'c).
    """
    d = trial(interaction=0.4)
    res = fit_mediation(d, exposure="arm", mediators=["m1"], outcome="y", outcome_type="linear",
                        covariates=COVS, interaction=True, n_boot=0,
                        rng=np.random.default_rng(0))
    fm = smf.ols(f"m1 ~ arm + {FORMULA_COVS}", d).fit()
    fy = smf.ols(f"y ~ arm + m1 + arm:m1 + {FORMULA_COVS}", d).fit()
    exog_mean = pd.DataFrame(fm.model.exog, columns=fm.model.exog_names).mean()
    exog_mean["arm"] = 0.0
    m_at_control = float(fm.params @ exog_mean)  # b0 + b2'c at the covariate means
    b1 = fm.params["arm"]
    t1, t2, t3 = fy.params["arm"], fy.params["m1"], fy.params["arm:m1"]
    e = frame(res).loc[("m1", "mean_difference")]
    assert e["ade_control"] == pytest.approx(t1 + t3 * m_at_control, abs=1e-10)
    assert e["acme_treated"] == pytest.approx((t2 + t3) * b1, abs=1e-10)
    assert e["acme_control"] == pytest.approx(t2 * b1, abs=1e-10)
    assert e["ade_treated"] == pytest.approx(t1 + t3 * (m_at_control + b1), abs=1e-10)
    assert e["total"] == pytest.approx(e["ade_control"] + e["acme_treated"], abs=1e-12)


def test_joint_linear_effect_is_sum_of_products_and_singles_match_separate_fits():
    d = trial()
    meds = ["m1", "m2", "m3"]
    res = fit_mediation(d, exposure="arm", mediators=meds, outcome="y", outcome_type="linear",
                        covariates=COVS, n_boot=0, rng=np.random.default_rng(0))
    fy = smf.ols(f"y ~ arm + m1 + m2 + m3 + {FORMULA_COVS}", d).fit()
    joint = sum(smf.ols(f"{m} ~ arm + {FORMULA_COVS}", d).fit().params["arm"] * fy.params[m]
                for m in meds)
    e = frame(res)
    assert e[("m1+m2+m3", "mean_difference", "acme_average")] == pytest.approx(joint, abs=1e-10)
    assert e[("m1+m2+m3", "mean_difference", "ade_average")] == pytest.approx(
        fy.params["arm"], abs=1e-10)
    alone = fit_mediation(d, exposure="arm", mediators=["m2"], outcome="y",
                          outcome_type="linear", covariates=COVS, n_boot=0,
                          rng=np.random.default_rng(0))
    np.testing.assert_allclose(e.loc["m2"].to_numpy(), frame(alone).loc["m2"].to_numpy(),
                               rtol=0, atol=1e-12)
    assert set(res.to_frame()["mediator_set"]) == {"single", "joint"}


def test_mediator_specific_covariates_enter_their_models_and_the_outcome_model():
    d = trial()
    res = fit_mediation(d, exposure="arm", mediators=["m1", "m3"], outcome="y",
                        outcome_type="linear", covariates=["site"],
                        mediator_covariates={"m1": ["base"], "m3": ["age"]}, n_boot=0,
                        rng=np.random.default_rng(0))
    a = smf.ols("m1 ~ arm + C(site) + base", d).fit().params["arm"]
    b = smf.ols("y ~ arm + m1 + C(site) + base", d).fit().params["m1"]
    assert frame(res)[("m1", "mean_difference", "acme_average")] == pytest.approx(a * b, abs=1e-10)
    fy = smf.ols("y ~ arm + m1 + m3 + C(site) + base + age", d).fit()
    joint = sum(smf.ols(f"{m} ~ arm + C(site) + base + age", d).fit().params["arm"] * fy.params[m]
                for m in ("m1", "m3"))
    assert frame(res)[("m1+m3", "mean_difference", "acme_average")] == pytest.approx(
        joint, abs=1e-10)
    assert "base" in res.models["m1"]["outcome model"]


def test_string_categories_equal_manual_dummies():
    d = trial()
    dummies = pd.get_dummies(d["site"], prefix="s", drop_first=True, dtype=float)
    d2 = pd.concat([d, dummies], axis=1)
    kw = dict(exposure="arm", mediators=["m1"], outcome="yb", outcome_type="logistic",
              n_boot=0, rng=np.random.default_rng(0))
    r1 = fit_mediation(d, covariates=["age", "site"], **kw)
    r2 = fit_mediation(d2, covariates=["age", *dummies.columns], **kw)
    np.testing.assert_allclose(frame(r1).to_numpy(), frame(r2).to_numpy(), rtol=0, atol=1e-9)
    assert r1.categorical_levels["site"][0] == "east"  # sorted, reference first


def _statsmodels_parametric(d, n_rep, seed):
    """statsmodels Mediation (array API), quasi-Bayesian simulation of parameters."""
    X = pd.get_dummies(d[["age", "base", "site"]], columns=["site"], drop_first=True,
                       dtype=float).to_numpy(float)
    one = np.ones((len(d), 1))
    xm = np.hstack([one, d[["arm"]].to_numpy(float), X])
    xo = np.hstack([one, d[["arm", "m1"]].to_numpy(float), X])
    om = sm.GLM(d["yb"].to_numpy(float), xo, family=sm.families.Binomial())
    mm = sm.OLS(d["m1"].to_numpy(float), xm)
    return Mediation(om, mm, (1, 1), 2).fit(method="parametric", n_rep=n_rep,
                                            rng=np.random.default_rng(seed))


def test_logistic_outcome_matches_statsmodels_parametric_within_monte_carlo_error():
    """statsmodels averages effects over simulated parameters and simulated mediators; its
    mean estimates our (quadrature, full-sample) effects up to Monte Carlo error
    (SE = SD of its draws / sqrt(n_rep)) and an O(1/n) parameter-averaging bias that is
    far below that at n = 1500. Tolerance 4 SE."""
    d = trial(n=1500, seed=7)
    res = fit_mediation(d, exposure="arm", mediators=["m1"], outcome="yb",
                        outcome_type="logistic", covariates=COVS, n_boot=0,
                        rng=np.random.default_rng(0))
    smr = _statsmodels_parametric(d, n_rep=1500, seed=11)
    e = frame(res).loc[("m1", "risk_difference")]
    pairs = {"acme_control": smr.ACME_ctrl, "acme_treated": smr.ACME_tx,
             "ade_control": smr.ADE_ctrl, "ade_treated": smr.ADE_tx,
             "total": smr.total_effect}
    for name, draws in pairs.items():
        se = draws.std(ddof=1) / np.sqrt(draws.size)
        assert abs(e[name] - draws.mean()) < 4 * se, (name, e[name], draws.mean(), se)
    assert e["acme_treated"] != e["acme_control"]  # nonlinear: the two ACMEs differ


def test_logistic_joint_effect_matches_brute_force_multivariate_simulation():
    """Joint ACME through 2 correlated mediators: our 1-D quadrature (exact reduction)
    against direct simulation of the mediator vector from N(mean, Sigma) with the models
    refitted by statsmodels. 2000 draws per participant; tolerance 4 MC SE."""
    d = trial(n=400, seed=3)
    meds = ["m1", "m2"]
    res = fit_mediation(d, exposure="arm", mediators=meds, outcome="yb",
                        outcome_type="logistic", covariates=COVS, n_boot=0,
                        rng=np.random.default_rng(0))
    fits = [smf.ols(f"{m} ~ arm + {FORMULA_COVS}", d).fit() for m in meds]
    resid = np.column_stack([f.resid for f in fits])
    sigma = resid.T @ resid / fits[0].df_resid
    fy = smf.glm(f"yb ~ arm + m1 + m2 + {FORMULA_COVS}", d,
                 family=sm.families.Binomial()).fit()
    rng = np.random.default_rng(5)
    R = 2000
    z = rng.multivariate_normal(np.zeros(2), sigma, size=(R, len(d)))  # common draws
    names = fy.model.exog_names
    bm = fy.params[["m1", "m2"]].to_numpy()

    def po(t, tp):
        mean = np.column_stack([f.predict(d.assign(arm=tp)) for f in fits])
        m = mean[None] + z  # (R, n, 2) mediator draws under t'
        exog = pd.DataFrame(fy.model.exog, columns=names).assign(arm=t, m1=0.0, m2=0.0)
        base = exog.to_numpy() @ fy.params.to_numpy()  # linear predictor without mediators
        lin = base[None] + m @ bm
        return (1 / (1 + np.exp(-lin))).mean(axis=1)  # one sample-average per draw

    p = {(t, tp): po(t, tp) for t in (0, 1) for tp in (0, 1)}
    e = frame(res).loc[("m1+m2", "risk_difference")]
    for name, (a, b) in {"acme_control": ((0, 1), (0, 0)), "acme_treated": ((1, 1), (1, 0)),
                         "ade_control": ((1, 0), (0, 0)), "total": ((1, 1), (0, 0))}.items():
        diff = p[a] - p[b]
        se = diff.std(ddof=1) / np.sqrt(R)
        assert abs(e[name] - diff.mean()) < 4 * se + 1e-12, (name, e[name], diff.mean(), se)


def test_odds_ratio_scale_is_consistent_with_risks():
    d = trial()
    res = fit_mediation(d, exposure="arm", mediators=["m1"], outcome="yb",
                        outcome_type="logistic", covariates=COVS, odds_ratio=True, n_boot=50,
                        rng=np.random.default_rng(0))
    e = frame(res)
    mu = res.potential_outcomes[("m1", "risk_difference")]

    def odds(p):
        return p / (1 - p)

    assert e[("m1", "odds_ratio", "acme_treated")] == pytest.approx(
        odds(mu[1, 1]) / odds(mu[1, 0]), rel=1e-12)
    assert e[("m1", "odds_ratio", "total")] == pytest.approx(
        e[("m1", "odds_ratio", "acme_treated")] * e[("m1", "odds_ratio", "ade_control")],
        rel=1e-12)
    assert e[("m1", "risk_difference", "total")] == pytest.approx(mu[1, 1] - mu[0, 0], abs=1e-15)
    tab = res.to_frame()
    assert not ((tab.estimate_type == "odds_ratio") & (tab.effect == "prop_mediated")).any()


def test_result_table_has_the_design_columns_and_the_report_is_json():
    d = trial()
    res = fit_mediation(d, exposure="arm", mediators=["m1", "m2"], outcome="y",
                        outcome_type="linear", covariates=COVS, n_boot=20,
                        rng=np.random.default_rng(42))
    tab = res.to_frame()
    assert list(tab.columns[: len(RESULT_COLUMNS)]) == RESULT_COLUMNS
    assert len(tab) == 3 * 8  # m1, m2, m1+m2 x 8 effects
    assert (tab["n"] == len(d)).all() and (tab["seed"] == 42).all()
    assert (tab["n_boot"] == 20).all()
    assert tab[["estimate", "ci_low", "ci_high", "p_value"]].notna().all().all()
    rep = json.loads(json.dumps(res.report(), default=str))
    for key in ("assumptions", "models", "covariates", "interaction", "sensitivity",
                "software", "inference", "missing"):
        assert key in rep
    assert rep["inference"]["seed"] == 42 and rep["inference"]["n_boot"] == 20
    assert any("Sequential ignorability" in a for a in rep["assumptions"])
    assert any("exposure-induced" in a for a in rep["assumptions"])
    assert "numpy" in rep["software"]


def test_input_errors_name_the_problem():
    d = trial(n=100)
    kw = dict(exposure="arm", mediators=["m1"], outcome="y", outcome_type="linear")
    with pytest.raises(TypeError, match="Generator"):
        fit_mediation(d, rng=0, **kw)
    with pytest.raises(MediationDataError, match="0/1"):
        fit_mediation(d.assign(arm=d.arm + 1), rng=np.random.default_rng(0), **kw)
    with pytest.raises(MediationDataError, match="not in the data"):
        fit_mediation(d, rng=np.random.default_rng(0), covariates=["nope"], **kw)
    with pytest.raises(MediationDataError, match="time= and event="):
        fit_mediation(d, exposure="arm", mediators=["m1"], outcome_type="weibull",
                      rng=np.random.default_rng(0))
    with pytest.raises(MediationDataError, match="two roles"):
        fit_mediation(d, rng=np.random.default_rng(0), covariates=["m1"], **kw)
