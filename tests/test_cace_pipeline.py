"""The ``cace`` and ``dose_response`` rows of cace.tsv (outcomes.cace.analyses, docs/cace.md
"In the pipeline") on a trial of 240 made here, against the engine called by hand.

- Each row equals :func:`fit_cace` / :func:`fit_dose_response` on the same data (the
  outcome's ITT covariates; the dose modifiers' main effects; HC1 and CR1): 1e-12, the
  same arithmetic on the same numbers.
- Readmission with IPCW and no covariates: CACE × first-stage compliance difference =
  the ITT risk difference of the primary analysis (the weighted Wald identity; the IPCW
  risk with the arm only is 1 − Kaplan–Meier, Satten & Datta 2001): 1e-10.
- Under MI, the pooled row is Rubin's rules worked by hand over the per-imputation fits,
  with the Barnard–Rubin df written out here: 1e-10.
- Not estimable (no one engaged; fewer than 2 peer workers for CR1; a pilot of 60 with 3
  peer workers is estimated), never a crash.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from outcomes.cace import fit_cace, fit_dose_response
from outcomes.cace.analyses import (
    CACE,
    DOSE_RESPONSE,
    LABEL_COLUMNS,
    engagement_analyses,
    engagement_stage,
    iv_analyses,
)
from outcomes.cace.comparisons import cace_table, run_engagement
from outcomes.cace.ivdata import (
    completed_score_data,
    completed_scores,
    engagement_columns,
    score_data,
)
from outcomes.clustering import cluster_ids
from outcomes.errors import ConfigError
from outcomes.plan import AnalysisPlan, validate_config
from outcomes.survival._common import Arms
from outcomes.survival.binary import censoring_survival_before, readmission_within

ARMS = ("peer_support", "usual_care")
PLAN = AnalysisPlan.from_config({"visits": ["month_4"]})
#: The primary analysis without covariates: the risks are 1 − Kaplan–Meier by arm.
PLAN_NO_COV = AnalysisPlan.from_config({"visits": ["month_4"],
                                        "survival": {"primary_covariates": []}})
TOL = 1e-12


def make_trial(n: int = 240, seed: int = 11, workers: int = 6, engage: float = 0.7):
    """ADSL, ADTTE (READMIT: readmitted by day 365, lost before it, or followed to it) and
    ADQS (WEMWBS at baseline and month 4, 10% missing at month 4) of a trial with
    one-sided non-compliance: compliers (more likely with a higher baseline) engage when
    offered, with 1–12 contacts, and only they get the effect."""
    rng = np.random.default_rng(seed)
    arm = np.where(np.arange(n) % 2 == 0, *ARMS)
    treated = arm == ARMS[0]
    base = rng.normal(45, 8, n)
    complier = rng.random(n) < 1 / (1 + np.exp(-(0.8 + 0.08 * (base - 45))))
    eng = treated & complier
    age = rng.integers(18, 70, n)
    prior = rng.integers(0, 5, n)
    ncont = np.where(eng, 1 + rng.poisson(2 + 0.1 * (age - 40).clip(0) + prior), 0)
    ids = [f"P{k:03d}" for k in range(n)]
    adsl = pd.DataFrame({
        "USUBJID": ids, "SITEID": np.where(rng.random(n) < 0.5, "S1", "S2"), "ARM": arm,
        "ITTFL": "Y", "AGE": age, "PRIORADM": prior, "DIAGGR": "psychosis",
        "NCONTACT": ncont, "CONTMIN": 30 * ncont, "NCONTWIN": ncont, "CONTMWIN": 30 * ncont,
        "ENGFL": np.where(eng, "Y", "N"),
        "PEERWID": np.where(eng, [f"W{k % workers}" for k in range(n)], "")})
    event = rng.random(n) < np.where(eng, 0.3, 0.5)
    lost = ~event & (rng.random(n) < 0.15)
    aval = np.where(event, rng.integers(10, 300, n), np.where(lost, rng.integers(5, 360, n), 365))
    adtte = pd.DataFrame({"USUBJID": ids, "PARAMCD": "READMIT", "ARM": arm,
                          "AVAL": aval.astype(float), "CNSR": np.where(event, 0, 1),
                          "CMPEVFL": "N"})
    m4 = base + 3 * eng + 0.2 * ncont + rng.normal(0, 6, n)
    m4[rng.random(n) < 0.1] = np.nan
    adqs = pd.concat([pd.DataFrame({"USUBJID": ids, "PARAMCD": "WEMWBS", "PARAM": "WEMWBS",
                                    "AVISIT": v, "AVAL": x, "ABLFL": f})
                      for v, x, f in (("baseline", base, "Y"), ("month_4", m4, ""))])
    return adsl, adtte, adqs


@pytest.fixture(scope="module")
def trial():
    return make_trial()


def _table(trial, plan=PLAN, completed=None) -> pd.DataFrame:
    adsl, adtte, adqs = trial
    return cace_table(iv_analyses(adsl, adtte, adqs, plan, completed))


def _row(t, analysis, outcome, clustering) -> pd.Series:
    hit = t.loc[(t["analysis"] == analysis) & (t["outcome"] == outcome)
                & (t["clustering"] == clustering)]
    assert len(hit) == 1
    return hit.iloc[0]


def _score_frame(adsl, adqs) -> pd.DataFrame:
    """WEMWBS month 4 by hand: complete cases, the ANCOVA's covariates."""
    w = adqs.pivot(index="USUBJID", columns="AVISIT", values="AVAL")
    d = adsl.assign(y=adsl["USUBJID"].map(w["month_4"]), BASE=adsl["USUBJID"].map(w["baseline"]),
                    CLUSTER=cluster_ids(adsl, ARMS[0]))
    return d.loc[d["y"].notna() & d["BASE"].notna()].reset_index(drop=True)


