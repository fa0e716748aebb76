"""Causal mediation analysis of the trial's change model (docs/mediation.md).

``fit_mediation`` estimates natural indirect (ACME) and direct (ADE) effects of a 0/1
exposure through one or several mediators, from potential outcomes of fitted models
(Imai, Keele & Tingley 2010), with a vectorised percentile bootstrap in which one resample
of participants (or, for the partially nested design, of peer-worker caseloads) feeds every
model. See docs/mediation.md.
"""

from .bootstrap import bootstrap_counts, bootstrap_pvalue
from .data import MediationDataError, MissingReport, Roles, count_missing
from .engine import MissingDataWarning, fit_mediation, fit_mediation_designs
from .result import RESULT_COLUMNS, MediationResult
from .sensitivity import DEFAULT_RHO_GRID, acme_at_rho

__all__ = [
    "DEFAULT_RHO_GRID",
    "RESULT_COLUMNS",
    "MediationDataError",
    "MediationResult",
    "MissingDataWarning",
    "MissingReport",
    "Roles",
    "acme_at_rho",
    "bootstrap_counts",
    "bootstrap_pvalue",
    "count_missing",
    "fit_mediation",
    "fit_mediation_designs",
]
