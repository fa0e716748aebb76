"""The E-values of the mediation section (``evalue``, ``evalue_ci`` of mediation.tsv;
docs/mediation.md §6a): one row per outcome, scale and mediator (set), with the E-values
of the average indirect and direct effects and of the total effect, the main design's rows."""

from __future__ import annotations

from dataclasses import dataclass

from . import fmt
from .inputs import ReportInputs
from .mediation import outcome_label

__all__ = ["EvalueRow", "evalue_rows"]

#: The effects shown, in their columns' order.
SHOWN = ("acme_average", "ade_average", "total")


@dataclass
class EvalueRow:
    outcome: str
    scale: str
    mediator: str
    cells: dict[str, str]  # effect -> "E (CI: E_ci)", or a dash


def evalue_rows(inp: ReportInputs) -> list[EvalueRow]:
    """E-values of the main design's mediation rows, in the table's order; empty when
    mediation.tsv has no E-values (an older run) or none is estimated."""
    m = inp.mediation
    if m is None or "evalue" not in m.num.columns:
        return []
    n = m.num
    out: dict[tuple[str, str, str], EvalueRow] = {}
    for i in n.index:
        eff = str(n.at[i, "effect"])
        if eff not in SHOWN or fmt.is_missing(n.at[i, "evalue"]):
            continue
        key = (str(n.at[i, "outcome"]), str(n.at[i, "estimate_type"]), str(n.at[i, "mediator"]))
        if key not in out:
            out[key] = EvalueRow(outcome_label(key[0]), key[1].replace("_", " "), key[2], {})
        out[key].cells[eff] = (f"{fmt.number(n.at[i, 'evalue'], 2)} "
                               f"(CI: {fmt.number(n.at[i, 'evalue_ci'], 2)})")
    return list(out.values())
