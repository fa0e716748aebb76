"""Time-to-event analyses of readmission and community tenure (docs/survival.md).

Fit, then results, then renderers: each analysis function takes ADaM-style DataFrames
(ADSL, ADTTE, ADRE; column names are parameters) and returns a small frozen result object
with a tidy ``to_frame()``; :func:`results_table` stacks them into the estimates table
of docs/results.md and
:mod:`outcomes.survival.plots` draws the figures from them. See ``docs/survival.md``.
"""

from ._common import RESULT_COLUMNS, Arms
from .binary import ESTIMANDS, STRATEGIES, STRATEGY_LABELS, BinaryResult, readmission_within
from .competing import (
    CumulativeIncidenceResult,
    aalen_johansen,
    cause_specific_cox,
    cumulative_incidence,
)
from .cox import CoxResult, cox, efron_score_residuals, tenure_cox
from .km import (
    KaplanMeierResult,
    LogRankResult,
    RMSTResult,
    kaplan_meier,
    km_table,
    logrank,
    rmst_difference,
    rmst_km,
)
from .landmarks import LandmarkSurvivalResult, survival_at_landmarks
from .recurrent import (
    HospitalDaysResult,
    NegBinResult,
    andersen_gill,
    hospital_days,
    negative_binomial,
    rate_ratio,
)
from .tables import results_table, write_tsv

__all__ = [
    "ESTIMANDS",
    "RESULT_COLUMNS",
    "STRATEGIES",
    "STRATEGY_LABELS",
    "Arms",
    "BinaryResult",
    "CoxResult",
    "CumulativeIncidenceResult",
    "HospitalDaysResult",
    "KaplanMeierResult",
    "LandmarkSurvivalResult",
    "LogRankResult",
    "NegBinResult",
    "RMSTResult",
    "aalen_johansen",
    "andersen_gill",
    "cause_specific_cox",
    "cox",
    "cumulative_incidence",
    "efron_score_residuals",
    "hospital_days",
    "kaplan_meier",
    "km_table",
    "logrank",
    "negative_binomial",
    "rate_ratio",
    "readmission_within",
    "results_table",
    "rmst_difference",
    "rmst_km",
    "survival_at_landmarks",
    "tenure_cox",
    "write_tsv",
]
