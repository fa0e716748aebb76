"""The analyses of one trial in one process, on data held in memory (docs/api.md).

``run_replicate(extract, plan)`` validates the extract, derives the ADaM datasets and runs
the plan's analyses (survival with the primary outcome, the questionnaire ANCOVAs with
multiple imputation when the plan says so, engagement and CACE, the change-model
mediation jobs), returning the result tables the pipeline writes to ``results/tables/``
as DataFrames. Nothing is written: no Parquet round trip between stages, no process per
mediation job. A simulation study calls it once per replicate trial and pays the
imports once.

Every stage calls the functions the ``outcomes`` command of that stage calls
(:mod:`outcomes.cli`), so the tables are those of the pipeline: written with
:func:`outcomes.tables.write_tsv` they are byte-identical to the pipeline's files for
the same extract and plan (tests/test_replicate.py checks it against the test suite's
Snakemake run).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from outcomes.errors import OutcomesError
from outcomes.plan import AnalysisPlan

#: The analyses :func:`run_replicate` runs by default, in the order it runs them.
ANALYSES: tuple[str, ...] = ("survival", "questionnaires", "engagement", "mediation")
#: Analyses it runs only when asked: ``primary``, the primary analysis alone (the rows of
#: survival.tsv whose analysis is primary, as table ``primary``), for simulation studies.
EXTRA_ANALYSES: tuple[str, ...] = ("primary",)


class ValidationFailed(OutcomesError):
    """The extract has unexplained validation errors (the pipeline's validation gate);
    ``validation`` holds the findings."""

    def __init__(self, validation: Any) -> None:
        super().__init__(f"validation found {validation.n_errors} unexplained errors "
                         "(see the exception's validation.findings)")
        self.validation = validation


@dataclass(frozen=True)
class Replicate:
    """What :func:`run_replicate` made of one trial.

    ``tables``: the result tables by the name of their file in ``results/tables/``
    (``survival``, ``questionnaires``, ``imputation_summary``, ``engagement``, ``cace``,
    ``mediation``, ``mediation_sensitivity``; those of the analyses run). ``cpu_seconds``:
    process CPU time of each stage (``validate``, ``derive``, ``impute``, then each
    analysis), for cost accounting; not a result.
    """

    validation: Any  # outcomes.validation.ValidationResult
    adam: dict[str, pd.DataFrame]
    tables: dict[str, pd.DataFrame]
    mediation_models: list[dict[str, Any]] = field(default_factory=list, repr=False)
    cpu_seconds: dict[str, float] = field(default_factory=dict, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """Every estimates table stacked, a first column ``table`` naming its file."""
        names: list[str] = [n for n in ("survival", "questionnaires", "cace", "mediation")
                            if n in self.tables]
        if "primary" in self.tables and "survival" not in self.tables:
            names.insert(0, "primary")  # its rows are survival's when both ran
        return pd.concat([self.tables[n].assign(table=n)[["table", *self.tables[n].columns]]
                          for n in names], ignore_index=True)


def extract_texts(extract: Mapping[str, Any]) -> dict[str, str | bytes]:
    """The text of each table's CSV file: a DataFrame is written as CSV (read it with
    ``dtype=str, keep_default_na=False`` to keep the file's text), a simulated
    :class:`outcomes.simulate.Table` as :func:`outcomes.simulate.write_simulated_trial`
    writes it, a ``str`` or ``bytes`` is the file's text."""
    texts: dict[str, str | bytes] = {}
    for name, table in extract.items():
        if isinstance(table, str | bytes):
            texts[name] = table
        elif isinstance(table, pd.DataFrame):
            texts[name] = table.to_csv(index=False, lineterminator="\n")
        else:
            from outcomes.simulate import Table, table_to_csv

            if not isinstance(table, Table):
                raise OutcomesError(f"{name}: a DataFrame, a simulated Table or the CSV text "
                                    f"is needed, not {type(table).__name__}")
            texts[name] = table_to_csv(table)
    return texts


def _plan(plan: AnalysisPlan | Mapping[str, Any] | str | Path) -> AnalysisPlan:
    if isinstance(plan, AnalysisPlan):
        return plan
    if isinstance(plan, Mapping):
        return AnalysisPlan.from_config(dict(plan))
    return AnalysisPlan.load(plan)


def run_replicate(extract: Mapping[str, Any], plan: AnalysisPlan | Mapping[str, Any] | str | Path,
                  *, explanations: str | Path | None = None,
                  analyses: Iterable[str] = ANALYSES, blas_threads: int | None = 1,
                  scores: Iterable[str] | None = None) -> Replicate:
    """Validate ``extract`` (the four tables: :func:`extract_texts`), derive ADSL, ADQS,
    ADTTE and ADRE and run ``analyses`` (a subset of :data:`ANALYSES`) with ``plan`` (an
    :class:`AnalysisPlan`, a config mapping or a plan file, as ``results/plan.json``; its
    ``data_dir`` and ``results_dir`` are not used). Unexplained validation errors raise
    :class:`ValidationFailed`, as the pipeline's validation gate stops the run.

    ``blas_threads``: the BLAS and OpenMP threads of the run (threadpoolctl), 1 as in
    every pipeline job; the last bits of a floating-point sum depend on how BLAS splits
    it, so another count can change the last digits of ``mediation_models`` (None: leave
    the process's setting).

    ``scores``: the PARAMCDs whose ANCOVAs the questionnaires table holds (None: every
    score of the plan, as the pipeline). Each row kept is the pipeline's; the imputation
    model is the plan's either way. A simulation study's replicates pay for their
    estimands' scores only.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=blas_threads):
        return _run(extract, _plan(plan), explanations, tuple(analyses),
                    None if scores is None else frozenset(scores))


#: The modules each analysis imports when it first runs (besides validation and derive).
_MODULES: dict[str, tuple[str, ...]] = {
    "primary": ("outcomes.survival.run",),
    "survival": ("outcomes.survival.run",),
    "questionnaires": ("outcomes.imputation.run", "outcomes.imputation.ancova"),
    "engagement": ("outcomes.imputation.run", "outcomes.cace.analyses"),
    "mediation": ("outcomes.imputation.run", "outcomes.mediation.admed", "outcomes.mediation.changemodel"),
}


def preload(analyses: Iterable[str] = ANALYSES) -> None:
    """Import what :func:`run_replicate` needs for ``analyses`` now rather than in the first
    replicate (a batch of replicates can then tell its set-up cost from its work)."""
    import importlib

    for name in ("outcomes.adam.io", "outcomes.validation", "outcomes.validation.report",
                 *(m for a in analyses for m in _MODULES.get(a, ()))):
        importlib.import_module(name)


def _run(extract: Mapping[str, Any], plan: AnalysisPlan, explanations: str | Path | None,
         wanted: tuple[str, ...], scores: frozenset[str] | None = None) -> Replicate:
    from outcomes.adam.io import DATASETS, derive_all, in_file_order
    from outcomes.validation import validate_texts
    from outcomes.validation.report import clean_frame

    unknown = [a for a in wanted if a not in EXTRA_ANALYSES + ANALYSES]
    if unknown:
        raise OutcomesError(f"analyses: {unknown[0]!r} is not one of "
                            f"{', '.join(ANALYSES + EXTRA_ANALYSES)}")
    cpu: dict[str, float] = {}

    def timed(stage: str, fn: Callable[..., Any]) -> Any:
        start = time.process_time()
        out = fn()
        cpu[stage] = time.process_time() - start
        return out

    validation = timed("validate", lambda: validate_texts(
        extract_texts(extract), explanations=explanations,
        arms=(plan.treated_arm, plan.control_arm), data_cut=plan.data_cut))
    if validation.exit_code != 0:
        raise ValidationFailed(validation)

    def derive() -> dict[str, pd.DataFrame]:
        clean = {t: clean_frame(f) for t, f in validation.clean.items()}
        derived = derive_all(clean, plan)
        return {n: in_file_order(n, derived[n]) for n in DATASETS}

    adam = timed("derive", derive)
    tables: dict[str, pd.DataFrame] = {}
    mi = None
    if plan.missing_data.method == "mi" and {"questionnaires", "engagement", "mediation"} & set(wanted):
        mi = timed("impute", lambda: _Imputed.of(adam, plan))
        tables["imputation_summary"] = mi.summary
    models: list[dict[str, Any]] = []
    for name in EXTRA_ANALYSES + ANALYSES:
        if name in wanted:
            kw = {"scores": scores} if name == "questionnaires" else {}
            out = timed(name, lambda name=name, kw=kw: _ANALYSIS[name](adam, plan, mi, **kw))
            if name == "mediation":
                out, models = out
            tables.update(out)
    return Replicate(validation, adam, tables, models, cpu)


@dataclass(frozen=True)
class _Imputed:
    """The impute stage in memory: what its files hold and what its consumers read."""

    frame: Any  # outcomes.imputation.frame.ImputationFrame
    long: pd.DataFrame  # imputed_long.parquet as its readers see it
    completed: list[pd.DataFrame]
    summary: pd.DataFrame  # imputation_summary.tsv

    @classmethod
    def of(cls, adam: dict[str, pd.DataFrame], plan: AnalysisPlan) -> _Imputed:
        from outcomes.imputation.run import (
            completed_sets,
            imputed_data,
            long_table,
            missing_summary,
        )

        imp = imputed_data(adam, plan)
        long = long_table(imp).to_pandas()
        return cls(imp.frame, long, completed_sets(long, imp.frame, plan.missing_data.m),
                   missing_summary(imp))


def _primary(d, plan, mi) -> dict[str, pd.DataFrame]:
    from outcomes.survival.run import primary_analysis

    return {"primary": primary_analysis(d["adsl"], d["adtte"], plan)}


def _survival(d, plan, mi) -> dict[str, pd.DataFrame]:
    from outcomes.survival.run import run_survival

    return {"survival": run_survival(d["adsl"], d["adtte"], d["adre"], plan,
                                     plan.rng("survival")).table}


def _questionnaires(d, plan, mi, scores=None) -> dict[str, pd.DataFrame]:
    from outcomes.imputation.ancova import questionnaire_results

    adqs = d["adqs"] if scores is None else d["adqs"].loc[d["adqs"]["PARAMCD"].isin(scores)]
    return {"questionnaires": questionnaire_results(adqs, d["adsl"], plan,
                                                    *((mi.completed, mi.frame) if mi else ()))}


def _engagement(d, plan, mi) -> dict[str, pd.DataFrame]:
    from outcomes.cace.analyses import engagement_analyses

    res = engagement_analyses(d["adsl"], d["adtte"], d["adqs"], plan,
                              *((mi.completed, mi.frame) if mi else ()))
    return {"engagement": res.engagement.to_frame(), "cace": res.estimates}


def _mediation(d, plan, mi):
    import json

    from outcomes.mediation.admed import imputed_mediation_data, mediation_data, split_completed
    from outcomes.mediation.changemodel import (
        job_name,
        mediator_sets,
        report_json,
        run_job,
        stack_jobs,
    )

    data = mediation_data(d["adsl"], d["adqs"], d["adtte"], plan)
    sets = None if mi is None else split_completed(imputed_mediation_data(d, data, plan, mi.long))
    jobs = {job_name(m, o) + ".tsv": run_job(data, plan, m, o, sets)
            for m in mediator_sets(plan) for o in plan.mediation["outcomes"]}
    table, sens, reports = stack_jobs([jobs[k] for k in sorted(jobs)])
    return ({"mediation": table, "mediation_sensitivity": sens},
            [json.loads(report_json(jobs[k])) for k in sorted(jobs)])


_ANALYSIS = {"primary": _primary, "survival": _survival, "questionnaires": _questionnaires,
             "engagement": _engagement, "mediation": _mediation}
