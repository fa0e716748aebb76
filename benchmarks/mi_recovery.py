"""Truth recovery of multiple imputation under strong MAR and MNAR (not run in CI; issue 12).

Each replicate trial (seed ``--seed + r``) is simulated under the ``mar`` scenario of
``outcomes simulate --missingness`` (docs/synthetic-trial.md §9) and, at the same seed, under
``mnar`` with δ = ``--delta`` (one value for both arms, or peer support then usual care):
the two extracts are byte-identical, only the
truth differs. It is derived to ADaM as in the pipeline and WEMWBS at month 12 is analysed
(the replicate loop, ADaM derivation, complete-case ANCOVA and summary are those of
``missingness_bias.py``) by

- ``complete_case``: the pipeline's complete-case ANCOVA (score ~ arm + baseline + site);
- ``mi``: the plan's imputation model (``outcomes.imputation``: norm by arm (``--method``), m =
  ``--m`` data sets of ``--iterations`` sweeps, seeded by the replicate's seed) on a plan
  scoring WEMWBS, WAI-SR, HHI, UCLA-3 and LSNS-6 — the ANCOVA's instrument and the four
  month-4 scores the mar mechanism depends on; the model also holds what else it depends
  on (baseline WEMWBS, readmission before each visit, the month-4 WEMWBS that is missing
  with the questionnaire) — then the ANCOVA pooled by Rubin's rules (``ancova_mi``);
- ``mi_delta`` (mnar only): the same imputations with δ added once to every imputed
  month-12 WEMWBS of each arm (``delta_mode = "final"``, the tipping-point analysis's
  shift), the δ the simulator used (``mi`` under mnar is the MAR analysis, δ = 0).

The truth is ``truth.json → scores.month_12.WEMWBS.difference`` of the scenario (under mnar
that of the shifted full data).

    .venv/bin/python benchmarks/mi_recovery.py [--reps 200] [--n 600] [--m 20]
        [--iterations 10] [--method norm|pmm] [--donors 5] [--delta -5 [D_CONTROL]] [--seed 20261130] [--truth-n 5000] [--jobs 1]
        [--tsv FILE] [--replicates-tsv FILE]

Prints, per scenario and method, the summary of ``missingness_bias.summarise``: bias, its
MC SE, |bias| as % of the empirical SD, the empirical SD, the mean model SE and the 95% CI
coverage with its MC SE. ``--replicates-tsv`` is rewritten every 10 replicates.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from missingness_bias import (  # noqa: E402
    PARAMCD,
    VISIT,
    analysis_plan,
    cc_ancova,
    derive,
    estimate_row,
    run,
    summarise,
    truth_of,
)

from outcomes.imputation.frame import imputation_frame  # noqa: E402
from outcomes.imputation.mice import impute  # noqa: E402
from outcomes.imputation.settings import ImputationSettings  # noqa: E402
from outcomes.imputation.tipping import delta_analyser  # noqa: E402
from outcomes.simulate import simulate  # noqa: E402
from outcomes.tables import write_tsv  # noqa: E402

#: the ANCOVA's instrument and the month-4 scores of the mar mechanism (parameters.MISSINGNESS)
INSTRUMENTS = ("wemwbs", "wai_sr", "hhi", "ucla3", "lsns6")


def recovery_replicate(r: int, seed: int, *, n: int, truth_n: int, m: int, iterations: int,
                       delta: tuple[float, float], method: str = "norm",
                       donors: int = 5) -> list[dict]:
    """Replicate ``r`` at ``seed``: complete cases and MI under mar, and complete cases, MI
    (δ = 0) and δ-adjusted MI under mnar with ``delta`` = (peer support, usual care) (same
    extract, the mnar truth)."""
    plan = analysis_plan(INSTRUMENTS)
    tables, truth = simulate(n, seed, truth_n=truth_n, missingness="mar")
    _, truth_mnar = simulate(n, seed, truth_n=truth_n, missingness="mnar", mnar_delta=delta)
    truths = {"mar": truth_of(truth), "mnar": truth_of(truth_mnar)}
    derived = derive(tables, plan, adtte=True)
    t0 = time.process_time()
    frame = imputation_frame(derived["adsl"], derived["adqs"], derived["adtte"], plan)
    imp = impute(frame, ImputationSettings(method=method, m=m, iterations=iterations,
                                                  donors=donors), seed)
    analyse = delta_analyser(frame, imp, seed, plan, PARAMCD, VISIT, "final", 0.05, "")
    fits = {"complete_case": cc_ancova(derived), "mi": analyse(0.0, 0.0).ancova,
            "mi_delta": analyse(*delta).ancova}
    seconds = time.process_time() - t0
    rows = []
    for sc, methods in (("mar", ("complete_case", "mi")),
                        ("mnar", ("complete_case", "mi", "mi_delta"))):
        for method in methods:
            fit = fits[method]
            rows.append(estimate_row(fit if method == "complete_case" else vars(fit),
                                     truths[sc], scenario=sc, method=method, rep=r, seed=seed,
                                     cpu_seconds=seconds if method != "complete_case" else 0.0))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--m", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--method", default="norm", choices=("norm", "pmm"))
    ap.add_argument("--donors", type=int, default=5, help="pmm's donors")
    ap.add_argument("--delta", type=float, nargs="+", default=[-5.0],
                    help="the MNAR δ: one for both arms, or peer support then usual care")
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--truth-n", type=int, default=5_000)
    ap.add_argument("--jobs", type=int, default=1, help="processes (replicates in parallel)")
    ap.add_argument("--tsv", default=None, help="write the summary table here (TSV)")
    ap.add_argument("--replicates-tsv", default=None, help="every replicate's estimates (TSV)")
    args = ap.parse_args()
    if len(args.delta) not in (1, 2):
        ap.error("--delta takes one or two values")
    delta = (args.delta[0], args.delta[-1])
    replicate = functools.partial(recovery_replicate, n=args.n, truth_n=args.truth_n, m=args.m,
                                  iterations=args.iterations, delta=delta, method=args.method,
                                  donors=args.donors)
    t0 = time.perf_counter()
    df = run(replicate, args.reps, args.seed, jobs=args.jobs, replicates_tsv=args.replicates_tsv)
    wall = time.perf_counter() - t0
    summ = summarise(df, by=("scenario", "method"))
    if args.tsv:
        write_tsv(summ, args.tsv)
    print(f"\n{PARAMCD} {VISIT}: n = {args.n}, {args.reps} replicates (seeds {args.seed}.."
          f"{args.seed + args.reps - 1}), m = {args.m}, {args.iterations} sweeps, {args.method} by arm, "
          f"δ = {delta} (peer support, usual care), truth population {args.truth_n}; {wall:.0f} s wall, "
          f"{args.jobs} job(s)\n")
    print(pd.DataFrame(summ).to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
