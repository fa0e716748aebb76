"""Kaplan–Meier survival (the event-free probability) at landmark times, per arm, and its
difference between the arms: what a reader can still compare when the median is not
reached (docs/survival.md).

Each arm's S(t) is the Kaplan–Meier estimate at day t (right-continuous: events on day t
count), with Greenwood's standard error and the log(−log) interval of the KM rows (R
``summary(survfit(..., conf.type = "log-log"), times = t)``). The difference treated −
control has the Wald CI of the two independent Greenwood variances. Clustered by peer
worker, the treated arm's variance is the grouped infinitesimal jackknife
(:func:`outcomes.clustering.nonparametric.km_influence`; R ``survfit(..., cluster = )``).

References
----------
- Kaplan EL, Meier P. JASA 1958; Greenwood M. 1926 (variance).
- Kalbfleisch JD, Prentice RL. The Statistical Analysis of Failure Time Data, 2nd ed., 2002
  (log(−log) intervals).
- Klein JP, Logan B, Harhoff M, Andersen PK. Analyzing survival curves at a fixed point in
  time. Stat Med 2007 (the difference of KM estimates at a fixed time, Wald CI).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from outcomes.clustering import NONE, PEER_WORKER
from outcomes.clustering.nonparametric import grouped_variance, km_influence
from outcomes.clustering.robust import check_clusters
from outcomes.errors import NotEstimable

from ._common import (
    DEFAULT_ARMS,
    Arms,
    arm_indicator,
    diff_row,
    frame,
    merge_adsl,
    not_estimable_row,
    param,
    row,
)
from .km import km_table, loglog_ci, loglog_se, std_err_at, survival_at


def landmark_times(landmarks: Sequence[float], horizon: float) -> tuple[float, ...]:
    """The plan's landmarks up to the follow-up horizon and the horizon itself, sorted,
    each once (a landmark after the horizon has no follow-up by design)."""
    return tuple(sorted({float(t) for t in (*landmarks, horizon) if t <= horizon}))


def landmark_outcome(outcome: str, time: float) -> str:
    """The ``outcome`` label of a landmark row, e.g. ``READMIT at day 90``."""
    return f"{outcome} at day {time:g}"


@dataclass(frozen=True)
class ArmLandmarks:
    """One arm at each landmark: S(t), its standard error (S scale; Greenwood, or the
    grouped IJ when clustered), events by day t, and why S(t) is not estimable ("" if it
    is)."""

    arm: str
    n: int
    survival: tuple[float, ...]
    std_err: tuple[float, ...]
    events: tuple[int, ...]
    reasons: tuple[str, ...]
    n_clusters: int | None = None


@dataclass(frozen=True)
class LandmarkSurvivalResult:
    """Kaplan–Meier survival per arm at each landmark and the difference treated − control.

    Rows per landmark t: ``survival`` of the treated then the control arm (CI log(−log),
    ``std_error`` on that scale), then ``survival_difference`` (Wald CI, ``std_error`` on
    the probability scale); ``outcome`` = ``<PARAMCD> at day <t>``, ``horizon`` = t,
    ``events`` = events by day t. Clustered by peer worker (``clustering = peer_worker``)
    the treated arm's row and the difference only: the control arm's participants are
    unclustered, its row is written once by the naive result.
    """

    analysis: str
    outcome: str
    arms: Arms
    times: tuple[float, ...]
    curves: tuple[ArmLandmarks, ...]
    level: float = 0.95
    clustering: str = NONE
    cluster_reasons: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        rows = []
        nested = self.clustering == PEER_WORKER
        tr, ct = self.curves
        for k, t in enumerate(self.times):
            label = landmark_outcome(self.outcome, t)
            why = self.cluster_reasons[k] if nested else ""
            for c in (tr,) if nested else (tr, ct):
                ex: dict[str, Any] = dict(horizon=t, clustering=self.clustering)
                if nested:
                    ex["n_clusters"] = c.n_clusters
                reason = c.reasons[k] or why
                if reason:
                    rows.append(not_estimable_row(self.analysis, label, c.arm, "survival",
                                                  reason, c.n, c.events[k], **ex))
                    continue
                s, se = c.survival[k], c.std_err[k]
                lo, hi = loglog_ci([s], [se], self.level)
                rows.append(row(self.analysis, label, c.arm, "survival", s, lo[0], hi[0],
                                np.nan, c.n, c.events[k],
                                std_error=float(loglog_se([s], [se])[0]), **ex))
            ex = dict(horizon=t, clustering=self.clustering)
            if nested:
                assert tr.n_clusters is not None and ct.n_clusters is not None
                ex["n_clusters"] = tr.n_clusters + ct.n_clusters
            n, ev = tr.n + ct.n, tr.events[k] + ct.events[k]
            se = float(np.hypot(tr.std_err[k], ct.std_err[k]))
            reason = tr.reasons[k] or ct.reasons[k] or why
            if not reason and not se > 0:
                reason = (f"no {self.outcome} event by day {t:g} in either arm (or all had "
                          "one): the difference has no variance")
            if reason:
                rows.append(not_estimable_row(self.analysis, label, self.arms.contrast,
                                              "survival_difference", reason, n, ev, **ex))
            else:
                rows.append(diff_row(self.analysis, label, self.arms.contrast,
                                     "survival_difference", tr.survival[k] - ct.survival[k],
                                     se, n, ev, self.level, **ex))
        return frame(rows)


def _arm(arm: str, time: np.ndarray, event: np.ndarray, times: tuple[float, ...],
         clusters: np.ndarray | None) -> ArmLandmarks:
    if time.size == 0:
        raise NotEstimable(f"the {arm} arm has no participant")
    tab = km_table(time, event)
    s = survival_at(tab, times)
    last = float(time.max())
    reasons = tuple("" if t <= last else
                    f"day {t:g} is beyond the last follow-up of the {arm} arm (day {last:g}): "
                    "the Kaplan-Meier curve is not defined there" for t in times)
    if clusters is None or pd.unique(clusters).size < 2:  # < 2: not estimable clustered
        se = std_err_at(tab, times)
    else:
        se = np.array([np.sqrt(grouped_variance(km_influence(time, event, t), clusters))
                       for t in times])
    by_t = [int(event[time <= t].sum()) for t in times]
    return ArmLandmarks(arm, int(time.size), tuple(map(float, s)), tuple(map(float, se)),
                        tuple(by_t), reasons,
                        None if clusters is None else int(pd.unique(clusters).size))


def survival_at_landmarks(
    adtte: pd.DataFrame,
    paramcd: str = "READMIT",
    *,
    times: Sequence[float],
    adsl: pd.DataFrame | None = None,
    arms: Arms = DEFAULT_ARMS,
    analysis: str = "community_tenure",
    level: float = 0.95,
    time_col: str = "AVAL",
    censor_col: str = "CNSR",
    arm_col: str = "ARM",
    cluster: str | None = None,
) -> LandmarkSurvivalResult:
    """Kaplan–Meier survival of one ADTTE parameter at each of ``times`` (days) per arm, and
    the difference (:class:`LandmarkSurvivalResult`; event = ``CNSR == 0``).

    A landmark beyond an arm's last follow-up time is not estimable (the curve is not
    defined there; R's ``summary(..., times = )`` drops it). With ``cluster`` (ADSL
    ``CLUSTER``) the variances are the grouped IJ by peer worker; a landmark at which the
    clusters cannot carry it (fewer than 2 clusters in an arm, all events by then in one
    cluster: :func:`~outcomes.clustering.robust.check_clusters`) is not estimable.
    """
    if not len(times):
        raise ValueError("no landmark time")
    times = tuple(sorted({float(t) for t in times}))
    d = merge_adsl(param(adtte, paramcd), adsl, [arm_col, *([cluster] if cluster else [])])
    a01 = arm_indicator(d[arm_col], arms)
    t_all = d[time_col].to_numpy(float)
    ev_all = d[censor_col].to_numpy() == 0
    why = []
    if cluster:
        for t in times:
            try:
                check_clusters(d[cluster], a01, ev_all & (t_all <= t),
                               arms=(arms.treated, arms.control),
                               what=f"the survival at day {t:g} clustered by peer worker")
                why.append("")
            except NotEstimable as exc:
                why.append(exc.reason)
    curves = []
    for val, a in ((1.0, arms.treated), (0.0, arms.control)):
        m = a01 == val
        cl = d.loc[m, cluster].astype(str).to_numpy() if cluster else None
        curves.append(_arm(a, t_all[m], ev_all[m], times, cl))
    return LandmarkSurvivalResult(analysis, paramcd, arms, times, tuple(curves), level,
                                  PEER_WORKER if cluster else NONE, tuple(why))
