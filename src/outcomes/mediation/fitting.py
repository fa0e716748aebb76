"""Model fits batched over bootstrap replicates.

Every fit takes a design matrix ``X`` (n x p, column 0 the intercept), the response(s) and
a weight matrix ``W`` (B x n). Row b of ``W`` holds the multinomial resample counts of
replicate b (how often each participant was drawn), used as frequency weights: a weighted
fit with integer counts is the same fit as the fit on the resampled rows (each row repeated
count times), so one matrix product serves all replicates at once. The full-sample fit is
the case ``W = ones((1, n))``.

Columns other than the intercept are centred and scaled inside each fit (and the
coefficients transformed back) so that the normal equations stay well conditioned.

Sums over participants are matrix products ``W @ (per-participant terms)``: ``X'WX`` for
every replicate is ``W @ XX`` with ``XX[i] = vec(x_i x_i')``; this is one BLAS call for all
replicates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np

from outcomes.linalg import separating_direction

__all__ = [
    "OLSFit",
    "LogisticFit",
    "WeibullFit",
    "fit_ols",
    "fit_logistic",
    "fit_weibull",
    "separated",
]


@dataclass(frozen=True)
class _Std:
    """Centring and scaling of the non-intercept columns of a design matrix."""

    shift: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, X: np.ndarray) -> _Std:
        shift = X.mean(axis=0)
        scale = X.std(axis=0)
        const = scale == 0
        shift[const] = 0.0
        scale[const] = 1.0
        shift[0] = 0.0
        scale[0] = 1.0
        return cls(shift, scale)

    def apply(self, X: np.ndarray) -> np.ndarray:
        return (X - self.shift) / self.scale

    def to_original(self, g: np.ndarray) -> np.ndarray:
        """Coefficients on the standardised columns (..., p) -> original columns."""
        b = g / self.scale
        b[..., 0] = g[..., 0] - (b[..., 1:] * self.shift[1:]).sum(axis=-1)
        return b

    def to_standard(self, b: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_original` for coefficient vectors (..., p)."""
        g = b * self.scale
        g[..., 0] = b[..., 0] + (b[..., 1:] * self.shift[1:]).sum(axis=-1)
        return g


