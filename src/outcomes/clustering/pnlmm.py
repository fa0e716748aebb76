"""The partially nested linear mixed model, fitted by REML (docs/clustering.md).

    y = Xβ + Zu + e,   u_k ~ N(0, τ²) for each peer-worker cluster k,
    e_i ~ N(0, σ²_T) in the treated arm and N(0, σ²_C) in the control arm,

with Z the indicator of a participant's peer-worker cluster (a zero row for a participant
outside any: usual care, never engaged). Roberts & Roberts (2005, Clinical Trials 2:152),
"heteroscedastic partially nested model"; Candlish et al. (2018, BMC Med Res Methodol
18:105). R: ``nlme::lme(y ~ X, random = ~ pw - 1 | cluster, weights = varIdent(form =
~ 1 | arm), method = "REML")`` with ``pw`` 1 inside a peer-worker cluster, 0 outside.

Hand-written because statsmodels ``MixedLM`` has one residual variance for everyone (it
cannot give σ²_T ≠ σ²_C); the homoscedastic case is checked against it and the full model
against R nlme (tests/test_clustering_pnlmm.py). Every peer-worker cluster lies in the
treated arm, so its block of V is compound symmetric, σ²_T I + τ² J, with the closed-form
inverse σ_T⁻²(I − τ²/(σ²_T + n_k τ²) J) and log-determinant (n_k − 1) log σ²_T +
log(σ²_T + n_k τ²); the cross-products XᵀV⁻¹X, XᵀV⁻¹y, yᵀV⁻¹y then need only per-arm
cross-products and per-cluster column sums, computed once: an evaluation of the REML
likelihood costs O(G p²) for G clusters and p coefficients, whatever the number of
participants.

REML (Harville 1977) is maximised over the ratio ρ = σ²_T/σ²_C and the treated arm's ICC
= τ²/(τ² + σ²_T) ∈ [0, 1), with the scale σ²_C profiled out in closed form (L-BFGS-B,
scipy); τ² = 0 (ICC 0) is a valid estimate at the boundary. The treatment effect's
degrees of freedom are Satterthwaite's (Giesbrecht & Burns 1985; as R lmerTest,
Kuznetsova et al. 2017): df = 2 v² / (∇vᵀ A ∇v), v = Var(β̂_arm), ∇v its gradient in
(τ², σ²_T, σ²_C) and A the inverse of the observed REML information, both by central
differences. The ICC's CI is the profile-likelihood interval (Venzon & Moolgavkar 1988):
the ICCs whose profile REML log-likelihood is within χ²₁(0.95)/2 of the maximum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import optimize, stats

from outcomes.clustering import WORKER_PREFIX, cluster_codes
from outcomes.errors import NotEstimable

#: Bound of the ICC in the optimiser (the ICC itself lies in [0, 1)).
ICC_MAX = 1 - 1e-8
#: Bounds of log(σ²_T/σ²_C) in the optimiser.
LOG_RATIO_BOUND = 30.0
#: −log-likelihood where it cannot be evaluated (finite, so the root finders' arithmetic
#: stays finite; far beyond any χ² quantile).
UNFIT = 1e300
#: Relative step of the central differences of the Satterthwaite df: second differences
#: of a log-likelihood of order n lose about log10(n) + 2 log10(1/STEP) of 16 digits, so
#: 1e-4 left 2e-4 of error on the bundled trial and 1e-3 agrees with lmerTest to 1e-6.
STEP = 1e-3
#: The absolute step of the forward differences of the REML objective's gradient, and the
#: evaluations of the objective L-BFGS-B may spend (scipy's defaults: ``eps`` and
#: ``maxfun``, which counts the difference evaluations too).
FD_STEP = 1e-8
MAXFUN = 15000


@dataclass(frozen=True)
class PnlmmFit:
    """A REML fit of the partially nested model.

    ``beta`` and ``cov_beta`` = (XᵀV̂⁻¹X)⁻¹ in the order of ``names``; ``tau2`` the
    peer-worker variance, ``sigma2_treated`` and ``sigma2_control`` the residual variance
    of each arm; ``icc`` = τ²/(τ² + σ²_T) with its profile-likelihood CI (NaN when not
    asked for); ``df`` the Satterthwaite df of the coefficient ``names[contrast]``;
    ``n_clusters`` the peer-worker clusters in the data, ``n_nested`` the participants in
    them.
    """

    names: tuple[str, ...]
    beta: np.ndarray
    cov_beta: np.ndarray
    tau2: float
    sigma2_treated: float
    sigma2_control: float
    reml_loglik: float
    icc: float
    icc_ci_low: float
    icc_ci_high: float
    df: float
    contrast: int
    n: int
    n_clusters: int
    n_nested: int
    #: the Satterthwaite df of each linear combination ``L β`` asked for (``combinations``)
    combination_df: tuple[float, ...] = ()

    @property
    def estimate(self) -> float:
        return float(self.beta[self.contrast])

    @property
    def std_error(self) -> float:
        return math.sqrt(float(self.cov_beta[self.contrast, self.contrast]))

    def conf_int(self, alpha: float = 0.05) -> tuple[float, float]:
        """The t CI of the contrast on the Satterthwaite df."""
        half = float(stats.t.ppf(1 - alpha / 2, self.df)) * self.std_error
        return self.estimate - half, self.estimate + half

    @property
    def p_value(self) -> float:
        return float(2 * stats.t.sf(abs(self.estimate) / self.std_error, self.df))


class _Parts(NamedTuple):
    ll: float  # REML log-likelihood
    beta: np.ndarray  # GLS estimate
    xvx: np.ndarray  # XᵀV⁻¹X
    logdets: float  # log|V| + log|XᵀV⁻¹X|
    rvr: float  # r'V⁻¹r at the GLS estimate


class _Reml:
    """The sufficient cross-products of the data and the REML likelihood from them."""

    def __init__(self, y: np.ndarray, X: np.ndarray, treated: np.ndarray,
                 clusters: np.ndarray) -> None:
        t = treated.astype(bool)
        if np.issubdtype(np.asarray(clusters).dtype, np.integer):
            nested, codes = _codes_of(np.asarray(clusters))
        else:
            nested = np.char.startswith(clusters.astype(str), WORKER_PREFIX)
            codes = None
        if (nested & ~t).any():
            raise ValueError("pnlmm: a peer-worker cluster holds a control-arm participant")
        self.n, self.p = X.shape
        self.n_t, self.n_c = int(t.sum()), int((~t).sum())
        # X[t] gathered twice on purpose: x.T @ x of one buffer is BLAS SYRK, whose rounding
        # differs from GEMM's (decisions PN1)
        self.xx_t, self.xx_c = X[t].T @ X[t], X[~t].T @ X[~t]
        self.xy_t, self.xy_c = X[t].T @ y[t], X[~t].T @ y[~t]
        self.yy_t, self.yy_c = float(y[t] @ y[t]), float(y[~t] @ y[~t])
        if codes is None:
            codes, g = cluster_codes(clusters[nested])
        else:
            g = int(codes.max()) + 1 if len(codes) else 0
        self.size = np.bincount(codes, minlength=g).astype(float)
        inside = X[nested]  # per cluster, the rows' sums in row order (as np.add.at adds)
        self.sx = np.column_stack([np.bincount(codes, weights=inside[:, j], minlength=g)
                                   for j in range(self.p)]) if self.p else np.zeros((g, 0))
        self.sy = np.bincount(codes, weights=y[nested], minlength=g)
        self.sy2 = self.sy**2
        self.n_nested = int(nested.sum())

    def parts(self, tau2: float, s2t: float, s2c: float) -> _Parts:
        """The REML log-likelihood and its pieces at the variance parameters."""
        a, b = 1 / s2t, 1 / s2c
        shrink = 1 + tau2 * a * self.size
        c = tau2 * a * a / shrink
        sxc = self.sx * c[:, None]
        xvx = a * self.xx_t + b * self.xx_c - sxc.T @ self.sx
        xvy = a * self.xy_t + b * self.xy_c - sxc.T @ self.sy
        yvy = a * self.yy_t + b * self.yy_c - float(c @ self.sy2)
        chol = np.linalg.cholesky(xvx)
        beta = np.linalg.solve(xvx, xvy)
        logdets = self.n_t * math.log(s2t) + self.n_c * math.log(s2c) + \
            float(np.log(shrink).sum()) + 2 * float(np.log(np.diag(chol)).sum())
        rvr = yvy - float(beta @ xvy)
        ll = -0.5 * ((self.n - self.p) * math.log(2 * math.pi) + logdets + rvr)
        return _Parts(ll, beta, xvx, logdets, rvr)

    def profiled(self, log_ratio: float, icc: float, common: bool = False) -> tuple[float, float]:
        """REML log-likelihood at (σ²_T/σ²_C, ICC) with σ²_C profiled out, and σ̂²_C.

        With V = s V₀ (V₀ at σ²_C = 1) the REML log-likelihood is maximal in s at
        s = r'V₀⁻¹r / (n − p), where it is −½[(n − p)(log 2π s + 1) + log|V₀| +
        log|XᵀV₀⁻¹X|].
        """
        ratio = 1.0 if common else math.exp(log_ratio)
        logdets, rvr = self._at_unit_control(ratio * icc / (1 - icc), ratio)
        k = self.n - self.p
        s = rvr / k
        return -0.5 * (k * (math.log(2 * math.pi * s) + 1) + logdets), s

    def _at_unit_control(self, tau2: float, s2t: float) -> tuple[float, float]:
        """``(logdets, rvr)`` of :meth:`parts` at σ²_C = 1, bit for bit, with less work:
        the optimiser's objective (the products by 1/σ²_C = 1 and the log σ²_C = 0 term
        are left out; each leaves every bit as it is)."""
        a = 1 / s2t
        shrink = 1 + tau2 * a * self.size
        c = tau2 * a * a / shrink
        sxc = self.sx * c[:, None]
        xvx = a * self.xx_t + self.xx_c - sxc.T @ self.sx
        xvy = a * self.xy_t + self.xy_c - sxc.T @ self.sy
        yvy = a * self.yy_t + self.yy_c - float(c @ self.sy2)
        chol = np.linalg.cholesky(xvx)
        beta = np.linalg.solve(xvx, xvy)
        logdets = self.n_t * math.log(s2t) + float(np.log(shrink).sum()) + \
            2 * float(np.log(np.diag(chol)).sum())
        return logdets, yvy - float(beta @ xvy)


def _codes_of(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(in a peer-worker cluster, codes 0..G−1 of those rows) from the codes of
    :func:`outcomes.clustering.peer_worker_codes` (−1 outside); codes that no row holds
    any more are closed up, as the labels' codes would be."""
    nested = codes >= 0
    inner = codes[nested]
    if len(inner) and (np.bincount(inner) == 0).any():
        inner = np.unique(inner, return_inverse=True)[1].ravel()
    return nested, inner.astype(np.int64)


