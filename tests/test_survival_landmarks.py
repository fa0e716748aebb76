"""Kaplan–Meier survival at landmark times (outcomes.survival.landmarks): closed forms,
the not-estimable rules and the peer-worker variance. R's ``summary(survfit(...),
times = )`` is the oracle of the pipeline's rows in tests/test_r_oracle.py."""

import numpy as np
import pandas as pd
import pytest
from survival_dgp import simulate_trial

from outcomes.clustering.nonparametric import grouped_variance, km_influence
from outcomes.errors import NotEstimable
from outcomes.survival import survival_at_landmarks
from outcomes.survival.km import km_table, loglog_ci
from outcomes.survival.landmarks import landmark_times


def _adtte(time, event, arm) -> pd.DataFrame:
    n = len(time)
    return pd.DataFrame({"USUBJID": [f"P{i:03d}" for i in range(n)], "PARAMCD": "READMIT",
                         "AVAL": np.asarray(time, float),
                         "CNSR": np.where(np.asarray(event, bool), 0, 1), "ARM": arm})


def test_without_censoring_survival_is_the_proportion_and_greenwood_is_binomial():
    """No censoring: S(t) = #{T > t}/n and Greenwood's variance = S(1 − S)/n (exact)."""
    rng = np.random.default_rng(4)
    t = rng.integers(1, 400, size=200)
    arm = np.where(np.arange(200) < 80, "peer_support", "usual_care")
    res = survival_at_landmarks(_adtte(t, np.ones(200), arm), times=[90, 180])
    f = res.to_frame()
    assert list(f.outcome) == ["READMIT at day 90"] * 3 + ["READMIT at day 180"] * 3
    assert list(f.estimate_type) == ["survival", "survival", "survival_difference"] * 2
    assert list(f.horizon) == [90.0] * 3 + [180.0] * 3
    for k, day in enumerate((90, 180)):
        s = [np.mean(t[arm == a] > day) for a in ("peer_support", "usual_care")]
        se = [np.sqrt(p * (1 - p) / n) for p, n in zip(s, (80, 120), strict=True)]
        np.testing.assert_allclose(f.estimate[3 * k:3 * k + 3], [*s, s[0] - s[1]], rtol=1e-12)
        np.testing.assert_allclose([c.std_err[k] for c in res.curves], se, rtol=1e-12)
        # events by the landmark; the difference's SE is that of two independent arms
        assert list(f.events[3 * k:3 * k + 3]) == [
            (t[arm == "peer_support"] <= day).sum(), (t[arm == "usual_care"] <= day).sum(),
            (t <= day).sum()]
        assert f.std_error[3 * k + 2] == pytest.approx(np.hypot(*se), rel=1e-12)
        # the arm rows: log(-log) CI, std_error on that scale
        lo, hi = loglog_ci(s, se)
        np.testing.assert_allclose(f.ci_low[3 * k:3 * k + 2], lo, rtol=1e-12)
        np.testing.assert_allclose(f.ci_high[3 * k:3 * k + 2], hi, rtol=1e-12)
        np.testing.assert_allclose(f.std_error[3 * k:3 * k + 2],
                                   np.array(se) / (np.array(s) * -np.log(s)), rtol=1e-12)


def test_landmarks_follow_the_step_function_with_censoring():
    """S(t) is the KM table's value at the last time <= t (events on day t count)."""
    adsl, adtte, _, _ = simulate_trial(300, seed=5)
    f = survival_at_landmarks(adtte, times=[0.5, 100, 364]).to_frame()
    for a in ("peer_support", "usual_care"):
        sub = adtte.loc[adtte.ARM == a]
        tab = km_table(sub.AVAL, sub.CNSR == 0)
        for day in (0.5, 100, 364):
            k = tab.time.searchsorted(day, "right") - 1
            row = f.loc[(f.contrast == a) & (f.horizon == day)].iloc[0]
            assert row.estimate == (tab.survival[k] if k >= 0 else 1.0)
            assert row.events == ((sub.AVAL <= day) & (sub.CNSR == 0)).sum()


def test_a_landmark_beyond_follow_up_is_not_estimable_and_the_others_still_are():
    t = np.r_[np.arange(10, 310, 10), np.arange(10, 210, 10) * 1.0]
    arm = ["peer_support"] * 30 + ["usual_care"] * 20
    ev = np.arange(50) % 3 == 0
    f = survival_at_landmarks(_adtte(t, ev, arm), times=[100, 250]).to_frame()
    assert (f.loc[f.horizon == 100, "status"] == "estimated").all()
    late = f.loc[f.horizon == 250].set_index("contrast")
    assert late.at["peer_support", "status"] == "estimated"
    assert late.at["usual_care", "status"] == "not estimable"
    assert "beyond the last follow-up of the usual_care arm (day 200)" in late.at[
        "usual_care", "reason"]
    assert late.at["peer_support vs usual_care", "status"] == "not estimable"
    assert np.isnan(late.at["usual_care", "estimate"])


