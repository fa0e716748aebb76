"""Rank checks for every regression of the package, and the linear program that tells
whether a maximum-likelihood estimate exists (:func:`separating_direction`).

A design matrix whose columns are linearly dependent has no unique solution; solving it
anyway (or letting a library drop a column) gives a number that looks like an estimate
but is not the one asked for. Every regression calls :func:`check_full_rank` before it
fits, so a degenerate design becomes a :class:`~outcomes.errors.SingularDesign` naming the
columns, never a silently wrong number.

Method: Householder QR without pivoting. ``|R[j, j]|`` is the distance of column ``j``
from the span of columns ``0..j-1``; column ``j`` is *aliased* when that distance is
below ``tol`` times the column's own norm. This is the rule of R's ``lm`` (LINPACK
``dqrdc2`` with ``tol = 1e-7``): columns are tested in the order given, so the later of
two collinear columns is the one named.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linprog

from outcomes.errors import SingularDesign

#: Relative tolerance of the rank test (R ``lm``'s default ``tol``).
RANK_TOL = 1e-7


def aliased_columns(
    X: np.ndarray, names: Sequence[str], tol: float = RANK_TOL, r: np.ndarray | None = None
) -> list[tuple[str, list[str]]]:
    """Columns of ``X`` that are linear combinations of earlier columns.

    Returns ``[(name, [names it depends on]), ...]`` in column order; empty when ``X``
    has full column rank. A column of zeros depends on nothing (``[]``). ``r``: the R of
    ``numpy.linalg.qr(X)`` when the caller has it (any mode gives the same R, to the bit),
    used instead of factorising ``X`` again (not when ``X`` has fewer rows than columns).
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError("design matrix must be two-dimensional")
    n, p = X.shape
    names = list(names)
    if len(names) != p:
        raise ValueError(f"{p} design columns but {len(names)} names")
    if p == 0:
        return []
    if not np.all(np.isfinite(X)):
        bad = [names[j] for j in range(p) if not np.all(np.isfinite(X[:, j]))]
        raise SingularDesign(f"non-finite values in design column(s) {', '.join(bad)}", tuple(bad))
    norms = np.linalg.norm(X, axis=0)
    if n < p:
        # Fewer rows than columns: pad so that QR returns a p x p R (the extra rows are 0).
        X = np.vstack([X, np.zeros((p - n, p))])
    if r is None or n < p:
        r = np.asarray(np.linalg.qr(X, mode="r"))  # mode "r" gives R alone (typed as QRResult)
    diag = np.abs(np.diag(r))
    out: list[tuple[str, list[str]]] = []
    kept: list[int] = []
    for j in range(p):
        if norms[j] == 0 or diag[j] <= tol * norms[j]:
            deps: list[str] = []
            if norms[j] > 0 and kept:
                coef, *_ = np.linalg.lstsq(X[:, kept], X[:, j], rcond=None)
                scale = np.abs(coef) * norms[kept] / norms[j]
                deps = [names[k] for k, s in zip(kept, scale, strict=True) if s > 1e-6]
            out.append((names[j], deps))
        else:
            kept.append(j)
    return out


def describe_aliasing(aliased: list[tuple[str, list[str]]], intercept: str | None = None) -> str:
    """A plain sentence naming the aliased columns and what each depends on."""
    parts = []
    for name, deps in aliased:
        if not deps:
            parts.append(f"{name} is all zero")
        elif intercept is not None and deps == [intercept]:
            parts.append(f"{name} is constant")
        else:
            parts.append(f"{name} is a linear combination of {', '.join(deps)}")
    return "; ".join(parts)


def check_full_rank(
    X: np.ndarray,
    names: Sequence[str],
    *,
    model: str,
    intercept: str | None = None,
    tol: float = RANK_TOL,
    r: np.ndarray | None = None,
) -> None:
    """Raise :class:`SingularDesign` naming the aliased columns unless ``X`` has full rank.

    ``model`` names the regression in the message (e.g. ``"mediator model for M2"``);
    ``intercept`` is the name of the constant column, if any, so that a column aliased
    with it alone is called constant; ``r``: as :func:`aliased_columns`.
    """
    aliased = aliased_columns(X, names, tol, r)
    if aliased:
        what = describe_aliasing(aliased, intercept)
        raise SingularDesign(
            f"{model}: design matrix is rank-deficient ({what})",
            tuple(a for a, _ in aliased),
        )


def separating_direction(A: np.ndarray) -> tuple[bool | None, np.ndarray]:
    """Whether some b != 0 has A b >= 0 row by row with the sum of A b positive, and one such
    b (in units of the columns scaled to max |a| = 1): ``(found, b)``; ``found`` is None when
    the linear program fails.

    The one check behind every "no finite maximum" rule of the package. Logistic
    regression: the rows s_i x_i (s_i = 2 y_i - 1) have such a b exactly when the data are
    (quasi-completely) separated (Albert & Anderson, Biometrika 1984); Cox and Weibull
    models: the differences of an event's covariates from those at risk with it, or the
    signed rows of the censored and of the events, when the likelihood is monotone (Bryson &
    Johnson, Technometrics 1981). Konis (2007, DPhil thesis, Oxford; R ``safeBinaryRegression``
    and ``detectseparation``) finds one by the linear program: maximise sum_i a_i'b subject
    to A b >= 0 and -1 <= b_j <= 1 on the scaled columns; found when the optimum exceeds
    1e-7 per row.
    """
    A = np.asarray(A, dtype=float)
    scale = np.abs(A).max(axis=0)
    scale[scale == 0] = 1.0
    As = A / scale
    res = linprog(-As.sum(axis=0), A_ub=-As, b_ub=np.zeros(len(As)),
                  bounds=[(-1.0, 1.0)] * A.shape[1], method="highs")
    if res.status != 0:
        return None, np.zeros(A.shape[1])
    return bool(-res.fun > 1e-7 * max(len(As), 1)), np.asarray(res.x)
