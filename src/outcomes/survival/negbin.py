"""Maximum likelihood for negative binomial (NB2) regression with an offset.

Var(Y) = μ + α μ², α = 1/θ. The fit follows R ``MASS::glm.nb`` to the neighbourhood of
the maximum (Poisson start, then alternating Fisher scoring for β given θ and Newton for
θ given β, θ started at the moment estimate n / Σ(y/μ − 1)²), then polishes (β, log θ)
jointly by Newton–Raphson with step halving and accepts the result only when the
gradient is ~0 (max |∂ℓ| ≤ 1e-6) and the joint Hessian is negative definite. The
covariance is the inverse of the joint observed information of (β, log θ), so the SEs of β
carry the uncertainty of θ̂.

When there is no overdispersion the maximum is on the boundary α = 0: the fit is then the
Poisson one (α̂ = 0, covariance from the Poisson information), flagged ``boundary``.

References
----------
- Lawless JF. Negative binomial and mixed Poisson regression. Can J Stat 1987;15:209-225.
- Venables WN, Ripley BD. Modern Applied Statistics with S, 4th ed. Springer 2002, §7.4
  (``glm.nb``, ``theta.ml``).
- Cameron AC, Trivedi PK. Regression Analysis of Count Data, 2nd ed. 2013, §3.3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln, polygamma

from outcomes.clustering.robust import cluster_robust_cov
from outcomes.errors import NotEstimable

THETA_BOUNDARY = 1e8  # α < 1e-8: no overdispersion, the MLE is the Poisson fit
GRADIENT_TOL = 1e-6


@dataclass(frozen=True)
class NB2Fit:
    """β̂, α̂ = 1/θ̂, the covariance of (β̂, log θ̂) (log θ̂ row/column absent when
    ``boundary``), the log-likelihood, the final gradient and the iterations used."""

    beta: np.ndarray
    alpha: float
    cov: np.ndarray
    loglik: float
    gradient: np.ndarray
    iterations: int
    boundary: bool = False

    @property
    def bse(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov)[: self.beta.size])

    @property
    def alpha_se(self) -> float:
        """Delta method from log θ: se(α̂) = α̂ se(log θ̂); 0 on the boundary."""
        return 0.0 if self.boundary else float(self.alpha * np.sqrt(self.cov[-1, -1]))


def _of_counts(f, y, shift) -> np.ndarray:
    """``f(y + shift)`` of every row, evaluated once per distinct count (counts take few
    values; the special functions dominated the fit at n = 100,000): the same values."""
    u, inv = np.unique(y, return_inverse=True)
    return f(u + shift)[inv.reshape(-1)]


def nb2_loglik(beta, log_theta, X, y, offset, derivatives: bool = True):
    """NB2 log-likelihood, and with ``derivatives`` its gradient and Hessian in
    (β, log θ)."""
    theta = np.exp(log_theta)
    eta = X @ beta + offset
    mu = np.exp(eta)
    tm = theta + mu
    ll = float(np.sum(_of_counts(gammaln, y, theta) - gammaln(theta) - _of_counts(gammaln, y, 1)
                      + theta * (log_theta - np.log(tm)) + y * (eta - np.log(tm))))
    if not derivatives:
        return ll
    d_eta = theta * (y - mu) / tm
    l_theta = (_of_counts(digamma, y, theta) - digamma(theta) + log_theta + 1 - np.log(tm)
               - (y + theta) / tm)
    l_tt = (_of_counts(lambda v: polygamma(1, v), y, theta) - polygamma(1, theta) + 1 / theta
            - 1 / tm + (y - mu) / tm**2)
    p = X.shape[1]
    g = np.r_[X.T @ d_eta, theta * l_theta.sum()]
    H = np.empty((p + 1, p + 1))
    H[:p, :p] = -(X * (theta * mu * (y + theta) / tm**2)[:, None]).T @ X
    H[:p, p] = H[p, :p] = theta * (X.T @ ((y - mu) * mu / tm**2))
    H[p, p] = theta**2 * l_tt.sum() + theta * l_theta.sum()
    return ll, g, H


def _poisson(X, y, offset, max_iter=100):
    """Poisson MLE by Newton–Raphson (IRLS), started at the log mean rate."""
    beta = np.zeros(X.shape[1])
    beta[0] = np.log(y.sum() / np.exp(offset).sum())
    for _ in range(max_iter):
        mu = np.exp(X @ beta + offset)
        info = (X * mu[:, None]).T @ X
        step = np.linalg.solve(info, X.T @ (y - mu))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12:
            mu = np.exp(X @ beta + offset)
            return beta, np.linalg.inv((X * mu[:, None]).T @ X)
    raise NotEstimable("the Poisson start of the negative binomial model did not converge "
                       "(a group with no event?)")


def nb2_fit(X, y, offset, *, max_iter: int = 200) -> NB2Fit:
    """Maximum likelihood NB2 fit of counts ``y`` on ``X`` (with its intercept column)
    and ``offset``; raises NotEstimable without events or when it does not converge."""
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    offset = np.asarray(offset, float)
    if y.sum() == 0:
        raise NotEstimable("no event: the negative binomial model is not estimable")
    beta, pcov = _poisson(X, y, offset)
    mu = np.exp(X @ beta + offset)
    moment = np.sum((y / mu - 1) ** 2)
    log_theta = np.log(y.size / moment) if moment > 0 else np.log(THETA_BOUNDARY) + 1

    def poisson_boundary(it):
        ll0 = float(np.sum(y * np.log(mu) - mu - gammaln(y + 1)))
        return NB2Fit(beta, 0.0, pcov, ll0, X.T @ (y - mu), it, boundary=True)

    # 1. alternate, as glm.nb: Fisher scoring for β | θ, Newton for log θ | β
    ll_old = -np.inf
    it = 0
    for it in range(1, max_iter + 1):
        if log_theta > np.log(THETA_BOUNDARY):
            beta, pcov = _poisson(X, y, offset)
            mu = np.exp(X @ beta + offset)
            return poisson_boundary(it)
        theta = np.exp(log_theta)
        for _ in range(50):
            mu = np.exp(X @ beta + offset)
            w = mu / (1 + mu / theta)
            step = np.linalg.solve((X * w[:, None]).T @ X, X.T @ (w * (y - mu) / mu))
            beta = beta + step
            if np.max(np.abs(step)) < 1e-10:
                break
        for _ in range(50):
            _, g, H = nb2_loglik(beta, log_theta, X, y, offset)
            if H[-1, -1] >= 0:  # profile not concave here: move towards the boundary
                theta_step = 1.0 if g[-1] > 0 else -1.0
            else:
                theta_step = float(np.clip(-g[-1] / H[-1, -1], -5, 5))
            log_theta += theta_step
            if abs(theta_step) < 1e-10 or log_theta > np.log(THETA_BOUNDARY):
                break
        ll = nb2_loglik(beta, log_theta, X, y, offset, derivatives=False)
        if abs(ll - ll_old) < 1e-9 * (abs(ll) + 1):
            break
        ll_old = ll
    if log_theta > np.log(THETA_BOUNDARY):
        beta, pcov = _poisson(X, y, offset)
        mu = np.exp(X @ beta + offset)
        return poisson_boundary(it)
    # 2. joint Newton polish of (β, log θ) with step halving
    par = np.r_[beta, log_theta]
    ll, g, H = nb2_loglik(par[:-1], par[-1], X, y, offset)
    for _ in range(100):
        try:
            np.linalg.cholesky(-H)
        except np.linalg.LinAlgError:
            raise NotEstimable("the negative binomial likelihood is not concave at the "
                               "estimate (singular information)") from None
        step = np.linalg.solve(-H, g)
        if np.max(np.abs(g)) <= 1e-10 * max(1.0, abs(ll)) and np.max(np.abs(step)) < 1e-12:
            break
        for _half in range(40):
            new = par + step
            nll, ng, nH = nb2_loglik(new[:-1], new[-1], X, y, offset)
            if np.isfinite(nll) and nll >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        par, ll, g, H = new, nll, ng, nH
        if np.max(np.abs(step)) < 1e-12:
            break
    if not np.max(np.abs(g)) <= GRADIENT_TOL:
        raise NotEstimable("the negative binomial fit did not converge (largest score "
                           f"component {np.max(np.abs(g)):.2g} after Newton polishing)")
    try:
        np.linalg.cholesky(-H)
    except np.linalg.LinAlgError:
        raise NotEstimable("the negative binomial information matrix is singular") from None
    cov = np.linalg.inv(-H)
    return NB2Fit(par[:-1], float(np.exp(-par[-1])), cov, float(ll), g, it)


def nb2_cluster_robust_cov(fit: NB2Fit, X, y, offset, clusters) -> np.ndarray:
    """Cluster-robust covariance of β̂ as R ``sandwich::vcovCL(glm.nb fit, cluster = )``
    with its defaults: θ̂ held fixed, bread the inverse expected information
    X' diag(μ/(1 + μ/θ)) X of the glm given θ, scores x_i (y_i − μ_i)/(1 + μ_i/θ) summed by
    cluster, times G/(G−1) (:func:`outcomes.clustering.robust.cluster_robust_cov`). On the
    boundary (α̂ = 0) it is the Poisson fit's sandwich."""
    X = np.asarray(X, float)
    mu = np.exp(X @ fit.beta + np.asarray(offset, float))
    shrink = 1.0 / (1.0 + fit.alpha * mu)
    bread = np.linalg.inv((X * (mu * shrink)[:, None]).T @ X)
    scores = X * ((np.asarray(y, float) - mu) * shrink)[:, None]
    return cluster_robust_cov(scores, clusters, bread)
