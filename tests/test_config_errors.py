"""A config that breaks the schema: one paragraph (a line) per problem naming the key, the
value and what is allowed, never the schema (outcomes.config_errors)."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from outcomes.config_errors import allowed, config_problems, key_path
from outcomes.plan import _schema_path


@pytest.fixture(scope="module")
def problems():
    validator = jsonschema.Draft202012Validator(yaml.safe_load(_schema_path().read_text(encoding="utf-8")))

    def _problems(config, **kw) -> str:
        return config_problems(validator.iter_errors(config), **kw)

    return _problems


def test_misspelt_top_level_key_is_one_paragraph_with_the_allowed_keys(problems):
    text = problems({"surival": {"n_boot": 100}})
    assert text == (
        "config key 'surival' is unknown (did you mean 'survival'?). Keys allowed at the top level: "
        "arms, clustering, data_cut, data_dir, engagement, estimands, explanations, followup_days, instruments, mediation, missing_data, missing_items, multiplicity, "
        "results_dir, reversed_items, seed, stratifiers, study_id, survival, visits. Every key is described, with its default, "
        "in workflow/schemas/config.schema.yaml."
    )
    for schema_text in ("additionalProperties", "$schema", "Failed validating", "{'"):
        assert schema_text not in text


def test_misspelt_nested_key_names_its_path_and_its_level(problems):
    assert problems({"mediation": {"n_bot": 100}}).startswith(
        "config key 'mediation.n_bot' is unknown (did you mean 'n_boot'?). Keys allowed under "
        "'mediation': batches, covariates, exposure_induced_confounders, interaction, mechanisms, "
        "mediator_types, mediator_visit, n_boot, outcomes.")
    # a misspelt required key: the unknown key, not also the missing one
    text = problems({"mediation": {"mechanisms": {"M4": {"lable": "x", "mediators": ["HHI"]}}}})
    assert text.startswith("config key 'mediation.mechanisms.M4.lable' is unknown (did you mean 'label'?). "
                           "Keys allowed under 'mediation.mechanisms.M4': label, mediators.")
    assert "lacks" not in text
    assert problems({"mediation": {"mechanisms": {"M4": {"label": "x"}}}}).startswith(
        "config key 'mediation.mechanisms.M4' lacks the key 'mediators'; required there: label, mediators.")


def test_unknown_keys_without_a_close_match_get_no_guess(problems):
    # in the order of the config file
    assert problems({"zzz": 1, "seeed": 2}).startswith(
        "config keys 'zzz', 'seeed' are unknown (did you mean 'seed' for 'seeed'?).")
    assert "did you mean" not in problems({"zzz": 1})


@pytest.mark.parametrize(
    ("config", "paragraph"),
    [
        ({"followup_days": "365"},
         "config key 'followup_days' has the value \"365\" (text), which is not allowed: allowed is an "
         "integer of at least 1 (default: 365). The key means: Length of follow-up after the index "
         "discharge (INDEXDT), in days."),
        ({"survival": {"hospital_days_n_boot": 10}},
         "config key 'survival.hospital_days_n_boot' has the value 10 (integer), which is not allowed: "
         "allowed is an integer of at least 100 (default: 2000)."),
        ({"mediation": {"outcomes": ["wemwbs_m12", "readmit"]}},
         "config key 'mediation.outcomes (entry 2)' has the value \"readmit\" (text), which is not allowed: "
         "allowed is one of wemwbs_m12, readmit_12m, readmit_time."),
        ({"mediation": {"interaction": "yes"}},
         "config key 'mediation.interaction' has the value \"yes\" (text), which is not allowed: allowed is "
         "true or false (default: false)."),
        ({"arms": "peer_support"},
         "config key 'arms' has the value \"peer_support\" (text), which is not allowed: allowed is a "
         "mapping with the keys control, treated"),
        ({"visits": []},
         "config key 'visits' has the value [] (list), which is not allowed: allowed is a list of at least "
         "1 entry, without repeats, each one of month_4, month_12"),
    ],
)
def test_wrong_value_names_key_value_and_what_is_allowed(problems, config, paragraph):
    assert problems(config).startswith(paragraph)


def test_one_paragraph_per_key_and_a_cap(problems):
    # data_dir "" breaks minLength and the pattern: one paragraph for the key
    text = problems({"data_dir": "", "seed": -1, "visits": ["x"]})
    assert [p.split()[2] for p in text.splitlines()] == ["'data_dir'", "'seed'", "'visits"]
    capped = problems({"data_dir": "", "seed": -1, "visits": ["x"]}, max_problems=1)
    assert capped.splitlines()[-1] == (
        "... and 2 more problems in the config. Every key is described, with its default, in "
        "workflow/schemas/config.schema.yaml.")


def test_helpers():
    assert key_path(["mediation", "outcomes", 0]) == "mediation.outcomes (entry 1)"
    assert allowed({"type": "string", "minLength": 1}) == "non-empty text"
    assert allowed({"type": "number", "maximum": 1}) == "a number of at most 1"
    assert allowed({"type": "object"}) == "a mapping of keys"
