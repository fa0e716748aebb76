"""Variances clustered by peer worker for the nonparametric survival summaries
(docs/clustering.md, "The log-rank test, the RMST and the cumulative incidence"; the
Kaplan–Meier survival at a landmark in the same section).

Each function returns one contribution per participant; summed within the clusters of
:func:`outcomes.clustering.cluster_ids` and squared (:func:`grouped_variance`), they give
the variance that respects the partially nested design, with no small-sample factor (as R
``survival``):

- **log-rank**: the score residuals of the Cox model ``Surv ~ arm + strata(...)`` at
  β = 0 with Breslow ties, U_i = ∫ (x_i − x̄(t)) dM̂_i(t) within the participant's stratum.
  They sum to the log-rank numerator O − E, and (O − E)² / Σ_g U_g² is the robust score
  test of Lin & Wei (1989), R ``coxph(..., cluster = , ties = "breslow")$rscore``.
- **Kaplan–Meier survival at a landmark**, **RMST** and **cumulative incidence**: the
  infinitesimal jackknife (IJ), the exact derivative of the Kaplan–Meier survival, of the
  Kaplan–Meier RMST and of the Aalen–Johansen CIF with respect to a
  participant's case weight (Efron 1982; Lipsitz, Dear & Zhao 1994 for the grouped IJ of
  clustered data). Σ_i D_i² with every participant alone equals Greenwood's variance of
  the survival, the Greenwood-type variance of the RMST and the delta-method
  (Marubini–Valsecchi) variance of the CIF exactly; R ``survfit(..., cluster = , influence = TRUE)`` gives the same influences.

These are hand-written because no Python library gives per-participant influences of the
log-rank score, the Kaplan–Meier survival, the RMST or the Aalen–Johansen CIF; they are checked against R survival in
tests/test_r_oracle_clustering_robust.py and against the closed forms in
tests/test_clustering_nonparametric.py.

References
----------
- Lin DY, Wei LJ. The robust inference for the Cox proportional hazards model. JASA 1989.
- Efron B. The Jackknife, the Bootstrap and Other Resampling Plans. SIAM 1982 (the IJ).
- Lipsitz SR, Dear KBG, Zhao L. Jackknife estimators of variance for parameter estimates
  from estimating equations with applications to clustered survival data. Biometrics 1994.
- Therneau TM, Grambsch PM. Modeling Survival Data. Springer 2000, §7.2 (score residuals
  summed by cluster).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .robust import cluster_robust_cov


def grouped_variance(contributions, clusters) -> float:
    """Σ_g (Σ_{i in g} D_i)²: the contributions summed within clusters, no G/(G−1) factor
    (R ``survival``'s robust variances); :class:`~outcomes.errors.NotEstimable` with fewer
    than 2 clusters."""
    return float(cluster_robust_cov(contributions, clusters, adjust=False)[0, 0])


def logrank_score_residuals(time, event, group, strata=None) -> np.ndarray:
    """Score residuals of ``group`` (0/1) at β = 0 with Breslow ties, within strata.

    U_i = δ_i (x_i − x̄(t_i)) − Σ_{t_j ≤ t_i} (d_j / n_j)(x_i − x̄(t_j)) over the event times
    t_j of the participant's stratum, x̄(t_j) = n1_j / n_j. Σ_i U_i = O − E of the log-rank
    test (:func:`outcomes.survival.km.logrank_components`)."""
    t = np.asarray(time, float)
    e = np.asarray(event, float) > 0
    x = np.asarray(group, float)
    s = np.zeros(t.size, int) if strata is None else pd.factorize(np.asarray(strata))[0]
    U = np.zeros(t.size)
    for k in np.unique(s):
        m = np.flatnonzero(s == k)
        tk, ek, xk = t[m], e[m], x[m]
        ut = np.unique(tk[ek])
        if ut.size == 0:
            continue
        ts, t1 = np.sort(tk), np.sort(tk[xk == 1])
        n = ts.size - np.searchsorted(ts, ut, "left")
        xbar = (t1.size - np.searchsorted(t1, ut, "left")) / n
        d = np.bincount(np.searchsorted(ut, tk[ek]), minlength=ut.size)
        haz = d / n
        # Σ_{t_j <= t_i} haz_j and Σ haz_j x̄_j, for each participant's own time
        upto = np.searchsorted(ut, tk, "right")
        cum_h = np.r_[0.0, np.cumsum(haz)][upto]
        cum_hx = np.r_[0.0, np.cumsum(haz * xbar)][upto]
        own = np.where(ek, xk - xbar[np.minimum(upto, ut.size) - 1], 0.0)
        U[m] = own - (xk * cum_h - cum_hx)
    return U


def rmst_influence(time, event, tau: float) -> np.ndarray:
    """∂RMST(τ)/∂w_i of the Kaplan–Meier RMST for each observation (its IJ contribution).

    With S = Π(1 − d_j/n_j), ∂log S(t)/∂w_i = −Σ_{t_j ≤ t} (dN_ij − Y_ij d_j/n_j)/(n_j − d_j),
    so D_i = −Σ_{t_j ≤ τ} A_j (dN_ij − Y_ij d_j/n_j)/(n_j − d_j) with A_j = ∫_{t_j}^τ S;
    a time with n_j = d_j contributes 0 (S is 0 from there on). Σ_i D_i² equals
    Σ_j A_j² d_j/(n_j(n_j − d_j)) (:func:`outcomes.survival.km.rmst_km`)."""
    from outcomes.survival.km import rmst_terms  # the survival package imports this one

    t = np.asarray(time, float)
    e = np.asarray(event, float) > 0
    terms = rmst_terms(t, e, tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(terms.n > terms.d, terms.A / (terms.n - terms.d), 0.0)
    return _counting_contrast(t, e & (t <= tau), terms.times, a, terms.d / terms.n,
                              sign=-1.0)


def km_influence(time, event, at: float) -> np.ndarray:
    """∂S(t)/∂w_i of the Kaplan–Meier survival at ``at`` for each observation (its IJ
    contribution): D_i = −S(t) Σ_{t_j ≤ t} (dN_ij − Y_ij d_j/n_j)/(n_j − d_j), a time with
    n_j = d_j contributing 0 (S is 0 from there on). Σ_i D_i² equals Greenwood's variance
    S(t)² Σ_{t_j ≤ t} d_j/(n_j(n_j − d_j)); summed by cluster, R ``summary(survfit(...,
    cluster = ), times = )``'s robust standard error."""
    from outcomes.survival.km import km_table, survival_at  # survival imports this module

    t = np.asarray(time, float)
    e = np.asarray(event, float) > 0
    full = km_table(t, e)
    s = float(survival_at(full, [at])[0])
    tab = full.loc[(full["n_event"] > 0) & (full["time"] <= at)]
    n, d = tab["n_risk"].to_numpy(), tab["n_event"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(n > d, s / (n - d), 0.0)
    return _counting_contrast(t, e & (t <= at), tab["time"].to_numpy(), a, d / n, sign=-1.0)


def _counting_contrast(t, own_event, ut, a, haz, sign):
    """sign · Σ_j a_j (dN_ij − Y_ij haz_j) for each observation, Y_ij = 1 when t_i ≥ t_j
    and dN_ij = 1 when ``own_event`` and t_i = t_j."""
    upto = np.searchsorted(ut, t, "right")
    at_risk = np.r_[0.0, np.cumsum(a * haz)][upto]
    jump = np.zeros(t.size)
    ix = np.flatnonzero(own_event)
    jump[ix] = a[np.searchsorted(ut, t[ix])]
    return sign * (jump - at_risk)


def cif_influence(time, status, horizon: float) -> np.ndarray:
    """∂F₁(h)/∂w_i of the Aalen–Johansen cumulative incidence of cause 1 at ``horizon``
    (``status`` 0 censored, 1 the event, 2 the competing event; censorings after the
    events at a tied time, as :func:`outcomes.survival.competing.aalen_johansen`).

    F₁(h) = Σ_{t_j ≤ h} S(t_j−) d1_j/n_j, so D_i = Σ_{t_j ≤ h} [S(t_j−)(dN1_ij − Y_ij d1_j/n_j)/n_j
    − (F₁(h) − F₁(t_j))(dN_ij − Y_ij d_j/n_j)/(n_j − d_j)], dN counting either cause.
    Σ_i D_i² equals the delta-method variance (``var_delta`` of ``aalen_johansen``)."""
    t = np.asarray(time, float)
    s = np.asarray(status, int)
    ev = s > 0
    ut = np.unique(t[ev & (t <= horizon)])
    if ut.size == 0:
        return np.zeros(t.size)
    ts = np.sort(t)
    n = (ts.size - np.searchsorted(ts, ut, "left")).astype(float)
    j1 = np.searchsorted(ut, t[(s == 1) & (t <= horizon)])
    jd = np.searchsorted(ut, t[ev & (t <= horizon)])
    d1 = np.bincount(j1, minlength=ut.size).astype(float)
    d = np.bincount(jd, minlength=ut.size).astype(float)
    surv = np.cumprod(1 - d / n)
    before = np.r_[1.0, surv[:-1]]
    F = np.cumsum(before * d1 / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(n > d, (F[-1] - F) / (n - d), 0.0)
    first = _counting_contrast(t, (s == 1) & (t <= horizon), ut, before / n, d1 / n, 1.0)
    second = _counting_contrast(t, ev & (t <= horizon), ut, b, d / n, 1.0)
    return first - second
