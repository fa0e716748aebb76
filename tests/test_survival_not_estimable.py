"""Not-estimable rules and rank checks of every survival regression (issue 10, points 3-4).

Each rule gets a small hand-built data set that triggers it; each regression's rank check
is triggered by a constant or a duplicated covariate. The data are built so that the
rule, not another one, is what fails (e.g. enough events in both arms for a rank test).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from survival_dgp import simulate_trial

from outcomes.errors import NotEstimable, SingularDesign
from outcomes.survival import (
    andersen_gill,
    cause_specific_cox,
    cox,
    cumulative_incidence,
    logrank,
    negative_binomial,
    readmission_within,
    results_table,
    rmst_difference,
    tenure_cox,
)
from outcomes.survival._common import Arms, NotEstimableResult, ident
from outcomes.survival.estimability import risk_set_differences, separated_terms
from outcomes.survival.recurrent import NegBinResult, check_readmissions_by_arm
from outcomes.survival.run import attempt

T, C = "peer_support", "usual_care"


def _tte(n=40, seed=3, *, events=None, det=None, prior=None, site=None):
    """A right-censored data set with arm alternating; ``events`` a 0/1 array."""
    rng = np.random.default_rng(seed)
    arm = np.where(np.arange(n) % 2 == 0, T, C)
    ev = rng.integers(0, 2, n) if events is None else np.asarray(events)
    return pd.DataFrame({
        "USUBJID": [f"P{i:03d}" for i in range(n)],
        "PARAMCD": "READMIT",
        "AVAL": rng.integers(1, 365, n).astype(float),
        "CNSR": 1 - ev,
        "CMPEVFL": "N",
        "ARM": arm,
        "SITEID": site if site is not None else np.where(np.arange(n) < n // 2, "S1", "S2"),
        "PRIORADM": prior if prior is not None else rng.poisson(1.0, n),
        "DETINDFL": det if det is not None else np.where(rng.random(n) < 0.4, "Y", "N"),
    })


# ----------------------------------------------------------------------------- Cox


def test_cox_constant_covariate_is_a_singular_design():
    d = _tte(prior=np.full(40, 2))
    with pytest.raises(SingularDesign, match="PRIORADM is constant") as exc:
        cox(d, covariates=["PRIORADM", "DETINDFL"])
    assert exc.value.aliased == ("PRIORADM",)


def test_cox_duplicated_covariate_is_a_singular_design():
    d = _tte()
    d["PRIORCOPY"] = 2 * d["PRIORADM"]
    with pytest.raises(SingularDesign, match="PRIORCOPY is a linear combination of PRIORADM"):
        cox(d, covariates=["PRIORADM", "PRIORCOPY"])


def test_stratified_cox_covariate_constant_within_strata_is_a_singular_design():
    d = _tte()
    d["DETINDFL"] = np.where(d["SITEID"] == "S1", "Y", "N")
    with pytest.raises(SingularDesign, match="DETINDFL"):
        cox(d, covariates=["DETINDFL"], strata=["SITEID"])
    # unstratified, the same column is identified
    assert np.isfinite(cox(d, covariates=["DETINDFL"]).hr)


def test_cox_covariate_constant_within_the_risk_sets_is_not_identified():
    # DETINDFL varies within each stratum, but not between an event and those at risk
    # with it (the participant who differs leaves first): its coefficient is not identified
    d = pd.DataFrame({
        "ARM": [T, C, C, C, T, T], "SITEID": ["S1"] * 3 + ["S2"] * 3,
        "AVAL": [10.0, 20, 5, 10, 30, 3], "CNSR": [0, 1, 1, 0, 1, 1],
        "DETINDFL": ["Y", "Y", "N", "N", "N", "Y"]})
    with pytest.raises(SingularDesign, match=r"within the risk sets.*DETINDFL"):
        cox(d, covariates=["DETINDFL"], strata=["SITEID"])


def test_cox_without_events_in_one_arm_is_not_estimable():
    ev = np.where(np.arange(40) % 2 == 0, np.arange(40) % 4 == 0, 0).astype(int)
    with pytest.raises(NotEstimable, match="no events in the usual_care arm"):
        cox(_tte(events=ev), covariates=["PRIORADM"])


def test_cox_with_fewer_events_than_coefficients_is_not_estimable():
    ev = np.zeros(40, int)
    ev[[0, 1]] = 1  # one event per arm, three coefficients
    with pytest.raises(NotEstimable, match="2 events for 3 coefficients"):
        cox(_tte(events=ev), covariates=["PRIORADM", "DETINDFL"])


def test_cox_monotone_likelihood_is_not_estimable():
    # every event has DETINDFL = Y: its coefficient diverges (the arms both have events)
    det = np.where(np.arange(40) < 16, "Y", "N")
    ev = (np.arange(40) < 12).astype(int)
    with pytest.raises(NotEstimable, match="monotone likelihood.* along DETINDFL"):
        cox(_tte(events=ev, det=det), covariates=["DETINDFL"])
    # the same data with one event moved to DETINDFL = N are estimable
    ev2 = ev.copy()
    ev2[[10, 20]] = [0, 1]
    assert np.isfinite(cox(_tte(events=ev2, det=det), covariates=["DETINDFL"]).hr)


def test_cause_specific_death_model_not_estimable_keeps_the_readmission_model():
    adsl, adtte, _, _ = simulate_trial(300, seed=2)
    adtte = adtte.copy()
    deaths = np.flatnonzero(adtte["CMPEVFL"] == "Y")
    treated = adtte["ARM"].to_numpy() == T
    adtte.loc[adtte.index[deaths[~treated[deaths]]], "CMPEVFL"] = "N"  # deaths in one arm only
    r1, r2 = cause_specific_cox(adtte, adsl=adsl)
    assert np.isfinite(r1.hr)
    assert isinstance(r2, NotEstimableResult)
    f = results_table([r1, r2])
    dead = f.loc[f["outcome"].str.startswith("death")].iloc[0]
    assert dead["status"] == "not estimable" and "no events in the usual_care arm" in dead["reason"]
    assert np.isnan(dead["estimate"]) and dead["events"] == deaths[treated[deaths]].size
    assert f.loc[f["outcome"] == "READMIT (cause-specific)", "status"].item() == "estimated"


def test_andersen_gill_duplicated_covariate_is_a_singular_design():
    adsl, _, adre, _ = simulate_trial(200, seed=5)
    adsl = adsl.assign(PRIORCOPY=adsl["PRIORADM"] + 0.0)
    with pytest.raises(SingularDesign, match="PRIORCOPY"):
        andersen_gill(adre, adsl, covariates=("PRIORADM", "PRIORCOPY"))


def test_ph_test_failure_becomes_not_estimable_rows(monkeypatch):
    """When the PH test cannot be computed the hazard ratio stands and only the PH rows
    (each term and GLOBAL) are not estimable, with the test's reason."""
    import importlib

    coxmod = importlib.import_module("outcomes.survival.cox")

    def fails(*args, **kwargs):
        raise NotEstimable("the proportional-hazards test of ARM has a singular information matrix")

    monkeypatch.setattr(coxmod, "cox_zph", fails)
    d = _tte()
    res = cox(d, covariates=["PRIORADM"], ph=True).to_frame()
    assert res["status"].tolist() == ["estimated"] + ["not estimable"] * 3
    assert res["contrast"].iloc[1:].str.startswith("PH test (km transform): ").all()
    assert res["estimate"].iloc[1:].isna().all()
    assert "singular information matrix" in res["reason"].iloc[1]
    assert np.isfinite(res["estimate"].iloc[0])


