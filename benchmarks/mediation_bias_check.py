"""Where does a mediation study's bias of the total effect come from? (docs/mediation.md §10)

Two checks of a mediation coverage study (studies/mediation_coverage.yaml), which found the
ADE and total effect of WEMWBS at month 12 about 0.18 below the truth (2.5 MC SE):

1. **The engine against OLS, replicate by replicate.** Each of the study's trials is made
   again (the study's DGP and trial seeds), derived as the pipeline derives it, and the total
   effect of the arm is fitted by OLS (statsmodels) in the plan's shared complete-case sample
   with the covariates of the all-scores job and of the WAI-SR job. With linear mediator and
   outcome models and no interaction, ACME + ADE equals the OLS coefficient of the arm in a
   model without the mediators (Baron & Kenny's c = c' + ab identity, exact in one sample), so
   the engine's total (``replicates.tsv``) must equal it to rounding. The mean of the OLS
   estimates minus the truth is then the trials' own bias, whatever the engine does.
2. **The complete-case estimand in one very large trial** of the same DGP (``--big-n``
   participants): OLS of WEMWBS at month 12 on the arm, baseline WEMWBS, site and prior
   admissions among those with the outcome, and the same in the shared sample. If the
   complete cases target the truth's total effect, both are within their SE of it.

    .venv/bin/python benchmarks/mediation_bias_check.py \
        --study studies/mediation_coverage.yaml \
        --replicates results/study/mediation_coverage/replicates.tsv --reps 300 --big-n 400000

Not in CI (about 6 minutes of CPU for 300 replicates and 6 for the large trial; 6 GB peak
at 400,000).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from outcomes.mediation.admed import mediation_data
from outcomes.plan import AnalysisPlan
from outcomes.replicate import run_replicate
from outcomes.simstudy.run import scenario_dgp, scenario_truth
from outcomes.simstudy.study import load_study

#: The plan's six process scores (the all-scores set) and the WAI-SR job's one.
SCORES = ("WAISR", "HHI", "GSE", "ISMI10", "LSNS6", "UCLA3")
BASE = "WEMWBS_BL + C(SITEID) + PRIORADM"


def admed_of(tables: dict, plan: AnalysisPlan) -> pd.DataFrame:
    d = run_replicate(tables, plan, analyses=()).adam
    return mediation_data(d["adsl"], d["adqs"], d["adtte"], plan)


def arm_effect(formula: str, data: pd.DataFrame) -> tuple[float, float]:
    fit = smf.ols(formula, data).fit()
    return float(fit.params["TRTA01"]), float(fit.bse["TRTA01"])


def samples(adm: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(complete on the outcome and its covariates, the plan's shared sample: complete on
    every score at the mediator visit and at baseline as well)."""
    outcome = adm.dropna(subset=["WEMWBS_M12", "WEMWBS_BL", "PRIORADM"])
    shared = outcome.dropna(subset=[f"{s}_{v}" for s in SCORES for v in ("M", "BL")])
    return outcome, shared


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--study", type=Path, required=True)
    ap.add_argument("--replicates", type=Path, required=True, help="the study's replicates.tsv")
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--big-n", type=int, default=400_000)
    ap.add_argument("--big-seed", type=int, default=777)
    args = ap.parse_args()
    study = load_study(args.study)
    plan = AnalysisPlan.from_config(dict(study.plan))
    scenario = study.scenarios[0]
    dgp = scenario_dgp(study, scenario)
    truth = scenario_truth(study, scenario)["mediation"]["WEMWBS_month_12"]
    total = float(truth["WAISR"]["total"])
    engine = {(int(r["replicate"]), r["estimand"]): float(r["estimate"])
              for r in csv.DictReader(args.replicates.open(), delimiter="\t")
              if r["estimand"] in ("ALL_total", "WAISR_total") and r["estimate"] not in ("", "nan")}
    formulas = {"ALL": "WEMWBS_M12 ~ TRTA01 + " + " + ".join(f"{s}_BL" for s in SCORES) + " + " + BASE,
                "WAISR": "WEMWBS_M12 ~ TRTA01 + WAISR_BL + " + BASE}
    rows = []
    for r in range(args.reps):
        adm = admed_of(dgp.trial(scenario.n, study.trial_seed(scenario, r))[0], plan)
        outcome, shared = samples(adm)
        row = {"replicate": r, "n_outcome": len(outcome), "n_shared": len(shared),
               "ols_outcome_cc": arm_effect(f"WEMWBS_M12 ~ TRTA01 + {BASE}", outcome)[0]}
        for name, formula in formulas.items():
            row[f"ols_{name}"] = arm_effect(formula, shared)[0]
            row[f"engine_{name}"] = engine.get((r, f"{name}_total"), np.nan)
        rows.append(row)
    t = pd.DataFrame(rows)
    print(f"study {study.name}, scenario {scenario.id}, {len(t)} replicates; truth total {total:.4f}")
    for col in ("engine_ALL", "ols_ALL", "engine_WAISR", "ols_WAISR", "ols_outcome_cc"):
        v = t[col].dropna()
        print(f"  {col:16s} mean - truth {v.mean() - total:+.4f} (MC SE {v.std(ddof=1) / np.sqrt(len(v)):.4f})")
    for name in formulas:
        print(f"  max |engine - OLS| ({name}): {np.nanmax(np.abs(t[f'engine_{name}'] - t[f'ols_{name}'])):.2e}")
    print(f"  mean n: outcome complete {t['n_outcome'].mean():.1f}, shared sample {t['n_shared'].mean():.1f}")
    adm = admed_of(dgp.trial(args.big_n, args.big_seed)[0], plan)
    outcome, shared = samples(adm)
    print(f"one trial of {args.big_n:,} (seed {args.big_seed}):")
    for label, data, formula in (("outcome complete cases", outcome, f"WEMWBS_M12 ~ TRTA01 + {BASE}"),
                                 ("shared sample, ALL covariates", shared, formulas["ALL"])):
        est, se = arm_effect(formula, data)
        print(f"  {label:30s} n {len(data):,}: {est:.4f} (SE {se:.4f}), minus truth {est - total:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
