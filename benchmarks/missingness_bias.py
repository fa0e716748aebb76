"""Bias of complete-case ANCOVA under the simulator's missingness scenarios (not run in CI).

For each replicate trial (seed ``--seed + r``) and each scenario of ``outcomes simulate
--missingness`` (default, mcar, mar, mnar; docs/synthetic-trial.md §9), the trial is
simulated at the same seed — so the scenarios share every outcome and differ only in which
questionnaires are missing (paired comparisons) — derived to ADaM as in the pipeline, and
WEMWBS at month 12 is analysed by the pipeline's complete-case ANCOVA
(``outcomes.questionnaires.questionnaire_ancova``: score ~ arm + baseline + site). The
truth is that seed's and scenario's ``truth.json → scores.month_12.WEMWBS.difference``
(the potential-outcome mean difference; under mnar that of the shifted full data).

    .venv/bin/python benchmarks/missingness_bias.py [--reps 200] [--n 600] [--seed 20261130]
        [--truth-n 5000] [--scenarios default,mcar,mar,mnar] [--jobs 1] [--tsv FILE]
        [--replicates-tsv FILE]

Prints a Markdown table per scenario: mean truth, bias (mean estimate − truth), its Monte
Carlo SE (SD of estimate − truth over replicates / sqrt(reps)), bias / MC SE, the empirical
SD of the estimates, |bias| as % of that SD, the mean model SE, coverage of the 95% CI (with its binomial MC SE)
and the mean share of ITT participants without a month-12 WEMWBS.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import multiprocessing  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from outcomes.adam import derive_adqs, derive_adsl, derive_adtte  # noqa: E402
from outcomes.adam._inputs import admissions_table  # noqa: E402
from outcomes.plan import AnalysisPlan, validate_config  # noqa: E402
from outcomes.questionnaires import questionnaire_ancova  # noqa: E402
from outcomes.simulate import simulate  # noqa: E402
from outcomes.simulate.parameters import CONTROL, DATA_CUT, TREATED  # noqa: E402
from outcomes.tables import write_tsv  # noqa: E402

PARAMCD, VISIT = "WEMWBS", "month_12"
#: what each replicate's row records of one analysis
ESTIMATE_COLUMNS = ("estimate", "std_error", "ci_low", "ci_high")


def analysis_plan(instruments: tuple[str, ...] = ("wemwbs",)) -> AnalysisPlan:
    """The default plan at the simulator's data cut, scoring ``instruments`` only (what is
    analysed; WEMWBS alone for complete cases)."""
    return AnalysisPlan.from_config(validate_config(
        {"data_cut": DATA_CUT.isoformat(), "instruments": list(instruments)}))


def derive(tables, plan: AnalysisPlan, *, adtte: bool = False) -> dict[str, pd.DataFrame]:
    """ADSL and ADQS of one simulated extract, derived as ``derive_all`` does (and ADTTE
    when ``adtte``; ADRE is never needed here)."""
    frames = {k: v.to_frame() for k, v in tables.items()}
    adsl = derive_adsl(frames["participants"], frames["peer_contacts"], plan, data_cut=plan.data_cut)
    out = {"adsl": adsl, "adqs": derive_adqs(frames["questionnaires"], adsl, plan)}
    if adtte:
        out["adtte"] = derive_adtte(adsl, admissions_table(frames["admissions"]), plan)
    return out


def cc_ancova(derived: dict[str, pd.DataFrame]) -> pd.Series:
    """The pipeline's complete-case ANCOVA of WEMWBS at month 12 (score ~ arm + baseline + site)."""
    adqs = derived["adqs"][derived["adqs"]["PARAMCD"] == PARAMCD]
    res = questionnaire_ancova(adqs, derived["adsl"], treated_arm=TREATED, control_arm=CONTROL,
                               visits=(VISIT,))
    return res.iloc[0]


def complete_case_ancova(tables, plan: AnalysisPlan) -> pd.Series:
    """:func:`cc_ancova` on one simulated extract."""
    return cc_ancova(derive(tables, plan))


def truth_of(truth: dict) -> float:
    """The estimand: the potential-outcome mean difference of WEMWBS at month 12."""
    return truth["scores"][VISIT][PARAMCD]["difference"]


def estimate_row(res, truth: float, **ids) -> dict:
    """One replicate's row of one analysis: ``ids``, the estimate, SE, 95% CI and truth."""
    return {**ids, **{c: float(res[c]) for c in ESTIMATE_COLUMNS}, "truth": truth}


