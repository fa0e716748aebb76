"""Scale benchmark (issue 17): the whole default plan on trials of n = 600, 20,000 and
100,000, per stage wall time, CPU time and peak RSS, growth exponents, pass/fail.

For each n the trial is simulated (``outcomes simulate --n N --seed S``) or reused
(``--reuse DIR`` takes ``DIR/n<N>`` where it exists, e.g. /work/data); a fresh copy of the
workflow runs the plan (config/config.yaml: all 27 mediation jobs) with the default profile
from an empty results directory, then once more with everything up to date (the no-op
rerun). Per stage (rule): wall time summed over its jobs from Snakemake's ``benchmark:``
files (results/logs/benchmarks/); CPU time and peak RSS from what each ``python -m
outcomes`` process records of itself (``OUTCOMES_USAGE_DIR``, getrusage,
outcomes.resources.record_usage), the benchmark's sampled figures where there is no record
(Snakemake samples the process now and then and misses much of a job's CPU). The growth exponent of a
stage is log(t(100,000) / t(20,000)) / log 5 of its CPU time (the load of a shared machine
moves wall time more than CPU time); the wall-time exponent is printed beside it.

Targets: whole pipeline at n = 100,000 under 300 s wall; no stage above 1.5 GiB peak; every
stage's CPU exponent at most 1.1; whole pipeline at n = 600 under 30 s wall.

    .venv/bin/python benchmarks/scale.py --reuse /work/data --out /tmp/scale
    .venv/bin/python benchmarks/scale.py --out /tmp/scale --tables-only   # re-tabulate

Writes ``<out>/scale.tsv`` (one row per n and stage) and ``<out>/scale.md`` (the summary
with pass/fail), and prints the summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from outcomes.resources import COMMAND_RULE

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SIZES = (600, 20_000, 100_000)
PEAK_LIMIT_MB = 1.5 * 1024  # 1.5 GiB, in the MiB of Snakemake's max_rss
TARGET_WHOLE_LARGE_S = 300.0
TARGET_WHOLE_SMALL_S = 30.0
TARGET_EXPONENT = 1.1


@dataclass(frozen=True)
class StageRow:
    n: int
    extract_mb: float
    stage: str
    jobs: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    max_job_wall_s: float  # the longest of the stage's jobs (what one job must declare)
    max_job_cpu_s: float


@dataclass(frozen=True)
class RunRow:
    n: int
    extract_mb: float
    whole_wall_s: float
    noop_wall_s: float
    load_before: float
    load_after: float


def _extract(n: int, out: Path, reuse: Path | None, seed: int) -> Path:
    if reuse is not None and (reuse / f"n{n}").is_dir():
        return (reuse / f"n{n}").resolve()
    data = out / "data" / f"n{n}"
    if not (data / "participants.csv").is_file():
        subprocess.run([sys.executable, "-m", "outcomes", "simulate", "--n", str(n),
                        "--seed", str(seed), "--out", str(data)], check=True)
    return data.resolve()


def _extract_mb(data: Path) -> float:
    names = ("participants", "questionnaires", "admissions", "peer_contacts")
    return sum((data / f"{t}.csv").stat().st_size for t in names) / 1e6


def _snakemake(work: Path, args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    # as scripts/pipeline.sh runs it: a local run without the SLURM plugin's probe
    res = subprocess.run([str(BIN / "python"), "-m", "outcomes.snakemake_local", *args], cwd=work,
                         env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    (work / "snakemake.log").open("a").write(res.stdout + res.stderr)
    if res.returncode != 0:
        sys.exit(f"snakemake failed in {work}; see {work / 'snakemake.log'}")
    return wall


def run_level(n: int, data: Path, out: Path, configfile: str, cores: int) -> RunRow:
    """A fresh copy of the workflow on ``data``: the whole plan, then a no-op rerun."""
    work = out / f"n{n}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copy(ROOT / "Snakefile", work)
    for name in ("workflow", "config"):
        shutil.copytree(ROOT / name, work / name)
    env = dict(os.environ, OUTCOMES_USAGE_DIR=str(work / "usage"))
    args = ["--workflow-profile", "workflow/profiles/default", "--cores", str(cores),
            "--configfile", configfile, "--config", f"data_dir={data}", "results_dir=results"]
    load_before = os.getloadavg()[0]
    whole = _snakemake(work, args, env)
    load_after = os.getloadavg()[0]
    noop = _snakemake(work, args, env)
    row = RunRow(n, round(_extract_mb(data), 3), round(whole, 2), round(noop, 2),
                 load_before, load_after)
    (work / "run.json").write_text(json.dumps(asdict(row)) + "\n")
    return row


def stage_rows(work: Path, n: int, extract_mb: float) -> list[StageRow]:
    """Per rule: jobs, summed wall and CPU seconds, peak RSS (MiB)."""
    acc: dict[str, dict[str, float]] = {}
    bench = work / "results" / "logs" / "benchmarks"
    for path in sorted(bench.rglob("*.tsv")):
        rel = path.relative_to(bench)
        stage = "mediation_job" if rel.parts[0] == "mediation" else path.stem
        # a mediation batch runs several jobs: the per-job figures are its mean
        per = _batch_jobs(work / "results" / "logs" / rel.with_suffix(".log")) if stage == "mediation_job" else 1
        with path.open() as fh:
            (rec,) = list(csv.DictReader(fh, delimiter="\t"))

        def num(key: str, rec: dict[str, str] = rec) -> float:
            return float(rec[key]) if rec.get(key) not in (None, "", "NA", "-") else 0.0

        a = acc.setdefault(stage, {"jobs": 0, "wall": 0.0, "cpu": 0.0, "rss": 0.0, "job": 0.0,
                                      "jobcpu": 0.0})
        a["jobs"] += per
        a["wall"] += num("s")
        a["job"] = max(a["job"], num("s") / per)
        a["jobcpu"] = max(a["jobcpu"], num("cpu_time") / per)
        a["cpu"] += num("cpu_time")
        a["rss"] = max(a["rss"], num("max_rss"))
    # each process's own getrusage: its exact CPU time (Snakemake's benchmark samples the
    # process tree now and then and misses most of a short or a batch job's CPU: impute at
    # n = 20,000 showed 15 s of CPU in 41 s of wall on an idle machine) and peak RSS
    usage: dict[str, dict[str, float]] = {}
    for path in sorted((work / "usage").glob("*.json")):
        rec = json.loads(path.read_text())
        stage = COMMAND_RULE.get(rec["argv"][0] if rec["argv"] else "")
        if stage in acc:
            acc[stage]["rss"] = max(acc[stage]["rss"], rec["max_rss_mb"])
            if "cpu_s" in rec:
                per = max(1, rec["argv"].count("--job")) if stage == "mediation_job" else 1
                u = usage.setdefault(stage, {"cpu": 0.0, "jobcpu": 0.0})
                u["cpu"] += rec["cpu_s"]
                u["jobcpu"] = max(u["jobcpu"], rec["cpu_s"] / per)
    for stage, u in usage.items():
        acc[stage]["cpu"], acc[stage]["jobcpu"] = u["cpu"], u["jobcpu"]
    return [StageRow(n, extract_mb, s, int(a["jobs"]), round(a["wall"], 2), round(a["cpu"], 2),
                     round(a["rss"], 1), round(a["job"], 2), round(a["jobcpu"], 2))
            for s, a in sorted(acc.items())]


def _batch_jobs(log: Path) -> int:
    """How many mediation jobs a batch ran: the lines 'mediation: M x O: ...' of its log
    (1 for a one-job benchmark without such a log)."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return 1
    return max(1, sum(line.startswith("mediation: ") for line in lines))


