"""The flow of participants (CONSORT diagram, who is in each analysis) and Table 1, from the
derived datasets and the estimates tables (counts, means, SDs, medians and IQRs only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from outcomes.labels import arm_label, param_label

from . import fmt
from .design import designs, row_design
from .estimates import (
    DOWNSTREAM_SCORES,
    PRIMARY_SCORE_ORDER,
    VISITS,
    code_label,
    count,
)
from .fmt import Num
from .inputs import ReportInputs, Table
from .mediation import outcome_label
from .questionnaires import analysis_label, is_effect, main_analysis

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


def complete_case_exclusions(inp: ReportInputs, itt: pd.DataFrame, pc: str, visit: str
                             ) -> dict[str, dict[str, int]]:
    """Per arm, why randomised participants are not in the complete-case ANCOVA of score
    ``pc`` at ``visit``: the first that applies of died before the visit, visit after the
    data cut, withdrew before it, not returned (the score missing at a due visit), and
    no baseline score (with the follow-up score)."""
    from outcomes.imputation.frame import VISIT_DAYS, not_due

    adqs = inp.adqs
    has = adqs.loc[(adqs["PARAMCD"] == pc) & adqs["AVAL"].notna()]
    at_visit = itt["USUBJID"].isin(has.loc[has["AVISIT"] == visit, "USUBJID"]).to_numpy()
    at_base = itt["USUBJID"].isin(has.loc[has["AVISIT"] == "baseline", "USUBJID"]).to_numpy()
    why = not_due(itt, visit) if visit in VISIT_DAYS else np.full(len(itt), "")
    nominal = itt["INDEXDT"] + pd.Timedelta(days=VISIT_DAYS.get(visit, 0))
    withdrew = (itt["WDDT"].notna() & (itt["WDDT"] < nominal)).to_numpy()
    cat = np.where(why == "died", "died", np.where(why == "data cut", "data cut",
                   np.where(withdrew, "withdrew", "not returned")))
    cat = np.where(at_visit, np.where(at_base, "", "no baseline score"), cat)
    out = {}
    for a in inp.plan.arms:
        mine = cat[(itt["ARM"] == a).to_numpy()]
        out[a] = {k: int((mine == k).sum()) for k in EXCLUSION_REASONS}
    return out


#: Why a participant is not in a complete-case analysis, in the order of the flow.
EXCLUSION_REASONS = ("died", "data cut", "withdrew", "not returned", "no baseline score")
EXCLUSION_WORDS = {"died": "died before the visit", "data cut": "visit after the data cut",
                   "withdrew": "withdrew", "not returned": "not returned",
                   "no baseline score": "no baseline score"}


def primary_exclusion_lines(inp: ReportInputs, arm: str, n: int, k: int, horizon: int
                            ) -> list[str]:
    """The flow's lines of the ``k`` participants of ``arm`` not in the primary analysis:
    their status at the horizon is not known. The reasons are ADTTE's censoring
    descriptions of READMIT before the horizon when they account for exactly ``k``
    participants (without or with the deaths, which some strategies count), else none."""
    head = f"not in the primary analysis: {k} of {n} (status at day {horizon} not known)"
    t = inp.adtte
    if t is None or not {"CNSR", "AVAL", "CNSDTDSC"} <= set(t.columns):
        return [head]
    c = t.loc[(t["ARM"] == arm) & (t["CNSR"] == 1) & (t["AVAL"] < horizon), "CNSDTDSC"]
    c = c.astype(str).str.lower().value_counts()
    for counts in (c.loc[~c.index.str.startswith("death")], c):
        if int(counts.sum()) == k:
            return [head] + [f"\u2013 {r}, not readmitted: {v}"
                             for r, v in counts.sort_index().items()]
    return [head]


def _exclusion_lines(total: int, counts: dict[str, int], what: str) -> list[str]:
    """The flow's lines of the participants not in an analysis, with the reasons."""
    k = sum(counts.values())
    if not k:
        return [f"not in the {what}: none"]
    return [f"not in the {what}: {k} of {total}"] + [
        f"\u2013 {EXCLUSION_WORDS[r]}: {counts[r]}" for r in EXCLUSION_REASONS if counts[r]]


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
    main, beside = main_analysis(inp)
    wem = qraw.index[(qraw.get("paramcd", pd.Series(dtype=str)) == "WEMWBS")
                     & (qraw.get("avisit", pd.Series(dtype=str)) == "month_12")
                     & (qraw.get("analysis", pd.Series(dtype=str)) == main)]
    wem_label = f"ANCOVA, {analysis_label(main)}" if beside else "ANCOVA"
    from .questionnaires import CC_ANALYSIS

    cc_rows = qraw.index[(qraw.get("paramcd", pd.Series(dtype=str)) == "WEMWBS")
                         & (qraw.get("avisit", pd.Series(dtype=str)) == "month_12")
                         & (qraw.get("analysis", pd.Series(dtype=str)) == CC_ANALYSIS)]
    cc_why = (complete_case_exclusions(inp, itt, "WEMWBS", "month_12") if len(cc_rows)
              and {"PARAMCD", "AVAL"} <= set(inp.adqs.columns) else None)
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
        if (prim := primary[a]) is not None:
            analysis.append(f"primary outcome: {prim.text}")
            if prim.text.isdigit() and int(prim.text) < n:
                analysis += primary_exclusion_lines(inp, a, n, n - int(prim.text), fu)
            elif prim.text.isdigit():
                analysis.append("not in the primary analysis: none")
        if (ten := tenure[a]) is not None:
            analysis.append(f"community tenure (KM, Cox, RMST): {ten.text}")
        if len(wem):
            col = "n_treated" if k == 0 else "n_control"
            c = count(inp.questionnaires, "questionnaires", int(wem[0]), col)
            if c is not None:
                analysis.append(f"WEMWBS at month 12 ({wem_label}): {c.text}")
        if cc_why is not None:
            col = "n_treated" if k == 0 else "n_control"
            c = count(inp.questionnaires, "questionnaires", int(cc_rows[0]), col)
            if c is not None:
                analysis.append(f"WEMWBS at month 12, complete cases: {c.text}")
                analysis += _exclusion_lines(n, cc_why[a], "complete-case analysis")
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
    main, beside = main_analysis(inp)
    # one row per score and visit: the participants are the same under both designs
    shown = (row_design(q.raw) == designs(inp).shown) & is_effect(q.raw)
    for analysis in (main, beside) if beside else (main,):
        name = f"Questionnaire ANCOVA ({analysis_label(analysis)})" if beside else \
            "Questionnaire ANCOVA"
        others = []
        for i in q.raw.index:
            if q.raw.at[i, "analysis"] != analysis or "paramcd" not in q.raw.columns \
                    or not shown[i]:
                continue
            pc, visit = q.raw.at[i, "paramcd"], q.raw.at[i, "avisit"]
            if pc not in DOWNSTREAM_SCORES:
                others.append(int(i))
                continue
            rows.append({"label": f"{name}: {param_label(pc)} at {VISITS.get(visit, visit).lower()}",
                         "total": count(q, "questionnaires", i, "n"),
                         "arms": [count(q, "questionnaires", i, "n_treated"),
                                  count(q, "questionnaires", i, "n_control")]})
        if others:
            n = q.num.loc[others, "n"]
            lo, hi = int(n.idxmin()), int(n.idxmax())
            rows.append({"label": f"{name}: the other {len(others)} scores and visits "
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
            if not len(n):
                rows.append({"label": f"Mediation, {outcome_label(str(outcome))}: {k} "
                                      "mediator analyses", "total": None, "arms": [None, None]})
                continue
            lo, hi = int(n.idxmin()), int(n.idxmax())
            same = n[lo] == n[hi]
            what = outcome_label(str(outcome))
            if what[:2].islower() or what[1:2].islower():  # a word, not an acronym
                what = what[0].lower() + what[1:]
            label = f"Mediation, {what}: {k} mediator analyses"
            if same:  # one n for all: a number, not a range from it to itself
                rows.append({"label": f"{label} (complete cases)",
                             "total": count(m, "mediation", lo, "n"), "arms": [None, None]})
                continue
            rows.append({"label": f"{label} (smallest to largest n, complete cases)",
                         "total": None,
                         "range": (count(m, "mediation", lo, "n"),
                                   count(m, "mediation", hi, "n")),
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

    def missing_row(counts, src):
        """A "Missing" line only where something is missing (no "Missing 0 (0.0%)" rows)."""
        if any(counts):
            rows.append(T1Row("Missing", [_n_pct(k, len(g)) for k, g in zip(counts, src,
                                                                             strict=True)], 1))

    def continuous(label, col, decimals=1, data=None, source=None):
        src = groups if data is None else data
        rows.append(T1Row(label, ["" for _ in src]))
        rows.append(T1Row("Mean (SD)", [_mean_sd(g[col]) for g in src], 1))
        rows.append(T1Row("Median (IQR)", [_median_iqr(g[col], decimals) for g in src], 1))
        missing_row([int(_blank(g[col]).sum()) for g in src], src)

    def categorical(label, col, levels=None, labeller=code_label):
        rows.append(T1Row(label, ["" for _ in groups]))
        vals = adsl[col].astype(str)
        present = sorted(set(vals[~_blank(adsl[col])]))
        levels = [v for v in (levels or []) if v in present] + [v for v in present
                                                                if v not in (levels or [])]
        for lev in levels:
            rows.append(T1Row(labeller(lev), [_n_pct(int((g[col].astype(str) == lev).sum()), len(g))
                                             for g in groups], 1))
        missing_row([int(_blank(g[col]).sum()) for g in groups], groups)

    continuous("Age (years)", "AGE", 0)
    categorical("Sex", "SEX", ["female", "male", "other", "not_stated"])
    categorical("Diagnosis group", "DIAGGR",
                ["psychosis", "bipolar", "depression_anxiety", "personality", "other"])
    continuous("Psychiatric admissions in the 2 years before the index admission", "PRIORADM", 0)
    rows.append(T1Row("Detained during the index admission", ["" for _ in groups]))
    rows.append(T1Row("Yes", [_n_pct(int((g["DETINDFL"] == "Y").sum()), len(g)) for g in groups], 1))
    rows.append(T1Row("No", [_n_pct(int((g["DETINDFL"] == "N").sum()), len(g)) for g in groups], 1))
    missing_row([int((~g["DETINDFL"].isin(["Y", "N"])).sum()) for g in groups], groups)
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