def _outer_rows(X: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Upper-triangle products x_ij x_ik (j <= k) of every row: (n, p(p+1)/2), and indices."""
    iu = np.triu_indices(X.shape[1])
    return X[:, iu[0]] * X[:, iu[1]], iu


#: The last designs standardised (:func:`_standardised`): X's copy, _Std, Xs, XX, iu; at
#: most _DESIGNS_KEPT designs and _DESIGNS_BYTES of arrays kept (the designs of one
#: imputation at n = 600; at n = 20,000 one design's products alone are 15-35 MB, so none
#: is kept and memory does not grow).
_DESIGNS: list[tuple[np.ndarray, _Std, np.ndarray, np.ndarray, tuple]] = []
_DESIGNS_BYTES, _DESIGNS_KEPT = 8 << 20, 8


def _standardised(X: np.ndarray) -> tuple[_Std, np.ndarray, np.ndarray, tuple]:
    """(_Std.of(X), its standardised X, _outer_rows of that): computed once per design.

    A mediation analysis fits the same designs again and again (the full sample, then each
    block of bootstrap replicates of each design); the last few (_DESIGNS_KEPT, at most
    _DESIGNS_BYTES) are kept with a copy of X and reused only when X is equal to it
    element for element (read-only: callers must not change the arrays returned)."""
    for i, (X0, *prep) in enumerate(_DESIGNS):
        if X0.shape == X.shape and X0.dtype == X.dtype and np.array_equal(X0, X):
            if i:
                _DESIGNS.insert(0, _DESIGNS.pop(i))
            return cast("tuple[_Std, np.ndarray, np.ndarray, tuple]", tuple(prep))
    std = _Std.of(X)
    Xs = std.apply(X)
    XX, iu = _outer_rows(Xs)
    for a in (std.shift, std.scale, Xs, XX):
        a.setflags(write=False)
    if 2 * X.nbytes + XX.nbytes <= _DESIGNS_BYTES:
        _DESIGNS.insert(0, (np.array(X, copy=True), std, Xs, XX, iu))
        del _DESIGNS[_DESIGNS_KEPT:]  # the designs of one imputation, not the earlier ones
        while sum(2 * d[0].nbytes + d[3].nbytes for d in _DESIGNS) > _DESIGNS_BYTES:
            _DESIGNS.pop()
    return std, Xs, XX, iu


def _sym(flat: np.ndarray, iu: tuple[np.ndarray, np.ndarray], p: int) -> np.ndarray:
    """(B, p(p+1)/2) upper-triangle sums -> (B, p, p) symmetric matrices."""
    out = np.empty((flat.shape[0], p, p))
    out[:, iu[0], iu[1]] = flat
    out[:, iu[1], iu[0]] = flat
    return out


#: Bound on standardised coefficients (and the Weibull sigma) beyond which a maximum
#: likelihood fit is taken as diverging: separation (logistic), monotone likelihood (Weibull).
DIVERGED = 50.0


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched solve of A x = b (A: B x p x p, b: B x p x q); pseudo-inverse when singular.

    A resample can miss every member of a small category (a site dummy of all zeros),
    which makes X'WX singular; the minimum-norm solution then gives the same fitted values
    for every resampled participant, so effects averaged over the resample are unaffected.
    A replicate whose A or b is not finite (a diverging Newton iterate) gets NaN, and the
    caller counts it as not converged.
    """
    good = np.isfinite(A).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))
    if not good.all():
        out = np.full(b.shape, np.nan)
        if good.any():
            out[good] = _solve(A[good], b[good])
        return out
    try:
        return np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(A) @ b


@dataclass
class OLSFit:
    """Least-squares fits of q responses on one design, for B replicates."""

    coef: np.ndarray  # (B, p, q)
    resid_cov: np.ndarray  # (B, q, q), residual (co)variance with divisor sum(w) - p
    df_resid: np.ndarray  # (B,)


def fit_ols(X: np.ndarray, Y: np.ndarray, W: np.ndarray, *, resid: bool = True) -> OLSFit:
    """Weighted least squares of each column of ``Y`` (n x q) on ``X`` for every row of ``W``.

    ``resid_cov`` is the residual cross-product matrix over ``sum(w) - p`` (the usual
    unbiased residual variance on the diagonal, as in ``lm``'s sigma and statsmodels'
    ``scale``), from the normal equations: R'WR = Y'WY - G'(X'WY) with Y centred at its
    sample mean (the intercept absorbs the centring); ``resid=False`` skips it.
    """
    Y = Y.reshape(Y.shape[0], -1)
    n, p = X.shape
    q = Y.shape[1]
    B = W.shape[0]
    std, Xs, XX, iu = _standardised(X)
    A = _sym(W @ XX, iu, p)
    Yc = Y - Y.mean(axis=0)
    rhs = (W @ (Xs[:, :, None] * Yc[:, None, :]).reshape(n, p * q)).reshape(B, p, q)
    G = _solve(A, rhs)  # coefficients for (Xs, Yc)
    df = W.sum(axis=1) - p
    if resid:
        YY = (W @ (Yc[:, :, None] * Yc[:, None, :]).reshape(n, q * q)).reshape(B, q, q)
        cov = (YY - np.swapaxes(G, 1, 2) @ rhs) / df[:, None, None]
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
    else:
        cov = np.full((B, q, q), np.nan)
    G[:, 0, :] += Y.mean(axis=0)
    coef = np.swapaxes(std.to_original(np.swapaxes(G, 1, 2)), 1, 2)
    return OLSFit(coef=coef, resid_cov=cov, df_resid=df)


