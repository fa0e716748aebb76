"""The HTML page of a simulation study: its ADEMP description and its performance.

Morris, White & Crowther (2019) ask a study's report to state its Aims, Data-generating
mechanisms, Estimands, Methods and Performance measures, and to show each measure with its
Monte Carlo SE. The page renders that from the study file and ``performance.tsv``: one
forest-style figure per estimand (a row per scenario, the measure with its 95% Monte Carlo
interval, ±1.96 MCSE, against its target: 0 for bias and for the relative error of the model
SE, the nominal level for coverage, ``alpha`` for the rejection rate where the scenario has
no effect) and the full table. Deterministic bytes for the same inputs.
"""

from __future__ import annotations

import io
import json
import math
from importlib import resources
from pathlib import Path

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from outcomes.atomic import write_text
from outcomes.simstudy.performance import MEASURES
from outcomes.simstudy.study import Study
from outcomes.survival.plots import COLOURS, RC

#: The measures drawn, with their axis title.
PLOTTED: dict[str, str] = {"bias": "Bias", "coverage": "Coverage of the 95% CI",
                           "rejection": "Rejection rate (power / type I error)",
                           "relerror_modse": "Relative error of the model SE (%)"}


def _fmt(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    text = f"{x:.{digits}f}"
    return text.replace("-", "\u2212")


def _target(measure: str, alpha: float, null_scenario: bool) -> float | None:
    if measure in ("bias", "relerror_modse"):
        return 0.0
    if measure == "coverage":
        return 0.95
    if measure == "rejection" and null_scenario:
        return alpha
    return None


def _svg_text(fig) -> str:
    """The figure as inline SVG markup (no XML prologue, no date: the same bytes each time)."""
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def estimand_figure(perf: pd.DataFrame, labels: dict[str, str], *, alpha: float,
                    null: dict[str, bool]) -> str:
    """SVG text of one estimand's forest-style figure (``perf``: its rows of performance.tsv)."""
    scenarios = list(dict.fromkeys(perf["scenario"]))
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(PLOTTED), figsize=(3.0 * len(PLOTTED), 0.45 * len(scenarios) + 1.2),
                                 sharey=True)
        y = range(len(scenarios))
        for ax, (measure, title) in zip(axes, PLOTTED.items(), strict=True):
            rows = perf.loc[perf["measure"] == measure].set_index("scenario").reindex(scenarios)
            est, se = rows["estimate"].to_numpy(float), rows["mcse"].to_numpy(float)
            ax.errorbar(est, list(y), xerr=1.96 * se, fmt="o", color=COLOURS[0], ms=4, capsize=2)
            targets = {_target(measure, alpha, null[s]) for s in scenarios} - {None}
            for t in targets:
                ax.axvline(t, color="#777777", lw=0.8, ls="--")
            ax.set_title(title, fontsize=9)
            ax.grid(axis="x", color="#dddddd", lw=0.5)
        axes[0].set_yticks(list(y), [labels[s] for s in scenarios])
        axes[0].invert_yaxis()
        return _svg_text(fig)


def power_figure(curve: pd.DataFrame, sizes: pd.DataFrame, over: str, target: float) -> str:
    """SVG text of the power curves: fitted power with its 95% band, the observed rates with
    ±1.96 Monte Carlo SE, the target and the size that reaches it, one colour per group."""
    others = [c for c in sizes.columns if c not in ("estimand", "over", "target", "size", "ci_low",
                                                    "ci_high", "status", "reason")]
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(6.5, 4.0))
        groups = curve.groupby(others, sort=False) if others else [((), curve)]
        for i, (key, g) in enumerate(groups):
            key = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{k} = {v}" for k, v in zip(others, key, strict=True)) or "power"
            colour = COLOURS[i % len(COLOURS)]
            ax.plot(g[over], g["power"], color=colour, label=label)
            ax.fill_between(g[over], g["ci_low"], g["ci_high"], color=colour, alpha=0.15, lw=0)
            obs = g.dropna(subset=["observed"])
            ax.errorbar(obs[over], obs["observed"], yerr=1.96 * obs["mcse"], fmt="o", color=colour,
                        ms=4, capsize=2)
        ax.axhline(target, color="#777777", lw=0.8, ls="--")
        for size in sizes["size"].dropna():
            ax.axvline(size, color="#777777", lw=0.8, ls=":")
        ax.set_xlabel("participants" if over == "n" else "peer workers per site")
        ax.set_ylabel("Power (rejection rate)")
        ax.set_ylim(0, 1)
        ax.legend(frameon=False, fontsize=8)
        return _svg_text(fig)


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("outcomes.simstudy").joinpath("templates", name).read_text("utf-8")),
        autoescape=jinja2.select_autoescape(default=True), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)


