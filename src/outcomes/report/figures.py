"""Figures drawn while rendering the report (from the tables, no model is fitted).

Forest plots go through :func:`outcomes.survival.plots.forest` (the project's one forest
plot); the sensitivity curves use the same deterministic matplotlib settings. Each function
returns the SVG text, written to a temporary file and read back.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from outcomes.instruments import load_registry
from outcomes.labels import arm_label, param_label, score_abbrev, words
from outcomes.survival.plots import (
    COLOURS,
    PROBABILITY_DIFFERENCES,
    RC,
    _save,
    forest,
    split_not_estimable,
)
from outcomes.survival.run import SENSITIVITY
from outcomes.survival.tables import KEY

from .design import designs, row_design, twins
from .estimates import EFFECT_LABELS, PRIMARY_SCORE_ORDER, VISITS
from .inputs import ReportInputs
from .mediation import mechanism_of, mechanisms, outcome_label
from .questionnaires import MI_ANALYSIS, is_effect, main_analysis, registry_info, score_order

FOREST_PANELS = {
    "ratio": ("odds_ratio", "conditional_odds_ratio", "logrank_hazard_ratio", "hazard_ratio",
              "rate_ratio", "risk_ratio", "subdistribution_hazard_ratio"),
    "probability": ("risk_difference", "cif_difference"),
    "time": ("rmst_difference",),
    "days": ("mean_difference", "median_difference"),
}
FOREST_LABELS = {
    "odds_ratio": "odds ratio (marginal)",
    "conditional_odds_ratio": "odds ratio (conditional)",
    "logrank_hazard_ratio": "hazard ratio (log-rank)",
    "hazard_ratio": "hazard ratio (Cox)",
    "rate_ratio": "rate ratio (negative binomial)",
    "risk_difference": "risk difference",
    "cif_difference": "cumulative incidence difference",
    "rmst_difference": "RMST difference",
    "mean_difference": "difference in mean days",
    "median_difference": "difference in median days",
}


def forest_xlabels(treated: str, control: str) -> dict[str, str]:
    """Axis labels of the survival panels of the all-effects forest plot."""
    vs = f"{treated.lower()} \u2212 {control.lower()}"
    return {"ratio": f"Ratio, {treated.lower()} / {control.lower()} (log scale)",
            "probability": f"Difference in risk, percentage points ({vs})",
            "time": f"Difference in restricted mean time free of the event, days ({vs})",
            "days": f"Difference in days in hospital ({vs})"}


def favours(treated: str, control: str, lower_favours_treated: bool = True) -> tuple[str, str]:
    """(left, right) words of a forest panel's reference line."""
    t, c = f"favours {treated.lower()}", f"favours {control.lower()}"
    return (t, c) if lower_favours_treated else (c, t)


#: panels whose lower values favour the treated arm (events, days in hospital)
LOWER_FAVOURS_TREATED = {"ratio": True, "probability": True, "time": False, "days": True}


def _svg(draw) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "figure.svg"
        draw(path)
        return path.read_text(encoding="utf-8")


def _short(analysis: str) -> str:
    return analysis.replace("_", " ").capitalize()


def score_panels(q: pd.DataFrame) -> pd.DataFrame:
    """Questionnaire rows with ``label`` (score label and visit), ``panel`` (one per
    instrument and score range, so that no axis mixes scales) and the registry's order."""
    info = registry_info()
    scores = {s.paramcd: (inst, s) for inst in load_registry().values() for s in inst.scores}
    q = q.copy()
    q["label"] = [f"{param_label(pc)}, {VISITS.get(v, v).lower()}"
                  for pc, v in zip(q["paramcd"], q["avisit"], strict=True)]
    q["panel"] = [f"scores:{scores[pc][0].key}:{scores[pc][1].range}" if pc in scores
                  else f"scores:{pc}" for pc in q["paramcd"]]
    first = {pc: PRIMARY_SCORE_ORDER.index(inst.scores[0].paramcd)
             if inst.scores[0].paramcd in PRIMARY_SCORE_ORDER else 99
             for pc, (inst, _) in scores.items()}  # instruments in the report's order
    order = sorted(range(len(q)), key=lambda k: (first.get(q["paramcd"].iloc[k], 999),
                                                 scores[q["paramcd"].iloc[k]][1].range[1]
                                                 - scores[q["paramcd"].iloc[k]][1].range[0]
                                                 if q["paramcd"].iloc[k] in scores else 0,
                                                 score_order(q["paramcd"].iloc[k],
                                                             q["avisit"].iloc[k], info)))
    return q.iloc[order]


