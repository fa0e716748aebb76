"""Kaplan–Meier, stratified log-rank and RMST against hand computations and references.

Tolerances: hand computations and algebraically identical references (lifelines,
statsmodels) to 1e-10 (floating point only). The RMST variance against a bootstrap is
checked to 10%: with B = 2000 resamples the Monte Carlo relative error of a bootstrap SD
is about 1/sqrt(2B) = 1.6%, and the bootstrap and the asymptotic formula differ by
O(1/n) besides (n = 300 here); 10% is over 5 MC standard errors.
"""

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test
from lifelines.utils import restricted_mean_survival_time
from statsmodels.duration.survfunc import survdiff

from outcomes.survival import kaplan_meier, km_table, logrank, rmst_difference, rmst_km
from outcomes.survival.km import logrank_components, risk_table

# A small table with tied events, a censoring tied with events, and a last event with n = d.
T = np.array([1, 2, 2, 2, 3, 4, 4, 5, 6, 7], float)
E = np.array([1, 1, 1, 0, 0, 1, 0, 1, 0, 1])


def test_km_hand_table():
    tab = km_table(T, E).set_index("time")
    # t=1: 10 at risk, 1 event            S = 9/10                    = 0.9
    # t=2: 9 at risk, 2 events, 1 censored S = 0.9 * 7/9             = 0.7
    # t=3: 6 at risk, 0 events             S = 0.7
    # t=4: 5 at risk, 1 event, 1 censored  S = 0.7 * 4/5             = 0.56
    # t=5: 3 at risk, 1 event              S = 0.56 * 2/3
    # t=6: 2 at risk, censored             S unchanged
    # t=7: 1 at risk, 1 event              S = 0
    s = {1: 0.9, 2: 0.7, 3: 0.7, 4: 0.56, 5: 0.56 * 2 / 3, 6: 0.56 * 2 / 3, 7: 0.0}
    for t, v in s.items():
        assert tab.loc[t, "survival"] == pytest.approx(v, abs=1e-12)
    assert list(tab["n_risk"]) == [10, 9, 6, 5, 3, 2, 1]
    # Greenwood: sum d / (n (n - d))
    gw2 = 1 / (10 * 9) + 2 / (9 * 7)
    assert tab.loc[2, "std_err"] == pytest.approx(0.7 * np.sqrt(gw2), abs=1e-12)
    gw5 = gw2 + 1 / (5 * 4) + 1 / (3 * 2)
    assert tab.loc[5, "std_err"] == pytest.approx(0.56 * 2 / 3 * np.sqrt(gw5), abs=1e-12)


def test_km_matches_lifelines_on_tied_data():
    rng = np.random.default_rng(3)
    t = rng.integers(0, 60, 300).astype(float)
    e = rng.random(300) < 0.6
    tab = km_table(t, e)
    kmf = KaplanMeierFitter().fit(t, e)
    ref = kmf.survival_function_.iloc[:, 0]
    np.testing.assert_allclose(tab["survival"], ref.loc[tab["time"]].to_numpy(), atol=1e-12)


def test_risk_table_adds_up_to_n():
    rt = risk_table(T, E, [0, 2, 4, 7, 8])
    assert list(rt["at_risk"]) == [10, 9, 5, 1, 0]
    assert list(rt["events"]) == [0, 1, 3, 5, 6]
    assert list(rt["censored"]) == [0, 0, 2, 4, 4]
    assert (rt["at_risk"] + rt["events"] + rt["censored"] == 10).all()


def _trial(n=400, seed=0, sites=4, ties=True):
    rng = np.random.default_rng(seed)
    arm = np.where(rng.permutation(np.arange(n) % 2) == 1, "peer_support", "usual_care")
    site = rng.choice([f"S{i}" for i in range(sites)], n)
    rate = 0.004 * np.where(arm == "peer_support", 0.7, 1.0) * (1 + 0.3 * (site == "S1"))
    t = rng.exponential(1 / rate)
    c = rng.uniform(100, 500, n)
    time = np.minimum(np.minimum(t, c), 365)
    if ties:
        time = np.floor(time)
    cnsr = np.where((t <= c) & (t < 365), 0, 1)
    return pd.DataFrame({"USUBJID": [f"P{i}" for i in range(n)], "PARAMCD": "READMIT",
                         "AVAL": time, "CNSR": cnsr, "ARM": arm, "SITEID": site})


def test_logrank_one_stratum_matches_lifelines():
    d = _trial()
    res = logrank(d, strata=None)
    g = d["ARM"] == "peer_support"
    ref = logrank_test(d.AVAL[g], d.AVAL[~g], (d.CNSR[g] == 0), (d.CNSR[~g] == 0))
    assert res.chisq == pytest.approx(ref.test_statistic, rel=1e-10)
    assert res.p_value == pytest.approx(ref.p_value, rel=1e-8)


