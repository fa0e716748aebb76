"""Which predictors a chained-equation step keeps: R ``mice``'s ``remove.lindep``.

:func:`remove_lindep` computes it as ``mice`` does, from the centred predictors.
:func:`remove_lindep_gram` decides the same from the cross-products ``[1, x]ᵀ[1, x]`` and
``[1, x]ᵀy`` that the step's regression needs anyway (O(p²) instead of O(n p²) more), and
hands over to :func:`remove_lindep` whenever a quantity lies within its rounding-error bound
of a threshold (or a predictor must be dropped), so that its answer is always
:func:`remove_lindep`'s.
"""

from __future__ import annotations

import numpy as np

#: mice's remove.lindep thresholds (its defaults).
EPS = 1e-4
MAXCOR = 0.99
#: Safety factor on the rounding-error bounds (n·u per sum of n products, Higham 2002 §3.1).
MARGIN = 16.0


def remove_lindep(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """mice's ``remove.lindep``: keep predictors with variance > EPS and correlation with
    y < MAXCOR, then drop, one by one, the predictor loading most on the smallest
    eigenvalue of their correlation matrix while its ratio to the largest is < EPS."""
    p = x.shape[1]
    if np.var(y, ddof=1) < EPS:
        return np.zeros(p, dtype=bool)
    xc = x - x.mean(axis=0)
    ss = np.einsum("ij,ij->j", xc, xc)
    keep = ss / (len(y) - 1) > EPS
    yc = y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (yc @ xc) / np.sqrt(ss * (yc @ yc))
    keep &= r < MAXCOR
    k = int(keep.sum())
    if k <= 1:
        return keep
    idx = np.flatnonzero(keep)
    z = xc[:, idx] / np.sqrt(ss[idx])
    cx = z.T @ z
    w = np.linalg.eigvalsh(cx)
    sub = np.arange(k)
    while w[0] / w[-1] < EPS:
        w, vec = np.linalg.eigh(cx[np.ix_(sub, sub)])
        if w[0] / w[-1] >= EPS:
            break
        drop = int(np.argmax(np.abs(vec[:, 0])))
        keep[idx[sub[drop]]] = False
        sub = np.delete(sub, drop)
        w = np.linalg.eigvalsh(cx[np.ix_(sub, sub)])
    return keep


def remove_lindep_gram(x1: np.ndarray, y: np.ndarray, gram: np.ndarray,
                       xty: np.ndarray) -> np.ndarray:
    """:func:`remove_lindep` of ``x1[:, 1:]`` and ``y`` (``x1`` = [1, x]) from
    ``gram`` = x1ᵀx1 and ``xty`` = x1ᵀy: each threshold decision is taken from the
    cross-products when it is farther from the threshold than the rounding errors of both
    computations can reach, else (and when a predictor would be dropped for linear
    dependence) by :func:`remove_lindep` itself."""
    n, p = x1.shape[0], x1.shape[1] - 1
    if np.var(y, ddof=1) < EPS:
        return np.zeros(p, dtype=bool)
    nu = MARGIN * n * np.finfo(float).eps
    s, sq = gram[0, 1:], np.diag(gram)[1:]
    ss = sq - s * s / n
    tol = nu * sq
    if np.any(np.abs(ss / (n - 1) - EPS) <= tol / (n - 1)):
        return _exact(x1, y)
    keep = ss / (n - 1) > EPS
    sy, syy2 = xty[0], float(y @ y)
    syy = syy2 - sy * sy / n
    idx = np.flatnonzero(keep)
    if len(idx):
        sxy = xty[1:][idx] - s[idx] * sy / n
        a = ss[idx]
        r = sxy / np.sqrt(a * syy)
        err = nu * (np.sqrt(sq[idx] * syy2 / (a * syy))
                    + np.abs(r) * (sq[idx] / a + syy2 / syy))
        if not (np.all(np.isfinite(r)) and np.all(np.abs(r - MAXCOR) > err)):
            return _exact(x1, y)
        keep[idx] = r < MAXCOR
    idx = np.flatnonzero(keep)
    k = len(idx)
    if k <= 1:
        return keep
    a, q = ss[idx], sq[idx]
    d = 1 / np.sqrt(a)
    cov = gram[1:, 1:][np.ix_(idx, idx)] - np.outer(s[idx], s[idx]) / n
    cx = cov * d[:, None] * d[None, :]
    e = nu * (np.sqrt(np.outer(q, q)) * d[:, None] * d[None, :]
              + np.abs(cx) * (q / a)[:, None] + np.abs(cx) * (q / a)[None, :])
    w = np.linalg.eigvalsh(cx)
    delta = np.sqrt((e * e).sum()) + nu * k * np.abs(w).max()  # Weyl: |Δλ| ≤ ‖E‖
    if not (np.isfinite(delta) and w[-1] > 2 * delta and 1 > 4 * delta
            and w[0] / w[-1] - 4 * delta > EPS):
        return _exact(x1, y)
    return keep


def _exact(x1: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`remove_lindep` on the predictors of ``x1`` as a C-ordered copy (the layout
    the chained equations gave it before the cross-products were shared)."""
    return remove_lindep(np.ascontiguousarray(x1[:, 1:]), y)
