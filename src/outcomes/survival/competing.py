"""Competing risk of death: Aalen–Johansen cumulative incidence and cause-specific Cox models.

References
----------
- Aalen OO, Johansen S. An empirical transition matrix for non-homogeneous Markov chains
  based on censored observations. Scand J Stat 1978.
- Aalen OO. Nonparametric estimation of partial transition probabilities in multiple
  decrement models. Ann Stat 1978 (the variance used by R cmprsk::cuminc).
- Gray RJ. cmprsk: Subdistribution analysis of competing risks, R package (cuminc).
- Marubini E, Valsecchi MG. Analysing Survival Data from Clinical Trials and Observational
  Studies. Wiley 1995, §10 (delta-method variance; also statsmodels CumIncidenceRight).
- Putter H, Fiocco M, Geskus RB. Tutorial in biostatistics: competing risks and multi-state
  models. Stat Med 2007 (cause-specific hazards).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from outcomes.clustering import NONE, PEER_WORKER
from outcomes.clustering.nonparametric import cif_influence, grouped_variance
from outcomes.clustering.robust import check_clusters
from outcomes.errors import NotEstimable

from ._common import (
    DEFAULT_ARMS,
    Arms,
    NotEstimableResult,
    arm_indicator,
    design,
    diff_row,
    frame,
    ident,
    joined_labels,
    merge_adsl,
    not_estimable_row,
    param,
    ratio_row,
    row,
)
from .cox import CoxResult, cox
from .estimability import check_cox_design
from .finegray import fine_gray, gray_test
from .km import loglog_ci, loglog_se


def aalen_johansen(time, status) -> pd.DataFrame:
    """Aalen–Johansen cumulative incidence of cause 1 with cause 2 competing.

    ``status``: 0 censored, 1 event of interest, 2 competing event. Computed on the distinct
    times: all events at a time (of either cause) share the same risk set n_j and the
    all-cause survival S(t_j-) just before it; censorings at t_j come after the events.
    F(t) = sum_{t_j <= t} S(t_j-) d1_j / n_j.

    Two variances are returned:

    * ``var_aalen`` — the Aalen (1978) type variance of R cmprsk::cuminc (Gray's ``cinc``),
      written as a sum over event times of both causes:
      Var F(t) = sum_j S(t_j-)^2 / n_j^2 * [d1_j c(d1_j) (1 + (F_j - F(t))/S_j)^2
      + d2_j c(d2_j) ((F_j - F(t))/S_j)^2], c(d) = (n_j - d)/(n_j - 1) a tie correction,
      S_j = S(t_j), F_j = F(t_j); a term with S_j = 0 keeps only its first part (cause 1)
      and drops the second (cause 2), as cmprsk does.
    * ``var_delta`` — the delta-method (Greenwood-type) variance of Marubini & Valsecchi
      (1995), as in statsmodels ``CumIncidenceRight``.
    """
    t = np.asarray(time, float)
    s = np.asarray(status, int)
    if np.any(~np.isin(s, (0, 1, 2))):
        raise ValueError("status must be 0 (censored), 1 (event) or 2 (competing event)")
    ut, inv = np.unique(t, return_inverse=True)
    tot = np.bincount(inv, minlength=ut.size).astype(float)
    d1 = np.bincount(inv, weights=(s == 1).astype(float), minlength=ut.size)
    d2 = np.bincount(inv, weights=(s == 2).astype(float), minlength=ut.size)
    n = tot[::-1].cumsum()[::-1]
    d = d1 + d2
    surv = np.cumprod(1 - d / n)
    sm = np.r_[1.0, surv[:-1]]  # S(t_j-)
    F = np.cumsum(sm * d1 / n)

    # Aalen/cmprsk variance: expand (a - F(t) b)^2 into three running sums
    with np.errstate(divide="ignore", invalid="ignore"):
        c1 = np.where(d1 > 1, (n - d1) / (n - 1), 1.0)
        c2 = np.where(d2 > 1, (n - d2) / (n - 1), 1.0)
        b = np.where(surv > 0, 1.0 / surv, 0.0)
    w1 = sm**2 * c1 * d1 / n**2
    w2 = np.where(surv > 0, sm**2 * c2 * d2 / n**2, 0.0)
    a1 = 1 + b * F
    a2 = b * F
    v1 = np.cumsum(w1 * a1**2 + w2 * a2**2)
    v2 = np.cumsum(w1 * a1 * b + w2 * a2 * b)
    v3 = np.cumsum((w1 + w2) * b**2)
    var_aalen = v1 + F**2 * v3 - 2 * F * v2

    # delta method (Marubini & Valsecchi)
    with np.errstate(divide="ignore", invalid="ignore"):
        ra = np.where(n > d, d / (n * (n - d)), 0.0)
    vd = F**2 * np.cumsum(ra) - 2 * F * np.cumsum(F * ra) + np.cumsum(F**2 * ra)
    vd += np.cumsum(sm**2 * (n - d1) * d1 / n**3)
    q = sm * d1 / n**2
    vd += -2 * F * np.cumsum(q) + 2 * np.cumsum(F * q)
    return pd.DataFrame({"time": ut, "n_risk": n, "n_event": d1, "n_competing": d2,
                         "n_censor": tot - d, "survival": surv, "cif": F,
                         "var_aalen": np.maximum(var_aalen, 0.0),
                         "var_delta": np.maximum(vd, 0.0)})


def cif_at(table: pd.DataFrame, times, variance: str = "aalen") -> tuple[np.ndarray, np.ndarray]:
    """(CIF, variance) of an :func:`aalen_johansen` table at ``times`` (step function)."""
    idx = np.searchsorted(table["time"].to_numpy(), np.asarray(times, float), "right") - 1
    F = np.r_[0.0, table["cif"].to_numpy()][idx + 1]
    V = np.r_[0.0, table[f"var_{variance}"].to_numpy()][idx + 1]
    return F, V


def competing_status(d: pd.DataFrame, censor_col="CNSR", cmpev_col="CMPEVFL") -> np.ndarray:
    """0 censored, 1 event (CNSR == 0), 2 competing event (censored with CMPEVFL == 'Y')."""
    ev = d[censor_col].to_numpy() == 0
    cmp = d[cmpev_col].astype(str).to_numpy() == "Y" if cmpev_col in d else np.zeros(len(d), bool)
    return np.where(ev, 1, np.where(cmp, 2, 0))


@dataclass(frozen=True)
class CumulativeIncidenceResult:
    """Aalen–Johansen cumulative incidence by arm, with the difference at ``horizon``
    (Wald on the identity scale, the two arms independent).

    Clustered by peer worker, ``cluster_variance`` holds each arm's grouped infinitesimal
    jackknife variance at the horizon (:func:`~outcomes.clustering.nonparametric.
    cif_influence` summed by cluster; with every participant alone it is the ``delta``
    variance) and the rows are the treated arm's incidence and the difference
    (``clustering = peer_worker``; the control arm's row is written once, by the naive
    result)."""

    analysis: str
    outcome: str
    arms: Arms
    horizon: float
    tables: dict = field(repr=False)
    n: tuple[int, ...]
    events: tuple[int, ...]
    competing: tuple[int, ...]
    variance: str = "aalen"
    level: float = 0.95
    cluster_variance: tuple[float, ...] | None = None
    n_clusters: tuple[int, ...] | None = None

    @property
    def clustering(self) -> str:
        return NONE if self.cluster_variance is None else PEER_WORKER

    def at(self, times) -> pd.DataFrame:
        out = []
        for a in (self.arms.treated, self.arms.control):
            F, V = cif_at(self.tables[a], times, self.variance)
            lo, hi = loglog_ci(F, np.sqrt(V), self.level)
            out.append(pd.DataFrame({"arm": a, "time": times, "cif": F, "std_err": np.sqrt(V),
                                     "ci_low": lo, "ci_high": hi}))
        return pd.concat(out, ignore_index=True)

    def to_frame(self) -> pd.DataFrame:
        at = self.at([self.horizon])
        ex: list[dict] = [{}, {}]
        diff_ex: dict = {}
        if self.cluster_variance is not None:
            se = np.sqrt(np.asarray(self.cluster_variance, float))
            lo, hi = loglog_ci(at["cif"].to_numpy(), se, self.level)
            at = at.assign(std_err=se, ci_low=lo, ci_high=hi)
            assert self.n_clusters is not None  # set with cluster_variance
            ex[0] = dict(clustering=PEER_WORKER, n_clusters=self.n_clusters[0])
            diff_ex = dict(clustering=PEER_WORKER, n_clusters=sum(self.n_clusters))
        rows = [row(self.analysis, self.outcome, r["arm"], "cumulative_incidence", r["cif"],
                    r["ci_low"], r["ci_high"], np.nan, n, e,
                    std_error=float(loglog_se(r["cif"], r["std_err"])), horizon=self.horizon,
                    **x)
                for (_, r), n, e, x in zip(at.iterrows(), self.n, self.events, ex,
                                           strict=True)]
        if self.cluster_variance is not None:
            rows = rows[:1]  # the control arm does not depend on the design
        diff = at["cif"].iloc[0] - at["cif"].iloc[1]
        se = float(np.sqrt((at["std_err"] ** 2).sum()))
        if se > 0:
            rows.append(diff_row(self.analysis, self.outcome, self.arms.contrast,
                                 "cif_difference", diff, se, sum(self.n), sum(self.events),
                                 self.level, horizon=self.horizon, **diff_ex))
        else:  # both curves are 0 (or 1) up to the horizon: no sampling variability
            rows.append(not_estimable_row(
                self.analysis, self.outcome, self.arms.contrast, "cif_difference",
                f"no {self.outcome} event by day {self.horizon:g} in either arm (or all had "
                "one): the difference has no variance", sum(self.n), sum(self.events),
                horizon=self.horizon, **diff_ex))
        return frame(rows)


def cumulative_incidence(
    adtte: pd.DataFrame,
    paramcd: str = "READMIT",
    *,
    horizon: float = 365.0,
    adsl: pd.DataFrame | None = None,
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "competing_risks",
    variance: str = "aalen",
    level: float = 0.95,
    time_col: str = "AVAL",
    censor_col: str = "CNSR",
    cmpev_col: str = "CMPEVFL",
    arm_col: str = "ARM",
    cluster: str | None = None,
) -> CumulativeIncidenceResult:
    """Cumulative incidence of ``paramcd`` by arm with death (``CMPEVFL == 'Y'``) competing.

    With ``cluster`` (ADSL ``CLUSTER``) the variances at the horizon are the grouped
    infinitesimal jackknife by peer worker (:class:`CumulativeIncidenceResult`); not
    estimable with fewer than 2 clusters in an arm or all events by the horizon in one
    cluster."""
    d = merge_adsl(param(adtte, paramcd), adsl, [arm_col, *([cluster] if cluster else [])])
    a01 = arm_indicator(d[arm_col], arms)
    if cluster:
        ev_h = (competing_status(d, censor_col, cmpev_col) == 1) & (
            d[time_col].to_numpy(float) <= horizon)
        check_clusters(d[cluster], a01, ev_h, arms=(arms.treated, arms.control),
                       what="the cumulative-incidence variance clustered by peer worker")
    tables, ns, es, cs, cv, gs = {}, [], [], [], [], []
    for a in (arms.treated, arms.control):
        sub = d.loc[d[arm_col].astype(str) == a]
        st = competing_status(sub, censor_col, cmpev_col)
        tables[a] = aalen_johansen(sub[time_col].to_numpy(float), st)
        if cluster:
            D = cif_influence(sub[time_col].to_numpy(float), st, horizon)
            cv.append(grouped_variance(D, sub[cluster].astype(str)))
            gs.append(int(sub[cluster].nunique()))
        ns.append(len(sub))
        es.append(int((st == 1).sum()))
        cs.append(int((st == 2).sum()))
    return CumulativeIncidenceResult(analysis, paramcd, arms, float(horizon), tables, tuple(ns),
                                     tuple(es), tuple(cs), variance, level,
                                     tuple(cv) if cluster else None,
                                     tuple(gs) if cluster else None)


def cause_specific_cox(
    adtte: pd.DataFrame,
    paramcd: str = "READMIT",
    *,
    adsl: pd.DataFrame | None = None,
    covariates: Sequence[str] = ("PRIORADM", "DETINDFL"),
    strata: Sequence[str] | None = ("SITEID",),
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "competing_risks",
    level: float = 0.95,
    time_col: str = "AVAL",
    censor_col: str = "CNSR",
    cmpev_col: str = "CMPEVFL",
    arm_col: str = "ARM",
    id_col: str = "USUBJID",
    cluster: str | None = None,
) -> tuple[CoxResult | NotEstimableResult, CoxResult | NotEstimableResult]:
    """Cause-specific Cox models: (readmission with deaths censored, death before readmission
    with readmissions censored). Each hazard ratio is for its cause-specific hazard
    (Putter et al. 2007); the first equals the community-tenure Cox model when the
    covariates are the same, because death is already a censoring in READMIT. A model that
    is not estimable (e.g. too few deaths) is returned as a :class:`NotEstimableResult`
    with its reason, and does not stop the other. ``cluster`` (ADSL ``CLUSTER``) gives the
    robust variance clustered by peer worker (rows with ``clustering = peer_worker``)."""
    d = merge_adsl(param(adtte, paramcd), adsl,
                   [arm_col, *covariates, *(strata or []), *([cluster] if cluster else [])])
    st = competing_status(d, censor_col, cmpev_col)
    d = d.assign(_EV1=(st == 1).astype(int), _EV2=(st == 2).astype(int))
    clustering = PEER_WORKER if cluster else NONE
    common: dict[str, Any] = dict(covariates=covariates, time_col=time_col, strata=strata, arm_col=arm_col,
                                  arms=arms, analysis=analysis, level=level, cluster=cluster,
                                  clustering=clustering, participant_col=id_col)
    out: list[CoxResult | NotEstimableResult] = []
    for col, outcome in (("_EV1", f"{paramcd} (cause-specific)"),
                         ("_EV2", f"death before {paramcd} (cause-specific)")):
        try:
            out.append(cox(d, event_col=col, outcome=outcome, **common))
        except NotEstimable as exc:  # one cause's model does not stop the other
            out.append(NotEstimableResult(exc.reason, (
                ident(analysis, outcome, arms.contrast, "hazard_ratio", len(d),
                      int(d[col].sum()), clustering=clustering),)))
    return out[0], out[1]


@dataclass(frozen=True)
class SubdistributionResult:
    """Fine–Gray subdistribution hazard ratio of arm (:func:`~outcomes.survival.finegray.
    fine_gray`: Breslow ties, strata with their own baseline and censoring distribution,
    the variance of R ``crr``; clustered by peer worker when ``clustering`` is
    ``peer_worker``)."""

    analysis: str
    outcome: str
    contrast: str
    terms: tuple[str, ...]
    coef: np.ndarray = field(repr=False)
    cov: np.ndarray = field(repr=False)
    n: int
    events: int
    competing: int
    strata: tuple[str, ...] = ()
    level: float = 0.95
    clustering: str = NONE
    n_clusters: int | None = None

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    @property
    def std_error(self) -> float:
        """Standard error of the log subdistribution hazard ratio of arm."""
        return float(self.se[0])

    @property
    def shr(self) -> float:
        return float(np.exp(self.coef[0]))

    def to_frame(self) -> pd.DataFrame:
        ex: dict = {"clustering": self.clustering}
        if self.clustering == PEER_WORKER:
            ex["n_clusters"] = self.n_clusters
        return frame([ratio_row(self.analysis, self.outcome, self.contrast,
                                "subdistribution_hazard_ratio", self.coef[0], self.se[0],
                                self.n, self.events, self.level, **ex)])


def _competing_data(adtte, paramcd, adsl, columns, censor_col, cmpev_col):
    d = merge_adsl(param(adtte, paramcd), adsl, columns).reset_index(drop=True)
    st = competing_status(d, censor_col, cmpev_col)
    if not (st == 2).any():
        raise NotEstimable(f"no death (competing event) among the {len(d)} participants: "
                           f"the subdistribution of {paramcd} is its all-cause distribution "
                           "and the cause-specific and community-tenure analyses already "
                           "cover it")
    return d, st


def subdistribution_hazards(
    adtte: pd.DataFrame,
    paramcd: str = "READMIT",
    *,
    adsl: pd.DataFrame | None = None,
    covariates: Sequence[str] = ("PRIORADM", "DETINDFL"),
    strata: Sequence[str] | None = ("SITEID",),
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "competing_risks",
    level: float = 0.95,
    time_col: str = "AVAL",
    censor_col: str = "CNSR",
    cmpev_col: str = "CMPEVFL",
    arm_col: str = "ARM",
    cluster: str | None = None,
) -> SubdistributionResult:
    """Fine–Gray model of ``paramcd`` with death (``CMPEVFL == 'Y'``) competing, on arm and
    ``covariates``, stratified by ``strata`` (Fine & Gray 1999; docs/survival.md).

    Not estimable (:class:`NotEstimable`) without any death, by the design rules of the
    Cox models (:func:`~outcomes.survival.estimability.check_cox_design`: an event in each
    arm, one per coefficient, full rank within strata) and when the likelihood has no
    finite maximum. ``cluster`` (ADSL ``CLUSTER``) sums the contributions φ by peer worker
    (``clustering = peer_worker``), checked by
    :func:`~outcomes.clustering.robust.check_clusters`."""
    strata = list(strata or [])
    d, st = _competing_data(adtte, paramcd, adsl,
                            [arm_col, *covariates, *strata, *([cluster] if cluster else [])],
                            censor_col, cmpev_col)
    a = arm_indicator(d[arm_col], arms)
    Xdf = pd.concat([pd.Series(a, name=arm_col), design(d, covariates)], axis=1)
    sv = joined_labels(d, strata).to_numpy() if strata else None
    ev = (st == 1).astype(float)
    model = f"Fine–Gray model of {paramcd}"
    check_cox_design(Xdf, sv, ev, a, arms, model=model)
    if cluster:
        check_clusters(d[cluster], a, ev, arms=(arms.treated, arms.control),
                       what=f"the cluster-robust variance of the {model}")
    fit = fine_gray(Xdf.to_numpy(float), d[time_col].to_numpy(float), st, sv,
                    d[cluster].astype(str).to_numpy() if cluster else None)
    return SubdistributionResult(
        analysis, f"{paramcd} (subdistribution)", arms.contrast, tuple(Xdf.columns),
        fit.coef, fit.cov, len(d), int(ev.sum()), int((st == 2).sum()), tuple(strata), level,
        PEER_WORKER if cluster else NONE,
        int(d[cluster].nunique()) if cluster else None)


@dataclass(frozen=True)
class GrayTestResult:
    """Gray's test that the cumulative incidence of ``outcome`` is the same in both arms
    (stratified by ``strata``): one row, ``estimate`` the χ² statistic (1 df)."""

    analysis: str
    outcome: str
    contrast: str
    statistic: float
    p_value: float
    n: int
    events: int
    strata: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        return frame([row(self.analysis, self.outcome, self.contrast, "gray_test_chisq",
                          self.statistic, p_value=self.p_value, n=self.n,
                          events=self.events)])


def gray_test_by_arm(
    adtte: pd.DataFrame,
    paramcd: str = "READMIT",
    *,
    adsl: pd.DataFrame | None = None,
    strata: Sequence[str] | None = ("SITEID",),
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "competing_risks",
    time_col: str = "AVAL",
    censor_col: str = "CNSR",
    cmpev_col: str = "CMPEVFL",
    arm_col: str = "ARM",
) -> GrayTestResult:
    """Gray's test (R ``cmprsk::cuminc(time, status, arm, strata)``) of the cumulative
    incidence of ``paramcd`` by arm with death competing. Not estimable without any death
    (it is then the log-rank test) or without any event."""
    strata = list(strata or [])
    d, st = _competing_data(adtte, paramcd, adsl, [arm_col, *strata], censor_col, cmpev_col)
    a = arm_indicator(d[arm_col], arms)
    sv = joined_labels(d, strata).to_numpy() if strata else None
    # groups sorted so that the score is of the treated arm (0 sorts before 1)
    g = gray_test(d[time_col].to_numpy(float), st, 1 - a, sv)
    return GrayTestResult(analysis, paramcd, arms.contrast, g.statistic, g.p_value, len(d),
                          int((st == 1).sum()), tuple(strata))


@dataclass(frozen=True)
class IncidenceCurves:
    """Aalen–Johansen cumulative incidence of ``paramcd`` and of death before it, by arm
    (``tables[(arm, cause)]``, cause ``"event"`` or ``"death"``: :func:`aalen_johansen`
    tables), with Gray's p-value for the event when it was estimable (the figure of
    :func:`outcomes.survival.plots.cumulative_incidence_plot`)."""

    paramcd: str
    arms: Arms
    tables: dict = field(repr=False)
    gray_p: float | None = None
    strata: tuple[str, ...] = ()


def incidence_curves(adtte: pd.DataFrame, paramcd: str = "READMIT", *,
                     adsl: pd.DataFrame | None = None, arms: Arms = DEFAULT_ARMS,
                     gray_p: float | None = None, strata: Sequence[str] = (),
                     time_col: str = "AVAL", censor_col: str = "CNSR",
                     cmpev_col: str = "CMPEVFL", arm_col: str = "ARM") -> IncidenceCurves:
    """Both causes' Aalen–Johansen curves in each arm (death is cause 1 of its own
    curve, ``paramcd`` its competing event)."""
    d = merge_adsl(param(adtte, paramcd), adsl, [arm_col])
    tables = {}
    for a in (arms.treated, arms.control):
        sub = d.loc[d[arm_col].astype(str) == a]
        st = competing_status(sub, censor_col, cmpev_col)
        t = sub[time_col].to_numpy(float)
        tables[(a, "event")] = aalen_johansen(t, st)
        tables[(a, "death")] = aalen_johansen(t, np.choose(st, [0, 2, 1]))
    return IncidenceCurves(paramcd, arms, tables, gray_p, tuple(strata))
