import json
import shlex
import sys
from pathlib import Path

from snakemake.utils import min_version

from outcomes.errors import ConfigError
from outcomes.pipeline_end import FailedJobs
from outcomes.plan import AnalysisPlan, mediator_sets, validate_config
from outcomes.resources import (
    DEFAULT_MEDIATION_BATCHES,
    cached_sha256,
    extract_size_mb,
    job_mem_mb,
    job_runtime_min,
    mediation_batches,
)

min_version("9.0")


# The config against workflow/schemas/config.schema.yaml, defaults filled in; a problem
# stops the run with one paragraph naming the key (outcomes.config_errors), not the schema.
try:
    config.update(validate_config(config))
except ConfigError as exc:
    sys.exit(str(exc))

# The package CLI of the interpreter that runs Snakemake (the project's virtualenv); SLURM
# jobs inherit it, so rules never depend on what happens to be on PATH.
OUTCOMES = f"{shlex.quote(sys.executable)} -m outcomes"

RESULTS = config["results_dir"]
DATA_DIR = config["data_dir"]
EXPLANATIONS = config.get("explanations") or ""
INPUT_TABLES = ["participants", "questionnaires", "admissions", "peer_contacts"]
ADAM_DATASETS = ["adsl", "adqs", "adtte", "adre"]
# the datasets with a SAS transport copy and an entry in define.xml (outcomes.adam.xpt)
XPT_DATASETS = ["adsl", "adqs", "adtte"]


def data_file(table):
    return str(Path(DATA_DIR) / f"{table}.csv")


# Every config value reaches a shell command as one quoted argument ({...:q}); a missing
# input stops the run here, in one line naming the key, before any job can run on the
# results of an earlier extract.
if not Path(DATA_DIR).is_dir():
    sys.exit(f"config data_dir: {DATA_DIR}: directory not found")
_missing = [
    Path(data_file(t)).name for t in INPUT_TABLES if not Path(data_file(t)).is_file()
]
if _missing:
    sys.exit(f"config data_dir: {DATA_DIR}: no {', '.join(_missing)} in the extract")
if EXPLANATIONS and not Path(EXPLANATIONS).is_file():
    sys.exit(f"config explanations: {EXPLANATIONS}: file not found")


def explanations_input():
    return [EXPLANATIONS] if EXPLANATIONS else []


def explanations_args():
    return ["--explanations", EXPLANATIONS] if EXPLANATIONS else []


def data_cut_args():
    """--data-cut DATE when the plan fixes the data cut (dates after it are findings)."""
    cut = config.get("data_cut")
    return ["--data-cut", str(cut)] if cut else []


def arm_codes():
    return [config["arms"]["treated"], config["arms"]["control"]]


def input_checksums(wildcards):
    """SHA-256 of the extract and explanations: a changed file reruns everything, whatever
    its mtime (a parameter, not derived from `input`, so that Snakemake records it). A file
    whose (size, mtime, ctime, inode) are those of the last hash is not read again
    (outcomes.resources.cached_sha256; the cache is results/logs/input_checksums.json).
    """
    paths = [data_file(t) for t in INPUT_TABLES] + explanations_input()
    return cached_sha256(paths, f"{RESULTS}/logs/input_checksums.json")


# Each job's mem_mb and runtime: a function of the extract's size and the plan, calibrated
# on benchmarks/scale.py (outcomes.resources, docs/pipeline.md "Resources"). Every job's
# BLAS and OpenMP threads equal its threads: Snakemake's shell() sets OMP_NUM_THREADS,
# OPENBLAS_NUM_THREADS, MKL_NUM_THREADS... to them, so every rule is a shell rule.
EXTRACT_MB = extract_size_mb(
    [data_file(t) for t in INPUT_TABLES] + explanations_input()
)


def stage_mem_mb(stage):
    return lambda wildcards, attempt: job_mem_mb(stage, EXTRACT_MB, config, attempt)


def stage_runtime(stage, jobs=1):
    """The runtime of a job of `stage`, or of a batch of `jobs` of them in one process."""
    return lambda wildcards, attempt: job_runtime_min(
        stage, EXTRACT_MB, config, attempt, jobs=jobs
    )


def benchmark_file(name):
    """Snakemake's per-job record (wall s, cpu_time, max_rss...), read by benchmarks/scale.py:
    under logs/ because, like a log, it differs between runs of the same inputs."""
    return f"{RESULTS}/logs/benchmarks/{name}.tsv"


# Multiple imputation of missing questionnaires (impute.smk) when the plan says so.
MI = config["missing_data"]["method"] == "mi"


def kept_if_asked(path):
    """The completed data sets stay for audit with missing_data.write_imputed, else temp()."""
    return path if config["missing_data"]["write_imputed"] else temp(path)


# mediation.batches says how the pipeline runs the mediation jobs, not what they compute:
# it stays out of plan.json, so changing it reruns the mediation batches only, not every
# stage that reads the plan (decisions WK1).
MEDIATION_BATCH_COUNT = config["mediation"].get("batches", DEFAULT_MEDIATION_BATCHES)
PLAN_CONFIG = {
    **config,
    "mediation": {k: v for k, v in config["mediation"].items() if k != "batches"},
}

# The plan as the package reads it, built once per Snakemake start (not per rule file).
PLAN = AnalysisPlan.from_config(PLAN_CONFIG)


def mediation_jobs():
    """(mediator set, outcome) pairs of the plan: one Snakemake job each."""
    return [(m, o) for m in mediator_sets(PLAN) for o in PLAN.mediation["outcomes"]]


def tipping_outcomes():
    """(PARAMCD, visit) of each outcome of the plan's tipping-point analysis."""
    return PLAN.missing_data.tipping_point.outcomes


def multiplicity_tables():
    """The results tables the plan's multiplicity hierarchy names (multiplicity.smk):
    called there, once the rules that write them are defined."""
    written_by = {
        "survival": rules.survival.output.table,
        "questionnaires": rules.questionnaire_ancova.output.table,
        "cace": rules.engagement.output.cace,
    }
    names = {s.table for s in PLAN.multiplicity.selectors}
    return [written_by[name] for name in sorted(names)]


# A failed run leaves no earlier result looking current (outcomes.stale, docs/pipeline.md),
# and every run ends with a line saying where the report is, or which stage failed and
# which file to open (outcomes.pipeline_end): Snakemake reports failed jobs to FAILED_JOBS.
FAILED_JOBS = FailedJobs()


onstart:
    from snakemake.logging import logger
    from outcomes.stale import begin_run

    logger.addHandler(FAILED_JOBS)
    begin_run(RESULTS)


onsuccess:
    from outcomes.pipeline_end import end_of_run, success_lines

    end_of_run(success_lines(RESULTS))


onerror:
    from outcomes.pipeline_end import end_of_run, failure_lines
    from outcomes.stale import retire_stale_results

    moved = None
    try:
        moved = retire_stale_results(RESULTS)
    except OSError as exc:
        print(
            f"{RESULTS}: cannot move the earlier run's results to stale/: {exc}",
            file=sys.stderr,
        )
    end_of_run(
        failure_lines(FAILED_JOBS.jobs, RESULTS, stale=moved, snakemake_logs=log)
    )
