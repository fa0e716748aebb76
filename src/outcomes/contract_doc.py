"""The generated tables of docs/data-contract.md: file format, columns, instruments, keys.

Rendered from the same column list as the Frictionless descriptor
(:func:`outcomes.datapackage.contract_columns`), so the document, the descriptor and the
validator cannot disagree. ``python -m outcomes.contract_doc`` prints the tables;
``--write docs/data-contract.md`` replaces each between its markers (a test fails while
the committed document is out of date).
"""

from __future__ import annotations

from outcomes import contract, docgen
from outcomes.datapackage import DATE_RANGE, MISSING_VALUES, ContractColumn, contract_columns
from outcomes.instruments import load_registry
from outcomes.validation.rules import CROSS_TABLE_RULES, TABLE_RULES

COMMAND = "python -m outcomes.contract_doc --write docs/data-contract.md"
ITEM_PATTERN = "<instrument>_<nn>"
_TYPE = {"string": "text", "integer": "integer", "date": "date"}


def begin(block: str) -> str:
    return f"<!-- BEGIN GENERATED {block} ({COMMAND}) -->"


def end(block: str) -> str:
    return f"<!-- END GENERATED {block} -->"


def _code(text: str) -> str:
    return f"`{text}`"


def _allowed(c: ContractColumn) -> str:
    if c.enum:
        return " \\| ".join(_code(v) for v in c.enum)
    if c.minimum is not None and c.maximum is not None:
        return f"{c.minimum}..{c.maximum}"
    if c.minimum is not None:
        return f"≥ {c.minimum}"
    return "any text" if c.type == "string" else ""


def _row(c: ContractColumn, name: str, presence: str, allowed: str) -> str:
    return (
        f"| {_code(name)} | {_TYPE[c.type]} | {presence} "
        f"| {c.empty} | {allowed} | {', '.join(c.rules)} | {c.description} |"
    )


def columns_markdown(table: str) -> str:
    """Column table of one file: name, type, presence, empty value, allowed values, rules."""
    lines = [
        "| column | type | column in the file | empty value | allowed values | rules | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in contract_columns(table, instruments=()):
        presence = "required" if c.column_required else "optional (may be absent)"
        lines.append(_row(c, c.name, presence, _allowed(c)))
    if table == "questionnaires":
        item = contract_columns(table)[len(contract.QUESTIONNAIRE_KEY_COLUMNS)]
        item = ContractColumn(**{**item.__dict__, "description": "item nn (01, 02, ...) of an instrument"})
        lines.append(_row(item, ITEM_PATTERN, "all or none of an instrument's", "the instrument's code range"))
    return "\n".join(lines) + "\n"


def instruments_markdown() -> str:
    """Item columns and code range of every instrument of the registry."""
    lines = [
        "| instrument | key | item columns | codes |",
        "|---|---|---|---|",
    ]
    for inst in load_registry().values():
        cols = inst.item_columns()
        if inst.has_own_columns:
            where = f"{_code(cols[0])} .. {_code(cols[-1])} ({inst.n_items})"
        else:
            where = f"none of its own: scored from {', '.join(_code(c) for c in cols)}"
        lines.append(f"| {inst.name} | {_code(inst.key)} | {where} | {inst.code_min}..{inst.code_max} |")
    return "\n".join(lines) + "\n"


def _rule_ids(rules, table: str, columns: tuple[str, ...], action: str) -> str:
    ids = [r.rule_id for r in rules if table in r.tables and r.columns == columns and r.action == action]
    return ", ".join(ids)


def keys_markdown() -> str:
    """Primary and foreign keys of every file, with the rules that check them."""
    lines = [
        "| file | primary key (unique) | rule | foreign key | rules |",
        "|---|---|---|---|---|",
    ]
    for table, file_name in contract.TABLE_FILES.items():
        pk = contract.PRIMARY_KEYS[table]
        pk_text = ", ".join(_code(c) for c in pk) if pk else "none"
        pk_rule = _rule_ids(TABLE_RULES, table, pk, "quarantine") if pk else ""
        fk_text = fk_rule = ""
        if table in contract.FOREIGN_KEYS:
            column, parent = contract.FOREIGN_KEYS[table]
            parent_key = ", ".join(contract.PRIMARY_KEYS[parent])
            fk_text = f"{_code(column)} → {contract.TABLE_FILES[parent]} {_code(parent_key)}"
            fk_rule = _rule_ids(CROSS_TABLE_RULES, table, (column,), "quarantine")
        lines.append(f"| {file_name} | {pk_text} | {pk_rule} | {fk_text} | {fk_rule} |")
    return "\n".join(lines) + "\n"


def format_markdown() -> str:
    """Files, encoding, CSV dialect, missing values and dates, from their declarations."""
    d = contract.CSV_DIALECT
    quote = str(d["quoteChar"])
    missing = " or ".join("an empty cell" if v == "" else _code(v) for v in MISSING_VALUES)
    rows = [
        ("files", ", ".join(_code(f) for f in contract.TABLE_FILES.values()) + ", in one directory"),
        ("encoding", contract.ENCODING.upper()),
        ("separator", _code(str(d["delimiter"]))),
        ("quoting", f"{_code(quote)} around a field; {_code(2 * quote)} inside a quoted field stands "
                    f"for one {_code(quote)}" if d["doubleQuote"] else _code(quote)),
        ("header", "line 1" if d["header"] else "none"),
        ("missing value", missing),
        ("dates", f"{_code('YYYY-MM-DD')} from {DATE_RANGE[0]} to {DATE_RANGE[1]}"),
    ]
    lines = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    return "\n".join(lines) + "\n"


def blocks() -> dict[str, str]:
    """Block name -> generated Markdown."""
    out = {"format": format_markdown()}
    out.update({table: columns_markdown(table) for table in contract.TABLE_FILES})
    out["instruments"] = instruments_markdown()
    out["keys"] = keys_markdown()
    return out


def sections() -> dict[tuple[str, str], str]:
    """(begin marker, end marker) -> generated Markdown of every block."""
    return {(begin(block), end(block)): body for block, body in blocks().items()}


def replace_in_document(text: str) -> str:
    """``text`` with every generated block regenerated; a missing marker is an error."""
    for (head, tail), body in sections().items():
        text = docgen.replace_between(text, head, tail, body)
    return text


def main(argv: list[str] | None = None) -> int:
    return docgen.main_sections(argv, description=__doc__ or "", sections=sections)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
