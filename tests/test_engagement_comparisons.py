"""Engagement by arm (engagement.tsv) and the per-protocol and as-treated comparisons
(cace.tsv) on small hand-made ADSL/ADTTE/ADQS frames, against hand computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from outcomes.cace.comparisons import (
    AS_TREATED,
    BIASED,
    PER_PROTOCOL,
    cace_table,
    comparison_population,
    run_engagement,
)
from outcomes.cace.engagement import engagement_by_arm
from outcomes.plan import AnalysisPlan
from outcomes.survival._common import Arms

ARMS = ("peer_support", "usual_care")
#: No covariates, no censoring: the standardised risks are the proportions readmitted.
PLAN = AnalysisPlan.from_config({"survival": {"primary_covariates": []}, "visits": ["month_4"],
                                 "stratifiers": ["SITEID"]})  # one site: no column


def _trial(engaged: np.ndarray | None = None, seed: int = 7, n: int = 40):
    """ADSL, ADTTE (READMIT: readmitted by day 365 or followed to it) and ADQS (WEMWBS at
    baseline and month 4) of ``n`` participants, half in each arm, four peer workers."""
    rng = np.random.default_rng(seed)
    arm = np.repeat(ARMS, n // 2)
    treated = arm == ARMS[0]
    eng = treated & (rng.random(n) < 0.7) if engaged is None else engaged
    ncont = np.where(eng, rng.integers(1, 9, n), 0)
    worker = np.where(ncont > 0, np.array([f"W{k % 4}" for k in range(n)]), "")
    ids = [f"P{k:02d}" for k in range(n)]
    adsl = pd.DataFrame({"USUBJID": ids, "SITEID": "S1", "ARM": arm, "ITTFL": "Y",
                         "NCONTACT": ncont, "CONTMIN": 30 * ncont, "PEERWID": worker,
                         "NCONTWIN": ncont, "CONTMWIN": 30 * ncont,
                         "ENGFL": np.where(ncont > 0, "Y", "N")})
    event = rng.random(n) < np.where(eng, 0.3, 0.55)
    adtte = pd.DataFrame({"USUBJID": ids, "PARAMCD": "READMIT", "ARM": arm,
                          "AVAL": np.where(event, rng.integers(10, 300, n), 365).astype(float),
                          "CNSR": np.where(event, 0, 1), "CMPEVFL": "N"})
    base = rng.normal(45, 8, n)
    m4 = base + 2 * eng + rng.normal(0, 5, n)
    adqs = pd.concat([pd.DataFrame({"USUBJID": ids, "PARAMCD": "WEMWBS", "PARAM": "WEMWBS",
                                    "AVISIT": v, "AVAL": x, "ABLFL": f})
                      for v, x, f in (("baseline", base, "Y"), ("month_4", m4, ""))])
    return adsl, adtte, adqs, event


def test_engagement_by_arm_on_a_small_frame():
    adsl = pd.DataFrame({"USUBJID": list("ABCDEF"), "ITTFL": ["Y"] * 5 + ["N"],
                         "ARM": ["peer_support"] * 3 + ["usual_care"] * 3,
                         "ENGFL": ["Y", "Y", "N", "Y", "N", "Y"],
                         "NCONTWIN": [2, 5, 0, 1, 0, 9], "NCONTACT": [3, 5, 0, 1, 0, 9],
                         "CONTMWIN": [60, 100, 0, 30, 0, 9], "CONTMIN": [90, 100, 0, 30, 0, 9]})
    e = engagement_by_arm(adsl, ARMS)
    assert e.value("peer_support", "participants", "n") == 3
    assert e.value("peer_support", "ENGFL", "n") == 2
    assert e.value("peer_support", "ENGFL", "percent") == pytest.approx(200 / 3)
    # usual care: F is not in the ITT population; D is contaminated
    assert e.value("usual_care", "participants", "n") == 2
    assert e.value("usual_care", "ENGFL", "percent") == 50
    # NCONTWIN of peer support (2, 5, 0): mean 7/3, SD sqrt(((2-7/3)^2 + (5-7/3)^2 +
    # (0-7/3)^2)/2) = sqrt(19/3), median 2, type-7 quartiles 1 and 3.5, range 0-5
    expect = {"mean": 7 / 3, "sd": np.sqrt(19 / 3), "median": 2, "q1": 1, "q3": 3.5,
              "min": 0, "max": 5}
    for stat, value in expect.items():
        assert e.value("peer_support", "NCONTWIN", stat) == pytest.approx(value, abs=1e-12)
    assert e.value("peer_support", "CONTMIN", "mean") == pytest.approx(190 / 3)
    assert np.isnan(engagement_by_arm(adsl.iloc[:1], ARMS).value("peer_support", "NCONTWIN",
                                                                  "sd"))


def test_per_protocol_risk_difference_equals_the_difference_of_proportions():
    adsl, adtte, adqs, event = _trial()
    res = run_engagement(adsl, adtte, adqs, PLAN)
    t = res.estimates
    pp = t.loc[(t["analysis"] == PER_PROTOCOL) & (t["estimate_type"] == "risk_difference")]
    treated = (adsl["ARM"] == ARMS[0]).to_numpy()
    got = (adsl["ENGFL"] == "Y").to_numpy()
    y1, y0 = event[treated & got], event[~treated]
    p1, p0 = y1.mean(), y0.mean()
    # with no covariate and no censoring the influence-function variance is the
    # binomial one with n denominators: p(1-p)/n per arm
    se = np.sqrt(p1 * (1 - p1) / y1.size + p0 * (1 - p0) / y0.size)
    naive = pp.loc[pp["clustering"] == "none"].iloc[0]
    assert naive["estimate"] == pytest.approx(p1 - p0, abs=1e-10)
    assert naive["ci_high"] - naive["ci_low"] == pytest.approx(2 * 1.959963984540054 * se,
                                                               rel=1e-8)
    assert naive["n"] == y1.size + y0.size and naive["comparison_bias"] == BIASED
    clustered = pp.loc[pp["clustering"] == "peer_worker"].iloc[0]
    assert clustered["estimate"] == pytest.approx(p1 - p0, abs=1e-10)
    assert clustered["status"] == "estimated"
    assert clustered["ci_high"] - clustered["ci_low"] != pytest.approx(naive["ci_high"]
                                                                       - naive["ci_low"])
    # as-treated: received (all treated engagers here) vs everyone else
    at = t.loc[(t["analysis"] == AS_TREATED) & (t["estimate_type"] == "risk_difference")
               & (t["clustering"] == "none")].iloc[0]
    assert at["estimate"] == pytest.approx(event[got].mean() - event[~got].mean(), abs=1e-10)
    assert at["contrast"] == "received vs not_received"
    # every score at every visit, both designs, both comparisons
    anc = t.loc[t["estimate_type"] == "adjusted_mean_difference"]
    assert anc[["analysis", "clustering"]].apply(tuple, axis=1).tolist() == [
        (PER_PROTOCOL, "none"), (PER_PROTOCOL, "peer_worker"),
        (AS_TREATED, "none"), (AS_TREATED, "peer_worker")]
    assert (anc["outcome"] == "WEMWBS month_4").all()


def test_no_one_engaging_gives_not_estimable_rows_with_reasons():
    adsl, adtte, adqs, _ = _trial(engaged=np.zeros(40, bool))
    t = run_engagement(adsl, adtte, adqs, PLAN).estimates
    assert len(t) == 2 * (2 * 3 + 2)  # 2 comparisons x (2 designs x 3 risk rows + 2 ANCOVA)
    assert (t["status"] == "not estimable").all()
    pp = "the per-protocol group peer_support has no participant"
    at = "the as-treated group received has no participant"
    assert t["reason"].str.startswith(pp).sum() == 8 and t["reason"].str.startswith(at).sum() == 8
    assert t["estimate"].isna().all()
    assert (t["comparison_bias"] == BIASED).all()


def test_as_treated_groups_and_the_table_takes_further_frames_first():
    adsl, adtte, adqs, _ = _trial()
    adsl.loc[adsl.index[-1], ["ENGFL", "PEERWID"]] = ["Y", "W0"]  # a contaminated control
    pop, groups = comparison_population(adsl, Arms(*ARMS), AS_TREATED)
    assert groups == Arms("received", "not_received")
    assert pop.loc[pop.index[-1], ["ARM", "RANDARM"]].tolist() == ["received", "usual_care"]
    pp, _ = comparison_population(adsl, Arms(*ARMS), PER_PROTOCOL)
    assert set(pp["USUBJID"]) == set(adsl.loc[(adsl["ARM"] == ARMS[1])
                                              | (adsl["ENGFL"] == "Y"), "USUBJID"])
    cace = pd.DataFrame({"analysis": ["cace"], "clustering": ["none"], "outcome": ["x"],
                         "contrast": ["c"], "estimate_type": ["risk_difference"],
                         "estimate": [0.1], "std_error": [0.05], "ci_low": [0.0],
                         "ci_high": [0.2],
                         "p_value": [0.05], "n": [40], "events": [10]})
    t = run_engagement(adsl, adtte, adqs, PLAN, extra=[cace]).estimates
    assert t.iloc[0]["analysis"] == "cace" and t.iloc[0]["comparison_bias"] == ""
    assert list(t.columns[:7]) == ["analysis", "clustering", "estimand", "outcome", "contrast",
                                   "estimate_type", "comparison_bias"]
    assert t.iloc[0]["estimand"] == "score_cace"  # a CACE row whose outcome is not readmission
    assert list(t.columns[-2:]) == ["status", "reason"]
    assert cace_table([cace]).shape[0] == 1
