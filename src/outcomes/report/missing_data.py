"""The missing-data section: the pattern of missing questionnaires by arm and visit, how
they are handled (multiple imputation or complete cases) and the estimand for death, the
pooled ANCOVA beside the complete-case one for every score and visit, and, when the
results hold one, the tipping-point analysis.

The pattern is counted from ADSL and ADQS with the rule of the imputation model
(:func:`outcomes.imputation.frame.not_due`): a visit whose nominal day falls after death or
after the data cut is not due and never imputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from outcomes.imputation.ancova import ANALYSIS as MI_ANALYSIS
from outcomes.imputation.frame import ADSL_PREDICTORS, VISIT_DAYS, not_due
from outcomes.imputation.mice import STREAM
from outcomes.labels import arm_label, param_label, variable_word

from . import fmt
from .design import designs, row_design
from .estimates import VISITS, Estimate, estimate
from .inputs import ReportInputs, Table
from .questionnaires import (
    CC_ANALYSIS,
    analysis_label,
    is_effect,
    main_analysis,
    registry_info,
    score_order,
)

#: The pattern's categories, in the order a participant is put in the first that applies.
PATTERN = (
    ("returned", "Returned"),
    ("died", "Not due: died"),
    ("data cut", "Not due: data cut"),
    ("withdrew", "Missing: withdrew"),
    ("missing", "Missing: in follow-up"),
)
#: ADSL predictors of every imputation model, in words.
def pattern(inp: ReportInputs) -> list[dict[str, Any]]:
    """One row per follow-up visit and arm: the randomised participants in each category
    of :data:`PATTERN` (count and percent)."""
    adsl = inp.adsl.loc[inp.adsl["ITTFL"] == "Y"].reset_index(drop=True)
    adqs = inp.adqs
    rows = []
    for visit in (v for v in inp.plan.visits if v in VISIT_DAYS and v != "baseline"):
        returned = adsl["USUBJID"].isin(adqs.loc[adqs["AVISIT"] == visit, "USUBJID"]).to_numpy()
        why = not_due(adsl, visit)
        nominal = adsl["INDEXDT"] + pd.Timedelta(days=VISIT_DAYS[visit])
        withdrew = (adsl["WDDT"].notna() & (adsl["WDDT"] < nominal)).to_numpy()
        cat = pd.Series("missing", index=adsl.index)
        cat[withdrew] = "withdrew"
        cat[why == "data cut"] = "data cut"
        cat[why == "died"] = "died"
        cat[returned] = "returned"
        for arm in inp.plan.arms:
            a = (adsl["ARM"] == arm).to_numpy()
            n = int(a.sum())
            counts = [int((cat[a] == key).sum()) for key, _ in PATTERN]
            rows.append({"visit": VISITS.get(visit, visit), "arm": arm_label(arm), "n": n,
                         "cells": [f"{k} ({100 * k / n:.1f}%)" if n else "0" for k in counts]})
    return rows


def methods(inp: ReportInputs) -> list[tuple[str, str]]:
    """How missing questionnaires are handled, as (name, text) pairs."""
    md, plan = inp.plan.missing_data, inp.plan
    cc = ("The ANCOVA of the participants with both the baseline and the follow-up value "
          "(section 6), the excluded counted")
    if md.method != "mi":
        return [("Complete cases", cc + ": the plan's analysis (missing_data.method "
                                        "complete_case); no score is imputed.")]
    how = (f"predictive mean matching ({md.donors} donors, type-1 matching)"
           if md.imputation == "pmm" else
           "Bayesian normal linear regression with draws of the coefficients and variance")
    preds = ", ".join(variable_word(c) for c in ADSL_PREDICTORS)
    aux = f"; auxiliary variables {', '.join(md.auxiliaries)}" if md.auxiliaries else ""
    return [
        ("Multiple imputation",
         f"Chained equations as R mice: m = {md.m} imputed data sets of {md.iterations} "
         f"sweeps each, {how}, "
         + ("a separate imputation model in each arm." if md.by_arm
            else "one imputation model with arm as a predictor.")),
        ("Imputation model",
         "Every score of every instrument at baseline and at each follow-up visit jointly "
         f"(the process measures with the outcomes), {preds}, and readmission before each "
         f"follow-up visit{aux}; scores computed from other scores (totals of subscales, "
         "means, conversion tables) are computed from the imputed ones. "
         + _predictor_words(md.predictors)),
        ("Pooling",
         "The ANCOVA of section 6 on each completed data set, combined by Rubin's rules "
         "with the Barnard–Rubin small-sample degrees of freedom; fmi is the fraction of "
         "missing information of each estimate."),
        ("Random numbers",
         f"Imputation i draws from child i of the '{STREAM}' stream of the plan seed "
         f"{plan.seed}, so it is the same whatever m."),
        ("Complete cases", cc + ": a sensitivity analysis."),
    ]


def _predictor_words(sel) -> str:
    """The plan's ``missing_data.predictors`` in words."""
    if sel.select != "quickpred":
        return "Each score is predicted by every other variable of the model."
    always = ", ".join(variable_word(c) for c in sel.include)
    return ("Each score is predicted by the variables whose absolute correlation with it, or "
            f"with its being missing, exceeds {sel.mincor:g} (R mice's quickpred"
            + (f", usable cases at least {sel.minpuc:g}" if sel.minpuc > 0 else "")
            + "), by the same questionnaire at its other visits"
            + (f" and by {always}" if always else "") + "; imputation_summary.tsv gives "
            "the number of predictors of each score.")


