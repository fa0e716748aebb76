"""The generated key table of config/README.md: every key of the analysis plan's schema.

Rendered from ``workflow/schemas/config.schema.yaml`` (the schema Snakemake and
:func:`outcomes.plan.validate_config` check a plan against), so the table cannot miss a
key or show another default. ``python -m outcomes.plan_doc`` prints it;
``--write config/README.md`` replaces it between its markers (a test fails while the
committed file is out of date).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from outcomes import docgen
from outcomes.plan import _schema_path
from outcomes.yamlio import safe_load

COMMAND = "python -m outcomes.plan_doc --write config/README.md"
BEGIN = f"<!-- BEGIN GENERATED plan keys ({COMMAND}) -->"
END = "<!-- END GENERATED plan keys -->"


def schema() -> dict[str, Any]:
    """The analysis plan's JSON schema, as read by the package."""
    loaded: dict[str, Any] = safe_load(_schema_path().read_text(encoding="utf-8"))
    return loaded


def keys(node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any], bool]]:
    """``(path, schema, required)`` of every key under ``node``, parents first, in schema order.

    A map of user-named entries (``mediation.mechanisms``, ``estimands``) is walked as
    ``<name>``, a list of objects as ``[]``: ``estimands.<id>.intercurrent_events[].event``.
    """
    required = set(node.get("required", ()))
    for name, sub in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        yield path, sub, name in required
        yield from _children(sub, path)


def _children(sub: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any], bool]]:
    yield from keys(sub, f"{path}.")
    entry = sub.get("additionalProperties")
    if isinstance(entry, dict):
        name = "<id>" if "propertyNames" in sub else "<name>"
        yield from keys(entry, f"{path}.{name}.")
    items = sub.get("items")
    if isinstance(items, dict):
        yield from keys(items, f"{path}[].")


def _value(value: Any) -> str:
    if value == "":
        return '`""`'
    return "`" + json.dumps(value, ensure_ascii=False).replace('"', "") + "`"


_KINDS = {"array": "list", "object": "mapping", "string": "text", "number": "number",
          "integer": "integer", "boolean": "boolean", "null": "null"}


def _allowed(sub: dict[str, Any]) -> str:
    if "enum" in sub:
        return " \\| ".join(_value(v) for v in sub["enum"])
    kind = sub.get("type", "object" if "properties" in sub else "")
    parts: list[str] = []
    for k in kind if isinstance(kind, list) else [kind]:
        text = str(_KINDS.get(k, k))
        items = sub.get("items")
        if k == "array" and isinstance(items, dict) and "enum" in items:
            text += " of " + " \\| ".join(_value(v) for v in items["enum"])
        elif k == "array" and isinstance(items, dict) and items.get("type"):
            text += f" of {_KINDS[items['type']]}"
        parts.append(text)
    bounds = [f"≥ {sub['minimum']}" if "minimum" in sub else "",
              f"> {sub['exclusiveMinimum']}" if "exclusiveMinimum" in sub else "",
              f"≤ {sub['maximum']}" if "maximum" in sub else ""]
    return ", ".join(b for b in [" or ".join(p for p in parts if p), *bounds] if b)


def _default(sub: dict[str, Any], required: bool) -> str:
    if "default" not in sub:
        return "required" if required else "absent"
    default = sub["default"]
    if default == {} and "properties" in sub:
        return "its keys' defaults"
    return _value(default)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def table_markdown() -> str:
    """The Markdown table of every plan key: key, allowed values, default, meaning."""
    lines = ["| Key | Allowed | Default | Meaning |", "| --- | --- | --- | --- |"]
    for path, sub, required in keys(schema()):
        lines.append(f"| `{path}` | {_allowed(sub)} | {_default(sub, required)} | "
                     f"{_cell(sub.get('description', ''))} |")
    return "\n".join(lines) + "\n"


def replace_in_document(text: str) -> str:
    """``text`` with the key table regenerated; a missing marker is an error."""
    return docgen.replace_between(text, BEGIN, END, table_markdown())


def main(argv: list[str] | None = None) -> int:
    return docgen.main(argv, description=__doc__ or "", begin=BEGIN, end=END,
                       render=table_markdown)


if __name__ == "__main__":
    raise SystemExit(main())
