"""The bootstrap of the mediation engine: resample counts (ordinary or cluster), the
bootstrap p-value and the method statements of the report (docs/mediation.md §5)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from outcomes.clustering.bootstrap import cluster_bootstrap_counts

__all__ = ["CI_METHOD", "CLUSTER_CI_METHOD", "PVALUE_METHOD", "bootstrap_counts",
           "bootstrap_pvalue", "seed_of"]

PVALUE_METHOD = (
    "bootstrap two-sided: p = min(1, 2 (1 + k) / (B + 1)), k = min(#{draws <= null}, "
    "#{draws >= null}) over the B valid bootstrap draws (null 0, or 1 for odds ratios); "
    "R mediation's 2 x min(share <= 0, share >= 0) with the Monte Carlo correction of "
    "Davison & Hinkley (1997) so that p is never 0 (smallest p = 2 / (B + 1))"
)
CI_METHOD = (
    "percentile bootstrap; each replicate resamples participants with replacement once "
    "and that one resample (as multinomial counts = frequency weights) feeds the mediator "
    "model(s), the outcome model and the averaging over the covariate distribution"
)
CLUSTER_CI_METHOD = (
    "percentile bootstrap of clusters (cluster bootstrap, Davison & Hinkley 1997 section "
    "3.8; Field & Welsh 2007): each replicate resamples the units of each arm with "
    "replacement (a cluster is drawn whole; an unclustered participant is a unit of one), "
    "once, and that one resample (as per-participant counts = frequency weights) feeds the "
    "mediator model(s), the outcome model and the averaging over the covariate distribution"
)


def bootstrap_counts(rng: np.random.Generator, n: int, n_boot: int) -> Iterator[np.ndarray]:
    """Blocks of resample counts (rows = replicates, columns = participants).

    Replicate b draws n row indices ``rng.integers(0, n, n)`` (with replacement); its row of
    counts says how often each participant was drawn. Blocks of ``_chunk_rows(n)`` replicates
    are drawn with one call each, so the same generator state gives the same replicates.
    This is the cluster bootstrap with every participant its own unit and one stratum.
    """
    return cluster_bootstrap_counts(rng, np.arange(n), n_boot)


def bootstrap_pvalue(draws: np.ndarray, null: float = 0.0) -> float:
    """Two-sided bootstrap p-value (see PVALUE_METHOD); NaN draws are ignored."""
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    k = min(int((d <= null).sum()), int((d >= null).sum()))
    return float(min(1.0, 2.0 * (1 + k) / (d.size + 1)))


def seed_of(rng: np.random.Generator) -> int | None:
    ss = getattr(rng.bit_generator, "seed_seq", None)
    if isinstance(ss, np.random.SeedSequence) and isinstance(ss.entropy, int) and not ss.spawn_key:
        return int(ss.entropy)
    return None
