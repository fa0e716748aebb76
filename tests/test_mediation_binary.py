"""Binary mediators (logistic mediator model, two-point sum): against closed forms,
statsmodels fits and ``Mediation``, brute-force simulation of potential outcomes, and a
known truth where the normal mediator model misses.

Tolerances: 1e-8 where both sides are the same algebra on maximum-likelihood fits (the
engine's Newton stops at an error ~1e-10, statsmodels' IRLS is run to 1e-12); Monte Carlo
comparisons use 4 Monte Carlo standard errors (a false alarm about 1 in 16,000 per
comparison).
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.stats.mediation import Mediation

from outcomes.errors import NotEstimable
from outcomes.mediation import MediationDataError, bootstrap_counts, fit_mediation


def expit(z):
    return 1 / (1 + np.exp(-z))


#: Mediator model (intercept, arm, x) and logistic outcome model (intercept, arm, m, x) of
#: the truth case: a strong yes/no process measure, P(M = 1) from 0.18 to 0.73.
ALPHA = (-1.5, 2.5, 1.0)
BETA = (-2.5, 0.3, 2.5, 1.0)


def binary_trial(n, seed, *, alpha=ALPHA, beta=BETA, tm=0.0, site_effect=True):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"arm": rng.permutation(np.arange(n) % 2), "x": rng.normal(size=n),
                      "site": rng.choice(["a", "b", "c"], n)})
    s = d["site"].map({"a": 0.0, "b": 0.3, "c": -0.3}) * site_effect
    d["m"] = (rng.random(n) < expit(alpha[0] + alpha[1] * d.arm + alpha[2] * d.x + s)).astype(int)
    lin = beta[0] + beta[1] * d.arm + beta[2] * d.m + tm * d.arm * d.m + beta[3] * d.x - s
    d["y"] = lin + rng.normal(size=n)
    d["yb"] = (rng.random(n) < expit(lin)).astype(int)
    # Weibull AFT, sigma 0.8: log T = 5 + lin / 2 + 0.8 W; administrative censoring at 400
    w = np.log(rng.exponential(size=n))  # standard minimum extreme value
    tt = np.exp(5.0 + 0.5 * (lin - beta[0]) + 0.8 * w)
    d["time"] = np.minimum(tt, 400.0)
    d["event"] = (tt <= 400.0).astype(int)
    return d


def truth_logistic(alpha=ALPHA, beta=BETA):
    """Population potential-outcome means mu[t, t'] of the binary_trial without site:
    E_x sum_m P(M = m | t', x) expit(eta(t, m, x)), x ~ N(0, 1) by 80-node Gauss-Hermite
    (exact to 1e-15 for these smooth integrands)."""
    z, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    mu = np.empty((2, 2))
    for t in (0, 1):
        for tp in (0, 1):
            p = expit(alpha[0] + alpha[1] * tp + alpha[2] * z)
            e0 = expit(beta[0] + beta[1] * t + beta[3] * z)
            e1 = expit(beta[0] + beta[1] * t + beta[2] + beta[3] * z)
            mu[t, tp] = w @ ((1 - p) * e0 + p * e1)
    return mu


KW = dict(exposure="arm", mediators=["m"], covariates=["x", "site"])


def effects(res, et):
    tab = res.to_frame().set_index(["estimate_type", "effect"])
    return tab.loc[et]


def statsmodels_fits(d, outcome, interaction=False):
    med = smf.glm("m ~ arm + x + C(site)", d, family=sm.families.Binomial()).fit(tol=1e-12)
    inter = " + arm:m" if interaction else ""
    if outcome == "y":
        out = smf.ols(f"y ~ arm + m{inter} + x + C(site)", d).fit()
    else:
        out = smf.glm(f"yb ~ arm + m{inter} + x + C(site)", d,
                      family=sm.families.Binomial()).fit(tol=1e-12)
    return med, out


def two_point_sum(d, med, out):
    """mu[t, t'] = mean_i sum_m P(M = m | t', x_i) E[Y | t, m, x_i] from statsmodels fits."""
    mu = np.empty((2, 2))
    for t in (0, 1):
        for tp in (0, 1):
            p = med.predict(d.assign(arm=tp)).to_numpy()
            e0, e1 = (out.predict(d.assign(arm=t, m=m)).to_numpy() for m in (0, 1))
            mu[t, tp] = ((1 - p) * e0 + p * e1).mean()
    return mu


def mediator_coef(med):
    """statsmodels' mediator coefficients in the engine's order (Intercept, arm, x, site)."""
    return med.params[["Intercept", "arm", "x", "C(site)[T.b]", "C(site)[T.c]"]].to_numpy()


def test_logistic_outcome_hits_the_truth_the_normal_mediator_model_misses():
    """The issue's case: a 0/1 mediator and a logistic outcome. Declared continuous (the old
    behaviour, a normal linear mediator model) the ACME is biased (0.17 vs 0.20 here, the
    truth outside the 95% CI); the logistic mediator model's CI covers the truth and its
    estimate is within 2 bootstrap SEs of it."""
    mu = truth_logistic()
    acme_true = 0.5 * (mu[0, 1] - mu[0, 0] + mu[1, 1] - mu[1, 0])
    d = binary_trial(3000, 11, site_effect=False)  # the truth above holds
    kw = dict(KW, covariates=["x"], outcome="yb", outcome_type="logistic", n_boot=300)
    new = effects(fit_mediation(d, rng=np.random.default_rng(1), **kw),
                  "risk_difference").loc["acme_average"]
    old = effects(fit_mediation(d, rng=np.random.default_rng(1),
                                mediator_types={"m": "continuous"}, **kw),
                  "risk_difference").loc["acme_average"]
    assert new.ci_low <= acme_true <= new.ci_high, (new.ci_low, acme_true, new.ci_high)
    assert abs(new.estimate - acme_true) < 2 * new.std_error
    assert not old.ci_low <= acme_true <= old.ci_high, (old.ci_low, acme_true, old.ci_high)
    assert old.estimate < acme_true - 0.02


@pytest.mark.parametrize("interaction", [False, True])
def test_linear_outcome_closed_form(interaction):
    """Linear outcome: ACME(t) = (b_M + b_TM t) mean_i (p_i(1) - p_i(0)) and
    ADE(t') = b_T + b_TM mean_i p_i(t'), with p from statsmodels' logistic fit."""
    d = binary_trial(600, 3, tm=0.6 if interaction else 0.0)
    res = fit_mediation(d, outcome="y", outcome_type="linear", interaction=interaction,
                        n_boot=0, rng=np.random.default_rng(0), **KW)
    med, out = statsmodels_fits(d, "y", interaction)
    p = [med.predict(d.assign(arm=t)).to_numpy() for t in (0, 1)]
    bm, bt = out.params["m"], out.params["arm"]
    btm = out.params["arm:m"] if interaction else 0.0
    e = effects(res, "mean_difference")["estimate"]
    want = {"acme_control": bm * (p[1] - p[0]).mean(),
            "acme_treated": (bm + btm) * (p[1] - p[0]).mean(),
            "ade_control": bt + btm * p[0].mean(), "ade_treated": bt + btm * p[1].mean()}
    want["total"] = want["acme_treated"] + want["ade_control"]
    for name, v in want.items():
        assert e[name] == pytest.approx(v, abs=1e-8), name
    np.testing.assert_allclose(res.params["m"]["mediator"]["m"].to_numpy(), mediator_coef(med),
                               rtol=0, atol=1e-8)
    assert "binomial, logit link" in res.models["m"]["mediator model m"]


def test_logistic_outcome_two_point_sum_and_statsmodels_mediation():
    """Risks = mean_i sum_m P(M = m | t', x_i) expit(eta_i(t, m)) from statsmodels fits
    (1e-8); and statsmodels ``Mediation`` with a GLM Binomial mediator model (it simulates
    parameters and mediators; its mean estimates ours to Monte Carlo error plus an O(1/n)
    parameter-averaging difference, whose ratio to the MC SE grows as sqrt(n_rep / n): at
    n = 1500 it showed (z up to 2.9, every effect the same sign), at n = 3000 with
    n_rep = 600 it is below the MC error (|z| <= 1.2 over seeds 11-13); tolerance 4 MC SE)."""
    d = binary_trial(3000, 7)
    res = fit_mediation(d, outcome="yb", outcome_type="logistic", n_boot=0,
                        rng=np.random.default_rng(0), **KW)
    med, out = statsmodels_fits(d, "yb")
    mu = two_point_sum(d, med, out)
    np.testing.assert_allclose(res.potential_outcomes[("m", "risk_difference")], mu,
                               rtol=0, atol=1e-8)
    e = effects(res, "risk_difference")["estimate"]
    X = pd.get_dummies(d[["x", "site"]], columns=["site"], drop_first=True,
                       dtype=float).to_numpy(float)
    one = np.ones((len(d), 1))
    mm = sm.GLM(d["m"].to_numpy(float), np.hstack([one, d[["arm"]].to_numpy(float), X]),
                family=sm.families.Binomial())
    om = sm.GLM(d["yb"].to_numpy(float), np.hstack([one, d[["arm", "m"]].to_numpy(float), X]),
                family=sm.families.Binomial())
    smr = Mediation(om, mm, (1, 1), 2).fit(method="parametric", n_rep=600,
                                           rng=np.random.default_rng(11))
    pairs = {"acme_control": smr.ACME_ctrl, "acme_treated": smr.ACME_tx,
             "ade_control": smr.ADE_ctrl, "ade_treated": smr.ADE_tx, "total": smr.total_effect}
    for name, draws in pairs.items():
        se = draws.std(ddof=1) / np.sqrt(draws.size)
        assert abs(e[name] - draws.mean()) < 4 * se, (name, e[name], draws.mean(), se)


def test_logistic_outcome_with_interaction_two_point_sum():
    """With an exposure x mediator term, v(t) = b_M + b_TM t enters the sum (1e-8)."""
    d = binary_trial(800, 12, tm=-0.8)
    res = fit_mediation(d, outcome="yb", outcome_type="logistic", interaction=True,
                        odds_ratio=True, n_boot=0, rng=np.random.default_rng(0), **KW)
    med, out = statsmodels_fits(d, "yb", interaction=True)
    mu = two_point_sum(d, med, out)
    np.testing.assert_allclose(res.potential_outcomes[("m", "risk_difference")], mu,
                               rtol=0, atol=1e-8)
    odds = mu / (1 - mu)
    assert effects(res, "odds_ratio")["estimate"]["acme_treated"] == pytest.approx(
        odds[1, 1] / odds[1, 0], rel=1e-7)


def test_weibull_risk_and_median_match_brute_force_potential_outcomes():
    """Weibull outcome: risks by the horizon, restricted means to it and medians of
    T(t, M(t')) against direct simulation from the fitted models (M ~ Bernoulli(p_i(t')),
    T from the Weibull AFT), R = 400 draws per participant: risks and restricted means
    E[min(T, h)] within 4 MC SE; medians within 4 MC SE of the sample median
    (SE = sqrt(1/4) / (f(median) sqrt(N)), density f by finite difference)."""
    d = binary_trial(800, 5)
    res = fit_mediation(d, outcome_type="weibull", time="time", event="event", horizon=200.0,
                        n_boot=0, rng=np.random.default_rng(0), **KW)
    prm = res.params["m"]
    a = prm["mediator"]["m"].to_numpy()
    b = prm["outcome"]
    sigma = prm["weibull_sigma"]
    site = pd.get_dummies(d["site"], drop_first=True, dtype=float).to_numpy()
    rng = np.random.default_rng(8)
    R, n = 400, len(d)
    mu_r, mu_m = res.potential_outcomes[("m", "risk_difference")], \
        res.potential_outcomes[("m", "median_difference")]
    mu_rmst = res.potential_outcomes[("m", "rmst_difference")]
    for t in (0, 1):
        for tp in (0, 1):
            p = expit(np.column_stack([np.ones(n), np.full(n, tp), d.x, site]) @ a)
            m = (rng.random((R, n)) < p).astype(float)
            eta = (b["Intercept"] + b["arm"] * t + b["m"] * m + b["x"] * d.x.to_numpy()
                   + site @ b[["site[b]", "site[c]"]].to_numpy())
            tt = np.exp(eta + sigma * np.log(rng.exponential(size=(R, n))))
            risk = (tt <= 200.0).mean(axis=1)  # one sample-average risk per draw
            assert abs(mu_r[t, tp] - risk.mean()) < 4 * risk.std(ddof=1) / np.sqrt(R)
            rmst = np.minimum(tt, 200.0).mean(axis=1)
            assert abs(mu_rmst[t, tp] - rmst.mean()) < 4 * rmst.std(ddof=1) / np.sqrt(R)
            flat = tt.ravel()
            med = np.median(flat)
            h = 0.02 * med
            f = ((flat <= med + h).mean() - (flat <= med - h).mean()) / (2 * h)
            assert abs(mu_m[t, tp] - med) < 4 * 0.5 / (f * np.sqrt(flat.size)), (t, tp)
    assert res.quadrature_nodes["m"] == {"point": 0, "bootstrap": 0}  # exact two-point sum


def test_bootstrap_replicate_is_the_fit_on_the_resampled_rows():
    """The batched logistic mediator fit of replicate b equals statsmodels' fit on the rows
    drawn for b (1e-8), and its ACME the closed form from those fits (linear outcome)."""
    d = binary_trial(300, 2)
    n, B, seed = len(d), 30, 9
    res = fit_mediation(d, outcome="y", outcome_type="linear", n_boot=B,
                        rng=np.random.default_rng(seed), **KW)
    counts = np.vstack(list(bootstrap_counts(np.random.default_rng(seed), n, B)))
    for b in (0, B - 1):
        rows = np.repeat(np.arange(n), counts[b].astype(int))
        med, out = statsmodels_fits(d.iloc[rows].reset_index(drop=True), "y")
        np.testing.assert_allclose(res.boot_params["m"]["mediator"][b, :, 0],
                                   mediator_coef(med), rtol=0, atol=1e-8)
        dr = d.iloc[rows]
        acme = out.params["m"] * (med.predict(dr.assign(arm=1)) - med.predict(dr.assign(arm=0))).mean()
        assert res.replicates[("m", "mean_difference")][b, 0] == pytest.approx(acme, abs=1e-8)


def test_type_detection_declaration_joint_sets_separation_and_sensitivity():
    d = binary_trial(300, 1)
    d["mc"] = d["m"] + np.random.default_rng(0).normal(size=len(d))
    kw = dict(exposure="arm", covariates=["x"], outcome="y", outcome_type="linear", n_boot=0,
              rng=np.random.default_rng(0))
    # 0/1 detected as binary; no rho sensitivity for it, and the note says why
    res = fit_mediation(d, mediators=["m"], **kw)
    assert "logit" in res.models["m"]["mediator model m"]
    assert res.sensitivity_frame().empty
    assert any("not available for the binary mediator(s) m" in s for s in res.notes)
    # nor the probit rho analysis of a binary outcome; its E-values are those of the effects
    res = fit_mediation(d, mediators=["m"], **{**kw, "outcome": "yb", "outcome_type": "logistic"})
    assert res.sensitivity_frame().empty
    assert any("not available for the binary mediator(s) m" in s for s in res.notes)
    rd = effects(res, "risk_difference")
    mu = res.potential_outcomes[("m", "risk_difference")]
    rr = np.sqrt(mu[0, 1] / mu[0, 0] * mu[1, 1] / mu[1, 0])  # geometric mean of the ACME ratios
    assert rd.loc["acme_average", "evalue"] == pytest.approx(rr + np.sqrt(rr * (rr - 1)), rel=1e-9)
    # the declaration wins: continuous on 0/1 data is the normal model, with its rho analysis
    res = fit_mediation(d, mediators=["m"], mediator_types={"m": "continuous"}, **kw)
    assert "normal linear" in res.models["m"]["mediator model m"]
    assert not res.sensitivity_frame().empty
    with pytest.raises(MediationDataError, match="declared binary but must be coded 0/1"):
        fit_mediation(d, mediators=["mc"], mediator_types={"mc": "binary"}, **kw)
    with pytest.raises(MediationDataError, match="unknown mediators"):
        fit_mediation(d, mediators=["m"], mediator_types={"q": "binary"}, **kw)
    # a joint set with a binary mediator: not estimable, naming it
    with pytest.raises(NotEstimable, match="joint set m\\+mc: m binary"):
        fit_mediation(d, mediators=["m", "mc"], singles=False, **kw)
    # ... with the singles: their rows are estimated, the set's rows say why not (also MI)
    from outcomes.mediation.mi import fit_mediation_mi

    tab = fit_mediation(d, mediators=["m", "mc"], **{**kw, "n_boot": 20}).to_frame()
    assert (tab.loc[tab.mediator != "m+mc", "status"] == "estimated").all()
    joint = tab.loc[tab.mediator == "m+mc"]
    assert len(joint) == 8 and (joint["status"] == "not estimable").all()
    assert joint["reason"].str.startswith("joint set m+mc: m binary").all()
    assert joint[["estimate", "ci_low", "p_value"]].isna().all().all()
    mi = fit_mediation_mi([d, d.copy()], seed=np.random.SeedSequence(1), n_boot=20,
                          mediators=["m", "mc"], **{k: v for k, v in kw.items()
                                                     if k not in ("n_boot", "rng")})
    mt = mi.to_frame()
    assert (mt.loc[mt.mediator == "m+mc", "status"] == "not estimable").all()
    assert (mt.loc[mt.mediator == "m", "status"] == "estimated").all()
    # separation in an arm: not estimable, not a crash
    with pytest.raises(NotEstimable, match="binary mediator m is 1 for every complete case "
                                           "with arm = 1"):
        fit_mediation(d.assign(m=np.where(d.arm == 1, 1, d.m)), mediators=["m"], **kw)


def _admed(n=400, seed=3):
    """A hand-made change-model analysis data set (the columns of ``mediation_data``) with
    a yes/no process measure CONTACT and a continuous score HHI."""
    d = binary_trial(n, seed)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "USUBJID": [f"P{i:04d}" for i in range(n)], "TRTA01": d.arm,
        "ARM": np.where(d.arm == 1, "peer_support", "usual_care"), "SITEID": d.site,
        "PRIORADM": rng.integers(0, 4, n), "CONTACT_M": d.m.astype(float),
        "HHI_M": 30 + 2 * d.arm + rng.normal(0, 3, n), "HHI_BL": 30 + rng.normal(0, 3, n),
        "WEMWBS_BL": 40 + rng.normal(0, 5, n), "WEMWBS_M12": 42 + 3 * d.m + rng.normal(0, 5, n),
        "READM12": d.yb.astype(float), "TTE_READMIT": d.time, "EVT_READMIT": d.event})


