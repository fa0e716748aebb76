"""The tipping-point heat map: estimate and p-value over (δ treated, δ control).

Drawn with the project's deterministic matplotlib settings (``outcomes.survival.plots``):
the same result gives the same SVG bytes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np

from outcomes.imputation.tipping import TippingPoint
from outcomes.survival.plots import RC, _save  # one place for deterministic figure output
from outcomes.tables import ESTIMATED

#: p-values below this share the darkest colour
P_FLOOR = 1e-4
NOT_ESTIMABLE_COLOUR = "0.85"


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges halfway between grid values (the grid may be uneven)."""
    mid = (values[1:] + values[:-1]) / 2
    return np.r_[values[0] - (mid[0] - values[0]), mid, values[-1] + (values[-1] - mid[-1])]


def _contour(res: TippingPoint, bound: str) -> np.ndarray:
    """The boundary points of one CI limit, ordered along the line they lie on."""
    pts = np.array([(r.delta_treated, r.delta_control) for r in res.boundaries
                    if r.bound == bound and r.result.ancova.status == ESTIMATED])
    if len(pts) < 2:
        return pts.reshape(-1, 2)
    pts = np.unique(np.round(pts, 9), axis=0)
    centred = pts - pts.mean(axis=0)
    direction = np.linalg.svd(centred, full_matrices=False)[2][0]
    direction = direction if (direction[0], direction[1]) >= (0, 0) else -direction
    return pts[np.argsort(centred @ direction, kind="stable")]


def tipping_heatmap(res: TippingPoint, path: str | Path) -> Path:
    """Two panels over the grid: the pooled estimate (diverging, 0 white) and the p-value
    (log scale), each cell labelled, not-estimable cells grey; the lines where a CI limit
    is 0 (the conclusion changes) and the MAR analysis (0, 0) marked on both."""
    d = np.asarray(res.deltas, dtype=float)
    n = len(d)
    est = np.full((n, n), np.nan)
    p = np.full((n, n), np.nan)
    index = {v: k for k, v in enumerate(res.deltas)}
    for r in res.grid:
        a = r.result.ancova
        if a.status == ESTIMATED:
            est[index[r.delta_control], index[r.delta_treated]] = a.estimate
            p[index[r.delta_control], index[r.delta_treated]] = a.p_value
    edges = _edges(d)
    span = float(np.nanmax(np.abs(est))) if np.isfinite(est).any() else 0.0
    span = span or 1.0
    what = {"estimate": "Adjusted mean difference", "p": "p-value"}
    better, worse = ("treated", "control") if res.higher_is_better else ("control", "treated")
    lines = {"ci_low": ("-", f"lower CI limit = 0 (favours {better} beyond)"),
             "ci_high": ("--", f"upper CI limit = 0 (favours {worse} beyond)")}
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 2, figsize=(11.0, 5.8), sharey=True)
        # blue where the estimate favours the treated arm, red where it favours control
        panels = (
            (axes[0], est, dict(cmap="RdBu" if res.higher_is_better else "RdBu_r",
                                norm=mcolors.TwoSlopeNorm(0.0, -span, span)), "estimate"),
            (axes[1], np.clip(p, P_FLOOR, 1.0), dict(cmap="viridis",
                                                      norm=mcolors.LogNorm(P_FLOOR, 1.0)), "p"),
        )
        for ax, z, style, key in panels:
            ax.set_facecolor(NOT_ESTIMABLE_COLOUR)
            mesh = ax.pcolormesh(edges, edges, np.ma.masked_invalid(z), shading="flat",
                                 edgecolors="white", linewidth=0.5, **style)
            fig.colorbar(mesh, ax=ax, shrink=0.85, label=what[key])
            for i in range(n):
                for j in range(n):
                    v = est[i, j] if key == "estimate" else p[i, j]
                    text = "NE" if not np.isfinite(v) else (
                        f"{v:.1f}" if key == "estimate" else f"{v:.2g}" if v >= 0.001 else "<.001")
                    ax.text(d[j], d[i], text, ha="center", va="center", fontsize=6.5,
                            color="0.1" if key == "estimate" or not np.isfinite(v) or v > 0.05
                            else "white")
            for bound, (style_, label) in lines.items():
                c = _contour(res, bound)
                if len(c):
                    ax.plot(c[:, 0], c[:, 1], ls=style_, color="black", lw=1.4, marker="o",
                            ms=2.5, label=label)
            ax.plot([0], [0], marker="s", ms=15, mfc="none", mec="black", mew=1.2, ls="none",
                    label="MAR (δ = 0, 0)")
            ax.set_xlim(edges[0], edges[-1])
            ax.set_ylim(edges[0], edges[-1])
            ax.set_xticks(d)
            ax.set_yticks(d)
            ax.tick_params(axis="x", labelrotation=90)
            ax.set_xlabel("δ treated (shift of unobserved values, score points)")
            ax.set_aspect("equal")
        axes[0].set_ylabel("δ control (shift of unobserved values, score points)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
        m = res.grid[0].result.m
        fig.suptitle(f"Tipping point: {res.paramcd} at {res.visit.replace('_', ' ')}, "
                     f"pooled over m = {m} imputations (δ {res.delta_mode}, "
                     f"{100 * (1 - res.alpha):g}% CI; NE = not estimable)")
        fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _save(fig, path)
