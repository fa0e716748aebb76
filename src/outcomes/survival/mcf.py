"""Mean cumulative function of recurrent readmissions by arm (Nelson–Aalen estimator).

The MCF at time t is the expected number of readmissions per participant by t. From the
counting-process rows of ADRE (one row per interval at risk, ``TSTART < t <= TSTOP``,
``EVENT`` = 1 when the interval ends in a readmission; days in hospital are gaps), the
estimate is the sum over event times t_j <= t of d_j / Y(t_j): events at t_j over the
intervals at risk at t_j. Its standard error is the robust (Lawless–Nadeau) one, which
does not assume Poisson events: the sum over participants of their squared cumulative
influence; R ``survival::survfit(Surv(tstart, tstop, event) ~ arm, id = id)`` gives the
same ``cumhaz`` and ``std.chaz`` (tests/test_survival_mcf.py). The 95% CI is on the log
scale (as R's default ``conf.type = "log"``).

References
----------
- Nelson W. Recurrent Events Data Analysis for Product Repairs, Disease Recurrences, and
  Other Applications. SIAM 2003.
- Lawless JF, Nadeau C. Some simple robust methods for the analysis of recurrent events.
  Technometrics 1995;37:158–168.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._common import DEFAULT_ARMS, Arms, z_crit

COLUMNS = ("arm", "time", "at_risk", "events", "mcf", "std_err", "ci_low", "ci_high")


@dataclass(frozen=True)
class MeanCumulativeFunction:
    """The MCF of each arm at its event times (``curves``: arm -> frame of :data:`COLUMNS`
    without ``arm``), and the number of participants and readmissions of each arm."""

    arms: tuple[str, ...]
    curves: dict[str, pd.DataFrame]
    n: dict[str, int]
    events: dict[str, int]
    level: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """One row per arm and event time (columns :data:`COLUMNS`)."""
        parts = [c.assign(arm=a) for a, c in self.curves.items()]
        if not parts:
            return pd.DataFrame(columns=list(COLUMNS))
        return pd.concat(parts, ignore_index=True)[list(COLUMNS)]

    def at(self, arm: str, times) -> np.ndarray:
        """The MCF of ``arm`` at ``times`` (a step function, 0 before the first event)."""
        c = self.curves[arm]
        k = np.searchsorted(c["time"].to_numpy(float), np.asarray(times, float), side="right")
        return np.r_[0.0, c["mcf"].to_numpy(float)][k]


def mcf_curve(ids, start, stop, event, level: float = 0.95) -> pd.DataFrame:
    """The Nelson–Aalen MCF of one group of counting-process intervals, at each event time,
    with its robust standard error and log-scale CI."""
    start, stop = np.asarray(start, float), np.asarray(stop, float)
    event = np.asarray(event, float) > 0
    _, subject = np.unique(np.asarray(ids), return_inverse=True)
    times = np.unique(stop[event])
    cols = {k: np.empty(0) for k in COLUMNS[1:]}
    if times.size == 0:
        return pd.DataFrame(cols)
    at_risk = (np.searchsorted(np.sort(start), times, side="left")
               - np.searchsorted(np.sort(stop), times, side="left")).astype(float)
    d = np.bincount(np.searchsorted(times, stop[event]), minlength=times.size).astype(float)
    hazard = d / at_risk
    mcf = np.cumsum(hazard)
    # robust variance: U_i(t) = sum_{t_j <= t} (dN_i(t_j) - Y_i(t_j) h_j) / Y(t_j)
    influence = np.zeros(subject.max() + 1)
    var = np.empty(times.size)
    order = np.argsort(start, kind="stable")
    s_sorted, e_sorted = start[order], stop[order]
    ev_rows = np.flatnonzero(event)
    ev_time = np.searchsorted(times, stop[ev_rows])
    for j, t in enumerate(times):
        live = order[: np.searchsorted(s_sorted, t, side="left")]
        live = live[e_sorted[: live.size] >= t] if live.size else live
        np.subtract.at(influence, subject[live], hazard[j] / at_risk[j])
        hit = ev_rows[ev_time == j]
        np.add.at(influence, subject[hit], 1.0 / at_risk[j])
        var[j] = float(influence @ influence)
    se = np.sqrt(var)
    z = z_crit(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.exp(z * se / mcf)
    return pd.DataFrame({"time": times, "at_risk": at_risk, "events": d, "mcf": mcf,
                         "std_err": se, "ci_low": mcf / spread, "ci_high": mcf * spread})


def mean_cumulative_function(adre: pd.DataFrame, *, arms: Arms = DEFAULT_ARMS,
                             level: float = 0.95, id_col: str = "USUBJID",
                             arm_col: str = "ARM", start_col: str = "TSTART",
                             stop_col: str = "TSTOP", event_col: str = "EVENT"
                             ) -> MeanCumulativeFunction:
    """The MCF of readmissions in each arm from ADRE's counting-process rows."""
    curves, n, events = {}, {}, {}
    for arm in (arms.treated, arms.control):
        g = adre.loc[adre[arm_col] == arm]
        curves[arm] = mcf_curve(g[id_col], g[start_col], g[stop_col], g[event_col], level)
        n[arm] = int(g[id_col].nunique())
        events[arm] = int((g[event_col].to_numpy(float) > 0).sum())
    return MeanCumulativeFunction((arms.treated, arms.control), curves, n, events, level)
