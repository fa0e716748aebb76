"""The rule catalogue: every rule, collected from where it is declared.

``python -m outcomes.validation.catalogue`` prints the catalogue as a Markdown table
(``--write docs/validation.md`` replaces the table between the catalogue markers there).
"""

from __future__ import annotations

import re
from functools import cache

import pandas as pd

from outcomes.docgen import main as docgen_main
from outcomes.docgen import replace_between
from outcomes.validation.rules import (
    CROSS_TABLE_RULES,
    FILE_RULES,
    TABLE_RULES,
    Rule,
)
from outcomes.validation.schemas import ITEM_RULE, MODELS

BEGIN = "<!-- BEGIN RULE CATALOGUE (generated: python -m outcomes.validation.catalogue --write docs/validation.md) -->"
END = "<!-- END RULE CATALOGUE -->"


def _from_meta(meta: dict, table: str, column: str) -> list[Rule]:
    rules = [
        Rule(
            meta["rule_id"],
            meta["severity"],
            meta["category"],
            (table,),
            (column,),
            meta["message"],
            meta["action"],
        )
    ]
    if "parse" in meta:
        rules += _from_meta(meta["parse"], table, column)
    return rules


def column_rules() -> list[Rule]:
    """Rules declared in the pandera models' field metadata (and the item-column rules)."""
    out: list[Rule] = []
    for table, model in MODELS.items():
        schema = model.to_schema()
        for name, col in schema.columns.items():
            if col.metadata:
                out += _from_meta(col.metadata, table, name)
    out += _from_meta(ITEM_RULE, "questionnaires", "<instrument>_<nn>")
    return out


def dataframe_check_names() -> dict[str, list[str]]:
    """Names of the pandera dataframe checks of each model (they are rule ids)."""
    return {t: [c.name for c in m.to_schema().checks] for t, m in MODELS.items()}


@cache
def build_catalogue() -> dict[str, Rule]:
    """rule_id -> Rule for every declared rule; raises if an id is declared twice."""
    catalogue: dict[str, Rule] = {}
    for r in [*FILE_RULES, *column_rules(), *TABLE_RULES, *CROSS_TABLE_RULES]:
        if r.rule_id in catalogue:
            raise ValueError(f"rule {r.rule_id} declared twice")
        if not re.fullmatch(r"(PAR|QST|ADM|PCT|XTB|FIL)-\d{3}", r.rule_id):
            raise ValueError(f"rule id {r.rule_id!r} does not follow XXX-nnn")
        catalogue[r.rule_id] = r
    for table, names in dataframe_check_names().items():
        for name in names:
            if name not in catalogue or table not in catalogue[name].tables:
                raise ValueError(f"dataframe check {name!r} of {table} is not a declared rule")
    order = {"FIL": 0, "PAR": 1, "QST": 2, "ADM": 3, "PCT": 4, "XTB": 5}
    return dict(sorted(catalogue.items(), key=lambda kv: (order[kv[0][:3]], kv[0])))


def catalogue_frame() -> pd.DataFrame:
    rows = [
        {
            "rule_id": r.rule_id,
            "severity": r.severity,
            "category": r.category,
            "table": r.table,
            "columns": ", ".join(r.columns),
            "action": r.action,
            "message": r.message,
        }
        for r in build_catalogue().values()
    ]
    return pd.DataFrame(rows)


def catalogue_markdown() -> str:
    df = catalogue_frame()
    lines = [
        "| rule | severity | action | table | column(s) | message |",
        "|---|---|---|---|---|---|",
    ]
    for r in df.itertuples(index=False):
        msg = r.message.replace("|", "\\|")
        cols = r.columns.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
        lines.append(
            f"| {r.rule_id} | {r.severity} | {r.action} | {r.table} | {cols} | {msg} |"
        )
    return "\n".join(lines) + "\n"


def replace_in_document(text: str) -> str:
    """``text`` with the catalogue between the markers regenerated."""
    return replace_between(text, BEGIN, END, catalogue_markdown())


def main(argv: list[str] | None = None) -> int:
    return docgen_main(argv, description=__doc__, begin=BEGIN, end=END, render=catalogue_markdown)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
