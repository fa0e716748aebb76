"""Estimands as data (docs/estimands.md): the registry of what each results row estimates.

An estimand is described by the attributes of the ICH E9(R1) addendum (2019, section
A.3): the population, the variable (endpoint), the treatment conditions compared, the
intercurrent events each with the strategy that handles it, and the population-level
summary measure. The default registry is package data (``registry.yaml``); a plan adds or
replaces entries under its ``estimands`` key. Which estimand each results row carries is
decided in :mod:`outcomes.estimands.rows`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from outcomes.errors import ConfigError
from outcomes.yamlio import safe_load

#: The two forms of a plan-dependent withdrawal, by ``survival.withdrawal_ends_routine_data``.
WHEN_ENDS, WHEN_CONTINUES = "when_routine_data_ends", "when_routine_data_continues"


@dataclass(frozen=True)
class IntercurrentEvent:
    """An event after randomisation that affects the variable's existence or meaning, the
    strategy that handles it (ICH E9(R1) section A.3: treatment policy, hypothetical, composite,
    while alive / on treatment, principal stratum) and how the analysis does it."""

    event: str
    strategy: str
    handling: str


@dataclass(frozen=True)
class Estimand:
    """One entry of the registry (ICH E9(R1) section A.3)."""

    id: str
    label: str
    population: str
    variable: str
    treatment: str
    intercurrent_events: tuple[IntercurrentEvent, ...]
    summary_measure: str

    def strategy(self, event: str) -> str:
        """The strategy for ``event`` (KeyError when the estimand does not name it)."""
        for ice in self.intercurrent_events:
            if ice.event == event:
                return ice.strategy
        raise KeyError(event)


def _text(value: Any, fill: Mapping[str, str]) -> str:
    return " ".join(str(value).split()).format_map(fill)


def _event(cfg: Mapping[str, Any], fill: Mapping[str, str], routine_data_ends: bool
           ) -> IntercurrentEvent:
    if WHEN_ENDS in cfg or WHEN_CONTINUES in cfg:
        cfg = {"event": cfg["event"], **cfg[WHEN_ENDS if routine_data_ends else WHEN_CONTINUES]}
    return IntercurrentEvent(_text(cfg["event"], fill), _text(cfg["strategy"], fill),
                             _text(cfg["handling"], fill))


def estimand_from_config(id_: str, cfg: Mapping[str, Any], fill: Mapping[str, str],
                         routine_data_ends: bool) -> Estimand:
    """One entry from its mapping (the registry file's or the plan's)."""
    try:
        return Estimand(
            id=id_, label=_text(cfg["label"], fill), population=_text(cfg["population"], fill),
            variable=_text(cfg["variable"], fill), treatment=_text(cfg["treatment"], fill),
            intercurrent_events=tuple(_event(e, fill, routine_data_ends)
                                      for e in cfg["intercurrent_events"]),
            summary_measure=_text(cfg["summary_measure"], fill))
    except KeyError as exc:
        raise ConfigError(f"estimand '{id_}': no {exc.args[0]!r}") from None


def default_registry_config() -> dict[str, Any]:
    """The default entries (``registry.yaml``), before the plan's text is filled in."""
    text = resources.files("outcomes.estimands").joinpath("registry.yaml").read_text("utf-8")
    return {k: v for k, v in safe_load(text).items() if not k.startswith("_")}


def build_registry(overrides: Mapping[str, Any], *, fill: Mapping[str, str],
                   routine_data_ends: bool) -> dict[str, Estimand]:
    """The default registry with the plan's ``overrides`` (whole entries, by id) added or
    replacing defaults, in the default order then the plan's new ids."""
    cfg = {**default_registry_config(), **overrides}
    return {k: estimand_from_config(k, v, fill, routine_data_ends) for k, v in cfg.items()}
