"""The readmission and community-tenure sections: one block per analysis of survival.tsv."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from outcomes.labels import arm_label, variable_words, words
from outcomes.survival.run import SENSITIVITY
from outcomes.survival.tables import KEY

from . import fmt
from .competing import add_competing_figure
from .design import designs, twins
from .estimates import (
    ANALYSIS_TITLES,
    TYPE_LABELS,
    Estimate,
    estimate,
)
from .inputs import ReportInputs
from .recurrent import add_mcf_figure

# ----------------------------------------------------------------------------- estimates


@dataclass
class ArmTable:
    """Per-arm quantities: one line per (outcome, estimate type), a cell per arm."""

    heads: list[str]
    rows: list[dict[str, Any]]


@dataclass
class Block:
    key: str
    title: str
    by_arm: ArmTable | None
    effects: list[Estimate]
    checks: list[Estimate]
    figure: str | None = None
    figure_caption: str = ""
    notes: list[str] = field(default_factory=list)
    summary: ArmTable | None = None  # descriptive rows by arm (days in hospital), text cells


def check_label(contrast: str) -> str:
    """A model check's row label in words ("PH test (km transform): DETINDFL" ->
    "Proportional hazards test (Kaplan–Meier time transform): detention during ...")."""
    text = contrast.replace("PH test (km transform)",
                            "Proportional hazards test (Kaplan–Meier time transform)")
    return words(text.replace("PH test", "Proportional hazards test"))


def analysis_block(inp: ReportInputs, analysis: str, title: str) -> Block:
    """The rows of one analysis: those of the design shown first (report.design), each with
    its twin of the other design beside it (``Estimate.other``). The ICC row is in the
    design's own table (report.design.icc_rows)."""
    t = inp.survival
    r = t.raw
    arms = inp.plan.arms
    sub = r.loc[(r["analysis"] == analysis) & (r["estimate_type"] != "icc")]
    first, twin = twins(sub, designs(inp).shown, KEY)
    by_arm_rows = []
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    effects, checks = [], []
    multi_outcome = sub["outcome"].nunique() > 1

    def shown(i: int, label: str) -> Estimate:
        e = estimate(t, "survival", i, label)
        if i in twin:
            e.other = estimate(t, "survival", twin[i], label)
        return e

    for i in first:
        contrast, et, outcome = r.at[i, "contrast"], r.at[i, "estimate_type"], r.at[i, "outcome"]
        label = TYPE_LABELS.get(et, et.replace("_", " "))
        if multi_outcome:
            label = f"{words(outcome).capitalize()}: {label[0].lower()}{label[1:]}"
        if contrast in arms:
            key = (outcome, et)
            if key not in seen:
                seen[key] = {"label": label, "cells": {a: None for a in arms}}
                by_arm_rows.append(seen[key])
            seen[key]["cells"][contrast] = shown(i, label)
        elif " vs " in contrast:
            effects.append(shown(i, label))
        else:
            checks.append(shown(i, check_label(contrast)))
    for row in by_arm_rows:
        row["cells"] = [row["cells"][a] for a in arms]
    by_arm = ArmTable([arm_label(a) for a in arms], by_arm_rows) if by_arm_rows else None
    return Block(analysis, title, by_arm, effects, checks)


def days_summary(inp: ReportInputs) -> ArmTable | None:
    """Days in hospital by arm as a trial paper reports them: mean (SD) and the number (%)
    with any day in hospital, of the randomised participants (ADRE's per-participant
    BEDDAYS); None without ADRE."""
    adre = inp.adre
    if adre is None or "BEDDAYS" not in adre.columns:
        return None
    itt = inp.adsl.loc[inp.adsl["ITTFL"] == "Y", ["USUBJID", "ARM"]]
    days = adre.drop_duplicates("USUBJID").set_index("USUBJID")["BEDDAYS"]
    arms = inp.plan.arms
    mean_sd, any_day = [], []
    for a in arms:
        d = pd.to_numeric(days.reindex(itt.loc[itt["ARM"] == a, "USUBJID"]),
                          errors="coerce").dropna().to_numpy(float)
        n = len(d)
        sd = d.std(ddof=1) if n > 1 else float("nan")
        mean_sd.append(f"{fmt.number(d.mean() if n else None, 1)} ({fmt.number(sd, 1)})")
        k = int((d > 0).sum())
        any_day.append(f"{k} ({fmt.number(100 * k / n if n else None, 1)}%)")
    return ArmTable([arm_label(a) for a in arms],
                    [{"label": "Days in hospital, mean (SD)", "cells": mean_sd},
                     {"label": "Any day in hospital, n (%)", "cells": any_day}])