def fit_pnlmm(y: np.ndarray, X: np.ndarray, treated: np.ndarray, clusters: np.ndarray,
              names: tuple[str, ...] | list[str], *, contrast: int = 1,
              common_residual: bool = False, icc_ci: bool = True,
              alpha: float = 0.05, combinations: np.ndarray | None = None) -> PnlmmFit:
    """REML fit of the partially nested model (module docstring).

    ``clusters``: labels of :func:`outcomes.clustering.cluster_ids`; only ``"PW:"``
    clusters carry a random effect (they must hold treated participants only). Or their
    integer codes (:func:`outcomes.clustering.peer_worker_codes`, made once for many fits
    of the same participants).
    ``common_residual``: one residual variance for both arms (σ²_T = σ²_C, the model of
    statsmodels ``MixedLM``). ``icc_ci``: compute the profile-likelihood CI of the ICC
    (level 1 − ``alpha``). ``combinations``: rows ``L`` of linear combinations ``L β``
    (e.g. an adjusted mean) whose Satterthwaite df are wanted as well.

    Raises :class:`NotEstimable` when fewer than 2 peer workers are in the data (τ² cannot
    be told from the arm effect) or none holds 2 or more participants (τ² cannot be told
    from σ²_T), when no residual degree of freedom is left, when REML
    does not converge, or when the REML information is not positive definite (no
    Satterthwaite df). The design's rank is the caller's check.
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    treated = np.asarray(treated).astype(bool)
    clusters = np.asarray(clusters)
    if not np.issubdtype(clusters.dtype, np.integer):
        clusters = clusters.astype(str)
    reml = _Reml(y, X, treated, clusters)
    if reml.n <= reml.p:
        raise NotEstimable(f"{reml.n} participants for {reml.p} coefficients: no residual "
                           "degree of freedom")
    if len(reml.size) < 2:
        raise NotEstimable(f"{len(reml.size)} peer worker(s) among the participants analysed: "
                           "a peer-worker variance needs 2 or more (the effect of one cannot be "
                           "told from the treatment effect)")
    if not (reml.size >= 2).any():
        raise NotEstimable("no peer worker with 2 or more participants analysed: the "
                           "peer-worker variance cannot be told from the residual variance "
                           "of the treated arm")

    def objective(x: np.ndarray) -> float:
        lr, icc = (0.0, float(x[0])) if common_residual else (float(x[0]), float(x[1]))
        try:
            return -reml.profiled(lr, icc, common_residual)[0]
        except np.linalg.LinAlgError:
            return math.inf

    bounds = [(0.0, ICC_MAX)] if common_residual else \
        [(-LOG_RATIO_BOUND, LOG_RATIO_BOUND), (0.0, ICC_MAX)]
    with_gradient = _forward_differences(objective, bounds)
    start_ratio = _start_log_ratio(y, X, treated)
    best = None
    for icc0 in (0.05, 0.3):  # two starts: the REML surface of a small trial can be flat
        x0 = [icc0] if common_residual else [start_ratio, icc0]
        res = optimize.minimize(with_gradient, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 500,
                                         "maxfun": MAXFUN // (len(x0) + 1)})
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    if best is None or not (best.success or _stationary(objective, best.x, bounds)):
        why = "" if best is None else f": {best.message}"
        raise NotEstimable(f"REML did not converge{why}")
    log_ratio, icc = (0.0, float(best.x[0])) if common_residual else map(float, best.x)
    ll_max, s2c = reml.profiled(log_ratio, icc, common_residual)
    s2t = s2c * math.exp(log_ratio)
    tau2 = s2t * icc / (1 - icc)
    fit = reml.parts(tau2, s2t, s2c)
    cov = np.linalg.inv(fit.xvx)
    theta = np.array([tau2, s2t, s2c])
    unit = np.zeros(reml.p)
    unit[contrast] = 1.0
    extra = np.zeros((0, reml.p)) if combinations is None else np.atleast_2d(combinations)
    df, *combination_df = _satterthwaite(reml, theta, np.vstack([unit, extra]),
                                         common_residual)
    lo = hi = float("nan")
    if icc_ci:
        lo, hi = _icc_profile_ci(reml, icc, log_ratio, ll_max, alpha, common_residual)
    return PnlmmFit(names=tuple(names), beta=fit.beta, cov_beta=cov, tau2=tau2,
                    sigma2_treated=s2t, sigma2_control=s2c, reml_loglik=fit.ll, icc=icc,
                    icc_ci_low=lo, icc_ci_high=hi, df=df, contrast=contrast, n=reml.n,
                    n_clusters=len(reml.size), n_nested=reml.n_nested,
                    combination_df=tuple(combination_df))


def _forward_differences(objective, bounds: list[tuple[float, float]]):
    """``x -> (objective(x), gradient)``, the gradient by the forward differences that
    L-BFGS-B takes without a ``jac`` (scipy's ``approx_derivative``, '2-point', absolute
    step :data:`FD_STEP`, turned back or shortened at a bound), the same arithmetic on the
    same numbers, so the optimiser's path is the same to the last bit, without scipy's
    overhead per gradient (twice the objective's own cost on the bundled trial)."""
    lb = np.array([b[0] for b in bounds], dtype=float)
    ub = np.array([b[1] for b in bounds], dtype=float)
    rstep = np.finfo(np.float64).eps ** 0.5

    def steps(x: np.ndarray) -> np.ndarray:
        sign = (x >= 0).astype(float) * 2 - 1
        h = np.where(((x + FD_STEP) - x) == 0, rstep * sign * np.maximum(1.0, np.abs(x)),
                     FD_STEP)
        lower, upper = x - lb, ub - x
        moved = x + h
        fitting = np.abs(h) <= np.maximum(lower, upper)
        h[((moved < lb) | (moved > ub)) & fitting] *= -1
        forward = (upper >= lower) & ~fitting
        h[forward] = upper[forward]
        backward = (upper < lower) & ~fitting
        h[backward] = -lower[backward]
        return h

    def fun_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        f0 = objective(x)
        h = steps(x)
        grad = np.empty(len(x))
        for i in range(len(x)):
            x1 = x.copy()
            x1[i] = x[i] + h[i]
            grad[i] = (np.float64(objective(x1)) - f0) / ((x[i] + h[i]) - x[i])
        return f0, grad

    return fun_and_grad


def _stationary(objective, x: np.ndarray, bounds: list[tuple[float, float]],
                tol: float = 1e-3, h: float = 1e-6) -> bool:
    """Whether ``x`` is a stationary point of ``objective`` within ``bounds`` (projected
    central-difference gradient below ``tol`` log-likelihood units per unit): L-BFGS-B can
    stop "abnormally" in its line search at an optimum that the finite-difference gradient
    no longer resolves."""
    for k, (lo, hi) in enumerate(bounds):
        step = np.zeros_like(x)
        step[k] = h
        if x[k] - h < lo:
            if (objective(x + step) - objective(x)) / h < -tol:
                return False
        elif x[k] + h > hi:
            if (objective(x) - objective(x - step)) / h > tol:
                return False
        elif abs(objective(x + step) - objective(x - step)) / (2 * h) > tol:
            return False
    return True


def _start_log_ratio(y: np.ndarray, X: np.ndarray, treated: np.ndarray) -> float:
    """log(σ²_T/σ²_C) of the OLS residuals: the optimiser's start."""
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    vt, vc = np.var(resid[treated]), np.var(resid[~treated])
    if not (vt > 0 and vc > 0):
        return 0.0
    return float(np.clip(math.log(vt / vc), -LOG_RATIO_BOUND / 2, LOG_RATIO_BOUND / 2))


def _satterthwaite(reml: _Reml, theta: np.ndarray, L: np.ndarray, common: bool) -> list[float]:
    """Satterthwaite df of each ``ℓ'β̂``, ℓ a row of ``L`` (the coefficient β̂_j for the
    unit vector e_j): 2 v² / (∇vᵀ A ∇v), v = ℓ'(XᵀV⁻¹X)⁻¹ℓ (module docstring), capped at
    n − p.

    The derivatives are central differences on the natural scale (τ², σ²_T, σ²_C), or
    (τ², σ²) with a common residual variance. At the boundary τ̂² = 0 the df is that of
    the residual variances alone (τ² held at 0): what the standard-deviation scale of
    lme4/lmerTest gives there, where ∂V/∂τ = 2τ ZZᵀ = 0 (docs/clustering.md).
    """
    free = [0, 1] if common else [0, 1, 2]
    if theta[0] == 0:
        free = free[1:]

    def unpack(t: np.ndarray) -> tuple[float, float, float]:
        full = np.array(theta, dtype=float)
        full[free] = t
        return (full[0], full[1], full[1]) if common else (full[0], full[1], full[2])

    th = np.asarray(theta, dtype=float)[free]
    h = STEP * th
    if free[0] == 0:  # τ² > 0: a step on σ²_T's scale that keeps V positive definite
        h[0] = STEP * theta[1] / max(1.0, float(reml.size.max()))

    def var_j(t: np.ndarray) -> np.ndarray:
        cov = np.linalg.inv(reml.parts(*unpack(t)).xvx)
        return np.einsum("ij,jk,ik->i", L, cov, L)

    def ll(t: np.ndarray) -> float:
        return reml.parts(*unpack(t)).ll

    k = len(th)
    grad = np.empty((k, len(L)))
    hess = np.empty((k, k))
    f0 = ll(th)
    e = np.eye(k)
    for a in range(k):
        grad[a] = (var_j(th + h[a] * e[a]) - var_j(th - h[a] * e[a])) / (2 * h[a])
        hess[a, a] = (ll(th + h[a] * e[a]) - 2 * f0 + ll(th - h[a] * e[a])) / h[a] ** 2
        for b in range(a):
            d = (ll(th + h[a] * e[a] + h[b] * e[b]) - ll(th + h[a] * e[a] - h[b] * e[b])
                 - ll(th - h[a] * e[a] + h[b] * e[b]) + ll(th - h[a] * e[a] - h[b] * e[b]))
            hess[a, b] = hess[b, a] = d / (4 * h[a] * h[b])
    info = -hess
    try:
        np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        raise NotEstimable("the REML information of the variance parameters is not "
                           "positive definite: no Satterthwaite degrees of freedom") from None
    v = var_j(th)
    denom = np.einsum("ai,ai->i", grad, np.linalg.solve(info, grad))
    return [float(min(2 * v[i] ** 2 / denom[i] if denom[i] > 0 else math.inf, reml.n - reml.p))
            for i in range(len(L))]


def _icc_profile_ci(reml: _Reml, icc_hat: float, log_ratio_hat: float, ll_max: float,
                    alpha: float, common: bool) -> tuple[float, float]:
    """Profile-likelihood CI of the ICC: {ICC : 2 (ℓ̂ − ℓ_p(ICC)) ≤ χ²₁(1 − α)}, ℓ_p the
    REML log-likelihood maximised over σ²_T/σ²_C (and σ²_C) at that ICC. The lower limit
    is 0 when ICC 0 is inside; the upper is 1 when no ICC below 1 is outside. Where the
    likelihood cannot be evaluated (XᵀV⁻¹X numerically singular: near ICC 1 a stratifier
    level held by the clustered participants alone loses its information; or a residual
    quadratic form that rounds to 0 or below) it counts as −∞, outside the interval
    (pilots of 60 with diagnosis groups met both)."""
    crit = float(stats.chi2.ppf(1 - alpha, 1)) / 2

    def neg_ll(lr: float, icc: float) -> float:
        try:
            return -reml.profiled(lr, icc, common)[0]
        except (np.linalg.LinAlgError, ValueError, ArithmeticError):  # ValueError: log(s ≤ 0)
            return UNFIT

    def ll_p(icc: float) -> float:
        if common:
            return -neg_ll(0.0, icc)
        res = optimize.minimize_scalar(
            lambda lr: neg_ll(lr, icc),
            bracket=(log_ratio_hat - 0.5, log_ratio_hat + 0.5),
            options={"xtol": 1e-10})
        return float(-res.fun)

    def gap(icc: float) -> float:
        return ll_max - ll_p(icc) - crit

    lo = 0.0 if gap(0.0) <= 0 else optimize.brentq(gap, 0.0, icc_hat, xtol=1e-8)
    top = 1 - 1e-6
    hi = 1.0 if gap(top) <= 0 else optimize.brentq(gap, icc_hat, top, xtol=1e-8)
    return float(lo), float(hi)
