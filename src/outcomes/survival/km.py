"""Kaplan–Meier estimation, the stratified log-rank test and the restricted mean survival time.

References
----------
- Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. JASA 1958.
- Greenwood M. The natural duration of cancer. Rep Public Health Med Subj 1926.
- Kalbfleisch JD, Prentice RL. The Statistical Analysis of Failure Time Data, 2nd ed., 2002
  (log(-log) confidence intervals; stratified log-rank test, §7.2).
- Brookmeyer R, Crowley J. A confidence interval for the median survival time. Biometrics 1982.
- Klein JP, Moeschberger ML. Survival Analysis, 2nd ed., 2003, §4.5 (mean survival time
  restricted to tau and its variance).
- Royston P, Parmar MKB. Restricted mean survival time: an alternative to the hazard ratio.
  BMC Med Res Methodol 2013; Uno H et al., R package survRM2 (same variance).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from outcomes.clustering import NONE, PEER_WORKER
from outcomes.clustering.nonparametric import (
    grouped_variance,
    logrank_score_residuals,
    rmst_influence,
)
from outcomes.clustering.robust import check_clusters
from outcomes.errors import NotEstimable

from ._common import (
    DEFAULT_ARMS,
    Arms,
    arm_indicator,
    diff_row,
    frame,
    joined_labels,
    merge_adsl,
    not_estimable_row,
    param,
    ratio_row,
    row,
    z_crit,
)


def km_table(time, event) -> pd.DataFrame:
    """Kaplan–Meier life table on the distinct observed times.

    Columns: ``time, n_risk`` (number with T >= time), ``n_event, n_censor, survival``
    (S(time), right-continuous), ``greenwood`` (sum of d/(n(n-d)), so that
    Var S = S^2 * greenwood), ``std_err``. Censorings tied with events at a time are taken
    to happen just after the events (the usual convention).
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=float)
    if t.size == 0:
        raise ValueError("no observations")
    if np.any(t < 0) or np.any(~np.isfinite(t)):
        raise ValueError("times must be finite and >= 0")
    ut, inv = np.unique(t, return_inverse=True)
    d = np.bincount(inv, weights=e, minlength=ut.size)
    tot = np.bincount(inv, minlength=ut.size).astype(float)
    n_risk = tot[::-1].cumsum()[::-1]
    c = tot - d
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n_risk)
        gw_term = np.where(n_risk > d, d / (n_risk * (n_risk - d)), np.where(d > 0, np.inf, 0.0))
    gw = np.cumsum(gw_term)
    with np.errstate(invalid="ignore"):
        se = np.where(surv > 0, surv * np.sqrt(gw), 0.0)
    return pd.DataFrame({"time": ut, "n_risk": n_risk, "n_event": d, "n_censor": c,
                         "survival": surv, "greenwood": gw, "std_err": se})


def survival_at(table: pd.DataFrame, times) -> np.ndarray:
    """S(t) of a :func:`km_table` at ``times`` (step function, S = 1 before the first time)."""
    idx = np.searchsorted(table["time"].to_numpy(), np.asarray(times, dtype=float), "right") - 1
    s = np.r_[1.0, table["survival"].to_numpy()]
    return s[idx + 1]


def std_err_at(table: pd.DataFrame, times) -> np.ndarray:
    """Greenwood's SE of S(t) of a :func:`km_table` at ``times`` (0 before the first time)."""
    idx = np.searchsorted(table["time"].to_numpy(), np.asarray(times, dtype=float), "right") - 1
    return np.where(idx >= 0, np.r_[0.0, table["std_err"].to_numpy()][idx + 1], 0.0)