# ----------------------------------------------------------------------------- log-rank, RMST, CIF


def test_logrank_without_events_is_not_estimable():
    with pytest.raises(NotEstimable, match="no READMIT event in either arm"):
        logrank(_tte(events=np.zeros(40, int)), strata=None)


def test_logrank_with_no_event_time_shared_by_both_arms_in_a_stratum():
    # each stratum holds one arm only: no event has both arms at risk, the variance is 0
    d = _tte(site=np.where(np.arange(40) % 2 == 0, "S1", "S2"))
    with pytest.raises(NotEstimable, match="variance is 0"):
        logrank(d, strata=["SITEID"])


def test_rmst_and_cif_differences_without_events_are_not_estimable_rows():
    d = _tte(events=np.zeros(40, int))
    d["AVAL"] = 365.0
    r = rmst_difference(d, tau=365).to_frame()
    assert r["status"].tolist() == ["estimated", "estimated", "not estimable"]
    assert r["estimate"].iloc[:2].tolist() == [365.0, 365.0]
    assert "no variance" in r["reason"].iloc[2] and np.isnan(r["estimate"].iloc[2])
    c = cumulative_incidence(d, horizon=365).to_frame()
    assert c["status"].tolist() == ["estimated", "estimated", "not estimable"]
    assert c["estimate_type"].iloc[2] == "cif_difference" and c["n"].iloc[2] == 40


def test_rmst_tau_beyond_follow_up_is_not_estimable():
    d = _tte()
    with pytest.raises(NotEstimable, match="beyond the last follow-up"):
        rmst_difference(d, tau=1000)


# ----------------------------------------------------------------------------- logistic


def _primary(n=200, seed=4):
    adsl, adtte, _, _ = simulate_trial(n, seed=seed)
    return adsl, adtte