def _check(row, fit):
    name = fit.endogenous[0]
    lo, hi = fit.conf_int(name)
    fs = fit.first_stage[0]
    for got, want in ((row["estimate"], fit.estimate(name)), (row["std_error"], fit.std_error(name)),
                      (row["ci_low"], lo), (row["ci_high"], hi),
                      (row["p_value"], fit.p_value(name)), (row["first_stage_estimate"], fs.estimate),
                      (row["first_stage_f"], fs.f), (row["first_stage_robust_f"], fs.robust_f),
                      (row["partial_r2"], fs.partial_r2)):
        np.testing.assert_allclose(got, want, rtol=TOL)
    assert row["n"] == fit.n and row["df"] == fit.df and row["status"] == "estimated"
    assert bool(row["weak_instruments"]) == fs.weak


@pytest.mark.parametrize("clustering", ["none", "peer_worker"])
def test_questionnaire_rows_equal_the_engine_on_the_same_data(trial, clustering):
    adsl, _, adqs = trial
    t = _table(trial)
    d = _score_frame(adsl, adqs)
    cov = pd.DataFrame({"BASE": d["BASE"], "SITEID[S2]": (d["SITEID"] == "S2") * 1.0})
    arm = (d["ARM"] == ARMS[0]) * 1.0
    cl = d["CLUSTER"].to_numpy() if clustering == "peer_worker" else None
    cace = fit_cace(d["y"], (d["ENGFL"] == "Y") * 1.0, arm, cov, clusters=cl)
    row = _row(t, CACE, "WEMWBS month_4", clustering)
    _check(row, cace)
    assert row["contrast"] == "peer_support vs usual_care"
    assert row["estimate_type"] == "adjusted_mean_difference" and row["avisit"] == "month_4"
    assert row["variance"] == ("CR1" if cl is not None else "HC1")
    dose = fit_dose_response(d["y"], d["NCONTWIN"] * 1.0, arm,
                             cov.assign(AGE=d["AGE"] * 1.0, PRIORADM=d["PRIORADM"] * 1.0),
                             ["AGE", "PRIORADM"], clusters=cl)
    row = _row(t, DOSE_RESPONSE, "WEMWBS month_4", clustering)
    _check(row, dose)
    assert row["estimate_type"] == "effect_per_contact" and row["overid_df"] == 2
    np.testing.assert_allclose(row["hansen_j"], dose.overidentification.hansen_j, rtol=TOL)
    assert row["instruments"] == "ARM + ARM:AGE + ARM:PRIORADM"


