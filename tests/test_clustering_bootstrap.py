"""The cluster bootstrap (outcomes.clustering.bootstrap) and its two users: the mediation
bootstrap and days in hospital.

Known truths:
- the ordinary bootstrap is the one-stratum case with every participant its own unit: the
  draws are those of the code before the cluster bootstrap existed (exact);
- resampling G units with replacement, the bootstrap variance of a resample total is
  G * s2 with s2 = mean((t_g - mean t)^2) over the unit totals t_g (Davison & Hinkley 1997,
  §3.8: the bootstrap of the cluster totals); with equal caseloads m the treated-arm mean
  has variance s2 / (G m^2) = (G - 1)/G * var(t) / (G m^2). Checked to 5% on the variance
  with B = 20,000 (MC relative SE of a variance of a near-normal statistic sqrt(2/B) = 1%)
  and to 6% on an SE with B = 4,000 (MC relative SE 1.1%);
- the cluster bootstrap SE of an OLS coefficient approaches the CR0 cluster-robust SE
  (statsmodels cov_type="cluster", no small-sample factor): 10% at B = 1,000 with 30
  caseloads (MC 2.2%, plus the bootstrap's O(1/G) nonlinearity).
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from outcomes.clustering import cluster_codes, cluster_ids
from outcomes.clustering.bootstrap import (
    block_rows,
    cluster_bootstrap_counts,
    resample_medians,
    units_by_stratum,
)
from outcomes.errors import NotEstimable
from outcomes.mediation import bootstrap_counts, fit_mediation
from outcomes.survival import hospital_days


def _old_bootstrap_counts(rng, n, n_boot):
    """The ordinary bootstrap's draws as written before the cluster bootstrap."""
    rows = int(max(16, min(1024, 2**17 // max(n, 1))))
    for lo in range(0, n_boot, rows):
        b = min(rows, n_boot - lo)
        idx = rng.integers(0, n, size=(b, n))
        flat = (idx + (np.arange(b) * n)[:, None]).ravel()
        yield np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)


def test_ordinary_bootstrap_is_the_singleton_case_draw_for_draw():
    n, B = 70, 2 * block_rows(70) + 5
    old = np.vstack(list(_old_bootstrap_counts(np.random.default_rng(4), n, B)))
    np.testing.assert_array_equal(np.vstack(list(bootstrap_counts(np.random.default_rng(4), n, B))), old)
    new = np.vstack(list(cluster_bootstrap_counts(np.random.default_rng(4), np.arange(n), B)))
    np.testing.assert_array_equal(new, old)


def _caseloads(sizes, rng, icc_sd=1.0):
    codes = np.repeat(np.arange(len(sizes)), sizes)
    y = rng.normal(size=len(sizes))[codes] * icc_sd + rng.normal(size=codes.size)
    return codes, y


def test_variance_of_a_resampled_total_is_the_cluster_formula():
    rng = np.random.default_rng(11)
    codes, y = _caseloads(rng.integers(1, 15, size=30), rng)
    B = 20_000
    W = np.vstack(list(cluster_bootstrap_counts(np.random.default_rng(5), codes, B)))
    # whole units: participants of one unit have the same count; G units drawn per replicate
    for g in range(30):
        assert (W[:, codes == g] == W[:, [np.flatnonzero(codes == g)[0]]]).all()
    first = np.array([np.flatnonzero(codes == g)[0] for g in range(30)])
    assert (W[:, first].sum(axis=1) == 30).all()
    t = np.bincount(codes, weights=y)
    truth = 30 * np.mean((t - t.mean()) ** 2)
    assert np.var(W @ y, ddof=1) == pytest.approx(truth, rel=0.05)


def test_stratified_singletons_are_the_stratified_ordinary_bootstrap():
    rng = np.random.default_rng(12)
    n1, n0 = 40, 60
    y = rng.exponential(size=n1 + n0)
    arm = np.r_[np.ones(n1), np.zeros(n0)]
    W = np.vstack(list(cluster_bootstrap_counts(np.random.default_rng(6), np.arange(n1 + n0),
                                                20_000, arm)))
    assert (W[:, :n1].sum(axis=1) == n1).all() and (W[:, n1:].sum(axis=1) == n0).all()
    for pos, n in ((slice(0, n1), n1), (slice(n1, None), n0)):
        mean = W[:, pos] @ y[pos] / n
        assert np.var(mean, ddof=1) == pytest.approx(np.var(y[pos]) / n, rel=0.05)


def test_units_must_nest_in_strata_and_an_arm_needs_two():
    codes = np.array([0, 0, 1, 2, 2])
    with pytest.raises(NotEstimable, match="two arms"):
        units_by_stratum(codes, np.array([1, 1, 1, 0, 1]))
    with pytest.raises(NotEstimable, match="1 resampling unit"):
        units_by_stratum(np.array([0, 0, 1, 2]), np.array([1, 1, 0, 0]), min_units=2)
    with pytest.raises(TypeError, match="integer codes"):
        units_by_stratum(np.array(["a", "b"]))


def test_resample_medians_are_medians_of_the_expanded_resample():
    rng = np.random.default_rng(2)
    x = rng.poisson(2, size=25).astype(float)
    W = rng.multinomial(31, np.full(25, 1 / 25), size=200).astype(float)  # odd and even sizes
    W[::2, 0] += 1
    expected = [np.median(np.repeat(x, w.astype(int))) for w in W]
    np.testing.assert_array_equal(resample_medians(x, W), expected)


# -- days in hospital ------------------------------------------------------------------


def _days_trial(sizes, n0, seed, never=0):
    """ADSL and ADRE of a trial whose treated days share a peer-worker effect."""
    rng = np.random.default_rng(seed)
    codes, y = _caseloads(sizes, rng, icc_sd=3.0)
    n1 = codes.size + never
    ids = [f"P{i:04d}" for i in range(n1 + n0)]
    worker = [f"W{c:02d}" for c in codes] + [""] * (never + n0)
    days = np.r_[np.maximum(0, np.round(8 + 3 * y)), rng.poisson(8, size=never + n0)]
    adsl = pd.DataFrame({"USUBJID": ids, "ARM": ["peer_support"] * n1 + ["usual_care"] * n0,
                         "PEERWID": worker})
    adsl["CLUSTER"] = cluster_ids(adsl, "peer_support")
    adre = pd.DataFrame({"USUBJID": ids, "BEDDAYS": days, "NREADM": (days > 0).astype(int)})
    return adsl, adre


def test_hospital_days_cluster_bootstrap_matches_the_cluster_formula():
    G, m, n0, B = 20, 10, 200, 4000
    adsl, adre = _days_trial([m] * G, n0, seed=21)
    res = hospital_days(adre, adsl, n_boot=B, rng=np.random.default_rng(8), cluster="CLUSTER")
    plain = hospital_days(adre, adsl, n_boot=B, rng=np.random.default_rng(8))
    assert res.difference_ci == plain.difference_ci  # today's rows untouched
    x1 = adre["BEDDAYS"].to_numpy()[:G * m]
    x0 = adre["BEDDAYS"].to_numpy()[G * m:]
    t = x1.reshape(G, m).sum(axis=1)
    se = np.sqrt(np.mean((t - t.mean()) ** 2) / (G * m**2) + np.var(x0) / n0)
    c = res.peer_worker
    assert c.n_units == G and c.difference_se == pytest.approx(se, rel=0.06)
    assert c.difference_se > 1.5 * res.difference_se  # ICC ~0.9 of the days, m = 10
    f = res.to_frame()
    assert list(f["clustering"]) == ["none"] * 5 + ["peer_worker"] * 3
    pw = f.loc[f["clustering"] == "peer_worker"]
    assert list(pw["contrast"]) == ["peer_support", "peer_support", "peer_support vs usual_care"]
    np.testing.assert_array_equal(pw["estimate"], f.loc[[0, 1, 4], "estimate"])
    assert pw["std_error"].iloc[2] == c.difference_se  # the cluster bootstrap's own SE


def test_hospital_days_with_every_participant_unclustered_is_the_ordinary_bootstrap():
    adsl, adre = _days_trial([1] * 30, 40, seed=22)  # 30 caseloads of one
    B = 300
    res = hospital_days(adre, adsl, n_boot=B, rng=np.random.default_rng(9), cluster="CLUSTER")
    x1 = adre["BEDDAYS"].to_numpy()[:30]
    rng = np.random.default_rng(9)
    rng.integers(0, 30, size=(B, 30))  # today's draws: treated, then control
    rng.integers(0, 40, size=(B, 40))
    idx = np.vstack([rng.integers(0, 30, size=(min(block_rows(30), B - lo), 30))
                     for lo in range(0, B, block_rows(30))])
    q = [(1 - 0.95) / 2 * 100, (1 + 0.95) / 2 * 100]  # as hospital_days computes them
    np.testing.assert_allclose(res.peer_worker.mean_ci, np.percentile(x1[idx].mean(axis=1), q),
                               rtol=1e-12)
    assert res.peer_worker.median_ci == tuple(np.percentile(np.median(x1[idx], axis=1), q))
    assert res.peer_worker.mean_se == pytest.approx(x1[idx].mean(axis=1).std(ddof=1), rel=1e-12)
    assert res.peer_worker.median_se == np.median(x1[idx], axis=1).std(ddof=1)


def test_hospital_days_with_one_peer_worker_gives_not_estimable_rows():
    adsl, adre = _days_trial([25], 30, seed=23)
    f = hospital_days(adre, adsl, n_boot=50, rng=np.random.default_rng(1), cluster="CLUSTER").to_frame()
    pw = f.loc[f["clustering"] == "peer_worker"]
    assert len(pw) == 3 and (pw["status"] == "not estimable").all()
    assert pw["reason"].str.contains("1 resampling unit").all()
    assert (f.loc[f["clustering"] == "none", "status"] == "estimated").all()
    f = hospital_days(adre, adsl.drop(columns="CLUSTER"), n_boot=50, rng=np.random.default_rng(1),
                      cluster="CLUSTER").to_frame()
    assert f.loc[f["clustering"] == "peer_worker", "reason"].str.contains("no cluster column").all()


# -- mediation -------------------------------------------------------------------------


def _clustered_mediation_trial(G=30, m=8, n0=240, seed=31):
    """Peer-worker effects on the mediator and the outcome of the treated arm (ICC ~0.3)."""
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(G), m)
    n1 = codes.size
    a = np.r_[np.ones(n1), np.zeros(n0)]
    u = np.r_[rng.normal(0, 0.7, G)[codes], np.zeros(n0)]
    v = np.r_[rng.normal(0, 0.7, G)[codes], np.zeros(n0)]
    x = rng.normal(size=n1 + n0)
    med = 0.5 * a + 0.4 * x + u + rng.normal(size=n1 + n0)
    y = 0.6 * med + 0.3 * a + 0.4 * x + v + rng.normal(size=n1 + n0)
    adsl = pd.DataFrame({"USUBJID": [f"P{i:04d}" for i in range(n1 + n0)],
                         "ARM": np.where(a == 1, "peer_support", "usual_care"),
                         "PEERWID": [f"W{c:02d}" for c in codes] + [""] * n0})
    return adsl.assign(A=a, X=x, M=med, Y=y, CLUSTER=cluster_ids(adsl, "peer_support"))


def test_mediation_cluster_bootstrap_se_exceeds_the_naive_and_matches_cr0():
    d = _clustered_mediation_trial()
    kw = dict(exposure="A", mediators=["M"], outcome="Y", outcome_type="linear",
              covariates=["X"], n_boot=1000)
    naive = fit_mediation(d, rng=np.random.default_rng(1), **kw)
    nested = fit_mediation(d, rng=np.random.default_rng(1), cluster="CLUSTER", **kw)
    est = [r.to_frame().set_index("effect") for r in (naive, nested)]
    np.testing.assert_array_equal(est[0]["estimate"], est[1]["estimate"])
    se_naive, se_nested = (e.at["acme_average", "std_error"] for e in est)
    assert se_nested > 1.3 * se_naive
    assert nested.methods["resampling_units"].startswith("30 units (A=1), 240 units (A=0)")
    # the exposure coefficient of the mediator model: bootstrap SE vs CR0 sandwich
    X = sm.add_constant(d[["A", "X"]].to_numpy())
    fit = sm.OLS(d["M"].to_numpy(), X).fit(cov_type="cluster", cov_kwds={
        "groups": cluster_codes(d["CLUSTER"])[0], "use_correction": False})
    boot_a = nested.boot_params["M"]["mediator"][:, 1, 0]
    assert np.std(boot_a, ddof=1) == pytest.approx(fit.bse[1], rel=0.10)
    naive_a = naive.boot_params["M"]["mediator"][:, 1, 0]
    assert np.std(naive_a, ddof=1) < 0.8 * fit.bse[1]


def test_mediation_cluster_bootstrap_checks_its_clusters():
    d = _clustered_mediation_trial(G=4, m=5, n0=40)
    kw = dict(exposure="A", mediators=["M"], outcome="Y", outcome_type="linear", n_boot=20,
              rng=np.random.default_rng(1))
    with pytest.raises(NotEstimable, match="two arms"):
        fit_mediation(d.assign(CLUSTER="PW:all"), cluster="CLUSTER", **kw)
    with pytest.raises(NotEstimable, match="1 resampling unit"):
        fit_mediation(d.assign(CLUSTER=np.where(d["A"] == 1, "PW:one", d["CLUSTER"])),
                      cluster="CLUSTER", **kw)
    from outcomes.mediation import MediationDataError

    with pytest.raises(MediationDataError, match="missing labels"):
        fit_mediation(d.assign(CLUSTER=d["CLUSTER"].where(d["A"] == 0, None)),
                      cluster="CLUSTER", **kw)
    res = fit_mediation(d, cluster="CLUSTER", **kw)  # a pilot: 4 caseloads still runs
    assert (res.to_frame()["status"] == "estimated").all()


def test_on_a_simulated_clustered_trial_the_cluster_bootstrap_widens_the_acme():
    """The simulator's peer workers (``simulate(icc=0.3)``, seed 2: 59 treated units among
    ~290 treated participants): the ACME of HHI on WEMWBS at month 12 has a cluster
    bootstrap SE 1.25 x the naive one at B = 2,000 (seeds 1 and 3: 1.17, 1.11); > 1.1 is
    about 6 Monte Carlo SE (relative SE of a ratio of two bootstrap SEs: sqrt(2 / 2B) ~ 2.2%)
    above 1."""
    import warnings

    from outcomes.adam import derive_all
    from outcomes.mediation import fit_mediation_designs
    from outcomes.mediation.admed import mediation_data
    from outcomes.plan import AnalysisPlan
    from outcomes.simulate import simulate

    tables, truth = simulate(n=600, seed=2, truth_n=2000, icc=0.3)
    plan = AnalysisPlan.from_config({"data_cut": truth["meta"]["data_cut"]})
    ds = derive_all({k: v.to_frame() for k, v in tables.items()}, plan)
    d = mediation_data(ds["adsl"], ds["adqs"], ds["adtte"], plan)
    d["CLUSTER"] = cluster_ids(d, plan.treated_arm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # complete cases
        res = fit_mediation_designs(
            d, designs={"none": (np.random.default_rng(1), None),
                        "peer_worker": (np.random.default_rng(1), "CLUSTER")},
            exposure="TRTA01", mediators=["HHI_M"], outcome="WEMWBS_M12", outcome_type="linear",
            covariates=["WEMWBS_BL", "HHI_BL"], n_boot=2000)
    se = {k: r.to_frame().set_index("effect").at["acme_average", "std_error"] for k, r in res.items()}
    assert se["peer_worker"] > 1.1 * se["none"]
