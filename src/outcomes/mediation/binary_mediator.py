"""Binary (yes/no) mediators: a logistic mediator model and potential outcomes by a two-point
sum over the mediator's Bernoulli distribution (Imai, Keele & Tingley 2010, section 3.2;
VanderWeele 2015, section 2.5). docs/mediation.md, section 4a.

A single binary mediator M with the models

    P(M = 1 | t', x) = p(t', x) = expit(alpha_C . C + alpha_T t')          (logistic)
    eta(t, m, x)     = beta_C . C + beta_T t + v(t) m,  v(t) = beta_M + beta_TM t

has, for every outcome model, potential-outcome means

    E[Y(t, M(t'))] = mean_i sum_{m=0,1} P(M = m | t', x_i) E[Y | t, m, x_i]
                   = mean_i (1 - p_i(t')) f(eta_i(t, 0)) + p_i(t') f(eta_i(t, 0) + v(t)),

with f the identity (linear), expit (logistic) or the Weibull survival at the horizon;
the Weibull median solves the two-point mixture of survival curves = 1/2. The sum is exact:
no quadrature and no random draws. With a linear outcome the ACME is
v(t) * mean_i (p_i(1) - p_i(0)) (closed form).

The mediator's type is declared (``mediator_types``) or, when not declared, detected: a
mediator whose analysed values are all 0 or 1 is binary. A joint set containing a binary
mediator is not estimable (its joint distribution with the other mediators is not modelled),
nor is the Imai rho sensitivity analysis, which needs a normal mediator-model error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from outcomes.errors import NotEstimable

from .data import MediationDataError
from .effects import _CLIP, _ROWS, median_log_lambda

__all__ = ["BINARY", "CONTINUOUS", "BernoulliPredictor", "mediator_types", "check_joint",
           "po_linear", "po_logistic", "po_weibull_risk", "po_weibull_median",
           "SENSITIVITY_NOTE", "ASSUMPTION"]

BINARY = "binary"
CONTINUOUS = "continuous"

SENSITIVITY_NOTE = (
    "Sensitivity analysis (rho) not available for the binary mediator(s) {meds}: Imai's rho "
    "is the correlation of the normal errors of the mediator and outcome models, and a "
    "logistic mediator model has no such error.")

ASSUMPTION = (
    "Binary mediator: P(M = 1 | exposure, covariates) is logistic in the exposure and "
    "covariates (maximum likelihood); effects sum over its two values, no normal residual.")


def mediator_types(M: np.ndarray, names: Sequence[str],
                   declared: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The type of each mediator column of ``M`` (n x J): the declared one when given (a
    declared binary mediator must be coded 0/1), otherwise binary when every analysed value
    is 0 or 1."""
    declared = dict(declared or {})
    unknown = set(declared) - set(names)
    if unknown:
        raise MediationDataError(f"mediator_types for unknown mediators: {sorted(unknown)}")
    out = []
    for j, name in enumerate(names):
        col = M[:, j]
        is01 = bool(np.isin(col, (0.0, 1.0)).all())
        kind = declared.get(name)
        if kind not in (None, BINARY, CONTINUOUS):
            raise MediationDataError(
                f"mediator_types[{name!r}] must be {BINARY!r} or {CONTINUOUS!r}, not {kind!r}")
        if kind == BINARY and not is01:
            bad = sorted(set(col[~np.isin(col, (0.0, 1.0))].tolist()))[:5]
            raise MediationDataError(
                f"mediator column {name!r} is declared binary but must be coded 0/1; found {bad}")
        out.append(kind or (BINARY if is01 and col.size else CONTINUOUS))
    return tuple(out)


def check_joint(label: str, meds: Sequence[str], types: Sequence[str]) -> None:
    """A joint set with a binary mediator is not estimable (reason names the mediators)."""
    binary = [m for m, k in zip(meds, types, strict=True) if k == BINARY]
    if binary:
        raise NotEstimable(
            f"joint set {label}: {', '.join(binary)} binary; the joint distribution of a set "
            "with a binary mediator is not modelled (the joint effect needs it; each mediator "
            "is estimable alone)")


def check_mediator_sample(m: np.ndarray, T: np.ndarray, name: str, exposure: str) -> None:
    """Both values of a binary mediator in each arm, or NotEstimable (separation)."""
    for value in (0, 1):
        mv = m[T == value]
        if mv.size and mv.min() == mv.max():
            raise NotEstimable(
                f"binary mediator {name} is {int(mv[0])} for every complete case with {exposure} "
                f"= {value}: (quasi-)complete separation, the logistic mediator model has no "
                "finite maximum-likelihood estimate")


