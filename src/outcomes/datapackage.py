"""The input contract as a Frictionless Data Package descriptor (docs/data-contract.md).

One generator, from the declarations the validator checks against: the pandera models
(:func:`outcomes.validation.schemas.table_schema`: type, codes, range, whether a value may
be empty, description, rule ids), the contract (:mod:`outcomes.contract`: files, columns
that may be absent, keys, CSV dialect) and the instrument registry (item columns).
:func:`contract_columns` is the list both the descriptor and the column tables of
docs/data-contract.md are rendered from, so the three cannot disagree.

Table Schema has no notion of a column that may be absent but must be typed when present,
nor of a warning; the mapping (docs/decisions.md, F1-F6):

* every schema has ``fieldsMatch: partial``: columns are matched by name, in any order;
  extra columns are accepted (the validator warns, FIL-003); a declared column may be
  absent unless its values are required (frictionless then reports ``missing-label``);
* ``constraints.required`` only where an empty value is an *error* of the validator;
* codes are ``enum``, ranges ``minimum``/``maximum``, dates ``date`` in the default
  ``YYYY-MM-DD`` format within the years the reader accepts;
* keys are ``primaryKey`` and ``foreignKeys`` (:data:`outcomes.contract.PRIMARY_KEYS`,
  :data:`outcomes.contract.FOREIGN_KEYS`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outcomes import contract
from outcomes.atomic import write_text
from outcomes.instruments import load_registry
from outcomes.template import template_columns
from outcomes.validation.convert import DATE_MAX_YEAR, DATE_MIN_YEAR
from outcomes.validation.engine import _check_arms
from outcomes.validation.schemas import column_kind, item_ranges, table_schema

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
"""Data Package v2: the version that defines ``fieldsMatch``."""
PACKAGE_NAME = "outcomes-extract"
DESCRIPTOR_FILE = "datapackage.json"
FIELDS_MATCH = "partial"
MISSING_VALUES: tuple[str, ...] = ("",)
"""An empty cell is a missing value; nothing else is (``NA`` is text)."""
DATE_RANGE = (f"{DATE_MIN_YEAR}-01-01", f"{DATE_MAX_YEAR}-12-31")

_TYPES = {"str": "string", "int": "integer", "date": "date"}


@dataclass(frozen=True)
class ContractColumn:
    """One column of an extract file, as the validator checks it."""

    name: str
    type: str
    """Table Schema type: ``string``, ``integer`` or ``date``."""
    column_required: bool
    """The file must have the column (otherwise the extract is unreadable, exit 2)."""
    empty: str
    """What an empty value is: ``error``, ``warning`` or ``allowed``."""
    enum: tuple[str, ...] = ()
    minimum: int | str | None = None
    maximum: int | str | None = None
    description: str = ""
    rules: tuple[str, ...] = ()
    """Ids of the column's own rules (docs/validation.md)."""

    def field(self) -> dict[str, Any]:
        """The Table Schema field descriptor."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type == "date":
            out["format"] = "default"
        out["description"] = self.description
        constraints: dict[str, Any] = {}
        if self.empty == "error":
            constraints["required"] = True
        if self.enum:
            constraints["enum"] = list(self.enum)
        if self.minimum is not None:
            constraints["minimum"] = self.minimum
        if self.maximum is not None:
            constraints["maximum"] = self.maximum
        if constraints:
            out["constraints"] = constraints
        return out


def _rule_ids(meta: dict[str, Any]) -> tuple[str, ...]:
    return (meta["rule_id"], *(_rule_ids(meta["parse"]) if "parse" in meta else ()))


def _bounds(checks) -> dict[str, Any]:
    """enum / minimum / maximum of a pandera column's checks; an unknown check is an error
    (a new kind of check must be mapped here, not silently dropped from the descriptor)."""
    out: dict[str, Any] = {}
    for check in checks:
        stats = check.statistics
        if check.name == "isin":
            out["enum"] = tuple(stats["allowed_values"])
        elif check.name == "greater_than_or_equal_to":
            out["minimum"] = stats["min_value"]
        elif check.name == "less_than_or_equal_to":
            out["maximum"] = stats["max_value"]
        elif check.name == "in_range" and stats["include_min"] and stats["include_max"]:
            out["minimum"], out["maximum"] = stats["min_value"], stats["max_value"]
        else:
            raise ValueError(f"check {check.name!r} has no Table Schema constraint")
    return out


def _item_labels() -> dict[str, str]:
    """Item column -> description (``WEMWBS item 3``) of every instrument with columns."""
    return {
        col: f"{inst.name} item {i}"
        for inst in load_registry().values()
        if inst.has_own_columns
        for i, col in enumerate(inst.item_columns(), start=1)
    }


def contract_columns(
    table: str, *, arms: Sequence[str] | None = None, instruments: Sequence[str] | None = None
) -> list[ContractColumn]:
    """The columns of ``table`` in contract order (items: registry order) with their checks.

    ``arms`` replaces the arm codes (config ``arms``); ``instruments`` restricts the
    questionnaire item columns to those instruments (default: every one of the registry).
    """
    names = template_columns(instruments)[table]  # checks the instrument keys
    items = {c: r for c, r in item_ranges(load_registry()).items() if c in names}
    schema = table_schema(table, arms=_check_arms(arms), items=items)
    labels = _item_labels() if items else {}
    optional = contract.OPTIONAL_COLUMNS[table]
    out = []
    for name in names:
        col = schema.columns[name]
        kind = _TYPES[column_kind(schema, name)]
        bounds: dict[str, Any] = (dict(zip(("minimum", "maximum"), DATE_RANGE, strict=True))
                                  if kind == "date" else {})
        bounds.update(_bounds(col.checks))
        empty = "allowed" if col.nullable else col.metadata["severity"]
        out.append(
            ContractColumn(
                name=name,
                type=kind,
                column_required=name not in optional and name not in items,
                empty=empty,
                description=col.description or labels[name],
                rules=_rule_ids(col.metadata),
                **bounds,
            )
        )
    return out


def table_schema_descriptor(table: str, columns: list[ContractColumn]) -> dict[str, Any]:
    """The Table Schema of ``table``: fields, keys, missing values, field matching."""
    schema: dict[str, Any] = {
        "fields": [c.field() for c in columns],
        "fieldsMatch": FIELDS_MATCH,
        "missingValues": list(MISSING_VALUES),
    }
    if contract.PRIMARY_KEYS[table]:
        schema["primaryKey"] = list(contract.PRIMARY_KEYS[table])
    if table in contract.FOREIGN_KEYS:
        column, parent = contract.FOREIGN_KEYS[table]
        schema["foreignKeys"] = [
            {"fields": [column], "reference": {"resource": parent, "fields": list(contract.PRIMARY_KEYS[parent])}}
        ]
    return schema


def build_datapackage(
    *, arms: Sequence[str] | None = None, instruments: Sequence[str] | None = None
) -> dict[str, Any]:
    """The Data Package descriptor of an extract (the four CSV files of the contract)."""
    resources = []
    for table, file_name in contract.TABLE_FILES.items():
        columns = contract_columns(table, arms=arms, instruments=instruments)
        resources.append(
            {
                "name": table,
                "path": file_name,
                "type": "table",
                "description": contract.TABLE_DESCRIPTIONS[table],
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": contract.ENCODING,
                "dialect": dict(contract.CSV_DIALECT),
                "schema": table_schema_descriptor(table, columns),
            }
        )
    return {
        "$schema": PROFILE,
        "name": PACKAGE_NAME,
        "title": "Data extract of a randomised trial of peer support in mental health services",
        "description": (
            "The input contract of the outcomes pipeline (docs/data-contract.md). "
            "`outcomes validate` checks more than this descriptor can say: "
            "cross-field dates, rows of quarantined participants, whole instruments."
        ),
        "resources": resources,
    }


def datapackage_json(
    *, arms: Sequence[str] | None = None, instruments: Sequence[str] | None = None
) -> str:
    """The descriptor as canonical JSON text (2-space indent, final newline)."""
    descriptor = build_datapackage(arms=arms, instruments=instruments)
    return json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n"


def write_datapackage(
    path: str | Path, *, arms: Sequence[str] | None = None, instruments: Sequence[str] | None = None
) -> Path:
    """Write the descriptor to ``path`` atomically; returns the path."""
    return write_text(Path(path), datapackage_json(arms=arms, instruments=instruments))
