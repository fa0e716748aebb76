"""Writing a validation's outputs (docs/validation.md) and the command-line entry point."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from importlib import resources
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from outcomes import __version__
from outcomes.atomic import atomic_directory
from outcomes.errors import ExtractUnreadableError, OutcomesError
from outcomes.spreadsheet import GUARD, NEEDS_GUARD, PLAIN_NUMBER, neutralise_formulas
from outcomes.validation.catalogue import build_catalogue
from outcomes.validation.causes import knock_on_groups
from outcomes.validation.console import summary_text, unreadable_text
from outcomes.validation.engine import (
    ACCOUNTING_COLUMNS,
    SUMMARY_COLUMNS,
    ValidationResult,
    explained_summary,
    summarise,
    unreadable_findings,
    validate_extract,
)
from outcomes.validation.rules import TABLES

DETAIL_FILE = "issues_detail.tsv"
SUMMARY_FILE = "issues_summary.tsv"
EXPLAINED_FILE = "issues_explained.tsv"
HTML_FILE = "validation.html"
ACCOUNTING_FILE = "row_accounting.tsv"
STATUS_FILE = "exit_status.txt"
# What may sit in an output directory that the validator replaces as a whole: its own
# outputs and the pipeline gate's mark (workflow/rules/validate.smk).
OWN_ENTRIES = frozenset({DETAIL_FILE, SUMMARY_FILE, EXPLAINED_FILE, HTML_FILE, ACCOUNTING_FILE,
                         STATUS_FILE, "clean", "quarantine", "PASSED"})


def _tsv(df: pd.DataFrame, path: Path) -> None:
    """A listing for people: text cells that a spreadsheet would run as a formula get a
    leading ``'`` (:func:`outcomes.spreadsheet.neutralise_formulas`)."""
    neutralise_formulas(df).to_csv(path, sep="\t", index=False, lineterminator="\n")


HTML_MAX_PER_RULE = 20_000
"""validation.html embeds at most this many findings of each rule and table (the first, in
listing order); issues_detail.tsv always holds all of them."""


def root_causes_first(shown: pd.DataFrame) -> pd.DataFrame:
    """The listing order of validation.html: the findings that caused knock-ons first (most
    knock-ons first, the copies of one key together), then the others in listing order."""
    k = shown["knock_ons"].to_numpy(dtype=np.int64)
    if not (k > 0).any():
        return shown
    key = shown.groupby(["rule_id", "participant_id"], sort=False).ngroup().to_numpy()
    order = np.lexsort((np.arange(len(shown)), np.where(k > 0, key, 0), -k, k == 0))
    return shown.iloc[order].reset_index(drop=True)


