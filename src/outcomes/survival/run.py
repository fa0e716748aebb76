"""The survival analyses of the analysis plan, run together (the pipeline's entry point).

Reads ADSL, ADTTE and ADRE, runs every time-to-event analysis of docs/survival.md with the plan's
settings (``survival`` block of the config), and returns the results, from which the
table ``survival.tsv`` and the figures are rendered.

An analysis that cannot be estimated on the data (the rules are in docs/survival.md)
becomes rows with ``status = not estimable`` and the reason; the others still run. As a
last resort, an unexpected numerical exception of one analysis (singular matrix,
non-convergence of a library fit) is turned into such rows with the exception's text and
logged as a warning: a rule that should have caught it is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines.exceptions import ConvergenceError

from outcomes.clustering import NONE, PEER_WORKER, cluster_ids
from outcomes.errors import NotEstimable
from outcomes.estimands.rows import SURVIVAL, with_estimands
from outcomes.plan import AnalysisPlan

from ._common import Arms, NotEstimableResult, ident, merge_adsl
from .binary import readmission_within
from .competing import cause_specific_cox, cumulative_incidence
from .cox import tenure_cox
from .km import KaplanMeierResult, kaplan_meier, logrank, rmst_difference
from .plots import forest, kmunicate
from .recurrent import andersen_gill, hospital_days, rate_ratio
from .tables import main_analysis_rows, results_table, write_tsv

TENURE_PARAMS = {"READMIT": "community_tenure", "READMDET": "detained_readmission"}

log = logging.getLogger(__name__)

#: The ADSL column of each participant's cluster (:func:`outcomes.clustering.cluster_ids`).
CLUSTER = "CLUSTER"

#: Exceptions of a numerical fit turned into not-estimable rows by the backstop.
NUMERICAL_FAILURES = (np.linalg.LinAlgError, ArithmeticError, RuntimeError, ConvergenceError)


def attempt(fit: Callable[[], object], rows: list[dict], name: str):
    """``fit()``, or a :class:`NotEstimableResult` with ``rows`` when it raises
    :class:`NotEstimable` (the reason kept) or, as the logged backstop, a numerical error."""
    try:
        return fit()
    except NotEstimable as exc:
        return NotEstimableResult(exc.reason, tuple(rows))
    except NUMERICAL_FAILURES as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        log.warning("survival: %s failed unexpectedly (%s: %s); reported as not estimable",
                    name, type(exc).__name__, text)
        return NotEstimableResult(f"numerical failure ({type(exc).__name__}: {text})",
                                  tuple(rows))


def arm_counts(adtte: pd.DataFrame, paramcd: str, adsl: pd.DataFrame, arms: Arms):
    """((n treated, n control), (events treated, events control)) of one ADTTE parameter."""
    d = merge_adsl(adtte.loc[adtte["PARAMCD"] == paramcd], adsl, ["ARM"])
    ev = d["CNSR"].to_numpy() == 0
    arm = d["ARM"].astype(str).to_numpy()
    ns = tuple(int((arm == a).sum()) for a in (arms.treated, arms.control))
    es = tuple(int((ev & (arm == a)).sum()) for a in (arms.treated, arms.control))
    return ns, es


def by_arm_rows(analysis, outcome, estimate_type, arms, ns, es, **extra) -> list[dict]:
    return [ident(analysis, outcome, a, estimate_type, n, e, **extra)
            for a, n, e in zip((arms.treated, arms.control), ns, es, strict=True)]


@dataclass(frozen=True)
class SurvivalAnalyses:
    """All survival results of one run: the table and the curves the figures need."""

    table: pd.DataFrame
    curves: dict[str, KaplanMeierResult] = field(repr=False)
    clustering: str = NONE  # the plan's main analysis (docs/clustering.md)

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
    c = arms.contrast
    ns, es = arm_counts(adtte, "READMIT", adsl, arms)
    strategy = s["primary_strategy"]
    primary = f"READMIT within {int(horizon)} days"
    adsl = adsl.assign(CLUSTER=cluster_ids(adsl, plan.treated_arm))
    results: list = []
    for cl in (NONE, PEER_WORKER):  # the naive rows, then those of the nested design
        ex = dict(clustering=cl, strategy=strategy, horizon=horizon)
        results.append(attempt(
            lambda cl=cl: readmission_within(adtte, adsl, horizon=horizon,
                                             covariates=tuple(s["primary_covariates"]),
                                             strategy=strategy, arms=arms,
                                             cluster=CLUSTER if cl == PEER_WORKER else None),
            by_arm_rows("primary", primary, "risk", arms, ns, (np.nan, np.nan), **ex)
            + [ident("primary", primary, c, t, sum(ns), **ex)
               for t in ("risk_difference", "odds_ratio", "conditional_odds_ratio")]
            + ([ident("primary", primary, arms.treated, "icc", **ex)]
               if cl == PEER_WORKER else []),
            f"the primary analysis ({cl})"))
    curves = {}
    for paramcd, analysis in TENURE_PARAMS.items():
        if not (adtte["PARAMCD"] == paramcd).any():
            continue
        pn, pe = arm_counts(adtte, paramcd, adsl, arms)
        km = kaplan_meier(adtte, paramcd, adsl=adsl, arms=arms, analysis=analysis)
        curves[paramcd] = km
        results += [
            km,
            attempt(lambda p=paramcd, a=analysis: logrank(adtte, p, adsl=adsl, strata=strata,
                                                          arms=arms, analysis=a),
                    [ident(analysis, paramcd, c, "logrank_hazard_ratio", sum(pn), sum(pe))],
                    f"the log-rank test of {paramcd}"),
            attempt(lambda p=paramcd, a=analysis: logrank(adtte, p, adsl=adsl, strata=strata,
                                                          arms=arms, analysis=a,
                                                          cluster=CLUSTER),
                    [ident(analysis, paramcd, c, "logrank_hazard_ratio", sum(pn), sum(pe),
                           clustering=PEER_WORKER)],
                    f"the log-rank test of {paramcd} clustered by peer worker"),
            attempt(lambda p=paramcd, a=analysis: tenure_cox(
                        adtte, p, adsl=adsl, covariates=cox_cov, strata=strata, arms=arms,
                        analysis=a),
                    [ident(analysis, paramcd, c, "hazard_ratio", sum(pn), sum(pe))],
                    f"the Cox model of {paramcd}"),
            attempt(lambda p=paramcd, a=analysis: tenure_cox(
                        adtte, p, adsl=adsl, covariates=cox_cov, strata=strata, arms=arms,
                        analysis=a, cluster=CLUSTER),
                    [ident(analysis, paramcd, c, "hazard_ratio", sum(pn), sum(pe),
                           clustering=PEER_WORKER)],
                    f"the Cox model of {paramcd} clustered by peer worker"),
            attempt(lambda p=paramcd, a=analysis: rmst_difference(
                        adtte, p, tau=tau, adsl=adsl, arms=arms, analysis=a),
                    by_arm_rows(analysis, paramcd, "rmst", arms, pn, pe, tau=tau)
                    + [ident(analysis, paramcd, c, "rmst_difference", sum(pn), sum(pe), tau=tau)],
                    f"the RMST of {paramcd}"),
            attempt(lambda p=paramcd, a=analysis: rmst_difference(
                        adtte, p, tau=tau, adsl=adsl, arms=arms, analysis=a, cluster=CLUSTER),
                    [ident(analysis, paramcd, arms.treated, "rmst", pn[0], pe[0], tau=tau,
                           clustering=PEER_WORKER),
                     ident(analysis, paramcd, c, "rmst_difference", sum(pn), sum(pe), tau=tau,
                           clustering=PEER_WORKER)],
                    f"the RMST of {paramcd} clustered by peer worker"),
        ]
    results.append(attempt(
        lambda: cumulative_incidence(adtte, "READMIT", horizon=horizon, adsl=adsl, arms=arms),
        by_arm_rows("competing_risks", "READMIT", "cumulative_incidence", arms, ns, es,
                    horizon=horizon)
        + [ident("competing_risks", "READMIT", c, "cif_difference", sum(ns), sum(es),
                 horizon=horizon)],
        "the cumulative incidence"))
    results.append(attempt(
        lambda: cumulative_incidence(adtte, "READMIT", horizon=horizon, adsl=adsl, arms=arms,
                                     cluster=CLUSTER),
        [ident("competing_risks", "READMIT", arms.treated, "cumulative_incidence", ns[0],
               es[0], horizon=horizon, clustering=PEER_WORKER),
         ident("competing_risks", "READMIT", c, "cif_difference", sum(ns), sum(es),
               horizon=horizon, clustering=PEER_WORKER)],
        "the cumulative incidence clustered by peer worker"))
    for cl in (NONE, PEER_WORKER):
        results.append(attempt(
            lambda cl=cl: cause_specific_cox(adtte, "READMIT", adsl=adsl, covariates=cox_cov,
                                             strata=strata, arms=arms,
                                             cluster=CLUSTER if cl == PEER_WORKER else None),
            [ident("competing_risks", o, c, "hazard_ratio", sum(ns), clustering=cl)
             for o in ("READMIT (cause-specific)", "death before READMIT (cause-specific)")],
            f"the cause-specific Cox models ({cl})"))
    pp = adre.drop_duplicates("USUBJID")
    n_re, e_re = len(pp), int(pp["NREADM"].sum())

    for cl in (NONE, PEER_WORKER):
        cluster = CLUSTER if cl == PEER_WORKER else None
        results.append(attempt(
            lambda cluster=cluster: rate_ratio(
                adre, adsl, covariates=tuple(s["primary_covariates"]), arms=arms,
                cluster=cluster),
            [ident("recurrent_readmission", "NREADM", c, "rate_ratio", n_re, e_re,
                   nb_alpha=np.nan, clustering=cl)],
            f"the negative binomial model ({cl})"))
    for cl in (NONE, PEER_WORKER):
        cluster = CLUSTER if cl == PEER_WORKER else None
        results.append(attempt(
            lambda cluster=cluster: andersen_gill(adre, adsl, covariates=cox_cov,
                                                  strata=strata, arms=arms, cluster=cluster),
            [ident("recurrent_readmission", "readmissions (Andersen-Gill)", c, "hazard_ratio",
                   n_re, e_re, clustering=cl)],
            f"the Andersen-Gill model ({cl})"))
    results.append(hospital_days(adre, adsl, arms=arms, n_boot=int(s["hospital_days_n_boot"]), rng=rng,
                                 cluster=CLUSTER))
    return SurvivalAnalyses(with_estimands(results_table(results), SURVIVAL, plan.estimands),
                            curves, plan.clustering)


def write_survival(res: SurvivalAnalyses, tables_dir: str | Path, figures_dir: str | Path) -> list[Path]:
    """Write ``survival.tsv``, the KMunicate figures and the forest plot; returns the paths."""
    tables_dir, figures_dir = Path(tables_dir), Path(figures_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    paths = [tables_dir / "survival.tsv"]
    write_tsv(res.table, paths[0])
    labels = {"READMIT": "Not readmitted", "READMDET": "No detained readmission"}
    for paramcd, km in res.curves.items():
        paths.append(kmunicate(km, figures_dir / f"km_{paramcd.lower()}.svg", ylabel=labels[paramcd]))
    paths.append(forest(main_analysis_rows(res.table, res.clustering),
                        figures_dir / "forest_survival.svg",
                        title="Readmission and community tenure"))
    return paths
