"""Primary outcome: readmission within 12 months by logistic regression + standardisation.

Tolerances: identities (no covariates -> raw proportions and the unpooled Wald SE; IPCW with
Kaplan–Meier censoring weights -> 1 - Kaplan–Meier; statsmodels GLM) to 1e-8, i.e.
Newton convergence. Delta-method (influence-function) SE against a nonparametric bootstrap
of B = 1000 to 12%: the MC relative error of a bootstrap SD is 1/sqrt(2B) = 2.2%, plus
an O(1/n) difference between the two at n = 600; 12% is over 5 MC standard errors.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from survival_dgp import simulate_trial

from outcomes.survival import STRATEGIES, readmission_within
from outcomes.survival._common import design
from outcomes.survival.binary import g_computation, logistic_fit, outcome_status


@pytest.fixture(scope="module")
def trial():
    return simulate_trial(600, seed=21)


def test_logistic_fit_matches_statsmodels(trial):
    adsl, adtte, _, _ = trial
    d = adtte.merge(adsl[["USUBJID", "DIAGGR"]], on="USUBJID")
    y = ((d.CNSR == 0) & (d.AVAL <= 365)).astype(float)
    X = np.column_stack([np.ones(len(d)), d.ARM == "peer_support",
                         design(d, ["SITEID", "DIAGGR"])]).astype(float)
    beta, H = logistic_fit(X, y)
    ref = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-13)
    np.testing.assert_allclose(beta, ref.params, atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(np.linalg.inv(H))), ref.bse, rtol=1e-8)
    res = readmission_within(adtte, adsl, strategy="exclude_incomplete")
    st = outcome_status(d, 365)
    used = ~(st.death | st.lost)
    ref2 = sm.GLM(y[used].to_numpy(), X[used.to_numpy()], family=sm.families.Binomial()).fit(tol=1e-13)
    assert res.cond_log_or[0] == pytest.approx(ref2.params[1], abs=1e-8)
    assert res.cond_log_or[1] == pytest.approx(ref2.bse[1], rel=1e-8)


def test_no_covariates_gives_proportions_and_the_wald_se():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 300).astype(float)
    y = (rng.random(300) < np.where(a == 1, 0.3, 0.45)).astype(float)
    gc = g_computation(np.empty((300, 0)), a, y, np.ones(300, bool))
    p1, p0 = y[a == 1].mean(), y[a == 0].mean()
    n1, n0 = (a == 1).sum(), (a == 0).sum()
    assert gc.risk1 == pytest.approx(p1, abs=1e-10)
    assert gc.risk0 == pytest.approx(p0, abs=1e-10)
    assert gc.rd[1] == pytest.approx(np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0), rel=1e-8)
    # log odds ratio SE = sqrt(sum 1/cell) (Woolf) in the saturated case
    cells = [((a == k) & (y == v)).sum() for k in (0, 1) for v in (0, 1)]
    assert gc.log_or[1] == pytest.approx(np.sqrt(sum(1 / c for c in cells)), rel=1e-8)


def test_delta_method_se_against_bootstrap(trial):
    adsl, adtte, _, _ = trial
    d = adtte.merge(adsl[["USUBJID", "DIAGGR"]], on="USUBJID")
    y = ((d.CNSR == 0) & (d.AVAL <= 365)).to_numpy(float)
    a = (d.ARM == "peer_support").to_numpy(float)
    Z = design(d, ["SITEID", "DIAGGR"]).to_numpy(float)
    used = np.ones(len(d), bool)
    gc = g_computation(Z, a, y, used)
    rng = np.random.default_rng(5)
    B = 1000
    rd, lor = np.empty(B), np.empty(B)
    for b in range(B):
        i = rng.integers(0, len(d), len(d))
        g = g_computation(Z[i], a[i], y[i], used[i])
        rd[b], lor[b] = g.rd[0], g.log_or[0]
    assert gc.rd[1] == pytest.approx(rd.std(ddof=1), rel=0.12)
    assert gc.log_or[1] == pytest.approx(lor.std(ddof=1), rel=0.12)


def test_ipcw_with_km_weights_reproduces_kaplan_meier(trial):
    adsl, adtte, _, _ = trial
    ipcw = readmission_within(adtte, adsl, strategy="hypothetical_ipcw", covariates=())
    km = readmission_within(adtte, adsl, strategy="hypothetical_km")
    np.testing.assert_allclose(ipcw.risk, km.risk, atol=1e-10)
    # while alive with no loss to follow-up: weights are 1 and equal the plain proportions
    no_loss = adtte.loc[~outcome_status(adtte, 365).lost]
    wa = readmission_within(no_loss, adsl, strategy="while_alive", covariates=())
    ev = (no_loss.CNSR == 0) & (no_loss.AVAL <= 365)
    for k, arm in enumerate(("peer_support", "usual_care")):
        assert wa.risk[k] == pytest.approx(ev[no_loss.ARM == arm].mean(), abs=1e-10)


def test_strategies_define_the_outcome_and_population(trial):
    adsl, adtte, _, _ = trial
    st = outcome_status(adtte, 365)
    out = {s: readmission_within(adtte, adsl, strategy=s) for s in STRATEGIES}
    n = len(adtte)
    assert out["while_alive"].n_used == n - st.lost.sum()
    assert out["composite"].events == st.event.sum() + st.death.sum() - (st.event & st.lost).sum()
    assert out["exclude_incomplete"].n_used == n - st.lost.sum() - st.death.sum()
    assert out["hypothetical_km"].n_used == n
    # counting deaths as failures cannot lower the risk
    assert all(c >= w for c, w in zip(out["composite"].risk, out["while_alive"].risk,
                                      strict=True))
    for s, r in out.items():
        f = r.to_frame()
        assert set(f.strategy) == {s}
        assert {"risk", "risk_difference", "odds_ratio"} <= set(f.estimate_type)
        row = f.set_index("estimate_type").loc["risk_difference"]
        assert row.ci_low < row.estimate < row.ci_high
        assert r.estimand
    with pytest.raises(ValueError):
        readmission_within(adtte, adsl, strategy="treatment_policy")


def test_arm_codes_are_checked(trial):
    adsl, adtte, _, _ = trial
    bad = adtte.assign(ARM=np.where(adtte.ARM == "usual_care", "control", adtte.ARM))
    with pytest.raises(ValueError, match="ARM has codes"):
        readmission_within(bad, adsl)
    assert isinstance(readmission_within(adtte, adsl).to_frame(), pd.DataFrame)
