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
from typing import Any

import numpy as np
import pandas as pd
from lifelines.exceptions import ConvergenceError

from outcomes.clustering import NONE, PEER_WORKER, cluster_ids
from outcomes.errors import NotEstimable
from outcomes.estimands.rows import SURVIVAL, with_estimands
from outcomes.labels import arm_label, arm_labels
from outcomes.plan import AnalysisPlan

from ._common import Arms, NotEstimableResult, ident, merge_adsl
from .binary import readmission_within
from .competing import (
    GrayTestResult,
    IncidenceCurves,
    cause_specific_cox,
    cumulative_incidence,
    gray_test_by_arm,
    incidence_curves,
    subdistribution_hazards,
)
from .cox import tenure_cox
from .km import KaplanMeierResult, kaplan_meier, logrank, rmst_difference
from .landmarks import landmark_outcome, landmark_times, survival_at_landmarks
from .plots import cumulative_incidence_plot, effect_text, forest, kmunicate
from .recurrent import andersen_gill, hospital_days, rate_ratio
from .tables import main_analysis_rows, results_table, write_tsv

TENURE_PARAMS = {"READMIT": "community_tenure", "READMDET": "detained_readmission"}
#: The ``analysis`` of the primary outcome's sensitivity analyses (one per strategy of
#: the plan's ``survival.sensitivity_strategies`` other than the primary one).
SENSITIVITY = "primary_sensitivity"

log = logging.getLogger(__name__)

#: The ADSL column of each participant's cluster (:func:`outcomes.clustering.cluster_ids`).
CLUSTER = "CLUSTER"

#: Exceptions of a numerical fit turned into not-estimable rows by the backstop.
NUMERICAL_FAILURES = (np.linalg.LinAlgError, ArithmeticError, RuntimeError, ConvergenceError)


def attempt(fit: Callable[..., object], rows: list[dict], name: str):
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


def landmark_rows(analysis: str, paramcd: str, arms: Arms, times, ns, clustering: str
                  ) -> list[dict]:
    """The rows of :func:`survival_at_landmarks` (for when it is not estimable as a whole):
    per landmark each arm's ``survival`` (the treated arm's only when clustered) and the
    ``survival_difference``."""
    out = []
    for t in times:
        o, ex = landmark_outcome(paramcd, t), dict(horizon=t, clustering=clustering)
        arm_ns = list(zip((arms.treated, arms.control), ns, strict=True))
        for a, n in arm_ns[:1] if clustering == PEER_WORKER else arm_ns:
            out.append(ident(analysis, o, a, "survival", n, **ex))
        out.append(ident(analysis, o, arms.contrast, "survival_difference", sum(ns), **ex))
    return out


def primary_outcome(adtte: pd.DataFrame, adsl: pd.DataFrame, plan: AnalysisPlan, arms: Arms,
                    analysis: str, strategy: str, outcome: str, ns: tuple[int, int]) -> list:
    """The primary outcome under one intercurrent-event ``strategy``: the naive result,
    then the one clustered by peer worker (ADSL ``CLUSTER``), each a
    :class:`~outcomes.survival.binary.BinaryResult` or its not-estimable rows."""
    s = plan.survival
    horizon = float(plan.followup_days)
    c = arms.contrast
    km = strategy == "hypothetical_km"  # no conditional OR, no ICC, one clustered risk
    out = []
    for cl in (NONE, PEER_WORKER):
        ex: dict[str, Any] = dict(clustering=cl, strategy=strategy, horizon=horizon)
        nested = cl == PEER_WORKER
        out.append(attempt(
            lambda nested=nested: readmission_within(
                adtte, adsl, horizon=horizon, covariates=tuple(s["primary_covariates"]),
                strategy=strategy, arms=arms, analysis=analysis, outcome=outcome,
                cluster=CLUSTER if nested else None),
            by_arm_rows(analysis, outcome, "risk", arms, ns, (np.nan, np.nan), **ex)
            [:1 if km and nested else 2]
            + [ident(analysis, outcome, c, t, sum(ns), **ex)
               for t in ("risk_difference", "odds_ratio",
                         *(() if km else ("conditional_odds_ratio",)))]
            + ([ident(analysis, outcome, arms.treated, "icc", **ex)]
               if nested and not km else []),
            f"the {analysis.replace('_', ' ')} analysis ({strategy}, {cl})"))
    return out


def primary_label(plan: AnalysisPlan) -> str:
    """The ``outcome`` of the primary analysis's rows: READMIT within the follow-up."""
    return f"READMIT within {int(float(plan.followup_days))} days"


def primary_analysis(adsl: pd.DataFrame, adtte: pd.DataFrame, plan: AnalysisPlan) -> pd.DataFrame:
    """The primary analysis alone: the rows of :func:`run_survival`'s table whose analysis
    is ``primary`` (the plan's primary strategy, naive and clustered), the same values,
    without the other survival analyses (a simulation study of the primary outcome)."""
    arms = Arms(plan.treated_arm, plan.control_arm)
    ns, _ = arm_counts(adtte, "READMIT", adsl, arms)
    adsl = adsl.assign(CLUSTER=cluster_ids(adsl, plan.treated_arm))
    rows = primary_outcome(adtte, adsl, plan, arms, "primary", plan.primary_strategy,
                           primary_label(plan), ns)
    return with_estimands(results_table(rows), SURVIVAL, plan.estimands)


