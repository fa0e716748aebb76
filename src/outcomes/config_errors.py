"""A config that breaks its schema, told in one paragraph per problem (docs/pipeline.md).

:func:`config_problems` turns the ``jsonschema`` errors of a config into plain sentences:
the key and where it is, the value, what is allowed there (read from the schema, with
its default), and for an unknown key the keys allowed at that level with a did-you-mean
(:func:`difflib.get_close_matches`). Never the schema itself.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jsonschema import ValidationError

SCHEMA_FILE = "workflow/schemas/config.schema.yaml"
MAX_PROBLEMS = 5
"""Problems told in full; the rest are counted in one sentence."""
_VALUE_WIDTH = 60
_SELF_EVIDENT = frozenset({"type", "enum", "const", "minimum", "maximum", "minLength", "pattern",
                           "minItems", "uniqueItems"})
"""Validators whose failure the sentence "allowed is ..." explains by itself."""


def key_path(path: Sequence[Any]) -> str:
    """``mediation.outcomes (entry 2)``: dotted keys; list positions counted from 1."""
    keys = ".".join(str(p) for p in path if not isinstance(p, int))
    entries = "".join(f" (entry {p + 1})" for p in path if isinstance(p, int))
    return keys + entries


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def show_value(value: Any) -> str:
    """A value as the config file would write it, with its kind: ``"365" (text)``."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > _VALUE_WIDTH:
        text = text[: _VALUE_WIDTH - 3] + "..."
    return f"{text} ({_kind(value)})"


def _items(values: Iterable[Any]) -> str:
    return ", ".join(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v for v in values)


def allowed(schema: Mapping[str, Any]) -> str:
    """What a schema allows, in words: ``an integer of at least 1``."""
    if "enum" in schema:
        return f"one of {_items(schema['enum'])}"
    if "const" in schema:
        return f"only {_items([schema['const']])}"
    kind = schema.get("type")
    if isinstance(kind, list):  # e.g. [integer, "null"]: each kind in words
        return " or ".join("null" if k == "null" else allowed({**schema, "type": k})
                           for k in kind)
    bounds = []
    if "minimum" in schema:
        bounds.append(f"at least {schema['minimum']}")
    if "maximum" in schema:
        bounds.append(f"at most {schema['maximum']}")
    if kind in ("integer", "number"):
        return f"{'an integer' if kind == 'integer' else 'a number'}" + (f" of {' and '.join(bounds)}" if bounds else "")
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        text = "non-empty text" if schema.get("minLength", 0) >= 1 else "text"
        if "pattern" in schema:
            text += f" matching the pattern {schema['pattern']}"
        return text
    if kind == "array":
        parts = ["a list"]
        if "minItems" in schema:
            parts.append(f"of at least {schema['minItems']} entr{'y' if schema['minItems'] == 1 else 'ies'}")
        if schema.get("uniqueItems"):
            parts.append("without repeats")
        if isinstance(schema.get("items"), Mapping):
            parts.append(f"each {allowed(schema['items'])}")
        return ", ".join([" ".join(parts[:2]), *parts[2:]]) if len(parts) > 1 else parts[0]
    if kind == "object":
        keys = sorted(schema.get("properties", {}))
        return "a mapping" + (f" with the keys {', '.join(keys)}" if keys else " of keys")
    return "a value of the schema's form"


def _default(schema: Mapping[str, Any]) -> str:
    if "default" not in schema:
        return ""
    return f" (default: {json.dumps(schema['default'], ensure_ascii=False)})"


def _meaning(schema: Mapping[str, Any]) -> str:
    desc = " ".join(str(schema.get("description", "")).split())
    if not desc:
        return ""
    first = desc.split(". ")[0].rstrip(".")
    return f" The key means: {first}."


def _unknown_keys(err: ValidationError) -> str:
    schema = err.schema if isinstance(err.schema, Mapping) else {}
    known = sorted(schema.get("properties", {}))
    instance: Any = err.instance  # the mapping with the unknown keys
    unknown = [str(k) for k in instance if k not in known]
    parent = list(err.absolute_path)
    names = ", ".join(f"'{key_path([*parent, k])}'" for k in unknown)
    hints = []
    for k in unknown:
        close = difflib.get_close_matches(k, known, n=1)
        if close:
            hints.append(f"'{close[0]}'" + (f" for '{k}'" if len(unknown) > 1 else ""))
    hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
    where = f"under '{key_path(parent)}'" if parent else "at the top level"
    many = len(unknown) > 1
    return (f"config key{'s' if many else ''} {names} {'are' if many else 'is'} unknown{hint}. "
            f"Keys allowed {where}: {', '.join(known) if known else 'none'}.")


def _bad_value(err: ValidationError) -> str:
    schema = err.schema if isinstance(err.schema, Mapping) else {}
    path = key_path(err.absolute_path)
    key = f"config key '{path}'" if path else "the config"
    if err.validator == "required":
        required: Any = err.validator_value  # the required keys
        instance: Any = err.instance
        missing = [k for k in required if k not in instance]
        return (f"{key} lacks the key{'s' if len(missing) > 1 else ''} {', '.join(repr(k) for k in missing)}; "
                f"required there: {', '.join(required)}.")
    why = "" if err.validator in _SELF_EVIDENT else f" ({err.message})"
    return (f"{key} has the value {show_value(err.instance)}, which is not allowed{why}: allowed is "
            f"{allowed(schema)}{_default(schema)}.{_meaning(schema)}")


def config_problem(err: ValidationError) -> str:
    """One paragraph for one schema error of a config."""
    if err.validator == "additionalProperties" and err.validator_value is False and isinstance(err.instance, Mapping):
        return _unknown_keys(err)
    return _bad_value(err)


def config_problems(errors: Iterable[ValidationError], *, max_problems: int = MAX_PROBLEMS) -> str:
    """Every problem of a config, one paragraph (one line, for grep and for a terminal to
    wrap) each, in key order; the last one says where the keys are described."""
    first: dict[tuple[str, ...], ValidationError] = {}
    # one problem per key: an unknown key before the rest (a misspelt required key is both)
    for e in sorted(errors, key=lambda e: ([str(p) for p in e.absolute_path],
                                           e.validator != "additionalProperties", str(e.validator))):
        first.setdefault(tuple(str(p) for p in e.absolute_path), e)
    errors = list(first.values())
    paragraphs = [config_problem(e) for e in errors[:max_problems]]
    rest = len(errors) - max_problems
    if rest > 0:
        paragraphs.append(f"... and {rest} more problem{'s' if rest > 1 else ''} in the config.")
    paragraphs[-1] += f" Every key is described, with its default, in {SCHEMA_FILE}."
    return "\n".join(paragraphs)


__all__ = ["allowed", "config_problem", "config_problems", "key_path", "show_value"]
