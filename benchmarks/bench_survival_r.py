"""Benchmark: the pipeline's stratified Cox model (with its PH test) and stratified log-rank
test against R ``survival`` on the same data (issue 17 point 3, first two ratios).

For each derived directory given (ADSL + ADTTE of a trial, e.g. from ``outcomes derive``
of ``outcomes simulate --n 100000``), on the time to first readmission (ADTTE ``READMIT``):

- (a) ``outcomes.survival.cox.tenure_cox(adtte, "READMIT", adsl=, covariates=(),
  strata=("SITEID",), ph=True)`` — the function the pipeline calls, with its data
  preparation, not-estimable checks, Efron fit and the ``cox.zph`` score test (transform
  ``km``) — against R ``coxph(Surv(t, e) ~ arm + strata(site))`` + ``cox.zph(fit)``;
- (b) ``outcomes.survival.km.logrank(adtte, "READMIT", adsl=, strata=("SITEID",))``
  against R ``survdiff(Surv(t, e) ~ arm + strata(site))``.

Each repeat runs a-ours, a-R, b-ours, b-R in turn, so that a change of machine load
affects both alike. Ours is timed in-process around the call (wall and CPU); R through
benchmarks/survival_r.R, one ``Rscript`` per run: inside R with ``system.time`` around the
analysis (the headline: the same work on both sides, no start-up or file reading), and
the whole process (start-up, ``library(survival)``, ``read.csv``) from outside, beside the
whole process of ours (``--worker``: Python start-up, imports, Parquet read, the call).
CPU times are reported beside wall times because the machine is shared. The numbers are
checked to agree: coefficient, PH chi-square (arm and global) and log-rank chi-square,
relative difference at most 1e-6. Thread pools are pinned to 1 on both sides.

    .venv/bin/python benchmarks/bench_survival_r.py DERIVED_DIR [DERIVED_DIR ...] [--repeats 5]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
           "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from outcomes.survival._common import merge_adsl, param  # noqa: E402
from outcomes.survival.cox import tenure_cox  # noqa: E402
from outcomes.survival.km import logrank  # noqa: E402

HERE = Path(__file__).resolve().parent
TOLERANCE = 1e-6


def load(derived: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ADTTE and ADSL as the survival stage reads them."""
    return (pd.read_parquet(derived / "adtte.parquet"), pd.read_parquet(derived / "adsl.parquet"))


def ours(what: str, adtte: pd.DataFrame, adsl: pd.DataFrame) -> dict[str, float]:
    """Run (a) or (b) as the pipeline does; the numbers to compare with R."""
    if what == "cox":
        res = tenure_cox(adtte, "READMIT", adsl=adsl, covariates=(), strata=("SITEID",), ph=True)
        ph = res.ph_test.set_index("term")["statistic"]
        return {"coef": float(res.coef[0]), "zph_chisq": float(ph["ARM"]),
                "zph_global": float(ph["GLOBAL"])}
    res = logrank(adtte, "READMIT", adsl=adsl, strata=("SITEID",))
    return {"chisq": res.chisq}


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed_process(cmd: list[str]) -> tuple[float, float, str]:
    """(wall, CPU, stdout) of a child process."""
    c0, t0 = children_cpu(), time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - t0, children_cpu() - c0, out


def parse(out: str) -> dict[str, list[float]]:
    return {f[0]: [float(v) for v in f[1:]] for f in (ln.split() for ln in out.splitlines()) if f}


def bench(derived: Path, repeats: int, tmp: Path) -> None:
    adtte, adsl = load(derived)
    d = merge_adsl(param(adtte, "READMIT"), adsl, ["ARM", "SITEID"])
    csv = tmp / f"{derived.parent.name}.csv"
    pd.DataFrame({"t": d["AVAL"], "e": (d["CNSR"] == 0).astype(int),
                  "arm": (d["ARM"] == "peer_support").astype(int),
                  "site": d["SITEID"].astype(str)}).to_csv(csv, index=False)
    n, events = len(d), int((d["CNSR"] == 0).sum())
    print(f"\n{derived}: n = {n}, {events} events, {d['SITEID'].nunique()} sites")
    rows: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    agree: dict[str, dict[str, float]] = {}
    for _ in range(repeats):
        for what in ("cox", "logrank"):
            c0, t0 = time.process_time(), time.perf_counter()
            mine = ours(what, adtte, adsl)
            rows.setdefault((what, "ours"), []).append(
                (time.perf_counter() - t0, time.process_time() - c0))
            wall, cpu, out = timed_process(["Rscript", str(HERE / "survival_r.R"), str(csv), what])
            r = parse(out)
            rows.setdefault((what, "R"), []).append((*r["r_seconds"], wall, cpu))
            for k, v in mine.items():
                agree.setdefault(what, {})[k] = abs(v - r[k][0]) / max(abs(r[k][0]), 1e-300)
                agree[what][f"{k} (ours)"], agree[what][f"{k} (R)"] = v, r[k][0]
            wall, cpu, _ = timed_process([sys.executable, __file__, "--worker", what,
                                          str(derived)])
            rows.setdefault((what, "ours process"), []).append((wall, cpu))
    med = {k: [statistics.median(c) for c in zip(*v, strict=True)] for k, v in rows.items()}
    for what, label in (("cox", "(a) Cox + PH test"), ("logrank", "(b) stratified log-rank")):
        o, r, op = med[(what, "ours")], med[(what, "R")], med[(what, "ours process")]
        print(f"{label}, median of {repeats}:")
        print(f"  ours in-process     {o[0]:7.3f} s wall {o[1]:7.3f} s CPU")
        print(f"  R system.time       {r[0]:7.3f} s wall {r[1]:7.3f} s CPU   "
              f"ratio ours/R: {o[0] / r[0]:.2f} wall, {o[1] / r[1]:.2f} CPU (headline)")
        print(f"  R whole process     {r[2]:7.3f} s wall {r[3]:7.3f} s CPU")
        print(f"  ours whole process  {op[0]:7.3f} s wall {op[1]:7.3f} s CPU   "
              f"ratio ours/R: {op[0] / r[2]:.2f} wall, {op[1] / r[3]:.2f} CPU")
        for k, v in agree[what].items():
            if "(" not in k:
                ok = "ok" if v <= TOLERANCE else "DISAGREE"
                print(f"  {k}: ours {agree[what][k + ' (ours)']:.10g}, R "
                      f"{agree[what][k + ' (R)']:.10g}, relative difference {v:.1e} {ok}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":  # one whole process of ours
        adtte, adsl = load(Path(sys.argv[3]))
        ours(sys.argv[2], adtte, adsl)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("derived", nargs="+", type=Path, help="directories with adsl/adtte.parquet")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    load_avg = os.getloadavg()
    version = subprocess.run(["Rscript", "-e", 'cat(R.version.string, "survival",'
                              ' format(packageVersion("survival")))'],
                             capture_output=True, text=True).stdout
    print(f"load average {load_avg[0]:.1f} {load_avg[1]:.1f} {load_avg[2]:.1f}; {version}")
    with tempfile.TemporaryDirectory() as tmp:
        for derived in args.derived:
            bench(derived, args.repeats, Path(tmp))
    load_avg = os.getloadavg()
    print(f"\nload average at the end {load_avg[0]:.1f} {load_avg[1]:.1f} {load_avg[2]:.1f}")


if __name__ == "__main__":
    main()
