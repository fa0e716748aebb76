"""Primary outcome: readmission within a horizon (default 365 days) of the index discharge.

Logistic regression of the binary outcome on arm and the randomisation stratifiers, with
the marginal (population-averaged) risks, risk difference and odds ratio obtained by
standardisation (g-computation) over the covariates of all randomised participants.
Intercurrent events (death, withdrawal) are handled by a named strategy; see
``docs/survival.md`` for the estimand each strategy targets.

References
----------
- ICH E9(R1) addendum on estimands and sensitivity analysis in clinical trials, 2019.
- Robins J. A new approach to causal inference in mortality studies. Math Model 1986
  (g-computation); Ge M et al. Covariate-adjusted difference in proportions from clinical
  trials using logistic regression and weighted risk differences. Drug Inf J 2011
  (delta-method variance of the standardised risks).
- Ye T, Bannick M, Yi Y, Shao J. Robust variance estimation for covariate-adjusted unconditional
  treatment effect in randomized clinical trials with binary outcomes. Stat Theory Relat
  Fields 2023; FDA guidance "Adjusting for Covariates in Randomized Clinical Trials for
  Drugs and Biological Products" 2023 (influence-function variance used here).
- Robins JM, Finkelstein DM. Correcting for noncompliance and dependent censoring in an AIDS
  clinical trial with inverse probability of censoring weighted (IPCW) log-rank tests.
  Biometrics 2000 (IPCW).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from outcomes.clustering import NONE, PEER_WORKER, WORKER_PREFIX
from outcomes.clustering.icc import BinaryICC, anova_icc, nested_in
from outcomes.clustering.nonparametric import cif_influence, grouped_variance
from outcomes.clustering.robust import check_clusters, cluster_robust_cov
from outcomes.errors import NotEstimable

from ._common import (
    DEFAULT_ARMS,
    Arms,
    arm_indicator,
    design,
    diff_row,
    frame,
    joined_labels,
    merge_adsl,
    not_estimable_row,
    param,
    ratio_row,
    row,
    usable_se,
    wald,
)
from .estimability import check_events_by_arm, check_logistic_design
from .km import km_table

STRATEGIES = ("while_alive", "composite", "exclude_incomplete", "hypothetical_ipcw",
              "hypothetical_km")

#: Short names of the strategies, for tables and figures (the estimands: :data:`ESTIMANDS`).
STRATEGY_LABELS = {
    "while_alive": "While alive (death = not readmitted)",
    "composite": "Composite (readmission or death)",
    "exclude_incomplete": "Complete cases (death, withdrawal excluded)",
    "hypothetical_ipcw": "Hypothetical, no death or withdrawal (IPCW)",
    "hypothetical_km": "Hypothetical, no death or withdrawal (Kaplan-Meier)",
}

ESTIMANDS = {
    "while_alive": (
        "Variable: readmitted within the horizon while alive (death without readmission "
        "= not readmitted). Intercurrent events: death, while-alive strategy; withdrawal or "
        "other loss before the horizon, treated as independent censoring (inverse "
        "probability of censoring weights; without them, a complete-case analysis)."),
    "composite": (
        "Variable: readmitted or died within the horizon. Intercurrent events: death, "
        "composite strategy (counted as a failure); withdrawal, IPCW as above."),
    "exclude_incomplete": (
        "Variable: readmitted within the horizon among those whose 12-month status is "
        "observed (alive and followed to the horizon, or readmitted). Intercurrent events: "
        "death and withdrawal before the horizon without readmission, excluded "
        "(complete-case). Biased upwards for any estimand unless exclusions are rare; a "
        "sensitivity analysis only."),
    "hypothetical_ipcw": (
        "Variable: readmitted within the horizon in a hypothetical world without death or "
        "withdrawal. Intercurrent events: hypothetical strategy, complete cases weighted by "
        "the inverse Kaplan\u2013Meier probability of remaining uncensored (IPCW) within groups; "
        "covariate-adjusted by standardisation."),
    "hypothetical_km": (
        "Variable: readmitted within the horizon in a hypothetical world without death or "
        "withdrawal, estimated as 1 \u2212 Kaplan\u2013Meier at the horizon in each arm (unadjusted); "
        "death and withdrawal treated as independent censoring."),
}


def logistic_fit(X, y, w=None, *, tol=1e-10, max_iter=100):
    """Weighted logistic regression by Newton–Raphson; returns (beta, H) with
    H = X' diag(w p (1-p)) X the observed information. Raises :class:`NotEstimable` when
    the information becomes singular or the iterations do not converge."""
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    w = np.ones_like(y) if w is None else np.asarray(w, float)
    beta = np.zeros(X.shape[1])
    for _ in range(max_iter):
        p = expit(X @ beta)
        H = (X * (w * p * (1 - p))[:, None]).T @ X
        try:
            step = np.linalg.solve(H, X.T @ (w * (y - p)))
        except np.linalg.LinAlgError:
            raise NotEstimable("logistic regression: the information matrix is singular "
                               "(a coefficient diverges)") from None
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    else:
        raise NotEstimable(f"logistic regression: Newton iterations did not converge in "
                           f"{max_iter} steps")
    p = expit(X @ beta)
    H = (X * (w * p * (1 - p))[:, None]).T @ X
    return beta, H


@dataclass(frozen=True)
class GComp:
    """Standardised risks with their influence contributions (rows of ``phi`` sum to the
    first-order error of (risk1, risk0); Var = phi' phi).

    With ``clusters`` (a label per row) the variances are cluster-robust: the influence
    contributions of the risks, and ``dbeta`` (the rows of U H^-1) for the coefficients,
    summed within clusters, times G/(G−1) (:func:`outcomes.clustering.robust.
    cluster_robust_cov`; for the coefficients this is R ``sandwich::vcovCL``). For the
    risks G counts the clusters of all rows, since every row enters the standardisation."""

    risk1: float
    risk0: float
    phi: np.ndarray
    beta: np.ndarray
    model_cov_beta: np.ndarray
    dbeta: np.ndarray
    used: np.ndarray
    clusters: np.ndarray | None = None

    @property
    def cov(self) -> np.ndarray:
        if self.clusters is None:
            return self.phi.T @ self.phi
        return cluster_robust_cov(self.phi, self.clusters)

    @property
    def cov_beta(self) -> np.ndarray:
        """The coefficients' covariance; clustered, G counts the clusters of the fitted
        rows (``used``), as ``vcovCL`` of the glm."""
        if self.clusters is None:
            return self.model_cov_beta
        return cluster_robust_cov(self.dbeta[self.used], self.clusters[self.used])

    @property
    def rd(self) -> tuple[float, float]:
        g = np.array([1.0, -1.0])
        return self.risk1 - self.risk0, float(np.sqrt(g @ self.cov @ g))

    @property
    def log_or(self) -> tuple[float, float]:
        r1, r0 = self.risk1, self.risk0
        g = np.array([1 / (r1 * (1 - r1)), -1 / (r0 * (1 - r0))])
        return float(np.log(r1 / (1 - r1)) - np.log(r0 / (1 - r0))), float(np.sqrt(g @ self.cov @ g))

    @property
    def log_rr(self) -> tuple[float, float]:
        g = np.array([1 / self.risk1, -1 / self.risk0])
        return float(np.log(self.risk1 / self.risk0)), float(np.sqrt(g @ self.cov @ g))


def g_computation(Z, a, y, used, w=None, names=None) -> GComp:
    """Logistic model y ~ 1 + a + Z fitted on the rows ``used`` (weights ``w``), then the
    mean predicted risk over *all* rows with a set to 1 and to 0.

    Variance from the influence function (Ge et al. 2011; Ye et al. 2023):
    phi_i = (m_a(Z_i) - risk_a)/n + g_a' H^-1 w_i X_i (y_i - p_i), g_a the gradient of the
    mean prediction in beta and H the information; it includes the variability of the
    covariate distribution and is robust to misspecification of the logistic model
    (weights are treated as known). ``names`` names the columns of ``Z`` in messages; the
    design is checked by :func:`check_logistic_design` before fitting.
    """
    Z = np.asarray(Z, float).reshape(len(a), -1)
    a = np.asarray(a, float)
    y = np.asarray(y, float)
    used = np.asarray(used, bool)
    n = a.size
    X = np.column_stack([np.ones(n), a, Z])
    wu = np.ones(n) if w is None else np.asarray(w, float)
    wu = np.where(used, wu, 0.0)
    yy = np.where(used, y, 0.0)
    names = ["(Intercept)", "ARM", *(names if names is not None
                                    else [f"Z{k + 1}" for k in range(Z.shape[1])])]
    fit_rows = used & (wu > 0)
    check_logistic_design(X[fit_rows], yy[fit_rows], names)
    beta, H = logistic_fit(X[used], yy[used], wu[used])
    Hinv = np.linalg.inv(H)
    X1, X0 = X.copy(), X.copy()
    X1[:, 1], X0[:, 1] = 1.0, 0.0
    m1, m0 = expit(X1 @ beta), expit(X0 @ beta)
    r1, r0 = m1.mean(), m0.mean()
    g1 = (X1 * (m1 * (1 - m1))[:, None]).mean(axis=0)
    g0 = (X0 * (m0 * (1 - m0))[:, None]).mean(axis=0)
    p = expit(X @ beta)
    score = X * (wu * (yy - p))[:, None]  # zero for unused rows
    dbeta = score @ Hinv
    phi = np.column_stack([(m1 - r1) / n + dbeta @ g1, (m0 - r0) / n + dbeta @ g0])
    if w is None:
        cov_beta = Hinv
    else:  # sandwich for weighted fits
        cov_beta = dbeta.T @ dbeta
    return GComp(float(r1), float(r0), phi, beta, cov_beta, dbeta, used)


def censoring_survival_before(u, cens, weights=None) -> np.ndarray:
    """G(u_i-) for each i: Kaplan–Meier probability of remaining uncensored just before u_i.

    Censorings tied with outcomes at a time happen after the outcomes (the convention of
    the Kaplan–Meier estimator of the outcome), so the risk set of censoring at t is
    {u > t} plus those censored at t. With this G the IPCW risk with arm as the only
    covariate equals 1 - Kaplan–Meier exactly (Satten & Datta, Am Stat 2001).

    ``weights`` (B x n, e.g. bootstrap resample counts) gives the B weighted estimates at
    once, (B, n): each participant counts ``weights[b, i]`` times in the risk sets and
    censorings of row b (with integer counts, the estimate on the resampled rows).
    """
    u = np.asarray(u, float)
    cens = np.asarray(cens, bool)
    if weights is not None:
        return _weighted_censoring_survival_before(u, cens, np.atleast_2d(weights))
    ct, cnt = np.unique(u[cens], return_counts=True)
    us = np.sort(u)
    n_risk = us.size - np.searchsorted(us, ct, "right") + cnt
    G = np.cumprod(1.0 - cnt / n_risk)
    idx = np.searchsorted(ct, u, "left") - 1
    return np.r_[1.0, G][idx + 1]


def _weighted_censoring_survival_before(u: np.ndarray, cens: np.ndarray,
                                        W: np.ndarray) -> np.ndarray:
    """:func:`censoring_survival_before` for every row of the weight matrix ``W`` (B x n):
    the weighted censorings at each censoring time and the weighted risk set {u > t} plus
    those censored at t, from cumulative sums over the participants sorted by u."""
    ct = np.unique(u[cens])
    B = W.shape[0]
    if ct.size == 0:
        return np.ones((B, u.size))
    order = np.argsort(u, kind="stable")
    us = u[order]
    csum = np.concatenate([np.zeros((B, 1)), np.cumsum(W[:, order], axis=1)], axis=1)
    above = csum[:, -1:] - csum[:, np.searchsorted(us, ct, "right")]  # weight of {u > t}
    corder = order[cens[order]]  # the censored, sorted by u
    uc = u[corder]
    ccum = np.concatenate([np.zeros((B, 1)), np.cumsum(W[:, corder], axis=1)], axis=1)
    dc = ccum[:, np.searchsorted(uc, ct, "right")] - ccum[:, np.searchsorted(uc, ct, "left")]
    at_risk = above + dc
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(at_risk > 0, 1.0 - dc / at_risk, 1.0)  # nobody at risk: no step
    G = np.cumprod(factor, axis=1)
    idx = np.searchsorted(ct, u, "left") - 1
    return np.concatenate([np.ones((B, 1)), G], axis=1)[:, idx + 1]


@dataclass(frozen=True)
class BinaryResult:
    """Readmission within ``horizon`` days: risks by arm, risk difference, marginal odds
    ratio (standardised), and the conditional (covariate-adjusted) odds ratio."""

    analysis: str
    outcome: str
    arms: Arms
    strategy: str
    horizon: float
    covariates: tuple[str, ...]
    risk: tuple[float, ...]
    risk_se: tuple[float, ...]
    rd: tuple[float, float]
    log_or: tuple[float, float]
    cond_log_or: tuple[float, float] | None
    n: int
    n_used: int
    events: int
    n_by_arm: tuple[int, ...]
    events_by_arm: tuple[int, ...]
    level: float = 0.95
    clustering: str = NONE
    n_clusters: int | None = None
    icc: BinaryICC | NotEstimable | None = None

    @property
    def estimand(self) -> str:
        return ESTIMANDS[self.strategy]

    @property
    def odds_ratio(self) -> float:
        return float(np.exp(self.log_or[0]))

    def to_frame(self) -> pd.DataFrame:
        ex: dict[str, Any] = dict(clustering=self.clustering, strategy=self.strategy,
                                  horizon=self.horizon)
        if self.n_clusters is not None:
            ex["n_clusters"] = self.n_clusters
        rows = []
        # the unadjusted Kaplan-Meier risk of the control arm does not depend on the
        # design (its participants are unclustered): written once, by the naive result
        arms = ((self.arms.treated,) if self.strategy == "hypothetical_km"
                and self.clustering == PEER_WORKER else (self.arms.treated, self.arms.control))
        for arm, r, se, n, e in zip(arms, self.risk, self.risk_se, self.n_by_arm,
                                    self.events_by_arm, strict=False):
            # CI on the logit scale keeps it inside (0, 1)
            logit_se = se / (r * (1 - r))
            lo, hi, _ = wald(np.log(r / (1 - r)), logit_se, self.level)
            rows.append(row(self.analysis, self.outcome, arm, "risk", r, 1 / (1 + np.exp(-lo)),
                            1 / (1 + np.exp(-hi)), np.nan, n, e,
                            std_error=usable_se(logit_se), **ex))
        c = self.arms.contrast
        rows.append(diff_row(self.analysis, self.outcome, c, "risk_difference", *self.rd,
                             self.n_used, self.events, self.level, **ex))
        rows.append(ratio_row(self.analysis, self.outcome, c, "odds_ratio", *self.log_or,
                              self.n_used, self.events, self.level, **ex))
        if self.cond_log_or is not None:
            rows.append(ratio_row(self.analysis, self.outcome, c, "conditional_odds_ratio",
                                  *self.cond_log_or, self.n_used, self.events, self.level, **ex))
        if isinstance(self.icc, BinaryICC):
            i = self.icc
            rows.append(row(self.analysis, self.outcome, self.arms.treated, "icc", i.estimate,
                            *i.ci, np.nan, i.n, i.events,
                            **{**ex, "n_clusters": i.clusters}))
        elif isinstance(self.icc, NotEstimable):
            rows.append(not_estimable_row(self.analysis, self.outcome, self.arms.treated,
                                          "icc", self.icc.reason,
                                          **{**ex, "n_clusters": np.nan}))
        return frame(rows)


def outcome_status(d: pd.DataFrame, horizon: float, *, time_col="AVAL", censor_col="CNSR",
                   cmpev_col="CMPEVFL") -> pd.DataFrame:
    """Per participant: ``event`` (readmitted by the horizon), ``death`` (competing event
    before the horizon without readmission), ``lost`` (other censoring before it)."""
    t = d[time_col].to_numpy(float)
    ev = (d[censor_col].to_numpy() == 0) & (t <= horizon)
    cmp = (d[cmpev_col].astype(str).to_numpy() == "Y") if cmpev_col in d else np.zeros(len(d), bool)
    cens_before = (d[censor_col].to_numpy() == 1) & (t < horizon)
    return pd.DataFrame({"event": ev, "death": cens_before & cmp, "lost": cens_before & ~cmp},
                        index=d.index)


def strategy_outcome(d: pd.DataFrame, st: pd.DataFrame, horizon: float, strategy: str, *,
                     censor_groups: Sequence[str] = ("ARM",), ipcw: bool = True,
                     time_col: str = "AVAL") -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The binary outcome the intercurrent-event ``strategy`` defines (any of
    :data:`STRATEGIES` but ``hypothetical_km``), from ``st`` (:func:`outcome_status` of
    ``d``, index 0..n−1): ``(y, used, w)``, ``y`` 0/1, ``used`` the participants whose
    status at the horizon is known under the strategy, ``w`` the IPCW weights (0 for the
    unused; None when the strategy drops the censored without weighting)."""
    n = len(d)
    y = st["event"].to_numpy()
    lost, death = st["lost"].to_numpy(), st["death"].to_numpy()
    if strategy == "composite":
        y = y | death
    if strategy == "exclude_incomplete":
        used, cens = ~(lost | death), None
    elif strategy == "hypothetical_ipcw":
        used, cens = ~(lost | death), lost | death
    else:  # while_alive, composite: death is an observed outcome, loss is censoring
        used, cens = ~lost, (lost if ipcw else None)
    w = None
    if cens is not None:
        u = np.minimum(d[time_col].to_numpy(float), horizon)
        G = np.ones(n)
        groups = joined_labels(d, censor_groups)
        for _, idx in groups.groupby(groups).groups.items():
            ii = d.index.get_indexer(idx)
            G[ii] = censoring_survival_before(u[ii], cens[ii])
        if np.any(G[used] <= 0):
            raise ValueError("an uncensored participant has censoring probability 0")
        w = np.where(used, 1 / G, 0.0)
    return y, used, w


def readmission_within(
    adtte: pd.DataFrame,
    adsl: pd.DataFrame | None = None,
    *,
    paramcd: str = "READMIT",
    horizon: float = 365.0,
    covariates: Sequence[str] = ("SITEID", "DIAGGR"),
    strategy: str = "while_alive",
    censor_groups: Sequence[str] = ("ARM",),
    ipcw: bool = True,
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "primary",
    outcome: str | None = None,
    level: float = 0.95,
    time_col: str = "AVAL",
    censor_col: str = "CNSR",
    cmpev_col: str = "CMPEVFL",
    arm_col: str = "ARM",
    cluster: str | None = None,
    icc_strata: Sequence[str] = ("SITEID",),
) -> BinaryResult:
    """Readmission within ``horizon`` days, adjusted for ``covariates`` (default the
    randomisation stratifiers site and diagnosis group), intercurrent events handled by
    ``strategy`` (one of :data:`STRATEGIES`; estimands in :data:`ESTIMANDS`).

    Censoring before the horizon that the strategy does not turn into an outcome
    (withdrawal and loss; for ``hypothetical_ipcw`` also death) is handled by inverse
    probability of censoring weighting: each participant whose status at the horizon is
    known gets weight 1/G(min(AVAL, horizon)-), G the Kaplan-Meier probability of remaining
    uncensored within ``censor_groups`` (default arm). Simply dropping the censored
    (``ipcw=False``, or ``exclude_incomplete``) over-estimates the risk even when censoring
    is independent, because those readmitted early can no longer be censored.
    The variance treats the weights as known (Robins & Finkelstein 2000).

    ``cluster`` names a column of cluster labels (ADSL ``CLUSTER`` from
    :func:`outcomes.clustering.cluster_ids`): the variances are then cluster-robust (the
    influence contributions summed by cluster, G/(G−1); docs/clustering.md), the result's
    ``clustering`` is ``peer_worker`` and it carries the ANOVA ICC of the outcome among
    the treated participants with a peer worker (:func:`outcomes.clustering.icc.anova_icc`),
    nested within ``icc_strata`` (default the site) when every peer worker works in one
    site, else over the whole arm.

    Raises :class:`NotEstimable` when an arm has no outcome or only outcomes, and by the
    rules of :func:`~outcomes.survival.estimability.check_logistic_design` (rank, outcomes
    per coefficient, separation).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}")
    covariates = tuple(covariates)
    outcome = outcome or f"{paramcd} within {int(horizon)} days"
    d = merge_adsl(param(adtte, paramcd), adsl,
                   [arm_col, *covariates, *censor_groups,
                    *([cluster, *icc_strata] if cluster else [])])
    d = d.reset_index(drop=True)
    a = arm_indicator(d[arm_col], arms)
    st = outcome_status(d, horizon, time_col=time_col, censor_col=censor_col,
                        cmpev_col=cmpev_col)
    n = len(d)

    if strategy == "hypothetical_km":
        return km_risks(d, a, st, arms, horizon, analysis=analysis, outcome=outcome,
                        paramcd=paramcd, level=level, time_col=time_col,
                        censor_col=censor_col, cluster=cluster)

    y, used, w = strategy_outcome(d, st, horizon, strategy, censor_groups=censor_groups,
                                  ipcw=ipcw, time_col=time_col)

    sep = "the odds ratio is 0 or infinite (complete separation by arm)"
    check_events_by_arm((int((used & y & (a == 1)).sum()), int((used & y & (a == 0)).sum())),
                        arms, what=f"{outcome}", estimate=sep)
    check_events_by_arm((int((used & ~y & (a == 1)).sum()), int((used & ~y & (a == 0)).sum())),
                        arms, what=f"participant without {outcome}", estimate=sep)
    Zdf = design(d, covariates)
    gc = g_computation(Zdf.to_numpy(float), a, y.astype(float), used, w, list(Zdf.columns))
    clustering, n_clusters = NONE, None
    icc: BinaryICC | NotEstimable | None = None
    if cluster:
        labels = d[cluster].astype(str).to_numpy()
        check_clusters(labels[used], a[used], y[used], arms=(arms.treated, arms.control),
                       what=f"the cluster-robust variance of {outcome}")
        gc = replace(gc, clusters=labels)
        clustering, n_clusters = PEER_WORKER, int(pd.unique(labels).size)
        nested = used & (a == 1) & pd.Series(labels).str.startswith(WORKER_PREFIX).to_numpy()
        strata = (joined_labels(d.loc[nested], icc_strata)
                  if icc_strata and nested.any() else None)
        if strata is not None and not nested_in(labels[nested], strata):
            strata = None  # a peer worker in several sites: the ICC of the whole arm
        try:
            icc = anova_icc(y[nested], labels[nested], strata, level)
        except NotEstimable as exc:
            icc = exc
    ns = (int((used & (a == 1)).sum()), int((used & (a == 0)).sum()))
    es = (int((used & y & (a == 1)).sum()), int((used & y & (a == 0)).sum()))
    cond = (float(gc.beta[1]), float(np.sqrt(gc.cov_beta[1, 1])))
    se = np.sqrt(np.diag(gc.cov))
    return BinaryResult(analysis, outcome, arms, strategy, float(horizon), covariates,
                        (gc.risk1, gc.risk0), (float(se[0]), float(se[1])), gc.rd, gc.log_or,
                        cond, n, int(used.sum()), sum(es), ns, es, level, clustering,
                        n_clusters, icc)


def km_risks(d: pd.DataFrame, a: np.ndarray, st: pd.DataFrame, arms: Arms, horizon: float, *,
             analysis: str, outcome: str, paramcd: str, level: float, time_col: str,
             censor_col: str, cluster: str | None) -> BinaryResult:
    """Strategy ``hypothetical_km``: the risk 1 − S(horizon) of the Kaplan–Meier curve of
    each arm (death and withdrawal censor), Greenwood variance, unadjusted.

    With ``cluster`` the treated arm's variance is the grouped infinitesimal jackknife of
    1 − S(horizon) by peer worker (:func:`outcomes.clustering.nonparametric.cif_influence`
    with no competing cause; R ``survfit(..., influence = TRUE)``); the control arm's
    participants are all unclustered, and its grouped variance is its Greenwood variance
    exactly (the cross terms of the counting-process contributions vanish), so its risk
    row is written once, by the naive result (:meth:`BinaryResult.to_frame`).
    """
    time = d[time_col].to_numpy(float)
    event = d[censor_col].to_numpy() == 0
    labels = d[cluster].astype(str).to_numpy() if cluster else None
    if cluster:
        check_clusters(labels, a, event & (time <= horizon), arms=(arms.treated, arms.control),
                       what=f"the Kaplan-Meier risk of {outcome} clustered by peer worker")
    risks, var, ns, es = [], [], [], []
    for val in (1.0, 0.0):
        m = a == val
        tab = km_table(time[m], event[m])
        idx = np.searchsorted(tab["time"].to_numpy(), horizon, "right") - 1
        s = tab["survival"].to_numpy()[idx] if idx >= 0 else 1.0
        gw = tab["greenwood"].to_numpy()[idx] if idx >= 0 else 0.0
        v = float(s**2 * gw)
        if cluster and val == 1.0:
            assert labels is not None
            v = grouped_variance(cif_influence(time[m], event[m].astype(int), horizon),
                                 labels[m])
        risks.append(float(1 - s))
        var.append(v)
        ns.append(int(m.sum()))
        es.append(int(st["event"][m].sum()))
    for arm, r in zip((arms.treated, arms.control), risks, strict=True):
        if r in (0.0, 1.0):
            raise NotEstimable(f"the Kaplan-Meier risk of {paramcd} by day {horizon:g} is "
                               f"{r:g} in the {arm} arm: the odds ratio is 0 or infinite")
    r1, r0 = risks
    rd = (r1 - r0, float(np.sqrt(sum(var))))
    lor = (float(np.log(r1 / (1 - r1)) - np.log(r0 / (1 - r0))),
           float(np.sqrt(var[0] / (r1 * (1 - r1)) ** 2 + var[1] / (r0 * (1 - r0)) ** 2)))
    clustering, n_clusters = (PEER_WORKER, int(pd.unique(labels).size)) if cluster \
        else (NONE, None)
    return BinaryResult(analysis, outcome, arms, "hypothetical_km", float(horizon), (),
                        (r1, r0), tuple(float(x) for x in np.sqrt(var)), rd, lor, None,
                        len(d), len(d), sum(es), tuple(ns), tuple(es), level, clustering,
                        n_clusters)