def estimand(inp: ReportInputs) -> list[tuple[str, str]]:
    """How missing questionnaires and death are handled in the questionnaire estimands."""
    mi = inp.plan.missing_data.method == "mi"
    missing = (
        "Scores missing for participants alive and in follow-up at the visit (withdrawal "
        "included) are taken as missing at random given arm and the imputation model's "
        "variables, and multiply imputed: the main analysis. Complete cases, valid when "
        "missingness depends only on arm, baseline score and the stratifiers, are the "
        "sensitivity analysis." if mi else
        "Scores are not imputed: the complete-case analysis assumes that missingness depends "
        "only on arm, baseline score and the stratifiers.")
    death = ("While alive: the effect on each score among participants alive at the visit. "
             "No score is imputed for a visit whose nominal day falls after the participant's "
             "death, and none for a visit after the data cut (not yet due); those "
             "participants are left out of that visit's analysis.")
    return [("Missing questionnaires", missing), ("Death", death)]


@dataclass
class Comparison:
    """One score at one visit: the pooled ANCOVA and the complete-case ANCOVA."""

    score: str
    visit: str
    mi: Estimate | None
    fmi: fmt.Num | None
    cc: Estimate | None


def _of_design(r: pd.DataFrame, design: str) -> pd.Series:
    """The rows of ``design`` (``clustering``; every row of a table from before the column
    is ``none``)."""
    return row_design(r) == design


def _row_of(t: Table, analysis: str, pc: str, visit: str, design: str) -> int | None:
    r = t.raw
    idx = r.index[(r["analysis"] == analysis) & (r["paramcd"] == pc) & (r["avisit"] == visit)
                  & _of_design(r, design) & is_effect(r)]
    return int(idx[0]) if len(idx) else None


