"""What ``outcomes validate`` prints when it ends (docs/validation.md, *On the terminal*).

Two renderers over what the validation produced, beside the file writers of
:mod:`outcomes.validation.report`: :func:`summary_text` for a validation that ran (exit
0 or 1; the command prints it on stdout, as ``frictionless validate`` prints its report)
and :func:`unreadable_text` for an extract that cannot be read (exit 2; on stderr, as
every failure of the command itself).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from outcomes.errors import ExtractUnreadableError

MAX_RULES = 10
"""Rules listed on the terminal; the rest are counted in one line (validation.html has all)."""
MESSAGE_WIDTH = 72
"""Characters of a rule's message shown in the list (cut at a word, ``...`` appended)."""
SEVERITIES = ("error", "warning", "notice")
PROG = "outcomes validate"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _short(message: str, width: int = MESSAGE_WIDTH) -> str:
    message = " ".join(str(message).split())
    if len(message) <= width:
        return message
    cut = message[: width - 3].rsplit(" ", 1)[0].rstrip(" ,;:(")
    return cut + "..."


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        cells = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        return ("  " + "  ".join(cells)).rstrip()

    return [line(r) for r in [header, *rows]]


def rule_counts(summary: pd.DataFrame) -> pd.DataFrame:
    """Per rule (over its tables): severity, message, unexplained and explained findings,
    and the knock-on findings its findings caused (``issues_summary.tsv``).

    Ordered errors, warnings, notices; within each, rules with root causes before rules
    whose findings are all knock-ons (as validation.html lists root causes first), then
    largest unexplained count first, then rule id.
    """
    columns = ["rule_id", "severity", "message", "unexplained", "explained", "knock_ons", "root_causes"]
    if len(summary) == 0:
        return pd.DataFrame(columns=columns)
    s = summary.assign(
        count=summary["count"].astype(int), explained=summary["explained"].astype(int),
        knock_ons=summary.get("knock_ons", 0), root_causes=summary.get("root_causes", summary["count"]),
    ).assign(unexplained=lambda d: d["count"] - d["explained"])
    per_rule = s.groupby("rule_id", sort=False).agg(
        severity=("severity", "first"), message=("message", "first"),
        unexplained=("unexplained", "sum"), explained=("explained", "sum"),
        knock_ons=("knock_ons", lambda c: int(c.astype(int).sum())),
        root_causes=("root_causes", lambda c: int(c.astype(int).sum())),
    ).reset_index()
    rank = per_rule["severity"].map({s: i for i, s in enumerate(SEVERITIES)}).fillna(len(SEVERITIES))
    per_rule = per_rule.assign(_rank=rank, _knock_on_only=per_rule["root_causes"] == 0,
                               _neg=-per_rule["unexplained"])
    order = ["_rank", "_knock_on_only", "_neg", "rule_id"]
    return per_rule.sort_values(order).reset_index(drop=True)[columns]


def _rows_block(accounting: pd.DataFrame) -> list[str]:
    rows = [[str(r.table), f"{int(r.rows_in):,}", f"{int(r.rows_used):,}", f"{int(r.rows_quarantined):,}"]
            for r in accounting.itertuples(index=False)]
    total = [f"{int(accounting[c].sum()):,}" for c in ("rows_in", "rows_used", "rows_quarantined")]
    rows.append(["total", *total])
    return ["Rows (rows in = used + quarantined):",
            *_table(["table", "rows in", "used", "quarantined"], rows, right={1, 2, 3})]