def test_no_event_by_the_landmark_gives_s_of_1_and_a_not_estimable_difference():
    t = np.r_[np.full(10, 50.0), np.arange(60, 160, 10)]
    arm = ["peer_support", "usual_care"] * 10
    f = survival_at_landmarks(_adtte(t, t > 55, arm), times=[40]).to_frame()
    assert list(f.estimate[:2]) == [1.0, 1.0] and f.std_error[:2].isna().all()
    assert list(f.ci_low[:2]) == [1.0, 1.0]  # as R's log-log band at S = 1
    assert f.status[2] == "not estimable" and "no READMIT event by day 40" in f.reason[2]


def test_km_influence_is_greenwood_alone_and_clusters_widen_it():
    """Every participant alone: Σ D_i² equals Greenwood's variance exactly; caseloads with
    a shared frailty make the grouped variance larger."""
    rng = np.random.default_rng(11)
    G, m = 25, 8
    frail = np.repeat(rng.gamma(0.5, 2.0, G), m)
    t = np.ceil(rng.exponential(300 / frail)).clip(max=365)
    e = t < 365
    for day in (60, 180, 365):
        tab = km_table(t, e)
        k = tab.time.searchsorted(day, "right") - 1
        D = km_influence(t, e, day)
        assert np.sum(D**2) == pytest.approx(tab.std_err[k] ** 2, rel=1e-10)
        assert grouped_variance(D, np.repeat(np.arange(G), m)) > 2 * np.sum(D**2)
    assert km_influence(t, e, 0.5).tolist() == [0.0] * t.size  # before any event


def test_peer_worker_rows_treated_arm_and_difference_with_the_grouped_variance():
    rng = np.random.default_rng(12)
    n1, n0 = 120, 100
    t = np.ceil(rng.exponential(400, n1 + n0)).clip(max=365)
    arm = ["peer_support"] * n1 + ["usual_care"] * n0
    adtte = _adtte(t, t < 365, arm)
    cl = [f"PW:{i % 12}" for i in range(n1)] + [f"ID:P{i:03d}" for i in range(n1, n1 + n0)]
    adsl = adtte[["USUBJID"]].assign(CLUSTER=cl)
    naive = survival_at_landmarks(adtte, times=[180], adsl=adsl)
    nested = survival_at_landmarks(adtte, times=[180], adsl=adsl, cluster="CLUSTER")
    f = nested.to_frame()
    assert list(f.contrast) == ["peer_support", "peer_support vs usual_care"]
    assert set(f.clustering) == {"peer_worker"} and list(f.n_clusters) == [12, 12 + n0]
    tr = adtte.AVAL[:n1], adtte.CNSR[:n1] == 0
    v1 = grouped_variance(km_influence(*tr, 180), cl[:n1])
    assert nested.curves[0].std_err[0] == pytest.approx(np.sqrt(v1), rel=1e-12)
    # the control arm is unclustered: its grouped variance is Greenwood's
    assert nested.curves[1].std_err[0] == pytest.approx(naive.curves[1].std_err[0], rel=1e-10)
    np.testing.assert_array_equal(f.estimate, naive.to_frame().estimate[[0, 2]])
    # one peer worker and nobody else in the treated arm: not estimable, with the reason
    one = adsl.assign(CLUSTER=["PW:1"] * n1 + cl[n1:])
    g = survival_at_landmarks(adtte, times=[180], adsl=one, cluster="CLUSTER").to_frame()
    assert (g.status == "not estimable").all() and "at least 2 clusters" in g.reason[0]


def test_the_horizon_is_always_a_landmark():
    assert landmark_times([90, 180, 365], 365) == (90.0, 180.0, 365.0)
    assert landmark_times([], 365) == (365.0,)
    assert landmark_times([400, 30], 365) == (30.0, 365.0)  # none after the horizon


def test_the_not_estimable_fallback_has_the_rows_of_the_result():
    """run_survival's rows for a landmark analysis that fails as a whole (an empty arm)
    identify the same rows as the estimated result, naive and clustered."""
    from outcomes.survival._common import DEFAULT_ARMS, NotEstimableResult
    from outcomes.survival.run import landmark_rows

    adsl, adtte, _, _ = simulate_trial(200, seed=3)
    adsl = adsl.assign(CLUSTER=np.where(adsl.ARM == "peer_support",
                                        "PW:" + (np.arange(len(adsl)) % 5).astype(str),
                                        "ID:" + adsl.USUBJID))
    key = ["analysis", "clustering", "outcome", "contrast", "estimate_type", "horizon"]
    for cl, cluster in (("none", None), ("peer_worker", "CLUSTER")):
        res = survival_at_landmarks(adtte, times=[90, 365], adsl=adsl, cluster=cluster)
        rows = landmark_rows("community_tenure", "READMIT", DEFAULT_ARMS, (90.0, 365.0),
                             (100, 100), cl)
        fallback = NotEstimableResult("why", tuple(rows)).to_frame()
        pd.testing.assert_frame_equal(fallback[key], res.to_frame()[key])
        assert (fallback.status == "not estimable").all()
    with pytest.raises(NotEstimable, match="usual_care arm has no participant"):
        survival_at_landmarks(adtte.loc[adtte.ARM == "peer_support"], times=[90])
