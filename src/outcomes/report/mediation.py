"""The change-model mediation section: effects by outcome and mechanism, the change-model
diagrams and the sensitivity analysis, from mediation.tsv and mediation_sensitivity.tsv."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from outcomes.labels import arm_label, score_abbrev, words

from . import fmt
from .design import designs, twin_index
from .estimates import (
    EFFECT_LABELS,
    MECHANISMS,
    Estimate,
    count,
    estimate,
)
from .fmt import Num
from .honest import effect_cell, extrapolation_note, not_meaningful
from .inputs import MEDIATION_KEY, ReportInputs

# ----------------------------------------------------------------------------- mediation


def mechanisms(plan_raw: dict) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Mechanism key -> (label, PARAMCDs): the plan's ``mediation.mechanisms``, else the
    change model's own (docs/change-model.md)."""
    spec = (plan_raw.get("mediation") or {}).get("mechanisms")
    if not spec:
        return dict(MECHANISMS)
    return {k: (str(v.get("label", k)), tuple(v.get("mediators", ()))) for k, v in spec.items()}


def _mediator_codes(label: str) -> list[str]:
    """``HHI_4+GSE_4`` or ``HHI+GSE`` -> ['HHI', 'GSE'] (visit suffixes removed)."""
    out = []
    for part in str(label).split("+"):
        code = re.sub(r"_(M|BL|M\d+|month_\d+|\d+)$", "", part.strip(), flags=re.I)
        out.append(code.upper().replace("-", "").replace("_", ""))
    return out


def mechanism_of(label: str, value: str | None = None,
                 mechs: dict[str, tuple[str, tuple[str, ...]]] | None = None) -> str:
    """The mechanism key of a row: its ``mechanism`` value (``M1``.., ``ALL``) when the table
    has one, else the mechanism whose scores contain every mediator of ``label`` (``ALL``
    when they span mechanisms)."""
    mechs = mechs or MECHANISMS
    if value is not None and not fmt.is_missing(value):
        v = str(value).strip()
        for key, (name, _codes) in mechs.items():
            if v.upper() == key.upper() or name.lower() == v.lower():
                return key
        return v
    codes = set(_mediator_codes(label))
    for key, (_name, members) in mechs.items():
        if codes <= set(members):
            return key
    return "ALL"


def mechanism_title(key: str, mechs: dict[str, tuple[str, tuple[str, ...]]] | None = None) -> str:
    mechs = mechs or MECHANISMS
    if key in mechs:
        return f"{key} {mechs[key][0].lower()}"
    return "all mechanisms" if key.upper() == "ALL" else key


def outcome_label(code: str) -> str:
    """The mediation stage's label of an outcome code (e.g. ``wemwbs_m12``), else the code."""
    try:
        from outcomes.mediation.changemodel import OUTCOMES
    except ImportError:  # pragma: no cover - the stage is optional for the report
        return code
    return OUTCOMES.get(code, {}).get("label", code)


@dataclass
class MedRow:
    mechanism: str   # key
    title: str       # e.g. "M2 role-modelling recovery"
    mediator: str    # the table's mediator label
    members: list[str]
    n: Num | None
    cells: dict[str, Estimate]  # effect -> estimate
    reason: str = ""  # why the analysis is not estimable ("" when estimated)
    iv_reason: str = ""  # why its interventional effects are not estimable

    @property
    def interventional(self) -> bool:
        """The row has interventional effects (estimated or not)."""
        return bool(self.iv_reason) or any(k.startswith(IV_PREFIX) for k in self.cells)

    @property
    def joint(self) -> bool:
        return len(self.members) > 1

    @property
    def shown(self) -> str:
        return " + ".join(score_abbrev(m) for m in self.members) + (" (jointly)" if self.joint else "")


@dataclass
class MedGroup:
    outcome: str
    label: str
    estimate_type: str
    rows: list[MedRow]
    diagram: str | None
    note: str = ""  # e.g. which medians extrapolate beyond the follow-up
    sample: str = ""  # who the rows analyse (:func:`sample_note`)


@dataclass
class Mediation:
    groups: list[MedGroup]
    other: list[Estimate]
    forest: str | None
    sensitivity: list[dict[str, Any]]
    sensitivity_figure: str | None
    n_boot: list[str]
    seeds: list[str]
    visit: str = "month 4"
    confounders: str = ""  # the plan's exposure-induced confounders, in words


#: The effects of outcomes.mediation.interventional start with this.
IV_PREFIX = "interventional_"


def _med_type(effect: str, et: str) -> str:
    return "prop_mediated" if effect == "prop_mediated" else et


def _ci_text(e: Estimate | None, row: MedRow | None = None, absent: str = "not estimated") -> str:
    if row is not None and row.reason:
        return "not estimable"
    if e is None:
        return absent
    return f"{e.est.text} ({e.lo.text} to {e.hi.text})"


