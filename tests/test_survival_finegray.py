"""Fine–Gray subdistribution hazard model and Gray's test (docs/survival.md).

References (tests/r/fg_check.R, tests/r/finegray.R) on one simulated trial
(tests/survival_dgp.py, 500 participants, 12 peer workers; times in whole days, so
readmissions, deaths and censorings are tied):

- unstratified with the plan's Cox covariates: R ``cmprsk::crr`` (coefficients and its
  sandwich variance);
- stratified by site (a baseline and a censoring distribution per site): the same model
  built from ``crr`` alone, Newton steps on the per-site scores and informations ``crr``
  returns at a given β, and its sandwich summed over sites; on untied times (a jitter)
  also R ``survival::finegray(~ . + strata(SITEID))`` + ``coxph(... + strata, weights =
  fgwt, ties = "breslow")`` — with tied times finegray orders a censoring after the
  events at its time and crr before them, so they differ (docs/survival.md);
- clustered by peer worker: the per-participant contributions of crr's variance written
  in R from their definitions (checked there against crr on every site), summed by
  cluster;
- Gray's test: ``cmprsk::cuminc(time, status, arm)`` and with ``strata = site``.

Tolerance 1e-6 relative: closed forms of the fitted coefficients, which both sides iterate
to a step below 1e-10 (crr gtol 1e-14; our Newton to 1e-10); Gray's test has no iteration
(agreement is to ~1e-12). Skipped without R (failed under CI).
"""

from __future__ import annotations

import subprocess
import time

import numpy as np
import pandas as pd
import pytest
from rscript import R_DIR, require_r
from survival_dgp import simulate_trial

from outcomes.clustering import cluster_ids
from outcomes.errors import NotEstimable
from outcomes.survival import Arms
from outcomes.survival._common import arm_indicator, merge_adsl, param
from outcomes.survival.competing import (
    competing_status,
    gray_test_by_arm,
    subdistribution_hazards,
)
from outcomes.survival.finegray import fine_gray, gray_test

RTOL = 1e-6
COX_COV = ("PRIORADM", "DETINDFL")


@pytest.fixture(scope="module")
def trial():
    """tests/survival_dgp.py with a death rate that makes deaths common (and tied), peer
    workers for 90% of the treated (12 workers), and the clusters of ``cluster_ids``."""
    adsl, adtte, _, _ = simulate_trial(n=500, seed=4, death_rate=0.6 / 365)
    rng = np.random.default_rng(4)
    treated = adsl["ARM"] == "peer_support"
    worker = np.where(treated & (rng.random(len(adsl)) < 0.9),
                      np.char.add("W", rng.integers(0, 12, len(adsl)).astype(str)), "")
    adsl = adsl.assign(PEERWID=worker)
    return adsl.assign(CLUSTER=cluster_ids(adsl, "peer_support")), adtte


@pytest.fixture(scope="module")
def data(trial):
    adsl, adtte = trial
    d = merge_adsl(param(adtte, "READMIT"), adsl,
                   ["ARM", "SITEID", "CLUSTER", *COX_COV]).reset_index(drop=True)
    jit = np.random.default_rng(3).uniform(0, 0.5, len(d))
    return pd.DataFrame({
        "AVAL": d["AVAL"].astype(float), "ST": competing_status(d),
        "ARM": arm_indicator(d["ARM"], Arms()), "PRIORADM": d["PRIORADM"].astype(float),
        "DETINDFL": (d["DETINDFL"] == "Y").astype(float), "SITEID": d["SITEID"],
        "CLUSTER": d["CLUSTER"], "JIT": d["AVAL"].astype(float) + jit})


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    require_r(("survival", "cmprsk"))
    out = tmp_path_factory.mktemp("finegray")
    data.to_csv(out / "fg.csv", index=False)
    r = subprocess.run(["Rscript", str(R_DIR / "fg_check.R"), str(out / "fg.csv"),
                        str(out / "r.tsv")], capture_output=True, text=True)
    assert r.returncode == 0, f"fg_check.R failed: {r.stderr}"
    ref = pd.read_csv(out / "r.tsv", sep="\t")
    return dict(zip(ref["quantity"], ref["value"], strict=True))


def _r(ref, prefix):
    return np.array([ref[f"{prefix}{k}"] for k in (1, 2, 3)])


def _X(data):
    return data[["ARM", *COX_COV]].to_numpy(float)


def test_data_have_tied_events_deaths_and_censorings(data):
    """The references are only a test of the tie handling if the times are tied."""
    for s in (1, 2, 0):
        assert data.loc[data["ST"] == s, "AVAL"].duplicated().any()
    for s in (1, 2):  # a censoring at the time of an event of each kind
        assert set(data.loc[data["ST"] == 0, "AVAL"]) & set(data.loc[data["ST"] == s, "AVAL"])


def test_unstratified_fine_gray_equals_crr(data, reference):
    fit = fine_gray(_X(data), data["AVAL"], data["ST"])
    np.testing.assert_allclose(fit.coef, _r(reference, "crr_coef_"), rtol=RTOL)
    np.testing.assert_allclose(fit.se, _r(reference, "crr_se_"), rtol=RTOL)


