"""Cluster-robust ("sandwich") variances for the partially nested design (docs/clustering.md).

The variance of an M-estimator whose per-observation score (or influence) contributions
are ``U_i`` and whose bread is ``B`` (the inverse information) is, with the contributions
summed within each cluster g,

    V = c · B (Σ_g U_g U_g') B',    U_g = Σ_{i in g} U_i,

the Liang–Zeger (1986) sandwich. ``c`` is the small-sample factor: G/(G−1) for a glm or
``MASS::glm.nb`` fit and for the g-computation built on it, as R ``sandwich::vcovCL``
with its defaults for a glm (``type = "HC0"``, ``cadjust = TRUE``; ``"HC1"``, which adds
(n−1)/(n−k), is its default for ``lm`` objects only); 1 for the Cox models, as R
``survival::coxph(..., cluster = )`` (Lin & Wei 1989). Usual-care participants and
treated participants without a peer worker are singleton clusters
(:func:`outcomes.clustering.cluster_ids`), so G counts them too.

References
----------
- Liang KY, Zeger SL. Longitudinal data analysis using generalized linear models.
  Biometrika 1986.
- Zeileis A, Köll S, Graham N. Various versatile variances: an object-oriented
  implementation of clustered covariances in R. J Stat Softw 2020 (``vcovCL``).
- Lin DY, Wei LJ. The robust inference for the Cox proportional hazards model. JASA 1989.
- Cameron AC, Miller DL. A practitioner's guide to cluster-robust inference. J Hum Resour
  2015 (the G/(G−1) factor; few clusters).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from outcomes.errors import NotEstimable

from . import SINGLE_PREFIX, WORKER_PREFIX, cluster_codes


def cluster_sums(contributions, clusters) -> np.ndarray:
    """The per-observation contributions (n × p) summed within each cluster (G × p, the
    clusters in :func:`~outcomes.clustering.cluster_codes` order)."""
    codes, G = cluster_codes(clusters)
    return coded_cluster_sums(contributions, codes, G)


def coded_cluster_sums(contributions, codes: np.ndarray, n_clusters: int) -> np.ndarray:
    """:func:`cluster_sums` of clusters already coded: row i added to sum ``codes[i]`` of
    ``n_clusters``, in row order (``numpy.bincount`` per column: the additions, and so the
    bits, of ``numpy.add.at``, at a fraction of its time)."""
    U = np.asarray(contributions, float)
    U = U.reshape(U.shape[0], -1)
    if codes.size != U.shape[0]:
        raise ValueError(f"{codes.size} cluster labels for {U.shape[0]} contributions")
    out = np.empty((n_clusters, U.shape[1]))
    for j in range(U.shape[1]):
        out[:, j] = np.bincount(codes, weights=U[:, j], minlength=n_clusters)
    return out


def clustered_meat(sums: np.ndarray, *, adjust: bool = True) -> np.ndarray:
    """Σ_g U_g U_g' of the cluster sums ``sums`` (G × p), times G/(G−1) when ``adjust``.
    Raises :class:`NotEstimable` with fewer than 2 clusters."""
    G = sums.shape[0]
    if G < 2:
        raise NotEstimable("a cluster-robust variance needs at least 2 clusters; "
                           f"there {'is' if G == 1 else 'are'} {G}")
    meat = sums.T @ sums
    if adjust:
        meat = meat * (G / (G - 1))
    return meat


def cluster_robust_cov(contributions, clusters, bread=None, *,
                       adjust: bool = True) -> np.ndarray:
    """c · B (Σ_g U_g U_g') B' with c = G/(G−1) when ``adjust`` (R ``vcovCL`` for a glm)
    and c = 1 otherwise (R ``coxph`` with ``cluster``). Without ``bread`` the
    contributions are influence contributions already (B = I). Raises
    :class:`NotEstimable` with fewer than 2 clusters."""
    meat = clustered_meat(cluster_sums(contributions, clusters), adjust=adjust)
    if bread is None:
        return meat
    B = np.asarray(bread, float)
    return B @ meat @ B.T


def check_clusters(clusters, treated, events=None, *, arms=("treated", "control"),
                   what: str = "the cluster-robust variance") -> None:
    """Raise :class:`NotEstimable` when ``what`` rests on too few clusters: fewer than 2
    clusters in an arm (``treated`` is the 0/1 arm indicator), or all the ``events``
    (0/1 or counts per row) in one cluster (the variance would then come from a single
    cluster's deviation)."""
    labels = pd.Series(np.asarray(clusters, dtype=str))
    t = np.asarray(treated, float) == 1
    for flag, arm in ((True, arms[0]), (False, arms[1])):
        g = labels[t == flag].nunique()
        if g < 2:
            raise NotEstimable(f"{what} needs at least 2 clusters in each arm; the {arm} "
                               f"arm has {g}")
    if events is not None:
        e = np.asarray(events, float)
        with_events = labels[e > 0].nunique()
        if e.sum() > 0 and with_events < 2:
            only = str(labels[e > 0].iloc[0])
            # a participant's own cluster is named as such, never by its identifier (the
            # reason reaches the report, which shows no participant-level data)
            name = ("one participant without a peer worker" if only.startswith(SINGLE_PREFIX)
                    else only)
            raise NotEstimable(f"{what}: all events are in one cluster ({name})")


def check_peer_workers(clusters, *, what: str = "the cluster-robust variance",
                       minimum: int = 2) -> None:
    """Raise :class:`NotEstimable` when fewer than ``minimum`` peer workers
    (``"PW:"`` labels of :func:`outcomes.clustering.cluster_ids`) are among ``clusters``:
    the singletons alone would make the peer-worker variance the robust one, and one
    worker's caseload gives no between-worker variation to estimate it from."""
    labels = pd.unique(np.asarray(clusters, dtype=str))
    k = int(sum(str(c).startswith(WORKER_PREFIX) for c in labels))
    if k < minimum:
        raise NotEstimable(f"{what} needs at least {minimum} peer workers among the "
                           f"participants analysed; there {'is' if k == 1 else 'are'} {k}")