def test_primary_constant_covariate_is_a_singular_design():
    adsl, adtte = _primary()
    adsl = adsl.assign(ONE=3.0)
    with pytest.raises(SingularDesign, match="ONE is constant"):
        readmission_within(adtte, adsl, covariates=("SITEID", "ONE"))


def test_primary_duplicated_covariate_is_a_singular_design():
    adsl, adtte = _primary()
    adsl = adsl.assign(PRIORCOPY=adsl["PRIORADM"] * 1.0)
    with pytest.raises(SingularDesign, match="PRIORCOPY is a linear combination of PRIORADM"):
        readmission_within(adtte, adsl, covariates=("PRIORADM", "PRIORCOPY"))


def test_primary_no_readmission_in_an_arm_is_not_estimable():
    adsl, adtte = _primary()
    adtte = adtte.copy()
    adtte.loc[adtte["ARM"] == C, "CNSR"] = 1
    with pytest.raises(NotEstimable, match="in the usual_care arm: the odds ratio is 0 or infinite"):
        readmission_within(adtte, adsl, covariates=("SITEID",))


def test_primary_quasi_separation_by_a_covariate_is_detected():
    adsl, adtte = _primary()
    adtte = adtte.copy()
    s4 = adtte["SITEID"] == "S4"
    adtte.loc[s4, ["CNSR", "AVAL"]] = [0, 30.0]  # everyone at site S4 readmitted early
    with pytest.raises(NotEstimable, match=r"separated by .*SITEID\[S4\]"):
        readmission_within(adtte, adsl, covariates=("SITEID",))
    # the same data with site left out have a finite estimate
    assert np.isfinite(readmission_within(adtte, adsl, covariates=()).odds_ratio)


def test_primary_too_few_outcomes_per_coefficient_is_not_estimable():
    adsl, adtte = _primary()
    adtte = adtte.copy()
    ev = np.flatnonzero(adtte["CNSR"] == 0)
    keep = [ev[adtte["ARM"].to_numpy()[ev] == a][0] for a in (T, C)]
    adtte.loc[~adtte.index.isin(adtte.index[keep]), "CNSR"] = 1
    with pytest.raises(NotEstimable, match="2 outcomes of the rarer kind for 9 coefficients"):
        readmission_within(adtte, adsl, covariates=("SITEID", "DIAGGR"))


def test_hypothetical_km_risk_zero_is_not_estimable():
    adsl, adtte = _primary()
    adtte = adtte.copy()
    adtte.loc[adtte["ARM"] == T, "CNSR"] = 1
    with pytest.raises(NotEstimable, match="is 0 in the peer_support arm"):
        readmission_within(adtte, adsl, strategy="hypothetical_km")


def test_separated_terms_linear_program():
    x = np.array([0.0, 1, 2, 3, 4, 5])
    X = np.column_stack([np.ones(6), x])
    assert separated_terms(X, [0, 0, 0, 1, 1, 1], ["c", "x"]) != []  # complete
    assert separated_terms(X, [0, 0, 1, 1, 1, 1], ["c", "x"]) != []  # complete, other cut
    assert separated_terms(X, [0, 1, 0, 1, 0, 1], ["c", "x"]) == []  # overlap
    g = np.array([0.0, 0, 0, 1, 1, 1])
    X2 = np.column_stack([np.ones(6), g])
    # quasi-complete: all of group 1 have the outcome, group 0 mixed
    assert "g" in separated_terms(X2, [0, 1, 0, 1, 1, 1], ["c", "g"])


# ----------------------------------------------------------------------------- negative binomial


def test_negative_binomial_constant_covariate_is_a_singular_design():
    adsl, _, adre, _ = simulate_trial(200, seed=5)
    adsl = adsl.assign(ONE=1.0)
    with pytest.raises(SingularDesign, match="negative binomial model.*ONE is constant"):
        negative_binomial(adre, adsl, covariates=("SITEID", "ONE"))


def test_no_readmission_in_an_arm_makes_the_rate_ratio_not_estimable():
    adsl, _, adre, _ = simulate_trial(200, seed=5)
    adre = adre.copy()
    control = adre["USUBJID"].isin(adsl.loc[adsl["ARM"] == C, "USUBJID"])
    adre.loc[control, "NREADM"] = 0
    with pytest.raises(NotEstimable, match="no readmissions in the usual_care arm"):
        check_readmissions_by_arm(adre, adsl)


