"""Performance measures of a simulation study, with their Monte Carlo standard errors.

The measures and their Monte Carlo SEs are those of Morris, White & Crowther (2019), "Using
simulation studies to evaluate statistical methods", *Statistics in Medicine* 38:2074–2102,
Table 6 (the formulas R's ``rsimsum`` implements): bias, empirical SE, mean squared error,
model SE (the root of the mean model variance), relative error of the model SE, coverage,
bias-eliminated coverage and the rejection rate (power, or the type I error when the true
value is the null).

``performance(estimates, true_value=...)`` takes one estimand's replicates (one row per
replicate: ``estimate``, ``se``, ``lower``, ``upper``, ``p_value``; a replicate whose
estimate is missing was *not estimable* and is counted, not used) and returns a
:class:`Performance` with a tidy :meth:`Performance.to_frame`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The measures in the order of Morris et al.'s Table 6, with what each means.
MEASURES: dict[str, str] = {
    "bias": "mean estimate minus the true value",
    "empse": "empirical SE: standard deviation of the estimates",
    "mse": "mean squared error about the true value",
    "modse": "model SE: square root of the mean of the squared model SEs",
    "relerror_modse": "relative error of the model SE, % (100 x (modse / empse - 1))",
    "coverage": "share of confidence intervals that contain the true value",
    "becoverage": "bias-eliminated coverage: share that contain the mean estimate",
    "rejection": "share of p-values at or below alpha (power, or type I error under the null)",
}


@dataclass(frozen=True)
class Performance:
    """One estimand's performance over ``n_replicates`` replicates, of which
    ``n_estimable`` gave an estimate. ``values`` and ``mcse`` map each measure of
    :data:`MEASURES` to its estimate and Monte Carlo SE (NaN where the replicates lack
    what the measure needs, e.g. no p-values for ``rejection``, or fewer than two
    estimable replicates)."""

    n_replicates: int
    n_estimable: int
    true_value: float
    alpha: float
    values: dict[str, float]
    mcse: dict[str, float]

    def to_frame(self) -> pd.DataFrame:
        """One row per measure: ``measure``, ``estimate``, ``mcse``, ``n_replicates``,
        ``n_estimable``, ``true_value``."""
        return pd.DataFrame({
            "measure": list(MEASURES),
            "estimate": [self.values[m] for m in MEASURES],
            "mcse": [self.mcse[m] for m in MEASURES],
            "n_replicates": self.n_replicates,
            "n_estimable": self.n_estimable,
            "true_value": self.true_value,
        })


def _column(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    return frame[name].to_numpy(dtype=float) if name in frame.columns else None


def _share(hits: np.ndarray) -> tuple[float, float]:
    """A proportion and its binomial Monte Carlo SE, sqrt(p (1 - p) / n)."""
    k = hits.size
    if k == 0:
        return math.nan, math.nan
    p = float(np.mean(hits))
    return p, math.sqrt(p * (1.0 - p) / k)


def performance(estimates: pd.DataFrame, *, true_value: float, alpha: float = 0.05) -> Performance:
    """Morris et al. (2019, Table 6) performance measures of one estimand.

    ``estimates`` has a column ``estimate`` and optionally ``se``, ``lower``, ``upper``
    and ``p_value``, one row per replicate. Rows with a missing ``estimate`` are not
    estimable: they count in ``n_replicates`` only. A measure that needs a column the
    frame lacks, or a replicate of the estimable ones that lacks it (an SE or interval
    missing where the estimate is present), is NaN rather than computed on a subset.
    """
    if "estimate" not in estimates.columns:
        raise ValueError("the replicates need an 'estimate' column")
    theta = float(true_value)
    est_all = estimates["estimate"].to_numpy(dtype=float)
    ok = np.isfinite(est_all)
    est = est_all[ok]
    k = int(est.size)
    values = dict.fromkeys(MEASURES, math.nan)
    mcse = dict.fromkeys(MEASURES, math.nan)

    if k >= 1:
        mean = float(np.mean(est))
        values["bias"] = mean - theta
        err2 = (est - theta) ** 2
        values["mse"] = float(np.mean(err2))
    if k >= 2:
        empse = float(np.std(est, ddof=1))
        values["empse"] = empse
        mcse["bias"] = empse / math.sqrt(k)
        mcse["empse"] = empse / math.sqrt(2.0 * (k - 1))
        mcse["mse"] = math.sqrt(float(np.sum((err2 - values["mse"]) ** 2)) / (k * (k - 1)))

    se = _column(estimates, "se")
    if se is not None and k >= 2 and np.all(np.isfinite(se[ok])):
        var = se[ok] ** 2
        modse = math.sqrt(float(np.mean(var)))
        values["modse"] = modse
        var_of_var = float(np.var(var, ddof=1))
        mcse["modse"] = math.sqrt(var_of_var / (4.0 * k * modse**2)) if modse > 0 else math.nan
        empse = values["empse"]
        if empse > 0 and modse > 0:
            ratio = modse / empse
            values["relerror_modse"] = 100.0 * (ratio - 1.0)
            mcse["relerror_modse"] = 100.0 * ratio * math.sqrt(
                var_of_var / (4.0 * k * modse**4) + 1.0 / (2.0 * (k - 1)))

    lower, upper = _column(estimates, "lower"), _column(estimates, "upper")
    if lower is not None and upper is not None and k >= 1:
        lo, hi = lower[ok], upper[ok]
        if np.all(np.isfinite(lo) & np.isfinite(hi)):
            values["coverage"], mcse["coverage"] = _share((lo <= theta) & (theta <= hi))
            mean = float(np.mean(est))
            values["becoverage"], mcse["becoverage"] = _share((lo <= mean) & (mean <= hi))

    p = _column(estimates, "p_value")
    if p is not None and k >= 1 and np.all(np.isfinite(p[ok])):
        values["rejection"], mcse["rejection"] = _share(p[ok] <= alpha)

    return Performance(n_replicates=int(est_all.size), n_estimable=k, true_value=theta,
                       alpha=float(alpha), values=values, mcse=mcse)
