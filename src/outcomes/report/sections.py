"""The report's sections as plain data for the template, in CONSORT order.

Nothing here fits a model: numbers come from the estimates tables as written, and the
descriptive summaries (flow counts, Table 1) are counts, means, SDs, medians and IQRs of
the derived datasets. Every estimate from a table is a :class:`~outcomes.report.fmt.Num`
that remembers its table, row and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from outcomes.instruments import load_registry

from . import fmt
from .fmt import Num
from .inputs import ReportInputs, Table

# ----------------------------------------------------------------------------- labels

CODE_LABELS = {
    "female": "Female", "male": "Male", "other": "Other", "not_stated": "Not stated",
    "psychosis": "Psychosis", "bipolar": "Bipolar disorder",
    "depression_anxiety": "Depression or anxiety", "personality": "Personality disorder",
}

VISITS = {"baseline": "Baseline", "month_4": "Month 4", "month_12": "Month 12"}

ANALYSIS_TITLES = {
    "primary": "Primary outcome: readmission within the follow-up",
    "community_tenure": "Community tenure: time to first readmission",
    "detained_readmission": "Time to first detained readmission",
    "competing_risks": "Competing risk of death",
    "recurrent_readmission": "Recurrent readmissions",
    "days_in_hospital": "Days in hospital",
}

TYPE_LABELS = {
    "risk": "Risk of readmission",
    "risk_difference": "Risk difference (percentage points)",
    "odds_ratio": "Odds ratio (marginal, standardised)",
    "conditional_odds_ratio": "Odds ratio (conditional on the covariates)",
    "median_time": "Median time to event (days)",
    "logrank_hazard_ratio": "Hazard ratio (Peto one-step; stratified log-rank test)",
    "hazard_ratio": "Hazard ratio (Cox)",
    "ph_test_chisq": "Proportional hazards test (chi-squared)",
    "rmst": "Restricted mean time free of the event (days)",
    "rmst_difference": "RMST difference (days)",
    "cumulative_incidence": "Cumulative incidence (Aalen–Johansen)",
    "cif_difference": "Difference in cumulative incidence (percentage points)",
    "rate_ratio": "Rate ratio (negative binomial)",
    "mean": "Mean days in hospital",
    "median": "Median days in hospital",
    "mean_difference": "Difference in mean days in hospital (bootstrap CI)",
    "adjusted_mean_difference": "Adjusted mean difference",
}

EFFECT_LABELS = {
    "acme_control": "Indirect effect (ACME), control",
    "acme_treated": "Indirect effect (ACME), treated",
    "acme_average": "Indirect effect (ACME), average",
    "ade_control": "Direct effect (ADE), control",
    "ade_treated": "Direct effect (ADE), treated",
    "ade_average": "Direct effect (ADE), average",
    "total": "Total effect",
    "prop_mediated": "Proportion mediated",
}

#: The change model's mechanisms (docs/change-model.md) and the PARAMCDs of their process outcomes.
MECHANISMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "M1": ("Trusting relationship", ("WAISR",)),
    "M2": ("Role-modelling recovery", ("HHI", "GSE", "ISMI10")),
    "M3": ("Engagement", ("LSNS6", "UCLA3")),
}

#: Downstream questionnaire outcomes (docs/change-model.md), listed one by one in the flow table
DOWNSTREAM_SCORES = ("WEMWBS", "SWEMWBS", "QPR15")

#: Scores shown in Table 1 and the flow (the first score of each instrument, registry order)
PRIMARY_SCORE_ORDER = ("WEMWBS", "SWEMWBS", "QPR15", "WAISR", "HHI", "GSE", "ISMI10",
                       "LSNS6", "UCLA3")


def arm_label(code: str) -> str:
    return code.replace("_", " ").capitalize()


def code_label(code: str) -> str:
    return CODE_LABELS.get(code, code)


# ----------------------------------------------------------------------------- numbers


def num(table: Table, src: str, i: int, col: str, estimate_type: str, *,
        analysis: str = "", missing: str = "\u2014", unit: bool = True) -> Num:
    raw = table.raw.at[i, col] if col in table.raw.columns else None
    return fmt.cell(raw, estimate_type=estimate_type, src=src, row=i, col=col,
                    analysis=analysis, missing=missing, unit=unit)


def count(table: Table, src: str, i: int, col: str) -> Num | None:
    if col not in table.raw.columns:
        return None
    raw = table.raw.at[i, col]
    text = "\u2014" if fmt.is_missing(raw) else f"{int(float(raw))}"
    return Num(text, raw, src, i, col, 1.0, 0)


def pval(table: Table, src: str, i: int) -> Num:
    raw = table.raw.at[i, "p_value"] if "p_value" in table.raw.columns else None
    return Num(fmt.p_value(raw), raw, src, i, "p_value", 1.0, None)


@dataclass
class Estimate:
    """One row of an estimates table, ready to show."""

    label: str
    est: Num
    lo: Num
    hi: Num
    p: Num | None
    n: Num | None
    events: Num | None
    note: str = ""
    has_ci: bool = True
    reason: str = ""  # why the row is not estimable ("" when it is estimated)


def not_estimable_reason(table: Table, i: int) -> str | None:
    """The ``reason`` of row ``i`` when its ``status`` is "not estimable", else None."""
    if "status" not in table.raw.columns or table.raw.at[i, "status"] != "not estimable":
        return None
    reason = table.raw.at[i, "reason"] if "reason" in table.raw.columns else ""
    return reason or "not estimable"


def estimate(table: Table, src: str, i: int, label: str, *, estimate_type: str | None = None,
             analysis: str = "") -> Estimate:
    et = estimate_type or table.raw.at[i, "estimate_type"]
    missing = "not reached" if et == "median_time" else "\u2014"
    e = Estimate(
        label=label,
        est=num(table, src, i, "estimate", et, analysis=analysis, missing=missing),
        lo=num(table, src, i, "ci_low", et, analysis=analysis, missing=missing, unit=False),
        hi=num(table, src, i, "ci_high", et, analysis=analysis, missing=missing, unit=False),
        p=pval(table, src, i),
        n=count(table, src, i, "n"),
        events=count(table, src, i, "events"),
    )
    e.has_ci = not (fmt.is_missing(table.raw.at[i, "ci_low"])
                    and fmt.is_missing(table.raw.at[i, "ci_high"]))
    reason = not_estimable_reason(table, i)
    if reason is not None:
        e.est = Num("not estimable", e.est.raw, src, i, "estimate", e.est.scale, e.est.decimals)
        e.has_ci = False
        e.reason = reason
        return e
    if et == "median_time" and not e.has_ci and fmt.is_missing(table.raw.at[i, "estimate"]):
        e.has_ci = True  # "not reached (not reached to not reached)" reads badly; keep CI
    return e


# ----------------------------------------------------------------------------- flow


@dataclass
class Flow:
    svg: str
    included: list[dict[str, Any]]
    arms: list[str]


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}%" if n else "\u2014"


def _visit_counts(adqs: pd.DataFrame, arms: tuple[str, ...]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for visit in VISITS:
        sub = adqs.loc[adqs["AVISIT"] == visit, ["USUBJID", "ARM"]].drop_duplicates("USUBJID")
        out[visit] = {a: int((sub["ARM"] == a).sum()) for a in arms}
    return out


def _per_arm_n(table: Table, mask: pd.Series, arms: tuple[str, ...]) -> dict[str, Num | None]:
    out: dict[str, Num | None] = {}
    for a in arms:
        idx = table.raw.index[mask & (table.raw["contrast"] == a)]
        out[a] = count(table, "survival", int(idx[0]), "n") if len(idx) else None
    return out


def _between_n(table: Table, src: str, mask: pd.Series) -> Num | None:
    idx = table.raw.index[mask & table.raw["contrast"].str.contains(" vs ", regex=False)]
    return count(table, src, int(idx[0]), "n") if len(idx) else None


def build_flow(inp: ReportInputs) -> Flow:
    plan = inp.plan
    arms = plan.arms
    adsl = inp.adsl
    itt = adsl.loc[adsl["ITTFL"] == "Y"]
    acc = inp.row_accounting
    top = ["Participant records in the extract"]
    excluded = ["Excluded at validation"]
    if acc is not None and (acc["table"] == "participants").any():
        r = acc.loc[acc["table"] == "participants"].iloc[0]
        top.append(f"participants.csv rows: {int(r['rows_in'])}")
        excluded.append(f"participant rows quarantined: {int(r['rows_quarantined'])}")
    else:
        top.append("validation outputs not found")
        excluded.append("not known (no row accounting)")
    not_itt = len(adsl) - len(itt)
    if not_itt:
        excluded.append(f"arm not one of the plan's two arms: {not_itt}")
    randomised = ["Randomised (intention to treat)", f"n = {len(itt)}"]
    visits = _visit_counts(inp.adqs.loc[inp.adqs["USUBJID"].isin(itt["USUBJID"])], arms)
    surv = inp.survival
    sraw = surv.raw
    primary = _per_arm_n(surv, (sraw["analysis"] == "primary") & (sraw["estimate_type"] == "risk"), arms)
    tenure = _per_arm_n(surv, (sraw["analysis"] == "community_tenure")
                        & (sraw["estimate_type"] == "median_time"), arms)
    qraw = inp.questionnaires.raw
    wem = qraw.index[(qraw.get("paramcd", pd.Series(dtype=str)) == "WEMWBS")
                     & (qraw.get("avisit", pd.Series(dtype=str)) == "month_12")]
    fu = plan.followup_days
    arm_flows = []
    from .svg import ArmFlow

    for k, a in enumerate(arms):
        d = itt.loc[itt["ARM"] == a]
        n = len(d)
        contact = int((d["NCONTACT"] > 0).sum())
        alloc = [f"Allocated to {arm_label(a).lower()}", f"n = {n}",
                 f"received at least one peer contact: {contact} ({_pct(contact, n)})"]
        follow = ["Follow-up",
                  f"withdrew from follow-up: {int(d['WDDT'].notna().sum())}",
                  f"died: {int(d['DTHDT'].notna().sum())}",
                  f"followed for the full {fu} days: {int((d['FUDAYS'] >= fu).sum())}"]
        quest = ["Questionnaires returned"] + [
            f"{VISITS[v].lower()}: {visits[v][a]} ({_pct(visits[v][a], n)})" for v in VISITS]
        analysis = ["Analysed"]
        if primary[a] is not None:
            analysis.append(f"primary outcome: {primary[a].text}")
        if tenure[a] is not None:
            analysis.append(f"community tenure (KM, Cox, RMST): {tenure[a].text}")
        if len(wem):
            col = "n_treated" if k == 0 else "n_control"
            c = count(inp.questionnaires, "questionnaires", int(wem[0]), col)
            if c is not None:
                analysis.append(f"WEMWBS at month 12 (ANCOVA): {c.text}")
        arm_flows.append(ArmFlow(arm_label(a), alloc, follow, quest, analysis))
    from .svg import flow_diagram

    svg = flow_diagram(top, excluded, randomised, arm_flows, prefix="flow")
    return Flow(svg, included_table(inp), list(arms))


def included_table(inp: ReportInputs) -> list[dict[str, Any]]:
    """Participants included in each analysis: total and per arm where the table has it."""
    arms = inp.plan.arms
    surv = inp.survival
    r = surv.raw
    rows: list[dict[str, Any]] = []

    def add(label, mask, arm_type=None):
        total = _between_n(surv, "survival", mask)
        per = _per_arm_n(surv, mask & (r["estimate_type"] == arm_type), arms) if arm_type else {}
        if total is None and not any(per.values()):
            return
        rows.append({"label": label, "total": total, "arms": [per.get(a) for a in arms]})

    add("Primary outcome (readmission within the follow-up)", r["analysis"] == "primary", "risk")
    add("Community tenure (Kaplan–Meier, log-rank, Cox, RMST)",
        r["analysis"] == "community_tenure", "median_time")
    add("Detained readmission", r["analysis"] == "detained_readmission", "median_time")
    add("Competing risk (Aalen–Johansen, cause-specific Cox)",
        r["analysis"] == "competing_risks", "cumulative_incidence")
    add("Recurrent readmissions, negative binomial",
        (r["analysis"] == "recurrent_readmission") & (r["estimate_type"] == "rate_ratio"))
    add("Recurrent readmissions, Andersen–Gill",
        (r["analysis"] == "recurrent_readmission") & (r["estimate_type"] == "hazard_ratio"))
    add("Days in hospital", r["analysis"] == "days_in_hospital", "mean")
    q = inp.questionnaires
    others = []
    for i in q.raw.index:
        if q.raw.at[i, "analysis"] != "questionnaire_ancova" or "paramcd" not in q.raw.columns:
            continue
        pc, visit = q.raw.at[i, "paramcd"], q.raw.at[i, "avisit"]
        if pc not in DOWNSTREAM_SCORES:
            others.append(int(i))
            continue
        label = f"Questionnaire ANCOVA: {pc} at {VISITS.get(visit, visit).lower()}"
        rows.append({"label": label, "total": count(q, "questionnaires", i, "n"),
                     "arms": [count(q, "questionnaires", i, "n_treated"),
                              count(q, "questionnaires", i, "n_control")]})
    if others:
        n = q.num.loc[others, "n"]
        lo, hi = int(n.idxmin()), int(n.idxmax())
        rows.append({"label": f"Questionnaire ANCOVA: the other {len(others)} scores and visits "
                              "(smallest to largest n)",
                     "total": None, "range": (count(q, "questionnaires", lo, "n"),
                                              count(q, "questionnaires", hi, "n")),
                     "arms": [None, None]})
    if inp.mediation is not None:
        m = inp.mediation
        planned = list((inp.plan.raw.get("mediation") or {}).get("outcomes") or [])
        groups = sorted(m.num.groupby("outcome", sort=False),
                        key=lambda kv: planned.index(kv[0]) if kv[0] in planned else len(planned))
        for outcome, g in groups:
            n = pd.to_numeric(g["n"], errors="coerce").dropna()  # NA: not estimable, n unknown
            k = g.groupby("mediator", sort=False).ngroups
            rows.append({"label": f"Mediation, {outcome_label(str(outcome))}: {k} mediator "
                                  "analyses (smallest to largest n, complete cases)",
                         "total": None,
                         "range": (count(m, "mediation", int(n.idxmin()), "n"),
                                   count(m, "mediation", int(n.idxmax()), "n"))
                         if len(n) else (None, None),
                         "arms": [None, None]})
    return rows


# ----------------------------------------------------------------------------- Table 1


@dataclass
class T1Row:
    label: str
    cells: list[str]
    level: int = 0  # 0 = variable heading, 1 = statistic/level


def _mean_sd(x: pd.Series) -> str:
    x = x.dropna().astype(float)
    if len(x) == 0:
        return "\u2014"
    sd = x.std(ddof=1) if len(x) > 1 else float("nan")
    return f"{x.mean():.1f} ({fmt.number(sd, 1)})"


def _median_iqr(x: pd.Series, decimals: int = 1) -> str:
    x = x.dropna().astype(float)
    if len(x) == 0:
        return "\u2014"
    q1, med, q3 = np.quantile(x.to_numpy(), [0.25, 0.5, 0.75])
    return f"{med:.{decimals}f} ({q1:.{decimals}f} to {q3:.{decimals}f})"


def _n_pct(k: int, n: int) -> str:
    return f"{k} ({100 * k / n:.1f}%)" if n else "0"


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype(str).str.strip() == "")


def baseline_table(inp: ReportInputs) -> tuple[list[str], list[T1Row]]:
    arms = inp.plan.arms
    adsl = inp.adsl.loc[inp.adsl["ITTFL"] == "Y"]
    groups = [adsl.loc[adsl["ARM"] == a] for a in arms] + [adsl]
    heads = [f"{arm_label(a)} (n = {len(g)})" for a, g in zip(arms, groups, strict=False)]
    heads.append(f"Total (n = {len(adsl)})")
    rows: list[T1Row] = []

    def continuous(label, col, decimals=1, data=None, source=None):
        src = groups if data is None else data
        rows.append(T1Row(label, ["" for _ in src]))
        rows.append(T1Row("Mean (SD)", [_mean_sd(g[col]) for g in src], 1))
        rows.append(T1Row("Median (IQR)", [_median_iqr(g[col], decimals) for g in src], 1))
        rows.append(T1Row("Missing", [_n_pct(int(_blank(g[col]).sum()), len(g)) for g in src], 1))

    def categorical(label, col, levels=None, labeller=code_label):
        rows.append(T1Row(label, ["" for _ in groups]))
        vals = adsl[col].astype(str)
        present = sorted(set(vals[~_blank(adsl[col])]))
        levels = [v for v in (levels or []) if v in present] + [v for v in present
                                                                if v not in (levels or [])]
        for lev in levels:
            rows.append(T1Row(labeller(lev), [_n_pct(int((g[col].astype(str) == lev).sum()), len(g))
                                             for g in groups], 1))
        rows.append(T1Row("Missing", [_n_pct(int(_blank(g[col]).sum()), len(g)) for g in groups], 1))

    continuous("Age (years)", "AGE", 0)
    categorical("Sex", "SEX", ["female", "male", "other", "not_stated"])
    categorical("Diagnosis group", "DIAGGR",
                ["psychosis", "bipolar", "depression_anxiety", "personality", "other"])
    continuous("Psychiatric admissions in the 2 years before the index admission", "PRIORADM", 0)
    rows.append(T1Row("Detained during the index admission", ["" for _ in groups]))
    rows.append(T1Row("Yes", [_n_pct(int((g["DETINDFL"] == "Y").sum()), len(g)) for g in groups], 1))
    rows.append(T1Row("No", [_n_pct(int((g["DETINDFL"] == "N").sum()), len(g)) for g in groups], 1))
    rows.append(T1Row("Missing", [_n_pct(int((~g["DETINDFL"].isin(["Y", "N"])).sum()), len(g))
                                  for g in groups], 1))
    categorical("Site", "SITEID", labeller=lambda s: s)
    # baseline scores
    adqs = inp.adqs
    base = adqs.loc[(adqs["AVISIT"] == "baseline"), ["USUBJID", "PARAMCD", "PARAM", "AVAL"]]
    params = base.drop_duplicates("PARAMCD").set_index("PARAMCD")["PARAM"]
    for pc in PRIMARY_SCORE_ORDER:
        if pc not in params.index:
            continue
        vals = base.loc[base["PARAMCD"] == pc].drop_duplicates("USUBJID").set_index("USUBJID")["AVAL"]
        data = [pd.DataFrame({"v": vals.reindex(g["USUBJID"]).to_numpy()}) for g in groups]
        continuous(f"Baseline {params[pc]}", "v", 1, data)
    return heads, rows


# ----------------------------------------------------------------------------- estimates


@dataclass
class ArmTable:
    """Per-arm quantities: one line per (outcome, estimate type), a cell per arm."""

    heads: list[str]
    rows: list[dict[str, Any]]


@dataclass
class Block:
    key: str
    title: str
    by_arm: ArmTable | None
    effects: list[Estimate]
    checks: list[Estimate]
    figure: str | None = None
    figure_caption: str = ""
    notes: list[str] = field(default_factory=list)


def analysis_block(inp: ReportInputs, analysis: str, title: str) -> Block:
    t = inp.survival
    r = t.raw
    arms = inp.plan.arms
    idx = r.index[r["analysis"] == analysis]
    by_arm_rows = []
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    effects, checks = [], []
    multi_outcome = r.loc[idx, "outcome"].nunique() > 1
    for i in idx:
        contrast, et, outcome = r.at[i, "contrast"], r.at[i, "estimate_type"], r.at[i, "outcome"]
        label = TYPE_LABELS.get(et, et.replace("_", " "))
        if multi_outcome:
            label = f"{outcome}: {label}"
        if contrast in arms:
            key = (outcome, et)
            if key not in seen:
                seen[key] = {"label": label, "cells": {a: None for a in arms}}
                by_arm_rows.append(seen[key])
            seen[key]["cells"][contrast] = estimate(t, "survival", int(i), label)
        elif " vs " in contrast:
            effects.append(estimate(t, "survival", int(i), label))
        else:
            checks.append(estimate(t, "survival", int(i), f"{contrast}"))
    for row in by_arm_rows:
        row["cells"] = [row["cells"][a] for a in arms]
    by_arm = ArmTable([arm_label(a) for a in arms], by_arm_rows) if by_arm_rows else None
    return Block(analysis, title, by_arm, effects, checks)


def survival_blocks(inp: ReportInputs) -> dict[str, list[Block]]:
    """Blocks by report section; analyses not known here go to ``other``."""
    plan = inp.plan
    s = plan.survival
    known = {
        "primary": ["primary"],
        "tenure": ["community_tenure", "detained_readmission"],
        "competing": ["competing_risks", "recurrent_readmission", "days_in_hospital"],
    }
    present = list(pd.unique(inp.survival.raw["analysis"]))
    out: dict[str, list[Block]] = {k: [] for k in (*known, "other")}
    for section, names in known.items():
        for a in names:
            if a in present:
                out[section].append(analysis_block(inp, a, ANALYSIS_TITLES[a]))
    for a in present:
        if not any(a in v for v in known.values()):
            out["other"].append(analysis_block(inp, a, a.replace("_", " ").capitalize()))
    figs = {"community_tenure": ("km_readmit", "Kaplan–Meier estimate of the proportion not "
                                 "readmitted (community tenure), KMunicate layout: 95% "
                                 "confidence bands, censoring marks, and under the axis the "
                                 "number at risk, cumulative events and cumulative censored."),
            "detained_readmission": ("km_readmdet", "Kaplan–Meier estimate of the proportion "
                                     "without a detained readmission, KMunicate layout.")}
    from .svg import inline_svg

    tau = s.get("rmst_tau_days") or plan.followup_days
    for b in out["tenure"]:
        name, caption = figs[b.key]
        if name in inp.figures:
            b.figure = inline_svg(inp.figures[name], name, label=caption)
            b.figure_caption = caption
        else:
            b.notes.append(f"Figure figures/{name}.svg not found.")
        b.notes.append(
            f"Cox model stratified by {', '.join(s['strata'])} and adjusted for "
            f"{', '.join(s['cox_covariates'])} (Efron ties); log-rank stratified by "
            f"{', '.join(s['strata'])}; RMST to {tau} days (Kaplan–Meier based). A median "
            "'not reached' means fewer than half had the event.")
    for b in out["primary"]:
        b.notes.append(
            f"Logistic regression adjusted for {', '.join(s['primary_covariates'])}; risks by "
            "standardisation over all randomised participants; strategy for intercurrent "
            f"events: {s['primary_strategy'].replace('_', ' ')}.")
    return out


# ----------------------------------------------------------------------------- questionnaires


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


def _registry_info() -> dict[str, tuple[int, str, bool]]:
    info = {}
    for k, (key, inst) in enumerate(load_registry().items()):
        for s in inst.scores:
            info[s.paramcd] = (k, key, s.higher_is_better)
    return info


def questionnaire_rows(inp: ReportInputs) -> tuple[list[dict[str, Any]], list[Estimate]]:
    """ANCOVA rows grouped by score (downstream outcomes first), and any other rows."""
    q = inp.questionnaires
    r = q.raw
    if r.empty:
        return [], []
    info = _registry_info()
    rows, other = [], []
    order = []
    for i in r.index:
        if r.at[i, "analysis"] != "questionnaire_ancova" or "paramcd" not in r.columns:
            other.append(estimate(q, "questionnaires", int(i), f"{r.at[i, 'analysis']}: {r.at[i, 'outcome']}"))
            continue
        pc, visit = r.at[i, "paramcd"], r.at[i, "avisit"]
        k, _key, hib = info.get(pc, (999, "", True))
        prim = PRIMARY_SCORE_ORDER.index(pc) if pc in PRIMARY_SCORE_ORDER else 100 + k
        label = r.at[i, "param"] if "param" in r.columns else pc
        est = estimate(q, "questionnaires", int(i), label)

        def mean(col, i=i):
            return fmt.cell(r.at[i, col], estimate_type="score_mean", src="questionnaires",
                            row=int(i), col=col) if col in r.columns else None

        rows.append(QRow(
            score=f"{label} ({pc})", visit=VISITS.get(visit, visit),
            direction="higher is better" if hib else "lower is better",
            mean_t=mean("mean_treated"), mean_c=mean("mean_control"),
            n_t=count(q, "questionnaires", int(i), "n_treated"),
            n_c=count(q, "questionnaires", int(i), "n_control"),
            est=est, excluded=count(q, "questionnaires", int(i), "n_excluded")))
        order.append((prim, pc, list(VISITS).index(visit) if visit in VISITS else 9))
    rows = [x for _, x in sorted(zip(order, rows, strict=True), key=lambda z: z[0])]
    groups: list[dict[str, Any]] = []
    for row in rows:
        if not groups or groups[-1]["score"] != row.score:
            groups.append({"score": row.score, "direction": row.direction, "rows": []})
        groups[-1]["rows"].append(row)
    return groups, other


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

    @property
    def joint(self) -> bool:
        return len(self.members) > 1

    @property
    def shown(self) -> str:
        return " + ".join(self.members) + (" (jointly)" if self.joint else "")


@dataclass
class MedGroup:
    outcome: str
    label: str
    estimate_type: str
    rows: list[MedRow]
    diagram: str | None


@dataclass
class Mediation:
    groups: list[MedGroup]
    other: list[Estimate]
    forest: str | None
    sensitivity: list[dict[str, Any]]
    sensitivity_figure: str | None
    n_boot: list[str]
    seeds: list[str]


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
    other = [estimate(m, "mediation", int(i), f"{r.at[i, 'outcome']}, {r.at[i, 'mediator']}: "
                      f"{r.at[i, 'effect']}", analysis="mediation")
             for i in r.index if r.at[i, "effect"] not in EFFECT_LABELS]
    plan_outcomes = list((inp.plan.raw.get("mediation") or {}).get("outcomes") or [])
    scale_order = ("mean_difference", "risk_difference", "median_difference", "odds_ratio")

    def group_key(k):
        o, e = k
        return (plan_outcomes.index(o) if o in plan_outcomes else len(plan_outcomes),
                scale_order.index(e) if e in scale_order else len(scale_order))

    keys = sorted(r.groupby(["outcome", "estimate_type"], sort=False).groups, key=group_key)
    for outcome, et in keys:
        g = r.loc[(r["outcome"] == outcome) & (r["estimate_type"] == et)]
        rows: dict[str, MedRow] = {}
        for i in g.index:
            med = g.at[i, "mediator"]
            if med not in rows:
                mech = mechanism_of(med, g.at[i, mech_col] if mech_col else None, mechs)
                rows[med] = MedRow(mech, mechanism_title(mech, mechs), med, _members(g, i),
                                   count(m, "mediation", int(i), "n"), {})
            if "status" in g.columns and g.at[i, "status"] == "not estimable" and not rows[med].reason:
                rows[med].reason = str(g.at[i, "reason"]) or "not estimable"
            eff = g.at[i, "effect"]
            if eff not in EFFECT_LABELS:
                continue
            rows[med].cells[eff] = estimate(m, "mediation", int(i), EFFECT_LABELS.get(eff, eff),
                                            estimate_type=_med_type(eff, et), analysis="mediation")
        ordered = sorted(rows.values(), key=lambda row: (order.get(row.mechanism, len(order)),
                                                         len(row.members), row.mediator))
        label = outcome_label(str(outcome))
        groups.append(MedGroup(str(outcome), label, str(et), ordered,
                               _mechanism_svg(label, str(et), ordered, len(groups), inp, mechs)))
    return Mediation(groups, other, None, sensitivity_rows(inp), None,
                     sorted(set(r["n_boot"])) if "n_boot" in r.columns else [],
                     sorted(set(r["seed"])) if "seed" in r.columns else [])


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
            measures=f"mediator{'s' if row.joint else ''}: {', '.join(row.members)}",
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


# ----------------------------------------------------------------------------- scoring rules


def scoring_rules(plan_raw: dict) -> tuple[list[dict[str, str]], list[str]]:
    rows = []
    for key, inst in load_registry().items():
        for rule, v in inst.rules_to_sign_off().items():
            rows.append({"instrument": f"{inst.name} ({key})", "rule": rule,
                         "status": str(v.get("status", "")), "source": str(v.get("source", ""))})
    overrides = []
    for k, v in sorted((plan_raw.get("missing_items") or {}).items()):
        overrides.append(f"missing_items.{k} = {v}: scored when at most {v} items are missing "
                         "(prorated), replacing the instrument's default")
    for k, v in sorted((plan_raw.get("reversed_items") or {}).items()):
        overrides.append(f"reversed_items.{k} = {list(v)}: reverse-scored items replacing the "
                         "instrument's default")
    return rows, overrides


# ----------------------------------------------------------------------------- validation


def validation_section(inp: ReportInputs) -> dict[str, Any] | None:
    s, acc = inp.validation_summary, inp.row_accounting
    if s is None and acc is None:
        return None
    counts = {"error": 0, "warning": 0, "notice": 0}
    explained = 0
    rules = []
    if s is not None:
        for _, r in s.iterrows():
            c = int(r["count"]) if str(r.get("count", "")).isdigit() else 0
            counts[r["severity"]] = counts.get(r["severity"], 0) + c
            ex = str(r.get("explained", "0"))
            explained += int(ex) if ex.isdigit() else 0
            rules.append(dict(r))
    accounting = []
    if acc is not None:
        for _, r in acc.iterrows():
            rin, used, q = int(r["rows_in"]), int(r["rows_used"]), int(r["rows_quarantined"])
            accounting.append({"table": r["table"], "in": rin, "used": used, "quarantined": q,
                               "balanced": rin == used + q})
    # who accepted which explained findings, and when (issues_explained.tsv; absent in
    # outputs of an earlier version: the counts per rule above still say how many)
    audit = [] if inp.validation_explained is None else inp.validation_explained.to_dict("records")
    return {"status": inp.validation_status, "counts": counts, "explained": explained,
            "rules": rules, "accounting": accounting, "have_summary": s is not None,
            "audit": audit, "have_audit": inp.validation_explained is not None}
