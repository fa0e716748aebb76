"""Readmission outcomes of the change model from the mediator visit on: a landmark analysis.

The mediators are measured at the mediator visit (month 4), so the readmission outcomes
start there (van Houwelingen 2007): the landmark of a participant is the day of their
questionnaire at that visit after the index discharge (ADQS ``ADT`` − ADTTE ``STARTDT``),
or the visit's nominal day (:data:`outcomes.imputation.frame.VISIT_DAYS`, day 122 for
month 4) when they have none. The landmark risk set is everyone still followed, alive and
not readmitted on the landmark day; the others are counted under :data:`EXCLUDED` and not
analysed (docs/change-model.md, section "Temporal order").

From the landmark, with ``s`` = days since the landmark and ``h`` = the follow-up
horizon (``followup_days`` after the index discharge) minus the landmark:

- ``readmit_time``: ``TTE_READMIT`` = s at the first readmission (``EVT_READMIT`` = 1) or
  at censoring (death, withdrawal, data cut, end of follow-up; at h at the latest);
- ``readmit_12m``: ``READM12`` = 1 when readmitted within h days of the landmark, 0 when
  not (death first counts as not readmitted: the while-alive strategy of the primary
  analysis), missing when censored earlier for another reason (``READMCNS`` = 1); the
  analysis weights the participants whose status is known by the inverse probability of
  remaining uncensored, G(``READMU``−) by arm (:class:`CensoringWeights`), as the primary
  analysis does (:func:`outcomes.survival.binary.strategy_outcome`, docs/survival.md).

References
----------
- van Houwelingen HC. Dynamic prediction by landmarking in event history analysis. Scand
  J Stat 2007;34:70-85.
- Robins JM, Finkelstein DM. Biometrics 2000 (IPCW); Satten GA, Datta S. The
  Kaplan-Meier estimator as an inverse-probability-of-censoring weighted average. Am Stat
  2001 (the identity 1 − KM = IPCW risk that the tests check).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["EXCLUDED", "CensoringWeights", "landmark_outcomes"]

#: Why a participant is not in the landmark risk set, in the order the rules apply.
EXCLUDED = (
    "readmitted before the landmark",
    "died before the landmark",
    "censored before the landmark",
    "no readmission record",
)
#: Columns :func:`landmark_outcomes` adds to the analysis data set.
COLUMNS = ("LMDAY", "LMEXCL", "TTE_READMIT", "EVT_READMIT", "READM12", "READMU", "READMCNS")


def landmark_days(adqs: pd.DataFrame, tte: pd.DataFrame, visit: str, planned: float) -> pd.Series:
    """Landmark day of each participant of ``tte`` (index USUBJID): days from ``STARTDT``
    to the earliest questionnaire date (``ADT``) at ``visit``, ``planned`` without one."""
    q = adqs.loc[adqs["AVISIT"] == visit]
    if "STARTDT" not in tte.columns:  # no dates: the nominal day for everyone
        return pd.Series(float(planned), index=tte["USUBJID"].to_numpy())
    if "ADT" in q.columns:
        q = q.loc[q["ADT"].notna(), ["USUBJID", "ADT"]]
        first = pd.to_datetime(q.groupby("USUBJID")["ADT"].min())
    else:
        first = pd.Series(dtype="datetime64[ns]")
    start = pd.to_datetime(tte.set_index("USUBJID")["STARTDT"])
    days = (first.reindex(start.index) - start).dt.days.astype(float)
    return days.fillna(float(planned))


def landmark_outcomes(ids: pd.Series, adqs: pd.DataFrame, adtte: pd.DataFrame, *, visit: str,
                      planned: float, horizon: float) -> pd.DataFrame:
    """The :data:`COLUMNS` of each participant in ``ids`` (one row each, same order) from
    the ADTTE ``READMIT`` records and the questionnaire dates of ADQS (module docstring).

    ``LMEXCL`` is "" in the risk set, else one of :data:`EXCLUDED` (readmission, death or
    censoring on the landmark day counts as before it: the order within a day is not
    known); the outcome columns of the excluded are missing.
    """
    cols = [c for c in ("USUBJID", "STARTDT", "AVAL", "CNSR", "CMPEVFL") if c in adtte.columns]
    tte = adtte.loc[adtte["PARAMCD"] == "READMIT", cols].drop_duplicates("USUBJID")
    lm = landmark_days(adqs, tte, visit, planned)
    d = tte.set_index("USUBJID").reindex(ids.to_numpy())
    lmday = lm.reindex(ids.to_numpy()).fillna(float(planned)).to_numpy(float)
    has = d["AVAL"].notna().to_numpy()
    aval = d["AVAL"].to_numpy(float)
    cnsr = d["CNSR"].to_numpy(float)
    s = aval - lmday
    before = has & (s <= 0)
    death = (d["CMPEVFL"].astype(str).to_numpy() == "Y")
    why = np.select([~has, before & (cnsr == 0), before & death, before],
                    [EXCLUDED[3], EXCLUDED[0], EXCLUDED[1], EXCLUDED[2]], "")
    at_risk = why == ""
    h = horizon - lmday
    from outcomes.survival.binary import outcome_status  # lazy: survival imports scipy.stats

    status = outcome_status(pd.DataFrame({"S": np.where(at_risk, s, np.nan),
                                          "CNSR": np.where(at_risk, cnsr, 1),
                                          "CMPEVFL": d["CMPEVFL"].fillna("").to_numpy()}),
                            h, time_col="S")
    event, lost = status["event"].to_numpy(), status["lost"].to_numpy()
    late = s > h  # follow-up beyond the horizon (not in ADTTE, which ends there): censored at h
    out = pd.DataFrame({
        "LMDAY": lmday,
        "LMEXCL": why,
        "TTE_READMIT": np.where(at_risk, np.minimum(s, h), np.nan),
        "EVT_READMIT": np.where(at_risk, ((cnsr == 0) & ~late).astype(float), np.nan),
        "READM12": np.where(at_risk, np.where(lost, np.nan, event.astype(float)), np.nan),
        "READMU": np.where(at_risk, np.minimum(s, h), np.nan),
        "READMCNS": np.where(at_risk, lost.astype(float), np.nan),
    }, index=ids.index)
    return out


@dataclass(frozen=True)
class CensoringWeights:
    """Inverse probability of censoring weights of a binary outcome at a horizon, for any
    bootstrap resample: G is re-estimated in each (a weighted Kaplan–Meier curve of
    censoring per group, :func:`~outcomes.survival.binary.censoring_survival_before`),
    so the intervals carry the uncertainty of the weights.

    ``time``: follow-up to the outcome or the horizon, whichever first (``READMU``);
    ``censored``: lost before the horizon (outcome unknown; weight 0); ``groups``: integer
    codes of the groups G is estimated in (the arm). Calling it with resample counts
    ``W`` (B x n) returns the outcome model's weights ``W * 1/G(time−)`` (0 for the
    censored).
    """

    time: np.ndarray
    censored: np.ndarray
    groups: np.ndarray

    @classmethod
    def of(cls, time, censored, groups) -> CensoringWeights:
        cens = np.asarray(censored, float)
        if not np.isin(cens, (0.0, 1.0)).all():
            raise ValueError("the censoring flag must be 0/1")
        return cls(np.asarray(time, float), cens.astype(bool),
                   pd.factorize(np.asarray(groups))[0])

    def survival(self, W: np.ndarray) -> np.ndarray:
        """G(time−) of every participant under every row of ``W`` (B x n)."""
        from outcomes.survival.binary import censoring_survival_before  # lazy (scipy.stats)

        G = np.ones(W.shape)
        for g in np.unique(self.groups):
            ii = np.flatnonzero(self.groups == g)
            G[:, ii] = censoring_survival_before(self.time[ii], self.censored[ii], W[:, ii])
        return G

    def __call__(self, W: np.ndarray) -> np.ndarray:
        G = self.survival(W)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.censored | (W == 0), 0.0, W / G)
