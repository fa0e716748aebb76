"""The instrument registry as documentation: every scoring rule, its source and status.

``python -m outcomes.instruments.catalogue`` prints one section per instrument of the
registry; ``--write docs/questionnaires.md`` replaces the section between the markers there.
"""

from __future__ import annotations

from outcomes.docgen import main as docgen_main
from outcomes.docgen import replace_between
from outcomes.instruments import Instrument, Score, load_registry

BEGIN = ("<!-- BEGIN INSTRUMENT REGISTRY (generated: python -m outcomes.instruments.catalogue"
         " --write docs/questionnaires.md) -->")
END = "<!-- END INSTRUMENT REGISTRY -->"

RULE_NAMES = {
    "items": "items",
    "codes": "code range",
    "reversed": "reversed items",
    "scoring": "score",
    "missing": "missing items",
}


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _numbers(values) -> str:
    values = list(values)
    if values and values == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}–{values[-1]}"
    return ", ".join(str(v) for v in values) or "none"


def _items_line(inst: Instrument) -> str:
    cols = inst.item_columns()
    if inst.has_own_columns:
        return f"- Items: {inst.n_items}, columns `{cols[0]}` … `{cols[-1]}` of `questionnaires.csv`."
    return (f"- Items: {inst.n_items}, no columns of their own: items 1–{inst.n_items} are "
            f"`{inst.source_instrument}` items {', '.join(str(i) for i in inst.source_items or ())} "
            f"({', '.join(f'`{c}`' for c in cols)}).")


def _table_line(score: Score) -> str:
    assert score.table is not None
    pairs = ", ".join(f"{raw} → {value:.2f}" if round(value, 2) == value else f"{raw} → {value!r}"
                      for raw, value in sorted(score.table.items()))
    return f"- `{score.paramcd}` conversion table (raw sum → score): {pairs}."


def _method(score: Score) -> str:
    if score.method == "table":
        assert score.table is not None
        return f"raw sum converted by the published table ({len(score.table)} values)"
    return {"sum": "sum", "mean": "mean of the items"}[score.method]


def _range(score: Score) -> str:
    lo, hi = score.range
    if score.method == "sum":
        return f"{lo:g}–{hi:g}"
    return f"{lo:.2f}–{hi:.2f}"


def _missing(score: Score, n_items: int) -> str:
    k = score.max_missing
    if k == 0:
        return "complete responses only"
    if score.method == "sum":
        return f"up to {k} missing: mean of the answered items × {n_items} (prorated)"
    return f"up to {k} missing: mean of the answered items"


def instrument_section(inst: Instrument) -> str:
    """The Markdown section of one instrument."""
    rev = inst.reversed
    lines = [
        f"### `{inst.key}`: {inst.name}",
        "",
        f"{_cell(inst.citation)}",
        "",
        _items_line(inst),
        f"- Codes: {inst.code_min}..{inst.code_max} (integers; any other value is a validation "
        "error, never clamped).",
        "- Reversed items: "
        + (f"{_numbers(rev)}, scored as ({inst.code_min} + {inst.code_max}) − code."
           if rev else "none."),
        "",
        "| PARAMCD | PARAM | items | score | range | higher is | missing items |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in inst.scores:
        lines.append(
            f"| `{s.paramcd}` | {_cell(s.param)} | {_numbers(s.items)} | {_method(s)} | "
            f"{_range(s)} | {'better' if s.higher_is_better else 'worse'} | "
            f"{_missing(s, len(s.items))} |"
        )
    tables = [_table_line(s) for s in inst.scores if s.method == "table"]
    if tables:
        lines += ["", *tables]
    sign_off = inst.rules_to_sign_off()
    lines += ["", "| rule | status | source | report lists it |", "|---|---|---|---|"]
    for name, rule in inst.rules.items():
        lines.append(
            f"| {RULE_NAMES.get(name, name)} | {_cell(rule['status'])} | {_cell(rule['source'])} | "
            f"{'yes' if name in sign_off else ''} |"
        )
    table_scores = [s.paramcd for s in inst.scores if s.method == "table"]
    lines += [
        "",
        f"Plan overrides: `missing_items: {{{inst.key}: N}}` (every score of the instrument"
        + (f"; {', '.join(table_scores)} needs N = 0" if table_scores else "")
        + f"), `reversed_items: {{{inst.key}: [..]}}`.",
    ]
    return "\n".join(lines) + "\n"


def registry_markdown() -> str:
    """An overview table and one section per instrument, in registry (key) order."""
    registry = load_registry()
    lines = [
        "| key | instrument | items | codes | scores (PARAMCD) | rules to sign off |",
        "|---|---|---|---|---|---|",
    ]
    for key, inst in registry.items():
        scores = ", ".join(f"`{s.paramcd}`" for s in inst.scores)
        sign_off = ", ".join(RULE_NAMES.get(r, r) for r in inst.rules_to_sign_off()) or "none"
        lines.append(
            f"| `{key}` | {_cell(inst.name)} | {inst.n_items} | {inst.code_min}..{inst.code_max} | "
            f"{scores} | {sign_off} |"
        )
    return "\n".join(lines) + "\n\n" + "\n".join(instrument_section(i) for i in registry.values())


def replace_in_document(text: str) -> str:
    """``text`` with the registry section between the markers regenerated."""
    return replace_between(text, BEGIN, END, registry_markdown())


def main(argv: list[str] | None = None) -> int:
    return docgen_main(argv, description=__doc__, begin=BEGIN, end=END, render=registry_markdown)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
