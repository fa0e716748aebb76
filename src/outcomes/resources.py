"""What each pipeline job declares to a scheduler (``mem_mb``, ``runtime``), and what it used.

One table, :data:`STAGE_COSTS`, holds per rule the measured cost of the default plan
(config/config.yaml) at two trial sizes, from ``benchmarks/scale.py`` (benchmarks/README.md,
"Scale"): the peak RSS and the wall time at the small end (the bundled n = 600 trial, where
the interpreter and its imports dominate) and at n = 100,000, each against the size in MB of
the extract (the four CSV files and the explanations). Between them the cost is the straight
line through the two points; beyond the largest measured size it grows with the stage's
measured exponent (between n = 20,000 and 100,000), never slower than linearly. The declared
value is that cost times a safety margin (:data:`MEM_MARGIN`, :data:`RUNTIME_MARGIN`), times
the plan's work factor (more imputations or bootstrap replicates than the calibrated default
raise it; fewer never lower it), times the attempt number (the SLURM profile retries once).

A cluster that enforces ``mem_mb`` and ``runtime`` kills a job that exceeds them, so the
margins are generous: they cover the measurement's sampling, a loaded node and differences of
CPU speed (docs/pipeline.md, "Resources each job declares"). Tested without Snakemake in
tests/test_resources.py.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Declared memory = measured peak x MEM_MARGIN (+ MEM_SLACK_MB).
MEM_MARGIN = 1.5
MEM_SLACK_MB = 256
#: Declared runtime = measured wall time x RUNTIME_MARGIN, at least MIN_RUNTIME_MIN minutes.
RUNTIME_MARGIN = 3.0
MIN_RUNTIME_MIN = 5


@dataclass(frozen=True)
class StageCost:
    """Measured cost of one rule's job under the default plan: peak RSS (MB) and wall time
    (s) at ``small_mb`` and at ``large_mb`` of extract, and the growth exponent of each
    between n = 20,000 and n = 100,000 (used beyond ``large_mb`` only, at least 1)."""

    small_mb: float
    large_mb: float
    rss_small: float
    rss_large: float
    seconds_small: float
    seconds_large: float
    rss_exponent: float = 1.0
    seconds_exponent: float = 1.0
    #: the plan knobs the work grows with: "m" (imputations), "n_boot" (mediation
    #: bootstrap), "hospital_days_n_boot" (survival)
    work: tuple[str, ...] = ()
    #: a lower bound on the peak, MB per MB of extract, from a worse case than the
    #: simulated trials (validate: an extract with millions of findings)
    rss_per_mb_floor: float = 0.0


def _at(size_mb: float, c: StageCost, small: float, large: float, exponent: float) -> float:
    """The cost line through (small_mb, small) and (large_mb, large); beyond large_mb,
    large x (size / large_mb) ** max(1, exponent)."""
    if size_mb <= c.large_mb:
        slope = max(0.0, (large - small) / (c.large_mb - c.small_mb))
        return small + slope * max(0.0, size_mb - c.small_mb)
    return large * (size_mb / c.large_mb) ** max(1.0, exponent)


# Calibration: benchmarks/scale.py (config/config.yaml, 2 cores, idle VM, 2026-12-01) at
# n = 600 (0.49 MB of extract) and n = 20,000 (16.4 MB): peak RSS in MiB (the larger of
# Snakemake's samples and the kernel's high-water mark of each job,
# outcomes.resources.record_usage) and CPU seconds of the largest job of the rule; a SLURM
# job has its cores to itself, so CPU time is its runtime when CPU-bound, and the runtime
# margin covers the rest. validate, derive and survival also alone at n = 100,000 (83 MB);
# validate with the 3.5-million-findings case of "Validate stage" in benchmarks/README.md
# as a floor of 18 MB per MB of extract (5,978 MB for 336 MB). The whole plan has not run
# at n = 100,000 yet: rerun benchmarks/scale.py there and copy its calibration block here.
SMALL_MB = 0.488  # n = 600 (benchmarks/scale.py, seed 17)
MEDIUM_MB = 16.417  # n = 20,000 (/work/data/n20000 of benchmarks/README.md, seed 17)
LARGE_MB = 83.0  # n = 100,000
STAGE_COSTS: dict[str, StageCost] = {
    # Measured by benchmarks/scale.py on an idle machine (peak RSS MiB and CPU s of the
    # largest job, CPU from each process's getrusage; a mediation batch's per-job mean) at
    # n = 600 and 20,000: session 8's merged code (decisions L71); beyond 20,000 a stage's
    # declaration grows at least linearly (decisions L69). validate, derive and survival
    # (unchanged since) were also measured alone at n = 100,000 in session 7.
    "analysis_plan": StageCost(SMALL_MB, MEDIUM_MB, 26, 26, 0.2, 0.2),
    "validate": StageCost(SMALL_MB, LARGE_MB, 193, 916, 1.6, 4.4, rss_per_mb_floor=18.0),
    "validation_gate": StageCost(SMALL_MB, MEDIUM_MB, 10, 10, 0.1, 0.1),
    # derive at n = 100,000: 1,478 MiB with STUDYID and TRTP in ADQS (session 9, AD-section);
    # TRTA too (session 11, decisions DX3): 1,482 MiB against 1,475 without, same extract
    "derive_adam": StageCost(SMALL_MB, LARGE_MB, 204, 1480, 1.5, 17.8),
    # session 9 (decisions AD10): alone under load 7-10, n = 600 (1.4-3.0 s, 190-205 MiB)
    # and n = 100,000 (161 s CPU, 842 MiB); with TRTA (session 11, decisions DX3) 134 s
    # and 803 MiB against 131 s and 759 MiB without, on another extract of that size
    "adam_transport": StageCost(SMALL_MB, LARGE_MB, 205, 842, 3.0, 161.0),
    "impute": StageCost(SMALL_MB, MEDIUM_MB, 199, 411, 8.6, 40.1, work=("m",)),
    "questionnaire_ancova": StageCost(SMALL_MB, MEDIUM_MB, 252, 572, 21.4, 47.7, work=("m",)),
    "tipping_point": StageCost(SMALL_MB, MEDIUM_MB, 292, 638, 6.2, 15.5, work=("m",)),
    "survival": StageCost(SMALL_MB, LARGE_MB, 267, 686, 3.4, 40.9,
                          work=("hospital_days_n_boot",)),
    "engagement": StageCost(SMALL_MB, MEDIUM_MB, 287, 624, 19.6, 124.1, work=("m",)),
    "mediation_data": StageCost(SMALL_MB, MEDIUM_MB, 239, 435, 2.7, 7.9, work=("m",)),
    "mediation_job": StageCost(SMALL_MB, MEDIUM_MB, 303, 585, 4.3, 65.7, work=("m", "n_boot")),
    "mediation_gather": StageCost(SMALL_MB, MEDIUM_MB, 239, 240, 2.0, 2.6),
    "multiplicity": StageCost(SMALL_MB, MEDIUM_MB, 202, 202, 1.4, 1.4),
    "provenance": StageCost(SMALL_MB, MEDIUM_MB, 29, 30, 0.2, 0.3),
    "report": StageCost(SMALL_MB, MEDIUM_MB, 337, 549, 6.5, 15.4),
}

#: ``python -m outcomes`` sub-command -> the rule that runs it (validation_gate runs none)
COMMAND_RULE = {
    "plan": "analysis_plan", "validate": "validate", "derive": "derive_adam",
    "transport": "adam_transport",
    "impute": "impute", "questionnaires": "questionnaire_ancova", "tipping": "tipping_point",
    "survival": "survival", "engagement": "engagement", "mediation-data": "mediation_data",
    "mediation": "mediation_job", "mediation-gather": "mediation_gather",
    "multiplicity": "multiplicity", "provenance": "provenance", "report": "report",
}

#: The plan values the calibration ran with (config/config.yaml).
CALIBRATED_PLAN = {"m": 50, "n_boot": 1000, "hospital_days_n_boot": 2000}


def plan_work_factor(stage: str, plan: Mapping[str, Any]) -> float:
    """How much more work than the calibrated plan the plan asks of ``stage`` (at least 1:
    a smaller plan keeps the calibrated declaration, which is then merely generous)."""
    values = {
        "m": plan.get("missing_data", {}).get("m", CALIBRATED_PLAN["m"])
        if plan.get("missing_data", {}).get("method") == "mi" else 1,
        "n_boot": plan.get("mediation", {}).get("n_boot", CALIBRATED_PLAN["n_boot"]),
        "hospital_days_n_boot": plan.get("survival", {}).get(
            "hospital_days_n_boot", CALIBRATED_PLAN["hospital_days_n_boot"]),
    }
    factor = 1.0
    for knob in STAGE_COSTS[stage].work:
        factor *= max(1.0, values[knob] / CALIBRATED_PLAN[knob])
    return factor


def job_mem_mb(stage: str, size_mb: float, plan: Mapping[str, Any], attempt: int = 1) -> int:
    """``mem_mb`` of a job of ``stage`` on an extract of ``size_mb`` MB."""
    c = STAGE_COSTS[stage]
    peak = max(_at(size_mb, c, c.rss_small, c.rss_large, c.rss_exponent),
               c.rss_per_mb_floor * size_mb)
    work = plan_work_factor(stage, plan) if "m" in c.work else 1.0
    return int(math.ceil(peak * work * MEM_MARGIN + MEM_SLACK_MB)) * attempt


def job_runtime_min(stage: str, size_mb: float, plan: Mapping[str, Any], attempt: int = 1,
                    jobs: int = 1) -> int:
    """``runtime`` (minutes) of a job of ``stage`` on an extract of ``size_mb`` MB; a batch
    of ``jobs`` such jobs run one after another in one process (the mediation batches)
    declares their sum."""
    c = STAGE_COSTS[stage]
    seconds = jobs * _at(size_mb, c, c.seconds_small, c.seconds_large, c.seconds_exponent)
    minutes = seconds * plan_work_factor(stage, plan) * RUNTIME_MARGIN / 60
    return int(math.ceil(max(MIN_RUNTIME_MIN, minutes))) * attempt


#: Batches of mediation jobs when the plan has no ``mediation.batches`` (decisions WK1):
#: on 2 cores, with the questionnaire, tipping-point and engagement jobs beside them, four
#: processes keep both cores busy and pay the start-up (imports, reading the data) 4 times
#: instead of 27.
DEFAULT_MEDIATION_BATCHES = 4
#: CPU of a mediation job by outcome, relative to the others (benchmarks/scale.py, default
#: plan: readmit_time 10-15 s against 4-6 s at n = 600, 2-2.5x at 20,000).
MEDIATION_OUTCOME_COST = {"readmit_time": 2.5}


def mediation_batches(pairs: Sequence[tuple[str, str]], batches: int) -> list[list[tuple[str, str]]]:
    """The (mediator set, outcome) jobs in at most ``batches`` groups of about equal CPU:
    the costliest first, each to the least loaded group (ties: the first), every group in
    the order of ``pairs``; no empty group. Depends only on ``pairs`` and ``batches``, so a
    rerun with the same plan finds the same groups."""
    if batches < 1:
        raise ValueError(f"mediation batches: {batches}; at least 1")
    k = min(batches, len(pairs))
    load = [0.0] * k
    groups: list[list[int]] = [[] for _ in range(k)]
    cost = [MEDIATION_OUTCOME_COST.get(o, 1.0) for _, o in pairs]
    for i in sorted(range(len(pairs)), key=lambda i: -cost[i]):  # stable: plan order on ties
        g = min(range(k), key=lambda g: load[g])
        groups[g].append(i)
        load[g] += cost[i]
    return [[pairs[i] for i in sorted(g)] for g in groups]


def extract_size_mb(paths: Sequence[str | Path]) -> float:
    """Size of the extract in MB (10**6 bytes), the input the declarations scale with."""
    return sum(os.path.getsize(p) for p in paths) / 1e6


def cached_sha256(paths: Sequence[str | Path], cache: str | Path) -> dict[str, str]:
    """SHA-256 of each file, read again only when its (size, mtime, ctime, inode) differ
    from those the cache recorded with the last hash: a changed file always changes its
    ctime (no tool can set it back), so a changed file is always hashed again."""
    from outcomes.atomic import write_text
    from outcomes.provenance import sha256_file

    cache = Path(cache)
    try:
        known = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    out, record = {}, {}
    for path in map(str, paths):
        st = os.stat(path)
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        hit = known.get(path)
        digest = hit["sha256"] if isinstance(hit, dict) and hit.get("stamp") == stamp else sha256_file(path)
        out[path] = digest
        record[path] = {"stamp": stamp, "sha256": digest}
    if record != known:
        try:
            write_text(cache, json.dumps(record, indent=1, sort_keys=True) + "\n")
        except OSError:
            pass  # a read-only results directory: hash again next time
    return out


#: Environment variable naming a directory where each ``python -m outcomes`` process writes
#: what it used (benchmarks/scale.py and tests/test_resources.py set it).
USAGE_DIR_ENV = "OUTCOMES_USAGE_DIR"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def record_usage(argv: Sequence[str]) -> None:
    """When ``$OUTCOMES_USAGE_DIR`` is set: write ``<pid>.json`` there with the command, its
    peak RSS (the kernel's high-water mark, ``getrusage``; exact where Snakemake's benchmark
    samples every 30 s after the first 30), its CPU time and the thread variables it saw."""
    where = os.environ.get(USAGE_DIR_ENV)
    if not where:
        return
    ru = resource.getrusage(resource.RUSAGE_SELF)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    record = {
        "argv": list(argv),
        "max_rss_mb": ru.ru_maxrss * scale / 2**20,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "threads": {v: os.environ.get(v) for v in THREAD_VARS},
    }
    from outcomes.atomic import write_text

    write_text(Path(where) / f"{os.getpid()}.json", json.dumps(record) + "\n")
