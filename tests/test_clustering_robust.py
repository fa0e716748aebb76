"""Cluster-robust variances, the binary ICC and the peer-worker rows of survival.tsv
(docs/clustering.md). The equalities with R are in tests/test_r_oracle_clustering_robust.py;
here: closed forms, a known truth, and the not-estimable rules on pilot-sized trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from outcomes.adam import derive_all
from outcomes.clustering import cluster_codes
from outcomes.clustering.icc import anova_icc
from outcomes.clustering.robust import (
    check_clusters,
    cluster_robust_cov,
    cluster_sums,
    clustered_meat,
    coded_cluster_sums,
)
from outcomes.errors import NotEstimable
from outcomes.plan import AnalysisPlan
from outcomes.simulate import simulate
from outcomes.survival.run import run_survival
from outcomes.survival.tables import design_effects, main_analysis_rows


def test_singleton_clusters_give_hc0_times_n_over_n_minus_1():
    """Each row its own cluster: B (Σ u_i u_i') B' · n/(n−1), the HC0 sandwich with the
    G/(G−1) factor; without the factor exactly HC0."""
    rng = np.random.default_rng(1)
    U, B = rng.normal(size=(50, 3)), rng.normal(size=(3, 3))
    hc0 = B @ U.T @ U @ B.T
    ids = [f"ID:{i}" for i in range(50)]
    np.testing.assert_allclose(cluster_robust_cov(U, ids, B), hc0 * 50 / 49, rtol=1e-12)
    np.testing.assert_allclose(cluster_robust_cov(U, ids, B, adjust=False), hc0, rtol=1e-12)


def test_cluster_sums_and_the_clustered_meat():
    U = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-2.0, 1.0]])
    labels = ["PW:b", "PW:a", "PW:b", "ID:x"]  # sorted label order: ID:x, PW:a, PW:b
    np.testing.assert_array_equal(cluster_sums(U, labels),
                                  [[-2.0, 1.0], [3.0, -1.0], [1.5, 2.5]])
    Ug = np.array([[-2.0, 1.0], [3.0, -1.0], [1.5, 2.5]])
    np.testing.assert_allclose(cluster_robust_cov(U, labels), Ug.T @ Ug * 3 / 2)
    with pytest.raises(NotEstimable, match="at least 2 clusters"):
        cluster_robust_cov(U, ["PW:a"] * 4)


def test_coded_sums_are_those_of_add_at_to_the_last_bit():
    """The sums of pre-coded clusters (``numpy.bincount`` per column) are the row-order
    sums of ``numpy.add.at`` exactly, and ``cluster_robust_cov`` is the meat of them."""
    rng = np.random.default_rng(5)
    U = rng.normal(size=(2_000, 3)) * 10.0 ** rng.integers(-8, 8, size=(2_000, 1))
    labels = np.char.add("PW:", rng.integers(0, 37, 2_000).astype(str))
    codes, G = cluster_codes(labels)
    expected = np.zeros((G, 3))
    np.add.at(expected, codes, U)
    got = coded_cluster_sums(U, codes, G)
    assert np.array_equal(got, expected) and np.array_equal(cluster_sums(U, labels), expected)
    for adjust in (True, False):
        assert np.array_equal(cluster_robust_cov(U, labels, adjust=adjust),
                              clustered_meat(got, adjust=adjust))
    with pytest.raises(ValueError, match="3 cluster labels for 4"):
        coded_cluster_sums(U[:4], codes[:3], G)


def test_too_few_clusters_or_all_events_in_one_are_not_estimable():
    arm = np.array([1, 1, 1, 0, 0, 0])
    with pytest.raises(NotEstimable, match="peer_support arm has 1"):
        check_clusters(["PW:a"] * 3 + ["ID:1", "ID:2", "ID:3"], arm,
                       arms=("peer_support", "usual_care"))
    with pytest.raises(NotEstimable, match="all events are in one cluster"):
        check_clusters(["PW:a", "PW:a", "PW:b", "ID:1", "ID:2", "ID:3"], arm,
                       [1, 1, 0, 0, 0, 0])
    check_clusters(["PW:a", "PW:a", "PW:b", "ID:1", "ID:2", "ID:3"], arm, [1, 0, 0, 1, 0, 0])
    # a participant's own cluster is not named by its identifier (the report refuses those)
    with pytest.raises(NotEstimable) as info:
        check_clusters(["PW:a", "PW:a", "PW:b", "ID:P0014", "ID:2", "ID:3"], arm,
                       [0, 0, 0, 1, 0, 0])
    assert info.value.reason.endswith("all events are in one cluster (one participant "
                                      "without a peer worker)")
    assert "P0014" not in info.value.reason


def test_anova_icc_recovers_a_beta_binomial_truth():
    """Beta-binomial caseloads: the ICC of the 0/1 outcomes is 1/(a+b+1) = 0.1 exactly.
    3,000 caseloads of 2–14 participants: the estimate within 0.015 of the truth (its SE is
    about 0.005) and the 95% interval covers it."""
    rng = np.random.default_rng(13)
    a, b = 2.7, 6.3  # mean 0.3, ICC 1/(a+b+1) = 0.1
    sizes = rng.integers(2, 15, 3000)
    p = np.repeat(rng.beta(a, b, sizes.size), sizes)
    y = rng.random(p.size) < p
    labels = np.repeat(np.arange(sizes.size), sizes).astype(str)
    r = anova_icc(y, labels)
    assert abs(r.estimate - 0.1) < 0.015
    assert r.ci[0] < 0.1 < r.ci[1]
    # a stratum-level shift is not counted as peer-worker correlation by the nested form
    strata = np.repeat(np.arange(sizes.size) % 2, sizes)
    y2 = rng.random(p.size) < np.where(strata == 1, 0.7, 0.2)
    assert anova_icc(y2, labels).estimate > 0.15
    assert abs(anova_icc(y2, labels, strata).estimate) < 0.02


def test_anova_icc_balanced_closed_form_and_not_estimable():
    # two caseloads of 4: (1,1,1,0) and (0,0,0,1): MSB = 0.5, MSW = 1.5/6, n0 = 4
    y = [1, 1, 1, 0, 0, 0, 0, 1]
    cl = ["a"] * 4 + ["b"] * 4
    r = anova_icc(y, cl)
    assert (r.msb, r.msw, r.n0) == pytest.approx((0.5, 0.25, 4.0))
    assert r.estimate == pytest.approx((0.5 - 0.25) / (0.5 + 3 * 0.25))
    with pytest.raises(NotEstimable, match="at least 2 peer workers"):
        anova_icc([1, 0], ["a", "a"])
    with pytest.raises(NotEstimable, match="every caseload is 1"):
        anova_icc([1, 0], ["a", "b"])
    with pytest.raises(NotEstimable, match="does not vary"):
        anova_icc([1, 1, 0, 0], ["a", "a", "b", "b"])
    with pytest.raises(ValueError, match="spans several strata"):
        anova_icc(y, cl, ["s1"] * 3 + ["s2"] * 5)


def test_design_effect_is_the_variance_ratio_and_main_rows():
    t = pd.DataFrame({
        "analysis": ["x"] * 4, "clustering": ["none", "peer_worker", "none", "none"],
        "outcome": ["o"] * 4, "contrast": ["a vs b", "a vs b", "a vs b", "a"],
        "estimate_type": ["hazard_ratio", "hazard_ratio", "risk_difference", "rmst"],
        "estimate": [1.0, 1.0, 0.1, 5.0],
        "ci_low": [np.exp(-0.2), np.exp(-0.3), 0.0, 4.0],
        "ci_high": [np.exp(0.2), np.exp(0.3), 0.2, 6.0], "status": ["estimated"] * 4})
    de = design_effects(t)
    assert de[1] == pytest.approx(2.25) and de.drop(1).isna().all()
    assert list(main_analysis_rows(t, "peer_worker").index) == [1, 2, 3]
    assert list(main_analysis_rows(t, "none").index) == [0, 2, 3]


@pytest.fixture(scope="module")
def pilot():
    """A pilot of 60 participants (simulate n=60)."""
    tables, truth = simulate(n=60, seed=3, truth_n=1000)
    plan = AnalysisPlan.from_config({"data_cut": truth["meta"]["data_cut"],
                                     "survival": {"hospital_days_n_boot": 100}})
    return derive_all({k: v.to_frame() for k, v in tables.items()}, plan), plan


def _peer_rows(ds, plan, workers):
    adsl = ds["adsl"].copy()
    treated = adsl.index[adsl["ARM"] == plan.treated_arm]
    adsl.loc[treated, "PEERWID"] = [workers[i % len(workers)] for i in range(len(treated))]
    t = run_survival(adsl, ds["adtte"], ds["adre"], plan, plan.rng("survival")).table
    return t.loc[t["clustering"] == "peer_worker"].set_index(["outcome", "estimate_type"])


def test_pilot_with_three_peer_workers_and_singletons(pilot):
    """3 peer workers plus never-engagers (blank PEERWID, clusters of 1): every
    peer-worker row is estimated or not estimable with a reason; nothing crashes."""
    ds, plan = pilot
    rows = _peer_rows(ds, plan, ["PW-1", "PW-2", "PW-3", ""])
    assert (rows["status"].isin(["estimated", "not estimable"])).all()
    assert (rows.loc[rows["status"] == "not estimable", "reason"] != "").all()
    prim = rows.loc[("READMIT within 365 days", "risk_difference")]
    assert prim["status"] == "estimated" and prim["design_effect"] > 0
    assert rows.loc[("READMIT within 365 days", "icc"), "n_clusters"] == 3
    for key in [("READMIT", "logrank_hazard_ratio"), ("READMIT", "rmst_difference"),
                ("READMIT", "cif_difference")]:
        assert rows.loc[key, "status"] == "estimated" and rows.loc[key, "n_clusters"] > 3, key


def test_one_peer_worker_makes_the_clustered_rows_not_estimable(pilot):
    ds, plan = pilot
    rows = _peer_rows(ds, plan, ["PW-1"])
    for key in [("READMIT within 365 days", "risk_difference"), ("READMIT", "hazard_ratio"),
                ("NREADM", "rate_ratio"), ("readmissions (Andersen-Gill)", "hazard_ratio"),
                ("READMIT", "logrank_hazard_ratio"), ("READMIT", "rmst_difference"),
                ("READMIT", "cif_difference")]:
        assert rows.loc[key, "status"] == "not estimable", key
        assert "at least 2 clusters in each arm" in rows.loc[key, "reason"]