def test_readmission_cace_times_compliance_is_the_itt_risk_difference(trial):
    """Weighted Wald identity: with the arm only, the IPCW 2SLS numerator is the IPCW
    risk difference (= 1 − KM by arm) and the denominator the first stage."""
    adsl, adtte, adqs = trial
    t = _table(trial, PLAN_NO_COV)
    itt = readmission_within(adtte, adsl, covariates=(), arms=Arms(*ARMS))
    row = _row(t, CACE, "READMIT within 365 days", "none")
    assert row["estimate_type"] == "risk_difference" and row["strategy"] == "while_alive"
    np.testing.assert_allclose(row["estimate"] * row["first_stage_estimate"], itt.rd[0],
                               rtol=1e-10)
    assert row["n"] == itt.n_used < len(adsl)  # the lost are left out, the others weighted
    # the ITT on the compliers' scale: the weighted compliance difference is the arm's
    # share of engagers (no usual-care engager), weighted by 1/G within the arm
    assert 0.5 < row["first_stage_estimate"] < 0.95


def test_readmission_rows_equal_weighted_fit_cace(trial):
    """With the primary covariates (site): the row is fit_cace with the IPCW weights."""
    adsl, adtte, _ = trial
    t = _table(trial, AnalysisPlan.from_config({"visits": ["month_4"],
                                                "survival": {"primary_covariates": ["SITEID"]}}))
    d = adtte.drop(columns="ARM").merge(adsl, on="USUBJID")
    lost = (d["CNSR"] == 1) & (d["AVAL"] < 365)
    G = np.ones(len(d))
    for a in ARMS:
        m = (d["ARM"] == a).to_numpy()
        G[m] = censoring_survival_before(np.minimum(d["AVAL"][m], 365), lost[m])
    u = ~lost.to_numpy()
    du = d.loc[u].reset_index(drop=True)
    fit = fit_cace(((du["CNSR"] == 0) & (du["AVAL"] <= 365)) * 1.0, (du["ENGFL"] == "Y") * 1.0,
                   (du["ARM"] == ARMS[0]) * 1.0,
                   pd.DataFrame({"SITEID[S2]": (du["SITEID"] == "S2") * 1.0}),
                   weights=1 / G[u])
    _check(_row(t, CACE, "READMIT within 365 days", "none"), fit)


def _hand_rubin(q, u, dfcom, alpha=0.05):
    """Rubin's rules and the Barnard–Rubin (1999) df, written out."""
    m = len(q)
    qbar, ubar, b = np.mean(q), np.mean(u), np.var(q, ddof=1)
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t
    nu_old = (m - 1) / lam**2
    nu_obs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    df = nu_old * nu_obs / (nu_old + nu_obs)
    half = stats.t.ppf(1 - alpha / 2, df) * np.sqrt(t)
    return qbar, np.sqrt(t), df, qbar - half, qbar + half, (1 + 1 / m) * b / ubar


