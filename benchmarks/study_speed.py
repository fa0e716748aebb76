"""What a simulation study's run cost, from its own logs (issue 19, point 5).

Reads a finished run of a study (``results/study/<name>``) and the Snakemake log of that
run (``.snakemake/log/<date>.snakemake.log``) and prints:

- the run's wall time (first job start to last job end, Snakemake's timestamps, 1 s
  resolution) and every job's wall time;
- for every batch job, the CPU its log records (``outcomes study-batch``: the set-up, that
  is the interpreter, the imports and the DGP, apart from its replicates), the CPU per
  replicate, and the share of the job's wall time the replicates' CPU fills;
- the totals: replicates, CPU per replicate (mean, min and max over batches), set-up CPU
  against replicate CPU, and the throughput (replicates per wall minute).

    python benchmarks/study_speed.py results/study/replicate_speed .snakemake/log/X.snakemake.log

The figures recorded in benchmarks/README.md ("Simulation study: 1,000 replicates") come
from it. Wall times of a run on 1 core against the same study on 2 cores give the
speed-up; run each with ``--cores 1`` / ``--cores 2`` and nothing else on the machine.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")
BATCH_LOG = re.compile(r"CPU: set-up ([\d.]+) s .*?, (\d+) replicates ([\d.]+) s")


def _time(text: str) -> datetime:
    return datetime.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y")


def snakemake_jobs(log: Path) -> list[dict]:
    """Every job of the log: rule, wildcards, start, end (datetimes)."""
    jobs: dict[int, dict] = {}
    stamp = None
    pending: dict | None = None
    for line in log.read_text().splitlines():
        if m := STAMP.match(line):
            stamp = _time(m.group(1))
        elif m := START.match(line):
            pending = {"rule": m.group(1), "start": stamp, "wildcards": ""}
        elif pending is not None and (m := WILDCARDS.match(line)):
            pending["wildcards"] = m.group(1)
        elif pending is not None and (m := JOBID.match(line)):
            jobs[int(m.group(1))] = pending
        elif m := FINISHED.match(line):
            jobs[int(m.group(1))]["end"] = stamp
            pending = None
    return [j for j in jobs.values() if "end" in j]


def summarise(out: Path, snakemake_log: Path) -> tuple[list[dict], dict]:
    """Every job's wall time (and, for batch jobs, its CPU) and the run's summary."""
    jobs = snakemake_jobs(snakemake_log)
    if not jobs:
        raise SystemExit(f"no finished job in {snakemake_log}")
    start = min(j["start"] for j in jobs)
    end = max(j["end"] for j in jobs)
    batches = []
    for j in jobs:
        j["wall"] = (j["end"] - j["start"]).total_seconds()
        if j["rule"] != "study_batch":
            continue
        wc = dict(kv.split("=") for kv in j["wildcards"].split(", "))
        text = (out / "logs" / f"{wc['scenario']}_batch_{wc['batch']}.log").read_text()
        m = BATCH_LOG.search(text)
        if m is None:
            raise SystemExit(f"no CPU line in the log of batch {wc}")
        setup, k, cpu = float(m.group(1)), int(m.group(2)), float(m.group(3))
        j.update(setup=setup, replicates=k, cpu=cpu)
        batches.append(j)
    if not batches:
        raise SystemExit(f"no study_batch job in {snakemake_log}")
    total_wall = (end - start).total_seconds()
    reps = sum(b["replicates"] for b in batches)
    per = [b["cpu"] / b["replicates"] for b in batches]
    setup = sum(b["setup"] for b in batches)
    cpu = sum(b["cpu"] for b in batches)
    summary = {
        "wall_s": total_wall, "jobs": len(jobs), "batches": len(batches), "replicates": reps,
        "replicate_cpu_s": round(cpu, 1), "setup_cpu_s": round(setup, 1),
        "setup_share": round(setup / (setup + cpu), 4),
        "cpu_per_replicate_mean": round(cpu / reps, 3),
        "cpu_per_replicate_batch_min": round(min(per), 3),
        "cpu_per_replicate_batch_max": round(max(per), 3),
        "batch_wall_s_median": statistics.median(b["wall"] for b in batches),
        # the share of a batch job's wall time its replicates' CPU fills: the rest is the
        # set-up, Snakemake's and the shell's start and the file writes
        "batch_busy_share_median": round(statistics.median(
            b["cpu"] / b["wall"] for b in batches), 3),
        "wall_per_replicate_s": round(total_wall / reps, 3),
        "replicates_per_wall_minute": round(60 * reps / total_wall, 2),
    }
    return jobs, summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="the study's results directory")
    ap.add_argument("snakemake_log", type=Path)
    ap.add_argument("--json", type=Path, default=None, help="also write the summary here")
    args = ap.parse_args()
    jobs, summary = summarise(args.out, args.snakemake_log)
    for j in jobs:
        print(f"{j['rule']:<18} {j['wildcards']:<28} wall {j['wall']:7.0f} s")
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
