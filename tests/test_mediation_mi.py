"""The change-model mediation under multiple imputation (MI Boot pooled, docs/mediation.md §7b).

Small imputations (m = 3, 2 sweeps) of the bundled trial, derived once per module (~2 s);
the truth check imputes a three-column simulated trial.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from outcomes.adam import derive_all
from outcomes.imputation.frame import ImputationFrame, imputation_frame
from outcomes.imputation.mice import imputation_rng, impute
from outcomes.imputation.settings import ImputationSettings
from outcomes.mediation import MissingDataWarning, fit_mediation
from outcomes.mediation.admed import (
    ChangeModelError,
    completed_mediation_data,
    imputed_mediation_data,
    mediation_data,
    split_completed,
)
from outcomes.mediation.changemodel import run_job
from outcomes.mediation.mi import _child, boot_per_imputation, fit_mediation_mi
from outcomes.mediation.summaries import NOT_MEANINGFUL
from outcomes.plan import AnalysisPlan
from outcomes.validation.engine import validate_extract

TREATED, CONTROL = "peer_support", "usual_care"


def _plan(method="mi", n_boot=60, m=3):
    return AnalysisPlan.from_config({
        "mediation": {"n_boot": n_boot, "outcomes": ["wemwbs_m12", "readmit_12m"]},
        "missing_data": {"method": method, "m": m, "iterations": 2}})


@pytest.fixture(scope="module")
def trial():
    plan = _plan()
    ds = derive_all(validate_extract("synthetic_data").clean, plan)
    data = mediation_data(ds["adsl"], ds["adqs"], ds["adtte"], plan)
    completed = split_completed(imputed_mediation_data(ds, data, plan))
    return ds, data, completed, plan


def test_boot_per_imputation():
    assert boot_per_imputation(1000, 50) == 20 and boot_per_imputation(200, 50) == 4
    assert boot_per_imputation(100, 3) == 34 and boot_per_imputation(10, 50) == 2
    assert boot_per_imputation(0, 5) == 0


def _linear(n, rng):
    x = rng.normal(size=n)
    a = rng.integers(0, 2, n)
    m = 0.5 * a + 0.5 * x + rng.normal(size=n)
    y = 0.5 * m + 0.3 * a + 0.5 * x + rng.normal(size=n)
    return pd.DataFrame({"A": a, "X": x, "M": m, "Y": y})


KW = dict(exposure="A", mediators=["M"], outcome="Y", outcome_type="linear", covariates=["X"])


def test_nothing_missing_reproduces_the_complete_case_engine():
    """b = 0: every completed data set is the data, so the pooled estimate is the
    complete-case one, riv = fmi = 0, and the pooled draws are the m bootstraps of the
    data from the children of the stream (so the CI is their percentile interval)."""
    d = _linear(300, np.random.default_rng(4))
    seed = np.random.SeedSequence(77)
    mi = fit_mediation_mi([d, d, d], seed=seed, n_boot=300, **KW)
    cc = fit_mediation(d, rng=np.random.default_rng(5), n_boot=300, **KW).to_frame()
    e = mi.to_frame()
    assert np.allclose(e["estimate"], cc["estimate"], rtol=0, atol=1e-12)
    assert (e["fmi"] == 0).all() and (e["riv"] == 0).all() and (e["m"] == 3).all()
    assert (e["n"] == 300).all() and (e["n_boot"] == 300).all()
    draws = np.concatenate([fit_mediation(d, rng=_child(seed, i), n_boot=100, **KW)
                            .replicates[("M", "mean_difference")] for i in (1, 2, 3)])
    lo, hi = np.quantile(draws, [0.025, 0.975], axis=0)
    assert np.allclose(e["ci_low"], lo[:8], atol=1e-12) and np.allclose(e["ci_high"], hi[:8], atol=1e-12)
    # the same bootstrap distribution as the complete-case analysis: CIs within Monte Carlo error
    assert np.allclose(e["ci_low"], cc["ci_low"], atol=0.5 * cc["std_error"].max())
    again = fit_mediation_mi([d, d, d], seed=np.random.SeedSequence(77), n_boot=300, **KW)
    pd.testing.assert_frame_equal(e, again.to_frame())


def _mar_trial(n, rng):
    """Linear mediation with the mediator missing more often when the outcome is high
    (MAR given arm, X and Y); ACME = a b = 0.5 * 0.5 = 0.25."""
    d = _linear(n, rng)
    miss = rng.random(n) < 1 / (1 + np.exp(-(3.5 * (d["Y"] - d["Y"].mean()) / d["Y"].std() - 0.5)))
    arm = np.where(d["A"] == 1, TREATED, CONTROL)
    data = pd.DataFrame({"USUBJID": [f"P{i:05d}" for i in range(n)], "ARM": arm,
                         "TRT01PN": d["A"].astype(float), "X_baseline": d["X"],
                         "M_month_4": np.where(miss, np.nan, d["M"]), "Y_month_12": d["Y"]})
    cols = ("X_baseline", "M_month_4", "Y_month_12")
    frame = ImputationFrame(data=data, eligible=pd.DataFrame(True, index=data.index, columns=list(cols)),
                            score_columns=cols, predictor_columns=("TRT01PN",), categorical=(),
                            passive=(), visits=("baseline", "month_4", "month_12"),
                            treated_arm=TREATED, control_arm=CONTROL)
    return frame


def test_mi_recovers_the_acme_where_complete_cases_are_biased():
    """n = 3000, seed 12, about half the mediators missing (MAR on Y): the complete-case
    ACME is off by more than 4 of its bootstrap SEs, the MI estimate (norm by arm, m = 10)
    within 2 of its SEs of the truth 0.25, and its CI covers it."""
    frame = _mar_trial(3000, np.random.default_rng(12))
    names = {"TRT01PN": "A", "X_baseline": "X", "M_month_4": "M", "Y_month_12": "Y"}
    obs = frame.data.rename(columns=names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingDataWarning)
        cc = fit_mediation(obs, rng=np.random.default_rng(1), n_boot=200, **KW).to_frame()
    imp = impute(frame, ImputationSettings(method="norm", m=10, iterations=2), 12)
    completed = [imp.completed(i).rename(columns=names) for i in range(1, 11)]
    mi = fit_mediation_mi(completed, seed=np.random.SeedSequence(3), n_boot=200, **KW).to_frame()
    acme_cc = cc.set_index("effect").loc["acme_average"]
    acme_mi = mi.set_index("effect").loc["acme_average"]
    assert 0.4 < frame.data["M_month_4"].isna().mean() < 0.6
    assert abs(acme_cc["estimate"] - 0.25) > 4 * acme_cc["std_error"]
    assert abs(acme_mi["estimate"] - 0.25) < 2 * acme_mi["std_error"]
    assert acme_mi["ci_low"] < 0.25 < acme_mi["ci_high"]
    assert acme_mi["n"] == 3000 and acme_cc["n"] < 1800
    assert 0.2 < acme_mi["fmi"] < 0.9


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_every_row_of_an_outcome_uses_the_same_imputed_participants(trial):
    ds, data, completed, plan = trial
    jobs = {(m, o): run_job(data, plan, m, o, completed)
            for m in ("HHI", "M2", "ALL") for o in ("wemwbs_m12", "readmit_12m")}
    frame = imputation_frame(ds["adsl"], ds["adqs"], ds["adtte"], plan)
    due = frame.eligible
    for outcome in ("wemwbs_m12", "readmit_12m"):
        n = {jobs[(m, outcome)].estimates["n"].unique().item() for m in ("HHI", "M2", "ALL")}
        assert len(n) == 1, n
        # everybody whose mediator visit (and month-12 visit) was due; readmission: the
        # landmark risk set at the month-4 visit (readmission status unknown at day 365:
        # kept, IPCW weight 0; docs/change-model.md)
        ok = due.filter(like="_month_4").all(axis=1).to_numpy(copy=True)
        if outcome == "wemwbs_m12":
            ok &= due["WEMWBS_month_12"].to_numpy()
        else:
            ok &= data.set_index("USUBJID").reindex(frame.data["USUBJID"])["LMEXCL"].eq("").to_numpy()
        assert n == {int(ok.sum())}
    hhi = jobs[("HHI", "wemwbs_m12")]
    e = hhi.estimates
    assert (e["missing_data"].str.startswith("multiple imputation (m = 3")).all()
    # every row estimated but a proportion mediated whose total effect's CI includes 0
    honest = (e["effect"] == "prop_mediated") & (e["reason"] == NOT_MEANINGFUL)
    assert (e["m"] == 3).all() and e.loc[~honest, "fmi"].between(0, 1).all()
    assert (e.loc[~honest, "status"] == "estimated").all() and e.loc[honest, "fmi"].isna().all()
    assert (e["n_boot"] == 60).all() and (e["seed"] == plan.seed).all()
    md = hhi.report["missing_data"]
    assert md["method"] == "mi" and md["m"] == 3 and md["n_boot_per_imputation"] == 20
    assert md["n_complete_cases"] < e["n"].iloc[0]
    assert not hhi.sensitivity.empty and hhi.sensitivity["estimate"].notna().all()
    # the cluster bootstrap pooled the same way: same pooled estimates, its own draws
    naive, nested = (e.loc[e["clustering"] == c].reset_index(drop=True) for c in ("none", "peer_worker"))
    both = (naive["status"] == "estimated") & (nested["status"] == "estimated")
    assert both.sum() >= 7  # a proportion may be meaningful under one design only
    np.testing.assert_array_equal(naive.loc[both, "estimate"], nested.loc[both, "estimate"])
    assert nested.loc[both, "fmi"].between(0, 1).all() and not np.allclose(naive["std_error"], nested["std_error"])
    assert "cluster" in hhi.report["clustering"]["peer_worker"]["inference"]["bootstrap_of_each_imputation"]
    cc = run_job(data, _plan("complete_case"), "HHI", "wemwbs_m12").estimates
    assert (cc["missing_data"] == "complete cases").all() and "fmi" not in cc
    assert (cc["n"] == md["n_complete_cases"]).all()


def test_streams_of_imputation_and_bootstrap_differ(trial):
    plan = trial[3]
    boot = _child(plan.seed_sequence("mediation/HHI/wemwbs_m12"), 1).random(4)
    assert not np.allclose(boot, imputation_rng(plan.seed, 1).random(4))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_not_estimable_paths_give_rows(trial):
    _, data, completed, plan = trial
    flat = [c.assign(HHI_M=3.0) for c in completed]
    job = run_job(data, plan, "HHI", "wemwbs_m12", flat)
    e = job.estimates
    # 8 natural and 3 interventional rows per design
    assert len(e) == 22 and (e["status"] == "not estimable").all() and e["estimate"].isna().all()
    assert list(e["clustering"]) == ["none"] * 11 + ["peer_worker"] * 11
    assert e["reason"].iloc[0].startswith("not estimable in 3 of 3 imputations (imputations 1, 2, 3:")
    assert "HHI_M is constant" in e["reason"].iloc[0]
    assert (e["m"] == 3).all() and e["fmi"].isna().all() and list(e.columns[-2:]) == ["status", "reason"]
    # no month-12 WEMWBS in the extract
    gone = [c.drop(columns=["WEMWBS_M12"]) for c in completed]
    e = run_job(data.drop(columns=["WEMWBS_M12"]), plan, "HHI", "wemwbs_m12", gone).estimates
    assert (e["status"] == "not estimable").all() and "month 12" in e["reason"].iloc[0]
    with pytest.raises(ChangeModelError, match="missing_data.method' is mi"):
        run_job(data, plan, "HHI", "wemwbs_m12")


def test_imputations_of_another_extract_are_a_clear_error(trial):
    ds, data, _, plan = trial
    long = impute(imputation_frame(ds["adsl"], ds["adqs"], ds["adtte"], plan),
                  ImputationSettings(m=2, iterations=1), 5).long()
    k = int(np.flatnonzero(long.loc[long[".imp"] == 0, "GSE_month_4"].notna())[0])
    long.loc[len(data) + k, "GSE_month_4"] += 1  # an observed value, in imputation 1
    with pytest.raises(ChangeModelError, match=r"imputation 1: GSE_M of .* is .* but .* in the analysis"):
        completed_mediation_data(data, long, plan)


def test_completed_sets_are_written_and_read_one_at_a_time(trial, tmp_path):
    """write_imputed_mediation_data streams the completed admed sets (one row group each)
    with the contents of the stacked frame's to_parquet under the files' names of 8
    characters (outcomes.mediation.admedvars); read_completed_mediation gives
    them back as split_completed does, in memory or one at a time, and a job on either
    has the same rows."""
    import pyarrow.parquet as pq

    from outcomes.imputation.run import write_long
    from outcomes.mediation.admed import (
        ImputedMediationSets,
        read_completed_mediation,
        write_imputed_mediation_data,
    )
    from outcomes.mediation.admedvars import file_names

    ds, data, completed, plan = trial
    imp = impute(imputation_frame(ds["adsl"], ds["adqs"], ds["adtte"], plan),
                 ImputationSettings.from_plan(plan), plan.seed)
    long = write_long(imp, tmp_path / "long.parquet")
    imputed_mediation_data(ds, data, plan, imp.long()).to_parquet(tmp_path / "stacked.parquet",
                                                                 index=False)
    stacked = pd.read_parquet(tmp_path / "stacked.parquet")
    names = file_names(list(stacked.columns), plan.mediation["mediator_visit"])[0]
    assert names[".imp"] == "IMPNUM" and names["HHI_M"].startswith("MV")
    stacked.columns = pd.Index([names[c] for c in stacked.columns])
    for source in (long, None):  # from the file of outcomes impute, or imputed here
        out = tmp_path / f"streamed_{source is None}.parquet"
        assert write_imputed_mediation_data(ds, data, plan, out, source) == plan.missing_data.m
        assert pq.ParquetFile(out).metadata.num_row_groups == plan.missing_data.m
        pd.testing.assert_frame_equal(pd.read_parquet(out), stacked, check_exact=True)
    eager = read_completed_mediation(out)
    lazy = read_completed_mediation(out, eager_rows=0)
    assert isinstance(eager, list) and isinstance(lazy, ImputedMediationSets)
    assert len(lazy) == len(completed) == 3
    for i, d in enumerate(completed):
        pd.testing.assert_frame_equal(eager[i], d, check_exact=True)
        pd.testing.assert_frame_equal(lazy[i], d, check_exact=True)
    pd.testing.assert_frame_equal(lazy[-1], completed[-1], check_exact=True)
    assert len(lazy[1:]) == 2
    with pytest.raises(IndexError):
        lazy[3]
    few = _plan(n_boot=50)  # the landmark outcome: its risk set and clusters mapped lazily
    a, b = run_job(data, few, "HHI", "readmit_12m", lazy), run_job(data, few, "HHI", "readmit_12m", completed)
    pd.testing.assert_frame_equal(a.estimates, b.estimates, check_exact=True)
    pd.testing.assert_frame_equal(a.sensitivity, b.sensitivity, check_exact=True)
    assert a.report == b.report
    data.to_parquet(tmp_path / "admed.parquet")
    with pytest.raises(ChangeModelError, match="no 'IMPNUM' column"):
        read_completed_mediation(tmp_path / "admed.parquet")
