"""Recurrent readmissions: negative binomial rate ratio, Andersen–Gill Cox model, days in
hospital.

References
----------
- Lawless JF. Negative binomial and mixed Poisson regression. Can J Stat 1987 (NB2).
- Cameron AC, Trivedi PK. Regression Analysis of Count Data, 2nd ed. 2013, §3.3.
- Andersen PK, Gill RD. Cox's regression model for counting processes. Ann Stat 1982.
- Lin DY, Wei LJ, Yang I, Ying Z. Semiparametric regression for the mean and rate functions
  of recurrent events. JRSS B 2000 (robust variance of the Andersen–Gill model).
- Efron B, Tibshirani RJ. An Introduction to the Bootstrap. 1993 (percentile intervals).
- Davison AC, Hinkley DV. Bootstrap Methods and their Application. 1997, §3.8; Field CA,
  Welsh AH. Bootstrapping clustered data. JRSS B 2007 (the cluster bootstrap of days in
  hospital under the partially nested design, docs/clustering.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from outcomes.clustering import NONE, PEER_WORKER, cluster_codes
from outcomes.clustering.bootstrap import (
    block_rows,
    cluster_bootstrap_counts,
    resample_means,
    resample_medians,
)
from outcomes.clustering.robust import check_clusters
from outcomes.errors import NotEstimable
from outcomes.linalg import check_full_rank

from ._common import (
    DEFAULT_ARMS,
    Arms,
    arm_indicator,
    design,
    diff_row,
    frame,
    merge_adsl,
    not_estimable_row,
    ratio_row,
    row,
)
from .cox import CoxResult, cox
from .estimability import check_events_by_arm
from .negbin import nb2_cluster_robust_cov, nb2_fit


def per_participant(adre: pd.DataFrame, columns: Sequence[str], id_col: str = "USUBJID"):
    """One row per participant of the per-participant ADRE columns (checked constant)."""
    sub = adre[[id_col, *columns]]
    first = sub.drop_duplicates(id_col)
    if len(sub.drop_duplicates()) != len(first):
        raise ValueError(f"ADRE columns {list(columns)} vary within a participant")
    return first.reset_index(drop=True)


@dataclass(frozen=True)
class NegBinResult:
    """NB2 rate ratio of readmissions (treated vs control) with log(days at risk) offset."""

    analysis: str
    outcome: str
    contrast: str
    terms: tuple[str, ...]
    params: np.ndarray
    bse: np.ndarray
    alpha: float
    alpha_se: float
    n: int
    events: int
    n_excluded: int
    converged: bool
    level: float = 0.95
    clustering: str = NONE
    n_clusters: int | None = None

    @property
    def rate_ratio(self) -> float:
        return float(np.exp(self.params[1]))

    def to_frame(self) -> pd.DataFrame:
        ex: dict[str, Any] = {"clustering": self.clustering}
        if self.n_clusters is not None:
            ex["n_clusters"] = self.n_clusters
        if not (self.converged and np.isfinite(self.params[1]) and np.isfinite(self.bse[1])):
            return frame([not_estimable_row(
                self.analysis, self.outcome, self.contrast, "rate_ratio",
                "the negative binomial fit did not converge to finite estimates", self.n,
                self.events, nb_alpha=np.nan, **ex)])
        return frame([ratio_row(self.analysis, self.outcome, self.contrast, "rate_ratio",
                                self.params[1], self.bse[1], self.n, self.events, self.level,
                                nb_alpha=self.alpha, **ex)])


def check_readmissions_by_arm(adre: pd.DataFrame, adsl: pd.DataFrame | None = None, *,
                              arms: Arms = DEFAULT_ARMS, count_col: str = "NREADM",
                              exposure_col: str = "DAYSATRISK", arm_col: str = "ARM",
                              id_col: str = "USUBJID") -> None:
    """Raise :class:`~outcomes.errors.NotEstimable` when an arm has no readmission among
    participants with days at risk: the rate ratio is then 0 or infinite (checked before
    :func:`negative_binomial`)."""
    pp = per_participant(adre, [count_col, exposure_col], id_col)
    pp = merge_adsl(pp, adsl, [arm_col], id_col)
    pp = pp.loc[pp[exposure_col].to_numpy(float) > 0]
    a = arm_indicator(pp[arm_col], arms)
    y = pp[count_col].to_numpy(float)
    check_events_by_arm((int(y[a == 1].sum()), int(y[a == 0].sum())), arms,
                        what="readmissions", estimate="the rate ratio is 0 or infinite")


def negative_binomial(
    adre: pd.DataFrame,
    adsl: pd.DataFrame | None = None,
    *,
    covariates: Sequence[str] = ("SITEID", "DIAGGR"),
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "recurrent_readmission",
    outcome: str = "NREADM",
    level: float = 0.95,
    count_col: str = "NREADM",
    exposure_col: str = "DAYSATRISK",
    arm_col: str = "ARM",
    id_col: str = "USUBJID",
    cluster: str | None = None,
) -> NegBinResult:
    """NB2 regression of the number of readmissions on arm + ``covariates`` with offset
    log(days at risk); β and alpha (Var = mu + alpha mu^2) by maximum likelihood
    (``negbin.nb2_fit``: glm.nb's alternation, then a joint Newton polish with a gradient
    check; SEs from the joint observed information). Participants with no day at risk
    carry no information and are left out (counted in ``n_excluded``).

    Raises NotEstimable (a SingularDesign naming the columns for an aliased design) when
    the rate ratio cannot be estimated: no readmission in an arm or on one side of a
    covariate indicator (no finite maximum), non-convergence.

    With ``cluster`` (ADSL ``CLUSTER``) the SEs are cluster-robust: R
    ``sandwich::vcovCL(glm.nb fit, cluster = )`` (:func:`nb2_cluster_robust_cov`).
    """
    pp = per_participant(adre, [count_col, exposure_col], id_col)
    pp = merge_adsl(pp, adsl, [arm_col, *covariates, *([cluster] if cluster else [])],
                    id_col)
    keep = pp[exposure_col].to_numpy(float) > 0
    d = pp.loc[keep].reset_index(drop=True)
    a = arm_indicator(d[arm_col], arms)
    Z = design(d, covariates)
    X = np.column_stack([np.ones(len(d)), a, Z.to_numpy(float)])
    y = d[count_col].to_numpy(float)
    terms = ("const", arm_col, *Z.columns)
    check_full_rank(X, terms, model="negative binomial model", intercept="const")
    for val, arm in ((1.0, arms.treated), (0.0, arms.control)):
        if not (y[a == val] > 0).any():
            raise NotEstimable(f"no readmission in the {arm} arm: the negative binomial "
                               "rate ratio is not estimable")
    for j, name in enumerate(terms[2:], start=2):  # indicator with no event on one side
        col = X[:, j]
        if np.isin(col, (0.0, 1.0)).all() and min(y[col == 1].sum(), y[col == 0].sum()) == 0:
            side = "with" if y[col == 1].sum() == 0 else "without"
            raise NotEstimable(f"no readmission among participants {side} {name}: the "
                               "negative binomial model has no finite maximum")
    offset = np.log(d[exposure_col].to_numpy(float))
    if cluster:
        check_clusters(d[cluster], a, y, arms=(arms.treated, arms.control),
                       what="the cluster-robust variance of the negative binomial model")
    fit = nb2_fit(X, y, offset)
    bse, clustering, ncl = fit.bse, NONE, None
    if cluster:
        cov = nb2_cluster_robust_cov(fit, X, y, offset, d[cluster])
        bse, clustering = np.sqrt(np.diag(cov)), PEER_WORKER
        ncl = int(d[cluster].nunique())
    return NegBinResult(analysis, outcome, arms.contrast, terms, fit.beta, bse,
                        fit.alpha, fit.alpha_se, int(len(d)), int(y.sum()),
                        int((~keep).sum()), True, level, clustering, ncl)


def rate_ratio(adre: pd.DataFrame, adsl: pd.DataFrame | None = None, *,
               arms: Arms = DEFAULT_ARMS, **kwargs) -> NegBinResult:
    """:func:`negative_binomial` as the pipeline runs it: :func:`check_readmissions_by_arm`
    on the readmission records first, and a ``LinAlgError`` from the fit (a backstop:
    :func:`~outcomes.survival.negbin.nb2_fit` raises :class:`NotEstimable` itself for a
    singular Hessian or non-convergence) turned into :class:`~outcomes.errors.NotEstimable`."""
    check_readmissions_by_arm(adre, adsl, arms=arms)
    try:
        return negative_binomial(adre, adsl, arms=arms, **kwargs)
    except np.linalg.LinAlgError as exc:
        raise NotEstimable(f"negative binomial model: the Hessian is singular in the fit "
                           f"({exc}); no finite estimate") from None


def andersen_gill(
    adre: pd.DataFrame,
    adsl: pd.DataFrame | None = None,
    *,
    covariates: Sequence[str] = ("PRIORADM", "DETINDFL"),
    strata: Sequence[str] | None = ("SITEID",),
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "recurrent_readmission",
    outcome: str = "readmissions (Andersen-Gill)",
    level: float = 0.95,
    arm_col: str = "ARM",
    id_col: str = "USUBJID",
    start_col: str = "TSTART",
    stop_col: str = "TSTOP",
    event_col: str = "EVENT",
    cluster: str | None = None,
) -> CoxResult:
    """Andersen–Gill Cox model on the (TSTART, TSTOP] at-risk intervals, Efron ties,
    stratified by site, with the cluster-robust variance by participant (Lin et al. 2000)
    used for the CI and p-value. ``n`` in the result is the number of intervals and
    ``n_clusters`` the number of participants (``n`` of the rows: participants).

    With ``cluster`` (ADSL ``CLUSTER``) the robust variance is clustered by peer worker
    instead; a peer worker's cluster holds all the intervals of its participants, so it
    also covers the correlation within a participant (usual care: the participant)."""
    extra = [arm_col, *covariates, *(strata or []), *([cluster] if cluster else [])]
    d = merge_adsl(adre[[id_col, start_col, stop_col, event_col]
                        + [c for c in extra if c in adre]], adsl, extra, id_col)
    return cox(d, covariates=covariates, time_col=stop_col, start_col=start_col,
               event_col=event_col, censor_col=None, strata=strata,
               cluster=cluster or id_col, clustering=PEER_WORKER if cluster else NONE,
               participant_col=id_col, arm_col=arm_col, arms=arms, analysis=analysis,
               outcome=outcome, level=level)


@dataclass(frozen=True)
class ClusteredDays:
    """The treated arm's mean and median days and the difference in means under the cluster
    bootstrap (peer-worker caseloads resampled whole); ``reason`` when not estimable."""

    mean_ci: tuple[float, float] = (np.nan, np.nan)
    median_ci: tuple[float, float] = (np.nan, np.nan)
    difference_ci: tuple[float, float] = (np.nan, np.nan)
    difference_se: float = np.nan
    mean_se: float = np.nan
    median_se: float = np.nan
    p_value: float = np.nan
    n_units: int = 0
    reason: str = ""


@dataclass(frozen=True)
class HospitalDaysResult:
    """Days in hospital by arm: mean and median (bootstrap percentile CIs) and the
    difference in means (treated - control) with a bootstrap percentile CI; the p-value
    is the Wald test of the difference with the bootstrap standard error. ``std_error``
    of every row is the bootstrap SE (SD of the replicates). Days are not events: the
    rows' ``events`` is NA and ``readmitted`` (participants readmitted at least once)
    has its own column ``n_readmitted``."""

    analysis: str
    outcome: str
    arms: Arms
    mean: tuple[float, ...]
    median: tuple[float, ...]
    mean_ci: tuple[tuple[float, float], ...]
    median_ci: tuple[tuple[float, float], ...]
    difference: float
    difference_ci: tuple[float, float]
    difference_se: float
    p_value: float
    n: tuple[int, ...]
    readmitted: tuple[int, ...]
    n_boot: int
    level: float = 0.95
    peer_worker: ClusteredDays | None = None
    mean_se: tuple[float, ...] = (np.nan, np.nan)
    median_se: tuple[float, ...] = (np.nan, np.nan)

    def to_frame(self) -> pd.DataFrame:
        """Today's rows (``clustering = none``), then, with the cluster bootstrap, the treated
        arm's and the difference's rows with ``clustering = peer_worker`` (the control arm's
        rows do not depend on the design: its participants are unclustered)."""
        rows = []
        for i, arm in enumerate((self.arms.treated, self.arms.control)):
            rows.append(row(self.analysis, self.outcome, arm, "mean", self.mean[i],
                            *self.mean_ci[i], np.nan, self.n[i], std_error=self.mean_se[i],
                            clustering=NONE, n_readmitted=self.readmitted[i]))
            rows.append(row(self.analysis, self.outcome, arm, "median", self.median[i],
                            *self.median_ci[i], np.nan, self.n[i],
                            std_error=self.median_se[i], clustering=NONE,
                            n_readmitted=self.readmitted[i]))
        rows.append(row(self.analysis, self.outcome, self.arms.contrast, "mean_difference",
                        self.difference, *self.difference_ci, self.p_value, sum(self.n),
                        std_error=self.difference_se, clustering=NONE, n_boot=self.n_boot,
                        n_readmitted=sum(self.readmitted)))
        c = self.peer_worker
        if c is not None:
            ids: list[tuple[str, str, float, tuple[float, float], float, float, int | None]]
            ids = [(self.arms.treated, "mean", self.mean[0], c.mean_ci, c.mean_se, np.nan, 0),
                   (self.arms.treated, "median", self.median[0], c.median_ci, c.median_se,
                    np.nan, 0),
                   (self.arms.contrast, "mean_difference", self.difference, c.difference_ci,
                    c.difference_se, c.p_value, None)]
            for contrast, et, est, ci, se, p, which in ids:
                n, k = ((self.n[which], self.readmitted[which]) if which is not None
                        else (sum(self.n), sum(self.readmitted)))
                extra = {"n_boot": self.n_boot} if which is None else {}
                extra["n_readmitted"] = k
                if c.n_units:  # treated units, plus the control participants for the difference
                    extra["n_clusters"] = c.n_units + (self.n[1] if which is None else 0)
                if c.reason:
                    rows.append(not_estimable_row(self.analysis, self.outcome, contrast, et,
                                                  c.reason, n, clustering=PEER_WORKER,
                                                  **extra))
                else:
                    rows.append(row(self.analysis, self.outcome, contrast, et, est, *ci, p,
                                    n, std_error=se, clustering=PEER_WORKER, **extra))
        return frame(rows)


def bootstrap_mean_median(x: np.ndarray, rng: np.random.Generator, n_boot: int
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and median of each of ``n_boot`` ordinary bootstrap resamples of ``x``
    (Efron & Tibshirani 1993): the draws of ``rng.integers(0, n, size=(n_boot, n))``, made
    in blocks of :func:`~outcomes.clustering.bootstrap.block_rows` replicates so that memory
    stays O(n) instead of n_boot × n. The generator's stream does not depend on how the
    rows are split into calls, and each replicate's mean and median are computed on its own
    row as before, so the results are those of the one-call version bit for bit
    (tests/test_survival_recurrent.py)."""
    n = x.size
    rows = block_rows(n)
    bm, bmed = np.empty(n_boot), np.empty(n_boot)
    for lo in range(0, n_boot, rows):
        hi = min(n_boot, lo + rows)
        bx = x[rng.integers(0, n, size=(hi - lo, n))]
        bm[lo:hi] = bx.mean(axis=1)
        bmed[lo:hi] = np.median(bx, axis=1)
    return bm, bmed


