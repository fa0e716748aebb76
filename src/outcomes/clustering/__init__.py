"""Peer-worker clustering: the partially nested design of a peer-support trial
(docs/clustering.md).

Participants of the treated arm share peer workers; usual-care participants do not
(Roberts & Roberts 2005; Candlish et al. 2018). A participant's cluster is the main peer
worker of ADSL (``PEERWID``) for a treated participant who has one, and the participant
alone otherwise: usual-care participants, and treated participants who never met a peer
worker, are unclustered (a cluster of one that carries no peer-worker random effect and is
its own unit in a cluster-robust variance or a cluster bootstrap).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The plan's ``clustering`` values: the partially nested design, or every participant
#: independent.
PEER_WORKER, NONE = "peer_worker", "none"
#: Prefixes of the cluster labels, so a peer-worker id never equals a participant id.
WORKER_PREFIX, SINGLE_PREFIX = "PW:", "ID:"


def cluster_ids(adsl: pd.DataFrame, treated_arm: str) -> pd.Series:
    """The cluster of each ADSL row (index as ``adsl``): ``"PW:<PEERWID>"`` for a
    participant of ``treated_arm`` with a main peer worker, ``"ID:<USUBJID>"`` otherwise
    (usual care, never engaged, or another arm).

    A usual-care participant with peer contacts (contamination) stays unclustered: the
    design nests the treated arm only, and the contacts are reported, not modelled.
    """
    worker = adsl["PEERWID"].astype(str).str.strip() if "PEERWID" in adsl.columns \
        else pd.Series("", index=adsl.index)
    nested = (adsl["ARM"].astype(str) == treated_arm).to_numpy() & (worker != "").to_numpy()
    labels = np.where(nested, WORKER_PREFIX + worker.to_numpy(dtype=str),
                      SINGLE_PREFIX + adsl["USUBJID"].astype(str).to_numpy())
    return pd.Series(labels, index=adsl.index, name="CLUSTER", dtype="str")


def cluster_codes(clusters: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes 0..G−1 of the cluster labels (as text, in sorted order) and G.

    ``numpy.unique`` on the labels as text: the codes of ``pandas.factorize(..., sort=True)``
    of the text labels, about 15 times faster (it runs for every cluster-robust variance)."""
    uniques, codes = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    return codes.astype(np.int64).ravel(), len(uniques)


def peer_worker_codes(clusters: pd.Series | np.ndarray) -> np.ndarray:
    """The peer-worker cluster of each label of :func:`cluster_ids` as an integer code:
    0..G−1 for the ``"PW:"`` clusters (in sorted order of the labels, as
    :func:`cluster_codes` numbers them), −1 for a participant outside any. What the
    partially nested model needs of the labels, made once for the m fits of the same
    participants (:func:`outcomes.clustering.pnlmm.fit_pnlmm`)."""
    labels = np.asarray(clusters).astype(str)
    nested = np.char.startswith(labels, WORKER_PREFIX)
    out = np.full(len(labels), -1, dtype=np.int64)
    out[nested] = cluster_codes(labels[nested])[0]
    return out


def clustering_after_analysis(table: pd.DataFrame, default: str = NONE) -> pd.DataFrame:
    """``table`` with its ``clustering`` column right after ``analysis`` (the results
    tables' convention, docs/results.md); rows without a value get ``default`` (``none``:
    the naive rows)."""
    out = table.copy()
    col = (out.pop("clustering") if "clustering" in out.columns
           else pd.Series(np.nan, index=out.index, dtype=object))
    at = list(out.columns).index("analysis") + 1 if "analysis" in out.columns else 0
    out.insert(at, "clustering", col.astype(object).where(col.notna(), default))
    return out