#: Screen for separation after an unpenalised logistic fit (:func:`fit_logistic`): a
#: replicate whose linear predictor exceeds this in absolute value for a participant with
#: positive weight (a fitted risk within 2e-9 of 0 or 1) gets the exact check
#: :func:`separated`. Newton on separated data moves the separated participants' linear
#: predictor by about 1 per step and can stop only once their terms are lost to rounding
#: against the others' (measured: |eta| of 32 and more up to n = 10^6), so no separated
#: replicate stops below the screen; a fit with a finite maximum beyond it
#: passes the exact check and is kept (decisions SP2).
ETA_SCREEN = 20.0


def separated(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> bool | None:
    """Whether the logistic regression of 0/1 ``y`` on ``X`` (intercept included), over the
    rows with positive weight ``w``, has (quasi-)complete separation: some maximum-likelihood
    coefficient is infinite. None when the linear program fails.

    The linear program is :func:`outcomes.linalg.separating_direction` (Konis 2007) on the
    rows s_i x_i, s_i = 2 y_i - 1. Only which weights are positive matters (separation is
    a property of the rows present), so repeated rows enter once.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if w is not None:
        keep = np.asarray(w) > 0
        X, y = X[keep], y[keep]
    Z = np.unique(np.column_stack([X, y]), axis=0)
    return separating_direction(Z[:, :-1] * (2.0 * Z[:, -1:] - 1.0))[0]


@dataclass
class LogisticFit:
    coef: np.ndarray  # (B, p); NaN rows where Newton did not converge
    converged: np.ndarray  # (B,) bool
    n_iter: int
    diverged: np.ndarray  # (B,) bool: coefficients ran off to infinity ((quasi-)separation)
    #: (B,) bool: the replicate's data are separated (:func:`separated`), so its maximum-
    #: likelihood estimate does not exist; never converged. All False for ridge > 0.
    separated: np.ndarray


def fit_logistic(
    X: np.ndarray,
    y: np.ndarray,
    W: np.ndarray,
    *,
    start: np.ndarray | None = None,
    tol: float = 1e-5,
    max_iter: int = 50,
    ridge: float = 0.0,
) -> LogisticFit:
    """Logistic regression by Newton's method (= IRLS), all replicates at once.

    ``start`` (p,) warm-starts every replicate (the full-sample estimate in the bootstrap);
    otherwise Newton starts at zero. The first Newton step from a common start is cheap
    (the linear predictor is the same for every replicate, so gradient and Hessian are one
    matrix product each). A replicate stops when the largest Newton step on the
    standardised scale is below ``tol``; by quadratic convergence (observed: each step is
    below the square of the previous one) the error after that step is of order
    ``tol**2`` = 1e-10. Replicates that
    fail to converge get NaN.

    Separation (``ridge`` = 0): the maximum-likelihood estimate does not exist, and however
    Newton stops — coefficients past ``DIVERGED``, the iteration limit, or a "converged"
    step once the fitted risks of the separated participants round to exactly 0 or 1 and
    their weight p(1 - p) in the Hessian vanishes — the replicate is not converged and
    ``separated`` is set. The check: every replicate that did not converge, and every one
    whose linear predictor passes ``ETA_SCREEN`` for a participant with positive weight, is
    tested with the exact linear program :func:`separated` (decisions SP1-SP3).

    ``ridge`` > 0 maximises the log-likelihood minus ridge/2 times the sum of squared
    coefficients of the standardised non-intercept columns (a normal prior with SD
    ridge^-1/2 per SD of each covariate), which is finite under separation.
    """
    n, p = X.shape
    B = W.shape[0]
    std, Xs, XX, iu = _standardised(X)
    ym = y - 0.5
    g0 = np.zeros(p) if start is None else std.to_standard(np.asarray(start, dtype=float))
    # Exact Newton step from the common start g0.
    mu0 = 0.5 * (1.0 + np.tanh(0.5 * (Xs @ g0)))
    pen = np.full(p, float(ridge))
    pen[0] = 0.0
    H = _sym(W @ (XX * (mu0 * (1 - mu0))[:, None]), iu, p) + np.diag(pen)
    grad = W @ (Xs * (y - mu0)[:, None]) - pen * g0
    step = _solve(H, grad[:, :, None])[:, :, 0]
    g = g0 + step
    # Constant part of the gradient: sum_i w_i (y_i - 1/2) x_i.
    wyx = W @ (Xs * ym[:, None])
    ok = np.isfinite(step).all(axis=1)
    active = np.flatnonzero(ok & (np.abs(step).max(axis=1) >= tol))
    converged = ok & (np.abs(step).max(axis=1) < tol)
    diverged = np.zeros(B, dtype=bool)
    g[~ok] = np.nan
    it = 1
    for it in range(2, max_iter + 1):  # noqa: B007 - it is reported
        if active.size == 0:
            break
        Wa = W if active.size == B else W[active]
        ga = g[active]
        # expit(eta) = (1 + tanh(eta / 2)) / 2: y - mu = (y - 1/2) - th/2,
        # mu (1 - mu) = (1 - th^2) / 4.
        th = ga @ (0.5 * Xs.T)
        np.tanh(th, out=th)
        wth = Wa * th
        grad = wyx[active] - 0.5 * (wth @ Xs) - pen * ga
        np.multiply(wth, th, out=th)
        np.subtract(Wa, th, out=th)
        H = _sym(th @ XX, iu, p)
        H *= 0.25
        H += np.diag(pen)
        step = _solve(H, grad[:, :, None])[:, :, 0]
        ok = np.isfinite(step).all(axis=1)
        step[~ok] = 0.0
        g[active] = ga + step
        size = np.abs(step).max(axis=1)
        done = ok & (size < tol)
        bad = ~ok | (np.abs(g[active]) > DIVERGED).any(axis=1)  # diverging: separation
        g[active[bad]] = np.nan
        diverged[active[bad]] = True
        converged[active[done & ~bad]] = True
        active = active[~done & ~bad]
    g[active] = np.nan
    sep = np.zeros(B, dtype=bool)
    if ridge == 0:  # a penalised fit has a finite maximum: never separated
        sep = _separated_replicates(X, y, W, Xs, g, converged)
        converged &= ~sep
        g[sep] = np.nan
    return LogisticFit(coef=std.to_original(g), converged=converged, n_iter=it,
                       diverged=diverged | sep, separated=sep)


def _separated_replicates(X: np.ndarray, y: np.ndarray, W: np.ndarray, Xs: np.ndarray,
                          g: np.ndarray, converged: np.ndarray) -> np.ndarray:
    """(B,) bool: the replicates of an unpenalised logistic fit whose data are separated
    (:func:`separated`), checked as :func:`_checked_replicates` says on the linear
    predictors."""
    return _checked_replicates(W, converged, lambda idx: g[idx] @ Xs.T,
                               lambda b: separated(X, y, W[b]))


def _checked_replicates(W: np.ndarray, converged: np.ndarray,
                        predictor: Callable[[np.ndarray], np.ndarray],
                        exact: Callable[[int], bool | None]) -> np.ndarray:
    """(B,) bool: the replicates whose maximum-likelihood estimate does not exist by the
    linear program ``exact(b)``, run on the replicates that did not converge and on the
    converged ones whose ``predictor`` (the (len(idx), n) linear predictors of replicates
    ``idx``) passes ``ETA_SCREEN`` in absolute value for a participant with positive weight
    (a fitted risk or cumulative hazard numerically at its bound). A screened replicate
    whose linear program fails is taken as having no estimate (its fit stopped where the
    Hessian has lost those participants)."""
    B = W.shape[0]
    conv = np.flatnonzero(converged)
    screened = np.zeros(B, dtype=bool)
    for lo in range(0, conv.size, 256):  # blocks: (256, n) linear predictors at a time
        idx = conv[lo:lo + 256]
        eta = np.abs(predictor(idx))
        eta[W[idx] <= 0] = 0.0
        screened[idx] = eta.max(axis=1) > ETA_SCREEN
    out = np.zeros(B, dtype=bool)
    for b in np.flatnonzero(screened | ~converged):
        verdict = exact(int(b))
        out[b] = bool(screened[b]) if verdict is None else verdict
    return out


@dataclass
class WeibullFit:
    """Weibull accelerated-failure-time fits: log T = x'beta + sigma * W, W ~ Gumbel(min)."""

    coef: np.ndarray  # (B, p) beta on the log-time scale
    sigma: np.ndarray  # (B,) scale of log T (1 / Weibull shape)
    converged: np.ndarray
    n_iter: int
    loglik: np.ndarray
    diverged: np.ndarray  # (B,) bool: the maximum is at infinity (see fit_weibull)
    #: (B,) bool: the rows present have a monotone likelihood in the coefficients
    #: (:func:`monotone_likelihood`); also set in ``diverged``
    monotone: np.ndarray | None = None


def _weibull_terms(Xs, logt, kind, theta, want_hess=True):
    """Log-likelihood and derivatives per observation, parametrised by (b*, k).

    z = k*log t - x'b*, k = 1/sigma, b* = beta/sigma. Kinds: 0 event at t > 0 (density),
    1 right-censored at t (survival), 2 event at day 0, interval-censored in (0, 1] day
    (log t = 0, contribution log(1 - S(1))). In (b*, k) the log-likelihood is concave (the
    Gumbel density and its distribution and survival functions are log-concave), so Newton
    with step-halving converges from any start with k > 0.
    """
    b = theta[:, :-1]
    k = theta[:, -1:]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        z = k * logt - b @ Xs.T  # (B, n)
        ez = np.exp(z)
        ev = kind == 0
        iv = kind == 2
        if not iv.any():  # no event at day 0 (the usual case): the same values, fewer passes
            nez = np.negative(ez)
            ll = np.where(ev, np.log(k) + z - ez, nez)
            if not want_hess:
                return ll, None, None
            return ll, np.where(ev, 1.0 - ez, nez), nez
        ce = kind == 1
        ll = np.where(ev, np.log(k) + z - ez, 0.0)
        ll = np.where(ce, -ez, ll)
        # log(1 - exp(-u)), u = e^z
        ll_iv = np.log(-np.expm1(-ez))
        ll = np.where(iv, ll_iv, ll)
        if not want_hess:
            return ll, None, None
        em1 = np.expm1(ez)
        r = np.where(ez > 0, ez / em1, 1.0)  # u / (e^u - 1)
        r = np.where(np.isfinite(r), r, 0.0)
        q = np.where(ez > 0, ez / -np.expm1(-ez), 1.0)  # u / (1 - e^-u)
        lz = np.where(ev, 1.0 - ez, -ez)
        lz = np.where(iv, r, lz)
        rq = np.where(r > 0, r * q, 0.0)
        lzz = np.where(iv, r - rq, -ez)
    return ll, lz, lzz


def fit_weibull(
    X: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    W: np.ndarray,
    *,
    start: tuple[np.ndarray, float] | None = None,
    tol: float = 1e-9,
    max_iter: int = 100,
    ridge: float = 0.0,
) -> WeibullFit:
    """Weibull AFT model with right censoring by Newton's method, all replicates at once.

    Event times of 0 days are events in (0, 1] day (interval-censored); censoring times of
    0 contribute S(0) = 1, i.e. nothing to the likelihood (the participant still counts in
    n and in the covariate distribution the effects are averaged over). Nobody is dropped.

    With few events the likelihood can increase without bound as coefficients or sigma go to
    infinity (monotone likelihood, the survival analogue of separation); Newton then stops at
    an absurd point. A fit with a coefficient of a standardised column beyond ``DIVERGED`` on
    the log-time scale (a factor e^50 per SD) or sigma beyond ``DIVERGED`` (shape < 0.02) is
    reported as ``diverged`` and not converged.

    ``ridge`` > 0 maximises the log-likelihood minus ridge/2 times the sum of squared
    coefficients b* = beta/sigma of the standardised non-intercept columns (the log hazard
    ratios per SD of each covariate, up to sign: a normal prior with SD ridge^-1/2 on each),
    which keeps the likelihood concave and its maximum finite under monotone likelihood.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    n, p = X.shape
    B = W.shape[0]
    std, Xs, XX, iu = _standardised(X)
    kind = np.where(event, np.where(time > 0, 0, 2), 1)
    with np.errstate(divide="ignore"):
        logt = np.where(time > 0, np.log(np.where(time > 0, time, 1.0)), 0.0)
    cens0 = (kind == 1) & (time <= 0)
    logt = np.where(cens0, 0.0, logt)
    wmask = np.where(cens0, 0.0, 1.0)  # censored at 0: contributes nothing
    nev = (kind == 0).astype(float)

    theta = np.zeros((B, p + 1))
    if start is not None:
        beta, sigma0 = start
        theta[:, :-1] = std.to_standard(np.asarray(beta, dtype=float)) / sigma0
        theta[:, -1] = 1.0 / sigma0
    else:
        # Crude start: least squares of log time (day 0 as half a day) on X, k = 1.
        lt = np.log(np.where(time > 0, time, 0.5))
        g0 = np.linalg.lstsq(Xs, lt, rcond=None)[0]
        theta[:, :-1] = g0
        theta[:, -1] = 1.0

    pen = np.full(p, float(ridge))
    pen[0] = 0.0

    def total_ll(th, Wa):
        ll, _, _ = _weibull_terms(Xs, logt, kind, th, want_hess=False)
        out = (Wa * wmask * ll).sum(axis=1) - 0.5 * (pen * th[:, :-1] ** 2).sum(axis=1)
        return np.where(np.isfinite(out), out, -np.inf)

    active = np.arange(B)
    converged = np.zeros(B, dtype=bool)
    ll_cur = total_ll(theta, W)
    Xlogt, logt2 = Xs * logt[:, None], logt**2
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - it is reported
        Wa = W[active] * wmask
        th = theta[active]
        _, lz, lzz = _weibull_terms(Xs, logt, kind, th)
        k = th[:, -1]
        wlz, wlzz, wnev = Wa * lz, Wa * lzz, Wa @ nev
        grad = np.empty((active.size, p + 1))
        grad[:, :-1] = -wlz @ Xs - pen * th[:, :-1]
        grad[:, -1] = wlz @ logt + wnev / k
        H = np.empty((active.size, p + 1, p + 1))
        H[:, :-1, :-1] = _sym(wlzz @ XX, iu, p) - np.diag(pen)
        hbk = -wlzz @ Xlogt
        H[:, :-1, -1] = hbk
        H[:, -1, :-1] = hbk
        H[:, -1, -1] = wlzz @ logt2 - wnev / k**2
        step = -_solve(H, grad[:, :, None])[:, :, 0]
        bad = ~np.isfinite(step).all(axis=1)
        step[bad] = grad[bad] * 1e-3
        # Step-halving: keep k > 0 and do not decrease the log-likelihood.
        frac = np.ones(active.size)
        ll_old = ll_cur[active]
        new = th + step
        ll_new = total_ll(new, W[active])
        for _ in range(40):
            worse = (new[:, -1] <= 0) | (ll_new < ll_old - 1e-12 * np.abs(ll_old))
            if not worse.any():
                break
            frac[worse] /= 2
            new[worse] = th[worse] + frac[worse, None] * step[worse]
            ll_new[worse] = total_ll(new[worse], W[active[worse]])
        theta[active] = new
        ll_cur[active] = ll_new
        size = np.abs(frac[:, None] * step).max(axis=1)
        done = size < tol
        converged[active[done]] = True
        active = active[~done]
        if active.size == 0:
            break
    k = theta[:, -1]
    g = theta[:, :-1] / k[:, None]
    sigma = 1.0 / k
    with np.errstate(invalid="ignore"):
        diverged = cast(np.ndarray, ~(np.abs(g[:, 1:]) <= DIVERGED).all(axis=1) | ~(sigma <= DIVERGED))
    converged &= ~diverged
    mono = np.zeros(B, dtype=bool)
    if ridge == 0:  # a penalised fit has a finite maximum in the coefficients (IS2)
        mono = _monotone_replicates(X, time, kind, W * wmask, Xs, logt, theta, converged)
        converged &= ~mono
        diverged |= mono
    beta = std.to_original(g)
    beta[~converged] = np.nan
    sigma = np.where(converged, sigma, np.nan)
    return WeibullFit(coef=beta, sigma=sigma, converged=converged, n_iter=it, loglik=ll_cur,
                      diverged=diverged, monotone=mono)


def monotone_likelihood(X: np.ndarray, time: np.ndarray, event: np.ndarray,
                        w: np.ndarray | None = None) -> bool | None:
    """Whether the Weibull (AFT) log-likelihood of :func:`fit_weibull` over the rows with
    positive weight ``w`` increases without bound along some direction d of the
    coefficients at any fixed shape: its maximum-likelihood estimate does not exist
    (monotone likelihood; e.g. a category of a covariate with no event). None when the
    linear program fails.

    In (b*, k) the log-likelihood is a sum of concave functions of z_i = k log t_i - x_i'b*:
    an event at t > 0 contributes log k + z - e^z (to -infinity both ways), a right-censored
    time -e^z (increasing as x_i'b* grows), an event at day 0 log(1 - exp(-e^z)) (increasing
    as x_i'b* falls); a censoring time of 0 contributes nothing. So the likelihood is
    non-decreasing along d, and strictly increasing for ever, exactly when x_i'd = 0 for the
    events at t > 0, x_i'd >= 0 for the censored and x_i'd <= 0 for the day-0 events, with
    one inequality strict (Bryson & Johnson 1981 for the Cox model). That is the separation
    program of :func:`separated` with the censored as 1s, the day-0 events as 0s and each
    event at t > 0 as both (its two constraints make an equality and its objective terms
    cancel). Directions of the shape alone (sigma to infinity) are left to ``DIVERGED``."""
    X = np.asarray(X, dtype=float)
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    keep = (~event & (time > 0)) | event  # censored at 0: nothing to the likelihood
    if w is not None:
        keep &= np.asarray(w) > 0
    X, time, event = X[keep], time[keep], event[keep]
    both = event & (time > 0)
    rows = np.vstack([X, X[both]])
    y = np.concatenate([(~event).astype(float), np.ones(int(both.sum()))])
    return separated(rows, y)


def _monotone_replicates(X: np.ndarray, time: np.ndarray, kind: np.ndarray, W: np.ndarray,
                         Xs: np.ndarray, logt: np.ndarray, theta: np.ndarray,
                         converged: np.ndarray) -> np.ndarray:
    """(B,) bool: the replicates of an unpenalised Weibull fit whose likelihood is monotone
    (:func:`monotone_likelihood`), checked as :func:`_checked_replicates` says on z = k log
    t - x'b (a fitted cumulative hazard numerically 0 or infinite; ``W``: counts times the
    likelihood mask)."""
    event = kind != 1
    return _checked_replicates(
        W, converged, lambda idx: theta[idx, -1:] * logt - theta[idx, :-1] @ Xs.T,
        lambda b: monotone_likelihood(X, time, event, W[b]))
