"""The forest plot of the questionnaire effects as standardised mean differences (Hedges'
g, the ``hedges_g`` rows of questionnaires.tsv): every score and visit of the main analysis
and design on one axis, whatever its instrument's scale (docs/questionnaires.md)."""

from __future__ import annotations

import pandas as pd

from outcomes.questionnaires import HEDGES_G
from outcomes.survival.plots import forest

from .design import designs, row_design
from .estimates import VISITS
from .figures import _svg
from .inputs import ReportInputs
from .questionnaires import MI_ANALYSIS, main_analysis, registry_info, score_order

XLABEL = "Hedges' g (adjusted mean difference / pooled SD), peer support - usual care"


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
    better = {pc: "higher better" if hib else "lower better" for pc, (_, _, hib) in info.items()}
    t["label"] = [f"{pc} {VISITS.get(v, v).lower()} ({better.get(pc, '')})".replace(" ()", "")
                  for pc, v in zip(t["paramcd"], t["avisit"], strict=True)]
    t["panel"] = "g"
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
    return _svg(lambda p: forest(t, p, panel="panel", label="label", xlabels={"g": XLABEL},
                                 title=title))