def comparisons(inp: ReportInputs) -> list[Comparison]:
    """Every score and visit of the questionnaire table with MI rows, in section 6's order:
    the rows of the design shown first, each with its other design's twin beside it."""
    q = inp.questionnaires
    r = q.raw
    if r.empty or "paramcd" not in r.columns or MI_ANALYSIS not in set(r["analysis"]):
        return []
    d = designs(inp)
    out = []
    info = registry_info()
    keys = r.loc[(r["analysis"] == MI_ANALYSIS) & _of_design(r, d.shown) & is_effect(r),
                 ["paramcd", "avisit"]].itertuples(index=False)

    def shown(analysis: str, pc: str, visit: str, label: str) -> Estimate | None:
        i = _row_of(q, analysis, pc, visit, d.shown)
        if i is None:
            return None
        e = estimate(q, "questionnaires", i, label)
        k = _row_of(q, analysis, pc, visit, d.other)
        if k is not None:
            e.other = estimate(q, "questionnaires", k, label)
        return e

    for pc, visit in sorted(keys, key=lambda k: score_order(k[0], k[1], info)):
        i = _row_of(q, MI_ANALYSIS, pc, visit, d.shown)
        fmi = (fmt.cell(r.at[i, "fmi"], estimate_type="fraction", src="questionnaires", row=i,
                        col="fmi") if "fmi" in r.columns else None)
        label = param_label(pc)
        out.append(Comparison(
            label, VISITS.get(visit, visit), shown(MI_ANALYSIS, pc, visit, "multiple imputation"),
            fmi, shown(CC_ANALYSIS, pc, visit, "complete cases")))
    return out


def _truthy(x: Any) -> bool:
    return str(x).strip().lower() in ("1", "true", "yes", "y", "tipping")


@dataclass
class Tipping:
    """The tipping-point analysis of one score and visit."""

    outcome: str
    figure: str | None
    points: list[dict[str, Any]]
    grid: str


def tipping(inp: ReportInputs) -> list[Tipping]:
    """From ``tables/tipping_point.tsv`` (when present): per score and visit, the figure and
    the shifts δ at which the conclusion changes (the rows marked ``tipping``)."""
    t = inp.tipping_point
    if t is None or t.raw.empty:
        return []
    from .svg import inline_svg

    r, n = t.raw, t.num
    out = []
    for k, ((pc, visit), g) in enumerate(r.groupby(["paramcd", "avisit"], sort=False)):
        name = f"tipping_point_{pc}_{visit}"
        label = f"{pc} at {VISITS.get(visit, visit).lower()}"
        fig = inp.figures.get(name)
        points = []
        for i in g.index:
            if "tipping" in r.columns and _truthy(r.at[i, "tipping"]):
                points.append({
                    "delta_treated": fmt.number(n.at[i, "delta_treated"], 2),
                    "delta_control": fmt.number(n.at[i, "delta_control"], 2),
                    "est": estimate(t, "tipping_point", int(i), label,
                                    estimate_type="adjusted_mean_difference")})
        dt, dc = n.loc[g.index, "delta_treated"], n.loc[g.index, "delta_control"]
        grid = (f"δ treated from {fmt.number(dt.min(), 2)} to {fmt.number(dt.max(), 2)}, "
                f"δ control from {fmt.number(dc.min(), 2)} to {fmt.number(dc.max(), 2)}")
        out.append(Tipping(label, inline_svg(fig, f"tip{k}", label=f"Tipping point, {label}")
                           if fig else None, points, grid))
    return out


@dataclass
class MissingData:
    method: str
    main: str
    other: str | None
    pattern: list[dict[str, Any]]
    heads: list[str]
    nominal: str  # the nominal day of each follow-up visit
    methods: list[tuple[str, str]]
    estimand: list[tuple[str, str]]
    comparisons: list[Comparison]
    tipping: list[Tipping] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def missing_data_section(inp: ReportInputs) -> MissingData:
    main, other = main_analysis(inp)
    notices = []
    if inp.plan.missing_data.method == "mi" and main != MI_ANALYSIS:
        notices.append("The plan's main analysis is multiple imputation, but "
                       "tables/questionnaires.tsv has no rows pooled over imputations "
                       f"(analysis {MI_ANALYSIS}): the complete-case analysis is shown.")
    return MissingData(
        method=inp.plan.missing_data.method, main=analysis_label(main),
        other=analysis_label(other) if other else None, pattern=pattern(inp),
        heads=[name for _, name in PATTERN],
        nominal=", ".join(f"{VISITS.get(v, v).lower()}: day {VISIT_DAYS[v]}"
                          for v in inp.plan.visits if v in VISIT_DAYS and v != "baseline"),
        methods=methods(inp), estimand=estimand(inp),
        comparisons=comparisons(inp), tipping=tipping(inp), notices=notices)

