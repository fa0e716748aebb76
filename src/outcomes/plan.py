"""The analysis plan: the validated config, as the package's functions receive it.

The workflow validates ``config/config.yaml`` with :func:`validate_config` against
``workflow/schemas/config.schema.yaml`` (the package's ``config.schema.yaml`` is a link to
it: one schema), filling defaults, and writes it to ``results/plan.json``; CLI commands take that file with
``--plan``. This module reads it (applying the same schema, so a plan written by hand is
checked too) into a typed object.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

from outcomes.config_errors import config_problems, key_path
from outcomes.contract import ARMS
from outcomes.errors import ConfigError
from outcomes.estimands import Estimand, build_registry
from outcomes.yamlio import safe_load

if TYPE_CHECKING:  # numpy is imported where it is used: the Snakefile reads the plan at
    import numpy as np  # every start and never draws (decisions WK3)

#: The randomisation stratifiers of the schema's default (key ``stratifiers``).
STRATIFIERS: tuple[str, ...] = ("SITEID", "DIAGGR")


def _schema_path() -> Path:
    """The workflow's config schema (a link in the source tree; a copy in a built wheel)."""
    packaged = resources.files("outcomes").joinpath("config.schema.yaml")
    return Path(str(packaged))


def filling_defaults(validator_class):
    """A jsonschema validator that also writes ``default`` values (as Snakemake does)."""
    validate_props = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = json.loads(json.dumps(sub["default"]))
        yield from validate_props(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Check a config against the schema, fill defaults, and return it (a copy).

    Raises :class:`ConfigError` with one paragraph per problem
    (:func:`outcomes.config_errors.config_problems`). A date YAML reads from an unquoted
    ``2025-12-31`` is taken as that text.
    """
    schema = safe_load(_schema_path().read_text(encoding="utf-8"))
    config = json.loads(json.dumps(config, default=str))
    validator = filling_defaults(jsonschema.Draft202012Validator)(schema)
    errors = list(validator.iter_errors(config))
    if errors:
        raise ConfigError(config_problems(errors))
    return config


@dataclass(frozen=True)
class TippingPointPlan:
    """The ``missing_data.tipping_point`` keys (docs/imputation.md, Tipping-point analysis).

    ``outcomes``: (PARAMCD, visit) pairs; ``deltas``: the shifts of both arms in score
    points, None for the default grid on each score's scale."""

    outcomes: tuple[tuple[str, str], ...] = (("WEMWBS", "month_12"),)
    deltas: tuple[float, ...] | None = None
    delta_mode: str = "final"
    alpha: float = 0.05

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TippingPointPlan:
        deltas = cfg["deltas"]
        return cls(outcomes=tuple(tuple(o.split(" ")) for o in cfg["outcomes"]),
                   deltas=None if deltas is None else tuple(sorted(float(d) for d in deltas)),
                   delta_mode=cfg["delta_mode"], alpha=float(cfg["alpha"]))


@dataclass(frozen=True)
class PredictorSelection:
    """The ``missing_data.predictors`` keys (docs/imputation.md, *Choosing the predictors*).

    ``select``: ``all`` (every other column of the model predicts each incomplete score,
    R mice's default) or ``quickpred`` (R ``mice::quickpred``: a column predicts a score
    when its absolute correlation with the score, or with the score's missingness
    indicator, is at least ``mincor`` and its proportion of usable cases is at least
    ``minpuc``); ``include``: columns that always predict (ADSL names, a text column with
    all its dummies, or a PARAMCD with all its visits); with ``quickpred`` each score is
    also always predicted by the same PARAMCD at its other visits (the ANCOVA's baseline)."""

    select: str = "all"
    mincor: float = 0.1
    minpuc: float = 0.0
    include: tuple[str, ...] = ("SITEID", "DIAGGR")

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> PredictorSelection:
        return cls(select=cfg["select"], mincor=float(cfg["mincor"]),
                   minpuc=float(cfg["minpuc"]), include=tuple(cfg["include"]))


@dataclass(frozen=True)
class MissingDataPlan:
    """The ``missing_data`` keys (docs/imputation.md; the schema gives each key's meaning)."""

    method: str = "complete_case"
    m: int = 50
    iterations: int = 10
    imputation: str = "norm"
    donors: int = 5
    by_arm: bool = True
    auxiliaries: tuple[str, ...] = ()
    write_imputed: bool = False
    predictors: PredictorSelection = field(default_factory=PredictorSelection)
    tipping_point: TippingPointPlan = field(default_factory=TippingPointPlan)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> MissingDataPlan:
        return cls(**{**cfg, "auxiliaries": tuple(cfg["auxiliaries"]),
                      "predictors": PredictorSelection.from_config(cfg["predictors"]),
                      "tipping_point": TippingPointPlan.from_config(cfg["tipping_point"])})


@dataclass(frozen=True)
class ReceiptDefinition:
    """The ``engagement.receipt`` keys (docs/engagement.md): receipt of peer support is at
    least ``min_contacts`` contacts totalling at least ``min_minutes`` minutes, dated from
    day 0 (``window_start``: ``randomisation`` or ``discharge``) to day ``window_days``
    (both included; None = to the end of planned follow-up) and not after the data cut."""

    min_contacts: int = 1
    min_minutes: int = 0
    window_start: str = "randomisation"
    window_days: int | None = None

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> ReceiptDefinition:
        days = cfg["window_days"]
        return cls(min_contacts=int(cfg["min_contacts"]), min_minutes=int(cfg["min_minutes"]),
                   window_start=cfg["window_start"],
                   window_days=None if days is None else int(days))


@dataclass(frozen=True)
class EngagementPlan:
    """The ``engagement`` keys (docs/engagement.md; ``dose_modifiers``: docs/cace.md)."""

    receipt: ReceiptDefinition = field(default_factory=ReceiptDefinition)
    dose_modifiers: tuple[str, ...] = ("AGE", "PRIORADM")

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> EngagementPlan:
        return cls(receipt=ReceiptDefinition.from_config(cfg["receipt"]),
                   dose_modifiers=tuple(cfg["dose_modifiers"]))


#: The columns a row selector may name, in the order they narrow a table.
SELECTOR_COLUMNS = ("analysis", "clustering", "estimand", "outcome", "contrast", "estimate_type")


@dataclass(frozen=True)
class RowSelector:
    """One hypothesis of the multiplicity hierarchy: the row of ``tables/<table>.tsv`` whose
    columns have these values (None: not named; ``clustering`` None = the plan's main
    design). ``key`` is the config key it came from, for error messages."""

    table: str
    estimate_type: str
    analysis: str | None = None
    outcome: str | None = None
    contrast: str | None = None
    clustering: str | None = None
    estimand: str | None = None
    key: str = field(default="", compare=False)

    @classmethod
    def from_config(cls, cfg: dict[str, Any], key: str) -> RowSelector:
        return cls(**cfg, key=key)

    def named(self) -> dict[str, str]:
        """The columns the selector names, with their values (SELECTOR_COLUMNS order)."""
        return {c: getattr(self, c) for c in SELECTOR_COLUMNS if getattr(self, c) is not None}


@dataclass(frozen=True)
class MultiplicityPlan:
    """The ``multiplicity`` keys (docs/multiplicity.md): the primary hypothesis, the key
    secondary hypotheses and their method (behind the primary as a serial gatekeeper), the
    other hypotheses (nominal), and the familywise alpha."""

    primary: RowSelector
    key_secondary: tuple[RowSelector, ...] = ()
    method: str = "holm"
    other: tuple[RowSelector, ...] = ()
    alpha: float = 0.05

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> MultiplicityPlan:
        def sel(c: dict[str, Any], *path: str | int) -> RowSelector:
            return RowSelector.from_config(c, key_path(["multiplicity", *path]))

        key = cfg["key_secondary"]
        return cls(primary=sel(cfg["primary"], "primary"),
                   key_secondary=tuple(sel(c, "key_secondary", "hypotheses", i)
                                       for i, c in enumerate(key["hypotheses"])),
                   method=key["method"],
                   other=tuple(sel(c, "other", i) for i, c in enumerate(cfg["other"])),
                   alpha=float(cfg["alpha"]))

    @property
    def selectors(self) -> tuple[RowSelector, ...]:
        """Every selector of the hierarchy, in order (here, not in outcomes.multiplicity,
        so that the Snakefile lists the tables it names without importing pandas)."""
        return (self.primary, *self.key_secondary, *self.other)


@dataclass(frozen=True)
class AnalysisPlan:
    """What the analyses need from the config (see the schema for each key's meaning)."""

    data_dir: str = "synthetic_data"
    results_dir: str = "results"
    treated_arm: str = ARMS[0]
    control_arm: str = ARMS[1]
    followup_days: int = 365
    data_cut: dt.date | None = None
    missing_items: dict[str, int] = field(default_factory=dict)
    reversed_items: dict[str, list[int]] = field(default_factory=dict)
    seed: int = 20261122
    #: the randomisation stratifiers (ADSL columns): every questionnaire ANCOVA adjusts for
    #: them, and the primary logistic model when ``survival.primary_covariates`` is null
    stratifiers: tuple[str, ...] = STRATIFIERS
    instruments: tuple[str, ...] = ()
    visits: tuple[str, ...] = ("month_4", "month_12")
    survival: dict[str, Any] = field(default_factory=dict)
    mediation: dict[str, Any] = field(default_factory=dict)
    missing_data: MissingDataPlan = field(default_factory=MissingDataPlan)
    clustering: str = "peer_worker"
    engagement: EngagementPlan = field(default_factory=EngagementPlan)
    multiplicity: MultiplicityPlan | None = None
    #: the registry of estimands (docs/estimands.md): the defaults with the plan's
    #: ``estimands`` entries, by id (a plan built by hand gets the defaults' registry)
    estimands: dict[str, Estimand] = field(default_factory=lambda: default_estimands(),
                                           compare=False, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def arms(self) -> tuple[str, str]:
        return (self.treated_arm, self.control_arm)

    @property
    def primary_strategy(self) -> str:
        """The intercurrent-event strategy of the primary outcome (``survival.primary_strategy``)."""
        return str(self.survival.get("primary_strategy", "while_alive"))

    @property
    def sensitivity_strategies(self) -> tuple[str, ...]:
        """The strategies of the primary outcome's sensitivity analyses, in the plan's order
        (``survival.sensitivity_strategies``), without the primary strategy, whose rows are
        the primary analysis (docs/survival.md, "Sensitivity analyses")."""
        from outcomes.survival.binary import STRATEGIES

        listed = self.survival.get("sensitivity_strategies", STRATEGIES)
        return tuple(s for s in listed if s != self.primary_strategy)

    @property
    def mediator_types(self) -> dict[str, str]:
        """``mediation.mediator_types``: PARAMCD -> ``binary`` or ``continuous`` (a score
        not listed is typed from its data; docs/mediation.md, section 4a)."""
        return {str(k): str(v) for k, v in self.mediation.get("mediator_types", {}).items()}

    @property
    def exposure_induced_confounders(self) -> tuple[str, ...]:
        """``mediation.exposure_induced_confounders``: ``engagement``, ``early_readmission``
        (docs/mediation.md section 4b); () for natural effects only."""
        return tuple(str(c) for c in self.mediation.get("exposure_induced_confounders", ()))

    @property
    def withdrawal_ends_routine_data(self) -> bool:
        """``survival.withdrawal_ends_routine_data``: whether withdrawal also ends the
        routine admissions data (true, the default when the key is absent)."""
        return bool(self.survival.get("withdrawal_ends_routine_data", True))

    def rng(self, stream: str) -> np.random.Generator:
        """The generator of one named analysis stream, spawned from the plan's seed.

        Each analysis has its own stream, keyed by name (not by run order), so a job's
        random draws do not depend on which other jobs ran or in what order.
        """
        import numpy as np

        return np.random.default_rng(self.seed_sequence(stream))

    def seed_sequence(self, stream: str) -> np.random.SeedSequence:
        """The seed sequence behind :meth:`rng` (for streams that spawn children)."""
        return stream_seed(self.seed, stream)

    def sha256(self) -> str:
        """Hash of the canonical JSON of the whole plan (for provenance)."""
        text = json.dumps(self.raw, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AnalysisPlan:
        cfg = validate_config(config)
        cut = cfg.get("data_cut") or None
        try:
            data_cut = dt.date.fromisoformat(cut) if cut else None
        except ValueError:
            raise ConfigError(f"config key 'data_cut': '{cut}' is not a YYYY-MM-DD date") from None
        return cls(
            data_dir=cfg["data_dir"],
            results_dir=cfg["results_dir"],
            treated_arm=cfg["arms"]["treated"],
            control_arm=cfg["arms"]["control"],
            followup_days=int(cfg["followup_days"]),
            data_cut=data_cut,
            missing_items={k: int(v) for k, v in cfg["missing_items"].items()},
            reversed_items={k: list(v) for k, v in cfg["reversed_items"].items()},
            seed=int(cfg["seed"]),
            stratifiers=tuple(cfg["stratifiers"]),
            instruments=tuple(cfg["instruments"]),
            visits=tuple(cfg["visits"]),
            survival=_survival(cfg),
            mediation=dict(cfg["mediation"]),
            missing_data=MissingDataPlan.from_config(cfg["missing_data"]),
            clustering=cfg["clustering"],
            engagement=EngagementPlan.from_config(cfg["engagement"]),
            multiplicity=MultiplicityPlan.from_config(cfg["multiplicity"]),
            estimands=estimands_of(cfg),
            raw=cfg,
        )

    @classmethod
    def load(cls, path: str | Path) -> AnalysisPlan:
        """Read a plan from a JSON or YAML file."""
        path = Path(path)
        try:
            data = safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read the analysis plan: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the analysis plan must be a mapping of keys")
        return cls.from_config(data)


#: The mediator-set job of every mediator together (mediation.smk, changemodel.py).
ALL_MEDIATORS = "ALL"


def mediator_sets(plan: AnalysisPlan) -> dict[str, tuple[str, ...]]:
    """Job name -> mediators: every score alone, every mechanism with several scores, and all.
    Here, not in the mediation package, so that the Snakefile lists the jobs without
    importing the models (about 1.5 s of every Snakemake start)."""
    mech = plan.mediation["mechanisms"]
    sets: dict[str, tuple[str, ...]] = {}
    for spec in mech.values():
        for m in spec["mediators"]:
            sets[m] = (m,)
    for name, spec in mech.items():
        if len(spec["mediators"]) > 1:
            sets[name] = tuple(spec["mediators"])
    every = tuple(m for spec in mech.values() for m in spec["mediators"])
    if len(every) > 1:
        sets[ALL_MEDIATORS] = every
    return sets


def estimands_of(cfg: dict[str, Any]) -> dict[str, Estimand]:
    """The registry of estimands of a validated config (defaults filled)."""
    return build_registry(
        cfg["estimands"],
        fill={"treated": cfg["arms"]["treated"], "control": cfg["arms"]["control"],
              "horizon": str(int(cfg["followup_days"])),
              "visit": cfg["mediation"]["mediator_visit"].replace("_", " ")},
        routine_data_ends=bool(cfg["survival"]["withdrawal_ends_routine_data"]))


@functools.cache
def _default_config() -> dict[str, Any]:
    return validate_config({})


def default_estimands() -> dict[str, Estimand]:
    """The registry of the default plan (for a plan built without a config)."""
    return estimands_of(_default_config())


def _survival(cfg: dict[str, Any]) -> dict[str, Any]:
    """The ``survival`` keys, ``primary_covariates`` filled with the stratifiers when null."""
    s = dict(cfg["survival"])
    if s.get("primary_covariates") is None:
        s["primary_covariates"] = list(cfg["stratifiers"])
    return s


def stream_seed(seed: int, stream: str) -> np.random.SeedSequence:
    """The seed sequence of the named stream ``stream`` of ``seed`` (a hash of the name)."""
    key = int.from_bytes(hashlib.sha256(stream.encode("utf-8")).digest()[:8], "little")
    import numpy as np

    return np.random.SeedSequence([seed, key])


def write_plan(config: dict[str, Any], path: str | Path, log: str | Path | None = None) -> None:
    """Validate ``config`` and write it, defaults filled, as canonical JSON (``plan.json``)."""
    cfg = validate_config(config)
    from outcomes.atomic import write_text

    write_text(path, json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    if log is not None:
        Path(log).write_text(f"wrote {path}\n", encoding="utf-8")