def _render_html(findings: pd.DataFrame, summary: pd.DataFrame, accounting: pd.DataFrame | None,
                 exit_code: int, data_dir: str, *, max_per_rule: int = HTML_MAX_PER_RULE) -> str:
    """validation.html: counts over every finding, the listing capped at ``max_per_rule``
    findings per rule and table, so that millions of findings still make a page a browser
    (and this process) can hold. Root causes lead the listing; ``groups`` of the embedded
    data pairs each cause's row with its knock-ons' rows, which the page folds under it."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("outcomes.validation").joinpath("templates", name).read_text("utf-8")
        ),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    catalogue = build_catalogue()
    rank = findings.groupby(["rule_id", "table"], sort=False, dropna=False).cumcount().to_numpy()
    capped = bool(len(findings)) and int(rank.max()) >= max_per_rule
    shown = root_causes_first(findings[rank < max_per_rule] if capped else findings)
    cols = list(shown.columns)
    rows = shown.astype(object).where(shown.notna(), "").to_numpy().tolist()
    payload = _script_json(
        {"columns": cols, "rows": rows, "total": len(findings), "per_rule": max_per_rule if capped else None,
         "groups": knock_on_groups(shown, catalogue)}
    )
    del rows
    counts = {s: int((findings["severity"] == s).sum()) for s in ("error", "warning", "notice")}
    unexplained = int(((findings["severity"] == "error") & (findings["explained"] == "no")).sum())
    causes = findings[findings["knock_ons"] > 0]
    records = summary.to_dict("records")
    for r in records:
        r["shown"] = min(int(r["count"]), max_per_rule)
    return env.get_template("validation.html.j2").render(
        data_dir=data_dir,
        version=__version__,
        exit_code=exit_code,
        counts=counts,
        unexplained=unexplained,
        n_findings=len(findings),
        n_shown=len(shown),
        n_knock_ons=int((findings["caused_by"] != "").sum()),
        n_cause_rows=len(causes.drop_duplicates(["table", "row"])),
        max_per_rule=max_per_rule,
        detail_file=DETAIL_FILE,
        summary=records,
        explained=explained_summary(findings, catalogue).to_dict("records"),
        accounting=None if accounting is None else accounting.to_dict("records"),
        findings_json=payload,
        listing_json=_script_json(
            {"detail_file": DETAIL_FILE, "guard": GUARD, "needs_guard": NEEDS_GUARD, "plain_number": PLAIN_NUMBER}
        ),
    )


def _script_json(obj) -> str:
    """``obj`` as JSON that can sit inside a ``<script>`` element (no ``<``, ``>``, ``&``)."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _clean_table(df: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(df, preserve_index=False)
    fields = []
    arrays = []
    for f, col in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(f.type):
            col = col.cast(pa.date32())
            f = pa.field(f.name, pa.date32())
        elif pa.types.is_large_string(f.type) or pa.types.is_string(f.type):
            col = col.cast(pa.string())
            f = pa.field(f.name, pa.string())
        fields.append(f)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def clean_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A clean table as the derivation reads it from ``clean/<table>.parquet``
    (:func:`outcomes.adam.read_clean`), without the file."""
    return _clean_table(df).to_pandas()


@contextmanager
def _replacing(out_dir: Path, exit_code: int) -> Iterator[Path]:
    """A temporary directory that replaces ``out_dir`` as a whole once complete.

    A killed, failing or full-disk write leaves the earlier outputs untouched
    (:func:`outcomes.atomic.atomic_directory`); a directory holding anything but
    validator outputs is refused rather than replaced.
    """
    out_dir = Path(out_dir)
    if out_dir.is_dir():
        foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in OWN_ENTRIES)
        if foreign:
            raise OutcomesError(
                f"{out_dir}: holds files that are not validation outputs ({', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}); give --out an empty or a validation directory"
            )
    with atomic_directory(out_dir) as tmp:
        yield tmp
        (tmp / STATUS_FILE).write_text(f"{exit_code}\n", encoding="utf-8")


def write_result(result: ValidationResult, out_dir: Path) -> None:
    """Write every output into ``out_dir``, replacing the earlier ones as a whole."""
    with _replacing(out_dir, result.exit_code) as tmp:
        _write_result(result, tmp)


def _write_result(result: ValidationResult, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    _tsv(result.findings, out_dir / DETAIL_FILE)
    _tsv(result.summary, out_dir / SUMMARY_FILE)
    _tsv(result.explained, out_dir / EXPLAINED_FILE)
    _tsv(result.row_accounting, out_dir / ACCOUNTING_FILE)
    (out_dir / "quarantine").mkdir(exist_ok=True)
    (out_dir / "clean").mkdir(exist_ok=True)
    for table in TABLES:
        result.quarantine[table].to_csv(out_dir / "quarantine" / f"{table}.csv", index=False, lineterminator="\n")
        pq.write_table(_clean_table(result.clean[table]), out_dir / "clean" / f"{table}.parquet")
    html = _render_html(
        result.findings, result.summary, result.row_accounting, result.exit_code,
        str(result.data_dir or ""),
    )
    (out_dir / HTML_FILE).write_text(html, encoding="utf-8")


def write_unreadable(exc: ExtractUnreadableError, out_dir: Path, data_dir: Path) -> None:
    """Outputs of an unreadable extract: the listing with its one finding, nothing else."""
    with _replacing(out_dir, 2) as tmp:
        _write_unreadable(exc, tmp, data_dir)


def _write_unreadable(exc: ExtractUnreadableError, out_dir: Path, data_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    findings = unreadable_findings(exc)
    summary = summarise(findings, build_catalogue())
    _tsv(findings, out_dir / DETAIL_FILE)
    _tsv(summary[list(SUMMARY_COLUMNS)], out_dir / SUMMARY_FILE)
    _tsv(explained_summary(findings, build_catalogue()), out_dir / EXPLAINED_FILE)
    # no stale outputs of an earlier run may remain next to this listing
    stale = [out_dir / ACCOUNTING_FILE]
    stale += [out_dir / "clean" / f"{t}.parquet" for t in TABLES]
    stale += [out_dir / "quarantine" / f"{t}.csv" for t in TABLES]
    for path in stale:
        path.unlink(missing_ok=True)
    html = _render_html(findings, summary, None, 2, str(data_dir))
    (out_dir / HTML_FILE).write_text(html, encoding="utf-8")


def read_clean(out_dir: Path | str, table: str) -> pd.DataFrame:
    """A table of ``<out_dir>/clean/`` as pandas: dates datetime64[s], integers Int64, text str."""
    t = pq.read_table(Path(out_dir) / "clean" / f"{table}.parquet")
    df = t.to_pandas(date_as_object=False, types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    for f in t.schema:
        if pa.types.is_date32(f.type):
            df[f.name] = df[f.name].astype("datetime64[s]")
    return df


def _write_failure(write, out_dir: Path) -> str | None:
    """Run ``write``; the one-line reason it failed (nothing is half-written), or None."""
    try:
        write()
    except OutcomesError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot write to {out_dir}: {exc.strerror or exc}; earlier outputs left as they were"
    except Exception as exc:
        if os.environ.get("OUTCOMES_DEBUG"):
            raise
        return (f"{out_dir}: internal error while writing ({type(exc).__name__}: {exc}); "
                "set OUTCOMES_DEBUG=1 for a traceback and please report it")
    return None


def _listing(out_dir: Path | None) -> Path | None:
    return Path(out_dir) / HTML_FILE if out_dir is not None else None


def run_validation(
    data_dir: Path,
    out_dir: Path | None,
    explanations: Path | None,
    arms: tuple[str, str] | None,
    data_cut: str | None = None,
) -> int:
    """``outcomes validate``: validate, write the outputs, return the exit status (0/1/2).

    Exit 1 means "unexplained errors listed" and nothing else: every failure of the
    validator itself (unreadable extract or explanations, internal error, failed write)
    is exit 2 with one line on stderr (an unreadable extract: one line per file that
    cannot be read, then where the listing is). A validation that ran ends with its
    summary on stdout (:func:`outcomes.validation.console.summary_text`).
    """
    prog = "outcomes validate"
    try:
        result = validate_extract(data_dir, explanations=explanations, arms=arms, data_cut=data_cut)
    except ExtractUnreadableError as exc:
        failure = None
        if out_dir is not None:
            failure = _write_failure(partial(write_unreadable, exc, Path(out_dir), Path(data_dir)), out_dir)
        print(unreadable_text(exc, _listing(out_dir), failure), end="", file=sys.stderr)
        return 2
    except OutcomesError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # bad data must never end in a traceback
        if os.environ.get("OUTCOMES_DEBUG"):
            raise
        print(
            f"{prog}: {data_dir}: internal error while validating ({type(exc).__name__}: {exc}); "
            "set OUTCOMES_DEBUG=1 for a traceback and please report it",
            file=sys.stderr,
        )
        return 2
    if out_dir is not None:
        failure = _write_failure(lambda: result.write(out_dir), out_dir)
        if failure:
            print(f"{prog}: {failure}", file=sys.stderr)
            return 2
    print(summary_text(result, _listing(out_dir)), end="")
    return result.exit_code


__all__ = ["ACCOUNTING_COLUMNS", "read_clean", "run_validation", "write_result", "write_unreadable"]