def test_singular_hessian_in_the_negative_binomial_fit_is_not_estimable(monkeypatch):
    import importlib

    rec = importlib.import_module("outcomes.survival.recurrent")

    def singular(*args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    adsl, _, adre, _ = simulate_trial(200, seed=5)
    assert np.isfinite(rec.rate_ratio(adre, adsl).rate_ratio)
    monkeypatch.setattr(rec, "negative_binomial", singular)
    with pytest.raises(NotEstimable, match="Hessian is singular in the fit"):
        rec.rate_ratio(adre, adsl)


def test_non_converged_negative_binomial_is_a_not_estimable_row():
    r = NegBinResult("recurrent_readmission", "NREADM", f"{T} vs {C}", ("const", "ARM"),
                     np.array([0.1, np.nan]), np.array([0.1, np.nan]), 1.0, 0.1, 50, 20, 0,
                     False)
    f = r.to_frame()
    assert f["status"].item() == "not estimable" and "did not converge" in f["reason"].item()
    assert np.isnan(f["estimate"].item()) and f["n"].item() == 50


# ----------------------------------------------------------------------------- run.py backstop


def test_backstop_turns_a_numerical_failure_into_a_logged_not_estimable_row(caplog):
    def boom():
        raise np.linalg.LinAlgError("Singular matrix")

    rows = [ident("x", "READMIT", f"{T} vs {C}", "hazard_ratio", 10, 3)]
    with caplog.at_level(logging.WARNING, logger="outcomes.survival.run"):
        res = attempt(boom, rows, "the test model")
    assert "the test model failed unexpectedly" in caplog.text
    f = res.to_frame()
    assert f["reason"].item() == "numerical failure (LinAlgError: Singular matrix)"
    assert f["events"].item() == 3
    # a NotEstimable keeps its reason and is not logged
    caplog.clear()

    def rule():
        raise NotEstimable("no events in either arm")

    with caplog.at_level(logging.WARNING, logger="outcomes.survival.run"):
        assert attempt(rule, rows, "x").reason == "no events in either arm"
    assert caplog.text == ""
    # a contract error is not swallowed
    with pytest.raises(ValueError):
        attempt(lambda: (_ for _ in ()).throw(ValueError("ARM has codes")), rows, "x")


def test_results_table_status_and_reason_are_the_last_columns():
    adsl, adtte, _, _ = simulate_trial(200, seed=4)
    ok = tenure_cox(adtte, adsl=adsl, ph=False)
    bad = NotEstimableResult("no events", (ident("a", "b", f"{T} vs {C}", "hazard_ratio"),))
    f = results_table([ok, bad])
    assert list(f.columns[-2:]) == ["status", "reason"]
    assert f["status"].tolist() == ["estimated", "not estimable"]
    assert f["reason"].tolist() == ["", "no events"]


def test_arms_object_is_used_in_messages():
    ev = np.where(np.arange(40) % 2 == 1, np.arange(40) % 4 == 1, 0).astype(int)
    d = _tte(events=ev).replace({T: "PS", C: "UC"})
    with pytest.raises(NotEstimable, match="in the PS arm"):
        cox(d, covariates=["PRIORADM"], arms=Arms("PS", "UC"))


def _risk_set_differences_by_pairs(X, stop, event, start=None, strata=None):
    """The row-pair definition (the code before issue 17): every event against every row
    at risk at its time in its stratum."""
    n, p = X.shape
    start = np.full(n, -np.inf) if start is None else start
    s = np.zeros(n, int) if strata is None else pd.factorize(strata)[0]
    diffs = [np.zeros((0, p))]
    for k in np.unique(s):
        idx = np.flatnonzero(s == k)
        for i in idx[event[idx] > 0]:
            at_risk = idx[(start[idx] < stop[i]) & (stop[idx] >= stop[i])]
            diffs.append(X[i] - X[at_risk])
    D = np.unique(np.round(np.vstack(diffs), 12), axis=0)
    return D[np.any(D != 0, axis=1)]


@pytest.mark.parametrize("seed", range(6))
def test_risk_set_differences_by_pattern_equal_the_row_pairs(seed):
    """Over covariate patterns (linear in n) the differences are the row-pair ones exactly:
    tied times, strata, (start, stop] rows with gaps (Andersen–Gill), a stratum without
    events, patterns whose rows are never at risk together, and a continuous covariate
    (every row its own pattern)."""
    rng = np.random.default_rng(seed)
    n = 150
    X = np.column_stack([rng.integers(0, 2, n), rng.integers(0, 4, n), rng.integers(0, 2, n),
                         rng.normal(size=n) if seed % 2 else np.zeros(n)]).astype(float)
    stop = rng.integers(1, 30, n).astype(float)
    start = (stop - rng.integers(1, 10, n)) if seed >= 3 else None
    ev = (rng.random(n) < 0.4).astype(float)
    strata = rng.choice(["a", "b", "c"], n)
    ev[strata == "c"] = 0  # a stratum without events
    X[(strata == "a") & (stop > 20), 1] = 9  # a pattern only at risk late
    for st in (None, strata):
        got = risk_set_differences(X, stop, ev, start, st)
        want = _risk_set_differences_by_pairs(X, stop, ev, start, st)
        np.testing.assert_array_equal(got, want)
    assert len(got) > 0
