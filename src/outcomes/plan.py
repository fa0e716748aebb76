"""The analysis plan: the validated config, as the package's functions receive it.

The workflow validates ``config/config.yaml`` with :func:`validate_config` against
``workflow/schemas/config.schema.yaml`` (the package's ``config.schema.yaml`` is a link to
it: one schema), filling defaults, and writes it to ``results/plan.json``; CLI commands take that file with
``--plan``. This module reads it (applying the same schema, so a plan written by hand is
checked too) into a typed object.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import yaml

from outcomes.config_errors import config_problems
from outcomes.contract import ARMS
from outcomes.errors import ConfigError

#: The randomisation stratifiers of the schema's default (key ``stratifiers``).
STRATIFIERS: tuple[str, ...] = ("SITEID", "DIAGGR")


def _schema_path() -> Path:
    """The workflow's config schema (a link in the source tree; a copy in a built wheel)."""
    packaged = resources.files("outcomes").joinpath("config.schema.yaml")
    return Path(str(packaged))


def _fill_defaults(validator_class):
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
    schema = yaml.safe_load(_schema_path().read_text(encoding="utf-8"))
    config = json.loads(json.dumps(config, default=str))
    validator = _fill_defaults(jsonschema.Draft202012Validator)(schema)
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
    tipping_point: TippingPointPlan = field(default_factory=TippingPointPlan)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> MissingDataPlan:
        return cls(**{**cfg, "auxiliaries": tuple(cfg["auxiliaries"]),
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
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def arms(self) -> tuple[str, str]:
        return (self.treated_arm, self.control_arm)

    def rng(self, stream: str) -> np.random.Generator:
        """The generator of one named analysis stream, spawned from the plan's seed.

        Each analysis has its own stream, keyed by name (not by run order), so a job's
        random draws do not depend on which other jobs ran or in what order.
        """
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
            raw=cfg,
        )

    @classmethod
    def load(cls, path: str | Path) -> AnalysisPlan:
        """Read a plan from a JSON or YAML file."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read the analysis plan: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the analysis plan must be a mapping of keys")
        return cls.from_config(data)


def _survival(cfg: dict[str, Any]) -> dict[str, Any]:
    """The ``survival`` keys, ``primary_covariates`` filled with the stratifiers when null."""
    s = dict(cfg["survival"])
    if s.get("primary_covariates") is None:
        s["primary_covariates"] = list(cfg["stratifiers"])
    return s


def stream_seed(seed: int, stream: str) -> np.random.SeedSequence:
    """The seed sequence of the named stream ``stream`` of ``seed`` (a hash of the name)."""
    key = int.from_bytes(hashlib.sha256(stream.encode("utf-8")).digest()[:8], "little")
    return np.random.SeedSequence([seed, key])


def write_plan(config: dict[str, Any], path: str | Path, log: str | Path | None = None) -> None:
    """Validate ``config`` and write it, defaults filled, as canonical JSON (``plan.json``)."""
    cfg = validate_config(config)
    from outcomes.atomic import write_text

    write_text(path, json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    if log is not None:
        Path(log).write_text(f"wrote {path}\n", encoding="utf-8")
