"""Potential-outcome means E[Y(t, M(t'))] from fitted models, batched over replicates.

Notation (one mediator set of J mediators, covariate rows C_i = [1, x_i]):

- mediator models  M_j = alpha_Cj . C_i + alpha_Tj t + e_j,  e ~ N(0, Sigma)
- outcome model    eta = beta_C . C_i + beta_T t + sum_j (beta_Mj + beta_TMj t) M_j

With v_j(t) = beta_Mj + beta_TMj t, the outcome's linear predictor with the exposure set to t
and the mediators drawn from their distribution under t' is normal given x_i:

    eta_i(t, t') = c(t) . C_i + beta_T t + t' Delta(t) + s(t) Z,   Z ~ N(0, 1)
    c(t) = beta_C + sum_j v_j(t) alpha_Cj,  Delta(t) = sum_j v_j(t) alpha_Tj,
    s(t)^2 = v(t)' Sigma v(t).

So however many mediators there are, each potential-outcome mean is a one-dimensional
normal integral per participant, averaged over the participants of the sample (weights:
resample counts / n). For a linear outcome it is closed form; for logistic and Weibull
outcomes it is computed by Gauss-Hermite quadrature (deterministic, no random draws).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["gauss_hermite", "LinearPredictor", "po_linear", "po_logistic", "weibull_blocks", "po_weibull_risk",
           "po_weibull_median", "EFFECTS", "effects_from_po"]

EFFECTS = (
    "acme_control",
    "acme_treated",
    "acme_average",
    "ade_control",
    "ade_treated",
    "ade_average",
    "total",
    "prop_mediated",
)

_ROWS = 64  # replicates per block in the quadrature kernels (keeps blocks in cache)
#: Elements (nodes x replicates x participants) of one pass over Gauss-Hermite nodes at once
#: (RMST, interventional risks): every node in one pass for small samples, one node at a
#: time for large ones (bounded memory); the per-node sums are added in node order.
NODE_BLOCK = 1 << 17
_CLIP = 200.0  # |linear predictor| beyond which expit is 0 or 1 to double precision


@lru_cache(maxsize=64)
def gauss_hermite(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(Z)], Z ~ N(0, 1): sum_k w_k f(x_k), weights summing to 1."""
    x, w = np.polynomial.hermite_e.hermegauss(k)
    w = w / w.sum()
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


@dataclass
class LinearPredictor:
    """Everything the potential-outcome means need, for B replicates.

    ``coef_c[t]`` (B, 1+q): c(t); ``beta_t`` (B,); ``delta[t]`` (B,): Delta(t);
    ``s[t]`` (B,): s(t); ``C`` (n, 1+q) covariate rows; ``weight`` (B, n): resample counts
    divided by n (rows sum to 1).
    """

    coef_c: tuple[np.ndarray, np.ndarray]
    beta_t: np.ndarray
    delta: tuple[np.ndarray, np.ndarray]
    s: tuple[np.ndarray, np.ndarray]
    C: np.ndarray
    weight: np.ndarray

    def eta0(self, t: int, rows: slice = slice(None)) -> np.ndarray:
        """eta_i(t, t'=0) without the mediator noise, for a block of replicates."""
        return self.coef_c[t][rows] @ self.C.T + (self.beta_t[rows] * t)[:, None]


def po_linear(lp: LinearPredictor) -> np.ndarray:
    """(B, 2, 2) means mu[t, t'] for a linear outcome (closed form)."""
    cbar = lp.weight @ lp.C  # weighted covariate means (B, 1+q)
    out = np.empty((lp.weight.shape[0], 2, 2))
    for t in (0, 1):
        base = (lp.coef_c[t] * cbar).sum(axis=1) + lp.beta_t * t
        out[:, t, 0] = base
        out[:, t, 1] = base + lp.delta[t]
    return out