def test_change_model_jobs_take_the_plan_declaration():
    """mediation.mediator_types reaches the engine: the declared yes/no score gets the
    logistic mediator model and no rho grid (the report says why); its joint set is not
    estimable with the reason; a type for a score that is not a mediator, or a type that
    is neither binary nor continuous, is a config error naming the key."""
    from outcomes.errors import ConfigError, OutcomesError
    from outcomes.mediation.changemodel import run_job
    from outcomes.plan import AnalysisPlan

    mech = {"M1": {"label": "contact", "mediators": ["CONTACT", "HHI"]}}
    plan = AnalysisPlan.from_config({"mediation": {  # no ENGAGED / READM_PRE_M columns here
        "n_boot": 50, "mechanisms": mech, "mediator_types": {"CONTACT": "binary"},
        "exposure_induced_confounders": []}})
    assert plan.mediator_types == {"CONTACT": "binary"}
    data = _admed()
    job = run_job(data, plan, "CONTACT", "wemwbs_m12")
    none = job.estimates.loc[job.estimates["clustering"] == "none"]
    assert (none["status"] == "estimated").all()
    assert "logit" in job.report["models"]["CONTACT_M"]["mediator model CONTACT_M"]
    assert job.sensitivity.empty
    assert any("binary mediator(s) CONTACT_M" in s for s in job.report["notes"])
    joint = run_job(data, plan, "M1", "wemwbs_m12").estimates
    assert (joint["status"] == "not estimable").all()  # peer_worker: no PEERWID here
    assert joint.loc[joint["clustering"] == "none", "reason"].str.contains(
        "joint set CONTACT_M\\+HHI_M: CONTACT_M binary").all()
    bad = AnalysisPlan.from_config({"mediation": {"mechanisms": mech,
                                                  "mediator_types": {"GSE": "binary"}}})
    with pytest.raises(OutcomesError, match="'mediation.mediator_types': GSE"):
        run_job(data, bad, "CONTACT", "wemwbs_m12")
    with pytest.raises(ConfigError, match="mediator_types"):
        AnalysisPlan.from_config({"mediation": {"mediator_types": {"HHI": "yes/no"}}})
