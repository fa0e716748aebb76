"""The cost of a replicate: the analyses of one trial in one process (outcomes.replicate).

Simulates trials of ``--n`` participants (``outcomes.simulate``, seeds ``--seed``,
``--seed + 1``, ...; the truth population at its minimum size, which the extract does not
depend on), runs a warm-up replicate (imports and first-call caches), then ``--reps``
replicates with ``run_replicate`` and the plan ``--plan`` (default: the pipeline's plan of
``config/test.yaml``, that is config/config.yaml updated by it, as Snakemake merges
them), and prints for each stage the process CPU time (``time.process_time``: the load of
the shared machine affects it little) and the wall time, with the load average.

    .venv/bin/python benchmarks/bench_replicate.py                 # n = 600, 3 replicates
    .venv/bin/python benchmarks/bench_replicate.py --n 2000 --reps 2

The target of issue 17 (point 4) counts the primary, survival, questionnaire and
mediation analyses of one replicate; validation, derivation and the imputations they
need are printed beside, as are the engagement analyses.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from outcomes.plan import AnalysisPlan, validate_config
from outcomes.replicate import ANALYSES, run_replicate
from outcomes.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
#: The stages of the issue's target (primary = the survival stage's primary outcome).
TARGET = ("survival", "questionnaires", "mediation")


def pipeline_plan(overrides: Path) -> AnalysisPlan:
    """config/config.yaml updated key by key by ``overrides``, as Snakemake merges a
    ``--configfile`` into the workflow's configfile."""
    def update(base: dict, new: dict) -> dict:
        for k, v in new.items():
            base[k] = update(base.get(k, {}), v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
        return base

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    if overrides.resolve() != (ROOT / "config" / "config.yaml").resolve():
        cfg = update(cfg, yaml.safe_load(overrides.read_text()))
    return AnalysisPlan.from_config(validate_config(cfg))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plan", type=Path, default=ROOT / "config" / "test.yaml")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    plan = pipeline_plan(args.plan)
    trials = [simulate(args.n, args.seed + i, truth_n=1000)[0] for i in range(args.reps + 1)]
    rows, first = [], None
    for i, tables in enumerate(trials):
        load = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        rep = run_replicate(tables, plan, analyses=ANALYSES)
        if i == 0:
            first = rep
        row = {"replicate": i, "warm_up": i == 0, "load": round(load, 2),
               "wall_s": round(time.perf_counter() - wall, 3),
               "cpu_s": round(time.process_time() - cpu, 3),
               **{f"cpu_{k}": round(v, 3) for k, v in rep.cpu_seconds.items()}}
        row["cpu_target"] = round(sum(rep.cpu_seconds[k] for k in TARGET), 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    # the first trial again, last: a replicate does not depend on those run before it
    again = run_replicate(trials[0], plan, analyses=ANALYSES)
    for name, table in first.tables.items():  # type: ignore[union-attr]
        pd.testing.assert_frame_equal(again.tables[name], table, check_exact=True)
    print(f"trial 0 again after {len(trials) - 1} others: every table equal", flush=True)
    timed = [r for r in rows if not r["warm_up"]]
    summary = {"n": args.n, "plan": str(args.plan), "reps": len(timed),
               "python": sys.version.split()[0], "cpu_count": os.cpu_count(),
               "cpu_target_median": statistics.median(r["cpu_target"] for r in timed),
               "cpu_target_min": min(r["cpu_target"] for r in timed),
               **{f"median_cpu_{k}": statistics.median(r[f"cpu_{k}"] for r in timed)
                  for k in ("validate", "derive", "impute", *ANALYSES) if f"cpu_{k}" in timed[0]}}
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
