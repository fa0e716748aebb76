"""Rubin's rules: one scalar estimate pooled over m completed-data analyses.

Rubin (1987, Multiple Imputation for Nonresponse in Surveys, §3.1) with the small-sample
degrees of freedom of Barnard & Rubin (1999, Biometrika 86:948–955), as R
``mice::pool()`` computes them (van Buuren, Flexible Imputation of Missing Data, 2nd ed.
2018, §2.3). Where this departs from mice (b = 0) or mice pools nothing (m = 1):
docs/questionnaires.md (Pooling over imputations).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from outcomes.errors import NotEstimable


@dataclass(frozen=True)
class PooledEstimate:
    """One parameter pooled over ``m`` imputations (names as mice's ``pool()`` columns).

    ``ubar`` within-imputation variance (mean of the m variances), ``b`` between-imputation
    variance (sample variance of the m estimates), ``t = ubar + (1 + 1/m) b`` total
    variance, ``riv = (1 + 1/m) b / ubar`` relative increase in variance due to
    nonresponse, ``lambda_ = (1 + 1/m) b / t`` proportion of the total variance due to
    nonresponse, ``fmi = (riv + 2/(df + 3)) / (riv + 1)`` fraction of missing information,
    ``df`` degrees of freedom of the t reference distribution (infinite: normal),
    ``df_complete`` the complete-data degrees of freedom it was given (infinite when none).
    """

    estimate: float
    std_error: float
    df: float
    ci_low: float
    ci_high: float
    p_value: float
    ubar: float
    b: float
    t: float
    riv: float
    lambda_: float
    fmi: float
    m: int
    df_complete: float = math.inf

    def to_dict(self) -> dict[str, float | int]:
        """The fields, ``lambda_`` named ``lambda`` (as in mice)."""
        out = asdict(self)
        out["lambda"] = out.pop("lambda_")
        return out


#: Estimates within this relative spread (of the estimate or its SE, the larger) are the
#: same: the m fits of data sets identical in every column the model uses differ only by
#: the linear algebra's rounding (about 1e-16, which depends on memory alignment), and that
#: noise must not turn b = 0 (df = the complete-data df, fmi = 0) into b > 0 (fmi ≈ 2/(df+3)).
SAME = 1e-12


def barnard_rubin_df(m: int, b: float, t: float, df_complete: float | None = None) -> float:
    """Degrees of freedom of the pooled estimate (Barnard & Rubin 1999).

    With ``lambda = (1 + 1/m) b / t``: ``nu_old = (m - 1) / lambda^2`` (Rubin 1987,
    eq. 3.1.6) and ``nu_obs = (nu_com + 1) / (nu_com + 3) · nu_com · (1 - lambda)``;
    ``nu = nu_old · nu_obs / (nu_old + nu_obs)``, rearranged so that it stays finite as
    ``lambda`` goes to 0 (mice 3.15 instead floors ``lambda`` at 1e-4, which changes ``nu``
    only below that). Without ``df_complete`` (or infinite): ``nu_old``. ``b = 0`` (the
    estimate is the same in every imputation: nothing that moves it was imputed) gives
    ``df_complete`` itself, the df of the complete-data analysis.
    """
    dfcom = math.inf if df_complete is None else float(df_complete)
    if b == 0:
        return dfcom
    lam = (1 + 1 / m) * b / t
    if math.isinf(dfcom):
        return (m - 1) / lam**2
    tmp = (1 - lam) * (1 + dfcom) * dfcom
    return (m - 1) * tmp / ((dfcom + 3) * (m - 1) + lam**2 * tmp)


def rubin(estimates: Sequence[float] | np.ndarray, variances: Sequence[float],
          df_complete: float | None = None, *, alpha: float = 0.05) -> PooledEstimate:
    """Pool ``m`` estimates of one parameter and their variances (squared standard errors).

    ``df_complete``: the degrees of freedom of the complete-data analysis (an ``lm``'s
    residual df, as mice takes ``df.residual`` of the first fit); the Barnard–Rubin df
    then, the large-sample df of Rubin (1987) when None or infinite. The CI is
    ``estimate ± t_{df, 1 - alpha/2} · sqrt(t)`` and the p-value two-sided against 0 (a
    normal reference when df is infinite).

    Raises :class:`NotEstimable` when ``m < 2`` (one imputation has no
    between-imputation variance, so the uncertainty due to the missing values cannot be
    estimated: mice's ``pool()`` returns the single fit unpooled) or when every variance
    is 0; ``ValueError`` for arrays of different lengths, no estimate, a non-finite value
    or a negative variance.
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    if q.ndim != 1 or q.shape != u.shape:
        raise ValueError(f"rubin: {q.size} estimates and {u.size} variances (one each per "
                         "imputation)")
    m = int(q.size)
    if m == 0:
        raise ValueError("rubin: no estimates")
    if not (np.isfinite(q).all() and np.isfinite(u).all()):
        raise ValueError("rubin: an estimate or variance is not a finite number")
    if (u < 0).any():
        raise ValueError(f"rubin: a negative variance ({float(u.min())!r})")
    if df_complete is not None and not df_complete > 0:
        raise ValueError(f"rubin: complete-data degrees of freedom {df_complete!r} (must be > 0)")
    if m < 2:
        raise NotEstimable("1 imputation: Rubin's rules need m ≥ 2 imputations to estimate "
                           "the between-imputation variance")
    qbar = float(q.mean())
    ubar = float(u.mean())
    if ubar == 0:
        raise NotEstimable(f"the variance of the estimate is 0 in all {m} imputations: no "
                           "within-imputation variance to pool")
    b = float(q.var(ddof=1))
    if float(np.ptp(q)) <= SAME * max(abs(qbar), math.sqrt(ubar)):
        b = 0.0  # the same estimate in every imputation but for the solver's rounding
    t = ubar + (1 + 1 / m) * b
    df = barnard_rubin_df(m, b, t, df_complete)
    riv = (1 + 1 / m) * b / ubar
    lam = (1 + 1 / m) * b / t
    fmi = (riv + 2 / (df + 3)) / (riv + 1) if b > 0 else 0.0
    se = math.sqrt(t)
    dist = stats.norm if math.isinf(df) else stats.t(df)
    half = float(dist.ppf(1 - alpha / 2)) * se
    return PooledEstimate(
        estimate=qbar, std_error=se, df=df, ci_low=qbar - half, ci_high=qbar + half,
        p_value=float(2 * dist.sf(abs(qbar) / se)), ubar=ubar, b=b, t=t, riv=riv,
        lambda_=lam, fmi=fmi, m=m,
        df_complete=math.inf if df_complete is None else float(df_complete),
    )