def test_stratified_fine_gray_equals_crr_by_site_and_finegray_coxph(data, reference):
    fit = fine_gray(_X(data), data["AVAL"], data["ST"], data["SITEID"])
    np.testing.assert_allclose(fit.coef, _r(reference, "str_coef_"), rtol=RTOL)
    np.testing.assert_allclose(fit.se, _r(reference, "str_se_"), rtol=RTOL)
    jit = fine_gray(_X(data), data["JIT"], data["ST"], data["SITEID"])
    np.testing.assert_allclose(jit.coef, _r(reference, "fgc_coef_"), rtol=RTOL)
    # stratification changes the estimate (the test is not of an unstratified model)
    assert not np.allclose(fit.coef, _r(reference, "crr_coef_"), rtol=1e-3)


def test_variance_clustered_by_peer_worker_equals_r(trial, data, reference):
    adsl, adtte = trial
    res = subdistribution_hazards(adtte, adsl=adsl, covariates=COX_COV, cluster="CLUSTER")
    np.testing.assert_allclose(res.se, _r(reference, "cl_se_"), rtol=RTOL)
    assert res.clustering == "peer_worker"
    assert res.n_clusters == data["CLUSTER"].nunique() < len(data)
    naive = subdistribution_hazards(adtte, adsl=adsl, covariates=COX_COV)
    np.testing.assert_allclose(naive.coef, _r(reference, "str_coef_"), rtol=RTOL)
    np.testing.assert_allclose(naive.se, _r(reference, "str_se_"), rtol=RTOL)
    assert naive.events == int((data["ST"] == 1).sum())


def test_gray_test_equals_cuminc(trial, data, reference):
    g = gray_test(data["AVAL"], data["ST"], data["ARM"])
    np.testing.assert_allclose([g.statistic, g.p_value],
                               [reference["gray_stat"], reference["gray_p"]], rtol=RTOL)
    adsl, adtte = trial
    row = gray_test_by_arm(adtte, adsl=adsl).to_frame().iloc[0]
    np.testing.assert_allclose([row["estimate"], row["p_value"]],
                               [reference["gray_strat_stat"], reference["gray_strat_p"]],
                               rtol=RTOL)
    assert row["estimate_type"] == "gray_test_chisq" and row["status"] == "estimated"


def test_singleton_clusters_give_the_unclustered_variance(data):
    X = _X(data)
    a = fine_gray(X, data["AVAL"], data["ST"], data["SITEID"])
    b = fine_gray(X, data["AVAL"], data["ST"], data["SITEID"],
                  clusters=np.arange(len(data)).astype(str))
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-12)
    # the contributions sum to the score, which is 0 at the estimate
    np.testing.assert_allclose(a.phi.sum(axis=0), 0.0, atol=1e-8)


def test_without_competing_events_fine_gray_is_the_breslow_cox_model():
    """No competing event: the subdistribution hazard is the hazard (weights all 1), so
    β̂ is the Breslow-ties Cox estimate (statsmodels PHReg) — a closed check of the core."""
    from statsmodels.duration.hazard_regression import PHReg

    rng = np.random.default_rng(1)
    n = 300
    X = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)])
    t = np.ceil(rng.exponential(50, n))
    s = (rng.uniform(size=n) < 0.7).astype(int)
    fit = fine_gray(X, t, s)
    ph = PHReg(t, X, status=s, ties="breslow").fit()
    np.testing.assert_allclose(fit.coef, ph.params, rtol=1e-7)


def test_not_estimable_without_deaths_or_events_in_an_arm(trial):
    adsl, adtte = trial
    no_death = adtte.assign(CMPEVFL="N")
    for fn in (subdistribution_hazards, gray_test_by_arm):
        with pytest.raises(NotEstimable, match="no death"):
            fn(no_death, adsl=adsl)
    treated = set(adsl.loc[adsl["ARM"] == "peer_support", "USUBJID"])
    in_t = adtte["USUBJID"].isin(treated) & (adtte["PARAMCD"] == "READMIT")
    none_t = adtte.copy()
    none_t.loc[in_t & (none_t["CNSR"] == 0), "CNSR"] = 1
    with pytest.raises(NotEstimable, match="no events in the peer_support arm"):
        subdistribution_hazards(none_t, adsl=adsl)
    # Gray's test still has a variance from the other arm's events
    assert gray_test_by_arm(none_t, adsl=adsl).p_value < 0.05
    no_events = adtte.assign(CNSR=np.where(adtte["CNSR"] == 0, 1, adtte["CNSR"]))
    with pytest.raises(NotEstimable, match="no variance"):
        gray_test_by_arm(no_events, adsl=adsl)


def test_core_is_fast_at_100000_participants():
    """Vectorised: one fit of 100,000 participants with strata and clusters."""
    rng = np.random.default_rng(7)
    n = 100_000
    X = np.column_stack([rng.integers(0, 2, n), rng.poisson(1, n), rng.integers(0, 2, n)])
    t = np.ceil(rng.exponential(300, n) * np.exp(-0.2 * X[:, 0]))
    c = np.ceil(rng.uniform(30, 400, n))
    s = np.where(t <= c, rng.choice([1, 2], n, p=[0.8, 0.2]), 0)
    t0 = time.perf_counter()
    fit = fine_gray(X, np.minimum(t, c), s, rng.integers(0, 5, n).astype(str),
                    rng.integers(0, 2000, n).astype(str))
    elapsed = time.perf_counter() - t0
    assert np.all(np.isfinite(fit.se)) and abs(fit.coef[0] - 0.2) < 0.05
    assert elapsed < 20, f"{elapsed:.1f} s"
