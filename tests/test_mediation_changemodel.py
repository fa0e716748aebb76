"""The change-model stage: analysis data set, one job per mediator set x outcome, gathering."""


import numpy as np
import pandas as pd
import pytest

from outcomes.adam import derive_all
from outcomes.mediation.admed import mediation_data
from outcomes.mediation.changemodel import gather, mediator_sets, run_job, write_job
from outcomes.mediation.plots import path_diagram
from outcomes.plan import AnalysisPlan


def _plan(**mediation):
    return AnalysisPlan.from_config({"mediation": {"n_boot": 100, **mediation}})


def test_analysis_data_set_by_hand():
    plan = _plan()
    ids = ["P1", "P2", "P3", "P4", "P5", "P6", "P7"]
    arms = ["peer_support", "usual_care"] * 3 + ["peer_support"]
    adsl = pd.DataFrame({"USUBJID": ids, "ARM": arms, "SITEID": "S1", "PRIORADM": [1, 2, 0, 3, 1, 1, 0]})
    start = pd.Timestamp("2024-01-01")
    adqs = pd.DataFrame([
        {"USUBJID": "P1", "AVISIT": "baseline", "PARAMCD": "HHI", "AVAL": 30.0, "ADT": start},
        {"USUBJID": "P1", "AVISIT": "month_4", "PARAMCD": "HHI", "AVAL": 35.0,
         "ADT": start + pd.Timedelta(days=130)},
        {"USUBJID": "P1", "AVISIT": "month_12", "PARAMCD": "WEMWBS", "AVAL": 50.0, "ADT": start},
        {"USUBJID": "P1", "AVISIT": "baseline", "PARAMCD": "WEMWBS", "AVAL": 40.0, "ADT": start},
        {"USUBJID": "P2", "AVISIT": "month_4", "PARAMCD": "HHI", "AVAL": 28.0,
         "ADT": start + pd.Timedelta(days=110)},
    ])
    adtte = pd.DataFrame({
        "USUBJID": ids, "PARAMCD": "READMIT", "STARTDT": start,
        "AVAL": [200, 365, 200, 250, 100, 60, 122], "CNSR": [0, 1, 1, 1, 0, 1, 1],
        "CMPEVFL": ["", "", "", "Y", "", "Y", ""],
    })
    d = mediation_data(adsl, adqs, adtte, plan).set_index("USUBJID")
    assert list(d["TRTA01"]) == [1, 0, 1, 0, 1, 0, 1]
    assert d.loc["P1", "HHI_M"] == 35 and d.loc["P1", "HHI_BL"] == 30 and d.loc["P1", "WEMWBS_M12"] == 50
    assert np.isnan(d.loc["P2", "HHI_BL"]) and np.isnan(d.loc["P3", "HHI_M"])
    # the landmark: the month-4 questionnaire's day (P1 130, P2 110), else the nominal day 122
    assert list(d["LMDAY"]) == [130, 110, 122, 122, 122, 122, 122]
    # readmitted (P5), dead (P6), censored (P7, on the landmark day) before the landmark: out
    assert list(d["LMEXCL"]) == ["", "", "", "", "readmitted before the landmark",
                                 "died before the landmark", "censored before the landmark"]
    # from the landmark to day 365: readmitted -> 1; followed to 365 without -> 0; died
    # first -> 0 (while alive); censored at day 200 for another reason -> unknown (IPCW)
    assert d.loc["P1", "READM12"] == 1 and d.loc["P2", "READM12"] == 0 and d.loc["P4", "READM12"] == 0
    assert np.isnan(d.loc["P3", "READM12"]) and list(d["READMCNS"][:4]) == [0, 0, 1, 0]
    assert list(d["EVT_READMIT"][:4]) == [1, 0, 0, 0]
    assert list(d["TTE_READMIT"][:4]) == [70, 255, 78, 128] == list(d["READMU"][:4])
    assert d.loc[["P5", "P6", "P7"], ["READM12", "TTE_READMIT", "EVT_READMIT"]].isna().all().all()


