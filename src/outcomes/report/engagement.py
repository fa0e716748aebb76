"""The engagement section of the report (docs/engagement.md, docs/cace.md): contacts with
peer workers by arm (``engagement.tsv``); the complier average causal effect (CACE) of
every outcome beside its intention-to-treat (ITT) effect, with the first stage and the
biased per-protocol and as-treated comparisons (``cace.tsv``, ``survival.tsv``,
``questionnaires.tsv``); the effect per contact (dose–response) with its figure.

Numbers are shown as written, never recomputed: the figure's line is the written slope
times the number of contacts. The rows of the design shown first (report.design) carry
their twin of the other design. A ``cace.tsv`` without CACE or dose–response rows (written
before the instrumental-variable analysis) shows them as "not computed".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from outcomes.cace.comparisons import AS_TREATED, PER_PROTOCOL
from outcomes.cace.engagement import CONTACT_VARIABLES
from outcomes.labels import arm_label, lower_first, param_label, variable_word, words
from outcomes.plan import ReceiptDefinition
from outcomes.survival.tables import KEY

from . import fmt
from .design import designs, twins
from .estimates import PRIMARY_SCORE_ORDER, VISITS, Estimate, count, estimate
from .fmt import Num
from .inputs import ReportInputs, Table
from .questionnaires import ROW_KEY, analysis_label, main_analysis, registry_info, score_order

#: ``analysis`` of the CACE and dose–response rows of cace.tsv (docs/results.md).
CACE, DOSE_RESPONSE = "cace", "dose_response"
#: What identifies a cace.tsv row apart from its design (``clustering``).
CACE_KEY = ROW_KEY
#: The dose of the dose–response analysis when its rows do not name it (``term``).
DEFAULT_DOSE = "NCONTACT"
#: The estimate types of the effects shown (the ITT rows' own; the effect per contact).
EFFECT_TYPES = ("risk_difference", "adjusted_mean_difference", "effect_per_contact")


def receipt_in_words(receipt: ReceiptDefinition, followup_days: int) -> str:
    """The plan's ``engagement.receipt`` as a sentence (docs/engagement.md)."""
    k = receipt.min_contacts
    what = f"at least {k} contact{'' if k == 1 else 's'} with a peer worker"
    if receipt.min_minutes > 0:
        what += f" totalling at least {receipt.min_minutes} minutes"
    start = "randomisation" if receipt.window_start == "randomisation" else "the index discharge"
    if receipt.window_days is None:
        when = (f"from {start} to the end of follow-up ({followup_days} days after the index "
                "discharge)")
    else:
        when = f"from {start} (day 0) to day {receipt.window_days} after it, both included"
    return f"{what}, {when}, not after the data cut"


# ----------------------------------------------------------------------------- contacts


@dataclass
class ContactLine:
    """A line of the contacts table: per arm the parts shown (numbers of engagement.tsv
    and the text between them); ``header`` lines name a variable."""

    label: str
    cells: list[list[Num | str | None]]
    header: bool = False


def _stat(t: Table, arm: str, variable: str, statistic: str, decimals: int,
          suffix: str = "") -> Num | None:
    r = t.raw
    hit = r.index[(r["arm"] == arm) & (r["variable"] == variable) & (r["statistic"] == statistic)]
    if not len(hit):
        return None
    i = int(hit[0])
    raw = r.at[i, "value"]
    text = fmt.number(raw, decimals) + ("" if fmt.is_missing(raw) else suffix)
    return Num(text, raw, "engagement", i, "value", 1.0, decimals)


def contact_lines(t: Table, arms: tuple[str, ...]) -> list[ContactLine]:
    """Participants, receipt n (%) and each contact variable's median (IQR), mean (SD)
    and range, per arm, from engagement.tsv (counts whole, summaries to one decimal)."""
    desc = {}
    if "description" in t.raw.columns:
        desc = dict(zip(t.raw["variable"], t.raw["description"], strict=True))

    def line(label, parts, header=False):
        return ContactLine(label, [parts(a) for a in arms], header)

    out = [line("Randomised (intention to treat)",
                lambda a: [_stat(t, a, "participants", "n", 0)]),
           line("Received peer support (the plan's definition), n (%)",
                lambda a: [_stat(t, a, "ENGFL", "n", 0), " (",
                           _stat(t, a, "ENGFL", "percent", 1, "%"), ")"])]
    for var, default in CONTACT_VARIABLES.items():
        if not (t.raw["variable"] == var).any():
            continue
        text = str(desc.get(var, default))
        out.append(ContactLine(f"{text[:1].upper()}{text[1:]}", [[] for _ in arms], True))
        out.append(line("Median (IQR)", lambda a, v=var: [
            _stat(t, a, v, "median", 1), " (", _stat(t, a, v, "q1", 1), " to ",
            _stat(t, a, v, "q3", 1), ")"]))
        out.append(line("Mean (SD)", lambda a, v=var: [
            _stat(t, a, v, "mean", 1), " (", _stat(t, a, v, "sd", 1), ")"]))
        out.append(line("Range", lambda a, v=var: [
            _stat(t, a, v, "min", 0), " to ", _stat(t, a, v, "max", 0)]))
    return out


