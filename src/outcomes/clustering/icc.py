"""Intracluster correlation of a binary outcome among the peer workers' caseloads.

The one-way ANOVA estimator applied to the 0/1 outcome (Fleiss 1981; the "ANOVA
estimator" of Ridout, Demétrio & Firth 1999, which performed well among the estimators
of the ICC for binary data they compared):

    MSB = (Σ y_i²/n_i − Y²/N) / (k − 1),   MSW = (Y − Σ y_i²/n_i) / (N − k),
    n0 = (N − Σ n_i²/N) / (k − 1),         ρ = (MSB − MSW) / (MSB + (n0 − 1) MSW),

with k clusters of sizes n_i, y_i events in cluster i, N = Σ n_i and Y = Σ y_i; the mean
squares are those of R ``aov(y ~ factor(cluster))``. With ``strata`` (the site, a
randomisation stratifier within which the peer workers work) it is the nested ANOVA:
the between-cluster mean square is taken within strata, MSB = Σ_s (Σ_{i∈s} y_i²/n_i −
Y_s²/N_s) / (k − S) and n0 = (N − Σ_s Σ_{i∈s} n_i²/N_s) / (k − S) over S strata (Sokal &
Rohlf 1995, §10.2; R ``aov(y ~ factor(stratum) + factor(cluster))``), so differences
between sites are not counted as peer-worker correlation. The estimate may be negative
(no truncation at 0). The confidence interval is Searle's (1971) F-based interval,
ρ_L = (F/F_u − 1)/(F/F_u + n0 − 1) and ρ_U = (F/F_l − 1)/(F/F_l + n0 − 1), F = MSB/MSW
and F_u, F_l the upper and lower α/2 quantiles of F(k − 1, N − k): exact for balanced
normal data and an approximation for binary data and unequal caseloads (Ukoumunne 2002
found such intervals usable for binary outcomes with many clusters; with few clusters
it is wide, which is the honest answer).

References
----------
- Fleiss JL. Statistical Methods for Rates and Proportions, 2nd ed. Wiley 1981, §13.
- Ridout MS, Demétrio CGB, Firth D. Estimating intraclass correlation for binary data.
  Biometrics 1999;55:137-148.
- Searle SR. Linear Models. Wiley 1971, §9.
- Sokal RR, Rohlf FJ. Biometry, 3rd ed. Freeman 1995, §10.2 (nested ANOVA, unequal sizes).
- Ukoumunne OC. A comparison of confidence interval methods for the intraclass
  correlation coefficient in cluster randomized trials. Stat Med 2002;21:3757-3774.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from outcomes.errors import NotEstimable

from . import cluster_codes


@dataclass(frozen=True)
class BinaryICC:
    """ANOVA estimate of the ICC with Searle's F-based interval."""

    estimate: float
    ci: tuple[float, float]
    clusters: int
    n: int
    events: int
    n0: float
    msb: float
    msw: float
    level: float = 0.95


def nested_in(clusters, strata) -> bool:
    """True when every cluster's rows are all in one stratum."""
    df = pd.DataFrame({"c": np.asarray(clusters, dtype=str), "s": np.asarray(strata, dtype=str)})
    return bool((df.groupby("c")["s"].nunique() <= 1).all())


def anova_icc(y, clusters, strata=None, level: float = 0.95) -> BinaryICC:
    """The ANOVA ICC of the 0/1 outcome ``y`` within ``clusters`` (labels, one per row),
    nested within ``strata`` when given (a label per row; each cluster must lie within one
    stratum, else ``ValueError``: see :func:`nested_in`).

    Raises :class:`NotEstimable` with fewer than 2 clusters (in a stratum), no cluster of
    2 or more, or no variation of the outcome within any cluster (MSW = 0)."""
    y = np.asarray(y, float)
    codes, k = cluster_codes(clusters)
    N = y.size
    n_i = np.bincount(codes, minlength=k).astype(float)
    y_i = np.bincount(codes, weights=y, minlength=k)
    if strata is None:
        s_i = np.zeros(k, np.int64)
    else:
        if not nested_in(clusters, strata):
            raise ValueError("a cluster spans several strata: the nested ANOVA does not apply")
        first = np.unique(codes, return_index=True)[1]
        s_i = cluster_codes(np.asarray(strata, dtype=str)[first])[0]
    S = int(s_i.max()) + 1 if k else 0
    df_b = k - S
    if df_b < 1:
        where = " in one site" if strata is not None else ""
        raise NotEstimable(f"the ICC needs at least 2 peer workers with participants{where}; "
                           f"there are {k} peer workers in {S} site(s)")
    if N - k < 1:
        raise NotEstimable("the ICC needs a peer worker with 2 or more participants; "
                           "every caseload is 1")
    Y = y.sum()
    N_s = np.bincount(s_i, weights=n_i, minlength=S)
    Y_s = np.bincount(s_i, weights=y_i, minlength=S)
    between = np.sum(y_i**2 / n_i)
    msb = (between - np.sum(Y_s**2 / N_s)) / df_b
    msw = (Y - between) / (N - k)
    if msw <= 0:
        raise NotEstimable("the ICC is not estimable: the outcome does not vary within "
                           "any peer worker's caseload")
    n0 = (N - np.sum(n_i**2 / N_s[s_i])) / df_b
    rho = (msb - msw) / (msb + (n0 - 1) * msw)
    F = msb / msw
    alpha = 1 - level
    f_hi = stats.f.ppf(1 - alpha / 2, df_b, N - k)
    f_lo = stats.f.ppf(alpha / 2, df_b, N - k)
    bound = lambda q: (F / q - 1) / (F / q + n0 - 1)  # noqa: E731
    return BinaryICC(float(rho), (float(bound(f_hi)), float(bound(f_lo))), int(k), int(N),
                     int(Y), float(n0), float(msb), float(msw), level)
