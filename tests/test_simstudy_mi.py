"""studies/mi_recovery.yaml, the truth recovery of multiple imputation as a study of the
simulation-study workflow (docs/imputation.md, "Verification: truth recovery"): the file
and its plan, the true values of its estimands, and one replicate."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

from outcomes.plan import AnalysisPlan
from outcomes.simstudy import load_study, run_batch
from outcomes.simstudy.run import check_estimands, scenario_truth

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "studies" / "mi_recovery.yaml"


@pytest.fixture(scope="module")
def study():
    return load_study(STUDY)


@pytest.fixture(scope="module")
def truths(study):
    """Each scenario's truth on 2,000 people (the study's own uses truth_n)."""
    small = dataclasses.replace(study, truth_n=2000)
    return {sc.settings.missingness: scenario_truth(small, sc) for sc in study.scenarios}


def test_the_study_file_states_the_benchmark_settings(study):
    check_estimands(study)
    assert [(sc.id, sc.n, sc.settings.missingness) for sc in study.scenarios] == [
        ("s01", 600, "mar"), ("s02", 600, "mnar")]
    plan = AnalysisPlan.from_config(dict(study.plan))
    md = plan.missing_data
    assert (md.method, md.m, md.iterations, md.imputation, md.by_arm) == ("mi", 20, 10, "norm", True)
    assert study.plan["missing_data"]["predictors"]["select"] == "all"
    # the outcome's instrument and the four whose month-4 scores the mar mechanism reads
    assert sorted(study.plan["instruments"]) == ["hhi", "lsns6", "ucla3", "wai_sr", "wemwbs"]
    assert study.analyses == ("questionnaires",)
    assert {e.name for e in study.estimands} == {"wemwbs_m12_complete_case", "wemwbs_m12_mi"}


def test_mnar_is_delta_minus_5_in_both_arms(study, truths):
    from outcomes.simulate.dgp import TrialDGP

    spec = TrialDGP(study.scenarios[1].settings, study.parameters_seed()).spec
    assert spec.mnar_delta == (-5.0, -5.0)
    shift = truths["mnar"]["mnar_population"]
    assert {k: v["shifted_share"] > 0.2 for k, v in shift.items()} == {
        "peer_support": True, "usual_care": True}


def test_every_estimand_has_its_true_value(study, truths):
    values = {sc: {e.name: e.true_value(t) for e in study.estimands} for sc, t in truths.items()}
    assert all(math.isfinite(v) for by in values.values() for v in by.values())
    # both methods estimate the same population difference
    for by in values.values():
        assert by["wemwbs_m12_complete_case"] == by["wemwbs_m12_mi"]
    # both scenarios share the population: the mnar truth is the mar truth moved by exactly
    # the shift of each arm's would-be non-responders (share x mean shift; float rounding only)
    shift = truths["mnar"]["mnar_population"]
    moved = (shift["peer_support"]["shifted_share"] * shift["peer_support"]["mean_score_shift"]
             - shift["usual_care"]["shifted_share"] * shift["usual_care"]["mean_score_shift"])
    assert values["mnar"]["wemwbs_m12_mi"] - values["mar"]["wemwbs_m12_mi"] == pytest.approx(moved, abs=1e-9)
    assert abs(moved) > 0.05


def test_one_replicate_estimates_every_estimand(study):
    one = dataclasses.replace(study, replicates=1, batch_size=1)
    rows = run_batch(one, one.scenarios[0], 0).set_index("estimand")
    assert (rows["status"] == "estimated").all(), rows["reason"].tolist()
    assert set(rows.index) == {e.name for e in study.estimands}
    assert (rows["se"] > 0).all()
    assert ((rows["lower"] < rows["estimate"]) & (rows["estimate"] < rows["upper"])).all()
    cc, mi = rows.loc["wemwbs_m12_complete_case"], rows.loc["wemwbs_m12_mi"]
    # two analyses of the same trial: close (the same observed values) but not the same
    assert cc["estimate"] != mi["estimate"] and abs(cc["estimate"] - mi["estimate"]) < 2 * cc["se"]


def test_questionnaire_scores_keeps_the_pipelines_rows_of_the_named_scores():
    """run_replicate's ``scores``: the same rows as the whole table's for those scores, the
    same imputations; a study asks for it with ``questionnaire_scores: estimands``."""
    from outcomes.replicate import run_replicate
    from outcomes.simulate import SimulatorSettings, TrialDGP

    plan = AnalysisPlan.load(ROOT / "config" / "test.yaml")
    tables, _ = TrialDGP(SimulatorSettings(missingness="mar"), 3).trial(200, 4)
    full = run_replicate(tables, plan, analyses=("questionnaires",)).tables
    some = run_replicate(tables, plan, analyses=("questionnaires",), scores=["WEMWBS", "HHI"]).tables
    pd.testing.assert_frame_equal(some["imputation_summary"], full["imputation_summary"])
    q = full["questionnaires"]
    kept = q.loc[q["paramcd"].isin(["WEMWBS", "HHI"])].reset_index(drop=True)
    # 2 scores x 2 visits x 4 rows x (MI, complete cases) x (none, peer_worker)
    assert len(kept) == 2 * 2 * 4 * 2 * 2 and len(q) > len(kept)
    pd.testing.assert_frame_equal(some["questionnaires"], kept)


def test_questionnaire_scores_needs_a_paramcd_in_every_questionnaire_estimand(study):
    from outcomes.errors import ConfigError
    from outcomes.simstudy import study_from_config
    from outcomes.simstudy.run import questionnaire_scores

    assert questionnaire_scores(study) == ("WEMWBS",)
    assert questionnaire_scores(dataclasses.replace(study, questionnaire_scores="all")) is None
    raw = {**study.raw, "plan": "../config/test.yaml", "plan_overrides": {}}
    raw["estimands"] = [{**e, "where": {k: v for k, v in e["where"].items() if k != "paramcd"}}
                        for e in raw["estimands"]]
    with pytest.raises(ConfigError, match="names no paramcd"):
        study_from_config(raw, STUDY.parent)