def test_mediator_sets_follow_the_plan():
    sets = mediator_sets(_plan())
    assert sets["HHI"] == ("HHI",) and sets["M2"] == ("HHI", "GSE", "ISMI10")
    assert "M1" not in sets  # one score: its single analysis is the mechanism's
    assert sets["ALL"] == ("WAISR", "HHI", "GSE", "ISMI10", "LSNS6", "UCLA3")


@pytest.fixture(scope="module")
def admed():
    tables, truth = simulate_small()
    plan = AnalysisPlan.from_config({"data_cut": truth["meta"]["data_cut"], "mediation": {"n_boot": 100}})
    ds = derive_all({k: v.to_frame() for k, v in tables.items()}, plan)
    return mediation_data(ds["adsl"], ds["adqs"], ds["adtte"], plan), plan


def simulate_small():
    from outcomes.simulate import simulate

    return simulate(n=500, seed=3, truth_n=2000)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_jobs_report_effects_sensitivity_and_missing(admed, tmp_path):
    data, plan = admed
    single = run_job(data, plan, "HHI", "wemwbs_m12")
    e = single.estimates
    assert set(e["effect"]) >= {"acme_average", "ade_average", "total", "prop_mediated"}
    # both designs: the same point estimates, their own bootstraps and streams
    naive, nested = (e.loc[e["clustering"] == c].reset_index(drop=True) for c in ("none", "peer_worker"))
    assert len(naive) == len(nested) == len(e) // 2 and list(e["clustering"][: len(naive)]) == ["none"] * len(naive)
    np.testing.assert_array_equal(naive["estimate"], nested["estimate"])
    assert not np.allclose(naive["ci_low"], nested["ci_low"])
    assert set(naive["rng_stream"]) == {"mediation/HHI/wemwbs_m12"}
    assert set(nested["rng_stream"]) == {"mediation/HHI/wemwbs_m12/peer_worker"}
    assert set(single.sensitivity["clustering"]) == {"none", "peer_worker"}
    pw = single.report["clustering"]["peer_worker"]
    assert pw["status"] == ["estimated"] and "units" in pw["inference"]["resampling_units"]
    assert (e["mediator"] == "HHI").all() and (e["mechanism"] == "M2").all()
    assert (e["n_boot"] == 100).all() and (e["seed"] == plan.seed).all()
    assert not single.sensitivity.empty and set(single.sensitivity["mediator"]) == {"HHI"}
    miss = single.report["missing"]
    assert miss["n_total"] - miss["n_used"] == sum(miss["by_reason"].values())
    # one sample for every mediator set of an outcome: randomised = analysed + excluded
    sample = single.report["analysis_sample"]
    assert sample["n_randomised"] == len(data) and sample["before_landmark"] == {}
    assert sample["n_analysed"] == miss["n_used"] == miss["n_total"] == e["n"].iloc[0]
    assert sample["n_analysed"] + sample["n_incomplete"] == len(data)
    assert (e["n_randomised"] == len(data)).all() and (e["n"] + e["n_incomplete"] == len(data)).all()
    joint = run_job(data, plan, "M2", "readmit_12m")
    assert set(joint.estimates["mediator"]) == {"M2"}
    assert (joint.estimates["estimate_type"] == "risk_difference").any()
    js = joint.report["analysis_sample"]
    assert set(js["before_landmark"]) <= {"readmitted before the landmark", "died before the landmark",
                                          "censored before the landmark"}
    assert js["n_analysed"] + sum(js["before_landmark"].values()) + js["n_incomplete"] == len(data)
    je = joint.estimates
    assert (je["n"] == js["n_analysed"]).all() and (je["n_before_landmark"] > 0).all()
    assert (je["n"] + je["n_before_landmark"] + je["n_incomplete"] == je["n_randomised"]).all()
    # readmit_12m keeps those censored before the horizon (IPCW weight 0): events < n known
    assert js["n_censored_before_horizon"] > 0
    again = run_job(data, plan, "HHI", "wemwbs_m12")
    pd.testing.assert_frame_equal(e, again.estimates)
    files = [write_job(single, tmp_path / "HHI__wemwbs_m12")[0], write_job(joint, tmp_path / "M2__readmit_12m")[0]]
    table, sens, reports = gather(files)
    assert len(table) == len(e) + len(joint.estimates) and len(reports) == 2
    assert list(table.columns[:18]) == ["analysis", "clustering", "estimand", "outcome", "contrast",
                                        "estimate_type", "estimate", "std_error", "ci_low", "ci_high",
                                        "p_value", "n", "events", "mediator", "mechanism", "effect",
                                        "n_boot", "seed"]
    # the bootstrap SE of each effect wherever its percentile CI is
    assert table["std_error"].notna().eq(table["ci_low"].notna()).all()
    assert set(zip(table["outcome"], table["estimand"], strict=True)) == {
        ("wemwbs_m12", "mediation_wemwbs_m12"), ("readmit_12m", "mediation_readmit_12m"),
        ("wemwbs_m12", "mediation_interventional_wemwbs_m12"),
        ("readmit_12m", "mediation_interventional_readmit_12m")}
    # the interventional rows (plan default: engagement and early readmission; early
    # readmission not for an outcome from discharge): estimated, after the natural ones
    iv = table.loc[table["effect"].str.startswith("interventional_")]
    assert len(iv) == 2 * 2 * 3
    # every row estimated, readmission from the landmark too: in this trial of 500 the
    # treated non-engagers' cell (17 with a known status, 5 readmitted) has no readmission
    # in 16-20% of the resamples, which the ridge-penalised outcome model survives
    # (decisions L63, L67)
    assert (iv["status"] == "estimated").all(), iv["reason"].tolist()
    assert single.report["interventional"]["exposure_induced_confounders"] == {
        "engagement": "ENGAGED", "early_readmission": "READM_PRE_M"}
    assert joint.report["interventional"]["not_used"] == {
        "early_readmission": "not a confounder of an outcome that starts at the mediator visit (a readmission before it takes a participant out of the landmark risk set)"}
    out = path_diagram(table, "wemwbs_m12", plan.mediation["mechanisms"], tmp_path / "d.svg", outcome_label="WEMWBS")
    assert out.stat().st_size > 1000


