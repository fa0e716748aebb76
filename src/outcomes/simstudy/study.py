"""A simulation study's definition: the study file, its scenario grid and its seed streams.

A study file (YAML, checked against ``study.schema.yaml`` with defaults filled, as the
analysis plan is) declares, in the terms of Morris, White & Crowther (2019, ADEMP), the
data-generating mechanisms (``scenarios``: a grid over the simulator's settings), the
estimands (rows of the result tables and their true values), the methods (the analysis
plan's ``analyses``) and the number of replicates; the performance measures are those of
:mod:`outcomes.simstudy.performance`.

Seeds: every draw comes from the study's ``seed`` through named streams
(:func:`outcomes.plan.stream_seed`): ``parameters`` for the DGP's parameters (shared by
every scenario, so scenarios differ only in the settings the grid names),
``trial/<scenario>/<r>`` for replicate r's trial and ``analysis/<scenario>/<r>`` for the
seed of its analysis plan (bootstraps). Replicates are independent of each other and of
how they are batched.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np

from outcomes.config_errors import config_problems
from outcomes.errors import ConfigError, OutcomesError
from outcomes.plan import AnalysisPlan, filling_defaults, stream_seed
from outcomes.simulate import SimulatorSettings
from outcomes.simulate.missingness import scenario
from outcomes.yamlio import safe_load

#: Grid keys in the order scenarios vary (first slowest) when the file lists them all.
GRID_KEYS: tuple[str, ...] = ("n", "effect_scale", "icc", "missingness", "mnar_delta",
                              "engagement", "peer_workers_per_site")


@dataclass(frozen=True)
class Estimand:
    """One estimand: the row of ``table`` that ``where`` picks, its true value (a number
    or a dotted path into the scenario's truth) and the scale performance is measured on."""

    name: str
    table: str
    where: tuple[tuple[str, str | float], ...]
    truth: float | str
    scale: str = "identity"

    def true_value(self, truth: dict[str, Any]) -> float:
        """The true value in a scenario whose truth (truth.json's content) is ``truth``."""
        if not isinstance(self.truth, str):
            value = float(self.truth)
        else:
            node: Any = truth
            for key in self.truth.split("."):
                if not isinstance(node, dict) or key not in node:
                    raise ConfigError(f"estimand {self.name}: truth path {self.truth!r} is not in "
                                      f"the scenario's truth (no key {key!r})")
                node = node[key]
            if isinstance(node, bool) or not isinstance(node, int | float):
                raise ConfigError(f"estimand {self.name}: truth path {self.truth!r} is not a number")
            value = float(node)
        return float(np.log(value)) if self.scale == "log" else value


@dataclass(frozen=True)
class PowerSearch:
    """The study's ``power`` key: the estimand, the design size searched and the target."""

    estimand: str
    over: str = "n"
    target: float = 0.8


@dataclass(frozen=True)
class Scenario:
    """One data-generating mechanism of the grid: ``id`` (``s01``, ...), ``n`` and the
    simulator's settings; ``factors`` are the grid's values of it, by key."""

    id: str
    n: int
    settings: SimulatorSettings
    factors: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        return ", ".join(f"{k} = {v}" for k, v in self.factors)


@dataclass(frozen=True)
class Study:
    """A validated study file (docs/simulation-study.md)."""

    name: str
    description: str
    seed: int
    replicates: int
    batch_size: int
    truth_n: int
    alpha: float
    plan: dict[str, Any]
    analyses: tuple[str, ...]
    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    scenarios: tuple[Scenario, ...]
    estimands: tuple[Estimand, ...]
    raw: dict[str, Any]
    power: PowerSearch | None = None
    questionnaire_scores: str = "all"

    @property
    def n_batches(self) -> int:
        return -(-self.replicates // self.batch_size)

    def batch(self, b: int) -> range:
        """The replicates (numbered from 0) of batch ``b`` (numbered from 0)."""
        if not 0 <= b < self.n_batches:
            raise ValueError(f"batch {b} is not in 0..{self.n_batches - 1}")
        return range(b * self.batch_size, min((b + 1) * self.batch_size, self.replicates))

    def parameters_seed(self) -> int:
        """Seed of the DGP's parameters, shared by every scenario."""
        return _int_seed(stream_seed(self.seed, "parameters"))

    def trial_seed(self, scenario: Scenario, r: int) -> int:
        return _int_seed(stream_seed(self.seed, f"trial/{scenario.id}/{r}"))

    def analysis_seed(self, scenario: Scenario, r: int) -> int:
        return _int_seed(stream_seed(self.seed, f"analysis/{scenario.id}/{r}"))


def expand_grid(grid: tuple[tuple[str, tuple[Any, ...]], ...]) -> tuple[Scenario, ...]:
    """Every combination of the grid's values, the first key varying slowest; a combination
    the simulator does not have is a :class:`ConfigError` naming it."""
    keys = [k for k, _ in grid]
    combos = list(itertools.product(*(values for _, values in grid)))
    width = max(2, len(str(len(combos))))
    out = []
    for i, combo in enumerate(combos, start=1):
        factors = dict(zip(keys, combo, strict=True))
        sid, label = f"s{i:0{width}d}", ", ".join(f"{k} = {v}" for k, v in factors.items())
        try:
            settings = SimulatorSettings(**{k: v for k, v in factors.items() if k != "n"})
            scenario(settings.missingness, settings.mnar_delta)
        except OutcomesError as exc:
            raise ConfigError(f"the study's scenario {sid} ({label}): {exc}") from exc
        out.append(Scenario(sid, int(factors["n"]), settings, tuple(factors.items())))
    return tuple(out)


def _int_seed(ss: np.random.SeedSequence) -> int:
    """A 63-bit integer seed from a seed sequence (the simulator and the plan take integers)."""
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def _schema() -> dict[str, Any]:
    text = resources.files("outcomes.simstudy").joinpath("study.schema.yaml").read_text(encoding="utf-8")
    return safe_load(text)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def study_from_config(config: dict[str, Any], base_dir: str | Path = ".") -> Study:
    """Validate a study file's content and read its plan (``plan`` relative to ``base_dir``)."""
    config = json.loads(json.dumps(config, default=str))
    validator = filling_defaults(jsonschema.Draft202012Validator)(_schema())
    errors = list(validator.iter_errors(config))
    if errors:
        raise ConfigError("the study file is invalid:\n" + config_problems(errors))
    plan_path = Path(base_dir) / config["plan"]
    if not plan_path.is_file():
        raise ConfigError(f"the study's plan {plan_path} does not exist")
    plan = _merge(safe_load(plan_path.read_text(encoding="utf-8")) or {}, config["plan_overrides"])
    try:
        AnalysisPlan.from_config(dict(plan))
    except ConfigError as exc:
        raise ConfigError(f"the study's plan ({plan_path} with plan_overrides): {exc}") from exc
    allowed = {f.name for f in fields(SimulatorSettings)} | {"n"}
    grid = tuple((k, tuple(config["scenarios"][k])) for k in GRID_KEYS
                 if k in config["scenarios"] and k in allowed)
    names = [e["name"] for e in config["estimands"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"estimand names must be unique: {names}")
    estimands = tuple(
        Estimand(e["name"], e["table"], tuple(sorted(e["where"].items())), e["truth"], e["scale"])
        for e in config["estimands"])
    if config["questionnaire_scores"] == "estimands":
        unnamed = [e["name"] for e in config["estimands"]
                   if e["table"] == "questionnaires" and not isinstance(e["where"].get("paramcd"), str)]
        if unnamed:
            raise ConfigError(f"questionnaire_scores is estimands: estimand {unnamed[0]} names no "
                              "paramcd in `where`")
    power = None
    if "power" in config:
        power = PowerSearch(**config["power"])
        if power.estimand not in names:
            raise ConfigError(f"power.estimand {power.estimand!r} is not one of the estimands ({', '.join(names)})")
        values = dict(grid).get(power.over, ())
        if len([v for v in values if v is not None]) < 2:
            raise ConfigError(f"power.over is {power.over}: the grid needs at least two values of it")
    study = Study(name=config["name"], description=config["description"], seed=int(config["seed"]),
                  replicates=int(config["replicates"]), batch_size=int(config["batch_size"]),
                  truth_n=int(config["truth_n"]), alpha=float(config["alpha"]), plan=plan,
                  analyses=tuple(config["analyses"]), grid=grid, scenarios=expand_grid(grid),
                  estimands=estimands, raw=config, power=power,
                  questionnaire_scores=config["questionnaire_scores"])
    return study


def load_study(path: str | Path) -> Study:
    """Read and validate a study file (YAML)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"study file {path} does not exist")
    return study_from_config(safe_load(path.read_text(encoding="utf-8")) or {}, path.parent)
