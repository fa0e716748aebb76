"""The last line of a pipeline run: where the report is, or which stage failed and which
file to open (docs/pipeline.md, *On the terminal*).

The workflow attaches a :class:`FailedJobs` handler to Snakemake's logger when the run
starts; Snakemake reports each failed job there as a ``job_error`` record naming the rule
and its log files — also when the terminal output is quiet (``--quiet rules`` drops those
records from the terminal and from ``.snakemake/log/``, not from the logger). The
``onsuccess`` and ``onerror`` handlers then call :func:`success_lines` or
:func:`failure_lines` and :func:`end_of_run`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

GATE_RULE = "validation_gate"
"""The rule that stops the pipeline on unexplained validation errors (workflow/rules/validate.smk)."""
VALIDATION_DIR = "validation"
REPORT = Path("report") / "index.html"
END_OF_RUN_ENV = "OUTCOMES_END_OF_RUN"
"""When set, :func:`end_of_run` writes the lines to this file instead of printing them
(``scripts/pipeline.sh`` prints them after Snakemake's own last lines)."""


@dataclass(frozen=True)
class FailedJob:
    """A job Snakemake reported as failed: its rule and log files (the rule's ``log:``,
    then any the executor adds, such as the SLURM job log)."""

    rule: str
    logs: tuple[str, ...] = ()


class FailedJobs(logging.Handler):
    """The jobs Snakemake reported as failed (``job_error`` log records: rule name, log
    files), in order. A job that fails and then succeeds when retried (``retries:``) is
    dropped again at its ``job_finished`` record (logged unless ``--quiet progress``)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self._failed: dict[object, FailedJob] = {}

    @property
    def jobs(self) -> list[FailedJob]:
        return list(self._failed.values())

    def emit(self, record: logging.LogRecord) -> None:
        event = str(getattr(record, "event", ""))
        if event == "job_error":
            rule = str(getattr(record, "rule_name", "") or "?")
            logs = tuple(str(p) for p in getattr(record, "log", None) or ())
            # one entry per job: a retry that fails again replaces it (its SLURM log is new)
            self._failed[getattr(record, "jobid", (rule, logs))] = FailedJob(rule, logs)
        elif event == "job_finished":
            self._failed.pop(getattr(record, "job_id", None), None)


def unexplained_errors(results_dir: str | Path) -> int | None:
    """Unexplained errors of the run's validation (``issues_summary.tsv``), None if unknown.
    pandas is imported here, not at the top: the Snakefile imports this module at every
    start, and only a failed run calls this (decisions WK3)."""
    import pandas as pd

    from outcomes.validation.report import SUMMARY_FILE

    try:
        s = pd.read_csv(Path(results_dir) / VALIDATION_DIR / SUMMARY_FILE, sep="\t", dtype=str,
                        keep_default_na=False)
        errors = s[s["severity"] == "error"]
        return int((errors["count"].astype(int) - errors["explained"].astype(int)).sum())
    except (OSError, ValueError, KeyError):
        return None


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _open(job: FailedJob, snakemake_log: str) -> str:
    return " and ".join(job.logs) if job.logs else f"Snakemake's log {snakemake_log}"


def failure_lines(jobs: Sequence[FailedJob], results_dir: str | Path, *, stale: Path | str | None = None,
                  snakemake_logs: Sequence[str] = ()) -> list[str]:
    """Which stage failed and which file to open; then where the earlier results went.

    A failed validation gate points to ``validation.html`` with the count of unexplained
    errors; any other stage to its log file(s).
    """
    results = Path(results_dir)
    snakemake_log = ", ".join(snakemake_logs) or ".snakemake/log/"
    gate = [j for j in jobs if j.rule == GATE_RULE]
    others = [j for j in jobs if j.rule != GATE_RULE]
    lines = []
    if gate:
        n = unexplained_errors(results)
        count = f": {_plural(n, 'unexplained error')} in the extract" if n else ""
        lines.append(f"Pipeline stopped at the validation gate{count}. "
                     f"Open {results / VALIDATION_DIR / 'validation.html'}")
    if len(others) == 1:
        lines.append(f"Pipeline failed in stage {others[0].rule}. Open {_open(others[0], snakemake_log)}")
    elif others:
        lines.append(f"Pipeline failed in {len(others)} jobs: "
                     + "; ".join(f"{j.rule} (open {_open(j, snakemake_log)})" for j in others))
    if not jobs:
        lines.append(f"Pipeline failed before any stage reported an error. Open Snakemake's log {snakemake_log}")
    if stale is not None:
        lines.append(f"Results of the earlier run were moved to {stale} (see README.txt there).")
    return lines


def success_lines(results_dir: str | Path) -> list[str]:
    """Where the report is (or that this run did not build it)."""
    report = Path(results_dir) / REPORT
    if report.is_file():
        return [f"Pipeline finished. Open {report}"]
    return [f"Pipeline finished; the report was not built (it is {report}, made by a run of the whole pipeline)."]


def end_of_run(lines: Sequence[str]) -> None:
    """Print the lines on stderr, where Snakemake writes its own, or write them to the
    file named by ``OUTCOMES_END_OF_RUN`` for the caller to print last."""
    text = "".join(f"{line}\n" for line in lines)
    target = os.environ.get(END_OF_RUN_ENV)
    if target:
        from outcomes.atomic import write_text

        write_text(target, text)
    else:
        sys.stderr.write(text)
        sys.stderr.flush()


__all__ = ["FailedJob", "FailedJobs", "end_of_run", "failure_lines", "success_lines", "unexplained_errors"]
