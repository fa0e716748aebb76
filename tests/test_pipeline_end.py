"""The pipeline's last line (outcomes.pipeline_end), without Snakemake: which stage failed,
from Snakemake's job-error log records, and which file to open."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from outcomes.pipeline_end import (
    END_OF_RUN_ENV,
    FailedJob,
    FailedJobs,
    end_of_run,
    failure_lines,
    success_lines,
    unexplained_errors,
)


def _summary(results: Path, rows: list[tuple[str, str, int, int]]) -> None:
    d = results / "validation"
    d.mkdir(parents=True)
    lines = ["rule_id\tseverity\ttable\tcount\tmessage\texplained"]
    lines += [f"{r}\t{s}\tparticipants\t{c}\tmessage of {r}\t{e}" for r, s, c, e in rows]
    (d / "issues_summary.tsv").write_text("\n".join(lines) + "\n")


def test_snakemake_names_its_job_error_event_as_the_handler_expects():
    from snakemake_interface_logger_plugins.common import LogEvent

    assert (LogEvent.JOB_ERROR, LogEvent.JOB_FINISHED) == ("job_error", "job_finished")


def test_failed_jobs_collects_job_error_records_only():
    logger = logging.getLogger("test_pipeline_end")
    logger.setLevel(logging.INFO)  # as Snakemake's logger
    handler = FailedJobs()
    logger.addHandler(handler)
    try:
        logger.info("Finished jobid: 3 (Rule: derive_adam)", extra={"event": "job_finished", "job_id": 3})
        logger.error("Exiting because a job execution failed.")
        for attempt in (1, 2):  # a retry fails again: one job, with the last attempt's logs
            logger.error("Error in rule survival, jobid: 7", extra={
                "event": "job_error", "rule_name": "survival", "jobid": 7,
                "log": ["results/logs/survival.log", f"slurm_logs/rule_survival/{attempt}.log"]})
        logger.error("Error in rule validation_gate, jobid: 2",
                     extra={"event": "job_error", "rule_name": "validation_gate", "jobid": 2, "log": []})
        # failed, then finished when retried: not a failed job
        logger.error("Error in rule report, jobid: 9",
                     extra={"event": "job_error", "rule_name": "report", "jobid": 9, "log": []})
        logger.info("Finished jobid: 9 (Rule: report)", extra={"event": "job_finished", "job_id": 9})
    finally:
        logger.removeHandler(handler)
    assert handler.jobs == [FailedJob("survival", ("results/logs/survival.log", "slurm_logs/rule_survival/2.log")),
                            FailedJob("validation_gate")]


def test_failed_gate_points_to_the_listing_with_the_count(tmp_path):
    results = tmp_path / "results"
    _summary(results, [("PAR-004", "error", 3, 1), ("XTB-002", "error", 2, 0), ("FIL-003", "warning", 5, 0)])
    assert unexplained_errors(results) == 4
    stale = results / "stale" / "run-2026-11-30T10-00-00Z"
    assert failure_lines([FailedJob("validation_gate", ("results/logs/validation_gate.log",))], results,
                         stale=stale) == [
        f"Pipeline stopped at the validation gate: 4 unexplained errors in the extract. "
        f"Open {results / 'validation' / 'validation.html'}",
        f"Results of the earlier run were moved to {stale} (see README.txt there).",
    ]
    # no summary to count from: the line still says where to look
    assert failure_lines([FailedJob("validation_gate")], tmp_path / "none") == [
        f"Pipeline stopped at the validation gate. Open {tmp_path / 'none' / 'validation' / 'validation.html'}"]


def test_failed_stage_points_to_its_log(tmp_path):
    jobs = [FailedJob("survival", ("results/logs/survival.log",))]
    assert failure_lines(jobs, "results") == ["Pipeline failed in stage survival. Open results/logs/survival.log"]
    jobs.append(FailedJob("mediation_job", ("results/logs/mediation/M1_wemwbs_m12.log",
                                            ".snakemake/slurm_logs/rule_mediation_job/42.log")))
    jobs.append(FailedJob("all"))
    assert failure_lines(jobs, "results", snakemake_logs=["/w/.snakemake/log/x.snakemake.log"]) == [
        "Pipeline failed in 3 jobs: survival (open results/logs/survival.log); mediation_job (open "
        "results/logs/mediation/M1_wemwbs_m12.log and .snakemake/slurm_logs/rule_mediation_job/42.log); "
        "all (open Snakemake's log /w/.snakemake/log/x.snakemake.log)"]
    assert failure_lines([], "results", snakemake_logs=["/w/.snakemake/log/x.snakemake.log"]) == [
        "Pipeline failed before any stage reported an error. Open Snakemake's log "
        "/w/.snakemake/log/x.snakemake.log"]


def test_success_names_the_report(tmp_path):
    results = tmp_path / "results"
    assert success_lines(results) == [
        f"Pipeline finished; the report was not built (it is {results / 'report' / 'index.html'}, made by a "
        "run of the whole pipeline)."]
    (results / "report").mkdir(parents=True)
    (results / "report" / "index.html").write_text("<html></html>")
    assert success_lines(results) == [f"Pipeline finished. Open {results / 'report' / 'index.html'}"]


def test_end_of_run_prints_on_stderr_or_writes_the_file(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(END_OF_RUN_ENV, raising=False)
    end_of_run(["a", "b"])
    assert capsys.readouterr().err == "a\nb\n"
    monkeypatch.setenv(END_OF_RUN_ENV, str(tmp_path / "end.txt"))
    end_of_run(["c"])
    assert capsys.readouterr() == ("", "")
    assert (tmp_path / "end.txt").read_text() == "c\n"


@pytest.mark.parametrize("bad", ["", "rule_id\tcount\nX\t1\n", "rule_id\tseverity\tcount\texplained\nX\terror\tn\t0\n"])
def test_unexplained_errors_of_an_unreadable_summary_is_unknown(tmp_path, bad):
    (tmp_path / "validation").mkdir()
    (tmp_path / "validation" / "issues_summary.tsv").write_text(bad)
    assert unexplained_errors(tmp_path) is None
