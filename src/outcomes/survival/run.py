"""The survival analyses of the analysis plan, run together (the pipeline's entry point).

Reads ADSL, ADTTE and ADRE, runs every time-to-event analysis of DESIGN §8 with the plan's
settings (``survival`` block of the config), and returns the results, from which the
table ``survival.tsv`` and the figures are rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from outcomes.plan import AnalysisPlan

from ._common import Arms
from .binary import readmission_within
from .competing import cause_specific_cox, cumulative_incidence
from .cox import tenure_cox
from .km import KaplanMeierResult, kaplan_meier, logrank, rmst_difference
from .plots import forest, kmunicate
from .recurrent import andersen_gill, hospital_days, negative_binomial
from .tables import results_table, write_tsv

TENURE_PARAMS = {"READMIT": "community_tenure", "READMDET": "detained_readmission"}


@dataclass(frozen=True)
class SurvivalAnalyses:
    """All survival results of one run: the table and the curves the figures need."""

    table: pd.DataFrame
    curves: dict[str, KaplanMeierResult] = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        return self.table


def run_survival(
    adsl: pd.DataFrame,
    adtte: pd.DataFrame,
    adre: pd.DataFrame,
    plan: AnalysisPlan,
    rng: np.random.Generator,
) -> SurvivalAnalyses:
    """Run the primary, tenure, competing-risk and recurrent-event analyses of the plan."""
    s = plan.survival
    arms = Arms(plan.treated_arm, plan.control_arm)
    horizon = float(plan.followup_days)
    tau = float(s["rmst_tau_days"] or plan.followup_days)
    strata = tuple(s["strata"])
    cox_cov = tuple(s["cox_covariates"])
    results: list = [
        readmission_within(
            adtte, adsl, horizon=horizon, covariates=tuple(s["primary_covariates"]),
            strategy=s["primary_strategy"], arms=arms,
        )
    ]
    curves = {}
    for paramcd, analysis in TENURE_PARAMS.items():
        if not (adtte["PARAMCD"] == paramcd).any():
            continue
        km = kaplan_meier(adtte, paramcd, adsl=adsl, arms=arms, analysis=analysis)
        curves[paramcd] = km
        results += [
            km,
            logrank(adtte, paramcd, adsl=adsl, strata=strata, arms=arms, analysis=analysis),
            tenure_cox(adtte, paramcd, adsl=adsl, covariates=cox_cov, strata=strata, arms=arms, analysis=analysis),
            rmst_difference(adtte, paramcd, tau=tau, adsl=adsl, arms=arms, analysis=analysis),
        ]
    results.append(cumulative_incidence(adtte, "READMIT", horizon=horizon, adsl=adsl, arms=arms))
    results.append(cause_specific_cox(adtte, "READMIT", adsl=adsl, covariates=cox_cov, strata=strata, arms=arms))
    results.append(negative_binomial(adre, adsl, covariates=tuple(s["primary_covariates"]), arms=arms))
    results.append(andersen_gill(adre, adsl, covariates=cox_cov, strata=strata, arms=arms))
    results.append(hospital_days(adre, adsl, arms=arms, n_boot=int(s["hospital_days_n_boot"]), rng=rng))
    return SurvivalAnalyses(results_table(results), curves)


def write_survival(res: SurvivalAnalyses, tables_dir: str | Path, figures_dir: str | Path) -> list[Path]:
    """Write ``survival.tsv``, the KMunicate figures and the forest plot; returns the paths."""
    tables_dir, figures_dir = Path(tables_dir), Path(figures_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    paths = [tables_dir / "survival.tsv"]
    write_tsv(res.table, paths[0])
    labels = {"READMIT": "Not readmitted", "READMDET": "No detained readmission"}
    for paramcd, km in res.curves.items():
        paths.append(kmunicate(km, figures_dir / f"km_{paramcd.lower()}.svg", ylabel=labels[paramcd]))
    paths.append(forest(res.table, figures_dir / "forest_survival.svg", title="Readmission and community tenure"))
    return paths
