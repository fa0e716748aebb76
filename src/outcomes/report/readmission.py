"""The readmission and community-tenure sections: one block per analysis of survival.tsv."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from outcomes.labels import arm_label, lower_first, upper_first, variable_words, words
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
    #: by-arm rows shown in a sentence instead of the table, with why (days in hospital:
    #: medians that are 0 because at least half of each arm spent no day in hospital)
    in_words: dict[str, Any] | None = None


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
            label = f"{upper_first(words(outcome))}: {lower_first(label)}"
        if contrast in arms:
            key = (outcome, et)
            if key not in seen:
                seen[key] = {"label": label, "cells": {a: None for a in arms},
                             "estimate_type": et}
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


def _days_by_arm(inp: ReportInputs) -> list[Any] | None:
    """Each arm's days in hospital (ADRE's per-participant BEDDAYS of the randomised
    participants), in the plan's order of arms; None without ADRE."""
    adre = inp.adre
    if adre is None or "BEDDAYS" not in adre.columns:
        return None
    itt = inp.adsl.loc[inp.adsl["ITTFL"] == "Y", ["USUBJID", "ARM"]]
    days = adre.drop_duplicates("USUBJID").set_index("USUBJID")["BEDDAYS"]
    return [pd.to_numeric(days.reindex(itt.loc[itt["ARM"] == a, "USUBJID"]),
                          errors="coerce").dropna().to_numpy(float) for a in inp.plan.arms]


def days_summary(inp: ReportInputs) -> ArmTable | None:
    """Days in hospital by arm as a trial paper reports them: mean (SD), the number (%)
    with any day in hospital, and the median (IQR) among those with any day (where a
    median says something: the median of all is 0 when at least half spent no day), of
    the randomised participants; None without ADRE."""
    by_arm = _days_by_arm(inp)
    if by_arm is None:
        return None
    mean_sd, any_day, median_iqr = [], [], []
    for d in by_arm:
        n = len(d)
        sd = d.std(ddof=1) if n > 1 else float("nan")
        mean_sd.append(f"{fmt.number(d.mean() if n else None, 1)} ({fmt.number(sd, 1)})")
        pos = d[d > 0]
        any_day.append(f"{len(pos)} ({fmt.number(100 * len(pos) / n if n else None, 1)}%)")
        if len(pos):
            q1, med, q3 = np.percentile(pos, [25, 50, 75])
            median_iqr.append(f"{fmt.number(med, 1)} ({fmt.number(q1, 1)} to "
                              f"{fmt.number(q3, 1)})")
        else:
            median_iqr.append("\u2014")
    return ArmTable([arm_label(a) for a in inp.plan.arms],
                    [{"label": "Days in hospital, mean (SD)", "cells": mean_sd},
                     {"label": "Any day in hospital, n (%)", "cells": any_day},
                     {"label": "Days in hospital of those with any day, median (IQR)",
                      "cells": median_iqr}])


def zero_medians(b: Block) -> dict[str, Any] | None:
    """The by-arm row of medians of ``b`` when the median is 0 in every arm (at least half
    of each arm spent no day in hospital, so it says nothing of the distribution), else
    None."""
    if b.by_arm is None:
        return None
    for row in b.by_arm.rows:
        if row.get("estimate_type") != "median":
            continue
        cells = row["cells"]
        if cells and all(c is not None and not fmt.is_missing(c.est.raw)
                         and float(c.est.raw) == 0.0 for c in cells):
            return row
    return None


def add_days_summary(blocks: list[Block], inp: ReportInputs) -> None:
    """Mean (SD), any day in hospital and the median (IQR) of those with any day on the
    ``days_in_hospital`` block, above its estimates by arm. A row of medians that are 0 in
    every arm leaves the by-arm table for a sentence under it that gives them, each with
    its bootstrap CI, and says why they are 0 (``Block.in_words``): every estimate of the
    tables is still in the report, in a form that does not read as a finding."""
    for b in blocks:
        if b.key != "days_in_hospital":
            continue
        b.summary = days_summary(inp)
        row = zero_medians(b)
        if row is None or b.by_arm is None:
            continue
        b.by_arm.rows.remove(row)
        b.in_words = {
            "text": ("At least half of the participants of each arm spent no day in "
                     "hospital, so the median days in hospital is 0 in each arm; the "
                     "median (IQR) of those with any day is in the first table. The "
                     "medians of all participants with their bootstrap 95% CIs:"),
            "cells": list(zip(b.by_arm.heads, row["cells"], strict=True))}


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
