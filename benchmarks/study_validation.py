"""Validation of the simulation-study workflow against closed forms (issue 19, point 4).

Reads a finished run of studies/primary_power.yaml (``results/study/primary_power``) and
compares, per scenario, the simulated rejection rate of the primary analysis (the Wald
test of its odds ratio, no clustering) with the closed-form power of a two-sided
two-proportion comparison at the scenario's true risks of the primary estimand
(readmitted within 365 days while alive, death before readmission counting as not
readmitted: truth ``readmission.cuminc_365_death_competing``) and n/2 participants per arm: statsmodels' ``NormalIndPower`` on
Cohen's h (arcsine) and the classical pooled-variance normal approximation. At no effect
the rejection rate is the type I error, compared with the level. Agreement is judged in
Monte Carlo SEs of the simulated rate (|difference| / MCSE; within 2 is agreement).

    python benchmarks/study_validation.py results/study/primary_power

The primary analysis adjusts for the stratifiers, which the closed form does not, and
loses the participants whose outcome is unknown (withdrawal before 365 days) — both move
the simulated power a little; the figures recorded in benchmarks/README.md say by how much.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize


def pooled_power(p1: float, p0: float, n1: int, n0: int, alpha: float) -> float:
    """Two-sided power of the pooled-variance z-test of two proportions (normal approximation)."""
    p = (n1 * p1 + n0 * p0) / (n1 + n0)
    se0 = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))
    se1 = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    z = stats.norm.ppf(1 - alpha / 2)
    d = abs(p1 - p0)
    return float(stats.norm.cdf((d - z * se0) / se1) + stats.norm.cdf((-d - z * se0) / se1))


def main(out_dir: str) -> None:
    out = Path(out_dir)
    perf = pd.read_csv(out / "performance.tsv", sep="\t")
    scenarios = pd.read_csv(out / "scenarios.tsv", sep="\t")
    rows = []
    for sc in scenarios.itertuples():
        truth = json.loads((out / "truth" / f"{sc.scenario}.json").read_text())
        risk = truth["readmission"]["cuminc_365_death_competing"]
        p1, p0 = risk["peer_support"], risk["usual_care"]
        n1 = n0 = int(sc.n) // 2
        sel = perf.loc[(perf["scenario"] == sc.scenario) & (perf["estimand"] == "primary_or")
                       & (perf["measure"] == "rejection")].iloc[0]
        alpha = 0.05
        h = proportion_effectsize(p1, p0)
        closed_h = float(NormalIndPower().power(effect_size=abs(h), nobs1=n1, alpha=alpha,
                                                ratio=n0 / n1)) if h else alpha
        closed_pooled = pooled_power(p1, p0, n1, n0, alpha) if p1 != p0 else alpha
        rows.append({"scenario": sc.scenario, "label": sc.label, "p_peer_support": p1,
                     "p_usual_care": p0, "simulated": sel["estimate"], "mcse": sel["mcse"],
                     "closed_form_arcsine": closed_h, "closed_form_pooled": closed_pooled,
                     "z_arcsine": (sel["estimate"] - closed_h) / sel["mcse"],
                     "z_pooled": (sel["estimate"] - closed_pooled) / sel["mcse"],
                     "n_estimable": int(sel["n_estimable"]), "n_replicates": int(sel["n_replicates"])})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.4f}"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/study/primary_power")
