"""Every study file the repository ships (studies/*.yaml) is one the workflow accepts: it
passes the study schema and the plan it builds, and each estimand names a table that the
study's analyses write (docs/simulation-study.md). A study file that docs cite but that no
longer loads would otherwise only fail when someone runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from outcomes.errors import ConfigError
from outcomes.simstudy.run import check_estimands
from outcomes.simstudy.study import load_study

STUDIES = sorted((Path(__file__).resolve().parents[1] / "studies").glob("*.yaml"))


def test_the_repository_ships_its_studies():
    names = {p.stem for p in STUDIES}
    assert {"primary_power", "partially_nested", "mediation_coverage",
            "mediation_coverage_mcar", "mi_recovery", "cace_recovery"} <= names


@pytest.mark.parametrize("path", STUDIES, ids=[p.stem for p in STUDIES])
def test_study_file_loads_and_its_estimands_are_written(path):
    study = load_study(path)
    assert study.name == path.stem
    assert study.replicates >= 1 and study.scenarios
    check_estimands(study)


def test_a_broken_study_file_is_refused(tmp_path):
    root = STUDIES[0].parent.parent
    text = STUDIES[0].read_text().replace("plan: ../config/", f"plan: {root}/config/", 1)
    good, bad = tmp_path / "good" / STUDIES[0].name, tmp_path / "bad" / STUDIES[0].name
    for path, body in ((good, text), (bad, text.replace("\nreplicates:", "\nreplicatez:", 1))):
        path.parent.mkdir()
        path.write_text(body)
    assert load_study(good).replicates >= 1  # the copy loads as the original
    with pytest.raises(ConfigError, match="replicatez"):
        load_study(bad)