def _rules_block(per_rule: pd.DataFrame, max_rules: int) -> list[str]:
    open_ = per_rule[per_rule["unexplained"] > 0]
    if len(open_) == 0:
        return ["Findings: none unexplained."]
    shown, rest = open_.iloc[:max_rules], open_.iloc[max_rules:]
    knock = bool((shown["knock_ons"] > 0).any())
    header = ["rule", "severity", "findings", *(["knock-ons"] if knock else []), "message"]
    rows = [[r.rule_id, r.severity, f"{int(r.unexplained):,}",
             *([f"{int(r.knock_ons):,}" if r.knock_ons else ""] if knock else []), _short(r.message)]
            for r in shown.itertuples(index=False)]
    lines = ["Unexplained findings by rule (errors, warnings, notices; root causes first, largest first):",
             *_table(header, rows, right={2, 3} if knock else {2})]
    if len(rest):
        lines.append(f"  ... and {_plural(len(rest), 'more rule')}: {_by_severity(rest, 'unexplained')}; "
                     "all are in the listing")
    if knock:
        lines.append("  (knock-ons: findings of other tables' rows quarantined with them, counted in their own rule)")
    return lines


def _by_severity(per_rule: pd.DataFrame, column: str) -> str:
    """``12 findings (10 errors, 2 warnings)``."""
    counts = per_rule.groupby("severity", sort=False)[column].sum()
    kinds = ", ".join(_plural(int(counts[s]), s) for s in SEVERITIES if s in counts)
    return f"{_plural(int(per_rule[column].sum()), 'finding')} ({kinds})"


def _explained_line(per_rule: pd.DataFrame) -> str | None:
    done = per_rule[per_rule["explained"] > 0].sort_values("explained", ascending=False, kind="stable")
    if len(done) == 0:
        return None
    rules = ", ".join(f"{r.rule_id} ({int(r.explained):,})" for r in done.iloc[:MAX_RULES].itertuples())
    more = f" and {_plural(len(done) - MAX_RULES, 'more rule')}" if len(done) > MAX_RULES else ""
    return (f"Explained (accepted in the explanations file, not counted above): "
            f"{_by_severity(done, 'explained')} of {rules}{more}.")


def _verdict(n_errors: int, per_rule: pd.DataFrame) -> str:
    if n_errors:
        return (f"Gate FAILED: {_plural(n_errors, 'unexplained error')} (exit status 1); fix the "
                "extract or explain each finding, then validate again.")
    warnings = int(per_rule.loc[per_rule["severity"] == "warning", "unexplained"].sum())
    review = f"; {_plural(warnings, 'warning')} to review" if warnings else ""
    return f"Gate passed: no unexplained errors (exit status 0){review}."


def summary_text(result, listing: Path | str | None, *, max_rules: int = MAX_RULES) -> str:
    """The end-of-run summary of a validation (a :class:`ValidationResult`): rows per table,
    unexplained findings per rule, explained findings, the gate's verdict and the listing."""
    per_rule = rule_counts(result.summary)
    lines = [f"{PROG}: {result.data_dir}" if result.data_dir is not None else PROG]
    lines += _rows_block(result.row_accounting)
    lines += _rules_block(per_rule, max_rules)
    explained = _explained_line(per_rule)
    if explained:
        lines.append(explained)
    lines.append(_verdict(result.n_errors, per_rule))
    if listing is not None:
        lines.append(f"Listing: {listing}")
    return "\n".join(lines) + "\n"


def unreadable_text(exc: ExtractUnreadableError, listing: Path | str | None,
                    failure: str | None = None) -> str:
    """Exit status 2: one line per file that cannot be read, then where the listing is
    (or why it could not be written)."""
    lines = [f"{PROG}: {p}" for p in exc.problems]
    n = len(exc.problems)
    if n > 1:
        what = f"{n} files of the extract cannot be read"
    elif getattr(exc, "table", "") == "explanations":
        what = "the explanations file cannot be read"
    else:
        what = "the extract cannot be read"
    if failure:
        where = f"; listing not written: {failure}"
    elif listing is not None:
        where = f"; listing: {listing}"
    else:
        where = ""
    lines.append(f"{PROG}: {what} (exit status 2){where}")
    return "\n".join(lines) + "\n"


__all__ = ["MAX_RULES", "rule_counts", "summary_text", "unreadable_text"]
