"""Multiplicity in the report (docs/multiplicity.md): the plan's rule in words, the hierarchy
of hypotheses with raw and adjusted p-values (``tables/multiplicity.tsv``), and the
adjusted p-value beside the raw one wherever a row of the hierarchy is shown."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields, is_dataclass

import pandas as pd

from outcomes.labels import lower_first, param_label, words
from outcomes.multiplicity import KEY_SECONDARY, NOMINAL, OTHER, PRIMARY
from outcomes.multiplicity.hierarchy import ROW_KEY
from outcomes.plan import AnalysisPlan

from . import fmt
from .estimates import ANALYSIS_TITLES, TYPE_LABELS, VISITS, Estimate
from .fmt import Num
from .inputs import ReportInputs, Table

FAMILY_LABELS = {PRIMARY: "Primary", KEY_SECONDARY: "Key secondary", OTHER: "Other (nominal)"}
METHOD_WORDS = {
    "fixed_sequence": "a fixed sequence: in the order listed, each at the full alpha, until "
                      "the first one not rejected; the hypotheses after it are not tested",
    "holm": "Holm's step-down procedure",
    "hochberg": "Hochberg's step-up procedure (valid when the tests are independent or "
                "positively dependent)",
    "bonferroni": "the Bonferroni correction (alpha divided by the number of hypotheses)",
}
#: The column of each key of :data:`ROW_KEY` and ``clustering``, to find a hierarchy row.
_FIND = (*ROW_KEY, "clustering")


def rule_text(plan: AnalysisPlan) -> str:
    """The plan's multiplicity rule in words."""
    mp = plan.multiplicity
    assert mp is not None  # the report shows the rule only for a plan with a hierarchy
    n = len(mp.key_secondary)
    text = (f"The familywise error rate of the primary and key secondary hypotheses is "
            f"controlled at {mp.alpha:g} (two-sided). The primary hypothesis is tested alone "
            f"at {mp.alpha:g}.")
    if n:
        which = ("is the key secondary hypothesis tested" if n == 1 else
                 f"are the {n} key secondary hypotheses tested")
        text += (f" Only if it is rejected {which}, with the full {mp.alpha:g}, by "
                 f"{METHOD_WORDS[mp.method]} (serial gatekeeping); the adjusted p-value of a "
                 "key secondary hypothesis is the larger of the primary's p-value and its "
                 "own adjusted within the family, and it is rejected when that is at most "
                 f"{mp.alpha:g}.")
    text += (" Every other p-value in this report is nominal (not adjusted for multiplicity)"
             " and supports no claim on its own.")
    return text


@dataclass
class HypothesisRow:
    family: str
    order: int
    label: str
    estimate: Num
    p: Num
    adjusted: Num
    decision: str
    reason: str


@dataclass
class MultiplicitySection:
    rule: str
    rows: list[HypothesisRow] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def _pnum(t: Table, i: int, col: str) -> Num:
    raw = t.raw.at[i, col]
    return Num(fmt.p_value(raw), raw, "multiplicity", i, col, 1.0, None)


def hypothesis_label(raw, i: int) -> str:
    """What a hypothesis's row estimates, in the report's words."""
    from .questionnaires import analysis_label

    analysis, et, outcome = raw.at[i, "analysis"], raw.at[i, "estimate_type"], raw.at[i, "outcome"]
    what = TYPE_LABELS.get(et, et.replace("_", " "))
    if raw.at[i, "table"] == "questionnaires" and " " in outcome:
        score, visit = outcome.rsplit(" ", 1)
        try:
            how = analysis_label(analysis)
        except KeyError:
            how = analysis.replace("_", " ")
        return (f"{param_label(score)} at {lower_first(VISITS.get(visit, visit))}: "
                f"{lower_first(what)} (ANCOVA, {how})")
    title = ANALYSIS_TITLES.get(analysis, analysis.replace("_", " ").capitalize())
    return f"{title.split(':')[0]}: {lower_first(what)}, {words(outcome)}"