# ----------------------------------------------------------------------------- estimates


@dataclass
class FirstStage:
    """The first stage of an instrumental-variable row: the arm's effect on receipt (the
    compliance-rate difference) or on the contacts, its F statistics, the weak flags."""

    difference: Num | None
    f: Num | None
    robust_f: Num | None
    weak: bool             # the row shown: robust F < 10 (docs/cace.md §5)
    weak_other: bool       # its twin of the other design
    robust_f_other: Num | None = None  # the twin's (its variance: HC1 or CR1)


@dataclass
class CaceRow:
    outcome: str
    itt: Estimate | None
    cace: Estimate | None
    first: FirstStage | None
    per_protocol: Estimate | None
    as_treated: Estimate | None


@dataclass
class DoseRow:
    outcome: str
    effect: Estimate | None
    first: FirstStage | None
    instruments: str
    hansen_j: Num | None
    overid_df: Num | None
    hansen_p: Num | None


@dataclass
class DosePanel:
    """One panel of the dose–response figure: the slope and its CI (in the units shown)
    and the contacts of the treated arm (intention to treat)."""

    title: str
    ylabel: str
    slope: float
    ci_low: float
    ci_high: float
    doses: np.ndarray


@dataclass
class EngagementSection:
    receipt: str
    heads: list[str]
    contacts: list[ContactLine]
    cace: list[CaceRow]
    dose: list[DoseRow]
    has_cace: bool           # cace.tsv has CACE rows
    has_dose: bool           # ... and dose-response rows
    has_comparisons: bool    # ... and per-protocol / as-treated rows
    itt_main: str            # how the questionnaire ITT rows were analysed
    pooled: list[str]        # the m of CACE rows pooled over imputations
    dose_variable: str

    @property
    def dose_words(self) -> str:
        """The dose in words ("number of peer contacts")."""
        return variable_word(self.dose_variable)

    panels: list[DosePanel] = field(default_factory=list)
    not_drawn: list[tuple[str, str]] = field(default_factory=list)
    weak: list[str] = field(default_factory=list)  # outcomes whose first stage is weak
    figure: str | None = None
    notices: list[str] = field(default_factory=list)


def _na_row(t: Table, i: int) -> bool:
    """Row ``i`` is not estimable (its first stage is not shown either)."""
    return "status" in t.raw.columns and t.raw.at[i, "status"] == "not estimable"


def _true(x) -> bool:
    return str(x).strip().lower() in ("true", "1", "yes", "y")


def _first_stage(t: Table, i: int, twin: int | None, per: str) -> FirstStage:
    r = t.raw

    def cell(col: str, et: str, i: int = i) -> Num | None:
        if col not in r.columns:
            return None
        return fmt.cell(r.at[i, col], estimate_type=et, src="cace", row=i, col=col)

    weak = "weak_instruments" in r.columns and _true(r.at[i, "weak_instruments"])
    weak_other = (twin is not None and "weak_instruments" in r.columns
                  and _true(r.at[twin, "weak_instruments"]))
    return FirstStage(cell("first_stage_estimate", per), cell("first_stage_f", "f_statistic"),
                      cell("first_stage_robust_f", "f_statistic"), weak, weak_other,
                      None if twin is None else cell("first_stage_robust_f", "f_statistic", twin))


def _effects(t: Table | None, analysis: str, shown: str, *, key=CACE_KEY,
             types: tuple[str, ...] = EFFECT_TYPES) -> dict[str, tuple[int, int | None]]:
    """Outcome label -> (row shown, its twin: same ``key`` of the other design) of the
    between-arm rows of ``analysis``."""
    if t is None or t.raw.empty or "analysis" not in t.raw.columns:
        return {}
    r = t.raw
    sub = r.loc[(r["analysis"] == analysis) & r["contrast"].astype(str).str.contains(" vs ")
                & r["estimate_type"].isin(types)]
    first, twin = twins(sub, shown, key)
    out: dict[str, tuple[int, int | None]] = {}
    for i in first:
        out.setdefault(str(r.at[i, "outcome"]), (i, twin.get(i)))
    return out


