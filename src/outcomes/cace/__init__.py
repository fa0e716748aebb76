"""Engagement with peer support (docs/engagement.md: receipt, engagement by arm, the
biased per-protocol and as-treated comparisons) and complier average causal effects and
dose–response by instrumental variables (docs/cace.md).

Randomisation is the instrument for the receipt of peer support (``fit_cace``) or for the
number of contacts (``fit_dose_response``, with arm × baseline-covariate interactions as
further instruments); the engine is two-stage least squares with HC1 or peer-worker
cluster-robust (CR1) variances and first-stage diagnostics (:mod:`outcomes.cace.iv`).
``cace_model``/``dose_model``/``iv_model`` give the fit up to its variance
(:class:`IVModel`), whose ``fit(clusters)`` makes each design's fit from the same numbers.
"""

from .dose import dose_instruments, dose_model, fit_dose_response
from .iv import (
    WEAK_F,
    Clusters,
    FirstStage,
    IVFit,
    IVModel,
    Overidentification,
    cace_model,
    fit_cace,
    iv_model,
    two_stage_least_squares,
)

__all__ = [
    "WEAK_F",
    "Clusters",
    "FirstStage",
    "IVFit",
    "IVModel",
    "Overidentification",
    "cace_model",
    "dose_instruments",
    "dose_model",
    "fit_cace",
    "fit_dose_response",
    "iv_model",
    "two_stage_least_squares",
]