def hospital_days(
    adre: pd.DataFrame,
    adsl: pd.DataFrame | None = None,
    *,
    arms: Arms = DEFAULT_ARMS,
    rng: np.random.Generator,
    n_boot: int = 2000,
    analysis: str = "days_in_hospital",
    outcome: str = "BEDDAYS",
    level: float = 0.95,
    days_col: str = "BEDDAYS",
    count_col: str = "NREADM",
    arm_col: str = "ARM",
    id_col: str = "USUBJID",
    cluster: str | None = None,
) -> HospitalDaysResult:
    """Days in hospital after the index discharge, by arm, with a nonparametric bootstrap
    (participants resampled within arm, draws from the generator ``rng`` passed in) for the
    difference in means. The mean is
    the estimand because bed-days drive service costs; the data are zero-inflated and
    skewed, and the bootstrap makes no distributional assumption (documented in
    docs/survival.md). Days are not events: ``events`` is NA on these rows and the
    participants readmitted at least once are counted in ``n_readmitted``.

    With ``cluster`` (the ADSL column of :func:`outcomes.clustering.cluster_ids`, e.g.
    ``CLUSTER``) it adds the partially nested design's rows (``peer_worker``;
    docs/clustering.md): after today's draws, the same ``rng`` draws a cluster bootstrap of
    the treated arm (each peer worker's caseload resampled whole, never-engagers as units
    of one), combined with today's control-arm replicates (usual-care participants are
    unclustered). Fewer than 2 units in the treated arm, or no such column, makes those
    rows not estimable.
    """
    pp = per_participant(adre, [days_col, count_col], id_col)
    pp = merge_adsl(pp, adsl, [arm_col], id_col)
    a = arm_indicator(pp[arm_col], arms)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    means, medians, mcis, medcis, boots, ns, es = [], [], [], [], [], [], []
    mses, medses = [], []
    for val in (1.0, 0.0):
        x = pp.loc[a == val, days_col].to_numpy(float)
        bm, bmed = bootstrap_mean_median(x, rng, n_boot)
        means.append(float(x.mean()))
        medians.append(float(np.median(x)))
        mcis.append(tuple(np.percentile(bm, q)))
        medcis.append(tuple(np.percentile(bmed, q)))
        mses.append(float(bm.std(ddof=1)))
        medses.append(float(bmed.std(ddof=1)))
        boots.append(bm)
        ns.append(int(x.size))
        es.append(int((pp.loc[a == val, count_col].to_numpy() > 0).sum()))
    bd = boots[0] - boots[1]
    diff = means[0] - means[1]
    se = float(bd.std(ddof=1))
    p = diff_row("", "", "", "", diff, se, 0, 0, level)["p_value"]
    nested = (_clustered_days(pp, adsl, a, days_col, cluster, boots[1], diff, rng, n_boot,
                              q, level, id_col) if cluster else None)
    return HospitalDaysResult(analysis, outcome, arms, tuple(means), tuple(medians),
                              tuple(mcis), tuple(medcis), diff, tuple(np.percentile(bd, q)),
                              se, p, tuple(ns), tuple(es), n_boot, level, nested,
                              tuple(mses), tuple(medses))


