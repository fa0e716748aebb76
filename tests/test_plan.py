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
    ("config", "key"),
    [
        ({"dta_dir": "x"}, "(top level)"),
        ({"followup_days": "365"}, "followup_days"),
        ({"arms": {"treated": "a", "contrl": "b"}}, "arms"),
        ({"missing_items": {"wemwbs": -1}}, "missing_items.wemwbs"),
        ({"data_cut": "31/12/2025"}, "data_cut"),
    ],
)
def test_bad_config_names_the_key(config, key):
    with pytest.raises(ConfigError) as err:
        AnalysisPlan.from_config(config)
    assert f"'{key}'" in str(err.value)


def test_unknown_key_is_named_in_message():
    with pytest.raises(ConfigError, match="dta_dir"):
        validate_config({"dta_dir": "x"})


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