def _shown(t: Table, src: str, at: tuple[int, int | None] | None, label: str,
           estimate_type: str | None = None) -> Estimate | None:
    if at is None:
        return None
    i, j = at
    e = estimate(t, src, i, label, estimate_type=estimate_type)
    if j is not None:
        e.other = estimate(t, src, j, label, estimate_type=estimate_type)
    return e


def outcomes_shown(inp: ReportInputs) -> tuple[list[tuple[str, str, bool]], str]:
    """The outcomes of the section in the report's order: (outcome label of the tables,
    label shown, is the primary binary outcome); and the primary's label."""
    s = inp.survival.raw
    prim = s.loc[(s["analysis"] == "primary") & (s["estimate_type"] == "risk_difference")]
    primary = str(prim["outcome"].iloc[0]) if len(prim) else ""
    out = [(primary, f"Primary outcome: {words(primary)}", True)] if primary else []
    q = inp.questionnaires.raw
    if not q.empty and {"paramcd", "avisit"} <= set(q.columns):
        info = registry_info()
        keys = {}
        for i in q.index[q["contrast"].astype(str).str.contains(" vs ")]:
            label = str(q.at[i, "outcome"])
            if label not in keys:
                pc, visit = q.at[i, "paramcd"], q.at[i, "avisit"]
                name = param_label(pc)
                keys[label] = (score_order(pc, visit, info), f"{name}, {lower_first(VISITS.get(visit, visit))}")
        out += [(k, v[1], False) for k, v in sorted(keys.items(), key=lambda kv: kv[1][0])]
    return out, primary


def _is_primary(label: str, primary: str) -> bool:
    return label == primary or (not primary and label.startswith("READMIT"))


def dose_row(t: Table, at: tuple[int, int | None], label: str, primary: bool) -> DoseRow:
    """The dose–response row shown (``at``: the row of the design shown and its twin):
    the effect per contact (percentage points for the primary outcome), the first stage,
    the instruments and Hansen's J."""
    r, i = t.raw, at[0]

    def col(name: str) -> Num | None:
        if name not in r.columns:
            return None
        if name == "overid_df":
            return count(t, "cace", i, name)
        if name.endswith("p_value"):
            return Num(fmt.p_value(r.at[i, name]), r.at[i, name], "cace", i, name, 1.0, None)
        return fmt.cell(r.at[i, name], estimate_type="chisq", src="cace", row=i, col=name)

    et = "risk_difference_per_contact" if primary else "effect_per_contact"
    return DoseRow(
        label, _shown(t, "cace", at, label, estimate_type=et),
        None if _na_row(t, i) else _first_stage(t, *at, per="contacts_difference"),
        words(str(r.at[i, "instruments"]).replace(":", " \u00d7 "))
        if "instruments" in r.columns else "",
        col("hansen_j"), col("overid_df"), col("hansen_j_p_value"))


