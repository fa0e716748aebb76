"""``outcomes.yamlio.safe_load`` (libyaml's parser, decisions CU4) reads every YAML file of
the repository as PyYAML's own ``yaml.safe_load`` does, and a broken document raises
PyYAML's own error, message included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from outcomes.yamlio import LOADER, safe_load

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted({*ROOT.glob("config/*.yaml"), *ROOT.glob("workflow/**/*.yaml"),
                *ROOT.glob("src/outcomes/**/*.yaml"), *ROOT.glob("benchmarks/**/*.yaml")})


def test_libyaml_is_used_where_pyyaml_has_it():
    assert LOADER is (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(ROOT).as_posix() for p in FILES])
def test_every_yaml_file_reads_as_pyyaml_reads_it(path):
    text = path.read_text(encoding="utf-8")
    expected = yaml.safe_load(text)
    got = safe_load(text)
    assert got == expected
    # same types too (a date, an int, a float or a bool read as text would compare unequal
    # only sometimes): the JSON forms, with the type names, are equal
    assert json.dumps(got, default=repr, sort_keys=True) == json.dumps(expected, default=repr,
                                                                       sort_keys=True)


def test_a_plan_written_as_json_reads_the_same():
    plan = {"data_dir": "extract 'Q'; touch pwned", "data_cut": "2025-12-31", "seed": 7,
            "survival": {"rmst_tau_days": 365.5, "strata": []}, "explanations": "",
            "mediation": {"interaction": False, "label": "café — ☕"}}
    text = json.dumps(plan, indent=2, ensure_ascii=False)
    assert safe_load(text) == yaml.safe_load(text) == plan


@pytest.mark.parametrize("text", ["a: [1, 2\nb: 3\n", "a: b: c\n", "key: 'open\n", "\tx: 1\n"])
def test_a_broken_document_raises_pyyamls_own_error(text):
    with pytest.raises(yaml.YAMLError) as theirs:
        yaml.safe_load(text)
    with pytest.raises(yaml.YAMLError) as ours:
        safe_load(text)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)