def _expit(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class BernoulliPredictor:
    """What the potential-outcome means of one binary mediator need, for B replicates.

    ``b_c`` (B, 1+q), ``beta_t`` (B,): the outcome's linear predictor with M = 0;
    ``v[t]`` (B,): v(t); ``a_c`` (B, 1+q), ``a_t`` (B,): the logistic mediator model;
    ``C`` (n, 1+q) covariate rows; ``weight`` (B, n): resample counts / n.
    """

    b_c: np.ndarray
    beta_t: np.ndarray
    v: tuple[np.ndarray, np.ndarray]
    a_c: np.ndarray
    a_t: np.ndarray
    C: np.ndarray
    weight: np.ndarray

    def eta0(self, t: int, rows: slice = slice(None)) -> np.ndarray:
        """(b, n) outcome linear predictor with exposure t and M = 0."""
        return self.b_c[rows] @ self.C.T + (self.beta_t[rows] * t)[:, None]

    def p(self, tp: int, rows: slice = slice(None)) -> np.ndarray:
        """(b, n) P(M = 1 | t', x_i)."""
        return _expit(self.a_c[rows] @ self.C.T + (self.a_t[rows] * tp)[:, None])

    def subset(self, ok: np.ndarray) -> BernoulliPredictor:
        return BernoulliPredictor(self.b_c[ok], self.beta_t[ok], (self.v[0][ok], self.v[1][ok]),
                                  self.a_c[ok], self.a_t[ok], self.C, self.weight[ok])


def _blocks(B: int):
    for lo in range(0, B, _ROWS):
        yield slice(lo, min(lo + _ROWS, B))


def po_linear(bp: BernoulliPredictor) -> np.ndarray:
    """(B, 2, 2) means mu[t, t'] = mean_i eta_i(t, 0) + v(t) p_i(t') (linear outcome)."""
    B = bp.weight.shape[0]
    cbar = bp.weight @ bp.C
    pbar = np.empty((B, 2))
    for rows in _blocks(B):
        for tp in (0, 1):
            pbar[rows, tp] = (bp.weight[rows] * bp.p(tp, rows)).sum(axis=1)
    out = np.empty((B, 2, 2))
    for t in (0, 1):
        base = (bp.b_c * cbar).sum(axis=1) + bp.beta_t * t
        for tp in (0, 1):
            out[:, t, tp] = base + bp.v[t] * pbar[:, tp]
    return out


def _two_point(bp: BernoulliPredictor, f) -> np.ndarray:
    """(B, 2, 2) mean_i (1 - p_i(t')) f(eta_i(t, 0), ..) + p_i(t') f(eta_i(t, 0) + v(t), ..);
    ``f(eta, rows)`` is applied to a (b, n) block."""
    B = bp.weight.shape[0]
    out = np.empty((B, 2, 2))
    for rows in _blocks(B):
        wt = bp.weight[rows]
        p = [bp.p(tp, rows) for tp in (0, 1)]
        for t in (0, 1):
            eta = bp.eta0(t, rows)
            f0 = f(eta, rows)
            f1 = f(eta + bp.v[t][rows, None], rows)
            for tp in (0, 1):
                out[rows, t, tp] = (wt * (f0 + p[tp] * (f1 - f0))).sum(axis=1)
    return out


def po_logistic(bp: BernoulliPredictor) -> np.ndarray:
    """(B, 2, 2) risks mu[t, t'] of a logistic outcome."""
    return _two_point(bp, lambda eta, rows: _expit(np.clip(eta, -_CLIP, _CLIP)))


def _weibull_surv(sigma: np.ndarray, horizon: float):
    logh = float(np.log(horizon))

    def surv(eta, rows):
        z = (logh - eta) / sigma[rows, None]
        return np.exp(-np.exp(np.clip(z, -_CLIP, _CLIP)))

    return surv


def po_weibull_risk(bp: BernoulliPredictor, sigma: np.ndarray, horizon: float) -> np.ndarray:
    """(B, 2, 2) risks of the event by ``horizon``: 1 - mean_i E[S_i(h | t, M(t'))], Weibull
    AFT S(h | eta) = exp(-exp((log h - eta) / sigma))."""
    return 1.0 - _two_point(bp, _weibull_surv(sigma, horizon))


def po_weibull_median(bp: BernoulliPredictor, sigma: np.ndarray, *, tol: float = 1e-10,
                      max_iter: int = 200) -> np.ndarray:
    """(B, 2, 2) medians of the marginal distribution of T(t, M(t')): the tau solving
    mean_i [(1 - p_i) S_i(tau | M = 0) + p_i S_i(tau | M = 1)] = 1/2 (the solver of the
    normal-mediator medians, :func:`outcomes.mediation.effects.median_log_lambda`)."""
    B = bp.weight.shape[0]
    out = np.empty((B, 2, 2))
    for rows in _blocks(B):
        wt = bp.weight[rows]
        sg = sigma[rows]
        p = [bp.p(tp, rows) for tp in (0, 1)]
        for t in (0, 1):
            eta = bp.eta0(t, rows)
            # log A_mi = -(eta_i + m v(t)) / sigma for m = 0, 1: (b, 2, n)
            logA = -np.stack([eta, eta + bp.v[t][rows, None]], axis=1) / sg[:, None, None]
            for tp in (0, 1):
                ww = np.stack([wt * (1.0 - p[tp]), wt * p[tp]], axis=1)
                centre = (logA * ww).sum(axis=(1, 2))
                A = np.exp(np.clip(logA - centre[:, None, None], -_CLIP, _CLIP))
                ell = median_log_lambda(A, ww, tol=tol, max_iter=max_iter)
                out[rows, t, tp] = np.exp(sg * (ell - centre))
    return out
