"""The analysis plan: the config schema applied in the package, defaults and clear errors."""

import datetime as dt
import json

import pytest
import yaml

from outcomes.errors import ConfigError
from outcomes.plan import AnalysisPlan, validate_config, write_plan


def test_bundled_config_is_valid_and_defaults_are_filled():
    cfg = yaml.safe_load(open("config/config.yaml"))
    plan = AnalysisPlan.from_config(cfg)
    assert plan.arms == ("peer_support", "usual_care")
    assert plan.followup_days == 365
    assert validate_config({})["data_dir"] == "synthetic_data"


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"dta_dir": "x"}, "config key 'dta_dir' is unknown (did you mean 'data_dir'?)"),
        ({"followup_days": "365"}, "config key 'followup_days' has the value \"365\" (text)"),
        ({"arms": {"treated": "a", "contrl": "b"}}, "config key 'arms.contrl' is unknown (did you mean 'control'?)"),
        ({"missing_items": {"wemwbs": -1}}, "config key 'missing_items.wemwbs' has the value -1 (integer)"),
        ({"data_cut": "31/12/2025"}, "config key 'data_cut' has the value \"31/12/2025\" (text)"),
    ],
)
def test_bad_config_names_the_key(config, named):
    with pytest.raises(ConfigError) as err:
        AnalysisPlan.from_config(config)
    assert named in str(err.value)


def test_unquoted_yaml_date_is_taken_as_its_text():
    cfg = yaml.safe_load("data_cut: 2025-06-30\n")
    assert isinstance(cfg["data_cut"], dt.date)
    assert AnalysisPlan.from_config(cfg).data_cut == dt.date(2025, 6, 30)


def test_written_plan_round_trips(tmp_path):
    path = tmp_path / "plan.json"
    write_plan({"data_cut": "2025-06-30", "missing_items": {"wemwbs": 3}}, path)
    plan = AnalysisPlan.load(path)
    assert plan.data_cut == dt.date(2025, 6, 30)
    assert plan.missing_items == {"wemwbs": 3}
    assert json.loads(path.read_text())["followup_days"] == 365
    assert len(plan.sha256()) == 64


def test_plan_instruments_restrict_adqs_and_unknown_ones_are_named():
    from outcomes.adam import derive_all
    from outcomes.adam.adqs import DerivationError
    from outcomes.simulate import simulate

    tables, truth = simulate(n=40, seed=5, truth_n=1000)
    frames = {k: v.to_frame() for k, v in tables.items()}
    plan = AnalysisPlan.from_config({"instruments": ["wemwbs", "swemwbs"], "data_cut": truth["meta"]["data_cut"]})
    adqs = derive_all(frames, plan)["adqs"]
    assert set(adqs["PARAMCD"]) == {"WEMWBS", "SWEMWBS", "SWEMRAW"}
    with pytest.raises(DerivationError, match="'instruments'.*'k10'"):
        derive_all(frames, AnalysisPlan.from_config({"instruments": ["k10"]}))


def test_missing_data_keys_are_typed_with_their_defaults():
    md = AnalysisPlan.from_config({}).missing_data
    assert (md.method, md.m, md.iterations, md.imputation, md.donors, md.by_arm) == (
        "complete_case", 50, 10, "norm", 5, True)
    assert md.auxiliaries == () and md.write_imputed is False
    md = AnalysisPlan.from_config({"missing_data": {"method": "mi", "m": 20, "imputation": "norm",
                                                    "auxiliaries": ["SEX"]}}).missing_data
    assert (md.method, md.m, md.imputation, md.auxiliaries) == ("mi", 20, "norm", ("SEX",))
    with pytest.raises(ConfigError, match="missing_data.imputaton"):
        AnalysisPlan.from_config({"missing_data": {"imputaton": "pmm"}})
    with pytest.raises(ConfigError, match="missing_data.m"):
        AnalysisPlan.from_config({"missing_data": {"m": 1}})


def test_tipping_point_keys_are_typed_and_the_grid_must_hold_zero():
    tp = AnalysisPlan.from_config({}).missing_data.tipping_point
    assert (tp.outcomes, tp.deltas, tp.delta_mode, tp.alpha) == (
        (("WEMWBS", "month_12"),), None, "final", 0.05)
    tp = AnalysisPlan.from_config({"missing_data": {"tipping_point": {
        "outcomes": ["HHI month_4", "WEMWBS month_12"], "deltas": [2, 0, -2.5],
        "delta_mode": "post"}}}).missing_data.tipping_point
    assert tp.outcomes == (("HHI", "month_4"), ("WEMWBS", "month_12"))
    assert tp.deltas == (-2.5, 0.0, 2.0) and tp.delta_mode == "post"
    for bad, key in (({"deltas": [1, 2]}, "tipping_point.deltas"),
                     ({"outcomes": ["WEMWBS month_9"]}, "tipping_point.outcomes"),
                     ({"delta_mode": "often"}, "tipping_point.delta_mode")):
        with pytest.raises(ConfigError, match=key):
            AnalysisPlan.from_config({"missing_data": {"tipping_point": bad}})
