"""The report's list of estimands (docs/report.md, docs/estimands.md): every estimand of
the plan's registry that a results row carries, in words once, with the tables and
analyses whose rows estimate it (read from their ``estimand`` column)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from outcomes.estimands import Estimand
from outcomes.estimands.rows import COLUMN
from outcomes.labels import arm_words

from .inputs import ReportInputs, Table


@dataclass(frozen=True)
class EstimandEntry:
    """One estimand of the report's list: its registry entry and the rows estimating it
    (``"survival.tsv: primary (risk, risk difference, ...)"``)."""

    estimand: Estimand
    rows: tuple[str, ...]
    primary: bool


def _tables(inp: ReportInputs) -> dict[str, Table | None]:
    """The estimates tables, in the order the report lists rows (every row, both designs)."""
    return {"survival.tsv": inp.survival, "questionnaires.tsv": inp.questionnaires,
            "tipping_point.tsv": inp.tipping_point, "cace.tsv": inp.cace,
            "mediation.tsv": inp.mediation_all,
            "mediation_sensitivity.tsv": inp.mediation_sensitivity}


def rows_by_estimand(inp: ReportInputs) -> dict[str, list[str]]:
    """For each estimand id in the tables: ``"<table>: <analysis> (<estimate types>)"``
    per table and analysis carrying it, in table order then row order."""
    out: dict[str, list[str]] = {}
    for name, table in _tables(inp).items():
        if table is None or COLUMN not in table.raw.columns or table.raw.empty:
            continue
        t = table.raw
        for (eid, analysis), g in t.groupby([COLUMN, "analysis"], sort=False):
            types = list(dict.fromkeys(g["estimate_type"])) if "estimate_type" in g else []
            shown = ", ".join(x.replace("_", " ") for x in types[:6])
            more = f" and {len(types) - 6} more" if len(types) > 6 else ""
            out.setdefault(str(eid), []).append(
                f"{name}: {analysis.replace('_', ' ')}" + (f" ({shown}{more})" if shown else ""))
    return out


def in_words(e: Estimand, arms) -> Estimand:
    """``e`` with the arm codes of its text in words (:func:`outcomes.labels.arm_words`)."""
    def fix(obj):
        if isinstance(obj, str):
            return arm_words(obj, arms)
        if isinstance(obj, tuple):
            return tuple(fix(x) for x in obj)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return dataclasses.replace(obj, **{f.name: fix(getattr(obj, f.name))
                                               for f in dataclasses.fields(obj)})
        return obj

    return fix(e)


def estimand_entries(inp: ReportInputs) -> tuple[list[EstimandEntry], list[str]]:
    """The estimands the tables use, in the registry's order (the primary one first), and
    the ids found in a table but absent from the plan's registry (shown as a notice)."""
    from outcomes.estimands.rows import STRATEGY_ESTIMANDS

    rows = rows_by_estimand(inp)
    primary = STRATEGY_ESTIMANDS.get(inp.plan.survival.get("primary_strategy", ""))
    registry = inp.plan.estimands
    entries = [EstimandEntry(in_words(e, inp.plan.arms), tuple(rows[k]), k == primary)
               for k, e in registry.items() if k in rows]
    entries.sort(key=lambda x: not x.primary)
    return entries, sorted(set(rows) - set(registry))