def test_stratified_logrank_matches_statsmodels_survdiff():
    d = _trial(seed=5)
    res = logrank(d, strata=("SITEID",))
    chisq, p = survdiff(d.AVAL.to_numpy(), (d.CNSR == 0).astype(int).to_numpy(),
                        (d.ARM == "peer_support").astype(int).to_numpy(),
                        strata=d.SITEID.to_numpy())
    assert res.chisq == pytest.approx(chisq, rel=1e-10)
    assert res.p_value == pytest.approx(p, rel=1e-8)
    assert res.n_strata == 4
    # stratified is the sum of per-stratum components
    parts = [logrank_components(s.AVAL, s.CNSR == 0, s.ARM == "peer_support")
             for _, s in d.groupby("SITEID")]
    assert res.observed - res.expected == pytest.approx(sum(o - e for o, e, _ in parts))
    assert res.variance == pytest.approx(sum(v for *_, v in parts))


def test_rmst_hand_table():
    rmst, var = rmst_km(T, E, tau=6)
    s5 = 0.56 * 2 / 3
    # integral of the step function on [0, 6]
    assert rmst == pytest.approx(1 * 1 + 0.9 * 1 + 0.7 * 2 + 0.56 * 1 + s5 * 1, abs=1e-12)
    # A_j = integral from event time t_j to tau; var = sum A_j^2 d_j / (n_j (n_j - d_j))
    a5 = s5
    a4 = 0.56 + a5
    a2 = 0.7 * 2 + a4
    a1 = 0.9 + a2
    v = a1**2 / (10 * 9) + a2**2 * 2 / (9 * 7) + a4**2 / (5 * 4) + a5**2 / (3 * 2)
    assert var == pytest.approx(v, abs=1e-12)
    # the point estimate is lifelines' too
    kmf = KaplanMeierFitter().fit(T, E)
    assert rmst == pytest.approx(restricted_mean_survival_time(kmf, t=6), abs=1e-9)


def test_rmst_tau_beyond_follow_up_is_not_estimable():
    from outcomes.errors import NotEstimable

    with pytest.raises(NotEstimable, match="beyond"):
        rmst_km([1, 2, 3], [1, 0, 0], tau=10)


def test_rmst_variance_against_bootstrap():
    rng = np.random.default_rng(11)
    n = 300
    tt = rng.weibull(0.9, n) * 400
    cc = rng.uniform(150, 700, n)
    t = np.floor(np.minimum(np.minimum(tt, cc), 365))
    e = (tt <= cc) & (tt < 365)
    _, var = rmst_km(t, e, 365)
    B = 2000
    boots = np.empty(B)
    for b in range(B):
        i = rng.integers(0, n, n)
        boots[b] = rmst_km(t[i], e[i], 365)[0]
    assert np.sqrt(var) == pytest.approx(boots.std(ddof=1), rel=0.10)
    # lifelines' return_variance is the variance of min(T, tau), about n times larger
    kmf = KaplanMeierFitter().fit(t, e)
    with pytest.warns(Warning):  # lifelines integrates the step function numerically
        _, v_ll = restricted_mean_survival_time(kmf, t=365, return_variance=True)
    assert v_ll > 50 * var


def test_kaplan_meier_by_arm_and_median():
    d = _trial(seed=2)
    res = kaplan_meier(d)
    assert [c.arm for c in res.curves] == ["peer_support", "usual_care"]
    for c in res.curves:
        sub = d[d.ARM == c.arm]
        kmf = KaplanMeierFitter().fit(sub.AVAL, sub.CNSR == 0)
        assert c.median == kmf.median_survival_time_
        assert c.n == len(sub) and c.events == (sub.CNSR == 0).sum()
    f = res.to_frame()
    assert list(f["estimate_type"]) == ["median_time", "median_time"]
    s = res.survival_at([0, 100, 365])
    assert ((s.ci_low <= s.survival) & (s.survival <= s.ci_high)).all()


def test_rmst_difference_frame():
    d = _trial(seed=4)
    res = rmst_difference(d, tau=365)
    f = res.to_frame()
    assert list(f["estimate_type"]) == ["rmst", "rmst", "rmst_difference"]
    assert f.iloc[2]["estimate"] == pytest.approx(res.rmst[0] - res.rmst[1])
    assert f.iloc[2]["ci_low"] < f.iloc[2]["estimate"] < f.iloc[2]["ci_high"]
