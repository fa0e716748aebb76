"""The instrument registry: schema validation on load, and adding an instrument by a file."""

import numpy as np
import pytest

from outcomes.instruments import InstrumentDefinitionError, load_registry
from outcomes.scoring import score_items

EXPECTED = {"wemwbs", "swemwbs", "hhi", "gse", "ucla3", "lsns6", "qpr15", "ismi10", "wai_sr"}


def test_registry_holds_the_specified_instruments():
    reg = load_registry()
    assert set(reg) == EXPECTED
    shapes = {k: (v.n_items, v.code_min, v.code_max) for k, v in reg.items()}
    assert shapes["wemwbs"] == (14, 1, 5)
    assert shapes["hhi"] == (12, 1, 4)
    assert shapes["gse"] == (10, 1, 4)
    assert shapes["ismi10"] == (10, 1, 4)
    assert shapes["lsns6"] == (6, 0, 5)
    assert shapes["ucla3"] == (3, 1, 3)
    assert shapes["wai_sr"] == (12, 1, 5)
    assert shapes["qpr15"] == (15, 0, 4)
    paramcds = [s.paramcd for v in reg.values() for s in v.scores]
    assert len(paramcds) == len(set(paramcds))
    params = [s.param for v in reg.values() for s in v.scores]
    assert len(params) == len(set(params))


NEW = """
key: k10
name: Kessler psychological distress (test file)
citation: test
items: {n: 3, code_min: 1, code_max: 5, reversed: [2]}
scores:
  - {paramcd: K10, param: K10 total, items: all, method: sum, range: [3, 15], higher_is_better: false, missing: {max_missing: 0}}
rules:
  items: {status: UNVERIFIED, source: test}
  codes: {status: UNVERIFIED, source: test}
  reversed: {status: UNVERIFIED, source: test}
  scoring: {status: UNVERIFIED, source: test}
  missing: {status: PROJECT DEFAULT, source: test}
"""


def test_adding_an_instrument_is_adding_a_file(tmp_path):
    (tmp_path / "k10.yaml").write_text(NEW)
    reg = load_registry(tmp_path)
    assert reg["k10"].item_columns() == ["k10_01", "k10_02", "k10_03"]
    (s,) = score_items(np.array([[1.0, 1.0, 1.0]]), reg["k10"])
    assert s.value[0] == 1 + 5 + 1


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("code_max: 5", "code_max: five", "items/code_max"),
        ("method: sum", "method: median", "scores/0/method"),
        ("paramcd: K10", "paramcd: K10TOOLONG", "scores/0/paramcd"),
        ("reversed: [2]", "reversed: [7]", "items/reversed"),
    ],
)
def test_bad_definition_names_file_and_key(tmp_path, old, new, key):
    (tmp_path / "k10.yaml").write_text(NEW.replace(old, new))
    with pytest.raises(InstrumentDefinitionError) as err:
        load_registry(tmp_path)
    assert "k10.yaml" in str(err.value) and key in str(err.value)
