"""Instrument registry: questionnaires declared as YAML data (docs/questionnaires.md).

Each ``*.yaml`` file in this package (or in a directory passed to :func:`load_registry`)
defines one instrument and is validated against ``instrument.schema.json`` on load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from outcomes.contract import item_column
from outcomes.yamlio import safe_load

#: Verification statuses a trial statistician must sign off; the report lists such rules.
SIGN_OFF_STATUSES = ("UNVERIFIED", "PROJECT DEFAULT")


class InstrumentDefinitionError(ValueError):
    """An instrument file does not follow the schema; the message names file and key."""


@dataclass(frozen=True)
class Score:
    """One score (``PARAMCD``) computed from an instrument's items."""

    paramcd: str
    param: str
    items: tuple[int, ...]
    method: str
    range: tuple[float, float]
    higher_is_better: bool
    max_missing: int
    table: dict[int, float] | None = None


@dataclass(frozen=True)
class Instrument:
    """A questionnaire: item code range, reversed items, scores and rule provenance."""

    key: str
    name: str
    citation: str
    n_items: int
    code_min: int
    code_max: int
    reversed: tuple[int, ...]
    scores: tuple[Score, ...]
    rules: dict[str, dict[str, str]]
    source_instrument: str | None = None
    source_items: tuple[int, ...] | None = None
    path: str = ""

    @property
    def has_own_columns(self) -> bool:
        """False for instruments scored from another's items (SWEMWBS from WEMWBS)."""
        return self.source_instrument is None

    def rules_to_sign_off(self) -> dict[str, dict[str, str]]:
        """Rules whose status, or source, says UNVERIFIED or PROJECT DEFAULT."""
        return {
            name: rule
            for name, rule in self.rules.items()
            if any(s in str(rule.get("status", "")) or s in str(rule.get("source", ""))
                   for s in SIGN_OFF_STATUSES)
        }

    def item_columns(self) -> list[str]:
        """The questionnaires.csv columns holding items 1..n, in item order."""
        if self.source_instrument is None:
            return [item_column(self.key, i) for i in range(1, self.n_items + 1)]
        assert self.source_items is not None
        return [item_column(self.source_instrument, i) for i in self.source_items]


def _schema() -> dict:
    text = resources.files(__package__).joinpath("instrument.schema.json").read_text("utf-8")
    return json.loads(text)


def _error_location(err: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in err.absolute_path) or "(top level)"


def load_instrument(path: Path) -> Instrument:
    """Read and validate one instrument file."""
    try:
        data = safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InstrumentDefinitionError(f"{path}: cannot read instrument file: {exc}") from None
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        raise InstrumentDefinitionError(f"{path}: key '{_error_location(err)}': {err.message}")
    items = data["items"]
    n = items["n"]
    if items["code_min"] >= items["code_max"]:
        raise InstrumentDefinitionError(f"{path}: key 'items/code_min': must be below code_max")
    bad = [i for i in items["reversed"] if i > n]
    if bad:
        raise InstrumentDefinitionError(f"{path}: key 'items/reversed': items {bad} > n = {n}")
    if ("source_instrument" in items) != ("source_items" in items):
        raise InstrumentDefinitionError(
            f"{path}: key 'items': source_instrument and source_items go together"
        )
    if "source_items" in items and len(items["source_items"]) != n:
        raise InstrumentDefinitionError(f"{path}: key 'items/source_items': needs {n} entries")
    scores = []
    for k, s in enumerate(data["scores"]):
        score_items = tuple(range(1, n + 1)) if s["items"] == "all" else tuple(s["items"])
        if any(i > n for i in score_items):
            raise InstrumentDefinitionError(f"{path}: key 'scores/{k}/items': item beyond n = {n}")
        table = None
        if s["method"] == "table":
            if "table" not in s:
                raise InstrumentDefinitionError(f"{path}: key 'scores/{k}/table': required for method table")
            table = {int(raw): float(v) for raw, v in s["table"].items()}
        scores.append(
            Score(
                paramcd=s["paramcd"],
                param=s["param"],
                items=score_items,
                method=s["method"],
                range=(float(s["range"][0]), float(s["range"][1])),
                higher_is_better=bool(s["higher_is_better"]),
                max_missing=int(s["missing"]["max_missing"]),
                table=table,
            )
        )
    return Instrument(
        key=data["key"],
        name=data["name"],
        citation=" ".join(data["citation"].split()),
        n_items=n,
        code_min=items["code_min"],
        code_max=items["code_max"],
        reversed=tuple(items["reversed"]),
        scores=tuple(scores),
        rules=data["rules"],
        source_instrument=items.get("source_instrument"),
        source_items=tuple(items["source_items"]) if "source_items" in items else None,
        path=str(path),
    )


def load_registry(directory: str | Path | None = None) -> dict[str, Instrument]:
    """All instruments in ``directory`` (default: the package's own), keyed by ``key``."""
    if directory is None:
        directory = Path(str(resources.files(__package__)))
    paths = sorted(Path(directory).glob("*.yaml"))
    registry: dict[str, Instrument] = {}
    for path in paths:
        inst = load_instrument(path)
        if inst.key in registry:
            raise InstrumentDefinitionError(f"{path}: key 'key': duplicate instrument '{inst.key}'")
        registry[inst.key] = inst
    for inst in registry.values():
        if inst.source_instrument is not None:
            src = registry.get(inst.source_instrument)
            if src is None:
                raise InstrumentDefinitionError(
                    f"{inst.path}: key 'items/source_instrument': unknown '{inst.source_instrument}'"
                )
            if (src.code_min, src.code_max) != (inst.code_min, inst.code_max):
                raise InstrumentDefinitionError(
                    f"{inst.path}: key 'items/code_min': differs from {src.key}"
                )
    return registry
