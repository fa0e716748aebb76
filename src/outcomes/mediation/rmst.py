"""Restricted mean time to the event up to the horizon under each potential outcome of a
Weibull AFT outcome model (docs/mediation.md, section 4c).

For a person with linear predictor eta, S(u) = exp(-(u e^-eta)^(1/sigma)) and, substituting
w = (u e^-eta)^(1/sigma) (the Weibull's restricted mean as an incomplete gamma function;
Royston & Parmar 2013, BMC Med Res Methodol 13:152, for the RMST difference as an effect),

    RMST(h) = int_0^h S(u) du = e^eta Gamma(1 + sigma) P(sigma, x) = h r(sigma, x),
    r(sigma, x) = Gamma(1 + sigma) P(sigma, x) / x^sigma,   x = (h e^-eta)^(1/sigma),

P the regularised lower incomplete gamma function (``scipy.special.gammainc``) and x the
cumulative hazard at h. r is in (0, 1] (r -> 1 as x -> 0: nobody has the event by h).
The potential-outcome RMST is linear in S, so the marginal RMST is the mean over the
sample of each person's RMST integrated over the mediators' normal noise, by the
Gauss-Hermite nodes of :mod:`outcomes.mediation.effects`. scipy has the incomplete
gamma but no Weibull RMST under a normal random effect in the linear predictor, hence
this function; for x <= 4 r is summed as the incomplete gamma's series, hand-written
because it is 6 times cheaper than ``gammainc`` in the bootstrap's inner loop.
tests/test_mediation_rmst.py checks r against ``scipy.integrate.quad`` either side of the
switch, the potential outcomes against quad over the noise and simulated event times,
and, without mediator, against R ``survival::survreg`` + ``integrate``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammainc, gammaln

from .effects import NODE_BLOCK, LinearPredictor, gauss_hermite, weibull_blocks

__all__ = ["weibull_rmst_ratio", "po_weibull_rmst"]


#: Below this cumulative hazard r is summed as a series (terms to x^SERIES_TERMS); above it
#: ``gammainc`` is used. At x = 4 the first term left out is below 1e-20 of the sum.
SERIES_X, SERIES_TERMS = 4.0, 36
#: Terms summed over the whole array before the first check of convergence, terms between
#: checks, and 2^-54: a term below total * 2^-54 is less than half an ulp of the total.
_DENSE_TERMS, _CHECK_EVERY, _HALF_ULP = 14, 3, 2.0**-54


def weibull_rmst_ratio(sigma: np.ndarray | float, x: np.ndarray) -> np.ndarray:
    """r(sigma, x) = RMST(h) / h of a Weibull with scale parameter ``sigma`` (AFT) and
    cumulative hazard ``x`` at h (arrays broadcasting together).

    For x <= SERIES_X the series r = e^-x sum_n x^n / ((sigma + 1) ... (sigma + n)) (the
    series of the lower incomplete gamma function, Abramowitz & Stegun 6.5.29; all terms
    positive, so no cancellation), about 6 times faster than ``gammainc``; above it
    Gamma(1 + sigma) P(sigma, x) / x^sigma with ``gammainc`` (tested to agree across the
    switch). r -> 1 as x -> 0 and -> 0 as x -> inf.

    The series stops, element by element, once a term is below half an ulp of the total
    and the terms fall from there on (x <= (sigma + n + 1) / 2): every later term would
    round away, so the result has the bits of the full SERIES_TERMS terms. Terms are
    summed over the whole array while more than a quarter of it still changes, then over
    the remaining elements only (checked every _CHECK_EVERY terms).
    """
    sigma = np.asarray(sigma, dtype=float)
    x = np.asarray(x, dtype=float)
    small = x <= SERIES_X
    xs = np.where(small, x, 0.0)
    shape = np.broadcast_shapes(sigma.shape, x.shape)
    term = np.ones(shape)
    total = term.copy()
    n, live = 0, None
    while n < SERIES_TERMS:
        n = _add_terms(n, term, total, xs, sigma)
        if n < _DENSE_TERMS:
            continue
        live = np.flatnonzero(_changing(term, total, xs, sigma, n))
        if live.size * 4 <= total.size:
            break
    if live is not None and live.size and n < SERIES_TERMS:
        _series_tail(n, live, term, total, xs, sigma, shape)
    out = np.asarray(np.exp(-xs) * total)
    if not small.all():
        big = ~small
        sb = np.broadcast_to(sigma, out.shape)[big]
        xb = np.broadcast_to(x, out.shape)[big]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            logr = gammaln(1.0 + sb) + np.log(gammainc(sb, xb)) - sb * np.log(xb)
        out[big] = np.exp(np.minimum(logr, 0.0))
    return out


def _add_terms(n: int, term, total, xs, sigma) -> int:
    """Terms n + 1 .. n + _CHECK_EVERY (at most SERIES_TERMS) of the series, in place;
    returns the index of the last one."""
    stop = min(n + _CHECK_EVERY, SERIES_TERMS)
    for m in range(n + 1, stop + 1):
        term *= xs
        term /= sigma + m
        total += term
    return stop


def _changing(term, total, xs, sigma, n: int) -> np.ndarray:
    """Where later terms of the series may still change the total (NaN: may)."""
    if sigma.size and SERIES_X <= 0.5 * (float(np.min(sigma)) + n + 1):  # all terms fall
        return ~(term < total * _HALF_ULP)
    return ~((term < total * _HALF_ULP) & (xs <= 0.5 * (sigma + (n + 1))))


def _series_tail(n, live, term, total, xs, sigma, shape) -> None:
    """Terms n + 1 .. SERIES_TERMS of :func:`weibull_rmst_ratio` for the flat indices
    ``live`` only (the same operations in the same order), written into ``total``."""
    t = term.reshape(-1)[live]
    tot = total.reshape(-1)[live]
    xx = np.broadcast_to(xs, shape).reshape(-1)[live]
    sg = np.broadcast_to(sigma, shape).reshape(-1)[live]
    flat = total.reshape(-1)  # a view: total is a fresh C-contiguous array
    while True:
        n = _add_terms(n, t, tot, xx, sg)
        flat[live] = tot
        if n == SERIES_TERMS:
            return
        keep = _changing(t, tot, xx, sg, n)
        if not keep.any():
            return
        live, t, tot, xx, sg = live[keep], t[keep], tot[keep], xx[keep], sg[keep]


def po_weibull_rmst(lp: LinearPredictor, sigma: np.ndarray, horizon: float, k: int
                    ) -> np.ndarray:
    """(B, 2, 2) restricted mean times to the event up to ``horizon`` (time units):
    mean_i E[RMST_i(h | t, M(t'))], by k-point Gauss-Hermite over the mediators' noise.

    The cumulative hazard at h of participant i at node k is F_i * a_k
    (:func:`outcomes.mediation.effects.weibull_blocks`), as for the risk.
    """
    _, w = gauss_hermite(k)
    out = np.empty((lp.weight.shape[0], 2, 2))
    for rows, t, tp, wt, F, a in weibull_blocks(lp, sigma, horizon, k):
        sg = sigma[rows][None, :, None]
        acc = np.zeros(F.shape[0])
        step = max(1, NODE_BLOCK // F.size)  # nodes per call: few calls, bounded memory
        for lo in range(0, k, step):
            x = F[None, :, :] * a.T[lo : lo + step, :, None]  # (nodes, b, n)
            with np.errstate(over="ignore", invalid="ignore"):  # x = inf: P = 1, r = 0
                r = weibull_rmst_ratio(sg, x)
            for j in range(r.shape[0]):
                acc += w[lo + j] * np.einsum("bn,bn->b", r[j], wt)
        out[rows, t, tp] = horizon * acc
    return out
