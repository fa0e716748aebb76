"""Cox proportional hazards regression with Efron ties, strata, counting-process (start, stop]
data and the cluster-robust (sandwich) variance built from Efron score residuals.

References
----------
- Cox DR. Regression models and life-tables. JRSS B 1972.
- Efron B. The efficiency of Cox's likelihood function for censored data. JASA 1977.
- Andersen PK, Gill RD. Cox's regression model for counting processes. Ann Stat 1982.
- Lin DY, Wei LJ. The robust inference for the Cox proportional hazards model. JASA 1989.
- Therneau TM, Grambsch PM. Modeling Survival Data: Extending the Cox Model. Springer 2000,
  §3.4 (Efron approximation), §4.6 and §7.2 (score/dfbeta residuals, robust variance
  D'D with D the dfbeta residuals summed by cluster, as in R survival::coxph(cluster=)).
- The proportional-hazards test (Grambsch & Therneau 1994, as R cox.zph) is in phtest.py.
- Bryson MC, Johnson ME. The incidence of monotone likelihood in the Cox model.
  Technometrics 1981 (a coefficient diverges: no finite maximum).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from outcomes.clustering import NONE, PEER_WORKER
from outcomes.clustering.robust import check_clusters, cluster_robust_cov
from outcomes.errors import NotEstimable
from outcomes.linalg import check_full_rank

from ._common import (
    DEFAULT_ARMS,
    Arms,
    arm_indicator,
    design,
    frame,
    joined_labels,
    merge_adsl,
    not_estimable_row,
    param,
    ratio_row,
    row,
    strata_groups,
)
from .estimability import MONOTONE, check_cox_design, monotone_terms, risk_set_differences
from .phtest import cox_zph, zph_not_estimable


# --------------------------------------------------------------------------- engine
@dataclass(frozen=True)
class _StratumLayout:
    """The β-free part of one stratum's Efron sums, computed once per fit (the Newton
    iterations only change the risk scores): rows sorted by stop and by start, where each
    distinct event time falls in them, and the Efron sub-events."""

    X: np.ndarray
    XX: np.ndarray  # x x' of every row, (n, p, p)
    ev: np.ndarray  # event rows (bool)
    ut: np.ndarray  # distinct event times
    o1: np.ndarray  # rows by stop
    i1: np.ndarray  # first position (by stop) with stop >= t, for each t in ut
    o2: np.ndarray | None  # rows by start; None when every start is -inf (no entry times)
    i2: np.ndarray | None
    jd: np.ndarray  # time index of each event row
    dcount: np.ndarray
    j: np.ndarray  # time index of each Efron sub-event
    f: np.ndarray  # its weight fraction k/d

    @classmethod
    def build(cls, X, start, stop, event) -> _StratumLayout | None:
        ev = event > 0
        ut = np.unique(stop[ev])
        J = ut.size
        if J == 0:
            return None
        o1 = np.argsort(stop, kind="stable")
        i1 = np.searchsorted(stop[o1], ut, "left")
        o2 = i2 = None
        if not np.all(np.isneginf(start)):  # else sum(start >= t) is 0 for every t
            o2 = np.argsort(start, kind="stable")
            i2 = np.searchsorted(start[o2], ut, "left")
        jd = np.searchsorted(ut, stop[ev])
        dcount = np.bincount(jd, minlength=J)
        j = np.repeat(np.arange(J), dcount)
        first = np.r_[0, np.cumsum(dcount)[:-1]]
        f = (np.arange(j.size) - first[j]) / dcount[j]
        return cls(X, X[:, :, None] * X[:, None, :], ev, ut, o1, i1, o2, i2, jd, dcount, j, f)


def _layouts(X, stop, event, start=None, strata=None):
    """(row indices, :class:`_StratumLayout` or None without events) of every stratum."""
    X = np.asarray(X, float)
    stop = np.asarray(stop, float)
    start = np.full_like(stop, -np.inf) if start is None else np.asarray(start, float)
    event = np.asarray(event, float)
    return [(idx, _StratumLayout.build(X[idx], start[idx], stop[idx], event[idx]))
            for idx in strata_groups(strata, X.shape[0])]


def _reverse_cumsum_at(v, order, at):
    """Σ of the rows of ``v`` from position ``at`` on in ``order`` (a zero row past the
    end)."""
    cs = np.vstack([np.zeros((1, v.shape[1])), np.cumsum(v[order][::-1], axis=0)])[::-1]
    return cs[at]


def _stratum_terms(beta, lay: _StratumLayout):
    """Efron sums of one stratum at the distinct event times.

    Returns a dict with the event times ``ut``, the sub-event arrays (one entry per event,
    the k-th of d tied events at t_j having weight fraction f = k/d):
    ``j`` (time index), ``f``, ``s0``, ``xbar``; and per time ``s0d, s1d`` (sums over the
    tied events) and the log-likelihood, gradient and Hessian contributions.
    """
    X, ev, J = lay.X, lay.ev, lay.ut.size
    n, p = X.shape
    eta = X @ beta
    c = eta.max() if n else 0.0
    r = np.exp(eta - c)
    xr = X * r[:, None]
    xxr = (lay.XX * r[:, None, None]).reshape(n, p * p)
    allv = np.column_stack([r, xr, xxr])
    # sum over rows with start < t <= stop = sum(stop >= t) - sum(start >= t)
    R = _reverse_cumsum_at(allv, lay.o1, lay.i1)
    if lay.o2 is not None:
        R = R - _reverse_cumsum_at(allv, lay.o2, lay.i2)
    s0r, s1r, s2r = R[:, 0], R[:, 1 : 1 + p], R[:, 1 + p :]
    D = np.zeros((J, allv.shape[1]))
    np.add.at(D, lay.jd, allv[ev])
    s0d, s1d, s2d = D[:, 0], D[:, 1 : 1 + p], D[:, 1 + p :]
    # Efron sub-events
    j, f = lay.j, lay.f
    s0 = s0r[j] - f * s0d[j]
    s1 = s1r[j] - f[:, None] * s1d[j]
    s2 = s2r[j] - f[:, None] * s2d[j]
    xbar = s1 / s0[:, None]
    loglik = eta[ev].sum() - (np.log(s0) + c).sum()
    grad = X[ev].sum(axis=0) - xbar.sum(axis=0)
    hess = -((s2 / s0[:, None]).sum(axis=0).reshape(p, p) - xbar.T @ xbar)
    return dict(ut=lay.ut, j=j, f=f, s0=s0, xbar=xbar, r=r, loglik=loglik, grad=grad, hess=hess,
                dcount=lay.dcount)


def _loglik(beta, layouts, p):
    ll, g, h = 0.0, np.zeros(p), np.zeros((p, p))
    for _idx, lay in layouts:
        if lay is None:
            continue
        t = _stratum_terms(beta, lay)
        ll += t["loglik"]
        g += t["grad"]
        h += t["hess"]
    return ll, g, h


def efron_loglik(beta, X, stop, event, start=None, strata=None):
    """(log partial likelihood, gradient, Hessian) under Efron's approximation."""
    X = np.asarray(X, float)
    return _loglik(beta, _layouts(X, stop, event, start, strata), X.shape[1])


