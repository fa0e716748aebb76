"""The result of a mediation analysis and its tables (docs/results.md columns, AGReMA items)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from outcomes.tables import ESTIMATE_COLUMNS, ESTIMATED, NOT_ESTIMABLE
from outcomes.tables import STATUS_COLUMNS as TABLE_STATUS_COLUMNS

from .data import MissingReport

__all__ = ["MediationResult", "RESULT_COLUMNS", "STATUS_COLUMNS", "ESTIMATED", "NOT_ESTIMABLE",
           "estimate_types", "not_estimable_rows"]

RESULT_COLUMNS = [*ESTIMATE_COLUMNS, "mediator", "effect", "n_boot", "seed"]
#: Last two columns of every results table: "estimated" or "not estimable", and why.
STATUS_COLUMNS = list(TABLE_STATUS_COLUMNS)


def estimate_types(outcome_type: str, odds_ratio: bool = False) -> tuple[str, ...]:
    """The scales reported for an outcome type (see docs/mediation.md, section 1)."""
    return {"linear": ("mean_difference",),
            "logistic": ("risk_difference",) + (("odds_ratio",) if odds_ratio else ()),
            "weibull": ("risk_difference", "median_difference", "rmst_difference")}[outcome_type]


def natural_effect_names(outcome_type: str, odds_ratio: bool = False) -> dict[str, tuple[str, ...]]:
    """The natural effects reported on each scale of an outcome type (the odds ratio has no
    proportions mediated): ``{estimate_type: effect names}``."""
    from .effects import EFFECTS

    return {et: tuple(EFFECTS[:7] if et == "odds_ratio" else EFFECTS)
            for et in estimate_types(outcome_type, odds_ratio)}


def not_estimable_rows(reason: str, *, outcome_type: str, odds_ratio: bool = False,
                       interventional: bool = False, **ident: Any) -> pd.DataFrame:
    """The rows an analysis would have (every scale x effect; with ``interventional`` the
    interventional effects' rows after them), with NA estimates, CIs and p-values,
    ``status = not estimable`` and ``reason``; ``ident`` fills the identifying columns
    (analysis, outcome, contrast, mediator, n, events, ...)."""
    from . import interventional as ivx

    pairs = [(et, name) for et, names in natural_effect_names(outcome_type, odds_ratio).items()
             for name in names]
    if interventional:
        pairs += [(ivx.estimate_type(outcome_type), name) for name in ivx.EFFECTS]
    rows = []
    for et, name in pairs:
        rows.append({**ident, "estimate_type": et, "effect": name, "estimate": np.nan,
                     "std_error": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan,
                     "outcome_type": outcome_type})
    out = pd.DataFrame(rows)
    first = [c for c in RESULT_COLUMNS if c in out.columns]
    out = out[first + [c for c in out.columns if c not in first]]
    return out.assign(status=NOT_ESTIMABLE, reason=reason)

ASSUMPTIONS = [
    "Sequential ignorability (Imai, Keele & Tingley 2010): given the covariates, (1) no "
    "unmeasured exposure-outcome or exposure-mediator confounding - guaranteed for a "
    "randomised arm - and (2) no unmeasured mediator-outcome confounding given exposure "
    "and covariates - NOT guaranteed by randomisation; see the sensitivity analysis.",
    "No exposure-induced mediator-outcome confounding: no variable affected by the "
    "exposure confounds the mediator-outcome relation (cross-world independence of the "
    "potential mediators and outcomes).",
    "Correct model specification: each mediator linear in exposure and covariates with "
    "normal residuals of constant variance; the outcome model as stated, linear in the "
    "mediators (with exposure x mediator products when interaction=True).",
    "Joint effect of a set of mediators: sequential ignorability holds for the vector of "
    "mediators jointly; no causal order among the mediators of the set is assumed; their "
    "joint distribution is multivariate normal with the residual covariance of the "
    "mediator models (seemingly-unrelated regressions with common regressors). For a "
    "linear outcome the joint ACME is sum_j a_j b_j (a_j: exposure coefficient of "
    "mediator j, b_j: its coefficient in the outcome model containing all mediators).",
    "Each mediator analysed alone (outcome model with that mediator only) assumes that the "
    "other mediators are not mediator-outcome confounders of it (their residuals are "
    "uncorrelated with its residual); the joint effect of a set does not need this.",
    "Complete cases: participants missing any model variable are excluded (counted by "
    "reason in the result); valid if missingness does not depend on the missing values "
    "given the model variables.",
]

SURVIVAL_ASSUMPTION = (
    "Time-to-event outcome: Weibull accelerated failure time model, non-informative "
    "censoring; event times of 0 days are interval-censored in (0, 1] day; censoring at day "
    "0 contributes S(0) = 1 (nothing) to the likelihood; nobody is dropped."
)


@dataclass
class MediationResult:
    """Everything a report needs (AGReMA, Lee et al. JAMA 2021) plus the bootstrap draws.

    ``estimates`` has one row per mediator (set) x estimate type x effect. ``replicates``
    maps (mediator label, estimate_type) to the (n_boot, n_effects) bootstrap draws in the
    order of ``effect_names[estimate_type]``. ``boot_params`` maps each mediator label to the
    bootstrap draws of every model parameter (for checks and custom summaries).
    ``point_effects`` maps (label, estimate_type) to the full-sample effects even where the
    table says not estimable; ``failed_by`` counts failed replicates per label and cause;
    ``sensitivity_point`` / ``sensitivity_draws`` hold (b2, s1, s2, rho_tilde) of the
    sensitivity analysis (full sample / replicates, NaN rows failed). Pooling over
    imputations (:mod:`outcomes.mediation.mi`) reads them.
    """

    analysis: str
    outcome: str
    outcome_type: str
    exposure: str
    contrast: str
    mediators: tuple[str, ...]
    mediator_sets: dict[str, tuple[str, ...]]
    estimates: pd.DataFrame
    replicates: dict[tuple[str, str], np.ndarray]
    effect_names: dict[str, tuple[str, ...]]
    potential_outcomes: dict[tuple[str, str], np.ndarray]
    params: dict[str, dict[str, Any]]
    boot_params: dict[str, dict[str, np.ndarray]]
    sensitivity: pd.DataFrame
    sensitivity_summary: pd.DataFrame
    missing: MissingReport
    n: int
    events: int | None
    n_boot: int
    n_boot_failed: dict[str, int]
    seed: int | None
    rng_state: dict
    ci_level: float
    covariates: tuple[str, ...]
    mediator_covariates: dict[str, tuple[str, ...]]
    categorical_levels: dict[str, list]
    interaction: bool
    horizon: float | None
    models: dict[str, dict[str, str]]
    quadrature_nodes: dict[str, dict[str, int]]
    software: dict[str, str]
    methods: dict[str, str]
    assumptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    point_effects: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    failed_by: dict[str, dict[str, int]] = field(default_factory=dict)
    sensitivity_point: dict[str, np.ndarray] = field(default_factory=dict)
    sensitivity_draws: dict[str, np.ndarray] = field(default_factory=dict)
    #: E-values (:mod:`.evalue`): risk ratios of the effects (full sample / replicates) and
    #: the outcome's SD (linear) or risk (logistic) in the analysed sample
    ratio_point: dict[str, np.ndarray] = field(default_factory=dict)
    ratio_draws: dict[str, np.ndarray] = field(default_factory=dict)
    outcome_sd: float | None = None
    outcome_risk: float | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per effect: the docs/results.md columns first, then extra detail columns."""
        return self.estimates.copy()

    def sensitivity_frame(self) -> pd.DataFrame:
        """ACME as a function of rho (IKY 2010) per eligible mediator, with bootstrap CIs."""
        return self.sensitivity.copy()

    def missing_frame(self) -> pd.DataFrame:
        return self.missing.to_frame()

    def report(self) -> dict[str, Any]:
        """AGReMA items as a JSON-serialisable dict."""
        return {
            "analysis": self.analysis,
            "exposure": self.exposure,
            "contrast": self.contrast,
            "mediators": list(self.mediators),
            "mediator_sets": {k: list(v) for k, v in self.mediator_sets.items()},
            "outcome": self.outcome,
            "outcome_type": self.outcome_type,
            "horizon_days": self.horizon,
            "estimands": {
                "acme_control": "E[Y(0, M(1)) - Y(0, M(0))] (pure natural indirect effect)",
                "acme_treated": "E[Y(1, M(1)) - Y(1, M(0))] (total natural indirect effect)",
                "ade_control": "E[Y(1, M(0)) - Y(0, M(0))] (pure natural direct effect)",
                "ade_treated": "E[Y(1, M(1)) - Y(0, M(1))] (total natural direct effect)",
                "total": "E[Y(1, M(1)) - Y(0, M(0))]",
                "prop_mediated": "acme_average / total",
            },
            "assumptions": self.assumptions,
            "models": self.models,
            "covariates": list(self.covariates),
            "mediator_covariates": {k: list(v) for k, v in self.mediator_covariates.items()},
            "categorical_levels": {k: [str(x) for x in v]
                                   for k, v in self.categorical_levels.items()},
            "interaction": self.interaction,
            "n": self.n,
            "events": self.events,
            "missing": {
                "n_total": self.missing.n_total,
                "n_used": self.missing.n_used,
                "by_reason": self.missing.by_reason,
                "by_variable": self.missing.by_variable,
                "by_model": self.missing.by_model,
            },
            "inference": {
                "n_boot": self.n_boot,
                "n_boot_failed": self.n_boot_failed,
                "ci_level": self.ci_level,
                "seed": self.seed,
                **self.methods,
            },
            "quadrature_nodes": self.quadrature_nodes,
            "sensitivity": self.sensitivity_summary.to_dict(orient="records"),
            "software": self.software,
            "notes": self.notes,
        }
