"""The forest plot of the questionnaire effects as standardised mean differences (Hedges'
g, the ``hedges_g`` rows of questionnaires.tsv): every score and visit of the main analysis
and design on one axis, whatever its instrument's scale (docs/questionnaires.md)."""

from __future__ import annotations

import pandas as pd

from outcomes.labels import arm_label, param_label
from outcomes.questionnaires import HEDGES_G
from outcomes.survival.plots import forest

from .design import designs, row_design
from .estimates import VISITS
from .figures import _svg, favours
from .inputs import ReportInputs
from .questionnaires import MI_ANALYSIS, main_analysis, registry_info, score_order


def hedges_table(inp: ReportInputs) -> pd.DataFrame:
    """The ``hedges_g`` rows of the main analysis and the design shown, labelled
    "PARAMCD visit" (direction of the score beside it), in section 6's order."""
    r, q = inp.questionnaires.raw, inp.questionnaires.num
    if r.empty or "paramcd" not in r.columns:
        return pd.DataFrame()
    main, _ = main_analysis(inp)
    keep = ((r["estimate_type"] == HEDGES_G) & (r["analysis"] == main)
            & (row_design(r) == designs(inp).shown))
    t = q.loc[keep].copy()
    if t.empty:
        return t
    info = registry_info()
    t["label"] = [f"{param_label(pc)}, {VISITS.get(v, v).lower()}"
                  for pc, v in zip(t["paramcd"], t["avisit"], strict=True)]
    # one panel per direction, so that each has its favours words
    t["panel"] = ["lower" if not info.get(pc, (0, "", True))[2] else "higher"
                  for pc in t["paramcd"]]
    order = sorted(range(len(t)), key=lambda k: score_order(t["paramcd"].iloc[k],
                                                            t["avisit"].iloc[k], info))
    return t.iloc[order]


def hedges_forest(inp: ReportInputs) -> str | None:
    """The SVG, or None when the table has no Hedges' g rows (a table from before them)."""
    t = hedges_table(inp)
    if t.empty:
        return None
    how = "multiple imputation" if main_analysis(inp)[0] == MI_ANALYSIS else "complete cases"
    title = (f"Questionnaire effects as standardised mean differences (95% CI), {how}, "
             f"{designs(inp).shown_label} design")
    treated, control = arm_label(inp.plan.treated_arm), arm_label(inp.plan.control_arm)
    vs = f"{treated.lower()} \u2212 {control.lower()}"
    xl = {"higher": f"Hedges' g, scores where higher is better ({vs})",
          "lower": f"Hedges' g, scores where lower is better ({vs})"}
    fav = {"higher": favours(treated, control, False), "lower": favours(treated, control)}
    t = t.sort_values("panel", key=lambda c: c.map({"higher": 0, "lower": 1}), kind="stable")
    return _svg(lambda p: forest(t, p, panel="panel", label="label", xlabels=xl,
                                 title=title, favours=fav))