def cc_replicate(r: int, seed: int, *, n: int, truth_n: int, scenarios: tuple[str, ...],
                 plan: AnalysisPlan) -> list[dict]:
    """Replicate ``r``: the complete-case ANCOVA under each scenario at seed ``seed``."""
    rows = []
    for sc in scenarios:
        tables, truth = simulate(n, seed, truth_n=truth_n, missingness=sc)
        row = cc_ancova(derive(tables, plan))
        rows.append(estimate_row(row, truth_of(truth), scenario=sc, rep=r, seed=seed,
                                 n_analysed=row["n"],
                                 missing_share=row["n_excluded"] / (row["n"] + row["n_excluded"])))
    return rows


def _one(args):
    replicate, r, seed = args
    return replicate(r, seed)


def run(replicate, reps: int, seed: int, *, jobs: int = 1, replicates_tsv: str | None = None,
        every: int = 10, first: int = 0) -> pd.DataFrame:
    """``replicate(r, seed + r)`` (a list of row dicts) for r = first..first + reps − 1 over ``jobs``
    processes, rows in replicate order; the rows so far are (re)written atomically to
    ``replicates_tsv`` every ``every`` replicates, so an interrupted run keeps its numbers."""
    rows: list[dict] = []
    t0 = time.perf_counter()
    tasks = [(replicate, r, seed + r) for r in range(first, first + reps)]
    pool = multiprocessing.get_context("fork").Pool(jobs) if jobs > 1 else None
    try:
        results = pool.imap(_one, tasks) if pool else map(_one, tasks)
        for r, out in enumerate(results, start=1):
            rows += out
            if r % every == 0 or r == reps:
                print(f"  [{time.perf_counter() - t0:.0f} s] {r}/{reps} replicates", flush=True)
                if replicates_tsv:
                    write_tsv(pd.DataFrame(rows), replicates_tsv)
    finally:
        if pool:
            pool.close()
            pool.join()
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame, by: tuple[str, ...] = ("scenario",)) -> pd.DataFrame:
    """Per group of ``by``: reps, mean truth, bias (mean estimate − truth), its MC SE, bias /
    MC SE, empirical SD, |bias| as % of it, mean model SE, 95% CI coverage and its MC SE,
    and the mean of any other numeric column (e.g. ``missing_share``)."""
    extra = [c for c in df.columns if c not in (*by, *ESTIMATE_COLUMNS, "truth", "rep", "seed",
                                                 "n_analysed")
             and pd.api.types.is_numeric_dtype(df[c])]

    def one(g: pd.DataFrame) -> pd.Series:
        err = g["estimate"] - g["truth"]
        k = len(g)
        mcse = err.std(ddof=1) / np.sqrt(k)
        sd = g["estimate"].std(ddof=1)
        cover = ((g["ci_low"] <= g["truth"]) & (g["truth"] <= g["ci_high"])).mean()
        return pd.Series({
            "reps": k,
            "truth": g["truth"].mean(),
            "bias": err.mean(),
            "bias_mc_se": mcse,
            "bias/mc_se": err.mean() / mcse,
            "empirical_sd": sd,
            "|bias|_%_of_sd": 100 * abs(err.mean()) / sd,
            "mean_model_se": g["std_error"].mean(),
            "coverage_%": 100 * cover,
            "coverage_mc_se_%": 100 * np.sqrt(cover * (1 - cover) / k),
            **{c: g[c].mean() for c in extra},
        })

    cols = [c for c in df.columns if c not in by]
    return df.groupby(list(by), sort=False)[cols].apply(one).reset_index()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--truth-n", type=int, default=5_000)
    ap.add_argument("--scenarios", default="default,mcar,mar,mnar")
    ap.add_argument("--jobs", type=int, default=1, help="processes (replicates in parallel)")
    ap.add_argument("--tsv", default=None, help="write the summary table here (TSV)")
    ap.add_argument("--replicates-tsv", default=None, help="write every replicate's estimate here (TSV)")
    args = ap.parse_args()
    replicate = functools.partial(cc_replicate, n=args.n, truth_n=args.truth_n,
                                  scenarios=tuple(args.scenarios.split(",")), plan=analysis_plan())
    df = run(replicate, args.reps, args.seed, jobs=args.jobs, replicates_tsv=args.replicates_tsv)
    summ = summarise(df)
    if args.tsv:
        write_tsv(summ, args.tsv)
    print(f"\ncomplete-case ANCOVA of {PARAMCD} {VISIT}: n = {args.n}, {args.reps} replicates, "
          f"truth population {args.truth_n}\n")
    print(summ.to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