def _members(r: pd.DataFrame, i) -> list[str]:
    if "mediators" in r.columns and not fmt.is_missing(r.at[i, "mediators"]):
        return [x for x in str(r.at[i, "mediators"]).split("+") if x]
    return _mediator_codes(r.at[i, "mediator"])


def sample_note(g: pd.DataFrame) -> str:
    """The analysis sample of one outcome's rows (mediation.tsv's n_randomised,
    n_before_landmark, landmark_exclusions, n_incomplete): "" when the table has none."""
    cols = ("n_randomised", "n_before_landmark", "n_incomplete", "n")
    if any(c not in g.columns for c in cols) or g.empty:
        return ""
    first = g.iloc[0]
    if any(fmt.is_missing(first[c]) for c in cols):
        return ""
    text = f"Every mediator set is analysed on the same {int(first['n'])} of {int(first['n_randomised'])} randomised participants"
    parts = []
    if int(first["n_before_landmark"]):
        why = str(first.get("landmark_exclusions", "") or "")
        parts.append(f"{int(first['n_before_landmark'])} not in the risk set at the landmark "
                     f"(the mediator visit; {why})" if why else
                     f"{int(first['n_before_landmark'])} not in the risk set at the landmark")
    if int(first["n_incomplete"]):
        parts.append(f"{int(first['n_incomplete'])} missing a variable of some mediator set")
    return text + (": " + "; ".join(parts) if parts else "") + "."


def mediation_section(inp: ReportInputs) -> Mediation | None:
    m = inp.mediation
    if m is None:
        return None
    r = m.raw
    mechs = mechanisms(inp.plan.raw)
    order = {k: n for n, k in enumerate(mechs)}
    mech_col = "mechanism" if "mechanism" in r.columns else None
    groups: list[MedGroup] = []
    # effects this section does not know (shown as a plain list, never dropped)
    other = [estimate(m, "mediation", int(i), f"{r.at[i, 'outcome']}, {words(r.at[i, 'mediator'])}: "
                      f"{r.at[i, 'effect']}", analysis="mediation")
             for i in r.index if r.at[i, "effect"] not in EFFECT_LABELS]
    plan_outcomes = list((inp.plan.raw.get("mediation") or {}).get("outcomes") or [])
    scale_order = ("mean_difference", "risk_difference", "median_difference", "rmst_difference",
                   "odds_ratio")

    def group_key(k):
        o, e = k
        return (plan_outcomes.index(o) if o in plan_outcomes else len(plan_outcomes),
                scale_order.index(e) if e in scale_order else len(scale_order))

    keys = sorted(r.groupby(["outcome", "estimate_type"], sort=False).groups, key=group_key)
    every = inp.mediation_all if inp.mediation_all is not None else m
    twin = twin_index(every.raw, designs(inp).shown, MEDIATION_KEY)
    for outcome, et in keys:
        g = r.loc[(r["outcome"] == outcome) & (r["estimate_type"] == et)]
        rows: dict[str, MedRow] = {}
        for i in g.index:
            med = g.at[i, "mediator"]
            if med not in rows:
                mech = mechanism_of(med, g.at[i, mech_col] if mech_col else None, mechs)
                rows[med] = MedRow(mech, mechanism_title(mech, mechs), med, _members(g, i),
                                   count(m, "mediation", int(i), "n"), {})
            eff = g.at[i, "effect"]
            iv = str(eff).startswith(IV_PREFIX)
            if "status" in g.columns and g.at[i, "status"] == "not estimable":
                why = str(g.at[i, "reason"]) or "not estimable"
                if iv and not rows[med].iv_reason:
                    rows[med].iv_reason = why
                elif not iv and not rows[med].reason and not not_meaningful(g, i):
                    rows[med].reason = why
            if eff not in EFFECT_LABELS:
                continue
            e = effect_cell(m, int(i), EFFECT_LABELS.get(eff, eff), _med_type(eff, et))
            if int(i) in twin:  # the same effect under the other design
                e.other = effect_cell(every, twin[int(i)], e.label, _med_type(eff, et))
            rows[med].cells[eff] = e
        ordered = sorted(rows.values(), key=lambda row: (order.get(row.mechanism, len(order)),
                                                         len(row.members), row.mediator))
        label = outcome_label(str(outcome))
        groups.append(MedGroup(str(outcome), label, str(et), ordered,
                               _mechanism_svg(label, str(et), ordered, len(groups), inp, mechs),
                               extrapolation_note(g, str(et)),
                               sample_note(g)))
    med_plan = inp.plan.mediation or {}
    words = {"engagement": "engagement with peer support",
             "early_readmission": "readmission before the mediator visit"}
    return Mediation(groups, other, None, sensitivity_rows(inp), None,
                     sorted(set(r["n_boot"])) if "n_boot" in r.columns else [],
                     sorted(set(r["seed"])) if "seed" in r.columns else [],
                     str(med_plan.get("mediator_visit", "month_4")).replace("_", " "),
                     ", ".join(words.get(c, c) for c in
                               med_plan.get("exposure_induced_confounders") or []))