def po_logistic(lp: LinearPredictor, k: int) -> np.ndarray:
    """(B, 2, 2) means mu[t, t'] = mean_i E[expit(eta_i(t, t'))], by k-point Gauss-Hermite.

    expit(eta + s x) = 1 / (1 + E a) with E = exp(-eta), a = exp(-s x). A symmetric node
    pair (x, -x) sums to (2 + E d) / (1 + E d + E^2) = 1 + (1 - E^2) / (1 + E^2 + E d) with
    d = a + 1/a, so with N_i = w_i (1 - E_i^2) and A_i = 1 + E_i^2 (once per t, t') each pair
    costs one multiply-add, one reciprocal and one dot product per participant.
    """
    x, w = gauss_hermite(k)
    npair = k // 2
    xp, wp = x[k - npair :], w[k - npair :]  # positive nodes and their (shared) weights
    has_mid = k % 2 == 1
    wmid = w[npair] if has_mid else 0.0
    B, n = lp.weight.shape
    out = np.empty((B, 2, 2))
    wsum = wp.sum()
    for t in (0, 1):
        for lo in range(0, B, _ROWS):
            rows = slice(lo, min(lo + _ROWS, B))
            wt = lp.weight[rows]
            E = lp.eta0(t, rows)  # (b, n)
            np.clip(E, -_CLIP, _CLIP, out=E)
            np.negative(E, out=E)
            np.exp(E, out=E)
            s = lp.s[t][rows]
            d = 2 * np.cosh(s[:, None] * xp[None, :])  # (b, npair)
            E2 = np.empty_like(E)
            N = np.empty_like(E)
            tmp = np.empty_like(E)
            for tp in (0, 1):
                if tp:
                    E *= np.exp(-lp.delta[t][rows])[:, None]
                np.multiply(E, E, out=E2)
                np.multiply(wt, E2, out=N)
                np.subtract(wt, N, out=N)  # w (1 - E^2)
                E2 += 1.0  # A = 1 + E^2
                acc = wsum * wt.sum(axis=1)  # the "1 +" of every pair
                for j in range(npair):
                    np.multiply(E, d[:, j : j + 1], out=tmp)
                    tmp += E2
                    np.reciprocal(tmp, out=tmp)
                    acc += wp[j] * np.einsum("bn,bn->b", tmp, N)
                if has_mid:
                    np.add(E, 1.0, out=tmp)
                    np.divide(wt, tmp, out=tmp)
                    acc += wmid * tmp.sum(axis=1)
                out[rows, t, tp] = acc
    return out


def _weibull_parts(lp: LinearPredictor, t: int, rows: slice, sigma: np.ndarray, logh: float):
    """F_i = exp((log h - eta_i(t, 0)) / sigma), the cumulative hazard at h with no noise."""
    z = (logh - lp.eta0(t, rows)) / sigma[rows, None]
    np.clip(z, -_CLIP, _CLIP, out=z)
    return np.exp(z, out=z)


def weibull_blocks(lp: LinearPredictor, sigma: np.ndarray, horizon: float, k: int):
    """Blocks of replicates for a potential-outcome mean of a Weibull outcome at ``horizon``:
    yields (rows, t, t', weights (b, n), F (b, n), a (b, k)), the cumulative hazard at h being
    F_i * a_k at node k: with eta = eta0 + s x + t' Delta, F_i = exp((log h - eta0_i) / sigma)
    and a_k = exp(-(s x_k + t' Delta) / sigma)."""
    x, _ = gauss_hermite(k)
    B = lp.weight.shape[0]
    logh = float(np.log(horizon))
    for t in (0, 1):
        for lo in range(0, B, _ROWS):
            rows = slice(lo, min(lo + _ROWS, B))
            F = _weibull_parts(lp, t, rows, sigma, logh)
            sg = sigma[rows]
            for tp in (0, 1):
                a = np.exp(-(lp.s[t][rows, None] * x[None, :] + (lp.delta[t][rows] * tp)[:, None])
                           / sg[:, None])  # (b, k)
                yield rows, t, tp, lp.weight[rows], F, a


def po_weibull_risk(lp: LinearPredictor, sigma: np.ndarray, horizon: float, k: int) -> np.ndarray:
    """(B, 2, 2) risks of the event by ``horizon``: 1 - mean_i E[S_i(h | t, M(t'))].

    Weibull AFT: S(h | eta) = exp(-exp((log h - eta) / sigma)); with eta = eta0 + s x + t' Delta
    the cumulative hazard is F_i * exp(-(s x + t' Delta) / sigma) (:func:`weibull_blocks`).
    """
    _, w = gauss_hermite(k)
    out = np.empty((lp.weight.shape[0], 2, 2))
    for rows, t, tp, wt, F, a in weibull_blocks(lp, sigma, horizon, k):
        u = F[:, None, :] * -a[:, :, None]
        np.exp(u, out=u)
        surv = (u @ wt[:, :, None])[:, :, 0] @ w
        out[rows, t, tp] = 1.0 - surv
    return out


