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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_RHO_GRID", "SENSITIVITY_COLUMNS", "acme_at_rho", "sensitivity_tables"]

DEFAULT_RHO_GRID = np.round(np.linspace(-0.9, 0.9, 37), 10)  # steps of 0.05
SENSITIVITY_COLUMNS = ["analysis", "outcome", "mediator", "estimate_type", "effect", "rho",
                       "estimate", "ci_low", "ci_high"]


def acme_at_rho(b2, s1, s2, rho_tilde, rho):
    """ACME(rho) of IKY (2010, Theorem 2); arrays broadcast (replicates x grid)."""
    b2, s1, s2, rt, rho = (np.asarray(a, dtype=float) for a in (b2, s1, s2, rho_tilde, rho))
    return b2 * s1 / s2 * (rt - rho * np.sqrt((1 - rt**2) / (1 - rho**2)))


def _r2(X, y):
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    r = y - X @ beta
    return 1 - (r @ r) / ((y - y.mean()) @ (y - y.mean()))


def sensitivity_tables(sets, point, reps, grid, alpha, analysis, outcome, outcome_type,
                       interaction, y):
    """ACME(rho) grid with percentile CIs over the valid replicates (rows of ``reps[label]``
    that are finite) and the summary per single mediator; notes on what is not available."""
    rows, summ, notes = [], [], []
    grid = grid[(grid > -1) & (grid < 1)]
    for sm in sets:
        if sm.label not in point:
            continue
        b2, s1, s2, rt = point[sm.label]
        acme = acme_at_rho(b2, s1, s2, rt, grid)
        lo, hi, rlo, rhi = sensitivity_band(reps[sm.label], grid, alpha)
        for r, a, l_, h_ in zip(grid, acme, lo, hi, strict=True):
            rows.append({"analysis": analysis, "outcome": outcome, "mediator": sm.label,
                         "estimate_type": "mean_difference", "effect": "acme_average",
                         "rho": float(r), "estimate": float(a), "ci_low": float(l_),
                         "ci_high": float(h_)})
        r2m = _r2(sm.Xm, sm.Ym[:, 0])
        r2y = _r2(sm.Xo, y)
        summ.append({
            "analysis": analysis, "outcome": outcome, "mediator": sm.label,
            "acme_rho0": float(acme_at_rho(b2, s1, s2, rt, 0.0)),
            "rho_at_zero_acme": float(rt), "rho_at_zero_ci_low": float(rlo),
            "rho_at_zero_ci_high": float(rhi),
            "r2star_product_at_zero": float(rt**2),
            "r2tilde_product_at_zero": float(rt**2 * (1 - r2m) * (1 - r2y)),
            "r2_mediator_model": float(r2m), "r2_outcome_model": float(r2y),
        })
    if outcome_type != "linear" or interaction:
        notes.append(
            "Sensitivity analysis for mediator-outcome confounding (Imai, Keele & Yamamoto "
            "2010 closed form) is computed for linear mediator and outcome models without "
            "exposure x mediator interaction, for each single mediator; not available here.")
    elif any(sm.kind == "joint" for sm in sets):
        notes.append("Sensitivity analysis is reported for each single mediator; the joint "
                     "effect of a set has no closed-form rho analysis.")
    return pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS), pd.DataFrame(summ), notes


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
