"""Sensitivity analyses of the primary outcome (docs/survival.md, "Sensitivity analyses of
the primary outcome"): the plan key, the rows of every strategy in both designs, the
clustered variance of the Kaplan–Meier strategy, and not-estimable strategies.

Every strategy's numbers are checked against R in tests/test_r_oracle.py (the
``primary_sensitivity`` rows of survival.tsv, 1e-6 relative) and against a known truth in
tests/test_survival_recovery.py and tests/test_truth_agreement.py. Here: the clustered
Kaplan–Meier variance against two independent computations, (i) the Greenwood variance
when every participant is alone (an exact identity: 1e-12, floating point only) and
(ii) finite differences of the case-weighted Kaplan–Meier risk summed by peer worker
(central differences with h = 1e-6: truncation O(h²) and rounding O(1e-16/h), so 1e-6
relative).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from survival_dgp import simulate_trial

from outcomes.clustering import cluster_ids
from outcomes.errors import ConfigError
from outcomes.plan import AnalysisPlan
from outcomes.survival import STRATEGIES, readmission_within
from outcomes.survival._common import Arms, joined_labels
from outcomes.survival.run import SENSITIVITY, primary_outcome
from outcomes.survival.tables import KEY, results_table

ARMS = Arms("peer_support", "usual_care")


@pytest.fixture(scope="module")
def trial():
    adsl, adtte, _, _ = simulate_trial(400, seed=5)
    treated = adsl.index[adsl["ARM"] == "peer_support"]
    adsl["PEERWID"] = ""
    # 12 peer workers, every 7th treated participant never engaged (a cluster of one)
    adsl.loc[treated, "PEERWID"] = ["" if k % 7 == 0 else f"W{k % 12}"
                                    for k in range(len(treated))]
    adsl["CLUSTER"] = cluster_ids(adsl, "peer_support")
    return adsl, adtte


def test_plan_key_defaults_to_every_strategy_and_leaves_out_the_primary():
    assert AnalysisPlan.from_config({}).sensitivity_strategies == STRATEGIES[1:]
    plan = AnalysisPlan.from_config({"survival": {
        "primary_strategy": "composite",
        "sensitivity_strategies": ["hypothetical_km", "composite", "while_alive"]}})
    assert plan.sensitivity_strategies == ("hypothetical_km", "while_alive")
    none = AnalysisPlan.from_config({"survival": {"sensitivity_strategies": []}})
    assert none.sensitivity_strategies == ()
    with pytest.raises(ConfigError, match="sensitivity_strategies"):
        AnalysisPlan.from_config({"survival": {"sensitivity_strategies": ["per_protocol"]}})
    with pytest.raises(ConfigError, match="sensitivity_strategies"):
        AnalysisPlan.from_config({"survival": {"sensitivity_strategies": ["composite",
                                                                          "composite"]}})


def test_every_strategy_gives_its_rows_in_both_designs(trial):
    adsl, adtte = trial
    plan = AnalysisPlan.from_config({})
    ns = tuple(int((adsl["ARM"] == a).sum()) for a in (ARMS.treated, ARMS.control))
    results = []
    for s in plan.sensitivity_strategies:
        results += primary_outcome(adtte, adsl, plan, ARMS, SENSITIVITY, s,
                                   f"READMIT within 365 days ({s})", ns)
    t = results_table(results)
    assert not t.duplicated(KEY + ["clustering"]).any()
    assert (t["status"] == "estimated").all()
    assert list(pd.unique(t["strategy"])) == list(STRATEGIES[1:])
    for s in STRATEGIES[1:]:
        r = t.loc[t["strategy"] == s]
        naive, nested = r.loc[r["clustering"] == "none"], r.loc[r["clustering"] == "peer_worker"]
        km = s == "hypothetical_km"
        assert list(naive["estimate_type"]) == (
            ["risk", "risk", "risk_difference", "odds_ratio"]
            + ([] if km else ["conditional_odds_ratio"]))
        # the control arm's Kaplan-Meier risk does not depend on the design: written once
        assert list(nested["estimate_type"]) == (
            ["risk", "risk_difference", "odds_ratio"] if km else
            ["risk", "risk", "risk_difference", "odds_ratio", "conditional_odds_ratio", "icc"])
        assert (r["outcome"] == f"READMIT within 365 days ({s})").all()
        # twins: the same estimates, their own CIs, a design effect
        rd = r.loc[r["estimate_type"] == "risk_difference"].set_index("clustering")
        assert rd.at["peer_worker", "estimate"] == rd.at["none", "estimate"]
        assert rd.at["peer_worker", "design_effect"] > 0
        assert rd.at["peer_worker", "n_clusters"] == adsl["CLUSTER"].nunique()
    # the strategies estimate different things: the composite counts deaths
    rd = t.loc[(t["estimate_type"] == "risk") & (t["clustering"] == "none")
               & (t["contrast"] == "usual_care")].set_index("strategy")["estimate"]
    assert rd["composite"] > rd["hypothetical_km"]


def test_clustered_km_risk_is_greenwood_when_everyone_is_alone(trial):
    adsl, adtte = trial
    alone = adsl.assign(CLUSTER="ID:" + adsl["USUBJID"])
    naive = readmission_within(adtte, adsl, strategy="hypothetical_km")
    nested = readmission_within(adtte, alone, strategy="hypothetical_km", cluster="CLUSTER")
    assert nested.clustering == "peer_worker"
    np.testing.assert_allclose(nested.risk_se, naive.risk_se, rtol=1e-12)
    np.testing.assert_allclose(nested.rd, naive.rd, rtol=1e-12)


def _weighted_km_risk(time, event, w, horizon):
    """1 − S(horizon) of the case-weighted Kaplan–Meier estimator (a loop, no library)."""
    s = 1.0
    for t in np.unique(time[event & (time <= horizon)]):
        at_risk = w[time >= t].sum()
        d = w[(time == t) & event].sum()
        s *= 1 - d / at_risk
    return 1 - s


def test_clustered_km_variance_is_the_grouped_derivative_in_the_case_weights(trial):
    adsl, adtte = trial
    res = readmission_within(adtte, adsl, strategy="hypothetical_km", cluster="CLUSTER")
    d = adtte.merge(adsl[["USUBJID", "CLUSTER"]], on="USUBJID")
    d = d.loc[d["ARM"] == "peer_support"]
    time, event = d["AVAL"].to_numpy(float), d["CNSR"].to_numpy() == 0
    h = 1e-6
    D = []
    for g in pd.unique(d["CLUSTER"]):
        m = (d["CLUSTER"] == g).to_numpy()
        up = _weighted_km_risk(time, event, np.where(m, 1 + h, 1.0), 365)
        down = _weighted_km_risk(time, event, np.where(m, 1 - h, 1.0), 365)
        D.append((up - down) / (2 * h))
    assert res.risk_se[0] == pytest.approx(np.sqrt(np.sum(np.square(D))), rel=1e-6)
    assert res.risk[0] == pytest.approx(_weighted_km_risk(time, event, np.ones(len(d)), 365),
                                        rel=1e-12)


def test_a_strategy_that_cannot_be_estimated_gives_its_own_not_estimable_rows(trial):
    """No readmission in the treated arm, but deaths: while-alive, IPCW and Kaplan–Meier
    risks are 0 there (not estimable, with the reason); the composite counts the deaths
    and is estimated. Nothing raises."""
    adsl, adtte = trial
    adtte = adtte.copy()
    treated_ev = (adtte["ARM"] == "peer_support") & (adtte["CNSR"] == 0)
    adtte.loc[treated_ev, ["CNSR", "CMPEVFL"]] = [1, "Y"]  # readmissions become deaths
    plan = AnalysisPlan.from_config({})
    ns = tuple(int((adsl["ARM"] == a).sum()) for a in (ARMS.treated, ARMS.control))
    out = {}
    for s in STRATEGIES:
        t = results_table(primary_outcome(adtte, adsl, plan, ARMS, SENSITIVITY, s, s, ns))
        out[s] = t.loc[t["estimate_type"] == "risk_difference"].set_index("clustering")
    for s in ("while_alive", "hypothetical_ipcw", "exclude_incomplete", "hypothetical_km"):
        assert (out[s]["status"] == "not estimable").all(), s
        assert out[s]["reason"].str.len().gt(0).all()
        assert out[s]["estimate"].isna().all()
    assert (out["composite"]["status"] == "estimated").all()


def test_joined_labels_equal_the_row_wise_join():
    df = pd.DataFrame({"ARM": ["a", "b", "a"], "SITEID": [1, 2, 1], "X": ["p", "", "q"]})
    for cols in (["ARM"], ["ARM", "SITEID"], ["ARM", "SITEID", "X"]):
        pd.testing.assert_series_equal(joined_labels(df, cols),
                                       df[cols].astype(str).agg("|".join, axis=1),
                                       check_names=False)
    assert (joined_labels(df, []) == "").all()
