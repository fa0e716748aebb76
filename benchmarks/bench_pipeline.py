"""Benchmark: the whole pipeline on the bundled trial, default plan, from a clean results/.

Issue 6 target: within 120 s wall on a 2-core machine. Also times a no-op run of the same
DAG (everything up to date) as the floor set by Snakemake itself, in the same run.

    .venv/bin/python benchmarks/bench_pipeline.py [--repeat 2] [--configfile config/config.yaml]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def _copy(dest: Path) -> None:
    shutil.copy(ROOT / "Snakefile", dest)
    for name in ("workflow", "config", "synthetic_data"):
        shutil.copytree(ROOT / name, dest / name)


def _timed(args: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--configfile", default="config/config.yaml")
    parser.add_argument("--cores", default="2")
    args = parser.parse_args()
    cmd = [SNAKEMAKE, "--cores", args.cores, "--configfile", args.configfile]
    full, noop = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            _copy(work)
            full.append(_timed(cmd, work))
            noop.append(_timed(cmd, work))
    print(f"machine: {os.cpu_count()} CPUs; plan {args.configfile}; --cores {args.cores}")
    print(f"whole pipeline from clean results/: {min(full):.1f} s (runs: {', '.join(f'{t:.1f}' for t in full)})")
    print(f"no-op run of the same DAG:          {min(noop):.1f} s (runs: {', '.join(f'{t:.1f}' for t in noop)})")
    print("target: whole pipeline <= 120 s")


if __name__ == "__main__":
    main()
