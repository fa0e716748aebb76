"""Honest summaries of a mediation table: the proportion mediated only where it means
something, and the Weibull rows that extrapolate beyond the follow-up flagged
(docs/mediation.md, section 4c; docs/results.md).

The proportion mediated ACME / total is a ratio whose denominator may be near 0. When the
total effect's confidence interval includes 0, the confidence set of the ratio is
unbounded (Fieller 1954; the percentile interval of the bootstrap ratios is then an
artefact of a few replicates with a total near 0) and the point estimate can be any
number, e.g. -22309.9% (VanderWeele 2015, Explanation in Causal Inference, ch. 2: the
proportion is unstable when the total effect is near 0). Here the proportion is reported
only when the total effect's CI excludes 0.
Such a row keeps its place with no number, ``status = not estimable`` and the reason
:data:`NOT_MEANINGFUL` (every consumer of ``status`` already shows a reason without a
number). Without a CI for the total effect (no bootstrap asked for) the rule cannot be
applied and the row stays as estimated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from outcomes.tables import ESTIMATED, NOT_ESTIMABLE

__all__ = ["NOT_MEANINGFUL", "EXTRAPOLATED", "PO_OF_EFFECT", "meaningful_proportions",
           "extrapolated_effects"]

#: The reason of a proportion-mediated row whose total effect's CI includes 0.
NOT_MEANINGFUL = "not meaningful: the total effect's CI includes 0"
#: The column flagging Weibull rows that depend on the fitted model beyond the follow-up
#: (``yes``/``no``; text, so that a table gathered with other outcomes' NA keeps it).
EXTRAPOLATED = "extrapolated"
#: The potential outcomes mu[t, t'] each effect is a contrast of (outcomes.mediation.effects).
PO_OF_EFFECT: dict[str, tuple[tuple[int, int], ...]] = {
    "acme_control": ((0, 1), (0, 0)),
    "acme_treated": ((1, 1), (1, 0)),
    "acme_average": ((0, 0), (0, 1), (1, 0), (1, 1)),
    "ade_control": ((1, 0), (0, 0)),
    "ade_treated": ((1, 1), (0, 1)),
    "ade_average": ((0, 0), (0, 1), (1, 0), (1, 1)),
    "total": ((1, 1), (0, 0)),
    "prop_mediated": ((0, 0), (0, 1), (1, 0), (1, 1)),
}
_NUMBERS = ("estimate", "std_error", "ci_low", "ci_high", "p_value", "riv", "fmi")


def meaningful_proportions(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (rows of one design: mediator x estimate_type x effect) with every
    estimated ``prop_mediated`` row whose total effect (same mediator and estimate type)
    has a finite CI that includes 0 made not estimable, reason :data:`NOT_MEANINGFUL`, with
    no estimate, standard error, CI, p-value (nor, pooled over imputations, riv and fmi)."""
    out = table.copy()
    if out.empty or "effect" not in out.columns:
        return out
    effect = out["effect"].to_numpy()
    status = out["status"].to_numpy()
    keys = list(zip(out["mediator"].to_numpy(), out["estimate_type"].to_numpy(), strict=True))
    lo, hi = out["ci_low"].to_numpy(), out["ci_high"].to_numpy()
    total: dict[tuple[str, str], Any] = {}  # the first "total" row's index
    for i in np.flatnonzero(effect == "total"):
        total.setdefault(keys[i], i)
    hit = []
    for i in np.flatnonzero((effect == "prop_mediated") & (status == ESTIMATED)):
        j = total.get(keys[i])
        if j is None or status[j] != ESTIMATED:
            continue
        tl, th = float(lo[j]), float(hi[j])
        if np.isfinite(tl) and np.isfinite(th) and tl <= 0.0 <= th:
            hit.append(i)
    if hit:  # column by column: much cheaper than .loc on a mixed-type frame
        mask = np.zeros(len(out), dtype=bool)
        mask[hit] = True
        for c in [c for c in _NUMBERS if c in out.columns]:
            out[c] = out[c].mask(mask, np.nan)
        out["status"] = out["status"].mask(mask, NOT_ESTIMABLE)
        out["reason"] = out["reason"].mask(mask, NOT_MEANINGFUL)
    return out


def extrapolated_effects(medians: np.ndarray, horizon: float, longest: float
                         ) -> dict[str, dict[str, bool]]:
    """Estimate type -> effect -> whether the effect depends on the fitted Weibull model
    beyond ``longest`` (the longest follow-up time of the analysis sample): risks and
    restricted means when the ``horizon`` is beyond it; median times when one of the
    effect's potential-outcome ``medians`` (2 x 2, mu[t, t']) is."""
    beyond_h = bool(horizon > longest)
    med = {name: any(bool(medians[t, tp] > longest) for t, tp in pos)
           for name, pos in PO_OF_EFFECT.items()}
    return {"risk_difference": dict.fromkeys(PO_OF_EFFECT, beyond_h),
            "rmst_difference": dict.fromkeys(PO_OF_EFFECT, beyond_h),
            "median_difference": med}