def efron_score_residuals(beta, X, stop, event, start=None, strata=None) -> np.ndarray:
    """Score residuals (one row per data row) consistent with Efron's likelihood.

    For row i at risk on (start_i, stop_i] with risk score r_i, summing over the Efron
    sub-events k (the k-th of the d_j events tied at t_j, fraction f_k = k/d_j, denominator
    S0_k and mean xbar_k), Therneau & Grambsch (2000, §3.4 / R survival coxscore2, agscore):

        U_i = delta_i * mean_k(x_i - xbar_k)
              - r_i * sum_{k: i at risk} w_ik (x_i - xbar_k) / S0_k,

    with w_ik = 1 - f_k if row i is one of the tied events and 1 otherwise. The rows sum to
    the Efron score (zero at the estimate). They are the derivative of the Efron score with
    respect to a case weight of row i, which makes U I^-1 the infinitesimal jackknife.
    """
    X = np.asarray(X, float)
    stop = np.asarray(stop, float)
    start = np.full_like(stop, -np.inf) if start is None else np.asarray(start, float)
    event = np.asarray(event, float)
    n, p = X.shape
    U = np.zeros((n, p))
    for idx, lay in _layouts(X, stop, event, start, strata):
        if lay is None:
            continue
        Xs, st, sp, ev = X[idx], start[idx], stop[idx], event[idx] > 0
        t = _stratum_terms(beta, lay)
        J = t["ut"].size
        inv = 1.0 / t["s0"]
        A = np.bincount(t["j"], weights=inv, minlength=J)
        B = np.zeros((J, p))
        np.add.at(B, t["j"], t["xbar"] * inv[:, None])
        Af = np.bincount(t["j"], weights=t["f"] * inv, minlength=J)
        Bf = np.zeros((J, p))
        np.add.at(Bf, t["j"], t["xbar"] * (t["f"] * inv)[:, None])
        M = np.zeros((J, p))
        np.add.at(M, t["j"], t["xbar"])
        M /= t["dcount"][:, None]
        cA = np.r_[0.0, np.cumsum(A)]
        cB = np.vstack([np.zeros((1, p)), np.cumsum(B, axis=0)])
        hi = np.searchsorted(t["ut"], sp, "right")
        lo = np.searchsorted(t["ut"], st, "right")
        sumA = cA[hi] - cA[lo]
        sumB = cB[hi] - cB[lo]
        comp = Xs * sumA[:, None] - sumB
        jd = np.searchsorted(t["ut"], sp[ev])
        # tied events carry weight 1 - f: subtract the f-part at their own event time
        comp[ev] -= Xs[ev] * Af[jd][:, None] - Bf[jd]
        res = -t["r"][:, None] * comp
        res[ev] += Xs[ev] - M[jd]
        U[idx] = res
    return U


