"""The log-rank test, RMST and cumulative incidence clustered by peer worker
(outcomes.clustering.nonparametric; docs/clustering.md): closed forms, the exact derivative
with respect to a case weight, and the rows. The R references (coxph rscore, survfit
influences) are in tests/test_r_oracle_clustering_robust.py."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from survival_dgp import simulate_trial

from outcomes.clustering.nonparametric import (
    cif_influence,
    grouped_variance,
    logrank_score_residuals,
    rmst_influence,
)
from outcomes.errors import NotEstimable
from outcomes.survival import cumulative_incidence, logrank, rmst_difference
from outcomes.survival.competing import aalen_johansen, cif_at
from outcomes.survival.km import logrank_components, rmst_km
from outcomes.survival.tables import results_table


@pytest.fixture(scope="module")
def tied():
    """Day-valued times with many ties, three strata, both causes."""
    rng = np.random.default_rng(4)
    n = 300
    t = np.round(rng.exponential(60, n))
    e = rng.random(n) < 0.7
    return dict(t=t, e=e, g=rng.integers(0, 2, n), strata=rng.integers(0, 3, n),
                status=np.where(e, rng.integers(1, 3, n), 0))


def test_logrank_score_residuals_sum_to_o_minus_e_and_match_a_loop(tied):
    t, e, g, s = tied["t"], tied["e"], tied["g"], tied["strata"]
    U = logrank_score_residuals(t, e, g, s)
    obs, exp, _ = logrank_components(t, e, g, s)
    assert U.sum() == pytest.approx(obs - exp, abs=1e-10)
    # the definition, written as a loop over participants and event times
    for i in (0, 7, 123):
        m = s == s[i]
        u = 0.0
        for tj in np.unique(t[m & e]):
            if tj > t[i]:
                continue
            risk = m & (t >= tj)
            xbar = g[risk].mean()
            d = (m & e & (t == tj)).sum()
            u += (e[i] and t[i] == tj) * (g[i] - xbar) - d / risk.sum() * (g[i] - xbar)
        assert U[i] == pytest.approx(u, abs=1e-12)


def test_rmst_influence_is_the_case_weight_derivative_and_gives_greenwood(tied):
    """Σ D_i² equals the Greenwood-type variance of the table exactly (every participant a
    cluster of one), and D_i equals the central difference of lifelines' weighted RMST
    (h = 1e-5: error ~1e-9)."""
    t, e = tied["t"], tied["e"]
    D = rmst_influence(t, e, 150.0)
    assert (D**2).sum() == pytest.approx(rmst_km(t, e, 150.0)[1], rel=1e-12)

    def rmst(w):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            km = KaplanMeierFitter().fit(t, e, weights=w)
        return restricted_mean_survival_time(km, t=150.0)

    h = 1e-5
    for i in (0, 5, 17):
        w = np.ones(t.size)
        w[i] += h
        up = rmst(w)
        w[i] -= 2 * h
        assert D[i] == pytest.approx((up - rmst(w)) / (2 * h), rel=1e-6, abs=1e-8)


def test_rmst_influence_when_the_curve_reaches_zero():
    """The last at-risk participant's event (n = d) adds nothing, as in the Greenwood sum."""
    t = np.array([1.0, 2, 2, 3, 5])
    e = np.array([1, 0, 1, 1, 1], bool)
    D = rmst_influence(t, e, 6.0)
    assert np.isfinite(D).all()
    assert (D**2).sum() == pytest.approx(rmst_km(t, e, 6.0)[1], rel=1e-12)


def test_cif_influence_gives_the_delta_method_variance(tied):
    t, s = tied["t"], tied["status"]
    D = cif_influence(t, s, 100.0)
    tab = aalen_johansen(t, s)
    assert (D**2).sum() == pytest.approx(cif_at(tab, [100.0], "delta")[1][0], rel=1e-12)
    assert D.sum() == pytest.approx(0.0, abs=1e-12)  # an influence function sums to 0


def test_grouped_variance_sums_within_clusters():
    D = np.array([1.0, 2.0, -3.0, 0.5])
    assert grouped_variance(D, ["a", "a", "b", "c"]) == pytest.approx(9 + 9 + 0.25)
    with pytest.raises(NotEstimable):
        grouped_variance(D, ["a"] * 4)


@pytest.fixture(scope="module")
def trial():
    adsl, adtte, _, _ = simulate_trial(400, seed=8)
    treated = adsl["ARM"] == "peer_support"
    workers = np.where(np.arange(len(adsl)) % 9 == 0, "", "PW" + (np.arange(len(adsl)) % 12)
                       .astype(str))
    adsl = adsl.assign(CLUSTER=np.where(treated & (workers != ""), "PW:" + workers,
                                        "ID:" + adsl["USUBJID"]))
    return adsl, adtte


