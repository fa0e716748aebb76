"""Path diagram of the change model: arm -> mechanisms -> outcome, with the estimates."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from outcomes.survival.plots import _save  # one place for deterministic figure output


def _effect(table: pd.DataFrame, mediator: str, effect: str, estimate_type: str) -> pd.Series | None:
    rows = table.loc[(table["mediator"] == mediator) & (table["effect"] == effect)
                     & (table["estimate_type"] == estimate_type)]
    return None if rows.empty else rows.iloc[0]


def _fmt(r: pd.Series | None, scale: float = 1.0, digits: int = 2) -> str:
    """``estimate (low to high)``; "not estimated" for an absent row, "not estimable" for a
    row whose status says so (its reason is in mediation.tsv and the report), "NA" for an
    absent number."""
    if r is None:
        return "not estimated"
    if r.get("status") == "not estimable" or pd.isna(r["estimate"]):
        return "not estimable"
    e, lo, hi = (float(r[c]) * scale for c in ("estimate", "ci_low", "ci_high"))
    text = [f"{v:.{digits}f}" if np.isfinite(v) else "NA" for v in (e, lo, hi)]
    return f"{text[0]} ({text[1]} to {text[2]})"


def path_diagram(
    table: pd.DataFrame,
    outcome: str,
    mechanisms: dict[str, dict],
    path: str | Path,
    *,
    outcome_label: str,
    treated_label: str = "Peer support",
    control_label: str = "usual care",
) -> Path:
    """Draw arm -> each mechanism -> outcome with the average ACME through each mechanism
    (joint for a mechanism with several scores) on its arrow, and the ADE and total effect
    from the analysis of all mediators jointly on the direct arrow. Risk differences are
    shown in percentage points."""
    t = table.loc[table["outcome"] == outcome]
    etype = "mean_difference" if (t["estimate_type"] == "mean_difference").any() else "risk_difference"
    scale, unit = (1.0, "points") if etype == "mean_difference" else (100.0, "percentage points")
    names = list(mechanisms)
    fig, ax = plt.subplots(figsize=(9.5, 1.9 + 1.35 * len(names)))
    ax.set_xlim(0, 10)
    top = 1.2 + 1.35 * len(names)
    ax.set_ylim(0, top)
    ax.axis("off")
    box = dict(boxstyle="round,pad=0.4", fc="#f2f5f9", ec="#345", lw=1)
    ymid = top / 2 + 0.3
    ax.text(0.9, ymid, f"{treated_label}\nvs {control_label}", ha="center", va="center", bbox=box, fontsize=9)
    ax.text(9.1, ymid, outcome_label, ha="center", va="center", bbox=box, fontsize=9, wrap=True)
    ys = np.linspace(top - 0.7, 1.9, len(names)) if len(names) > 1 else [ymid + 1]
    for name, y in zip(names, ys, strict=True):
        spec = mechanisms[name]
        meds = spec["mediators"]
        key = name if len(meds) > 1 else meds[0]
        acme = _effect(t, key, "acme_average", etype)
        ax.text(5, y, f"{name}: {spec['label']}\n{', '.join(meds)}", ha="center", va="center", bbox=box, fontsize=8.5)
        ax.annotate("", xy=(3.6, y), xytext=(1.7, ymid), arrowprops=dict(arrowstyle="->", color="#345"))
        ax.annotate("", xy=(8.2, ymid), xytext=(6.4, y), arrowprops=dict(arrowstyle="->", color="#345"))
        ax.text(7.3, y + 0.28, f"indirect {_fmt(acme, scale)}", ha="center", fontsize=7.5, color="#123")
    ade = _effect(t, "ALL", "ade_average", etype)
    total = _effect(t, "ALL", "total", etype)
    joint = _effect(t, "ALL", "acme_average", etype)
    ax.annotate("", xy=(8.2, 0.75), xytext=(1.7, 0.75), arrowprops=dict(arrowstyle="->", color="#a33"))
    ax.text(5, 0.88, f"direct (not through these mechanisms) {_fmt(ade, scale)}", ha="center", fontsize=8, color="#a33")
    ax.text(5, 0.25, f"total {_fmt(total, scale)};  indirect through all {_fmt(joint, scale)}  [{unit}, 95% CI]",
            ha="center", fontsize=8)
    return _save(fig, path)
