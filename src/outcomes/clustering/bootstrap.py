"""The cluster bootstrap of the partially nested design (docs/clustering.md, "The cluster
bootstrap").

Units, not participants, are resampled: a peer worker's whole caseload is one unit, and a
usual-care participant or a treated participant who never met a peer worker is a unit of
one (:func:`outcomes.clustering.cluster_ids`). Units are resampled with replacement within
strata (the randomised arms): each stratum's G_s units are drawn G_s times, as in the
stratified bootstrap of Davison & Hinkley (1997, §3.7) applied to the top stage of the
hierarchy (§3.8, "resample clusters, keep clusters intact"; Field & Welsh 2007, JRSS B
69:369-390, the "randomised cluster bootstrap", consistent for the variance of a mean
under a random-effects model as the number of clusters grows). A replicate is returned as
per-participant counts: the number of times the participant's unit was drawn.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from outcomes.errors import NotEstimable

__all__ = ["ClusterDesignError", "block_rows", "cluster_bootstrap_counts", "resample_means", "resample_medians",
           "units_by_stratum"]


class ClusterDesignError(NotEstimable):
    """The clusters cannot be resampled: a cluster spans two strata, or a stratum has too
    few units. Only the clustered analysis is not estimable; the naive one may be."""


def block_rows(n: int) -> int:
    """Replicates per block of counts (fixed given n, so results depend on the seed only)."""
    return int(max(16, min(1024, 2**17 // max(n, 1))))  # ~1 MB blocks stay in cache


def units_by_stratum(clusters: np.ndarray, strata: np.ndarray | pd.Series | None = None,
                     *, min_units: int = 1) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """For each stratum (in sorted order): the participants' positions, their unit codes
    0..G_s−1 within the stratum (in the order of ``clusters``' integer codes) and G_s.

    ``clusters`` are integer unit codes (:func:`outcomes.clustering.cluster_codes` of the
    labels). Raises :class:`NotEstimable` when a unit spans two strata (the clusters must
    be nested in the arms) or a stratum has fewer than ``min_units`` units
    (:class:`ClusterDesignError`).
    """
    codes = np.asarray(clusters)
    if not np.issubdtype(codes.dtype, np.integer):
        raise TypeError("clusters must be integer codes (outcomes.clustering.cluster_codes)")
    n = codes.size
    if strata is None:
        groups = [np.arange(n)]
    else:
        s = np.asarray(strata)
        if s.size != n:
            raise ValueError(f"{s.size} strata for {n} clusters")
        scodes, uniques = pd.factorize(pd.Series(s), sort=True)
        groups = [np.flatnonzero(scodes == k) for k in range(len(uniques))]
        arms_of = pd.Series(scodes).groupby(codes).nunique()
        if (arms_of > 1).any():
            raise ClusterDesignError(f"a cluster (code {int(arms_of.index[arms_of > 1][0])}) has "
                               "participants in two arms: clusters must be nested in the arms")
    out = []
    for pos in groups:
        units, inner = np.unique(codes[pos], return_inverse=True)
        if units.size < min_units:
            raise ClusterDesignError(f"{units.size} resampling unit(s) in an arm: the cluster "
                               f"bootstrap needs at least {min_units} in each")
        out.append((pos, inner.astype(np.int64), int(units.size)))
    return out


def cluster_bootstrap_counts(rng: np.random.Generator, clusters: np.ndarray, n_boot: int,
                             strata: np.ndarray | pd.Series | None = None,
                             *, min_units: int = 1) -> Iterator[np.ndarray]:
    """Blocks of per-participant resample counts (rows = replicates, columns = participants
    in the order of ``clusters``, integer unit codes).

    In each block of ``block_rows(n)`` replicates, every stratum in turn draws its G_s units
    ``rng.integers(0, G_s, (b, G_s))`` (with replacement); a participant's count is the
    number of draws of its unit. With one stratum and ``clusters = arange(n)`` (every
    participant its own unit) these are the draws of the ordinary bootstrap
    (``outcomes.mediation.bootstrap_counts`` is that case).
    """
    parts = units_by_stratum(clusters, strata, min_units=min_units)
    n = sum(len(p) for p, _, _ in parts)
    rows = block_rows(n)
    for lo in range(0, n_boot, rows):
        b = min(rows, n_boot - lo)
        out = np.empty((b, n))
        for pos, codes, g in parts:
            idx = rng.integers(0, g, size=(b, g))
            flat = (idx + (np.arange(b) * g)[:, None]).ravel()
            unit = np.bincount(flat, minlength=b * g).reshape(b, g)
            out[:, pos] = unit[:, codes]
        yield out


def resample_means(x: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean of each replicate's resample (rows of ``counts``) of the values ``x``."""
    return counts @ x / counts.sum(axis=1)


def resample_medians(x: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median of each replicate's resample of ``x`` from its counts, as ``np.median`` of the
    expanded resample: the middle order statistic, or the mean of the two middle ones."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    cum = np.cumsum(counts[:, order], axis=1)
    size = cum[:, -1]
    lo = (cum <= ((size - 1) // 2)[:, None]).sum(axis=1)
    hi = (cum <= (size // 2)[:, None]).sum(axis=1)
    return (xs[lo] + xs[hi]) / 2
