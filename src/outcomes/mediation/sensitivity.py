"""Sensitivity of the ACME to unmeasured mediator-outcome confounding (linear-linear case).

Imai, Keele & Yamamoto (2010), Statistical Science 25(1):51-71, Theorem 2. In the linear
structural equations

    Y = a1 + b1 T + x'k1 + e1              (total-effect model)
    M = a2 + b2 T + x'k2 + e2              (mediator model)
    Y = a3 + b3 T + g M + x'k3 + e3        (outcome model, no T x M interaction)

with rho = corr(e2, e3) (zero under sequential ignorability), the ACME is

    ACME(rho) = b2 * (s1 / s2) * (rt - rho * sqrt((1 - rt^2) / (1 - rho^2))),

where s1, s2 are the residual standard deviations of the total-effect and mediator models
and rt = corr(e1, e2). At rho = 0 this is b2 * g exactly (Frisch-Waugh-Lovell: the slope of
the mediator-model residuals in the total-effect residuals is g). The ACME is zero at
rho = rt. In terms of a confounder U explaining shares R*_M^2 and R*_Y^2 of the residual
variances of M and Y (rho^2 = R*_M^2 R*_Y^2), the ACME is zero when R*_M^2 R*_Y^2 = rt^2;
as shares of the total variances (R~^2 = (1 - R^2) R*^2) when
R~_M^2 R~_Y^2 = rt^2 (1 - R_M^2)(1 - R_Y^2), with R_M^2, R_Y^2 the R-squared of the
mediator and outcome models.

Binary outcome (Imai, Keele & Tingley 2010, Psychol Methods 15:309, appendix; R
``mediation::medsens``, case "binary outcome, continuous mediator"): the outcome model is a
*probit* model Y* = a3 + b3 T + g M + x'k3 + e3, Y = 1{Y* > 0}, e3 ~ N(0, 1), refitted
for this analysis (:mod:`.probit`; the pipeline's binary outcome model is logistic). With
g~ the probit coefficient of M and s2 the mediator model's residual SD, the error
correlation of the total-effect model (probit of Y on T and x) and the mediator model is

    rho12 = s2 g~ / sqrt(1 + s2^2 g~^2),

the total-effect coefficients are beta1 = (beta~_{-M} + g~ alpha) / sqrt(1 + s2^2 g~^2)
(alpha: mediator-model coefficients), and for rho = corr(e2, e3)

    u(rho) = g s2 = -rho + rho12 sqrt((1 - rho^2) / (1 - rho12^2)),
    sigma1*(rho) = sqrt(u^2 + 2 u rho + 1),
    ACME(t)(rho) = mean_i [Phi(x_it'beta1 + (1 - t) d) - Phi(x_it'beta1 - t d)],
    d = u b2 / (s2 sigma1*),

so ACME(0) is the probit model's ACME and the ACME is 0 at rho = rho12. (R ``medsens``
computes rho12 as s2 g~ / (1 + sqrt(s2^2 g~^2)), which does not make ACME(0) the probit
ACME; docs/decisions.md MS2.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

__all__ = ["DEFAULT_RHO_GRID", "SENSITIVITY_COLUMNS", "acme_at_rho", "probit_acme_curve",
           "sensitivity_tables"]

DEFAULT_RHO_GRID = np.round(np.linspace(-0.9, 0.9, 37), 10)  # steps of 0.05
SENSITIVITY_COLUMNS = ["analysis", "outcome", "mediator", "estimate_type", "effect", "rho",
                       "estimate", "ci_low", "ci_high", "outcome_model"]
#: ``outcome_model`` of the grid rows: the outcome model the ρ analysis is computed with.
SENSITIVITY_MODELS = {"linear": "linear", "logistic": "probit (sensitivity analysis only)"}
_BLOCK = 32  # replicates per block of the probit curve (B x grid x n values per block)


def acme_at_rho(b2, s1, s2, rho_tilde, rho):
    """ACME(rho) of IKY (2010, Theorem 2); arrays broadcast (replicates x grid)."""
    b2, s1, s2, rt, rho = (np.asarray(a, dtype=float) for a in (b2, s1, s2, rho_tilde, rho))
    return b2 * s1 / s2 * (rt - rho * np.sqrt((1 - rt**2) / (1 - rho**2)))


def rho12_of(gamma_tilde, s2):
    """Error correlation of the total-effect and mediator models from the probit
    coefficient ``gamma_tilde`` of the mediator and the mediator's residual SD ``s2``."""
    x = np.asarray(s2, dtype=float) * np.asarray(gamma_tilde, dtype=float)
    return x / np.sqrt(1.0 + x * x)