def test_clustered_rows_keep_the_estimates_and_leave_the_control_arm_alone(trial):
    adsl, adtte = trial
    n_clusters = adsl["CLUSTER"].nunique()
    for fit, et in ((lambda **k: logrank(adtte, adsl=adsl, **k), "logrank_hazard_ratio"),
                    (lambda **k: rmst_difference(adtte, adsl=adsl, **k), "rmst_difference"),
                    (lambda **k: cumulative_incidence(adtte, adsl=adsl, **k),
                     "cif_difference")):
        naive, clustered = fit().to_frame(), fit(cluster="CLUSTER").to_frame()
        assert "clustering" not in naive.columns
        assert (clustered["clustering"] == "peer_worker").all()
        assert list(clustered["contrast"]) == ([] if et == "logrank_hazard_ratio"
                                               else ["peer_support"]) + [
            "peer_support vs usual_care"]
        a, b = (x.set_index("estimate_type").loc[et] for x in (naive, clustered))
        assert a["estimate"] == b["estimate"] and a["ci_low"] != b["ci_low"]
        assert b["n_clusters"] == n_clusters
    lr = logrank(adtte, adsl=adsl, cluster="CLUSTER")
    assert lr.chisq == pytest.approx((lr.observed - lr.expected) ** 2 / lr.robust_variance)
    # the Wald test of the Peto log HR with the robust SE is the robust score test
    row = lr.to_frame().iloc[0]
    z = np.log(row["estimate"]) / ((np.log(row["ci_high"]) - np.log(row["ci_low"])) / 3.919928)
    assert z**2 == pytest.approx(lr.chisq, rel=1e-6)


def test_singleton_clusters_reproduce_the_naive_rmst_interval(trial):
    adsl, adtte = trial
    alone = adsl.assign(CLUSTER="ID:" + adsl["USUBJID"])
    naive = rmst_difference(adtte, adsl=alone)
    clustered = rmst_difference(adtte, adsl=alone, cluster="CLUSTER")
    np.testing.assert_allclose(clustered.variance, naive.variance, rtol=1e-12)


def test_one_cluster_in_the_treated_arm_is_not_estimable(trial):
    adsl, adtte = trial
    one = adsl.assign(CLUSTER=np.where(adsl["ARM"] == "peer_support", "PW:1",
                                       "ID:" + adsl["USUBJID"]))
    for fit in (logrank, rmst_difference, cumulative_incidence):
        with pytest.raises(NotEstimable, match="at least 2 clusters in each arm"):
            fit(adtte, adsl=one, cluster="CLUSTER")
    # two clusters in the treated arm are enough (one holding all its events)
    ev = pd.Series(adtte.set_index("USUBJID").loc[adsl["USUBJID"], "CNSR"].to_numpy() == 0)
    lone = adsl.assign(CLUSTER=np.where(adsl["ARM"] == "peer_support",
                                        np.where(ev, "PW:1", "PW:2"), "ID:" + adsl["USUBJID"]))
    assert rmst_difference(adtte, adsl=lone, cluster="CLUSTER").n_clusters == (2, 200)


def test_design_effects_are_the_variance_ratios(trial):
    """design_effect of the new rows = clustered over naive variance, on the scale of each
    CI (identity for the differences and the RMST, log(−log) for a cumulative incidence)."""
    adsl, adtte = trial
    naive = cumulative_incidence(adtte, adsl=adsl)
    clustered = cumulative_incidence(adtte, adsl=adsl, cluster="CLUSTER")
    t = results_table([naive, clustered]).set_index(["clustering", "estimate_type"])
    v_naive = naive.at([365.0])["std_err"].to_numpy() ** 2
    de = t.loc[("peer_worker", "cumulative_incidence"), "design_effect"]
    assert de == pytest.approx(clustered.cluster_variance[0] / v_naive[0], rel=1e-9)
    de = t.loc[("peer_worker", "cif_difference"), "design_effect"]
    assert de == pytest.approx(sum(clustered.cluster_variance) / v_naive.sum(), rel=1e-9)
    rm = [rmst_difference(adtte, adsl=adsl, **k) for k in ({}, {"cluster": "CLUSTER"})]
    t = results_table(rm).set_index(["clustering", "estimate_type"])
    assert t.loc[("peer_worker", "rmst"), "design_effect"] == pytest.approx(
        rm[1].variance[0] / rm[0].variance[0], rel=1e-9)
    assert ("peer_worker", "rmst") in t.index and len(t) == 5
