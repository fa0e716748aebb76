"""Test of proportional hazards of a fitted Cox model from Schoenfeld residuals: the score
test of R ``survival::cox.zph`` (survival >= 3.0, ``terms = TRUE``).

For each term, the model is augmented by the time-varying covariates x·g(t), with g a
transform of time centred on the mean over the events; the test is the score test of
γ = 0 in that augmented model at (β̂, 0), using the full information matrix of the
augmented model (Efron ties), per term (the augmentation of the term's columns only,
df = its number of columns) and global (all columns, df = p).

References
----------
- Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based on weighted
  residuals. Biometrika 1994;81:515-526.
- Therneau TM, Grambsch PM. Modeling Survival Data: Extending the Cox Model. Springer
  2000, §6.2.
- Therneau T. survival 3.x, ``cox.zph`` and its C routine ``zph1`` (score test with the
  full information matrix; the ``km`` transform is 1 − KM(t−) of the pooled data, the
  ``rank`` transform the rank of all follow-up times, both ignoring the strata).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from outcomes.errors import NotEstimable

TRANSFORMS = ("km", "rank", "identity", "log")


def zph_time_transform(time, event, transform: str = "km") -> np.ndarray:
    """g(t) of every row as R ``cox.zph`` computes it, before centring: ``km`` is
    1 − S(t−), S the Kaplan–Meier estimate of the pooled data (strata ignored); ``rank``
    is the rank of the row's time among all rows (ties averaged), ``identity`` t and
    ``log`` log t."""
    t = np.asarray(time, float)
    if transform == "identity":
        return t.copy()
    if transform == "log":
        return np.log(t)
    if transform == "rank":
        return stats.rankdata(t, method="average")
    if transform == "km":
        e = np.asarray(event, bool)
        ut, inv = np.unique(t, return_inverse=True)
        n_risk = np.cumsum(np.bincount(inv, minlength=ut.size)[::-1])[::-1]
        d = np.bincount(inv, weights=e.astype(float), minlength=ut.size)
        surv = np.cumprod(1.0 - d / n_risk)
        s_before = np.r_[1.0, surv[:-1]]  # S(t-) at each distinct time
        return 1.0 - s_before[inv]
    raise ValueError(f"PH test transform {transform!r} is not one of {', '.join(TRANSFORMS)}")


def _zph_score_information(X, time, event, beta, gtime, strata):
    """Score u (2p) and information (2p x 2p) of the model augmented by x·g(t), at
    (β̂, 0), Efron ties, summed over strata (R ``zph1``)."""
    n, p = X.shape
    u = np.zeros(2 * p)
    imat = np.zeros((2 * p, 2 * p))
    codes = (np.zeros(n, int) if strata is None
             else pd.factorize(np.asarray(strata))[0])
    for k in range(codes.max() + 1 if n else 0):
        idx = np.flatnonzero(codes == k)
        Xs, ts, es, gs = X[idx], time[idx], event[idx], gtime[idx]
        if not es.any():
            continue
        eta = Xs @ beta
        r = np.exp(eta - eta.max())
        ut, inv = np.unique(ts, return_inverse=True)
        m = Xs.shape[0]
        xx = (Xs[:, :, None] * Xs[:, None, :]).reshape(m, p * p)
        allv = np.column_stack([r, Xs * r[:, None], xx * r[:, None]])
        tot = np.zeros((ut.size, allv.shape[1]))
        np.add.at(tot, inv, allv)
        risk = np.cumsum(tot[::-1], axis=0)[::-1]  # rows with time >= t
        dead = np.zeros_like(tot)
        np.add.at(dead, inv[es], allv[es])
        dcount = np.bincount(inv[es], minlength=ut.size)
        xdead = np.zeros((ut.size, p))
        np.add.at(xdead, inv[es], Xs[es])
        gj = np.zeros(ut.size)
        gj[inv[es]] = gs[es]  # g is a function of time: equal for tied events
        jt = np.flatnonzero(dcount)
        j = np.repeat(jt, dcount[jt])  # one entry per Efron sub-event
        first = np.repeat(np.cumsum(dcount[jt]) - dcount[jt], dcount[jt])
        f = (np.arange(j.size) - first) / dcount[j]
        S = risk[j] - f[:, None] * dead[j]
        s0, s1, s2 = S[:, 0], S[:, 1:1 + p], S[:, 1 + p:].reshape(-1, p, p)
        xbar = s1 / s0[:, None]
        V = s2 / s0[:, None, None] - xbar[:, :, None] * xbar[:, None, :]
        g = gj[j]
        resid = xdead[jt].sum(axis=0) - xbar.sum(axis=0)
        u[:p] += resid
        u[p:] += (gs[es][:, None] * Xs[es]).sum(axis=0) - (g[:, None] * xbar).sum(axis=0)
        imat[:p, :p] += V.sum(axis=0)
        cross = (g[:, None, None] * V).sum(axis=0)
        imat[p:, :p] += cross
        imat[:p, p:] += cross
        imat[p:, p:] += (g[:, None, None] ** 2 * V).sum(axis=0)
    return u, imat


def cox_zph(
    X: pd.DataFrame,
    time,
    event,
    beta,
    strata=None,
    transform: str = "km",
    terms: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Proportional-hazards test of the Cox model with coefficients ``beta`` fitted (Efron
    ties, ``strata``) to the right-censored data ``X``, ``time``, ``event``: one row per
    term (``terms`` maps a term to its columns; default each column) and ``GLOBAL``, with
    columns ``term, statistic, df, p_value, transform``. Equals R
    ``cox.zph(fit, transform=, terms=TRUE)`` of survival >= 3.0 (Grambsch & Therneau 1994).

    Raises NotEstimable when there is no event or the augmented information is singular.
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"PH test transform {transform!r} is not one of {', '.join(TRANSFORMS)}")
    cols = list(X.columns)
    Xa = X.to_numpy(float)
    t = np.asarray(time, float)
    e = np.asarray(event, float) > 0
    if not e.any():
        raise NotEstimable("the proportional-hazards test needs at least one event")
    p = Xa.shape[1]
    terms = {c: [c] for c in cols} if terms is None else dict(terms)
    g = zph_time_transform(t, e, transform)
    g = g - g[e].mean()
    u, imat = _zph_score_information(Xa, t, e, np.asarray(beta, float), g, strata)
    u[:p] = 0.0  # the score of beta at its estimate (R sets it to 0)

    def score_test(second: list[int], label: str) -> float:
        kk = list(range(p)) + [p + i for i in second]
        sub = imat[np.ix_(kk, kk)]
        uk = u[kk]
        if np.linalg.matrix_rank(sub, tol=1e-10 * max(1.0, np.abs(sub).max())) < len(kk):
            raise NotEstimable(f"the proportional-hazards test of {label} has a singular "
                               "information matrix (too few events over time)")
        return float(uk @ np.linalg.solve(sub, uk))

    rows = []
    for name, tcols in terms.items():
        jj = [cols.index(c) for c in tcols]
        stat = score_test(jj, name)
        rows.append((name, stat, len(jj)))
    rows.append(("GLOBAL", score_test(list(range(p)), "the global test"), p))
    out = pd.DataFrame(rows, columns=["term", "statistic", "df"])
    out["p_value"] = stats.chi2.sf(out["statistic"], out["df"])
    out["transform"] = transform
    return out


def zph_not_estimable(terms: Mapping[str, Sequence[str]], transform: str,
                      reason: str) -> pd.DataFrame:
    """The rows of :func:`cox_zph` (each term and ``GLOBAL``) when the test cannot be
    computed: statistic and p-value NA, the ``reason`` given."""
    names = [*terms, "GLOBAL"]
    dfs = [len(c) for c in terms.values()]
    return pd.DataFrame({"term": names, "statistic": np.nan, "df": [*dfs, sum(dfs)],
                         "p_value": np.nan, "transform": transform, "reason": reason})