def _mechanism_svg(label: str, et: str, rows: list[MedRow], k: int, inp: ReportInputs,
                   mechs: dict[str, tuple[str, tuple[str, ...]]]) -> str | None:
    """The change-model diagram of one outcome and scale: for each mechanism its analysis
    with the most mediators (the mechanism's scores jointly), and all mechanisms jointly."""
    from .svg import Mechanism, mechanism_diagram

    best: dict[str, MedRow] = {}
    for row in rows:
        if row.mechanism in mechs and (row.mechanism not in best
                                       or len(row.members) > len(best[row.mechanism].members)):
            best[row.mechanism] = row
    if not best:
        return None
    boxes = []
    for key in mechs:
        if key not in best:
            continue
        row = best[key]
        ind, dire = row.cells.get("acme_average"), row.cells.get("ade_average")
        boxes.append(Mechanism(
            title=f"{key} {mechs[key][0][:1].upper()}{mechs[key][0][1:]}",
            measures=f"mediator{'s' if row.joint else ''}: "
                     f"{', '.join(score_abbrev(m) for m in row.members)}",
            indirect=_ci_text(ind, row), direct=_ci_text(dire, row)))
    joint = [row for row in rows if row.mechanism not in mechs]
    if joint:
        row = max(joint, key=lambda x: len(x.members))
        ind, ade, tot = (row.cells.get(x) for x in ("acme_average", "ade_average", "total"))
        footer = (f"All mechanisms jointly: indirect {_ci_text(ind, row, '—')}; "
                  f"direct {_ci_text(ade, row, '—')}; total {_ci_text(tot, row, '—')}")
    else:
        tot = next((row.cells["total"] for row in best.values()
                    if "total" in row.cells and not row.reason), None)
        footer = ("Direct path: the ADE of each mechanism is in its box"
                  + (f"; total effect {_ci_text(tot)}" if tot else ""))
    arms = inp.plan.arms
    return mechanism_diagram([arm_label(arms[0]), f"vs {arm_label(arms[1]).lower()}"],
                             [label, f"({et.replace('_', ' ')})"], boxes, footer,
                             prefix=f"mech{k}")


def sensitivity_rows(inp: ReportInputs) -> list[dict[str, Any]]:
    """Per outcome and mediator: ACME at rho = 0 and the rho at which the ACME is 0.

    The mediation stage may list a mediator's grid more than once (its own analysis and the
    single-mediator fits inside a joint analysis, told apart by ``mechanism``); the grid of
    the mediator's own mechanism is shown, and within it the first grid (its own job).
    """
    s = inp.mediation_sensitivity
    if s is None or s.num.empty:
        return []
    mechs = mechanisms(inp.plan.raw)
    n = s.num.copy()
    n["_row"] = n.index
    if "mechanism" in n.columns:
        own = [mechanism_of(med, None, mechs) for med in n["mediator"]]
        n["_own"] = [str(v) == o for v, o in zip(n["mechanism"], own, strict=True)]
    out = []
    keys = [c for c in ("outcome", "mediator", "effect") if c in n.columns]
    for key, g in n.groupby(keys, sort=False):
        if "_own" in g.columns and g["_own"].any():
            g = g.loc[g["_own"]]
        g = g.drop_duplicates("rho", keep="first").sort_values("rho")
        rho = g["rho"].to_numpy(float)
        est = g["estimate"].to_numpy(float)
        sign = np.sign(est)
        change = np.nonzero(sign[:-1] * sign[1:] <= 0)[0]
        if len(change):
            j = change[0]
            # linear interpolation between the two grid points around the sign change
            w = est[j] / (est[j] - est[j + 1]) if est[j] != est[j + 1] else 0.0
            cross = f"\u03c1 \u2248 {fmt.number(rho[j] + w * (rho[j + 1] - rho[j]), 2)}"
        else:
            cross = (f"not between \u03c1 = {fmt.number(rho.min(), 2)} and "
                     f"{fmt.number(rho.max(), 2)}")
        lo, hi = g["ci_low"].to_numpy(float), g["ci_high"].to_numpy(float)
        k0 = int(np.argmin(np.abs(rho)))
        robust = "yes" if (lo[k0] > 0 or hi[k0] < 0) else "no"
        et = str(g["estimate_type"].iloc[0]) if "estimate_type" in g.columns else "mean_difference"
        e = estimate(s, "mediation_sensitivity", int(g["_row"].iloc[k0]), "ACME at \u03c1 = 0",
                     estimate_type=et, analysis="mediation")
        d = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        out.append({"outcome": outcome_label(str(d.get("outcome", ""))),
                    "mediator": d.get("mediator", ""), "acme0": e, "cross": cross,
                    "ci_excludes": robust, "grid": g})
    return out
