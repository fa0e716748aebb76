"""The partially nested rows of questionnaires.tsv (outcomes.clustering.ancova through
outcomes.imputation.ancova.questionnaire_results): complete cases and pooled over
imputations by Rubin's rules, beside the naive rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from outcomes.clustering import cluster_ids
from outcomes.clustering.ancova import fit_nested_ancova
from outcomes.imputation.ancova import ancova_mi
from outcomes.imputation.pool import rubin
from outcomes.plan import AnalysisPlan

PLAN = AnalysisPlan.from_config({})
ARMS = dict(treated_arm=PLAN.treated_arm, control_arm=PLAN.control_arm)
CLUSTER_COLUMNS = ["icc", "icc_ci_low", "icc_ci_high", "n_clusters"]


def _completed(m=3, seed=1):
    """m wide completed datasets of 120 participants: 60 treated with 8 peer workers (and
    4 never engaged), 60 controls; the first 12 month-12 values differ between them."""
    rng = np.random.default_rng(seed)
    n = 120
    treated = np.arange(n) < 60
    worker = np.where(treated & (np.arange(n) < 56), np.arange(n) % 8, -1)
    adsl = pd.DataFrame({"USUBJID": [f"P{i:03d}" for i in range(n)],
                         "ARM": np.where(treated, PLAN.treated_arm, PLAN.control_arm),
                         "SITEID": np.where(np.arange(n) % 3 == 0, "S1", "S2"),
                         "DIAGGR": np.where(np.arange(n) % 4 == 0, "bipolar", "psychosis"),
                         "PEERWID": [f"W{w}" if w >= 0 else "" for w in worker]})
    u = rng.normal(0, 3, 8)
    base = adsl.assign(WEMWBS_baseline=rng.normal(45, 8, n))
    base["WEMWBS_month_12"] = (10 + 2 * treated + 0.7 * base["WEMWBS_baseline"]
                               + np.where(worker >= 0, u[worker], 0) + rng.normal(0, 5, n))
    out = []
    for _ in range(m):
        d = base.copy()
        d.loc[:11, "WEMWBS_month_12"] = rng.normal(45, 6, 12)
        out.append(d)
    return adsl, out


def test_pooled_partially_nested_ancova_is_rubin_over_the_mixed_model_fits():
    adsl, completed = _completed()
    clusters = pd.Series(cluster_ids(adsl, PLAN.treated_arm).to_numpy(), index=adsl["USUBJID"])
    res = ancova_mi(completed, "WEMWBS", "month_12", PLAN, fit=fit_nested_ancova,
                    clusters=clusters, clustering="peer_worker")
    fits = [fit_nested_ancova(pd.DataFrame({
        "ARM": d["ARM"], "SITEID": d["SITEID"], "DIAGGR": d["DIAGGR"],
        "AVAL": d["WEMWBS_month_12"],
        "BASE": d["WEMWBS_baseline"], "CLUSTER": clusters.to_numpy()}), **ARMS)
        for d in completed]
    assert len({f.df for f in fits}) == 3  # the Satterthwaite df differs between imputations
    pooled = rubin([f.estimate for f in fits], [f.std_error**2 for f in fits],
                   df_complete=float(np.mean([f.df for f in fits])))
    a = res.ancova
    assert res.pooled == pooled
    assert (a.estimate, a.std_error, a.ci_low, a.ci_high, a.df) == (
        pooled.estimate, pooled.std_error, pooled.ci_low, pooled.ci_high, pooled.df)
    assert a.icc == pytest.approx(np.mean([f.icc for f in fits]), rel=1e-12)
    assert a.icc_ci_low is None and a.icc_ci_high is None
    assert math.isnan(res.to_frame().at[0, "icc_ci_low"])
    assert (a.clustering, a.n_clusters, a.n) == ("peer_worker", 8, 120)
    row = res.to_frame().iloc[0]
    assert (row["analysis"], row["clustering"], row["m"]) == ("questionnaire_ancova_mi",
                                                              "peer_worker", 3)


def test_questionnaires_table_of_the_bundled_trial(report_run):
    """The session's MI run (tests/report_run.py): four analyses per score × visit, the
    naive pair then the partially nested pair, each a block of four rows (difference,
    adjusted means, Hedges' g); the ICC columns filled on the nested differences only."""
    q = pd.read_csv(report_run["full"] / "tables" / "questionnaires.tsv", sep="\t")
    assert list(q.columns[:2]) == ["analysis", "clustering"]
    k = len(q) // 16
    assert len(q) == 16 * k and k == 32
    mi, cc = "questionnaire_ancova_mi", "questionnaire_ancova"
    assert list(q["analysis"]) == [a for a in (mi, cc, mi, cc) for _ in range(4)] * k
    assert list(q["clustering"]) == (["none"] * 8 + ["peer_worker"] * 8) * k
    assert list(q["estimate_type"][:4]) == ["adjusted_mean_difference", "adjusted_mean",
                                            "adjusted_mean", "hedges_g"]
    assert q.loc[q.estimate_type != "adjusted_mean_difference", CLUSTER_COLUMNS].isna().all().all()
    q = q.loc[q.estimate_type == "adjusted_mean_difference"]
    naive, nested = q[q.clustering == "none"], q[q.clustering == "peer_worker"]
    assert naive[CLUSTER_COLUMNS].isna().all().all()
    ok = nested[nested.status == "estimated"]
    assert len(ok) >= 0.9 * len(nested)  # not estimable only with a reason
    assert nested.loc[nested.status != "estimated", "reason"].notna().all()
    assert ((ok.icc >= 0) & (ok.icc < 1)).all() and (ok.n_clusters >= 2).all()
    occ = ok[ok.analysis == cc]
    assert ((occ.icc_ci_low <= occ.icc) & (occ.icc <= occ.icc_ci_high)).all()
    assert ok.loc[ok.analysis == mi, ["icc_ci_low", "icc_ci_high"]].isna().all().all()
    # same participants and outcome as the naive row beside it
    for col in ("outcome", "n", "n_treated", "n_control", "n_excluded"):
        assert list(naive[col]) == list(nested[col])
    assert (ok.loc[ok.analysis == mi, "m"] == 5).all()
