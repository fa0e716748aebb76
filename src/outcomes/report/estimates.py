"""What every section of the report shares: labels of codes, analyses and estimate types,
and the estimates of a table as :class:`~outcomes.report.fmt.Num` values that remember
their table, row and column (numbers are shown as written, never recomputed)."""

from __future__ import annotations

from dataclasses import dataclass

from . import fmt
from .fmt import Num
from .inputs import Table

# ----------------------------------------------------------------------------- labels

CODE_LABELS = {
    "female": "Female", "male": "Male", "other": "Other", "not_stated": "Not stated",
    "psychosis": "Psychosis", "bipolar": "Bipolar disorder",
    "depression_anxiety": "Depression or anxiety", "personality": "Personality disorder",
}

VISITS = {"baseline": "Baseline", "month_4": "Month 4", "month_12": "Month 12"}

ANALYSIS_TITLES = {
    "primary": "Primary outcome: readmission within the follow-up",
    "primary_sensitivity": "Primary outcome, sensitivity analyses: other strategies for "
                           "death and withdrawal",
    "community_tenure": "Community tenure: time to first readmission",
    "detained_readmission": "Time to first detained readmission",
    "competing_risks": "Competing risk of death",
    "recurrent_readmission": "Recurrent readmissions",
    "days_in_hospital": "Days in hospital",
}

TYPE_LABELS = {
    "risk": "Risk of readmission",
    "risk_difference": "Risk difference (percentage points)",
    "odds_ratio": "Odds ratio (marginal, standardised)",
    "conditional_odds_ratio": "Odds ratio (conditional on the covariates)",
    "median_time": "Median time to event (days)",
    "survival": "Event-free (Kaplan–Meier survival)",
    "survival_difference": "Difference in event-free proportion (percentage points)",
    "logrank_hazard_ratio": "Hazard ratio (Peto one-step; stratified log-rank test)",
    "hazard_ratio": "Hazard ratio (Cox)",
    "ph_test_chisq": "Proportional hazards test (chi-squared)",
    "rmst": "Restricted mean time free of the event (days)",
    "rmst_difference": "RMST difference (days)",
    "cumulative_incidence": "Cumulative incidence (Aalen–Johansen)",
    "cif_difference": "Difference in cumulative incidence (percentage points)",
    "subdistribution_hazard_ratio": "Subdistribution hazard ratio (Fine–Gray)",
    "gray_test_chisq": "Gray's test of the cumulative incidence (chi-squared, 1 df)",
    "rate_ratio": "Rate ratio (negative binomial)",
    "mean": "Mean days in hospital",
    "median": "Median days in hospital",
    "mean_difference": "Difference in mean days in hospital (bootstrap CI)",
    "adjusted_mean_difference": "Adjusted mean difference",
}

EFFECT_LABELS = {
    "acme_control": "Indirect effect (ACME), control",
    "acme_treated": "Indirect effect (ACME), treated",
    "acme_average": "Indirect effect (ACME), average",
    "ade_control": "Direct effect (ADE), control",
    "ade_treated": "Direct effect (ADE), treated",
    "ade_average": "Direct effect (ADE), average",
    "total": "Total effect",
    "prop_mediated": "Proportion mediated",
    "interventional_indirect": "Interventional indirect effect (IIE)",
    "interventional_direct": "Interventional direct effect (IDE)",
    "interventional_overall": "Overall effect (IIE + IDE)",
}

#: The change model's mechanisms (docs/change-model.md) and the PARAMCDs of their process outcomes.
MECHANISMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "M1": ("Trusting relationship", ("WAISR",)),
    "M2": ("Role-modelling recovery", ("HHI", "GSE", "ISMI10")),
    "M3": ("Engagement", ("LSNS6", "UCLA3")),
}

#: Downstream questionnaire outcomes (docs/change-model.md), listed one by one in the flow table
DOWNSTREAM_SCORES = ("WEMWBS", "SWEMWBS", "QPR15")

#: Scores shown in Table 1 and the flow (the first score of each instrument, registry order)
PRIMARY_SCORE_ORDER = ("WEMWBS", "SWEMWBS", "QPR15", "WAISR", "HHI", "GSE", "ISMI10",
                       "LSNS6", "UCLA3")


def code_label(code: str) -> str:
    return CODE_LABELS.get(code, code)


# ----------------------------------------------------------------------------- numbers


def num(table: Table, src: str, i: int, col: str, estimate_type: str, *,
        analysis: str = "", missing: str = "\u2014", unit: bool = True) -> Num:
    raw = table.cell(i, col) if col in table.raw.columns else None
    return fmt.cell(raw, estimate_type=estimate_type, src=src, row=i, col=col,
                    analysis=analysis, missing=missing, unit=unit)


def count(table: Table, src: str, i: int, col: str) -> Num | None:
    if col not in table.raw.columns:
        return None
    raw = table.cell(i, col)
    text = "\u2014" if fmt.is_missing(raw) else f"{int(float(raw))}"
    return Num(text, raw, src, i, col, 1.0, 0)


def pval(table: Table, src: str, i: int) -> Num:
    raw = table.cell(i, "p_value") if "p_value" in table.raw.columns else None
    return Num(fmt.p_value(raw), raw, src, i, "p_value", 1.0, None)


@dataclass
class Estimate:
    """One row of an estimates table, ready to show."""

    label: str
    est: Num
    lo: Num
    hi: Num
    p: Num | None
    n: Num | None
    events: Num | None
    note: str = ""
    has_ci: bool = True
    reason: str = ""  # why the row is not estimable ("" when it is estimated)
    other: Estimate | None = None  # the same row of the other design (report.design)
    adjusted: Num | None = None  # its p-value adjusted for multiplicity (report.multiplicity)
    family: str = ""  # its family in the plan's hierarchy of hypotheses


def not_estimable_reason(table: Table, i: int) -> str | None:
    """The ``reason`` of row ``i`` when its ``status`` is "not estimable", else None."""
    if "status" not in table.raw.columns or table.cell(i, "status") != "not estimable":
        return None
    reason = table.cell(i, "reason") if "reason" in table.raw.columns else ""
    return reason or "not estimable"


def estimate(table: Table, src: str, i: int, label: str, *, estimate_type: str | None = None,
             analysis: str = "") -> Estimate:
    et = estimate_type or table.cell(i, "estimate_type")
    missing = "not reached" if et == "median_time" else "\u2014"
    e = Estimate(
        label=label,
        est=num(table, src, i, "estimate", et, analysis=analysis, missing=missing),
        lo=num(table, src, i, "ci_low", et, analysis=analysis, missing=missing, unit=False),
        hi=num(table, src, i, "ci_high", et, analysis=analysis, missing=missing, unit=False),
        p=pval(table, src, i),
        n=count(table, src, i, "n"),
        events=count(table, src, i, "events"),
    )
    e.has_ci = not (fmt.is_missing(table.cell(i, "ci_low"))
                    and fmt.is_missing(table.cell(i, "ci_high")))
    reason = not_estimable_reason(table, i)
    if reason is not None:
        e.est = Num("not estimable", e.est.raw, src, i, "estimate", e.est.scale, e.est.decimals)
        e.has_ci = False
        e.reason = reason
        return e
    if et == "median_time" and not e.has_ci and fmt.is_missing(table.cell(i, "estimate")):
        e.has_ci = True  # "not reached (not reached to not reached)" reads badly; keep CI
    return e