def _clustered_days(pp: pd.DataFrame, adsl: pd.DataFrame | None, a: np.ndarray, days_col: str,
                    cluster: str, control_means: np.ndarray, diff: float,
                    rng: np.random.Generator, n_boot: int, q: list[float], level: float,
                    id_col: str) -> ClusteredDays:
    """The cluster bootstrap of :func:`hospital_days` (its ``cluster=`` part)."""
    if adsl is None or cluster not in adsl.columns:
        return ClusteredDays(reason=f"no cluster column {cluster} in ADSL (peer workers)")
    tr = merge_adsl(pp.loc[a == 1.0, [id_col, days_col]], adsl, [cluster], id_col)
    x = tr[days_col].to_numpy(float)
    units, g = cluster_codes(tr[cluster])
    means, medians = [np.empty(0)], [np.empty(0)]
    try:  # block by block: the counts of all replicates at once are n_boot × n
        for w in cluster_bootstrap_counts(rng, units, n_boot, min_units=2):
            means.append(resample_means(x, w))
            medians.append(resample_medians(x, w))
    except NotEstimable as exc:  # raised before any draw (too few units)
        return ClusteredDays(reason=exc.reason, n_units=g)
    bm, bmed = np.concatenate(means), np.concatenate(medians)
    bd = bm - control_means
    se = float(bd.std(ddof=1))
    p = diff_row("", "", "", "", diff, se, 0, 0, level)["p_value"]
    return ClusteredDays(tuple(np.percentile(bm, q)), tuple(np.percentile(bmed, q)),
                         tuple(np.percentile(bd, q)), se, float(bm.std(ddof=1)),
                         float(bmed.std(ddof=1)), p, g)
