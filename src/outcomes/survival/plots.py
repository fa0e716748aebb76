"""Figures of the survival analyses: a KMunicate-style Kaplan–Meier plot and a forest plot.

Both render from result objects/tables and write a deterministic file: for SVG the
``svg.hashsalt`` is fixed and the ``Date`` metadata removed, so identical inputs give
identical bytes; PNG carries no date metadata either.

References
----------
- Morris TP, Jarvis CI, Cragg W, Phillips PPJ, Choodari-Oskooei B, Sydes MR. Proposals on
  Kaplan–Meier plots in medical research and a survey of stakeholder views: KMunicate.
  BMJ Open 2019;9:e030215.
- Lewis S, Clarke M. Forest plots: trying to see the wood and the trees. BMJ 2001.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import matplotlib.ticker
import matplotlib.transforms

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from outcomes.atomic import atomic_path

from ._common import DIFFERENCE_TYPES, RATIO_TYPES
from .km import KaplanMeierResult, loglog_ci

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")  # Okabe–Ito
RC: dict[RcKeyType, Any] = {"svg.hashsalt": "outcomes", "svg.fonttype": "path",
                            "font.size": 9, "font.family": "DejaVu Sans"}


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".").lower()
    meta = {"Date": None} if fmt == "svg" else ({"Software": None} if fmt == "png" else None)
    with plt.rc_context(RC), atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, metadata=meta, bbox_inches="tight")
    plt.close(fig)
    return path


def percent_axis(axis) -> None:
    """Tick labels of a probability axis in percent, written by the report's formatter
    (:func:`outcomes.report.fmt.percent_tick`), as the tables show probabilities."""
    from outcomes.report import fmt  # at call time: the report's package imports this one

    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(
        lambda v, _pos: fmt.percent_tick(v)))


def kmunicate(result: KaplanMeierResult, path, *, times: Sequence[float] | np.ndarray | None = None,
              ylabel: str = "Not readmitted", xlabel: str = "Days since discharge",
              title: str | None = None, labels: dict | None = None,
              cumulative_incidence: bool = False, note: str | None = None) -> Path:
    """KMunicate plot (Morris et al. 2019): step curves with pointwise 95% bands
    (log(-log)), censoring marks, and under the x-axis for each arm the number at risk,
    cumulative events and cumulative censored at ``times`` (default every 90 days to the
    last follow-up). ``cumulative_incidence`` draws 1 - S instead. ``labels`` maps arm
    codes to the words of the legend and the table; ``note`` (e.g. the hazard ratio with
    its CI) is written above the plot, at the right."""
    labels = labels or {}
    tmax = max(float(c.time.max()) for c in result.curves)
    if times is None:
        times = np.arange(0.0, tmax + 1e-9, 90.0)
        if tmax - times[-1] >= 45:
            times = np.r_[times, tmax]
        elif times[-1] < tmax:
            times[-1] = tmax
    times = np.asarray(times, float)
    narms = len(result.curves)
    with plt.rc_context(RC):
        fig = plt.figure(figsize=(9.0, 4.6 + 0.55 * narms))
        gs = fig.add_gridspec(2, 1, height_ratios=[4.6, 0.55 * narms * 1.8], hspace=0.28)
        ax = fig.add_subplot(gs[0])
        for k, c in enumerate(result.curves):
            col = COLOURS[k % len(COLOURS)]
            tab = c.table
            t = np.r_[0.0, tab["time"].to_numpy()]
            s = np.r_[1.0, tab["survival"].to_numpy()]
            se = np.r_[0.0, tab["std_err"].to_numpy()]
            lo, hi = loglog_ci(s, se, result.level)
            if cumulative_incidence:
                s, lo, hi = 1 - s, 1 - hi, 1 - lo
            t_end = np.r_[t, tmax]
            ax.step(t_end, np.r_[s, s[-1]], where="post", color=col, lw=1.6,
                    label=labels.get(c.arm, c.arm))
            ax.fill_between(t_end, np.r_[lo, lo[-1]], np.r_[hi, hi[-1]], step="post",
                            color=col, alpha=0.18, lw=0)
            cens = tab["n_censor"].to_numpy() > 0
            ct = tab["time"].to_numpy()[cens]
            cs = tab["survival"].to_numpy()[cens]
            ax.plot(ct, 1 - cs if cumulative_incidence else cs, ls="none", marker="|",
                    ms=5, color=col, mew=0.8)
        ax.set_xlim(-tmax * 0.01, tmax * 1.01)
        ax.set_ylim(0, 1.0)
        ax.set_xticks(times)
        percent_axis(ax.yaxis)
        ax.set_ylabel(("Cumulative incidence: " if cumulative_incidence else "") + ylabel
                      + " (%)")
        ax.set_xlabel(xlabel)
        ax.grid(axis="y", color="0.9", lw=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(frameon=False, loc="lower left" if not cumulative_incidence else "upper left")
        if title:
            ax.set_title(title)
        if note:  # above the plot, clear of the curves
            ax.set_title(note, loc="right", fontsize=9)
        # KMunicate table
        tx = fig.add_subplot(gs[1], sharex=ax)
        tx.axis("off")
        rt = result.risk_table(times)
        nrow = 4 * narms
        y = nrow - 0.5
        for k, c in enumerate(result.curves):
            col = COLOURS[k % len(COLOURS)]
            sub = rt.loc[rt["arm"] == c.arm]
            tx.text(-0.05, y, labels.get(c.arm, c.arm), ha="right", va="center",
                    color=col, fontweight="bold", transform=tx.get_yaxis_transform())
            y -= 1
            for key, name in (("at_risk", "At risk"), ("events", "Events"),
                              ("censored", "Censored")):
                tx.text(-0.05, y, name, ha="right", va="center",
                        transform=tx.get_yaxis_transform())
                for t0, v in zip(sub["time"], sub[key], strict=True):
                    tx.text(t0, y, f"{int(v)}", ha="center", va="center")
                y -= 1
        tx.set_ylim(-0.2, nrow)
    return _save(fig, path)


PROBABILITY_DIFFERENCES = frozenset({"risk_difference", "cif_difference",
                                     "survival_difference"})


def _label(r) -> str:
    extra = f", {r['strategy']}" if isinstance(r.get("strategy"), str) else ""
    from outcomes.labels import words

    analysis = str(r["analysis"]).replace("_", " ").capitalize()
    return f"{analysis}: {words(r['outcome'])} ({r['estimate_type'].replace('_', ' ')}{extra})"


def effect_text(estimate_type: str, est, lo, hi, p=None, analysis: str = "") -> str:
    """An effect as the report's tables show it (:mod:`outcomes.report.fmt`: decimals of the
    estimate type, percentage points, true minus signs, "a to b"), with its p-value."""
    from outcomes.report import fmt  # at call time: the report's package imports this one

    decimals, scale, suffix = fmt.style(estimate_type, analysis)
    ci = (f" ({fmt.number(lo, decimals, scale=scale)} to {fmt.number(hi, decimals, scale=scale)})"
          if not (fmt.is_missing(lo) and fmt.is_missing(hi)) else "")
    ptxt = "" if fmt.is_missing(p) else f"  p = {fmt.p_value(p)}".replace("= <", "< ")
    return f"{fmt.number(est, decimals, scale=scale)}{suffix}{ci}{ptxt}"


def _favours(ax, ref: float, texts: tuple[str, str]) -> None:
    """``texts`` (left, right of the reference line) above the panel, with arrows."""
    blend = matplotlib.transforms.blended_transform_factory(ax.transData, ax.transAxes)
    ax.text(ref, 1.01, f"\u2190 {texts[0]}  ", transform=blend, ha="right", va="bottom",
            fontsize=8, color="0.25")
    ax.text(ref, 1.01, f"  {texts[1]} \u2192", transform=blend, ha="left", va="bottom",
            fontsize=8, color="0.25")


def forest(table: pd.DataFrame, path, *, title: str | None = None,
           types: Sequence[str] | None = None, panel: str | None = None,
           xlabels: dict | None = None, label: str | None = None,
           highlight: str | None = None, favours: dict | None = None) -> Path:
    """Forest plot of the between-arm effects of a results table, one row per effect with
    its estimate, CI and p-value written at the right, in up to three panels with their own
    axis: ratios (log axis, reference 1), differences of probabilities, and differences in
    days or other units (linear axes, reference 0).

    ``panel`` names a column that defines the panels instead (one per value, in order of
    appearance; a panel whose rows are all ratios gets a log axis, any other a linear axis
    around 0), ``xlabels`` maps a panel value to its axis label, and ``label`` names a
    column holding the row labels (default: analysis, outcome and estimate type). With
    ``panel``, every row of the table is plotted whatever its ``estimate_type``.
    ``highlight`` names a boolean column: its true rows (e.g. the primary analysis among
    its sensitivity analyses) are drawn in colour with a larger marker and a bold label.
    ``favours`` maps a panel to the (left, right) words written either side of its
    reference line (e.g. "favours peer support", "favours usual care"). Differences of
    probabilities are drawn in percentage points, and every number is written as the
    report's tables write it (:func:`effect_text`).

    Rows that are not estimable (``status`` column, or no finite estimate and CI) are left
    out and listed under the plot with their reason; with none left the figure says so.
    A table without any between-arm row is an error (``ValueError``).
    """
    tab = table.copy()
    if types is not None:
        tab = tab.loc[tab["estimate_type"].isin(types)]
    tab = tab.loc[tab["contrast"].astype(str).str.contains(" vs ")]
    if tab.empty:
        raise ValueError("no between-arm estimates to plot")
    tab, excluded = split_not_estimable(tab, label)
    if panel is not None:
        panels = []
        for key in pd.unique(tab[panel]):
            p = tab.loc[tab[panel] == key]
            kind = "ratio" if p["estimate_type"].isin(RATIO_TYPES).all() else "difference"
            panels.append((p, kind, key))
    else:
        ratio = tab.loc[tab["estimate_type"].isin(RATIO_TYPES)]
        pdiff = tab.loc[tab["estimate_type"].isin(PROBABILITY_DIFFERENCES)]
        odiff = tab.loc[tab["estimate_type"].isin(DIFFERENCE_TYPES - PROBABILITY_DIFFERENCES)]
        panels = [(p, kind, kind) for p, kind in ((ratio, "ratio"), (pdiff, "probability"),
                                                  (odiff, "difference")) if len(p)]
    if not panels and excluded:
        return _nothing_to_plot(path, title, excluded)
    if not panels:
        raise ValueError("no between-arm ratio or difference estimates to plot")
    default_xlabels = {"ratio": "Ratio, treated / control (log scale)",
                       "probability": "Difference in probability (treated - control)",
                       "difference": "Difference, treated - control (days)"}
    xlabels = {**({} if panel is not None else default_xlabels), **(xlabels or {})}
    heights = [max(len(p), 1) + 1.5 for p, _, _ in panels]
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(panels), 1, figsize=(8.5, 0.32 * sum(heights) + 0.8),
                                 gridspec_kw={"height_ratios": heights}, squeeze=False)
        for ax, (p, kind, key) in zip(axes[:, 0], panels, strict=True):
            p = p.reset_index(drop=True)
            yy = np.arange(len(p))[::-1]
            est, lo, hi = (p[c].to_numpy(float) for c in ("estimate", "ci_low", "ci_high"))
            points = p["estimate_type"].isin(PROBABILITY_DIFFERENCES).all()
            if points:  # as the tables: percentage points
                est, lo, hi = est * 100, lo * 100, hi * 100
            inside = (lo <= est) & (est <= hi)
            hl = (p[highlight].to_numpy(bool) if highlight is not None
                  else np.zeros(len(p), bool))
            ax.errorbar(est[inside], yy[inside],
                        xerr=[est[inside] - lo[inside], hi[inside] - est[inside]], fmt="s",
                        color="black", ms=4, ecolor="0.3", capsize=2, lw=1)
            if not inside.all():  # e.g. a percentile bootstrap CI that misses its estimate
                out = ~inside
                ax.hlines(yy[out], lo[out], hi[out], color="0.3", lw=1)
                ax.plot(est[out], yy[out], "s", color="black", ms=4)
            if hl.any():  # drawn over the black marks
                ax.errorbar(est[hl], yy[hl], xerr=[np.abs(est[hl] - lo[hl]),
                                                   np.abs(hi[hl] - est[hl])],
                            fmt="D", color=COLOURS[0], ms=6, ecolor=COLOURS[0], capsize=2,
                            lw=1.8, zorder=3)
            ax.axvline(1.0 if kind == "ratio" else 0.0, color="0.5", ls="--", lw=0.8)
            if kind == "ratio":
                ax.set_xscale("log")
                ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(
                    [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20]))
                ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
                ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel(xlabels.get(key, str(key)))
            ax.set_yticks(yy)
            ax.set_yticklabels([str(r[label]) if label else _label(r) for _, r in p.iterrows()])
            for tick, bold in zip(ax.get_yticklabels(), hl, strict=True):
                if bold:
                    tick.set_fontweight("bold")
            ax.set_ylim(-1, len(p))
            analyses = p["analysis"] if "analysis" in p else pd.Series("", index=p.index)
            for y0, (_, r), a in zip(yy, p.iterrows(), analyses, strict=True):
                ax.annotate(effect_text(r["estimate_type"], r["estimate"], r["ci_low"],
                                        r["ci_high"], r.get("p_value"), str(a)),
                            (1.01, y0), xycoords=("axes fraction", "data"), va="center",
                            fontsize=8)
            if favours and key in favours:
                _favours(ax, 1.0 if kind == "ratio" else 0.0, favours[key])
            ax.spines[["top", "right"]].set_visible(False)
        if title:
            axes[0, 0].set_title(title, pad=16 if favours else 6)
        # panels by column can be tall: keep the gap between them about 0.85 inch
        # (1.2 inch with the favours words above each panel)
        gap = 1.2 if favours else 0.85
        hspace = 0.6 if panel is None else min(0.6 + 0.3 * bool(favours),
                                               gap / (0.32 * float(np.mean(heights))))
        fig.subplots_adjust(hspace=hspace)
        if excluded:
            _note_excluded(fig, excluded)
    return _save(fig, path)


def split_not_estimable(tab: pd.DataFrame, label: str | None = None):
    """(plottable rows, [(label, reason), ...] of the rows left out): a row is left out when
    its ``status`` is "not estimable" or its estimate or CI is not finite."""
    est = tab[["estimate", "ci_low", "ci_high"]].apply(pd.to_numeric, errors="coerce")
    finite = np.isfinite(est.to_numpy(float)).all(axis=1)
    status = tab["status"].astype(str) if "status" in tab else pd.Series("", index=tab.index)
    keep = finite & (status != "not estimable").to_numpy()
    reasons = tab["reason"] if "reason" in tab else pd.Series("", index=tab.index)
    excluded = []
    for (_, r), why in zip(tab.loc[~keep].iterrows(), reasons[~keep], strict=True):
        why = why if isinstance(why, str) and why else "no finite estimate or CI"
        excluded.append((str(r[label]) if label else _label(r), why))
    return tab.loc[keep], excluded


def _note_excluded(fig, excluded) -> None:
    lines = ["Not shown:"] + [f"  {lab}: {why}" for lab, why in excluded]
    fig.text(0.01, 0.0, "\n".join(lines), ha="left", va="top", fontsize=7, wrap=True)


def _nothing_to_plot(path, title, excluded) -> Path:
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(8.5, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.6, "No between-arm effect could be estimated.", ha="center",
                va="center", transform=ax.transAxes)
        if title:
            ax.set_title(title)
        if excluded:
            _note_excluded(fig, excluded)
    return _save(fig, path)


def cumulative_incidence_plot(curves, path, *, event_label: str = "Readmission",
                              xlabel: str = "Days since discharge",
                              labels: dict | None = None, note: str | None = None) -> Path:
    """Aalen–Johansen cumulative incidence by arm of the event (solid) and of death before
    it (dashed), as step functions, with Gray's test of the event's curves above the plot
    (stratified as the plan; "not estimable" when it was not) and ``note`` (e.g. the
    subdistribution hazard ratio) under it. ``curves`` is an
    :class:`~outcomes.survival.competing.IncidenceCurves`."""
    from outcomes.labels import variable_words
    from outcomes.report.fmt import p_value

    labels = labels or {}
    arms = (curves.arms.treated, curves.arms.control)
    tmax = max(float(tab["time"].max()) if len(tab) else 0.0
               for tab in curves.tables.values()) or 1.0
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(9.0, 4.6))
        top = 0.0
        for k, arm in enumerate(arms):
            col = COLOURS[k % len(COLOURS)]
            for cause, ls, what in (("event", "-", event_label), ("death", "--", "Death")):
                tab = curves.tables[(arm, cause)]
                t = np.r_[0.0, tab["time"].to_numpy(), tmax]
                f = np.r_[0.0, tab["cif"].to_numpy()]
                f = np.r_[f, f[-1]]
                top = max(top, float(f.max()))
                ax.step(t, f, where="post", color=col, ls=ls, lw=1.6,
                        label=f"{labels.get(arm, arm)}: {what.lower()}")
        ax.set_xlim(-tmax * 0.01, tmax * 1.01)
        ax.set_ylim(0, min(1.0, max(0.1, top * 1.15)))
        ax.set_xlabel(xlabel)
        percent_axis(ax.yaxis)
        ax.set_ylabel("Cumulative incidence (%)")
        ax.grid(axis="y", color="0.9", lw=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(frameon=False, loc="upper left")
        strat = f", stratified by {variable_words(curves.strata)}" if curves.strata else ""
        gp = curves.gray_p
        text = ("Gray's test: not estimable" if gp is None or not np.isfinite(gp) else
                f"Gray's test{strat}: p = {p_value(gp)}".replace("= <", "< "))
        lines = [f"{event_label} by arm, {text}"] + ([note] if note else [])
        ax.set_title("\n".join(lines), loc="right", fontsize=9)
    return _save(fig, path)