def calibration(rows: list[StageRow]) -> str:
    """``STAGE_COSTS`` entries (outcomes.resources) from the smallest and largest n
    measured: per job peak RSS and CPU time (the runtime basis: a SLURM job has its cores
    to itself, while wall time on a shared machine measures the load), exponents between
    the two largest n."""
    ns = sorted({r.n for r in rows})
    by = {(r.n, r.stage): r for r in rows}
    lines = []
    for stage in sorted({r.stage for r in rows}):
        have = [n for n in ns if (n, stage) in by]
        lo, hi = by[have[0], stage], by[have[-1], stage]
        e_rss = e_s = 1.0
        if len(have) >= 3:
            mid = by[have[-2], stage]
            ratio = hi.extract_mb / mid.extract_mb
            e_rss = _exponent(mid.peak_rss_mb, hi.peak_rss_mb, ratio)
            e_s = _exponent(mid.max_job_cpu_s, hi.max_job_cpu_s, ratio)
        lines.append(f'    "{stage}": StageCost({lo.extract_mb}, {hi.extract_mb}, {lo.peak_rss_mb:.0f}, '
                     f"{hi.peak_rss_mb:.0f}, {lo.max_job_cpu_s:.1f}, {hi.max_job_cpu_s:.1f}, "
                     f"{e_rss:.2f}, {e_s:.2f}),")
    return "\n".join(lines) + "\n"


def _exponent(small: float, large: float, ratio: float) -> float:
    if small <= 0 or large <= 0:
        return float("nan")
    return math.log(large / small) / math.log(ratio)