def po_weibull_median(
    lp: LinearPredictor, sigma: np.ndarray, k: int, *, tol: float = 1e-10, max_iter: int = 200
) -> np.ndarray:
    """(B, 2, 2) medians (time units) of the marginal distribution of T(t, M(t')).

    Solves mean_i E[S_i(tau)] = 1/2 for tau: with lambda = tau^(1/sigma) the survival is
    mean_i sum_k w_k exp(-lambda A_ik), A_ik = exp(-(eta_i + s x_k) / sigma); a safeguarded
    Newton iteration on log lambda (bisection inside a bracket when a Newton step leaves it).
    """
    x, w = gauss_hermite(k)
    B, n = lp.weight.shape
    out = np.empty((B, 2, 2))
    for t in (0, 1):
        for lo in range(0, B, _ROWS):
            rows = slice(lo, min(lo + _ROWS, B))
            wt = lp.weight[rows]
            sg = sigma[rows]
            eta = lp.eta0(t, rows)
            for tp in (0, 1):
                shift = (lp.s[t][rows, None] * x[None, :] + (lp.delta[t][rows] * tp)[:, None])
                # log A_ik = -(eta_i + shift_k) / sigma, centred at a typical value for range
                # (in place: the same operations without temporaries of (b, k, n))
                logA = eta[:, None, :] + shift[:, :, None]
                np.negative(logA, out=logA)
                logA /= sg[:, None, None]
                centre = np.einsum("bkn,bn,k->b", logA, wt, w, optimize=False)
                A = logA
                A -= centre[:, None, None]
                np.clip(A, -_CLIP, _CLIP, out=A)
                np.exp(A, out=A)
                ww = wt[:, None, :] * w[None, :, None]
                ell = median_log_lambda(A, ww, tol=tol, max_iter=max_iter)
                # tau = lambda^sigma, undoing the centring of log A
                out[rows, t, tp] = np.exp(sg * (ell - centre))
    return out


def median_log_lambda(A: np.ndarray, ww: np.ndarray, *, tol: float = 1e-10,
                      max_iter: int = 200) -> np.ndarray:
    """(b,) log lambda solving sum_kn ww_bkn exp(-lambda A_bkn) = 1/2 for a mixture of
    Weibull survival curves (A, ww: (b, K, n); ww sums to 1 over k and n): safeguarded Newton
    on log lambda, bisection inside a bracket when a Newton step leaves it."""

    def g(ell, der=True):
        lam = np.exp(ell)[:, None, None]
        we = np.multiply(A, -lam)  # -(lam A), exactly
        np.exp(we, out=we)
        we *= ww  # ww * e, the same products
        val = we.sum(axis=(1, 2)) - 0.5
        if not der:  # the bracketing needs the value only
            return val, None
        we *= A
        we *= lam
        return val, -we.sum(axis=(1, 2))

    # log(log 2) is the median of a person at the centre; bracket outward.
    ell = np.full(A.shape[0], np.log(np.log(2.0)))
    lo_b = ell - 1.0
    hi_b = ell + 1.0
    for _ in range(100):
        v, _ = g(lo_b, der=False)
        bad = v <= 0
        if not bad.any():
            break
        lo_b[bad] -= 2.0
    for _ in range(100):
        v, _ = g(hi_b, der=False)
        bad = v >= 0
        if not bad.any():
            break
        hi_b[bad] += 2.0
    for _ in range(max_iter):
        v, d = g(ell)
        lo_b = np.where(v > 0, ell, lo_b)
        hi_b = np.where(v < 0, ell, hi_b)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = ell - v / d
        outside = ~np.isfinite(new) | (new <= lo_b) | (new >= hi_b)
        new = np.where(outside, 0.5 * (lo_b + hi_b), new)
        step = np.abs(new - ell)
        ell = new
        if (step < tol).all():
            break
    return ell


def effects_from_po(mu: np.ndarray) -> np.ndarray:
    """(B, 8) effects in the order of EFFECTS from (B, 2, 2) means mu[t, t'] (difference scale).

    ACME(t) = mu[t,1] - mu[t,0]; ADE(t) = mu[1,t] - mu[0,t]; total = mu[1,1] - mu[0,0];
    prop_mediated = ACME average / total.
    """
    acme0 = mu[:, 0, 1] - mu[:, 0, 0]
    acme1 = mu[:, 1, 1] - mu[:, 1, 0]
    ade0 = mu[:, 1, 0] - mu[:, 0, 0]
    ade1 = mu[:, 1, 1] - mu[:, 0, 1]
    total = mu[:, 1, 1] - mu[:, 0, 0]
    acme = 0.5 * (acme0 + acme1)
    ade = 0.5 * (ade0 + ade1)
    with np.errstate(divide="ignore", invalid="ignore"):
        prop = acme / total
    return np.column_stack([acme0, acme1, acme, ade0, ade1, ade, total, prop])


def odds_ratio_effects(mu: np.ndarray) -> np.ndarray:
    """(B, 7) effects on the odds-ratio scale (no proportion mediated), order of EFFECTS[:7].

    Ratios of the odds of the marginal risks mu[t, t']; the averages are geometric means,
    and total = OR of ACME(treated) x OR of ADE(control) exactly.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.log(mu) - np.log1p(-mu)
    eff = effects_from_po(lo)[:, :7]
    return np.exp(eff)