def add_days_summary(blocks: list[Block], inp: ReportInputs) -> None:
    """Mean (SD) and any day in hospital on the ``days_in_hospital`` block, above its
    estimates by arm (whose medians are mostly 0: most participants spend no day in
    hospital; they are still shown, as every estimate of the tables)."""
    for b in blocks:
        if b.key != "days_in_hospital":
            continue
        b.summary = days_summary(inp)
        if b.summary is not None and b.by_arm is not None:
            b.notes.append("Most participants spend no day in hospital, so the medians are "
                           "mostly 0; the mean (SD) and the share with any day in hospital "
                           "(the first table) summarise the distribution.")


def survival_blocks(inp: ReportInputs) -> dict[str, list[Block]]:
    """Blocks by report section; analyses not known here go to ``other``."""
    plan = inp.plan
    s = plan.survival
    known = {
        "primary": ["primary"],
        "tenure": ["community_tenure", "detained_readmission"],
        "competing": ["competing_risks", "recurrent_readmission", "days_in_hospital"],
    }
    # the sensitivity analyses of the primary outcome have their own table
    # (report.sensitivity)
    present = [a for a in pd.unique(inp.survival.raw["analysis"]) if a != SENSITIVITY]
    out: dict[str, list[Block]] = {k: [] for k in (*known, "other")}
    for section, names in known.items():
        for a in names:
            if a in present:
                out[section].append(analysis_block(inp, a, ANALYSIS_TITLES[a]))
    for a in present:
        if not any(a in v for v in known.values()):
            out["other"].append(analysis_block(inp, a, a.replace("_", " ").capitalize()))
    figs = {"community_tenure": ("km_readmit", "Kaplan–Meier estimate of the proportion not "
                                 "readmitted (community tenure), KMunicate layout: 95% "
                                 "confidence bands, censoring marks, and under the axis the "
                                 "number at risk, cumulative events and cumulative censored; the Cox hazard ratio "
                                 "(95% CI) above the plot."),
            "detained_readmission": ("km_readmdet", "Kaplan–Meier estimate of the proportion "
                                     "without a detained readmission, KMunicate layout; the Cox hazard "
                                     "ratio (95% CI) above the plot.")}
    from .svg import inline_svg

    tau = s.get("rmst_tau_days") or plan.followup_days
    for b in out["tenure"]:
        name, caption = figs[b.key]
        if name in inp.figures:
            b.figure = inline_svg(inp.figures[name], name, label=caption)
            b.figure_caption = caption
        else:
            b.notes.append(f"Figure figures/{name}.svg not found.")
        b.notes.append(
            f"Cox model stratified by {variable_words(s['strata'])} and adjusted for "
            f"{variable_words(s['cox_covariates'])} (Efron ties); log-rank stratified by "
            f"{variable_words(s['strata'])}; RMST to {tau} days (Kaplan–Meier based). A median "
            "'not reached' means fewer than half had the event.")
    add_competing_figure(out["competing"], inp)
    add_mcf_figure(out["competing"], inp)
    add_days_summary(out["competing"], inp)
    for b in out["primary"]:
        b.notes.append(
            f"Logistic regression adjusted for {variable_words(s['primary_covariates'])}; risks by "
            "standardisation over all randomised participants; strategy for intercurrent "
            f"events: {s['primary_strategy'].replace('_', ' ')}.")
    return out
