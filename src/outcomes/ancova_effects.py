"""What the questionnaire ANCOVA reports beside its adjusted mean difference
(docs/questionnaires.md, "Adjusted means, raw means and standardised effects").

- **Adjusted (marginal) mean of each arm**: the model's prediction for every participant
  analysed (both arms) with the arm set to that arm, averaged: ``x̄_a'β̂`` with ``x̄_a`` the
  column means of the design with the arm column set to ``a``. For a linear model this is
  the average counterfactual prediction (g-computation; R ``marginaleffects::
  avg_predictions(fit, variables = "arm")``, and ``emmeans(fit, "arm", weights =
  "proportional")`` with the baseline score at its mean): the stratifiers weighted by
  their observed distribution, not equally. Its SE is ``sqrt(x̄_a' V x̄_a)``; the two
  means differ by exactly the arm coefficient.
- **Hedges' g**: the adjusted mean difference divided by the pooled within-arm SD of the
  score at the visit among the participants analysed, times Hedges' small-sample factor
  J = 1 − 3 / (4 (n₁ + n₂ − 2) − 1); variance J² (SE²/s_p² + d²/(2 (n₁ + n₂))), which is
  Hedges & Olkin's (1985) large-sample variance (Borenstein et al., Introduction to
  Meta-Analysis, 2009, eq. 4.20 and 4.24–4.26) with the model's own standard error of
  the difference in place of ``s_p √(1/n₁ + 1/n₂)`` (the two agree without covariates),
  so the gain in precision of the adjustment is kept. The CI is g ± t·SE on the
  difference's degrees of freedom (the normal quantile when they are infinite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from outcomes.errors import NotEstimable


@dataclass(frozen=True)
class ArmMean:
    """The adjusted (marginal) mean of one arm with its t CI on ``df``."""

    arm: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    df: float
    n: int


@dataclass(frozen=True)
class HedgesG:
    """A standardised mean difference (Hedges' g); ``sd_pooled`` the standardiser, ``j``
    the small-sample factor. Not estimable (NaN numbers, the reason) when the pooled SD
    is 0 or undefined."""

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    df: float
    sd_pooled: float
    j: float
    status: str = "estimated"
    reason: str = ""


def t_interval(estimate: float, std_error: float, df: float,
               alpha: float = 0.05) -> tuple[float, float]:
    """``estimate ± t_{df, 1 − α/2} · std_error`` (normal quantile for infinite df)."""
    q = float(stats.norm.ppf(1 - alpha / 2) if math.isinf(df) else stats.t.ppf(1 - alpha / 2, df))
    return estimate - q * std_error, estimate + q * std_error


def arm_mean_vectors(exog: np.ndarray, arm_column: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(x̄_treated, x̄_control)``: the design's column means with the arm indicator set to
    1 and to 0 (the averaging of the adjusted means; module docstring)."""
    xbar = np.asarray(exog, dtype=float).mean(axis=0)
    treated, control = xbar.copy(), xbar.copy()
    treated[arm_column], control[arm_column] = 1.0, 0.0
    return treated, control


def adjusted_means(beta: np.ndarray, cov: np.ndarray, exog: np.ndarray,
                   arms: tuple[str, str], ns: tuple[int, int], dfs: tuple[float, ...],
                   *, arm_column: int = 1, alpha: float = 0.05) -> tuple[ArmMean, ArmMean]:
    """The adjusted mean of the treated, then the control arm, from a fit's coefficients
    ``beta`` and their covariance ``cov`` on the design ``exog`` (``dfs``: the df of each
    mean: the residual df of OLS, the Satterthwaite df of each mean in the mixed model)."""
    out = []
    for x, arm, n, df in zip(arm_mean_vectors(exog, arm_column), arms, ns, dfs, strict=True):
        est = float(x @ beta)
        se = math.sqrt(float(x @ cov @ x))
        lo, hi = t_interval(est, se, df, alpha)
        out.append(ArmMean(arm, est, se, lo, hi, float(df), int(n)))
    return out[0], out[1]


def pooled_sd(sd_treated: float, sd_control: float, n_treated: int, n_control: int) -> float:
    """The pooled within-arm SD ``sqrt(((n₁−1)s₁² + (n₂−1)s₂²) / (n₁ + n₂ − 2))``."""
    return math.sqrt(((n_treated - 1) * sd_treated**2 + (n_control - 1) * sd_control**2)
                     / (n_treated + n_control - 2))


def hedges_g(difference: float, std_error: float, df: float, sd_treated: float,
             sd_control: float, n_treated: int, n_control: int,
             alpha: float = 0.05) -> HedgesG:
    """Hedges' g of a mean difference with its standard error and df (module docstring).

    Raises :class:`NotEstimable` when an arm has fewer than 2 participants or the pooled
    SD is not positive (every value the same: nothing to standardise by).
    """
    if n_treated < 2 or n_control < 2:
        raise NotEstimable(f"{n_treated} and {n_control} participants: a pooled SD needs 2 "
                           "per arm")
    s = pooled_sd(sd_treated, sd_control, n_treated, n_control)
    if not s > 0:
        raise NotEstimable("the pooled SD of the score is 0: no scale to standardise by")
    n = n_treated + n_control
    j = 1 - 3 / (4 * (n - 2) - 1)
    d = difference / s
    se = j * math.sqrt(std_error**2 / s**2 + d**2 / (2 * n))
    g = j * d
    lo, hi = t_interval(g, se, df, alpha)
    return HedgesG(g, se, lo, hi, float(df), s, j)


def not_estimable_g(reason: str) -> HedgesG:
    nan = float("nan")
    return HedgesG(nan, nan, nan, nan, nan, nan, nan, "not estimable", reason)


def arm_sds(y: np.ndarray, treated: np.ndarray) -> tuple[float, float]:
    """The SD (n − 1 divisor) of ``y`` in the treated and in the control arm (NaN below 2)."""
    return tuple(float(np.std(v, ddof=1)) if v.size > 1 else float("nan")  # type: ignore[return-value]
                 for v in (y[treated == 1], y[treated == 0]))


def standardised(difference: float, std_error: float, df: float, sds: tuple[float, float],
                 ns: tuple[int, int], alpha: float = 0.05) -> HedgesG:
    """Hedges' g of a difference (:func:`outcomes.ancova_effects.hedges_g`), or its not
    estimable row."""
    try:
        return hedges_g(difference, std_error, df, *sds, *ns, alpha=alpha)
    except NotEstimable as exc:
        return not_estimable_g(exc.reason)
