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
        [--truth-n 5000] [--scenarios default,mcar,mar,mnar] [--tsv FILE] [--replicates-tsv FILE]

Prints a Markdown table per scenario: mean truth, bias (mean estimate − truth), its Monte
Carlo SE (SD of estimate − truth over replicates / sqrt(reps)), bias / MC SE, the empirical
SD of the estimates, bias as % of that SD, coverage of the 95% CI (with its binomial MC SE)
and the mean share of ITT participants without a month-12 WEMWBS.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from outcomes.adam import derive_adqs, derive_adsl  # noqa: E402
from outcomes.plan import AnalysisPlan, validate_config  # noqa: E402
from outcomes.questionnaires import questionnaire_ancova  # noqa: E402
from outcomes.simulate import simulate  # noqa: E402
from outcomes.simulate.parameters import CONTROL, DATA_CUT, TREATED  # noqa: E402
from outcomes.tables import write_tsv  # noqa: E402

PARAMCD, VISIT = "WEMWBS", "month_12"


def analysis_plan() -> AnalysisPlan:
    """The default plan at the simulator's data cut, scoring WEMWBS only (what is analysed)."""
    return AnalysisPlan.from_config(validate_config({"data_cut": DATA_CUT.isoformat(), "instruments": ["wemwbs"]}))


def complete_case_ancova(tables, plan: AnalysisPlan) -> pd.Series:
    """The pipeline's complete-case ANCOVA of WEMWBS at month 12 on one simulated extract
    (ADSL and ADQS derived as ``derive_all`` does; the other datasets are not needed)."""
    frames = {k: v.to_frame() for k, v in tables.items()}
    adsl = derive_adsl(frames["participants"], frames["peer_contacts"], plan, data_cut=plan.data_cut)
    adqs = derive_adqs(frames["questionnaires"], adsl, plan)
    adqs = adqs[adqs["PARAMCD"] == PARAMCD]
    res = questionnaire_ancova(adqs, adsl, treated_arm=TREATED, control_arm=CONTROL, visits=(VISIT,))
    return res.iloc[0]


def run(reps: int, n: int, seed: int, truth_n: int, scenarios: list[str]) -> pd.DataFrame:
    plan = analysis_plan()
    rows = []
    t0 = time.perf_counter()
    for r in range(reps):
        for sc in scenarios:
            tables, truth = simulate(n, seed + r, truth_n=truth_n, missingness=sc)
            row = complete_case_ancova(tables, plan)
            rows.append({
                "scenario": sc, "rep": r, "seed": seed + r,
                "estimate": row["estimate"], "std_error": row["std_error"],
                "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                "n_analysed": row["n"], "missing_share": row["n_excluded"] / (row["n"] + row["n_excluded"]),
                "truth": truth["scores"][VISIT][PARAMCD]["difference"],
            })
        if (r + 1) % 10 == 0:
            print(f"  [{time.perf_counter() - t0:.0f} s] {r + 1}/{reps} replicates", flush=True)
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame) -> pd.DataFrame:
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
            "bias_%_of_sd": 100 * err.mean() / sd,
            "coverage_%": 100 * cover,
            "coverage_mc_se_%": 100 * np.sqrt(cover * (1 - cover) / k),
            "missing_share": g["missing_share"].mean(),
        })

    return df.groupby("scenario", sort=False)[list(df.columns.drop("scenario"))].apply(one).reset_index()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--truth-n", type=int, default=5_000)
    ap.add_argument("--scenarios", default="default,mcar,mar,mnar")
    ap.add_argument("--tsv", default=None, help="write the summary table here (TSV)")
    ap.add_argument("--replicates-tsv", default=None, help="write every replicate's estimate here (TSV)")
    args = ap.parse_args()
    df = run(args.reps, args.n, args.seed, args.truth_n, args.scenarios.split(","))
    if args.replicates_tsv:
        write_tsv(df, args.replicates_tsv)
    summ = summarise(df)
    if args.tsv:
        write_tsv(summ, args.tsv)
    print(f"\ncomplete-case ANCOVA of {PARAMCD} {VISIT}: n = {args.n}, {args.reps} replicates, "
          f"truth population {args.truth_n}\n")
    print(summ.to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