def _decision(r, i: int, alpha: float) -> str:
    if r.at[i, "status"] == "not estimable":
        return "not estimable"
    if r.at[i, "tested"] != "True":
        return "not tested"
    if r.at[i, "method"] == NOMINAL:
        return (f"p \u2264 {alpha:g} (nominal)" if r.at[i, "rejected"] == "True"
                else f"p > {alpha:g} (nominal)")
    return "rejected" if r.at[i, "rejected"] == "True" else "not rejected"


def multiplicity_section(inp: ReportInputs) -> MultiplicitySection:
    sec = MultiplicitySection(rule_text(inp.plan))
    t = inp.multiplicity
    if t is None:
        sec.notices.append("Multiplicity: tables/multiplicity.tsv is absent (the multiplicity "
                           "step did not run), so no adjusted p-value is shown; the rule "
                           "above is the plan's.")
        return sec
    r = t.raw
    for i in r.index:
        et = r.at[i, "estimate_type"]
        sec.rows.append(HypothesisRow(
            FAMILY_LABELS.get(r.at[i, "family"], r.at[i, "family"]), int(r.at[i, "order"]),
            hypothesis_label(r, i),
            fmt.cell(r.at[i, "estimate"], estimate_type=et, src="multiplicity", row=int(i),
                     col="estimate"),
            _pnum(t, int(i), "p_value"), _pnum(t, int(i), "adjusted_p_value"),
            _decision(r, i, inp.plan.multiplicity.alpha if inp.plan.multiplicity else 0.05),
            r.at[i, "reason"]))
    return sec


def _source_rows(inp: ReportInputs) -> dict[tuple[str, int | None], int]:
    """(table, row of that table) -> row of multiplicity.tsv, for each hypothesis."""
    t = inp.multiplicity
    if t is None:
        return {}
    tables = {"survival": inp.survival, "questionnaires": inp.questionnaires, "cace": inp.cace}
    out: dict[tuple[str, int | None], int] = {}
    for i in t.raw.index:
        src = tables.get(t.raw.at[i, "table"])
        if src is None or src.raw.empty:
            continue
        s = src.raw
        want = {c: t.raw.at[i, c] for c in _FIND}
        if "clustering" not in s.columns:  # a table from before the column: all none
            if want.pop("clustering") != "none":
                continue
        hit = s.index[(s[list(want)] == pd.Series(want)).all(axis=1)]
        if len(hit) == 1:
            out[(t.raw.at[i, "table"], int(hit[0]))] = int(i)
    return out


def attach_adjusted(inp: ReportInputs, estimates: Iterable[Estimate | None]) -> None:
    """Give every shown estimate (and its twin beside it) that is a primary or key
    secondary hypothesis of the hierarchy its adjusted p-value (``Estimate.adjusted``) and
    family; the other hypotheses' p-values are nominal, as every other one shown."""
    rows = _source_rows(inp)
    t = inp.multiplicity
    if not rows or t is None:  # rows only come from a multiplicity table
        return
    for e in estimates:
        for x in (e, e.other if e is not None else None):
            if x is None or x.p is None or x.p.src is None:
                continue
            k = rows.get((x.p.src, x.p.row))
            if k is not None and t.raw.at[k, "family"] in (PRIMARY, KEY_SECONDARY):
                x.adjusted = _pnum(t, k, "adjusted_p_value")
                x.family = FAMILY_LABELS.get(t.raw.at[k, "family"], "")


def estimates_in(*objects) -> Iterator[Estimate]:
    """Every :class:`Estimate` held by the report's sections (dataclasses, lists and dicts
    of them, walked down), each once; an estimate's twin (``other``) is its own."""
    seen: set[int] = set()

    def walk(x):
        if id(x) in seen:
            return
        seen.add(id(x))
        if isinstance(x, Estimate):
            yield x
        elif is_dataclass(x) and not isinstance(x, type | Num):
            for f in fields(x):
                yield from walk(getattr(x, f.name))
        elif isinstance(x, dict):
            for v in x.values():
                yield from walk(v)
        elif isinstance(x, list | tuple):
            for v in x:
                yield from walk(v)

    for obj in objects:
        yield from walk(obj)