def fit_efron(X, stop, event, start=None, strata=None, *, tol=1e-10, max_iter=50):
    """Newton–Raphson maximisation of the Efron partial likelihood (step halving).

    Raises :class:`NotEstimable` when the information matrix becomes singular or the
    iterations do not converge: both happen when a coefficient diverges (monotone
    likelihood, Bryson & Johnson 1981), e.g. no event in one arm or one level of a covariate.
    """
    X = np.asarray(X, float)
    beta = np.zeros(X.shape[1])
    layouts = _layouts(X, stop, event, start, strata)  # β-free: built once
    ll, g, h = _loglik(beta, layouts, X.shape[1])
    ll0 = ll
    for _ in range(max_iter):
        try:
            step = np.linalg.solve(-h, g)
        except np.linalg.LinAlgError:
            raise NotEstimable(f"Cox model: singular information matrix; {MONOTONE}") from None
        if not np.all(np.isfinite(step)):
            raise NotEstimable(f"Cox model: singular information matrix; {MONOTONE}")
        for _half in range(30):
            nb = beta + step
            nll, ng, nh = _loglik(nb, layouts, X.shape[1])
            if np.isfinite(nll) and nll >= ll - 1e-12:
                break
            step /= 2
        converged = abs(nll - ll) < tol and np.max(np.abs(nb - beta)) < 1e-8
        beta, ll, g, h = nb, nll, ng, nh
        if converged:
            break
    else:
        raise NotEstimable(f"Cox model: Newton iterations did not converge in {max_iter} steps; "
                           f"{MONOTONE}")
    return beta, ll, ll0, g, h


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model (Efron ties).

    ``se`` is the model-based standard error (inverse observed information); ``robust_se``
    (when a cluster was given or ``robust=True``) is the sandwich I^-1 (sum_g U_g U_g') I^-1
    with U_g the Efron score residuals summed within cluster g — R coxph's robust variance.
    ``ph_test`` holds the proportional-hazards test when it was computed.
    """

    analysis: str
    outcome: str
    contrast: str
    terms: tuple[str, ...]
    coef: np.ndarray = field(repr=False)
    cov: np.ndarray = field(repr=False)
    robust_cov: np.ndarray | None = field(repr=False)
    loglik: float
    loglik_null: float
    n: int
    events: int
    n_clusters: int | None = None
    strata: tuple[str, ...] = ()
    ph_test: pd.DataFrame | None = field(default=None, repr=False)
    level: float = 0.95
    arm_term: str = "ARM"
    clustering: str = NONE
    n_participants: int | None = None

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    @property
    def robust_se(self) -> np.ndarray | None:
        return None if self.robust_cov is None else np.sqrt(np.diag(self.robust_cov))

    @property
    def used_se(self) -> np.ndarray:
        return self.se if self.robust_cov is None else np.sqrt(np.diag(self.robust_cov))

    def summary(self) -> pd.DataFrame:
        z = self.coef / self.used_se
        crit = stats.norm.ppf(0.5 + self.level / 2)
        return pd.DataFrame({
            "term": self.terms, "coef": self.coef, "se": self.se,
            "robust_se": self.robust_se if self.robust_cov is not None else np.nan,
            "hr": np.exp(self.coef),
            "ci_low": np.exp(self.coef - crit * self.used_se),
            "ci_high": np.exp(self.coef + crit * self.used_se),
            "p_value": 2 * stats.norm.sf(np.abs(z)),
        })

    @property
    def hr(self) -> float:
        return float(np.exp(self.coef[self.terms.index(self.arm_term)]))

    def to_frame(self, all_terms: bool = False) -> pd.DataFrame:
        """Hazard ratio of arm (of every term with ``all_terms``) and the PH-test rows;
        ``n`` is ``n_participants`` when known, else the number of clusters when a cluster
        was given. Rows of the peer-worker clustering also give ``n_clusters``."""
        n = self.n_participants if self.n_participants is not None else (
            self.n if self.n_clusters is None else self.n_clusters)
        ex: dict[str, Any] = {"clustering": self.clustering}
        if self.clustering == PEER_WORKER:
            ex["n_clusters"] = self.n_clusters
        rows = []
        for k, term in enumerate(self.terms):
            if term != self.arm_term and not all_terms:
                continue
            contrast = self.contrast if term == self.arm_term else term
            rows.append(ratio_row(self.analysis, self.outcome, contrast, "hazard_ratio",
                                  self.coef[k], self.used_se[k], n, self.events,
                                  self.level, **ex))
        if self.ph_test is not None:
            for _, r in self.ph_test.iterrows():
                label = f"PH test ({r['transform']} transform): {r['term']}"
                reason = r.get("reason", "")
                if isinstance(reason, str) and reason:
                    rows.append(not_estimable_row(self.analysis, self.outcome, label,
                                                  "ph_test_chisq", reason, n, self.events,
                                                  **ex))
                    continue
                rows.append(row(self.analysis, self.outcome, label,
                                "ph_test_chisq", r["statistic"], p_value=r["p_value"],
                                n=n, events=self.events, **ex))
        return frame(rows)


def cox(
    data: pd.DataFrame,
    *,
    covariates: Sequence[str],
    time_col: str = "AVAL",
    event_col: str | None = None,
    censor_col: str | None = "CNSR",
    start_col: str | None = None,
    strata: Sequence[str] | None = None,
    cluster: str | None = None,
    robust: bool = False,
    clustering: str = NONE,
    participant_col: str | None = None,
    arm_col: str = "ARM",
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "community_tenure",
    outcome: str = "READMIT",
    ph: bool = False,
    ph_transform: str = "km",
    level: float = 0.95,
) -> CoxResult:
    """Cox model of ``arm_col`` (treated = 1) plus ``covariates`` on prepared data.

    The event is ``event_col == 1`` when given, else ``censor_col == 0``. ``strata`` gives
    a separate baseline hazard per level combination. ``cluster`` (or ``robust=True`` with
    each row its own cluster) adds the robust sandwich variance, which is then used for
    the CIs and p-values: I^-1 (Σ_g U_g U_g') I^-1 without a G/(G−1) factor, as R
    ``coxph(..., cluster = )`` (:func:`outcomes.clustering.robust.cluster_robust_cov`).
    ``clustering`` labels the rows (``peer_worker`` when ``cluster`` holds the peer-worker
    clusters, which are then checked by :func:`~outcomes.clustering.robust.check_clusters`);
    ``participant_col`` makes ``n`` the number of distinct participants. ``ph=True`` adds the proportional-hazards test of every term and
    the global test (R ``cox.zph``, time transform ``ph_transform``: "km" or "rank"). Raises
    :class:`NotEstimable` by the rules of
    :func:`~outcomes.survival.estimability.check_cox_design`, of the risk-set differences and
    of monotone likelihood, and when the fit has no finite maximum.
    """
    strata = list(strata or [])
    d = data.reset_index(drop=True)
    a = arm_indicator(d[arm_col], arms)
    Xdf = pd.concat([pd.Series(a, name=arm_col), design(d, covariates)], axis=1)
    X = Xdf.to_numpy(float)
    ev = (d[event_col].to_numpy() == 1) if event_col else (d[censor_col].to_numpy() == 0)
    ev = ev.astype(float)
    stop = d[time_col].to_numpy(float)
    start = d[start_col].to_numpy(float) if start_col else None
    st = joined_labels(d, strata).to_numpy() if strata else None
    model = f"Cox model of {outcome}"
    check_cox_design(Xdf, st, ev, a, arms, model=model)
    D = risk_set_differences(X, stop, ev, start, st)
    if len(D) == 0:
        raise NotEstimable(f"{model}: no event has anyone at risk with other covariate values "
                           "in its stratum, so the partial likelihood carries no information")
    check_full_rank(D, list(Xdf.columns), model=f"{model} (covariate differences within the "
                    "risk sets of the events)")
    mono = monotone_terms(D, Xdf.columns)
    if mono:
        raise NotEstimable(f"{model}: {MONOTONE} along {', '.join(mono)}")
    beta, ll, ll0, _g, h = fit_efron(X, stop, ev, start, st)
    cov = np.linalg.inv(-h)
    rcov = None
    ncl = None
    if clustering == PEER_WORKER:
        if not cluster:
            raise ValueError("clustering peer_worker needs the cluster column")
        check_clusters(d[cluster], a, ev, arms=(arms.treated, arms.control),
                       what=f"the cluster-robust variance of the {model}")
    if cluster or robust:
        U = efron_score_residuals(beta, X, stop, ev, start, st)
        labels = d[cluster].astype(str) if cluster else np.arange(len(d)).astype(str)
        rcov = cluster_robust_cov(U, labels, cov, adjust=False)
        ncl = int(pd.unique(labels).size) if cluster else None
    pht = None
    if ph:
        if start_col:
            raise ValueError("the proportional-hazards test needs right-censored data")
        terms = {arm_col: [arm_col]}
        for col in Xdf.columns[1:]:
            terms.setdefault(col.split("[", 1)[0], []).append(col)
        try:
            pht = cox_zph(Xdf, stop, ev, beta, st, ph_transform, terms)
        except NotEstimable as exc:  # the hazard ratio stands; the PH rows carry the reason
            pht = zph_not_estimable(terms, ph_transform, exc.reason)
    n_part = int(d[participant_col].nunique()) if participant_col else None
    return CoxResult(analysis, outcome, arms.contrast, tuple(Xdf.columns), beta, cov, rcov,
                     float(ll), float(ll0), int(len(d)), int(ev.sum()), ncl, tuple(strata),
                     pht, level, arm_col, clustering, n_part)


def tenure_cox(
    adtte: pd.DataFrame,
    paramcd: str = "READMIT",
    *,
    adsl: pd.DataFrame | None = None,
    covariates: Sequence[str] = ("PRIORADM", "DETINDFL"),
    strata: Sequence[str] | None = ("SITEID",),
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "community_tenure",
    ph: bool = True,
    ph_transform: str = "km",
    level: float = 0.95,
    time_col: str = "AVAL",
    censor_col: str = "CNSR",
    arm_col: str = "ARM",
    id_col: str = "USUBJID",
    cluster: str | None = None,
) -> CoxResult:
    """Cox model of time to first event of ``paramcd`` on arm, stratified by site and
    adjusted for prior admissions and detention at index, with the PH test. With
    ``cluster`` (ADSL ``CLUSTER``, :func:`outcomes.clustering.cluster_ids`) the variance is
    the robust one clustered by peer worker and the PH test is left out (it does not
    depend on the design: the naive model reports it)."""
    d = merge_adsl(param(adtte, paramcd), adsl,
                   [arm_col, *covariates, *(strata or []), *([cluster] if cluster else [])])
    return cox(d, covariates=covariates, time_col=time_col, censor_col=censor_col,
               strata=strata, arm_col=arm_col, arms=arms, analysis=analysis, outcome=paramcd,
               ph=ph and not cluster, ph_transform=ph_transform, level=level, cluster=cluster,
               clustering=PEER_WORKER if cluster else NONE, participant_col=id_col)
