"""Benchmark: the change-model mediation under MI against complete cases (issue 12 point 4).

The bundled extract (synthetic_data/) is validated and derived through the package; the
mediation stage's work is timed for a plan's mediation settings (``--config``, e.g.
config/test.yaml or config/config.yaml), once with ``missing_data.method: complete_case``
and once with ``mi`` (m = ``--m``): the imputation of the analysis data set
(``imputed_mediation_data``: chained equations + the completed admed sets, once per
pipeline run) and every (mediator set x outcome) job of the plan (``run_job``), each
timed around the call. One core: thread pools pinned to 1 before numpy is imported.

    .venv/bin/python benchmarks/bench_mediation_mi.py --config config/config.yaml [--m 50]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
           "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

from outcomes.adam import derive_all  # noqa: E402
from outcomes.mediation.admed import (  # noqa: E402
    imputed_mediation_data,
    mediation_data,
    split_completed,
)
from outcomes.mediation.changemodel import mediator_sets, run_job  # noqa: E402
from outcomes.plan import AnalysisPlan  # noqa: E402
from outcomes.validation.engine import validate_extract  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "config" / "test.yaml"))
    ap.add_argument("--m", type=int, default=50)
    args = ap.parse_args()
    cfg = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    plans = {method: AnalysisPlan.from_config({**cfg, "missing_data": {
        **(cfg.get("missing_data") or {}), "method": method, "m": args.m}})
        for method in ("complete_case", "mi")}
    cc = plans["complete_case"]
    ds = derive_all(validate_extract(ROOT / "synthetic_data").clean, cc)
    data = mediation_data(ds["adsl"], ds["adqs"], ds["adtte"], cc)
    t0 = time.perf_counter()
    completed = split_completed(imputed_mediation_data(ds, data, plans["mi"]))
    t_imp = time.perf_counter() - t0
    jobs = [(s, o) for s in mediator_sets(cc) for o in cc.mediation["outcomes"]]
    times: dict[str, dict[str, float]] = {"complete_case": {}, "mi": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s, o in jobs:
            for method, plan in plans.items():
                t0 = time.perf_counter()
                run_job(data, plan, s, o, completed if method == "mi" else None)
                times[method][o] = times[method].get(o, 0.0) + time.perf_counter() - t0
    print(f"config {args.config}: n_boot {cc.mediation['n_boot']}, {len(jobs)} jobs, "
          f"m = {args.m} ({plans['mi'].missing_data.imputation}, "
          f"{plans['mi'].missing_data.iterations} iterations)")
    print(f"imputation of the analysis data set (once): {t_imp:.1f} s")
    print("| outcome | jobs | complete cases (s) | MI (s) | ratio |")
    print("|---|---|---|---|---|")
    for o in cc.mediation["outcomes"]:
        k = sum(1 for _, oo in jobs if oo == o)
        a, b = times["complete_case"][o], times["mi"][o]
        print(f"| {o} | {k} | {a:.1f} | {b:.1f} | {b / a:.1f} |")
    a, b = sum(times["complete_case"].values()), sum(times["mi"].values())
    print(f"| all | {len(jobs)} | {a:.1f} | {b:.1f} (+ {t_imp:.1f} imputation) | "
          f"{b / a:.1f} ({(b + t_imp) / a:.1f} with the imputation) |")


if __name__ == "__main__":
    main()
