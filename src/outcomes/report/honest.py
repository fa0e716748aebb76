"""Honest mediation summaries in the report (docs/report.md, section 8): a proportion
mediated whose total effect's CI includes 0 reads "not meaningful: ..." in its own cell,
and Weibull effects that extrapolate beyond the follow-up are marked, with a note under
their table (outcomes.mediation.summaries)."""

from __future__ import annotations

import pandas as pd

from outcomes.mediation.summaries import EXTRAPOLATED, NOT_MEANINGFUL

from .estimates import Estimate, estimate
from .fmt import Num
from .inputs import Table

__all__ = ["effect_cell", "extrapolation_note", "not_meaningful"]


def not_meaningful(t: pd.DataFrame, i) -> bool:
    """Whether row ``i`` is a proportion mediated left out because the total effect's CI
    includes 0 (outcomes.mediation.summaries): a cell of its own, not the row's failure."""
    return "reason" in t.columns and str(t.at[i, "reason"]) == NOT_MEANINGFUL


def effect_cell(table: Table, i: int, label: str, et: str) -> Estimate:
    """One effect of the mediation table; a proportion that is not meaningful reads
    "not meaningful: <why>" instead of a number."""
    e = estimate(table, "mediation", i, label, estimate_type=et, analysis="mediation")
    if not_meaningful(table.raw, i):
        e.est = Num(e.reason, e.est.raw, "mediation", i, "estimate", e.est.scale, e.est.decimals)
        e.reason = ""
    elif EXTRAPOLATED in table.raw.columns and str(table.raw.at[i, EXTRAPOLATED]) == "yes":
        e.note = "extrapolated beyond the follow-up"
    return e


def extrapolation_note(g: pd.DataFrame, et: str) -> str:
    """Under a table of Weibull effects: which estimates extrapolate beyond the longest
    follow-up (column ``extrapolated``), and where the estimates that do not are."""
    if EXTRAPOLATED not in g.columns or not (g[EXTRAPOLATED].astype(str) == "yes").any():
        return ""
    what = {"median_difference": "median times", "risk_difference": "risks by the horizon",
            "rmst_difference": "restricted mean times to the horizon"}.get(et, "estimates")
    alt = (" The restricted mean times to the horizon (RMST differences) do not extrapolate "
           "beyond it." if et == "median_difference" else "")
    return (f"Effects marked \u201cextrapolated beyond the follow-up\u201d compare "
            f"{what} beyond the longest follow-up of the analysis sample: they come from the "
            f"shape of the fitted Weibull model, not from observed times.{alt}")
