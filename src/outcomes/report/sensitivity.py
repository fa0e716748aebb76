"""Section 3's sensitivity analyses of the primary outcome: the primary strategy for death
and withdrawal and every other strategy the plan runs (``analysis = primary_sensitivity``
of survival.tsv), side by side in a table and a forest plot of the risk difference, the
primary analysis highlighted (docs/report.md). Numbers are shown as written."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from outcomes.labels import arm_label, en_dashes
from outcomes.survival import STRATEGY_LABELS
from outcomes.survival.plots import forest, split_not_estimable
from outcomes.survival.run import SENSITIVITY
from outcomes.survival.tables import KEY

from .design import designs, twins
from .estimates import Estimate, estimate
from .inputs import ReportInputs

PRIMARY = "primary"


@dataclass
class StrategyRow:
    """One strategy: its risks by arm (treated, control), risk difference, marginal and
    conditional odds ratios, each of the design shown with its twin of the other design
    beside."""

    strategy: str
    label: str
    primary: bool
    risks: list[Estimate | None]
    risk_difference: Estimate | None
    odds_ratio: Estimate | None
    conditional_odds_ratio: Estimate | None = None  # none for the Kaplan-Meier strategy
    estimand: str = ""  # the id of the registry's estimand (survival.tsv's column)


@dataclass
class SensitivitySection:
    arms: list[str]
    rows: list[StrategyRow]
    figure: str | None = None
    excluded: list[tuple[str, str]] = field(default_factory=list)


def strategy_label(strategy: str, primary: bool) -> str:
    label = en_dashes(STRATEGY_LABELS.get(strategy, strategy.replace("_", " ")))
    return f"{label}: primary" if primary else label


def _strategy_rows(inp: ReportInputs) -> tuple[pd.DataFrame, list[int], dict[int, int]]:
    """The rows of the primary and sensitivity analyses (no ICC), the rows of the design
    shown and their twins (:func:`outcomes.report.design.twins`)."""
    r = inp.survival.raw
    if "strategy" not in r.columns:
        return r.iloc[:0], [], {}
    sub = r.loc[r["analysis"].isin([PRIMARY, SENSITIVITY]) & (r["estimate_type"] != "icc")]
    first, twin = twins(sub, designs(inp).shown, KEY)
    return sub, first, twin


def sensitivity_section(inp: ReportInputs) -> SensitivitySection | None:
    """The table of strategies (the primary first, then the plan's order), or None when
    survival.tsv has no sensitivity analysis of the primary outcome."""
    sub, first, twin = _strategy_rows(inp)
    if not (sub["analysis"] == SENSITIVITY).any():
        return None
    t = inp.survival
    arms = list(inp.plan.arms)

    def shown(i: int, label: str) -> Estimate:
        e = estimate(t, "survival", i, label)
        if i in twin:
            e.other = estimate(t, "survival", twin[i], label)
        return e

    rows: dict[tuple[str, str], StrategyRow] = {}
    for i in sorted(first, key=lambda i: sub.at[i, "analysis"] != PRIMARY):
        a, s = sub.at[i, "analysis"], str(sub.at[i, "strategy"])
        row = rows.setdefault((a, s), StrategyRow(
            s, strategy_label(s, a == PRIMARY), a == PRIMARY, [None, None], None, None,
            estimand=str(sub.at[i, "estimand"]) if "estimand" in sub.columns else ""))
        contrast, et = sub.at[i, "contrast"], sub.at[i, "estimate_type"]
        if et == "risk" and contrast in arms:
            row.risks[arms.index(contrast)] = shown(i, arm_label(contrast))
        elif et == "risk_difference":
            row.risk_difference = shown(i, row.label)
        elif et == "odds_ratio":
            row.odds_ratio = shown(i, row.label)
        elif et == "conditional_odds_ratio":
            row.conditional_odds_ratio = shown(i, row.label)
    return SensitivitySection([arm_label(a) for a in arms], list(rows.values()))


def risk_difference_rows(inp: ReportInputs) -> pd.DataFrame:
    """The risk difference of each strategy, of the design shown, for the forest plot:
    parsed numbers with ``label`` and ``primary`` (the row to highlight)."""
    sub, first, _ = _strategy_rows(inp)
    num = inp.survival.num.loc[first]
    num = num.loc[num["estimate_type"] == "risk_difference"].copy()
    num["primary"] = num["analysis"] == PRIMARY
    num = num.sort_values("primary", ascending=False, kind="stable")
    num["label"] = [strategy_label(str(s), p) for s, p in
                    zip(num["strategy"], num["primary"], strict=True)]
    num["panel"] = "risk_difference"
    return num


def excluded(inp: ReportInputs) -> list[tuple[str, str]]:
    """(strategy, reason) of the risk differences the forest plot leaves out."""
    return split_not_estimable(risk_difference_rows(inp), "label")[1]


def sensitivity_forest(inp: ReportInputs) -> str | None:
    """The forest plot of the risk difference under each strategy (SVG text), the primary
    analysis highlighted; not-estimable strategies are listed under it. None when no
    strategy's risk difference was estimated (the section says so, with the reasons)."""
    from .figures import _svg, favours, forest_xlabels

    tab = risk_difference_rows(inp)
    if split_not_estimable(tab, "label")[0].empty:
        return None
    title = (f"Readmission within {inp.plan.followup_days} days: risk difference (95% CI) by "
             f"strategy for death and withdrawal, {designs(inp).shown_label} design")
    treated, control = arm_label(inp.plan.treated_arm), arm_label(inp.plan.control_arm)
    xl = {"risk_difference": forest_xlabels(treated, control)["probability"]}
    fav = {"risk_difference": favours(treated, control)}
    return _svg(lambda p: forest(tab, p, panel="panel", label="label", xlabels=xl,
                                 highlight="primary", title=title, favours=fav))
