"""Power curve of a simulation study and the sample size for a target power.

The study's grid runs the design at several values of ``n`` (or of the number of peer
workers per site); each replicate's test rejects or not. The curve is a probit regression
of the rejections on the square root of the design size, ``P(reject) = Φ(a + b √x)``, the
form of the normal approximation to the power of a Wald test whose SE falls as 1/√x
(Φ(δ√x/σ − z) ignoring the opposite tail), fitted by maximum likelihood to every
replicate (statsmodels' binomial GLM with the probit link), so that each grid point's
Monte Carlo error is pooled through the model. The size for a target power p is
x* = ((Φ⁻¹(p) − a)/b)², with a delta-method 95% interval; the observed rejection rate of
each grid point with its Monte Carlo SE is reported beside the fitted curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from outcomes.errors import NotEstimable


@dataclass(frozen=True)
class PowerCurve:
    """The fitted curve: ``a``, ``b`` and their covariance ``cov``; ``observed`` holds per
    design size the replicates, rejections, rate and its Monte Carlo SE."""

    over: str
    a: float
    b: float
    cov: np.ndarray
    observed: pd.DataFrame

    def power(self, x: np.ndarray | float) -> np.ndarray:
        return stats.norm.cdf(self.a + self.b * np.sqrt(np.asarray(x, dtype=float)))

    def power_ci(self, x: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise 95% interval of the fitted power (delta method on the linear predictor)."""
        s = np.sqrt(np.asarray(x, dtype=float))
        eta = self.a + self.b * s
        se = np.sqrt(self.cov[0, 0] + 2 * s * self.cov[0, 1] + s**2 * self.cov[1, 1])
        return stats.norm.cdf(eta - 1.96 * se), stats.norm.cdf(eta + 1.96 * se)

    def size_for(self, target: float) -> tuple[float, float, float]:
        """The design size with power ``target`` and its delta-method 95% interval."""
        if not 0 < target < 1:
            raise ValueError("target power must be in (0, 1)")
        if self.b <= 0:
            raise NotEstimable("the fitted power does not grow with the design size")
        q = stats.norm.ppf(target)
        root = (q - self.a) / self.b
        if root <= 0:
            return 0.0, 0.0, 0.0
        x = root**2
        grad = np.array([-2 * root / self.b, -2 * root * root / self.b])
        se = math.sqrt(float(grad @ self.cov @ grad))
        return x, max(0.0, x - 1.96 * se), x + 1.96 * se

    def to_frame(self, grid: np.ndarray | None = None) -> pd.DataFrame:
        """Fitted power with its interval at ``grid`` (default: 50 points over the design
        sizes run), joined with the observed rate and Monte Carlo SE where one was run."""
        sizes = self.observed[self.over].to_numpy(float)
        if grid is None:
            grid = np.unique(np.concatenate([np.linspace(sizes.min(), sizes.max(), 50), sizes]))
        lo, hi = self.power_ci(grid)
        frame = pd.DataFrame({self.over: grid, "power": self.power(grid), "ci_low": lo, "ci_high": hi})
        return frame.merge(self.observed, on=self.over, how="left")


def power_curve(rejected: pd.DataFrame, over: str = "n") -> PowerCurve:
    """Fit the curve to one row per estimable replicate: the design size ``over`` and
    ``rejected`` (bool). Needs at least two design sizes and rejections that are neither
    all nor none (else :class:`NotEstimable`)."""
    import statsmodels.api as sm

    x = rejected[over].to_numpy(float)
    y = rejected["rejected"].to_numpy(bool).astype(float)
    if np.unique(x).size < 2:
        raise NotEstimable(f"a power curve needs at least two values of {over}")
    if y.min() == y.max():
        raise NotEstimable("every replicate rejected, or none did: no curve can be fitted")
    design = np.column_stack([np.ones_like(x), np.sqrt(x)])
    fit = sm.GLM(y, design, family=sm.families.Binomial(link=sm.families.links.Probit())).fit()
    observed = (rejected.assign(rejected=y).groupby(over, sort=True)["rejected"]
                .agg(replicates="size", rejections="sum", observed="mean").reset_index())
    observed[over] = observed[over].astype(float)
    observed["mcse"] = np.sqrt(observed["observed"] * (1 - observed["observed"]) / observed["replicates"])
    return PowerCurve(over, float(fit.params[0]), float(fit.params[1]), np.asarray(fit.cov_params()),
                      observed)


def study_power(study, replicates: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The study's power mode (its ``power`` key): per combination of the grid keys other
    than ``over``, the fitted curve (power.tsv rows) and the size for the target power
    (power_size.tsv rows, ``not estimable`` with the reason where no curve can be fitted)."""
    search = study.power
    over = search.over
    est = next(e for e in study.estimands if e.name == search.estimand)
    factors = pd.DataFrame([{"scenario": sc.id, **dict(sc.factors)} for sc in study.scenarios])
    others = [k for k, _ in study.grid if k != over]
    rows = replicates.loc[(replicates["estimand"] == est.name) & (replicates["status"] == "estimated")]
    rows = rows.merge(factors, on="scenario", how="left")
    rows = rows.assign(rejected=rows["p_value"] <= study.alpha)
    curves, sizes = [], []
    groups = rows.groupby(others, sort=False, dropna=False) if others else [((), rows)]
    for key, group in groups:
        ids = dict(zip(others, key if isinstance(key, tuple) else (key,), strict=True))
        try:
            curve = power_curve(group[[over, "rejected"]], over)
            size, lo, hi = curve.size_for(search.target)
            status, reason = "estimated", ""
            curves.append(curve.to_frame().assign(**ids))
        except NotEstimable as exc:
            size = lo = hi = math.nan
            status, reason = "not estimable", str(exc)
        sizes.append({**ids, "estimand": est.name, "over": over, "target": search.target,
                      "size": size, "ci_low": lo, "ci_high": hi, "status": status, "reason": reason})
    curve_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    if not curve_frame.empty:
        curve_frame = curve_frame[[*others, *[c for c in curve_frame.columns if c not in others]]]
    return curve_frame, pd.DataFrame(sizes)
