"""One analysis sample for every mediator set of an outcome (docs/change-model.md).

The proportions mediated of the rows of one outcome are compared across mediator sets, so
every set is analysed on the same participants: the randomised participants, less those
not in the landmark risk set (readmission outcomes, :mod:`outcomes.mediation.landmark`),
less those missing a model variable of *any* mediator set of the outcome (the union of all
mediators, their baseline values, the covariates and the outcome). With the plan's
multiple imputation the completed data sets have no missing values but those left missing
on purpose (a visit not due: after death or the data cut), the same in every data set, so
the same rule gives the same participants in every imputation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from outcomes.errors import NotEstimable
from outcomes.imputation.gaps import NOT_IMPUTED, decode, not_imputed_reason
from outcomes.imputation.run import map_sets

from .data import Roles, count_missing
from .landmark import EXCLUDED

__all__ = ["AnalysisSample", "SAMPLE_COLUMNS", "common_sample", "exclusions_text", "landmark_exclusions",
           "landmark_risk_set", "shared_sample", "union_roles"]

#: Table columns of :meth:`AnalysisSample.columns` (n = n_randomised − n_before_landmark −
#: n_incomplete; ``landmark_exclusions`` the first count by reason, "" without a landmark).
SAMPLE_COLUMNS = ("n_randomised", "n_before_landmark", "n_incomplete", "landmark_exclusions")


@dataclass(frozen=True)
class AnalysisSample:
    """Who is analysed: ``n_randomised`` = ``n`` + excluded before the landmark (by
    reason) + ``n_incomplete`` (missing a variable of some mediator set of the outcome)."""

    n_randomised: int
    before_landmark: Mapping[str, int] = field(default_factory=dict)
    n_incomplete: int = 0
    incomplete_by_reason: Mapping[str, int] = field(default_factory=dict)
    n_censored: int = 0  # in the sample, followed for less than the horizon (IPCW weight 0)

    @property
    def n_before_landmark(self) -> int:
        return int(sum(self.before_landmark.values()))

    @property
    def n(self) -> int:
        return self.n_randomised - self.n_before_landmark - self.n_incomplete

    def columns(self) -> dict[str, int | str]:
        return {"n_randomised": self.n_randomised, "n_before_landmark": self.n_before_landmark,
                "n_incomplete": self.n_incomplete,
                "landmark_exclusions": exclusions_text(self.before_landmark)}

    def report(self) -> dict[str, object]:
        return {"n_randomised": self.n_randomised, "n_analysed": self.n,
                "before_landmark": dict(self.before_landmark),
                "n_incomplete": self.n_incomplete,
                "incomplete_by_reason": dict(self.incomplete_by_reason),
                "n_censored_before_horizon": self.n_censored,
                "rule": "the same participants for every mediator set of the outcome: "
                        "complete on every mediator of the plan, its baseline value, the "
                        "covariates and the outcome"}


def exclusions_text(before_landmark: Mapping[str, int]) -> str:
    """``readmitted before the landmark: 12; died before the landmark: 1`` ("" if none)."""
    return "; ".join(f"{k}: {v}" for k, v in before_landmark.items() if v)


def landmark_exclusions(data: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
    """The landmark risk set (``LMEXCL`` empty) and the counts excluded by reason."""
    why = data["LMEXCL"].fillna("").astype(str).to_numpy()
    return why == "", {r: int((why == r).sum()) for r in EXCLUDED if (why == r).any()}


def union_roles(roles: Roles, every: Sequence[str], data: pd.DataFrame) -> Roles:
    """``roles`` with the mediators (``<PARAMCD>_M``) of every set of the plan and their
    baseline values (those in ``data``)."""
    meds = tuple(f"{m}_M" for m in every if f"{m}_M" in data.columns)
    meds = tuple(dict.fromkeys((*roles.mediators, *meds)))
    mcov = {m: (f"{m[:-2]}_BL",) for m in meds if f"{m[:-2]}_BL" in data.columns}
    return Roles(roles.exposure, meds, roles.outcome_vars, roles.covariates, mcov)


def common_sample(data: pd.DataFrame, roles: Roles, n_randomised: int,
                  before_landmark: Mapping[str, int], censored: str | None = None
                  ) -> tuple[np.ndarray, AnalysisSample]:
    """The mask of ``data`` (already the landmark risk set when there is one) complete on
    the union ``roles`` (:func:`union_roles`) and the :class:`AnalysisSample`."""
    report, complete = count_missing(data, roles)
    n_cens = 0
    if censored is not None:
        n_cens = int((pd.to_numeric(data.loc[complete, censored], errors="coerce") == 1).sum())
    return complete, AnalysisSample(n_randomised, dict(before_landmark), report.n_excluded,
                                    dict(report.by_reason), n_cens)


def landmark_risk_set(data: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The participants of ``data`` in the landmark risk set, and the others counted by
    reason. ``READM12`` of those censored before the horizon is set to 0: the outcome
    model ignores it (IPCW weight 0), and they are not missing."""
    keep, before = landmark_exclusions(data)
    d = data.loc[keep].reset_index(drop=True)
    cens = pd.to_numeric(d["READMCNS"], errors="coerce").to_numpy() == 1
    return d.assign(READM12=np.where(cens, 0.0, d["READM12"].to_numpy(float))), before


def shared_sample(data: pd.DataFrame, completed: Sequence[pd.DataFrame] | None, roles: Roles,
                  n_randomised: int, before_landmark: Mapping[str, int],
                  censored: str | None = None
                  ) -> tuple[pd.DataFrame, Sequence[pd.DataFrame] | None, AnalysisSample]:
    """``data`` (and the ``completed`` data sets under MI, ``data`` then being the first)
    restricted to :func:`common_sample` of the union ``roles``, and the sample.

    Under MI a value of the union that is due but could not be imputed raises
    :class:`NotEstimable` (dropping its participants would be complete cases, not MI), as
    do completed data sets that leave different participants incomplete."""
    if completed is not None and NOT_IMPUTED in data.columns:
        cols = roles.all_columns()
        lost = not_imputed_reason(data, decode(data[NOT_IMPUTED], cols), cols)
        if lost:
            raise NotEstimable(lost)
    keep, sample = common_sample(data, roles, n_randomised, before_landmark, censored)
    if completed is None:
        return data.loc[keep].reset_index(drop=True), None, sample
    if any(not np.array_equal(count_missing(d, roles)[1], keep) for d in completed):
        raise NotEstimable("the completed data sets leave different participants with "
                           "missing values")
    completed = map_sets(completed, lambda d: d.loc[keep].reset_index(drop=True))
    return completed[0], completed, sample
