"""The recurrent-readmissions block's figure: the mean cumulative function (expected
readmissions per participant over time) by arm, from ADRE's counting-process rows
(:func:`outcomes.survival.mcf.mean_cumulative_function`, a nonparametric estimate, no model),
with the negative binomial rate ratio of survival.tsv written above it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from outcomes.labels import arm_label
from outcomes.survival import Arms
from outcomes.survival.mcf import MeanCumulativeFunction, mean_cumulative_function
from outcomes.survival.plots import COLOURS, RC, _save
from outcomes.survival.run import hazard_ratio_note
from outcomes.survival.tables import KEY

from .design import designs, twins
from .inputs import ReportInputs

CAPTION = ("Mean cumulative function of readmissions by arm (Nelson\u2013Aalen estimate of the "
           "expected number of readmissions per participant, days in hospital not at risk) "
           "with robust (Lawless\u2013Nadeau) 95% confidence bands.")


def mcf_plot(mcf: MeanCumulativeFunction, path, *, labels: dict, note: str | None = None,
             xlabel: str = "Days since discharge"):
    """Step curves of the MCF of each arm with their 95% bands."""
    tmax = max((float(c["time"].max()) for c in mcf.curves.values() if len(c)), default=1.0)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(9.0, 4.6))
        for k, arm in enumerate(mcf.arms):
            c = mcf.curves[arm]
            col = COLOURS[k % len(COLOURS)]
            t = np.r_[0.0, c["time"].to_numpy(float), tmax]
            m = np.r_[0.0, c["mcf"].to_numpy(float)]
            lo = np.r_[0.0, c["ci_low"].to_numpy(float)]
            hi = np.r_[0.0, c["ci_high"].to_numpy(float)]
            ax.step(t, np.r_[m, m[-1]], where="post", color=col, lw=1.6,
                    label=f"{labels.get(arm, arm)} (n = {mcf.n[arm]}, "
                          f"{mcf.events[arm]} readmissions)")
            ax.fill_between(t, np.r_[lo, lo[-1]], np.r_[hi, hi[-1]], step="post", color=col,
                            alpha=0.18, lw=0)
        ax.set_xlim(-tmax * 0.01, tmax * 1.01)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Mean readmissions per participant")
        ax.grid(axis="y", color="0.9", lw=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(frameon=False, loc="upper left")
        if note:
            ax.set_title(note, loc="right", fontsize=9)
    return _save(fig, path)


def mcf_figure(inp: ReportInputs) -> str | None:
    """The SVG text of the MCF figure, or None without ADRE."""
    if inp.adre is None:
        return None
    from .figures import _svg

    itt = inp.adsl.loc[inp.adsl["ITTFL"] == "Y", "USUBJID"]
    adre = inp.adre.loc[inp.adre["USUBJID"].isin(itt)]
    arms = Arms(inp.plan.treated_arm, inp.plan.control_arm)
    mcf = mean_cumulative_function(adre, arms=arms)
    r = inp.survival.num
    first, _ = twins(inp.survival.raw, designs(inp).shown, KEY)
    note = hazard_ratio_note(r.loc[first], "recurrent_readmission", "NREADM", "rate_ratio",
                             "Rate ratio (negative binomial)")
    labels = {a: arm_label(a) for a in mcf.arms}
    return _svg(lambda p: mcf_plot(mcf, p, labels=labels, note=note))


def add_mcf_figure(blocks: list, inp: ReportInputs) -> None:
    """Put the MCF figure on the ``recurrent_readmission`` block (a note without ADRE)."""
    from .svg import inline_svg

    for b in blocks:
        if b.key != "recurrent_readmission":
            continue
        svg = mcf_figure(inp)
        if svg is None:
            b.notes.append("Figure of the mean cumulative function: derived/adre.parquet not "
                           "found.")
            continue
        b.figure = inline_svg(svg, "mcf", label=CAPTION)
        b.figure_caption = CAPTION
