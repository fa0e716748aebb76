"""The mediation-coverage and CACE-recovery studies (studies/mediation_coverage.yaml,
studies/cace_recovery.yaml; docs/mediation.md section 10, docs/cace.md section 9): the
files validate, every estimand's truth path is a number of a real scenario truth, and one
replicate of each gives every estimand, estimated, from the rows the file means."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from outcomes.plan import AnalysisPlan, mediator_sets
from outcomes.simstudy import load_study, run_batch, scenario_truth, study_from_config
from outcomes.simstudy.run import check_estimands

STUDIES = Path(__file__).resolve().parents[1] / "studies"
MEDIATION, CACE = STUDIES / "mediation_coverage.yaml", STUDIES / "cace_recovery.yaml"
#: The script's mediator sets (benchmarks/mediation_coverage.py) as the plan names them.
SETS = {"WAISR", "HHI", "GSE", "ISMI10", "LSNS6", "UCLA3", "M2", "M3", "ALL"}
EFFECTS = ("acme_control", "acme_treated", "ade_control", "ade_treated", "total")


def _small(path: Path, **overrides):
    """The study of ``path`` with a small truth population and two replicates in batches
    of one (batch 0 is one replicate); ``overrides`` are merged into its plan_overrides."""
    raw = load_study(path).raw
    plan_overrides = {k: dict(v) if isinstance(v, dict) else v for k, v in raw["plan_overrides"].items()}
    for key, value in overrides.items():
        plan_overrides[key] = {**plan_overrides.get(key, {}), **value}
    return study_from_config({**raw, "truth_n": 2000, "replicates": 2, "batch_size": 1,
                              "plan_overrides": plan_overrides}, STUDIES)


def test_mediation_study_runs_only_the_jobs_its_estimands_use():
    study = load_study(MEDIATION)
    check_estimands(study)
    plan = AnalysisPlan.from_config(dict(study.plan))
    assert study.analyses == ("mediation",)
    # one outcome: nine (mediator set x outcome) jobs, not the plan's 27
    assert plan.mediation["outcomes"] == ["wemwbs_m12"] and set(mediator_sets(plan)) == SETS
    assert plan.missing_data.method == "complete_case" and not plan.exposure_induced_confounders
    assert {(dict(e.where)["mediator"], dict(e.where)["effect"]) for e in study.estimands} == {
        (s, e) for s in SETS for e in EFFECTS}
    assert {dict(e.where)["clustering"] for e in study.estimands} == {"none"}


def test_cace_study_is_the_selective_engagement_scenario():
    study = load_study(CACE)
    check_estimands(study)
    assert [s.settings.engagement for s in study.scenarios] == ["selective"]
    assert [s.n for s in study.scenarios] == [600]
    assert study.plan["missing_data"]["method"] == "mi" and study.plan["missing_data"]["m"] == 5
    assert {e.table for e in study.estimands} == {"cace", "questionnaires", "primary"}


@pytest.mark.slow
@pytest.mark.parametrize("path", [MEDIATION, CACE], ids=["mediation", "cace"])
def test_every_truth_path_is_a_number_of_the_scenario_truth(path):
    study = _small(path)
    truth = scenario_truth(study, study.scenarios[0])
    values = {e.name: e.true_value(truth) for e in study.estimands}
    assert all(math.isfinite(v) for v in values.values())
    if path == MEDIATION:  # the truth's own identities (docs/synthetic-trial.md section 11)
        for s in SETS:
            v = {e: values[f"{s}_{e}"] for e in EFFECTS}
            assert v["total"] == pytest.approx(v["acme_treated"] + v["ade_control"], abs=1e-9)
            assert v["total"] == pytest.approx(v["acme_control"] + v["ade_treated"], abs=1e-9)
        assert len({values[f"{s}_total"] for s in SETS}) == 1  # one total effect
    else:  # the biased comparisons are measured against the CACE
        assert values["wemwbs_m12_per_protocol"] == values["wemwbs_m12_cace"]
        assert values["readmission_as_treated"] == values["readmission_cace"]
        assert values["wemwbs_m12_itt"] < values["wemwbs_m12_cace"]  # ITT = share x CACE


@pytest.mark.slow
def test_one_mediation_replicate_gives_every_estimand():
    study = _small(MEDIATION, mediation={"n_boot": 50})
    rows = run_batch(study, study.scenarios[0], 0).set_index("estimand")
    assert len(rows) == 45 and set(rows["status"]) == {"estimated"}, rows["reason"].unique()
    assert (rows["lower"] < rows["estimate"]).all() and (rows["estimate"] < rows["upper"]).all()
    for s in SETS:  # the rows of one fit: total = ACME(1) + ADE(0) = ACME(0) + ADE(1)
        est = rows["estimate"]
        assert est[f"{s}_total"] == pytest.approx(est[f"{s}_acme_treated"] + est[f"{s}_ade_control"])
        assert est[f"{s}_total"] == pytest.approx(est[f"{s}_acme_control"] + est[f"{s}_ade_treated"])


@pytest.mark.slow
def test_one_cace_replicate_gives_every_estimand():
    study = _small(CACE, missing_data={"m": 2, "iterations": 2})
    rows = run_batch(study, study.scenarios[0], 0).set_index("estimand")
    assert len(rows) == 10 and set(rows["status"]) == {"estimated"}, rows["reason"].unique()
    assert (rows["se"] > 0).all() and (rows["lower"] < rows["upper"]).all()
    est = rows["estimate"]
    # the CACE rescales the ITT by the compliance difference (< 1), with the ITT's sign
    for outcome in ("wemwbs_m12", "readmission"):
        assert abs(est[f"{outcome}_cace"]) > abs(est[f"{outcome}_itt"])
        assert math.copysign(1, est[f"{outcome}_cace"]) == math.copysign(1, est[f"{outcome}_itt"])