def score_panel_texts(q: pd.DataFrame, treated: str, control: str
                      ) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Axis label and favours words of each questionnaire panel of :func:`score_panels`."""
    scores = {s.paramcd: (inst, s) for inst in load_registry().values() for s in inst.scores}
    xl, fav = {}, {}
    for key, g in q.groupby("panel", sort=False):
        pcs = list(pd.unique(g["paramcd"]))
        if pcs[0] not in scores:
            xl[key], fav[key] = f"{pcs[0]}: adjusted mean difference", favours(treated, control)
            continue
        inst, s = scores[pcs[0]]
        what = param_label(pcs[0]) if len(pcs) == 1 else f"{inst.name} scores"
        lo, hi = (f"{v:g}".replace("-", "\u2212") for v in s.range)
        xl[key] = f"{what} ({lo} to {hi}): adjusted mean difference, points"
        fav[key] = favours(treated, control, not s.higher_is_better)
    return xl, fav


def all_effects_table(inp: ReportInputs) -> pd.DataFrame:
    """The between-arm effects of survival.tsv and questionnaires.tsv with panel and label."""
    parts = []
    shown = designs(inp).shown  # the main design's rows (the other is beside them in the tables)
    s = inp.survival.num
    first, _ = twins(inp.survival.raw, shown, KEY)
    s = s.loc[first]
    s = s.loc[s["contrast"].astype(str).str.contains(" vs ", regex=False)
              & (s["analysis"] != SENSITIVITY)].copy()  # their own forest (report.sensitivity)
    panel = pd.Series(pd.NA, index=s.index, dtype=object)
    for key, types in FOREST_PANELS.items():
        panel[s["estimate_type"].isin(types)] = key
    s["panel"] = panel
    s = s.loc[s["panel"].notna()]
    s["label"] = [f"{_short(a)}: {FOREST_LABELS.get(t, t.replace('_', ' '))}"
                  + (f", {words(o)}" if a in ("competing_risks", "recurrent_readmission") else "")
                  for a, t, o in zip(s["analysis"], s["estimate_type"], s["outcome"], strict=True)]
    parts.append(s)
    q = inp.questionnaires.num
    if not q.empty:
        main, _ = main_analysis(inp)  # the other analysis is beside it in its section
        of_design = row_design(inp.questionnaires.raw) == shown
        q = q.loc[q["contrast"].astype(str).str.contains(" vs ", regex=False)
                  & (q["analysis"] == main) & of_design
                  & is_effect(inp.questionnaires.raw)].copy()  # one row per score and visit
        if "paramcd" in q.columns:
            q = score_panels(q)
        else:
            q["label"], q["panel"] = q["outcome"], "scores"
        parts.append(q)
    tab = pd.concat(parts, ignore_index=True)
    order = {k: i for i, k in enumerate(FOREST_PANELS)}
    return tab.sort_values("panel", key=lambda c: c.map(lambda k: order.get(k, len(order))),
                           kind="stable")


def forest_excluded(inp: ReportInputs) -> list[tuple[str, str]]:
    """(label, reason) of the between-arm effects the forest plot leaves out."""
    return split_not_estimable(all_effects_table(inp), "label")[1]


def forest_all(inp: ReportInputs) -> str:
    tab = all_effects_table(inp)
    treated, control = arm_label(inp.plan.treated_arm), arm_label(inp.plan.control_arm)
    xlabels = forest_xlabels(treated, control)
    fav = {k: favours(treated, control, low) for k, low in LOWER_FAVOURS_TREATED.items()}
    if "paramcd" in tab.columns and tab["paramcd"].notna().any():
        how = ", multiple imputation" if main_analysis(inp)[0] == MI_ANALYSIS else ""
        sx, sf = score_panel_texts(tab.loc[tab["paramcd"].notna()], treated, control)
        xlabels.update({k: v + how for k, v in sx.items()})
        fav.update(sf)
    title = f"All between-arm effects (95% CI), {designs(inp).shown_label} design"
    return _svg(lambda p: forest(tab, p, panel="panel", label="label", xlabels=xlabels,
                                 title=title, favours=fav))


#: mediation outcomes whose lower values are better (events); on the others (scores, time
#: to readmission) higher values are better
EVENT_OUTCOMES = frozenset({"readmit_12m"})


def mediation_lower_favours(outcome: str, estimate_type: str) -> bool:
    """Whether an indirect or direct effect below the reference favours the treated arm."""
    return str(outcome) in EVENT_OUTCOMES


def mediation_forest(inp: ReportInputs) -> str | None:
    m = inp.mediation
    if m is None:
        return None
    t = m.num.loc[m.num["effect"].isin(["acme_average", "ade_average"])].copy()
    if t.empty:
        return None
    mechs = mechanisms(inp.plan.raw)
    t["contrast"] = t["contrast"].astype(str)
    t.loc[~t["contrast"].str.contains(" vs ", regex=False), "contrast"] = "treated vs control"
    t["panel"] = [f"{outcome_label(str(o))} ({e.replace('_', ' ')}"
                  f"{', percentage points' if e in PROBABILITY_DIFFERENCES else ''})"
                  for o, e in zip(t["outcome"], t["estimate_type"], strict=True)]
    mech = t["mechanism"] if "mechanism" in t.columns else pd.Series([None] * len(t), index=t.index)
    members = (t["mediators"] if "mediators" in t.columns else t["mediator"]).astype(str)
    t["label"] = [
        f"{mechanism_of(med, mv, mechs)} {' + '.join(score_abbrev(x) for x in mem.split('+'))}: "
        f"{EFFECT_LABELS[e].split(' (')[0].lower()}"
        for med, mv, mem, e in zip(t["mediator"], mech, members, t["effect"], strict=True)]
    # the order of the report's tables: outcomes as planned, then mechanism, singles first
    plan_outcomes = list((inp.plan.raw.get("mediation") or {}).get("outcomes") or [])
    scales = ("mean_difference", "risk_difference", "median_difference", "odds_ratio")
    morder = {k: n for n, k in enumerate(mechs)}
    t["_k"] = [(plan_outcomes.index(o) if o in plan_outcomes else 99,
                scales.index(e) if e in scales else 99,
                morder.get(mechanism_of(med, mv, mechs), 99), mem.count("+"), mem, eff)
               for o, e, med, mv, mem, eff in zip(t["outcome"], t["estimate_type"], t["mediator"],
                                                  mech, members, t["effect"], strict=True)]
    t = t.iloc[sorted(range(len(t)), key=lambda k: t["_k"].iloc[k])].drop(columns="_k")
    treated, control = arm_label(inp.plan.treated_arm), arm_label(inp.plan.control_arm)
    xl = {p: f"{p}: effect of {treated.lower()}" for p in pd.unique(t["panel"])}
    fav = {p: favours(treated, control, mediation_lower_favours(o, e))
           for p, o, e in zip(t["panel"], t["outcome"], t["estimate_type"], strict=True)}
    return _svg(lambda p: forest(t, p, panel="panel", label="label", xlabels=xl, favours=fav,
                                 title="Indirect (ACME) and direct (ADE) effects (95% CI), "
                                       f"{designs(inp).shown_label} design"))


def sensitivity_figure(rows: list[dict]) -> str | None:
    """ACME(rho) with its CI band, one small panel per outcome and mediator (the grids
    chosen by :func:`outcomes.report.mediation.sensitivity_rows`)."""
    if not rows:
        return None
    ncol = min(3, len(rows))
    nrow = int(np.ceil(len(rows) / ncol))

    def draw(path):
        with plt.rc_context(RC):
            fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 2.5 * nrow + 0.4),
                                     squeeze=False, sharex=True)
            for ax in axes.flat[len(rows):]:
                ax.axis("off")
            for k, r in enumerate(rows):
                ax = axes.flat[k]
                g = r["grid"]
                col = COLOURS[0]
                ax.fill_between(g["rho"], g["ci_low"], g["ci_high"], color=col, alpha=0.2, lw=0)
                ax.plot(g["rho"], g["estimate"], color=col, lw=1.5)
                ax.axhline(0, color="0.4", lw=0.8, ls="--")
                ax.axvline(0, color="0.7", lw=0.6)
                ax.set_title(f"{words(r['mediator'])}: {r['outcome']}", fontsize=9)
                ax.spines[["top", "right"]].set_visible(False)
                if k % ncol == 0:
                    ax.set_ylabel("ACME")
                if k // ncol == nrow - 1 or k + ncol >= len(rows):
                    ax.set_xlabel("\u03c1 (sensitivity parameter)")
            fig.suptitle("Average indirect effect (ACME) against \u03c1, with 95% CI")
            fig.tight_layout()
        _save(fig, path)

    return _svg(draw)


def dose_response_figure(panels, dose_label: str) -> str | None:
    """The effect against the number of contacts: the instrumental-variable slope times
    the contacts with its 95% CI band over the treated arm's observed range, and under
    each panel the histogram of the treated arm's contacts (where the data are);
    :class:`outcomes.report.engagement.DosePanel` values, drawn as written."""
    if not panels:
        return None

    def draw(path):
        with plt.rc_context(RC):
            fig, axes = plt.subplots(2, len(panels), figsize=(3.6 * len(panels), 3.8),
                                     squeeze=False, sharex="col",
                                     gridspec_kw={"height_ratios": (3, 1)})
            for k, p in enumerate(panels):
                top, bottom = axes[0, k], axes[1, k]
                lo, hi = float(p.doses.min()), float(p.doses.max())
                x = np.array([lo, hi])
                col = COLOURS[0]
                top.fill_between(x, p.ci_low * x, p.ci_high * x, color=col, alpha=0.2, lw=0,
                                 label="95% CI")
                top.plot(x, p.slope * x, color=col, lw=1.5, label="estimated effect")
                top.axhline(0, color="0.4", lw=0.8, ls="--")
                top.set_title(p.title, fontsize=9)
                top.set_ylabel(p.ylabel)
                top.spines[["top", "right"]].set_visible(False)
                edges = np.arange(np.floor(lo), np.floor(hi) + 2) - 0.5
                if len(edges) > 61:  # many distinct counts: about 60 bins
                    edges = np.linspace(lo - 0.5, hi + 0.5, 61)
                bottom.hist(p.doses, bins=edges, color="0.55", lw=0)
                bottom.set_ylabel("participants", fontsize=8)
                bottom.set_xlabel(dose_label)
                bottom.spines[["top", "right"]].set_visible(False)
            axes[0, 0].legend(frameon=False, fontsize=8, loc="best")
            fig.suptitle("Effect of peer support by number of contacts (instrumental "
                         "variables), treated arm")
            fig.tight_layout(h_pad=0.4)
        _save(fig, path)

    return _svg(draw)