def test_mi_rows_are_rubins_rules_over_the_per_imputation_fits(trial):
    adsl, _, adqs = trial
    d0 = _score_frame(adsl, adqs.assign(AVAL=adqs["AVAL"].fillna(0.0)))  # every participant
    w = adqs.pivot(index="USUBJID", columns="AVISIT", values="AVAL")
    rng = np.random.default_rng(5)
    completed = []
    for _ in range(3):
        m4 = w["month_4"].to_numpy().copy()
        miss = np.isnan(m4)
        m4[miss] = w["baseline"].to_numpy()[miss] + rng.normal(1, 6, miss.sum())
        completed.append(pd.DataFrame({"USUBJID": w.index, "WEMWBS_month_4": m4,
                                       "WEMWBS_baseline": w["baseline"].to_numpy()})
                         .merge(adsl[["USUBJID", "ARM", "SITEID"]], on="USUBJID"))
    t = _table(trial, completed=completed)
    for clustering in ("none", "peer_worker"):
        fits = []
        for c in completed:
            d = d0.assign(y=d0["USUBJID"].map(c.set_index("USUBJID")["WEMWBS_month_4"]))
            fits.append(fit_cace(d["y"], (d["ENGFL"] == "Y") * 1.0, (d["ARM"] == ARMS[0]) * 1.0,
                                 pd.DataFrame({"BASE": d["BASE"],
                                               "SITEID[S2]": (d["SITEID"] == "S2") * 1.0}),
                                 clusters=d["CLUSTER"] if clustering == "peer_worker" else None))
        q = [f.estimate("ENGFL") for f in fits]
        u = [f.std_error("ENGFL") ** 2 for f in fits]
        est, se, df, lo, hi, riv = _hand_rubin(q, u, fits[0].df)
        row = _row(t, CACE, "WEMWBS month_4", clustering)
        for got, want in ((row["estimate"], est), (row["std_error"], se), (row["df"], df),
                          (row["ci_low"], lo), (row["ci_high"], hi), (row["riv"], riv)):
            np.testing.assert_allclose(got, want, rtol=1e-10)
        assert row["m"] == 3 and row["n"] == len(adsl) and 0 <= row["fmi"] <= 1
        np.testing.assert_allclose(row["first_stage_estimate"],
                                   np.mean([f.first_stage[0].estimate for f in fits]), rtol=TOL)
    # readmission is not imputed: its rows are the complete-data ones, no m
    assert np.isnan(_row(t, CACE, "READMIT within 365 days", "none")["m"])


def test_no_one_engaged_gives_not_estimable_rows_with_reasons(trial):
    adsl, adtte, adqs = trial
    none = adsl.assign(ENGFL="N", NCONTWIN=0, PEERWID="")
    res = run_engagement(none, adtte, adqs, PLAN,
                         extra=iv_analyses(none, adtte, adqs, PLAN))
    t = res.estimates
    iv = t.loc[t["analysis"].isin([CACE, DOSE_RESPONSE])]
    assert len(iv) == 8 and (iv["status"] == "not estimable").all()
    cace = iv.loc[(iv["analysis"] == CACE) & (iv["clustering"] == "none")]
    assert cace["reason"].str.contains("no participant received peer support").all()
    dose = iv.loc[(iv["analysis"] == DOSE_RESPONSE) & (iv["clustering"] == "none")]
    assert dose["reason"].str.contains("no participant had a contact").all()
    pw = iv.loc[iv["clustering"] == "peer_worker"]
    assert pw["reason"].str.contains("at least 2 peer workers").all()
    # the CACE rows come first, and keep their identification
    assert list(t["analysis"].iloc[:8]) == [CACE] * 4 + [DOSE_RESPONSE] * 4
    assert (iv["comparison_bias"] == "").all()


def test_one_peer_worker_leaves_the_robust_rows_estimated(trial):
    adsl, adtte, adqs = trial
    one = adsl.assign(PEERWID=np.where(adsl["ENGFL"] == "Y", "W0", ""))
    t = _table((one, adtte, adqs))
    pw, naive = t["clustering"] == "peer_worker", t["clustering"] == "none"
    assert (t.loc[pw, "status"] == "not estimable").all()
    assert t.loc[pw, "reason"].str.contains("there is 1").all()
    assert (t.loc[naive, "status"] == "estimated").all()


def test_a_pilot_of_60_with_three_peer_workers_is_estimated():
    adsl, adtte, adqs = make_trial(n=60, seed=3, workers=3)
    t = _table((adsl, adtte, adqs))
    assert len(t) == 8 and t["status"].isin(["estimated", "not estimable"]).all()
    cace = t.loc[t["analysis"] == CACE]
    assert (cace["status"] == "estimated").all()
    assert (cace.loc[cace["clustering"] == "peer_worker", "n_clusters"] >= 3).all()


def test_dose_modifiers_are_declared_in_the_plan():
    assert PLAN.engagement.dose_modifiers == ("AGE", "PRIORADM")
    plan = AnalysisPlan.from_config(validate_config({"engagement": {"dose_modifiers": ["BASE"]}}))
    assert plan.engagement.dose_modifiers == ("BASE",)
    with pytest.raises(ConfigError, match="dose_modifiers"):
        validate_config({"engagement": {"dose_modifiers": ["SEX"]}})


