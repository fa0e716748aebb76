"""Running a simulation study: the truth of each scenario, the replicates of a batch, and
the performance of each estimand (Morris, White & Crowther 2019).

:func:`run_batch` simulates a batch's replicate trials from the scenario's DGP
(:class:`outcomes.simulate.TrialDGP`, parameters from the study's ``parameters`` stream),
runs the plan's analyses on each in this process (:func:`outcomes.replicate.run_replicate`)
and keeps one row per replicate and estimand (:data:`REPLICATE_COLUMNS`). A replicate whose
extract fails validation or whose estimand row is not estimable gives a row with
``status = not estimable`` and the reason; it counts among the replicates, not among the
estimates (:func:`outcomes.simstudy.performance.performance`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from outcomes.errors import ConfigError, OutcomesError
from outcomes.simstudy.performance import performance
from outcomes.simstudy.study import Estimand, Scenario, Study
from outcomes.simulate import TrialDGP

#: One row per replicate and estimand.
REPLICATE_COLUMNS: tuple[str, ...] = ("scenario", "replicate", "estimand", "estimate", "se",
                                      "lower", "upper", "p_value", "status", "reason")

#: The analysis of the plan that writes each table an estimand may name.
TABLE_ANALYSIS: dict[str, str] = {"primary": "primary", "survival": "survival", "questionnaires": "questionnaires",
                                  "cace": "engagement", "mediation": "mediation"}


def check_estimands(study: Study) -> None:
    """Every estimand names a table that the study's analyses write."""
    for est in study.estimands:
        if TABLE_ANALYSIS[est.table] not in study.analyses:
            raise ConfigError(f"estimand {est.name}: table {est.table} needs the analysis "
                              f"{TABLE_ANALYSIS[est.table]!r} in the study's analyses")


def questionnaire_scores(study: Study) -> tuple[str, ...] | None:
    """The scores (PARAMCD) whose ANCOVAs a replicate runs: those the questionnaires
    estimands name when the study's ``questionnaire_scores`` is ``estimands``, else None
    (every score of the plan)."""
    if study.questionnaire_scores != "estimands":
        return None
    return tuple(sorted({str(dict(e.where)["paramcd"]) for e in study.estimands
                         if e.table == "questionnaires"}))


def scenario_dgp(study: Study, scenario: Scenario) -> TrialDGP:
    """The scenario's data-generating process (parameters shared by every scenario)."""
    return TrialDGP(scenario.settings, study.parameters_seed())


def scenario_truth(study: Study, scenario: Scenario) -> dict[str, Any]:
    """The scenario's population truth (``truth_n`` people; as truth.json's blocks)."""
    return scenario_dgp(study, scenario).truth(study.truth_n)


def _matches(table: pd.DataFrame, est: Estimand) -> pd.DataFrame:
    mask = np.ones(len(table), dtype=bool)
    for column, value in est.where:
        if column not in table.columns:
            raise ConfigError(f"estimand {est.name}: table {est.table} has no column {column!r} "
                              f"(its columns: {', '.join(map(str, table.columns))})")
        col = table[column]
        if isinstance(value, str):
            mask &= (col.astype("string") == value).fillna(False).to_numpy(dtype=bool)
        else:
            mask &= (pd.to_numeric(col, errors="coerce") == value).fillna(False).to_numpy(dtype=bool)
    return table.loc[mask]


def _not_estimable(scenario: Scenario, r: int, est: Estimand, reason: str) -> dict[str, Any]:
    return {"scenario": scenario.id, "replicate": r, "estimand": est.name, "estimate": math.nan,
            "se": math.nan, "lower": math.nan, "upper": math.nan, "p_value": math.nan,
            "status": "not estimable", "reason": reason}


