"""Settings of the imputation model (the plan's ``missing_data`` keys, docs/imputation.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from outcomes.errors import ConfigError
from outcomes.plan import AnalysisPlan, PredictorSelection

METHODS = ("pmm", "norm")
#: How the predictors of each incomplete score are chosen (docs/imputation.md).
SELECTIONS = ("all", "quickpred")
#: When δ is added: ``final`` once to the imputed values of the last sweep (the unobserved
#: values are δ away from what MAR predicts), ``post`` after every draw (mice's ``post``).
DELTA_MODES = ("final", "post")


@dataclass(frozen=True)
class ImputationSettings:
    """How to impute, as R ``mice`` is told.

    ``method``: ``pmm`` (predictive mean matching, type-1 matching with ``donors``
    donors) or ``norm`` (Bayesian linear regression with draws of σ² and β);
    ``m`` imputations of ``iterations`` sweeps each; ``by_arm``: a separate imputation
    model per randomised arm (else arm is a predictor); ``auxiliaries``: ADSL columns
    added as predictors; ``predictors``: which columns predict each score (all, or R
    ``mice::quickpred``'s selection); ``delta[(column, arm)]`` is added to the imputed values of
    ``column`` in ``arm`` (δ-adjusted MNAR imputation): with ``delta_mode = "final"`` once,
    after the last sweep (pattern-mixture δ: nothing else changes), with ``"post"`` after
    every draw, so that the shift feeds back through the chained equations (mice's ``post``).
    """

    method: str = "norm"
    m: int = 50
    iterations: int = 10
    donors: int = 5
    by_arm: bool = True
    auxiliaries: tuple[str, ...] = ()
    predictors: PredictorSelection = field(default_factory=PredictorSelection)
    delta: Mapping[tuple[str, str], float] = field(default_factory=dict)
    delta_mode: str = "final"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"imputation method '{self.method}': allowed {', '.join(METHODS)}")
        if self.predictors.select not in SELECTIONS:
            raise ConfigError(f"predictor selection '{self.predictors.select}': allowed "
                              f"{', '.join(SELECTIONS)}")
        if self.delta_mode not in DELTA_MODES:
            raise ConfigError(f"delta mode '{self.delta_mode}': allowed {', '.join(DELTA_MODES)}")
        for name in ("m", "iterations", "donors"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"imputation setting '{name}' must be at least 1")
        object.__setattr__(self, "auxiliaries", tuple(self.auxiliaries))
        object.__setattr__(
            self, "delta", MappingProxyType({(str(c), str(a)): float(d)
                                             for (c, a), d in dict(self.delta).items()})
        )

    def __hash__(self) -> int:  # the delta mapping is read-only; hash its items
        return hash((self.method, self.m, self.iterations, self.donors, self.by_arm,
                     self.auxiliaries, self.predictors, tuple(sorted(self.delta.items())),
                     self.delta_mode))

    @classmethod
    def from_plan(cls, plan: AnalysisPlan, **overrides) -> ImputationSettings:
        """The plan's ``missing_data`` keys (defaults filled by the schema)."""
        md = plan.missing_data
        values: dict[str, Any] = dict(method=md.imputation, m=md.m, iterations=md.iterations,
                                      donors=md.donors, by_arm=md.by_arm,
                                      auxiliaries=md.auxiliaries, predictors=md.predictors)
        values.update(overrides)
        return cls(**values)