def _same_data(a, b) -> None:
    """Two IVData hold the same numbers (exactly: the fits then give the same bytes)."""
    for name in ("y", "arm", "receipt", "dose", "clusters"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    pd.testing.assert_frame_equal(a.covariates, b.covariates, check_exact=True)
    pd.testing.assert_frame_equal(a.modifier_values, b.modifier_values, check_exact=True)
    assert a.modifiers == b.modifiers and a.weights is b.weights is None
    assert a.labels == b.labels


def test_completed_score_data_is_score_data_of_each_completed_set(trial):
    """The design built once for all imputations (decisions CT3) gives what building it
    per completed data set gives: imputed baselines that differ between the sets, the
    baseline as a dose modifier, and the sets that cannot share the design (other rows
    used, another row order) built on their own."""
    adsl, _, adqs = trial
    w = adqs.pivot(index="USUBJID", columns="AVISIT", values="AVAL")
    rng = np.random.default_rng(8)
    base_obs = w["baseline"].to_numpy().copy()
    base_obs[rng.random(base_obs.size) < 0.1] = np.nan  # baselines to impute too
    completed = []
    for _ in range(4):
        m4, b = w["month_4"].to_numpy().copy(), base_obs.copy()
        m4[np.isnan(m4)] = rng.normal(45, 8, np.isnan(m4).sum())
        b[np.isnan(b)] = rng.normal(45, 8, np.isnan(b).sum())
        completed.append(pd.DataFrame({"USUBJID": w.index, "WEMWBS_month_4": m4,
                                       "WEMWBS_baseline": b}))
    completed[2].loc[3, "WEMWBS_month_4"] = np.nan       # one value not imputed
    completed[3] = completed[3].iloc[::-1].reset_index(drop=True)  # another row order
    plan = AnalysisPlan.from_config({"visits": ["month_4"],
                                     "engagement": {"dose_modifiers": ["AGE", "BASE"]}})
    base = engagement_columns(adsl, plan)
    ids = dict(paramcd="WEMWBS", param_label="WEMWBS", visit="month_4")
    got = completed_score_data(completed, base, plan, **ids)
    want = [score_data(completed_scores(c, "WEMWBS", "month_4"), base, plan, **ids)
            for c in completed]
    assert len(got) == 4 and got[2].n == want[0].n - 1
    assert not np.array_equal(want[0].covariates["BASE"], want[1].covariates["BASE"])
    for g, x in zip(got, want, strict=True):
        _same_data(g, x)


def test_the_command_order_gives_the_same_rows_and_holds_adqs_labels_as_categories(trial):
    """``engagement_stage`` (the command: comparisons first, ADQS's label columns as
    categories, the completed data sets loaded last) gives engagement_analyses's tables
    exactly, with multiple imputation too."""
    adsl, adtte, adqs = trial
    w = adqs.pivot(index="USUBJID", columns="AVISIT", values="AVAL")
    rng = np.random.default_rng(12)
    completed = []
    for _ in range(3):
        m4 = w["month_4"].to_numpy().copy()
        m4[np.isnan(m4)] = rng.normal(45, 8, np.isnan(m4).sum())
        completed.append(pd.DataFrame({"USUBJID": w.index, "WEMWBS_month_4": m4,
                                       "WEMWBS_baseline": w["baseline"].to_numpy()})
                         .merge(adsl[["USUBJID", "ARM", "SITEID"]], on="USUBJID"))
    for sets in (None, completed):
        want = engagement_analyses(adsl, adtte, adqs, PLAN, sets)
        data = {"adsl": adsl, "adtte": adtte, "adqs": adqs}
        loaded = []

        def load(d, sets=sets, loaded=loaded):
            loaded.append(d["adqs"])
            return sets, None

        got = engagement_stage(data, PLAN, load)
        pd.testing.assert_frame_equal(got.estimates, want.estimates, check_exact=True)
        pd.testing.assert_frame_equal(got.engagement.table, want.engagement.table,
                                      check_exact=True)
        assert loaded[0] is data["adqs"] and data["adqs"] is not adqs
        assert all(isinstance(data["adqs"][c].dtype, pd.CategoricalDtype)
                   for c in LABEL_COLUMNS)
        assert data["adqs"].astype(adqs.dtypes.to_dict()).equals(adqs)
