"""Probit regression batched over bootstrap replicates (for the sensitivity analysis).

The ρ sensitivity analysis of a binary outcome (Imai, Keele & Tingley 2010, Psychol
Methods 15:309, appendix; R ``mediation::medsens``) needs a *probit* outcome model: its
latent normal error is what is correlated with the mediator's error. The pipeline's
binary outcome model is logistic, so the sensitivity analysis refits the outcome model as
a probit model for every replicate. Hand-written (like :func:`~.fitting.fit_logistic`)
because statsmodels fits one data set at a time; checked against statsmodels
``GLM(Binomial(Probit()))`` in tests/test_mediation_medsens.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

from .fitting import DIVERGED, _solve, _standardised, _sym

__all__ = ["ProbitFit", "fit_probit"]

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


@dataclass
class ProbitFit:
    coef: np.ndarray  # (B, p); NaN rows where Newton did not converge
    converged: np.ndarray  # (B,) bool


def fit_probit(X: np.ndarray, y: np.ndarray, W: np.ndarray, *, start: np.ndarray | None = None,
               tol: float = 1e-8, max_iter: int = 50) -> ProbitFit:
    """Maximum-likelihood probit regression of 0/1 ``y`` on ``X`` for every row of the
    resample counts ``W`` (B x n), by Newton's method with the observed information
    sum w r (r + eta) x x' (r = q phi(q eta) / Phi(q eta), q = 2y - 1; Greene,
    Econometric Analysis, 7th ed., section 17.3). ``start`` warm-starts every replicate.
    Replicates that do not converge, or whose coefficients diverge (separation), get NaN."""
    n, p = X.shape
    B = W.shape[0]
    std, Xs, XX, iu = _standardised(X)
    q = 2.0 * y - 1.0
    g = np.tile(np.zeros(p) if start is None else std.to_standard(np.asarray(start, float)), (B, 1))
    converged = np.zeros(B, dtype=bool)
    active = np.arange(B)
    for _ in range(max_iter):
        if active.size == 0:
            break
        Wa = W[active]
        eta = g[active] @ Xs.T  # (b, n)
        qe = q * eta
        r = q * np.exp(-0.5 * qe**2 - _LOG_SQRT_2PI - log_ndtr(qe))
        H = _sym((Wa * (r * (r + eta))) @ XX, iu, p)
        step = _solve(H, ((Wa * r) @ Xs)[:, :, None])[:, :, 0]
        ok = np.isfinite(step).all(axis=1)
        step[~ok] = 0.0
        g[active] += step
        done = ok & (np.abs(step).max(axis=1) < tol)
        bad = ~ok | (np.abs(g[active]) > DIVERGED).any(axis=1)
        g[active[bad]] = np.nan
        converged[active[done & ~bad]] = True
        active = active[~done & ~bad]
    g[active] = np.nan
    return ProbitFit(coef=std.to_original(g), converged=converged)
