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

__all__ = ["DEFAULT_RHO_GRID", "acme_at_rho"]

DEFAULT_RHO_GRID = np.round(np.linspace(-0.9, 0.9, 37), 10)  # steps of 0.05


def acme_at_rho(b2, s1, s2, rho_tilde, rho):
    """ACME(rho) of IKY (2010, Theorem 2); arrays broadcast (replicates x grid)."""
    b2, s1, s2, rt, rho = (np.asarray(a, dtype=float) for a in (b2, s1, s2, rho_tilde, rho))
    return b2 * s1 / s2 * (rt - rho * np.sqrt((1 - rt**2) / (1 - rho**2)))
