"""Benchmark: our chained equations against R ``mice`` on the bundled trial (issue 12 point 7).

The bundled extract (synthetic_data/) is validated and derived through the package, and
every score of every instrument at baseline and the plan's visits is imputed with the
plan's model (by arm, norm, or pmm with 5 donors; passive scores derived afterwards) with m = 50.
The same model matrix of each arm (``Design.group_matrix``: scores, NOTDUE indicators,
site and diagnosis dummies, age, prior admissions, readmission before each visit) goes to
R ``mice(..., m, maxit, method = <the same>, predictorMatrix = all others)`` through
tests/r/mice_oracle.R, timed inside R with ``system.time``; ours is timed around
``impute`` (which also builds that matrix and derives the passive scores). One core:
thread pools pinned to 1 before numpy is imported; R's reference BLAS is single-threaded.

    .venv/bin/python benchmarks/bench_mice.py [--m 50] [--iterations 10] [--method norm|pmm]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
           "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from outcomes.adam import derive_all  # noqa: E402
from outcomes.imputation.frame import imputation_frame  # noqa: E402
from outcomes.imputation.mice import design, impute  # noqa: E402
from outcomes.imputation.settings import ImputationSettings  # noqa: E402
from outcomes.plan import AnalysisPlan  # noqa: E402
from outcomes.validation.engine import validate_extract  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def r_mice_seconds(matrix, method: str, m: int, iterations: int, workdir: Path) -> float:
    src = workdir / "arm.csv"
    matrix.rename(columns=lambda c: re.sub(r"[^A-Za-z0-9_]", "_", c)).to_csv(src, index=False, na_rep="NA")
    out = subprocess.run(["Rscript", str(ROOT / "tests/r/mice_oracle.R"), str(src), "-", method,
                          str(m), str(iterations), "1"], check=True, capture_output=True, text=True)
    return float(re.search(r"mice_seconds ([0-9.]+)", out.stdout).group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--m", type=int, default=50)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--method", choices=("norm", "pmm"), default="norm")
    args = ap.parse_args()
    plan = AnalysisPlan.load(ROOT / "config/config.yaml")
    ds = derive_all(validate_extract(ROOT / "synthetic_data").clean, plan)
    frame = imputation_frame(ds["adsl"], ds["adqs"], ds["adtte"], plan)
    settings = ImputationSettings(method=args.method, m=args.m, iterations=args.iterations)
    model = design(frame, settings)
    n_targets = len(model.targets)
    print(f"bundled trial: {len(frame.data)} participants, {len(frame.score_columns)} score columns "
          f"({n_targets} imputed by {args.method}, {len(frame.passive)} passive), "
          f"{len(model.names)} columns in the model, {int(model.todo.sum())} cells to impute; "
          f"m = {args.m}, iterations = {args.iterations}, by arm")
    t0 = time.perf_counter()
    c0 = time.process_time()
    impute(frame, settings, plan.seed)
    ours_wall, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
    with tempfile.TemporaryDirectory() as tmp:
        r_secs = [r_mice_seconds(model.group_matrix(label), args.method, args.m, args.iterations,
                                 Path(tmp)) for label, _ in model.groups]
    r_total = sum(r_secs)
    print(f"ours (outcomes.imputation.impute): {ours_wall:.2f} s wall, {ours_cpu:.2f} s CPU")
    print(f"R mice ({', '.join(f'{s:.2f}' for s in r_secs)} s per arm): {r_total:.2f} s")
    print(f"ratio R / ours: {r_total / ours_wall:.1f} (target: >= 1)")
    r_version = subprocess.run(["Rscript", "-e", "cat(as.character(packageVersion('mice')))"],
                               capture_output=True, text=True).stdout
    print(f"python {platform.python_version()}, R mice {r_version}, {platform.processor() or platform.machine()}")


if __name__ == "__main__":
    main()