def summary(runs: list[RunRow], rows: list[StageRow]) -> str:
    """The markdown summary: per stage at each n, exponents, and the targets' pass/fail."""
    ns = sorted({r.n for r in runs})
    by = {(r.n, r.stage): r for r in rows}
    stages = sorted({r.stage for r in rows})
    lines = ["| stage | " + " | ".join(f"n = {n:,}: wall s / CPU s / peak MiB" for n in ns)
             + " | exponent CPU (wall) | peak ≤ 1.5 GiB | exponent ≤ 1.1 |",
             "|---|" + "---|" * len(ns) + "---|---|---|"]
    fails = []
    mid, big = (20_000, 100_000)
    for s in stages:
        cells = []
        for n in ns:
            r = by.get((n, s))
            cells.append(f"{r.wall_s:.1f} / {r.cpu_s:.1f} / {r.peak_rss_mb:.0f}" if r else "")
        e_cpu = e_wall = float("nan")
        if (mid, s) in by and (big, s) in by:
            ratio = big / mid
            e_cpu = _exponent(by[mid, s].cpu_s, by[big, s].cpu_s, ratio)
            e_wall = _exponent(by[mid, s].wall_s, by[big, s].wall_s, ratio)
        peak = max((by[n, s].peak_rss_mb for n in ns if (n, s) in by), default=0.0)
        peak_ok = peak <= PEAK_LIMIT_MB
        exp_ok = not (e_cpu > TARGET_EXPONENT)
        fails += [f"{s}: peak {peak:.0f} MiB"] if not peak_ok else []
        fails += [f"{s}: exponent {e_cpu:.2f}"] if not exp_ok else []
        lines.append(f"| {s} | " + " | ".join(cells)
                     + f" | {e_cpu:.2f} ({e_wall:.2f}) | {'pass' if peak_ok else 'FAIL'}"
                     + f" | {'pass' if exp_ok else 'FAIL'} |")
    lines += ["", "| n | extract MB | whole pipeline wall s | no-op rerun wall s | load before / after | target |",
              "|---|---|---|---|---|---|"]
    for r in runs:
        target = {600: TARGET_WHOLE_SMALL_S, 100_000: TARGET_WHOLE_LARGE_S}.get(r.n)
        verdict = "" if target is None else (
            f"< {target:.0f} s: {'pass' if r.whole_wall_s < target else 'FAIL'}")
        if target is not None and math.isnan(r.whole_wall_s):
            verdict = "not measured (run stopped part way)"
            fails.append(f"whole pipeline at n = {r.n:,}: not measured")
        elif target is not None and r.whole_wall_s >= target:
            fails.append(f"whole pipeline at n = {r.n:,}: {r.whole_wall_s:.0f} s")
        lines.append(f"| {r.n:,} | {r.extract_mb:.1f} | {r.whole_wall_s:.1f} | {r.noop_wall_s:.1f}"
                     f" | {r.load_before:.1f} / {r.load_after:.1f} | {verdict} |")
    lines += ["", "Targets: " + ("all met." if not fails else "NOT met: " + "; ".join(fails) + ".")]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="work directory of the runs")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="directory holding n<N>/ extracts to reuse (e.g. /work/data)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--tables-only", action="store_true",
                        help="tabulate the runs already in --out without running anything")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    runs, rows = [], []
    for n in args.sizes:
        if args.tables_only:
            if (out / f"n{n}" / "run.json").is_file():
                run = RunRow(**json.loads((out / f"n{n}" / "run.json").read_text()))
            elif (out / f"n{n}" / "results" / "logs" / "benchmarks").is_dir():
                # a run stopped part way: the stages it finished, no whole-pipeline time
                nan = float("nan")
                data = _extract(n, out, args.reuse, args.seed)
                run = RunRow(n, round(_extract_mb(data), 3), nan, nan, nan, nan)
            else:
                continue
        else:
            data = _extract(n, out, args.reuse, args.seed)
            run = run_level(n, data, out, args.configfile, args.cores)
            print(f"n = {n:,}: whole pipeline {run.whole_wall_s:.1f} s, no-op rerun "
                  f"{run.noop_wall_s:.1f} s (load {run.load_before:.1f} / {run.load_after:.1f})",
                  flush=True)
        runs.append(run)
        rows += stage_rows(out / f"n{n}", n, run.extract_mb)
    with (out / "scale.tsv").open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(list(StageRow.__dataclass_fields__))
        w.writerows([list(asdict(r).values()) for r in rows])
    text = (f"machine: {os.cpu_count()} CPUs, {args.cores} cores to Snakemake; plan "
            f"{args.configfile}\n\n" + summary(runs, rows)
            + "\nCalibration (outcomes.resources.STAGE_COSTS; CPU time of the longest job):\n\n```\n"
            + calibration(rows) + "```\n")
    (out / "scale.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
