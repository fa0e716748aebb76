"""The questionnaire outcomes section: the ANCOVA rows of questionnaires.tsv by score, the
main analysis (pooled over imputations when the plan says ``mi``) with the other beside it;
each row with the raw means and SDs, the adjusted mean of each arm and Hedges' g (the
forest plot of g: :mod:`outcomes.report.standardised`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from outcomes.imputation.ancova import ANALYSIS as MI_ANALYSIS
from outcomes.instruments import load_registry
from outcomes.labels import param_label
from outcomes.questionnaires import ADJUSTED_MEAN, DIFFERENCE, HEDGES_G
from outcomes.questionnaires import ANALYSIS as CC_ANALYSIS

from . import fmt
from .design import designs, twins
from .estimates import (
    PRIMARY_SCORE_ORDER,
    VISITS,
    Estimate,
    count,
    estimate,
)
from .fmt import Num
from .inputs import ReportInputs

#: What identifies a questionnaire row apart from its design (``clustering``).
ROW_KEY = ("analysis", "outcome", "contrast", "estimate_type", "paramcd", "avisit")


def main_analysis(inp: ReportInputs) -> tuple[str, str | None]:
    """(the analysis shown as the main questionnaire analysis, the one shown beside it):
    the ANCOVA pooled over imputations when the plan says ``mi`` and the table has it,
    else the complete-case ANCOVA, with the other analysis beside it when present."""
    present = set(inp.questionnaires.raw.get("analysis", pd.Series(dtype=str)))
    mi = inp.plan.missing_data.method == "mi" and MI_ANALYSIS in present
    main, other = (MI_ANALYSIS, CC_ANALYSIS) if mi else (CC_ANALYSIS, MI_ANALYSIS)
    return main, other if other in present else None


def analysis_label(analysis: str) -> str:
    return {MI_ANALYSIS: "multiple imputation", CC_ANALYSIS: "complete cases"}[analysis]


@dataclass
class QRow:
    score: str
    visit: str
    direction: str
    mean_t: Num | None
    mean_c: Num | None
    n_t: Num | None
    n_c: Num | None
    est: Estimate
    excluded: Num | None
    beside: Estimate | None = None  # the same score, visit and design by the other analysis
    sd_t: Num | None = None  # raw SDs
    sd_c: Num | None = None
    adj_t: Estimate | None = None  # adjusted means
    adj_c: Estimate | None = None
    g: Estimate | None = None  # Hedges' g
    b_adj_t: Estimate | None = None  # the same by the analysis beside
    b_adj_c: Estimate | None = None
    b_g: Estimate | None = None


def is_effect(raw: pd.DataFrame) -> pd.Series:
    """The rows of the adjusted mean difference (a table written before the adjusted means
    and Hedges' g were added has no others)."""
    if "estimate_type" not in raw.columns:
        return pd.Series(True, index=raw.index)
    return raw["estimate_type"].astype(str) == DIFFERENCE


def siblings(raw: pd.DataFrame) -> dict[tuple, int]:
    """(analysis, clustering, paramcd, avisit, estimate_type, contrast) -> row, to find the
    adjusted means and Hedges' g of an adjusted mean difference's row."""
    if "paramcd" not in raw.columns:
        return {}
    cols = ["analysis", "clustering", "paramcd", "avisit", "estimate_type", "contrast"]
    if "clustering" not in raw.columns:
        raw = raw.assign(clustering="none")
    return {tuple(map(str, k)): int(i) for i, k in zip(raw.index, raw[cols].to_numpy(),
                                                       strict=True)}


def registry_info() -> dict[str, tuple[int, str, bool]]:
    info = {}
    for k, (key, inst) in enumerate(load_registry().items()):
        for s in inst.scores:
            info[s.paramcd] = (k, key, s.higher_is_better)
    return info


def score_order(pc: str, visit: str, info: dict[str, tuple[int, str, bool]]) -> tuple:
    """Where a score and visit go in the report: downstream outcomes first, then the
    registry's order of instruments, then the visits in order."""
    k = info.get(pc, (999, "", True))[0]
    prim = PRIMARY_SCORE_ORDER.index(pc) if pc in PRIMARY_SCORE_ORDER else 100 + k
    return (prim, pc, list(VISITS).index(visit) if visit in VISITS else 9)


def questionnaire_rows(inp: ReportInputs) -> tuple[list[dict[str, Any]], list[Estimate]]:
    """ANCOVA rows grouped by score (downstream outcomes first), and any other rows."""
    q = inp.questionnaires
    r = q.raw
    if r.empty:
        return [], []
    info = registry_info()
    main, beside = main_analysis(inp)
    rows, other = [], []
    order = []
    first, twin = twins(r, designs(inp).shown, ROW_KEY)
    effect = is_effect(r)
    first = [i for i in first if effect[i]]  # the adjusted means and g go with their effect
    sib = siblings(r)
    arms = inp.plan.arms

    def shown(i: int, label: str) -> Estimate:
        e = estimate(q, "questionnaires", i, label)
        if i in twin:  # the same analysis of the other design
            e.other = estimate(q, "questionnaires", twin[i], label)
        return e

    at = {}
    if beside is not None and "paramcd" in r.columns:  # beside the main row of its design
        at = {(r.at[i, "paramcd"], r.at[i, "avisit"]): i
              for i in first if r.at[i, "analysis"] == beside}
    for i in first:
        if r.at[i, "analysis"] == beside and "paramcd" in r.columns:
            continue  # shown beside its main row
        if r.at[i, "analysis"] != main or "paramcd" not in r.columns:
            other.append(shown(i, f"{r.at[i, 'analysis']}: {r.at[i, 'outcome']}"))
            continue
        pc, visit = r.at[i, "paramcd"], r.at[i, "avisit"]
        k_beside = at.get((pc, visit))
        hib = info.get(pc, (999, "", True))[2]
        label = r.at[i, "param"] if "param" in r.columns else pc
        est = shown(i, label)

        def mean(col, i=i):
            return fmt.cell(r.at[i, col], estimate_type="score_mean", src="questionnaires",
                            row=int(i), col=col) if col in r.columns else None

        def sibling(estimate_type, contrast, i=i, label=label):
            if i is None:
                return None
            key = tuple(str(r.at[i, c]) if c in r.columns else "none" for c in
                        ("analysis", "clustering", "paramcd", "avisit")) + (estimate_type,
                                                                            contrast)
            k = sib.get(key)
            return None if k is None else shown(k, label)

        rows.append(QRow(
            score=str(label), visit=VISITS.get(visit, visit),
            direction="higher is better" if hib else "lower is better",
            mean_t=mean("mean_treated"), mean_c=mean("mean_control"),
            n_t=count(q, "questionnaires", int(i), "n_treated"),
            n_c=count(q, "questionnaires", int(i), "n_control"),
            est=est, excluded=count(q, "questionnaires", int(i), "n_excluded"),
            beside=None if k_beside is None else shown(k_beside, label),
            sd_t=mean("sd_treated"), sd_c=mean("sd_control"),
            adj_t=sibling(ADJUSTED_MEAN, arms[0]), adj_c=sibling(ADJUSTED_MEAN, arms[1]),
            g=sibling(HEDGES_G, str(r.at[i, "contrast"])),
            b_adj_t=sibling(ADJUSTED_MEAN, arms[0], k_beside),
            b_adj_c=sibling(ADJUSTED_MEAN, arms[1], k_beside),
            b_g=sibling(HEDGES_G, str(r.at[i, "contrast"]), k_beside)))
        order.append(score_order(pc, visit, info))
    rows = [x for _, x in sorted(zip(order, rows, strict=True), key=lambda z: z[0])]
    groups: list[dict[str, Any]] = []
    for row in rows:
        if not groups or groups[-1]["score"] != row.score:
            groups.append({"score": row.score, "direction": row.direction, "rows": []})
        groups[-1]["rows"].append(row)
    return groups, other


def outcome_means(inp: ReportInputs) -> list[dict[str, Any]]:
    """Observed scores by arm at each visit, as a trial paper reports them: one row per
    score (the first score of each instrument, report order) and visit with "mean (SD)"
    and n of each arm, from ADQS (randomised participants). Scores on a range of 10 points
    or less get two decimals, the others one."""
    adqs = inp.adqs
    if not {"PARAMCD", "AVAL", "AVISIT", "ARM"} <= set(adqs.columns):
        return []
    itt = set(inp.adsl.loc[inp.adsl["ITTFL"] == "Y", "USUBJID"])
    d = adqs.loc[adqs["USUBJID"].isin(itt) & adqs["AVAL"].notna(),
                 ["PARAMCD", "AVISIT", "ARM", "AVAL"]]
    stats = d.groupby(["PARAMCD", "AVISIT", "ARM"], sort=False)["AVAL"].agg(["mean", "std", "count"])
    ranges = {s.paramcd: s.range for inst in load_registry().values() for s in inst.scores}
    rows = []
    for pc in (p for p in PRIMARY_SCORE_ORDER if p in set(d["PARAMCD"])):
        lo, hi = ranges.get(pc, (0, 100))
        decimals = 2 if hi - lo <= 10 else 1
        visits = [v for v in VISITS if (pc, v) in {k[:2] for k in stats.index}]
        for k, visit in enumerate(visits):
            cells = []
            for a in inp.plan.arms:
                if (pc, visit, a) in stats.index:
                    s = stats.loc[(pc, visit, a)]
                    cells.append((f"{fmt.number(s['mean'], decimals)} "
                                  f"({fmt.number(s['std'], decimals)})", int(s["count"])))
                else:
                    cells.append(("\u2014", 0))
            rows.append({"score": param_label(pc), "first": k == 0, "span": len(visits),
                         "visit": VISITS.get(visit, visit), "cells": cells})
    return rows