def render_page(study: Study, performance: pd.DataFrame, truths: dict[str, dict],
                power: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> str:
    """The study's HTML page; ``power``: the power curve and size tables, if the study has them."""
    labels = {sc.id: f"{sc.id}: {sc.label}" for sc in study.scenarios}
    null = {sc.id: sc.settings.effect_scale == 0 for sc in study.scenarios}
    estimands = []
    for est in study.estimands:
        perf = performance.loc[performance["estimand"] == est.name]
        wide = []
        for sc in study.scenarios:
            rows = perf.loc[perf["scenario"] == sc.id].set_index("measure")
            if rows.empty:
                continue
            wide.append({"scenario": labels[sc.id],
                         "true_value": _fmt(est.true_value(truths[sc.id]), 4),
                         "n": f"{int(rows['n_estimable'].iloc[0])} / {int(rows['n_replicates'].iloc[0])}",
                         "cells": [f"{_fmt(rows.loc[m, 'estimate'], 4)} ({_fmt(rows.loc[m, 'mcse'], 4)})"
                                   for m in MEASURES]})
        estimands.append({"name": est.name, "table": est.table, "scale": est.scale,
                          "where": ", ".join(f"{k} = {v}" for k, v in est.where),
                          "truth": est.truth, "rows": wide,
                          "figure": estimand_figure(perf, labels, alpha=study.alpha, null=null)})
    power_block = None
    if power is not None and study.power is not None:
        curve, sizes = power
        fixed = ("estimand", "over", "target", "size", "ci_low", "ci_high", "status", "reason")
        others = [c for c in sizes.columns if c not in fixed]
        power_block = {
            "estimand": study.power.estimand, "over": study.power.over, "target": study.power.target,
            "figure": power_figure(curve, sizes, study.power.over, study.power.target)
            if not curve.empty else "",
            "rows": [{"group": ", ".join(f"{k} = {r[k]}" for k in others) or "all scenarios",
                      "size": (f"{_fmt(r['size'], 0)} ({_fmt(r['ci_low'], 0)} to {_fmt(r['ci_high'], 0)})"
                               if r["status"] == "estimated" else f"not estimable: {r['reason']}")}
                     for r in sizes.to_dict("records")]}
    return _env().get_template("study.html.j2").render(
        power=power_block,
        study=study, scenarios=[{"label": labels[sc.id], "n": sc.n} for sc in study.scenarios],
        measures=MEASURES, estimands=estimands,
        overrides=json.dumps(study.raw.get("plan_overrides", {}), sort_keys=True),
        plan=study.raw["plan"])


def write_page(study: Study, out_dir: str | Path, truth_paths: list[str | Path]) -> Path:
    """Render ``out_dir/performance.tsv`` into ``out_dir/study.html``."""
    out = Path(out_dir)
    perf = pd.read_csv(out / "performance.tsv", sep="\t", keep_default_na=False, na_values=["NA"],
                       dtype={"scenario": str, "estimand": str, "measure": str})
    truths = {Path(p).stem: json.loads(Path(p).read_text(encoding="utf-8")) for p in truth_paths}
    power = None
    if study.power is not None:
        def read(name: str) -> pd.DataFrame:
            try:
                return pd.read_csv(out / name, sep="\t", keep_default_na=False, na_values=["NA"])
            except pd.errors.EmptyDataError:
                return pd.DataFrame()
        power = (read("power.tsv"), read("power_size.tsv"))
    path = out / "study.html"
    write_text(path, render_page(study, perf, truths, power))
    return path