def engagement_section(inp: ReportInputs) -> EngagementSection:
    plan = inp.plan
    shown = designs(inp).shown
    notices = []
    eng = inp.engagement
    if eng is None:
        notices.append("Engagement by arm: not computed (no tables/engagement.tsv; run "
                       "'outcomes engagement').")
    contacts = contact_lines(eng, plan.arms) if eng is not None else []
    cace_t = inp.cace
    if cace_t is None:
        notices.append("Complier average causal effects, dose–response and the per-protocol "
                       "and as-treated comparisons: not computed (no tables/cace.tsv).")
    present = set(cace_t.raw["analysis"]) if cace_t is not None and not cace_t.raw.empty else set()
    # (without dose-response rows, their own subsection says "not computed")
    if cace_t is not None and CACE not in present:
        notices.append("Complier average causal effects: not computed (tables/cace.tsv has no "
                       "rows with analysis = cace).")
    outcomes, primary = outcomes_shown(inp)
    main, _ = main_analysis(inp)
    itt = {**_effects(inp.survival, "primary", shown, key=KEY, types=("risk_difference",)),
           **_effects(inp.questionnaires, main, shown)}
    found = {a: _effects(cace_t, a, shown)
             for a in (CACE, DOSE_RESPONSE, PER_PROTOCOL, AS_TREATED)}
    known = {o for o, _, _ in outcomes}
    for a in (CACE, DOSE_RESPONSE):  # outcomes of cace.tsv the ITT tables do not have
        for o in found[a]:
            if o not in known:
                known.add(o)
                outcomes.append((o, o, _is_primary(o, primary)))
    rows = []
    for label, text, prim in outcomes:
        c = found[CACE].get(label)
        rows.append(CaceRow(
            text,
            _shown(inp.survival if prim else inp.questionnaires,
                   "survival" if prim else "questionnaires", itt.get(label), text),
            _shown(cace_t, "cace", c, text) if cace_t is not None else None,
            _first_stage(cace_t, *c, per="risk_difference")
            if c and cace_t is not None and not _na_row(cace_t, c[0]) else None,
            _shown(cace_t, "cace", found[PER_PROTOCOL].get(label), text) if cace_t else None,
            _shown(cace_t, "cace", found[AS_TREATED].get(label), text) if cace_t else None))
    dose_at = {label: (found[DOSE_RESPONSE][label], text, prim)
               for label, text, prim in outcomes if label in found[DOSE_RESPONSE]}
    dose_rows = ([dose_row(cace_t, at, text, prim) for at, text, prim in dose_at.values()]
                 if cace_t is not None else [])
    pooled = []
    if cace_t is not None and "m" in cace_t.raw.columns:
        r = cace_t.raw
        ivrows = r.loc[r["analysis"].isin([CACE, DOSE_RESPONSE])]
        pooled = sorted({str(x) for x in ivrows["m"] if not fmt.is_missing(x)})
    sec = EngagementSection(
        receipt=receipt_in_words(plan.engagement.receipt, plan.followup_days),
        heads=[arm_label(a) for a in plan.arms], contacts=contacts, cace=rows, dose=dose_rows,
        has_cace=CACE in present, has_dose=DOSE_RESPONSE in present,
        has_comparisons=bool(present & {PER_PROTOCOL, AS_TREATED}),
        itt_main=analysis_label(main),
        pooled=pooled, dose_variable=_dose_variable(cace_t, inp.adsl), notices=notices)
    sec.weak = [r.outcome for r in rows if r.first and r.first.weak] + [
        f"{r.outcome} (dose\u2013response)" for r in dose_rows if r.first and r.first.weak]
    dose_panels(sec, inp, dose_at)
    return sec


def _dose_variable(t: Table | None, adsl: pd.DataFrame) -> str:
    """The dose of the dose–response rows: their ``term`` when ADSL has it, else NCONTACT."""
    if t is not None and "term" in t.raw.columns:
        terms = t.raw.loc[t.raw["analysis"] == DOSE_RESPONSE, "term"]
        for term in terms:
            if term in adsl.columns:
                return str(term)
    return DEFAULT_DOSE


def figure_outcomes(dose_at: dict[str, tuple]) -> list[str]:
    """The outcomes drawn: the primary outcome and the first downstream score (of
    :data:`PRIMARY_SCORE_ORDER`) with a dose–response row, at its last visit
    (``dose_at``: outcome label -> (rows, label shown, is primary), in the report's order)."""
    chosen = [o for o, (_, _, prim) in dose_at.items() if prim][:1]
    scores = [o for o, (_, _, prim) in dose_at.items() if not prim]
    for pc in PRIMARY_SCORE_ORDER:
        mine = [o for o in scores if o.split(" ")[0] == pc]
        if mine:
            chosen.append(mine[-1])  # the report's order: the last visit last
            break
    return chosen


def dose_panels(sec: EngagementSection, inp: ReportInputs, dose_at: dict[str, tuple]) -> None:
    """The panels of the dose–response figure (main design), and the outcomes not drawn
    (their row not estimable) with the reason."""
    t = inp.cace
    if t is None or not dose_at:
        return
    adsl = inp.adsl
    if "ITTFL" in adsl.columns:
        adsl = adsl.loc[adsl["ITTFL"].astype(str) == "Y"]
    treated = adsl.loc[adsl["ARM"].astype(str) == inp.plan.treated_arm]
    var = sec.dose_variable
    doses = (pd.to_numeric(treated[var], errors="coerce").dropna().to_numpy(float)
             if var in treated.columns else np.array([]))
    for label in figure_outcomes(dose_at):
        (i, _twin), text, prim = dose_at[label]
        reason = None
        if _na_row(t, i):
            reason = str(t.raw.at[i, "reason"]) or "not estimable"
        vals = [t.num.at[i, c] for c in ("estimate", "ci_low", "ci_high")]
        if reason is None and any(fmt.is_missing(v) for v in vals):
            reason = "no estimate or CI in tables/cace.tsv"
        if reason is None and not doses.size:
            reason = f"no {var} in ADSL for the treated arm"
        if reason is not None:
            sec.not_drawn.append((text, reason))
            continue
        scale = 100.0 if prim else 1.0
        slope, low, high = (float(v) * scale for v in vals)
        sec.panels.append(DosePanel(
            text, ("Risk difference (percentage points)" if prim
                   else "Difference in score (points)"),
            slope, low, high, doses))