def test_unknown_mediator_is_a_clear_error(admed):
    data, plan = admed
    from outcomes.errors import OutcomesError

    with pytest.raises(OutcomesError, match="unknown mediator set 'XYZ'"):
        run_job(data, plan, "XYZ", "wemwbs_m12")




def test_joint_only_fit_equals_the_joint_rows_of_the_full_fit():
    """singles=False (used by the set jobs) changes nothing in the joint estimates: the
    bootstrap resamples do not depend on which mediator sets are fitted."""
    from outcomes.mediation import fit_mediation

    rng = np.random.default_rng(1)
    n = 300
    a = rng.integers(0, 2, n)
    m1, m2 = 0.5 * a + rng.normal(size=n), 0.3 * a + rng.normal(size=n)
    d = pd.DataFrame({"A": a, "M1": m1, "M2": m2, "Y": m1 + m2 + a + rng.normal(size=n)})
    kw = dict(exposure="A", mediators=["M1", "M2"], outcome="Y", outcome_type="linear", n_boot=200)
    full = fit_mediation(d, rng=np.random.default_rng(5), **kw).to_frame()
    joint = fit_mediation(d, rng=np.random.default_rng(5), singles=False, **kw).to_frame()
    assert set(joint["mediator_set"]) == {"joint"}
    pd.testing.assert_frame_equal(full[full["mediator_set"] == "joint"].reset_index(drop=True), joint)


def test_a_mediator_missing_from_the_extract_names_the_config_key(admed):
    from outcomes.errors import OutcomesError

    data, plan = admed
    with pytest.raises(OutcomesError, match="'mediation.mechanisms'.*WAISR"):
        run_job(data.drop(columns=["WAISR_M"]), plan, "WAISR", "wemwbs_m12")