def estimand_row(tables: dict[str, pd.DataFrame], scenario: Scenario, r: int,
                 est: Estimand) -> dict[str, Any]:
    """Replicate ``r``'s row of estimand ``est`` from its result tables (on its scale)."""
    rows = _matches(tables[est.table], est)
    if len(rows) > 1:
        raise ConfigError(f"estimand {est.name}: `where` picks {len(rows)} rows of {est.table}, "
                          "not one; add columns that tell them apart")
    if len(rows) == 0:
        return _not_estimable(scenario, r, est, f"no row of {est.table} matches")
    row = rows.iloc[0]

    def num(name: str) -> float:
        return float(row[name]) if name in row.index and pd.notna(row[name]) else math.nan

    estimate, lower, upper = num("estimate"), num("ci_low"), num("ci_high")
    if not math.isfinite(estimate):
        reason = row["reason"] if "reason" in row.index and pd.notna(row["reason"]) else "no estimate"
        return _not_estimable(scenario, r, est, str(reason))
    if est.scale == "log":
        if estimate <= 0:
            return _not_estimable(scenario, r, est, f"estimate {estimate} has no log")
        estimate = math.log(estimate)
        lower = math.log(lower) if lower > 0 else math.nan
        upper = math.log(upper) if upper > 0 else math.nan
    return {"scenario": scenario.id, "replicate": r, "estimand": est.name, "estimate": estimate,
            "se": num("std_error"), "lower": lower, "upper": upper, "p_value": num("p_value"),
            "status": "estimated", "reason": ""}


def run_batch(study: Study, scenario: Scenario, batch: int,
              cpu: dict[str, float] | None = None) -> pd.DataFrame:
    """The rows (:data:`REPLICATE_COLUMNS`) of batch ``batch`` of ``scenario``. ``cpu``, if
    given, receives the process CPU seconds before the first replicate (``setup``: the
    interpreter, imports and the DGP) and of the replicates (``replicates``); never in the
    rows, which must not depend on the machine."""
    import time

    from outcomes.replicate import preload, run_replicate

    check_estimands(study)
    dgp = scenario_dgp(study, scenario)
    scores = questionnaire_scores(study)
    preload(study.analyses)
    start = time.process_time()
    rows: list[dict[str, Any]] = []
    for r in study.batch(batch):
        tables, _ = dgp.trial(scenario.n, study.trial_seed(scenario, r))
        plan = {**study.plan, "seed": study.analysis_seed(scenario, r)}
        try:
            result = run_replicate(tables, plan, analyses=study.analyses, scores=scores).tables
        except ConfigError:
            raise
        except OutcomesError as exc:  # validation gate, an analysis that cannot run at all
            rows.extend(_not_estimable(scenario, r, est, str(exc).splitlines()[0])
                        for est in study.estimands)
            continue
        rows.extend(estimand_row(result, scenario, r, est) for est in study.estimands)
    if cpu is not None:
        cpu["setup"] = start
        cpu["replicates"] = time.process_time() - start
    return pd.DataFrame(rows, columns=list(REPLICATE_COLUMNS))


def summarise(study: Study, replicates: pd.DataFrame, truths: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Performance of every estimand in every scenario: one row per (scenario, estimand,
    measure) with the scenario's factors, ``estimate`` and ``mcse``. ``truths``: each
    scenario's truth by scenario id."""
    frames = []
    for scenario in study.scenarios:
        of_scenario = replicates.loc[replicates["scenario"] == scenario.id]
        for est in study.estimands:
            reps = of_scenario.loc[of_scenario["estimand"] == est.name].sort_values("replicate")
            if len(reps) != study.replicates:
                raise ValueError(f"scenario {scenario.id}, estimand {est.name}: {len(reps)} "
                                 f"replicates, the study has {study.replicates}")
            perf = performance(reps, true_value=est.true_value(truths[scenario.id]),
                               alpha=study.alpha)
            frame = perf.to_frame()
            frame.insert(0, "estimand", est.name)
            for i, (key, value) in enumerate(scenario.factors):
                frame.insert(i, key, value)
            frame.insert(0, "scenario", scenario.id)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)
