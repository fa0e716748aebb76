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

from .data import Roles, count_missing
from .landmark import EXCLUDED

__all__ = ["AnalysisSample", "SAMPLE_COLUMNS", "common_sample", "landmark_exclusions"]

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
