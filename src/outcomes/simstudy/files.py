"""The files of a simulation study (what its workflow's jobs read and write).

``truth/<scenario>.json`` (the scenario's population truth, truth.json's text),
``batches/<scenario>/batch_<b>.tsv`` (:data:`~outcomes.simstudy.run.REPLICATE_COLUMNS`),
``scenarios.tsv`` (the grid), ``replicates.tsv`` and ``performance.tsv`` (one row per
scenario, estimand and measure), and with the study's ``power`` key ``power.tsv`` (the
fitted power curve) and ``power_size.tsv`` (the size for the target power). Every file is written atomically; a TSV through
:func:`outcomes.tables.write_tsv`, so a local run and a cluster run give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from outcomes.atomic import write_text
from outcomes.errors import ConfigError, OutcomesError
from outcomes.simstudy.run import REPLICATE_COLUMNS, run_batch, scenario_truth, summarise
from outcomes.simstudy.study import Scenario, Study
from outcomes.simulate import truth_to_json
from outcomes.tables import write_tsv


class StudyFilesError(OutcomesError):
    """A batch or truth file of the study is missing or is not what the study expects."""

    exit_code = 2


def scenario_by_id(study: Study, scenario_id: str) -> Scenario:
    for sc in study.scenarios:
        if sc.id == scenario_id:
            return sc
    raise ConfigError(f"the study {study.name} has no scenario {scenario_id!r} "
                      f"(it has {', '.join(s.id for s in study.scenarios)})")


def scenario_table(study: Study) -> pd.DataFrame:
    """One row per scenario: ``scenario``, ``label`` and the grid's factors."""
    return pd.DataFrame([{"scenario": sc.id, "label": sc.label, **dict(sc.factors)}
                         for sc in study.scenarios])


def write_truth(study: Study, scenario_id: str, path: str | Path) -> None:
    write_text(path, truth_to_json(scenario_truth(study, scenario_by_id(study, scenario_id))))


def write_batch(study: Study, scenario_id: str, batch: int, path: str | Path) -> pd.DataFrame:
    rows = run_batch(study, scenario_by_id(study, scenario_id), batch)
    write_tsv(rows, path)
    return rows


def read_batches(paths: Sequence[str | Path]) -> pd.DataFrame:
    frames = []
    for path in paths:
        try:
            frame = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["NA"],
                                dtype={"scenario": str, "estimand": str, "status": str, "reason": str})
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise StudyFilesError(f"{path}: cannot be read as a batch ({exc})") from exc
        if list(frame.columns) != list(REPLICATE_COLUMNS):
            raise StudyFilesError(f"{path}: columns {list(frame.columns)} are not a batch's")
        frames.append(frame)
    if not frames:
        raise StudyFilesError("no batch files")
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["scenario", "replicate", "estimand"], kind="stable", ignore_index=True)


def write_performance(study: Study, batch_paths: Sequence[str | Path],
                      truth_paths: Sequence[str | Path], out_dir: str | Path) -> pd.DataFrame:
    """Gather the batches into ``replicates.tsv``, summarise into ``performance.tsv`` and
    write ``scenarios.tsv``, all in ``out_dir``."""
    replicates = read_batches(batch_paths)
    truths = {}
    for path in truth_paths:
        truths[Path(path).stem] = json.loads(Path(path).read_text(encoding="utf-8"))
    missing = [sc.id for sc in study.scenarios if sc.id not in truths]
    if missing:
        raise StudyFilesError(f"no truth file for scenarios {', '.join(missing)}")
    try:
        perf = summarise(study, replicates, truths)
    except ValueError as exc:  # a batch missing or run twice
        raise StudyFilesError(str(exc)) from exc
    out = Path(out_dir)
    if study.power is not None:
        from outcomes.simstudy.power import study_power

        curve, sizes = study_power(study, replicates)
        write_tsv(curve, out / "power.tsv")
        write_tsv(sizes, out / "power_size.tsv")
    write_tsv(scenario_table(study), out / "scenarios.tsv")
    write_tsv(replicates, out / "replicates.tsv")
    write_tsv(perf, out / "performance.tsv")
    return perf