@dataclass(frozen=True)
class SurvivalAnalyses:
    """All survival results of one run: the table and the curves the figures need."""

    table: pd.DataFrame
    curves: dict[str, KaplanMeierResult] = field(repr=False)
    clustering: str = NONE  # the plan's main analysis (docs/clustering.md)
    incidence: IncidenceCurves | None = field(default=None, repr=False)

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
    landmarks = landmark_times(s["landmarks_days"], horizon)
    strata = tuple(s["strata"])
    cox_cov = tuple(s["cox_covariates"])
    c = arms.contrast
    ns, es = arm_counts(adtte, "READMIT", adsl, arms)
    primary = primary_label(plan)
    adsl = adsl.assign(CLUSTER=cluster_ids(adsl, plan.treated_arm))
    results: list = primary_outcome(adtte, adsl, plan, arms, "primary", plan.primary_strategy,
                                    primary, ns)
    for strategy in plan.sensitivity_strategies:
        results += primary_outcome(adtte, adsl, plan, arms, SENSITIVITY, strategy,
                                   f"{primary} ({strategy})", ns)
    curves = {}
    for paramcd, analysis in TENURE_PARAMS.items():
        if not (adtte["PARAMCD"] == paramcd).any():
            continue
        pn, pe = arm_counts(adtte, paramcd, adsl, arms)
        km = kaplan_meier(adtte, paramcd, adsl=adsl, arms=arms, analysis=analysis)
        curves[paramcd] = km
        results += [
            km,
            *(attempt(lambda p=paramcd, a=analysis, cl=cl: survival_at_landmarks(
                          adtte, p, times=landmarks, adsl=adsl, arms=arms, analysis=a,
                          cluster=CLUSTER if cl == PEER_WORKER else None),
                      landmark_rows(analysis, paramcd, arms, landmarks, pn, cl),
                      f"the survival of {paramcd} at the landmarks ({cl})")
              for cl in (NONE, PEER_WORKER)),
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
    for cl in (NONE, PEER_WORKER):
        results.append(attempt(
            lambda cl=cl: subdistribution_hazards(
                adtte, "READMIT", adsl=adsl, covariates=cox_cov, strata=strata, arms=arms,
                cluster=CLUSTER if cl == PEER_WORKER else None),
            [ident("competing_risks", "READMIT (subdistribution)", c,
                   "subdistribution_hazard_ratio", sum(ns), sum(es), clustering=cl)],
            f"the Fine–Gray model ({cl})"))
    gray = attempt(lambda: gray_test_by_arm(adtte, "READMIT", adsl=adsl, strata=strata,
                                            arms=arms),
                   [ident("competing_risks", "READMIT", c, "gray_test_chisq", sum(ns),
                          sum(es))], "Gray's test")
    results.append(gray)
    incidence = incidence_curves(
        adtte, "READMIT", adsl=adsl, arms=arms, strata=strata,
        gray_p=gray.p_value if isinstance(gray, GrayTestResult) else None)
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
                            curves, plan.clustering, incidence)


def hazard_ratio_note(table: pd.DataFrame, analysis: str, outcome: str,
                      estimate_type: str = "hazard_ratio",
                      name: str = "Hazard ratio (Cox)") -> str | None:
    """A ratio of ``analysis`` with its CI and p-value as the report writes it, for a
    figure; None when the table has no such row."""
    row = table.loc[(table["analysis"] == analysis) & (table["outcome"] == outcome)
                    & (table["estimate_type"] == estimate_type)
                    & table["contrast"].astype(str).str.contains(" vs ", regex=False)]
    if row.empty:
        return None
    r = row.iloc[0]
    arms = str(r["contrast"]).split(" vs ")
    what = f"{name}, {arm_label(arms[0]).lower()} vs {arm_label(arms[1]).lower()}"
    if str(r.get("status", "")) == "not estimable":
        return f"{what}: not estimable"
    return f"{what}: {effect_text(estimate_type, r['estimate'], r['ci_low'], r['ci_high'], r.get('p_value'))}"


def write_survival(res: SurvivalAnalyses, tables_dir: str | Path, figures_dir: str | Path) -> list[Path]:
    """Write ``survival.tsv``, the KMunicate figures, the cumulative-incidence figure and the
    forest plot; returns the paths."""
    tables_dir, figures_dir = Path(tables_dir), Path(figures_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    paths = [tables_dir / "survival.tsv"]
    write_tsv(res.table, paths[0])
    ylabels = {"READMIT": "Not readmitted", "READMDET": "No detained readmission"}
    main = main_analysis_rows(res.table, res.clustering)
    for paramcd, km in res.curves.items():
        arms = arm_labels(c.arm for c in km.curves)
        paths.append(kmunicate(km, figures_dir / f"km_{paramcd.lower()}.svg",
                               ylabel=ylabels[paramcd], labels=arms,
                               note=hazard_ratio_note(main, TENURE_PARAMS[paramcd], paramcd)))
    if res.incidence is not None:
        arms = arm_labels((res.incidence.arms.treated, res.incidence.arms.control))
        note = hazard_ratio_note(main, "competing_risks", "READMIT (subdistribution)",
                                 "subdistribution_hazard_ratio",
                                 "Subdistribution hazard ratio (Fine\u2013Gray)")
        paths.append(cumulative_incidence_plot(res.incidence, figures_dir / "cif_readmit.svg",
                                               labels=arms, note=note))
    # the sensitivity analyses of the primary outcome have their own forest plot (report)
    paths.append(forest(main.loc[main["analysis"] != SENSITIVITY],
                        figures_dir / "forest_survival.svg",
                        title="Readmission and community tenure"))
    return paths