def loglog_ci(surv, std_err, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Log(-log) (Kalbfleisch–Prentice) pointwise interval of a survival probability."""
    s = np.asarray(surv, dtype=float)
    se = np.asarray(std_err, dtype=float)
    z = z_crit(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = se / (s * np.log(s))
        lo = s ** np.exp(-z * theta)
        hi = s ** np.exp(z * theta)
    inner = (s > 0) & (s < 1)
    lo = np.where(inner, lo, s)
    hi = np.where(inner, hi, s)
    return np.minimum(lo, hi), np.maximum(lo, hi)


def loglog_se(surv, std_err) -> np.ndarray:
    """The standard error of log(−log S) (delta method: SE(S) / (S |log S|)), the scale on
    which :func:`loglog_ci` is a Wald interval; NA where S is 0 or 1 (no interval)."""
    s = np.asarray(surv, dtype=float)
    se = np.asarray(std_err, dtype=float)
    inner = (s > 0) & (s < 1) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inner, se / (s * np.abs(np.log(s))), np.nan)


def risk_table(time, event, at) -> pd.DataFrame:
    """KMunicate numbers at the times ``at``: at risk (T >= t), cumulative events and
    cumulative censored strictly before t, so that the three add up to n in each column."""
    t = np.sort(np.asarray(time, dtype=float))
    e = np.asarray(event, dtype=bool)
    te = np.sort(np.asarray(time, dtype=float)[e])
    tc = np.sort(np.asarray(time, dtype=float)[~e])
    at = np.asarray(at, dtype=float)
    return pd.DataFrame({
        "time": at,
        "at_risk": t.size - np.searchsorted(t, at, "left"),
        "events": np.searchsorted(te, at, "left"),
        "censored": np.searchsorted(tc, at, "left"),
    })


# --------------------------------------------------------------------------- KM by arm
@dataclass(frozen=True)
class ArmCurve:
    arm: str
    n: int
    events: int
    table: pd.DataFrame = field(repr=False)
    median: float
    median_ci: tuple[float, float]
    time: np.ndarray = field(repr=False)
    event: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class KaplanMeierResult:
    """Kaplan–Meier curves by arm with medians (lifelines; log(-log) CI as in lifelines and
    Brookmeyer–Crowley inversion of the pointwise band)."""

    analysis: str
    outcome: str
    arms: Arms
    curves: tuple[ArmCurve, ...]
    level: float = 0.95

    def curve(self, arm: str) -> ArmCurve:
        return next(c for c in self.curves if c.arm == arm)

    def survival_at(self, times) -> pd.DataFrame:
        out = []
        for c in self.curves:
            s = survival_at(c.table, times)
            se = std_err_at(c.table, times)
            lo, hi = loglog_ci(s, se, self.level)
            out.append(pd.DataFrame({"arm": c.arm, "time": times, "survival": s,
                                     "std_err": se, "ci_low": lo, "ci_high": hi}))
        return pd.concat(out, ignore_index=True)

    def risk_table(self, at) -> pd.DataFrame:
        return pd.concat([risk_table(c.time, c.event, at).assign(arm=c.arm)
                          for c in self.curves], ignore_index=True)

    def to_frame(self) -> pd.DataFrame:
        return frame(
            row(self.analysis, self.outcome, c.arm, "median_time", c.median, c.median_ci[0],
                c.median_ci[1], np.nan, c.n, c.events)
            for c in self.curves
        )


def kaplan_meier(
    adtte: pd.DataFrame,
    paramcd: str = "READMIT",
    *,
    adsl: pd.DataFrame | None = None,
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "community_tenure",
    level: float = 0.95,
    time_col: str = "AVAL",
    censor_col: str = "CNSR",
    arm_col: str = "ARM",
) -> KaplanMeierResult:
    """Kaplan–Meier estimate of one ADTTE parameter in each arm (event = ``CNSR == 0``)."""
    # imported here: lifelines costs a process 0.3 s of CPU to import, and the modules that
    # only need km_table (the mediation jobs) should not pay it
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    d = merge_adsl(param(adtte, paramcd), adsl, [arm_col])
    arm_indicator(d[arm_col], arms)
    curves = []
    for a in (arms.treated, arms.control):
        sub = d.loc[d[arm_col].astype(str) == a]
        t = sub[time_col].to_numpy(float)
        ev = (sub[censor_col].to_numpy() == 0)
        kmf = KaplanMeierFitter(alpha=1 - level).fit(t, ev)
        mci = median_survival_times(kmf.confidence_interval_)
        curves.append(ArmCurve(a, int(t.size), int(ev.sum()), km_table(t, ev),
                               float(kmf.median_survival_time_),
                               (float(mci.iloc[0, 0]), float(mci.iloc[0, 1])), t, ev))
    return KaplanMeierResult(analysis, paramcd, arms, tuple(curves), level)


# --------------------------------------------------------------------------- log-rank
@dataclass(frozen=True)
class LogRankResult:
    """Stratified log-rank test of treated vs control.

    ``observed - expected`` and ``variance`` are summed over strata; chi-square on 1 df.
    ``hr`` is the Peto one-step hazard ratio exp((O-E)/V) with CI exp((O-E)/V ± z/sqrt(V)).

    Clustered by peer worker (``clustering = peer_worker``), ``robust_variance`` W is the
    sum over clusters of the squared score residuals at β = 0
    (:func:`outcomes.clustering.nonparametric.logrank_score_residuals`): ``chisq`` is the
    robust score test (O-E)²/W (Lin & Wei 1989; R ``coxph(cluster = )$rscore``) and the
    same Peto HR gets the CI exp((O-E)/V ± z sqrt(W)/V), whose Wald test is that score test.
    """

    analysis: str
    outcome: str
    contrast: str
    observed: float
    expected: float
    variance: float
    chisq: float
    p_value: float
    n: int
    events: int
    n_strata: int
    level: float = 0.95
    robust_variance: float | None = None
    n_clusters: int | None = None

    @property
    def log_hr(self) -> float:
        return (self.observed - self.expected) / self.variance

    @property
    def clustering(self) -> str:
        return NONE if self.robust_variance is None else PEER_WORKER

    def to_frame(self) -> pd.DataFrame:
        if self.robust_variance is None:
            se, ex = 1 / np.sqrt(self.variance), {}
        else:
            se = np.sqrt(self.robust_variance) / self.variance
            ex = dict(clustering=PEER_WORKER, n_clusters=self.n_clusters)
        r = ratio_row(self.analysis, self.outcome, self.contrast, "logrank_hazard_ratio",
                      self.log_hr, se, self.n, self.events, self.level, **ex)
        r["p_value"] = self.p_value
        return frame([r])


def logrank_components(time, event, group, strata=None) -> tuple[float, float, float]:
    """(O, E, V) for ``group == 1`` summed over strata (Kalbfleisch & Prentice §7.2).

    In each stratum, at each distinct event time with n at risk, n1 of them in group 1,
    d events of which d1 in group 1: E = d n1/n and V = d (n1/n)(1 - n1/n)(n - d)/(n - 1).
    """
    t = np.asarray(time, float)
    e = np.asarray(event, float)
    g = np.asarray(group, float)
    s = np.zeros(t.size) if strata is None else pd.factorize(np.asarray(strata))[0]
    obs = E = V = 0.0
    for k in np.unique(s):
        m = s == k
        tk, ek, gk = t[m], e[m], g[m]
        ut = np.unique(tk[ek > 0])
        if ut.size == 0:
            continue
        ts = np.sort(tk)
        t1 = np.sort(tk[gk == 1])
        n = ts.size - np.searchsorted(ts, ut, "left")
        n1 = t1.size - np.searchsorted(t1, ut, "left")
        idx = np.searchsorted(ut, tk[ek > 0])
        d = np.bincount(idx, minlength=ut.size).astype(float)
        d1 = np.bincount(idx, weights=gk[ek > 0], minlength=ut.size)
        p1 = n1 / n
        obs += d1.sum()
        E += (d * p1).sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(n > 1, d * p1 * (1 - p1) * (n - d) / (n - 1), 0.0)
        V += v.sum()
    return float(obs), float(E), float(V)


def logrank(
    adtte: pd.DataFrame,
    paramcd: str = "READMIT",
    *,
    adsl: pd.DataFrame | None = None,
    strata: Sequence[str] | None = ("SITEID",),
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "community_tenure",
    level: float = 0.95,
    time_col: str = "AVAL",
    censor_col: str = "CNSR",
    arm_col: str = "ARM",
    cluster: str | None = None,
) -> LogRankResult:
    """Log-rank test of the arms, stratified by ``strata`` (default site).

    Not estimable (:class:`NotEstimable`) when there is no event, or when no event time has
    both arms at risk in its stratum (variance 0). With ``cluster`` (ADSL ``CLUSTER``,
    :func:`outcomes.clustering.cluster_ids`) the test is the robust score test clustered by
    peer worker (:class:`LogRankResult`); also not estimable with fewer than 2 clusters in an
    arm or all events in one cluster (:func:`~outcomes.clustering.robust.check_clusters`).
    """
    strata = list(strata or [])
    d = merge_adsl(param(adtte, paramcd), adsl, [arm_col, *strata, *([cluster] if cluster else [])])
    g = arm_indicator(d[arm_col], arms)
    ev = (d[censor_col].to_numpy() == 0).astype(float)
    st = joined_labels(d, strata).to_numpy() if strata else None
    obs, E, V = logrank_components(d[time_col].to_numpy(float), ev, g, st)
    if ev.sum() == 0:
        raise NotEstimable(f"no {paramcd} event in either arm")
    if V <= 0:
        raise NotEstimable(f"no {paramcd} event with both arms at risk in its stratum: the "
                           "log-rank variance is 0")
    chisq = (obs - E) ** 2 / V
    W = ncl = None
    if cluster:
        check_clusters(d[cluster], g, ev, arms=(arms.treated, arms.control),
                       what="the log-rank test clustered by peer worker")
        U = logrank_score_residuals(d[time_col].to_numpy(float), ev, g, st)
        W = grouped_variance(U, d[cluster].astype(str))
        if W <= 0:
            raise NotEstimable("the log-rank score has no variance between clusters")
        chisq, ncl = (obs - E) ** 2 / W, int(d[cluster].nunique())
    return LogRankResult(analysis, paramcd, arms.contrast, obs, E, V, float(chisq),
                         float(stats.chi2.sf(chisq, 1)), int(len(d)), int(ev.sum()),
                         1 if st is None else len(set(st)), level, W, ncl)


# --------------------------------------------------------------------------- RMST
@dataclass(frozen=True)
class RMSTTerms:
    """The Kaplan–Meier RMST up to tau and, at each distinct event time t_j <= tau, n_j,
    d_j and A_j = integral_{t_j}^tau S(u) du (:func:`rmst_terms`)."""

    rmst: float
    times: np.ndarray
    n: np.ndarray
    d: np.ndarray
    A: np.ndarray


def rmst_terms(time, event, tau: float) -> RMSTTerms:
    """The RMST of the Kaplan–Meier curve up to ``tau`` and the terms of its variance;
    :class:`NotEstimable` when ``tau`` is beyond the last follow-up and S > 0 there."""
    tab = km_table(time, event)
    tt = tab["time"].to_numpy()
    s = tab["survival"].to_numpy()
    if tau > tt.max() and s[-1] > 0:
        raise NotEstimable(f"tau={tau:g} is beyond the last follow-up time {tt.max():g} and "
                           "the Kaplan-Meier curve is undefined there")
    # breakpoints of the step function within [0, tau]
    keep = tt < tau
    knots = np.r_[0.0, tt[keep], tau]
    vals = np.r_[1.0, s[keep]]  # S on [knots[i], knots[i+1])
    areas = vals * np.diff(knots)
    rmst = float(areas.sum())
    # A_j for event times t_j <= tau: area from t_j to tau = sum of areas from its knot on
    tail = areas[::-1].cumsum()[::-1]  # tail[i] = integral from knots[i] to tau
    ev = (tab["n_event"].to_numpy() > 0) & (tt <= tau)
    pos = np.searchsorted(knots, tt[ev], "left")
    A = np.where(pos < tail.size, tail[np.minimum(pos, tail.size - 1)], 0.0)
    A = np.where(tt[ev] >= tau, 0.0, A)
    return RMSTTerms(rmst, tt[ev], tab["n_risk"].to_numpy()[ev], tab["n_event"].to_numpy()[ev],
                     A)


def rmst_km(time, event, tau: float) -> tuple[float, float]:
    """RMST up to ``tau`` of the Kaplan–Meier curve and its Greenwood-type variance.

    RMST = integral_0^tau S(u) du. With A_j = integral_{t_j}^tau S(u) du for each distinct
    event time t_j <= tau, Var = sum_j A_j^2 d_j / (n_j (n_j - d_j)) (Klein & Moeschberger
    §4.5; the formula of R survRM2 and of survival::print.survfit(rmean=), a term with
    n_j = d_j counting 0 as in survRM2). This is the variance of the *estimator*; lifelines'
    ``restricted_mean_survival_time(return_variance=True)`` returns instead the variance of
    min(T, tau), which does not shrink with n.
    """
    r = rmst_terms(time, event, tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(r.n > r.d, r.d / (r.n * (r.n - r.d)), 0.0)
    return r.rmst, float((r.A**2 * w).sum())


@dataclass(frozen=True)
class RMSTResult:
    """RMST per arm up to ``tau`` and their difference (treated - control).

    Clustered by peer worker (``clustering = peer_worker``), ``variance`` is the grouped
    infinitesimal jackknife of each arm (:func:`~outcomes.clustering.nonparametric.
    rmst_influence` summed by cluster), and the rows are the treated arm's RMST and the
    difference (the control arm's participants are unclustered: its row is written once,
    by the naive result, and its grouped variance equals its Greenwood-type one).
    """

    analysis: str
    outcome: str
    arms: Arms
    tau: float
    rmst: tuple[float, ...]
    variance: tuple[float, ...]
    n: tuple[int, ...]
    events: tuple[int, ...]
    level: float = 0.95
    n_clusters: tuple[int, ...] | None = None

    @property
    def clustering(self) -> str:
        return NONE if self.n_clusters is None else PEER_WORKER

    @property
    def difference(self) -> float:
        return self.rmst[0] - self.rmst[1]

    @property
    def se_difference(self) -> float:
        return float(np.sqrt(sum(self.variance)))

    def to_frame(self) -> pd.DataFrame:
        arms: tuple[str, ...] = (self.arms.treated, self.arms.control)
        ex: list[dict] = [{}, {}]
        diff_ex: dict = {}
        if self.n_clusters is not None:
            arms = arms[:1]
            ex[0] = dict(clustering=PEER_WORKER, n_clusters=self.n_clusters[0])
            diff_ex = dict(clustering=PEER_WORKER, n_clusters=sum(self.n_clusters))
        rows = [diff_row(self.analysis, self.outcome, a, "rmst", r, np.sqrt(v), n, e,
                         self.level, tau=self.tau, **x)
                for a, r, v, n, e, x in zip(arms, self.rmst, self.variance, self.n,
                                            self.events, ex, strict=False)]
        for r in rows:  # a p-value of RMST = 0 has no meaning
            r["p_value"] = np.nan
        if self.se_difference > 0:
            rows.append(diff_row(self.analysis, self.outcome, self.arms.contrast,
                                 "rmst_difference", self.difference, self.se_difference,
                                 sum(self.n), sum(self.events), self.level, tau=self.tau,
                                 **diff_ex))
        else:  # both Kaplan-Meier curves flat up to tau
            rows.append(not_estimable_row(
                self.analysis, self.outcome, self.arms.contrast, "rmst_difference",
                f"no {self.outcome} event before day {self.tau:g} in either arm: the RMST "
                "difference has no variance", sum(self.n), sum(self.events), tau=self.tau,
                **diff_ex))
        return frame(rows)


def rmst_difference(
    adtte: pd.DataFrame,
    paramcd: str = "READMIT",
    *,
    tau: float = 365.0,
    adsl: pd.DataFrame | None = None,
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "community_tenure",
    level: float = 0.95,
    time_col: str = "AVAL",
    censor_col: str = "CNSR",
    arm_col: str = "ARM",
    cluster: str | None = None,
) -> RMSTResult:
    """Difference in restricted mean survival time at ``tau`` days (unadjusted, KM-based).

    With ``cluster`` (ADSL ``CLUSTER``) each arm's variance is the grouped infinitesimal
    jackknife by peer worker (:class:`RMSTResult`); not estimable with fewer than 2
    clusters in an arm or all events in one cluster."""
    d = merge_adsl(param(adtte, paramcd), adsl, [arm_col, *([cluster] if cluster else [])])
    a01 = arm_indicator(d[arm_col], arms)
    if cluster:
        check_clusters(d[cluster], a01, (d[censor_col].to_numpy() == 0)
                       & (d[time_col].to_numpy(float) <= tau),
                       arms=(arms.treated, arms.control),
                       what="the RMST variance clustered by peer worker")
    res, var, ns, es, gs = [], [], [], [], []
    for a in (arms.treated, arms.control):
        sub = d.loc[d[arm_col].astype(str) == a]
        ev = sub[censor_col].to_numpy() == 0
        t = sub[time_col].to_numpy(float)
        r, v = rmst_km(t, ev, tau)
        if cluster:
            v = grouped_variance(rmst_influence(t, ev, tau), sub[cluster].astype(str))
            gs.append(int(sub[cluster].nunique()))
        res.append(r)
        var.append(v)
        ns.append(len(sub))
        es.append(int(ev.sum()))
    return RMSTResult(analysis, paramcd, arms, float(tau), tuple(res), tuple(var), tuple(ns),
                      tuple(es), level, tuple(gs) if cluster else None)
