"""The questionnaire ANCOVA pooled over completed datasets (outcomes.imputation.ancova)."""

import math

import numpy as np
import pandas as pd
import pytest

from outcomes.imputation.ancova import ANALYSIS, ancova_mi, questionnaire_results
from outcomes.imputation.pool import rubin
from outcomes.plan import AnalysisPlan
from outcomes.questionnaires import fit_ancova

PLAN = AnalysisPlan.from_config({})
ARMS = dict(treated_arm=PLAN.treated_arm, control_arm=PLAN.control_arm)


def _completed(m=3, n=60, seed=1, missing=10):
    """m wide completed datasets: WEMWBS at baseline and month 12, the first ``missing``
    month-12 values drawn afresh in each (as imputations differ), the others shared."""
    rng = np.random.default_rng(seed)
    base = pd.DataFrame({"USUBJID": [f"P{i:03d}" for i in range(n)],
                         "ARM": np.where(np.arange(n) % 2, PLAN.control_arm, PLAN.treated_arm),
                         "SITEID": np.where(np.arange(n) < n // 2, "S1", "S2"),
                         "DIAGGR": np.where(np.arange(n) % 3, "psychosis", "bipolar"),
                         "WEMWBS_baseline": rng.normal(45, 8, n)})
    base["WEMWBS_month_12"] = 10 + 0.7 * base["WEMWBS_baseline"] + rng.normal(0, 5, n)
    out = []
    for _ in range(m):
        d = base.copy()
        d.loc[: missing - 1, "WEMWBS_month_12"] = rng.normal(42, 6, missing)
        out.append(d)
    return out


def _cc_input(d):
    return pd.DataFrame({"ARM": d["ARM"], "SITEID": d["SITEID"], "DIAGGR": d["DIAGGR"],
                         "AVAL": d["WEMWBS_month_12"], "BASE": d["WEMWBS_baseline"]})


def test_pooled_ancova_is_rubin_over_the_complete_data_fits():
    completed = _completed()
    res = ancova_mi(completed, "WEMWBS", "month_12", PLAN, param="WEMWBS total score")
    fits = [fit_ancova(_cc_input(d), **ARMS) for d in completed]
    pooled = rubin([f.estimate for f in fits], [f.std_error**2 for f in fits],
                   df_complete=60 - 5)  # intercept, arm, baseline, a site and a diagnosis
    # indicator
    assert res.pooled == pooled and res.pooled.b > 0 and res.pooled.df < 55
    a = res.ancova
    assert (a.estimate, a.std_error, a.ci_low, a.ci_high, a.p_value, a.df) == (
        pooled.estimate, pooled.std_error, pooled.ci_low, pooled.ci_high, pooled.p_value,
        pooled.df)
    assert (a.n, a.n_treated, a.n_control, a.n_excluded, a.status) == (60, 30, 30, 0,
                                                                          "estimated")
    assert a.mean_treated == pytest.approx(np.mean([f.mean_treated for f in fits]), rel=1e-15)
    row = res.to_frame().iloc[0]
    assert row["analysis"] == ANALYSIS and row["outcome"] == "WEMWBS month_12"
    assert (row["riv"], row["fmi"], row["m"]) == (pooled.riv, pooled.fmi, 3)
    assert list(res.to_frame().columns[-10:]) == ["df", "riv", "fmi", "m", "icc", "icc_ci_low",
                                                  "icc_ci_high", "n_clusters", "status",
                                                  "reason"]


def test_nothing_imputed_gives_the_complete_case_analysis():
    completed = _completed(missing=0)
    res = ancova_mi(completed, "WEMWBS", "month_12", PLAN)
    cc = fit_ancova(_cc_input(completed[0]), **ARMS)
    assert res.pooled.b == 0 and res.pooled.fmi == 0
    for k in ("estimate", "std_error", "ci_low", "ci_high", "p_value", "df"):
        assert getattr(res.ancova, k) == pytest.approx(getattr(cc, k), rel=1e-14), k


def test_a_visit_never_imputed_is_left_out_in_every_imputation():
    completed = _completed()
    for d in completed:
        d.loc[[20, 21, 22], "WEMWBS_month_12"] = np.nan  # died before month 12
    res = ancova_mi(completed, "WEMWBS", "month_12", PLAN)
    assert res.ancova.status == "estimated"
    assert (res.ancova.n, res.ancova.n_excluded, res.pooled.df_complete) == (57, 3, 52)


def test_a_due_value_not_imputed_makes_the_mi_analysis_not_estimable():
    """Participants 20-22 died (not due); 24 and 26 (treated) are due but could not be
    imputed: not estimable, naming the column, arm and reason, never the complete cases."""
    completed = _completed()
    cells = pd.DataFrame({"USUBJID": completed[0]["USUBJID"], "WEMWBS_baseline": "",
                          "WEMWBS_month_12": ""})
    why = f"WEMWBS_month_12 could not be imputed in {PLAN.treated_arm} (1 observed value)"
    cells.loc[[24, 26], "WEMWBS_month_12"] = why
    for d in completed:
        d.loc[[20, 21, 22, 24, 26], "WEMWBS_month_12"] = np.nan
    res = ancova_mi(completed, "WEMWBS", "month_12", PLAN, not_imputed=cells)
    assert res.ancova.status == "not estimable" and res.pooled is None
    assert res.ancova.reason == (f"{why} [2 participants]: the MI analysis needs every due value")
    assert math.isnan(res.ancova.estimate)
    left_out = ancova_mi(completed, "WEMWBS", "month_12", PLAN)  # as if all were not due
    assert left_out.ancova.status == "estimated" and left_out.ancova.n == 55
    # a participant who would not be analysed anyway (no baseline) does not count
    for d in completed:
        d.loc[[20, 21, 22], "WEMWBS_month_12"] = 40.0
        d.loc[[24, 26], "WEMWBS_baseline"] = np.nan
    res = ancova_mi(completed, "WEMWBS", "month_12", PLAN, not_imputed=cells)
    assert res.ancova.status == "estimated" and res.ancova.n == 58
    cells.loc[[24, 26], "WEMWBS_baseline"] = "WEMWBS_baseline could not be imputed in x (y)"
    res = ancova_mi(completed, "WEMWBS", "month_12", PLAN, not_imputed=cells)
    assert res.ancova.reason.startswith(f"{why} [2 participants]; WEMWBS_baseline could not")


def _reason(completed, visit="month_12"):
    res = ancova_mi(completed, "WEMWBS", visit, PLAN)
    assert res.ancova.status == "not estimable" and res.pooled is None
    assert math.isnan(res.ancova.estimate) and res.m == len(completed)
    row = res.to_frame().iloc[0]
    assert row["analysis"] == ANALYSIS and row["status"] == "not estimable"
    return res.ancova.reason


def test_an_imputation_that_cannot_be_fitted_is_named_with_its_reason():
    completed = _completed(m=4)
    completed[1]["WEMWBS_baseline"] = 45.0  # constant baseline: rank-deficient design
    completed[3]["WEMWBS_baseline"] = 45.0
    assert _reason(completed) == (
        "not estimable in 2 of 4 imputations (imputations 2, 4: ANCOVA of WEMWBS month_12: "
        "design matrix is rank-deficient (BASE is constant))")
    completed[3]["WEMWBS_baseline"] = 40 + 3.0 * (completed[3]["ARM"] == PLAN.treated_arm)
    assert _reason(completed) == (
        "not estimable in 2 of 4 imputations (imputation 2: ANCOVA of WEMWBS month_12: "
        "design matrix is rank-deficient (BASE is constant); imputation 4: ANCOVA of WEMWBS "
        "month_12: design matrix is rank-deficient (BASE is a linear combination of "
        "(Intercept), ARM))")


def test_imputations_analysing_different_participants_are_not_pooled():
    completed = _completed()
    completed[2].loc[5, "WEMWBS_month_12"] = np.nan
    assert _reason(completed) == ("the completed datasets analyse different participants (60 "
                                  "in imputation 1, 59 in imputation 3): a value left missing "
                                  "in some imputations only")


def test_one_imputation_and_an_empty_visit_are_not_estimable():
    assert _reason(_completed(m=1)).startswith("1 imputation: Rubin's rules need m ≥ 2")
    completed = _completed()
    for d in completed:
        d["WEMWBS_month_4"] = np.nan
    assert _reason(completed, "month_4") == "no month_4 value of WEMWBS"


def test_a_column_missing_from_the_wide_format_is_an_error():
    with pytest.raises(ValueError, match="no column WEMWBS_month_4 in the completed data"):
        ancova_mi(_completed(), "WEMWBS", "month_4", PLAN)
    with pytest.raises(ValueError, match="no completed datasets"):
        ancova_mi([], "WEMWBS", "month_12", PLAN)


def test_results_table_puts_each_complete_case_row_beside_its_mi_row():
    completed = _completed()
    observed = completed[0].copy()
    observed.loc[:9, "WEMWBS_month_12"] = np.nan  # the 10 values the imputations fill
    long = pd.concat(
        [pd.DataFrame({"USUBJID": observed["USUBJID"], "AVISIT": v, "PARAMCD": "WEMWBS",
                       "PARAM": "WEMWBS total score", "ABLFL": "Y" if v == "baseline" else "",
                       "AVAL": observed[f"WEMWBS_{v}"]})
         for v in ("baseline", "month_12")], ignore_index=True)
    adsl = completed[0][["USUBJID", "ARM", "SITEID", "DIAGGR"]]
    plan = AnalysisPlan.from_config({"visits": ["month_12"]})
    table = questionnaire_results(long, adsl, plan, completed)
    assert list(table["analysis"]) == [ANALYSIS] * 4 + ["questionnaire_ancova"] * 4 \
        + [ANALYSIS] * 4 + ["questionnaire_ancova"] * 4
    assert list(table["clustering"]) == ["none"] * 8 + ["peer_worker"] * 8
    assert list(table["estimate_type"][:4]) == ["adjusted_mean_difference", "adjusted_mean",
                                                "adjusted_mean", "hedges_g"]
    mi, cc = table.iloc[0], table.iloc[4]
    assert (mi["n"], cc["n"], cc["n_excluded"], mi["m"]) == (60, 50, 10, 3)
    assert math.isnan(cc["riv"]) and math.isnan(cc["m"]) and cc["df"] == 50 - 5
    assert list(table.columns[:2]) == ["analysis", "clustering"]
    assert list(table.columns[-10:]) == ["df", "riv", "fmi", "m", "icc", "icc_ci_low",
                                         "icc_ci_high", "n_clusters", "status", "reason"]
    # each MI row has its own fraction of missing information
    assert table.loc[:3, "fmi"].notna().all() and table.loc[:3, "fmi"].nunique() == 4
    # no PEERWID in this ADSL: no peer worker, so the partially nested rows say why
    nested = table.iloc[8:]
    assert set(nested["status"]) == {"not estimable"}
    assert nested["reason"].str.contains("0 peer worker(s) among the participants",
                                         regex=False).all()
    assert list(nested["n"]) == [60, 30, 30, 60, 50, 25, 25, 50]
    only_cc = questionnaire_results(long, adsl, plan)
    assert list(only_cc["analysis"]) == ["questionnaire_ancova"] * 8
    pd.testing.assert_frame_equal(only_cc, table.iloc[[4, 5, 6, 7, 12, 13, 14, 15]][
        only_cc.columns].reset_index(drop=True), check_dtype=False)


def test_adjusted_means_and_hedges_g_are_pooled_by_rubins_rules():
    """Each arm's adjusted mean and Hedges' g pooled as the difference is: Rubin's rules over
    the m complete-data fits, their own df as the complete-data df; the raw SDs are the
    means of the m data sets'."""
    completed = _completed()
    res = ancova_mi(completed, "WEMWBS", "month_12", PLAN)
    fits = [fit_ancova(_cc_input(d), **ARMS) for d in completed]
    for k in (0, 1):
        arm = [f.adjusted[k] for f in fits]
        p = rubin([a.estimate for a in arm], [a.std_error**2 for a in arm], df_complete=55)
        got = res.ancova.adjusted[k]
        assert (got.estimate, got.std_error, got.ci_low, got.ci_high, got.df) == (
            p.estimate, p.std_error, p.ci_low, p.ci_high, p.df)
        assert res.pooled_others[k] == p
    p = rubin([f.hedges.estimate for f in fits], [f.hedges.std_error**2 for f in fits],
              df_complete=55)
    g = res.ancova.hedges
    assert (g.estimate, g.std_error, g.ci_low, g.ci_high) == (p.estimate, p.std_error,
                                                              p.ci_low, p.ci_high)
    assert res.ancova.sd_treated == pytest.approx(np.mean([f.sd_treated for f in fits]),
                                                  rel=1e-15)
    rows = res.to_frame()
    assert list(rows["fmi"]) == [res.pooled.fmi, *(q.fmi for q in res.pooled_others)]


def test_designs_made_once_give_the_fits_of_each_data_set_bit_for_bit():
    """ancova_mi makes each data set's design once (shared where the baselines agree) and
    fits it: the same bits as the ANCOVA of each data set's own input, for OLS and the
    partially nested model, with a baseline imputed differently in one data set and a
    stratifier that differs in another (its design made from its own input)."""
    from outcomes.clustering import cluster_ids
    from outcomes.clustering.ancova import fit_nested_ancova

    completed = _completed(m=4, n=80, seed=5)
    completed[1].loc[3, "WEMWBS_baseline"] += 1.5
    completed[2].loc[7, "DIAGGR"] = "other"
    adsl = completed[0][["USUBJID", "ARM"]].assign(
        PEERWID=np.where(np.arange(80) % 2 == 0, [f"W{i % 5}" for i in range(80)], ""))
    clusters = pd.Series(cluster_ids(adsl, PLAN.treated_arm).to_numpy(),
                         index=adsl["USUBJID"])
    for fit, kw in ((fit_ancova, {}), (fit_nested_ancova, dict(clusters=clusters))):
        res = ancova_mi(completed, "WEMWBS", "month_12", PLAN, fit=fit, **kw)
        for d, got in zip(completed, res.fits, strict=True):
            data = _cc_input(d)
            if kw:
                data["CLUSTER"] = clusters.to_numpy()
            ref = fit(data, **ARMS)
            assert (got.estimate, got.std_error, got.df, got.adjusted, got.hedges) == \
                (ref.estimate, ref.std_error, ref.df, ref.adjusted, ref.hedges)