def probit_acme_curve(beta: np.ndarray, alpha: np.ndarray, s2: np.ndarray, C: np.ndarray,
                      weight: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(B, 1 + G): rho12 and the average ACME at each ρ of ``grid`` for a binary outcome
    with a probit outcome model (module docstring), B replicates at once.

    ``beta`` (B, 3+q): probit coefficients on [1, T, M, x]; ``alpha`` (B, 2+q): mediator
    model on [1, T, x]; ``s2`` (B,): its residual SD; ``C`` (n, 1+q): [1, x];
    ``weight`` (B, n): resample counts / n."""
    g_t = beta[:, 2]
    b_rest = np.delete(beta, 2, axis=1)  # [1, T, x]
    rho12 = rho12_of(g_t, s2)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta1 = (b_rest + g_t[:, None] * alpha) / np.sqrt(1.0 + (s2 * g_t) ** 2)[:, None]
        rho = np.asarray(grid, dtype=float)[None, :]
        u = -rho + rho12[:, None] * np.sqrt((1 - rho**2) / (1 - rho12[:, None] ** 2))
        d = u * alpha[:, 1:2] / (s2[:, None] * np.sqrt(u**2 + 2 * u * rho + 1))  # (B, G)
    c = np.delete(beta1, 1, axis=1) @ C.T  # (B, n): x'beta1 without T
    out = np.empty((beta.shape[0], 1 + rho.shape[1]))
    out[:, 0] = rho12
    bt = beta1[:, 1:2]
    # ACME(0) + ACME(1) = mean Phi(c + d) - mean Phi(c + bt - d) + mean Phi(c + bt) - mean Phi(c)
    for lo in range(0, beta.shape[0], _BLOCK):
        r = slice(lo, lo + _BLOCK)
        shifts = np.concatenate([d[r], bt[r] - d[r], bt[r], np.zeros_like(bt[r])], axis=1)
        m = mean_normal_cdf(c[r], weight[r], shifts)
        G = d.shape[1]
        out[r, 1:] = 0.5 * (m[:, :G] - m[:, G:2 * G] + m[:, 2 * G:2 * G + 1] - m[:, -1:])
    return out


#: Largest error allowed per normal-CDF mean of :func:`mean_normal_cdf` when binning.
BINNING_TOL = 1e-7


def mean_normal_cdf(c: np.ndarray, weight: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """(B, S): sum_i weight[b, i] Phi(c[b, i] + shifts[b, s]) (weights summing to 1).

    Directly when n is small; for large n the weights of each replicate are spread
    linearly onto K equally spaced nodes over the range of c (linear binning: total weight
    and mean kept exactly), which errs by at most max|Phi''| h^2 / 8 = 0.0303 h^2 (h the
    node spacing), with K chosen so that this is below :data:`BINNING_TOL`. The cost is
    then K x S instead of n x S per replicate (a trial of 100,000)."""
    B, n = c.shape
    lo, hi = c.min(axis=1), c.max(axis=1)
    span = float(np.max(hi - lo)) if B else 0.0
    if not np.isfinite(span):  # a failed (NaN) replicate in the block: direct sums
        return _weighted_cdf_means(c, weight, shifts)
    K = max(2, int(np.ceil(span * np.sqrt(0.0303 / BINNING_TOL))) + 1)
    if K >= n:
        return _weighted_cdf_means(c, weight, shifts)
    h = np.where(hi > lo, (hi - lo) / (K - 1), 1.0)
    pos = (c - lo[:, None]) / h[:, None]
    j = np.clip(np.floor(pos), 0, K - 2).astype(np.int64)
    f = pos - j
    base = (np.arange(B) * K)[:, None]
    node_w = (np.bincount((j + base).ravel(), (weight * (1 - f)).ravel(), minlength=B * K)
              + np.bincount((j + 1 + base).ravel(), (weight * f).ravel(), minlength=B * K))
    nodes = lo[:, None] + h[:, None] * np.arange(K)[None, :]
    return _weighted_cdf_means(nodes, node_w.reshape(B, K), shifts)


def _weighted_cdf_means(x: np.ndarray, w: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """sum_k w[b, k] Phi(x[b, k] + shifts[b, s]), a few replicates at a time (at most
    about 4 million values of Phi in memory)."""
    B, K = x.shape
    out = np.empty((B, shifts.shape[1]))
    step = max(1, 4_000_000 // max(1, shifts.shape[1] * K))
    for lo in range(0, B, step):
        r = slice(lo, lo + step)
        out[r] = np.einsum("bsk,bk->bs", ndtr(x[r][:, None, :] + shifts[r][:, :, None]), w[r])
    return out


def probit_r2(X: np.ndarray, beta: np.ndarray) -> float:
    """R² of a probit model on the latent scale, var(x'b) / (var(x'b) + 1) (McKelvey &
    Zavoina 1975; what R ``medsens`` uses for a binary outcome)."""
    v = float(np.var(X @ beta, ddof=1))
    return v / (v + 1.0)


def _r2(X, y):
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    r = y - X @ beta
    return 1 - (r @ r) / ((y - y.mean()) @ (y - y.mean()))


def usable_grid(grid) -> np.ndarray:
    """The values of a ρ grid strictly between -1 and 1."""
    grid = np.asarray(grid, dtype=float)
    return grid[(grid > -1) & (grid < 1)]


def sensitivity_tables(sets, point, reps, grid, alpha, analysis, outcome, outcome_type,
                       interaction, y):
    """ACME(rho) grid with percentile CIs over the valid replicates (rows of ``reps[label]``
    that are finite) and the summary per single mediator; notes on what is not available.

    Linear outcome: ``point[label]`` / rows of ``reps[label]`` are (b2, s1, s2, ρ̃);
    binary outcome: (rho12, ACME at each ρ of the grid..., ACME at ρ = 0) of the probit
    analysis (:func:`probit_acme_curve`)."""
    rows, summ, notes = [], [], []
    grid = usable_grid(grid)
    probit = outcome_type == "logistic"
    for sm in sets:
        if sm.label not in point:
            continue
        if probit:
            p = point[sm.label]
            if not np.isfinite(p).all():
                notes.append(f"{sm.label}: no sensitivity analysis: the probit outcome model "
                             "has no finite maximum-likelihood estimate on the full sample")
                continue
            rt, acme, acme0 = p[0], p[1:1 + grid.size], p[-1]
            lo, hi, rlo, rhi = probit_band(reps[sm.label], grid.size, alpha)
        else:
            b2, s1, s2, rt = point[sm.label]
            acme = acme_at_rho(b2, s1, s2, rt, grid)
            acme0 = acme_at_rho(b2, s1, s2, rt, 0.0)
            lo, hi, rlo, rhi = sensitivity_band(reps[sm.label], grid, alpha)
        for r, a, l_, h_ in zip(grid, acme, lo, hi, strict=True):
            rows.append({"analysis": analysis, "outcome": outcome, "mediator": sm.label,
                         "estimate_type": "risk_difference" if probit else "mean_difference",
                         "effect": "acme_average", "rho": float(r), "estimate": float(a),
                         "ci_low": float(l_), "ci_high": float(h_),
                         "outcome_model": SENSITIVITY_MODELS[outcome_type]})
        r2m = _r2(sm.Xm, sm.Ym[:, 0])
        if probit:
            from .probit import fit_probit

            r2y = probit_r2(sm.Xo, fit_probit(sm.Xo, y, np.ones((1, y.size))).coef[0])
        else:
            r2y = _r2(sm.Xo, y)
        summ.append({
            "analysis": analysis, "outcome": outcome, "mediator": sm.label,
            "acme_rho0": float(acme0),
            "rho_at_zero_acme": float(rt), "rho_at_zero_ci_low": float(rlo),
            "rho_at_zero_ci_high": float(rhi),
            "r2star_product_at_zero": float(rt**2),
            "r2tilde_product_at_zero": float(rt**2 * (1 - r2m) * (1 - r2y)),
            "r2_mediator_model": float(r2m), "r2_outcome_model": float(r2y),
            "outcome_model": SENSITIVITY_MODELS[outcome_type],
        })
    if outcome_type not in SENSITIVITY_MODELS or interaction:
        notes.append(
            "Sensitivity analysis for mediator-outcome confounding (Imai, Keele & Yamamoto "
            "2010; Imai, Keele & Tingley 2010) is computed for a linear mediator model and a "
            "linear or binary outcome without exposure x mediator interaction, for each single "
            "mediator; not available here.")
    elif any(sm.kind == "joint" for sm in sets):
        notes.append("Sensitivity analysis is reported for each single mediator; the joint "
                     "effect of a set has no closed-form rho analysis.")
    if probit and not interaction and point:
        notes.append(
            "Sensitivity analysis of the binary outcome: the outcome model is refitted as a "
            "probit model (the closed form of Imai, Keele & Tingley 2010 needs a normal latent "
            "error); its ACME at rho = 0 (acme_rho0) is the probit model's, close to but not "
            "the logistic model's ACME in the estimates table.")
    return pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS), pd.DataFrame(summ), notes


def probit_band(R: np.ndarray, G: int, alpha: float):
    """Percentile band of the probit ACME(ρ) over the grid (columns 1..G of the draws
    ``R``) and the percentile interval of rho12 (column 0); draws with a non-finite value
    left out; NaN when none is usable."""
    R = R[np.isfinite(R).all(axis=1)]
    if not R.shape[0]:
        nan = np.full(G, np.nan)
        return nan, nan.copy(), np.nan, np.nan
    lo, hi = np.quantile(R[:, 1:1 + G], [alpha / 2, 1 - alpha / 2], axis=0)
    rlo, rhi = np.quantile(R[:, 0], [alpha / 2, 1 - alpha / 2])
    return lo, hi, rlo, rhi


def sensitivity_band(R: np.ndarray, grid: np.ndarray, alpha: float):
    """Percentile band of the ACME over the ρ ``grid`` from bootstrap draws ``R`` (rows
    b2, s1, s2, ρ̃; draws with a non-finite value, s2 ≤ 0 or |ρ̃| ≥ 1 left out), and the
    percentile interval of ρ̃: (lo, hi, rho_lo, rho_hi), NaN when no draw is usable."""
    R = R[np.isfinite(R).all(axis=1) & (R[:, 2] > 0) & (np.abs(R[:, 3]) < 1)]
    if not R.shape[0]:
        nan = np.full(grid.size, np.nan)
        return nan, nan.copy(), np.nan, np.nan
    draws = acme_at_rho(R[:, :1], R[:, 1:2], R[:, 2:3], R[:, 3:4], grid[None, :])
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    rlo, rhi = np.quantile(R[:, 3], [alpha / 2, 1 - alpha / 2])
    return lo, hi, rlo, rhi
