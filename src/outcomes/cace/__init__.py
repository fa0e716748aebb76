"""Engagement with peer support (docs/engagement.md: receipt, engagement by arm, the
biased per-protocol and as-treated comparisons) and complier average causal effects and
dose–response by instrumental variables (docs/cace.md).

Randomisation is the instrument for the receipt of peer support (``fit_cace``) or for the
number of contacts (``fit_dose_response``, with arm × baseline-covariate interactions as
further instruments); the engine is two-stage least squares with HC1 or peer-worker
cluster-robust (CR1) variances and first-stage diagnostics (:mod:`outcomes.cace.iv`).
"""

from .dose import dose_instruments, fit_dose_response
from .iv import (
    WEAK_F,
    FirstStage,
    IVFit,
    Overidentification,
    fit_cace,
    two_stage_least_squares,
)

__all__ = [
    "WEAK_F",
    "FirstStage",
    "IVFit",
    "Overidentification",
    "dose_instruments",
    "fit_cace",
    "fit_dose_response",
    "two_stage_least_squares",
]
