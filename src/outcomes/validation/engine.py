"""Validation of a whole extract: reading, typing, rules, quarantine, findings.

Flow per table: read as text (reader) -> strip whitespace and convert types (convert) ->
pandera model, lazy (schemas) -> multi-row rules (checks). Then participants' quarantine
is settled, cross-table rules run on the child tables, and the findings, the clean typed
frames, the quarantine frames and the row accounting are assembled. No step loops over
rows in Python on the path of a valid extract.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_

from outcomes.contract import (
    ADMISSION_COLUMNS,
    ARMS,
    OPTIONAL_COLUMNS,
    PARTICIPANT_COLUMNS,
    PEER_CONTACT_COLUMNS,
    QUESTIONNAIRE_KEY_COLUMNS,
    REQUIRED_COLUMNS,
    TABLE_FILES,
)
from outcomes.errors import ConfigError
from outcomes.instruments import Instrument, load_registry
from outcomes.validation.catalogue import build_catalogue
from outcomes.validation.causes import link_causes
from outcomes.validation.checks import (
    CROSS_TABLE_CHECKS,
    TABLE_CHECKS,
    CrossContext,
    Hits,
    TableState,
    participant_groups,
)
from outcomes.validation.convert import as_array, parse_dates, parse_ints, strip
from outcomes.validation.explanations import load_explanations
from outcomes.validation.findings import (
    ACCOUNTING_COLUMNS,
    DETAIL_COLUMNS,
    EXPLAINED_COLUMNS,
    SUMMARY_COLUMNS,
    FindingsAssembly,
    explained_summary,
    summarise,
    unreadable_findings,
)
from outcomes.validation.keys import lookup
from outcomes.validation.reader import (
    RawTable,
    UnreadableFile,
    UnreadableFiles,
    read_bytes,
    read_table,
)
from outcomes.validation.rules import TABLES, Rule
from outcomes.validation.schemas import column_kind, item_ranges, table_schema
from outcomes.validation.structure import file_findings, row_hits

CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "participants": PARTICIPANT_COLUMNS,
    "questionnaires": QUESTIONNAIRE_KEY_COLUMNS,
    "admissions": ADMISSION_COLUMNS,
    "peer_contacts": PEER_CONTACT_COLUMNS,
}


@dataclass
class ValidationResult:
    """Everything a validation produced; :meth:`write` puts it on disk (docs/validation.md)."""

    findings: pd.DataFrame
    summary: pd.DataFrame
    row_accounting: pd.DataFrame
    clean: dict[str, pd.DataFrame]
    quarantine: dict[str, pd.DataFrame]
    exit_code: int
    data_dir: Path | None = None
    catalogue: Mapping[str, Rule] = field(default_factory=dict, repr=False)

    @property
    def n_errors(self) -> int:
        return int(((self.findings["severity"] == "error") & (self.findings["explained"] == "no")).sum())

    @property
    def explained(self) -> pd.DataFrame:
        """``issues_explained.tsv``: who accepted how many findings of each rule, and when."""
        return explained_summary(self.findings, self.catalogue)

    def counts(self) -> dict[str, int]:
        return {s: int((self.findings["severity"] == s).sum()) for s in ("error", "warning", "notice")}

    def write(self, out_dir: Path | str) -> None:
        from outcomes.validation.report import write_result

        write_result(self, Path(out_dir))


# --------------------------------------------------------------------------------------


def _check_data_cut(data_cut) -> np.datetime64 | None:
    if data_cut is None or data_cut == "":
        return None
    if isinstance(data_cut, dt.datetime):
        data_cut = data_cut.date()
    if not isinstance(data_cut, dt.date):
        text = str(data_cut)
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
                raise ValueError
            data_cut = dt.date.fromisoformat(text)
        except ValueError:
            raise ConfigError(f"data_cut: {text!r} is not a YYYY-MM-DD date") from None
    return np.datetime64(data_cut, "s")


def _check_arms(arms) -> tuple[str, str]:
    if arms is None:
        return (ARMS[0], ARMS[1])
    arms = tuple(str(a) for a in arms)
    if len(arms) != 2 or arms[0] == arms[1] or not all(arms):
        raise ConfigError(f"arms: two different non-empty arm codes are needed, got {arms!r}")
    return arms


_WORKERS = max(1, min(4, os.cpu_count() or 1))
_PANDERA_LOCK = threading.Lock()


@cache
def _default_registry() -> Mapping[str, Instrument]:
    return load_registry()


def read_extract(data_dir: Path) -> dict[str, RawTable]:
    """Read the four files as text; raises :class:`UnreadableFile` when one cannot be read,
    :class:`UnreadableFiles` (each problem, in table order) when several cannot."""
    if not data_dir.exists():
        raise UnreadableFile(str(data_dir), "data directory not found")
    if not data_dir.is_dir():
        raise UnreadableFile(str(data_dir), "not a directory")
    def read(table: str) -> RawTable:
        path = data_dir / TABLE_FILES[table]
        return read_table(path, table, REQUIRED_COLUMNS[table], display=str(path))

    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        futures = {t: pool.submit(read, t) for t in TABLES}
        raws, problems = {}, []
        for t in TABLES:  # in table order, whatever the order the reads finish in
            try:
                raws[t] = futures[t].result()
            except UnreadableFile as exc:
                problems.append(exc)
    if len(problems) > 1:
        raise UnreadableFiles(problems)
    if problems:
        raise problems[0]
    return raws


def validate_extract(
    data_dir: Path | str,
    *,
    explanations: Path | str | None = None,
    arms: tuple[str, str] | None = None,
    registry: Mapping[str, Instrument] | None = None,
    data_cut: dt.date | str | None = None,
) -> ValidationResult:
    """Validate the extract in ``data_dir``.

    ``data_cut`` (a date or ``YYYY-MM-DD``): dates after it are findings (``PAR-018``,
    ``QST-009``, ``ADM-009``, ``PCT-007``); without it they are not checked and a notice
    (``FIL-014``) says so.

    Raises :class:`outcomes.errors.ExtractUnreadableError` when a file (or the explanations
    file) cannot be read at all (exit status 2).
    """
    data_dir = Path(data_dir)
    result = _validate(lambda: read_extract(data_dir), explanations, arms, registry, data_cut)
    result.data_dir = data_dir
    return result


def validate_texts(
    texts: Mapping[str, str | bytes],
    *,
    explanations: Path | str | None = None,
    arms: tuple[str, str] | None = None,
    registry: Mapping[str, Instrument] | None = None,
    data_cut: dt.date | str | None = None,
) -> ValidationResult:
    """Validate an extract held in memory: ``texts`` maps each table (``participants``,
    ``questionnaires``, ``admissions``, ``peer_contacts``) to the text of its CSV file.
    The same checks and outputs as :func:`validate_extract` on the files (findings name
    the table's file name, ``participants.csv``, ...); nothing is read from or written to
    disk but the explanations file."""
    missing = [t for t in TABLES if t not in texts]
    if missing:
        raise UnreadableFile(TABLE_FILES[missing[0]], "no such table in memory", table=missing[0])

    def read() -> dict[str, RawTable]:
        return {t: read_bytes(v if isinstance(v := texts[t], bytes) else v.encode("utf-8"),
                              t, REQUIRED_COLUMNS[t], TABLE_FILES[t]) for t in TABLES}

    return _validate(read, explanations, arms, registry, data_cut)


def _validate(read: Callable[[], dict[str, RawTable]], explanations, arms, registry,
              data_cut) -> ValidationResult:
    """The validation behind :func:`validate_extract` and :func:`validate_texts`."""
    arms_ = _check_arms(arms)
    cut = _check_data_cut(data_cut)
    registry = _default_registry() if registry is None else registry
    catalogue = build_catalogue()
    raws = read()
    expl = load_explanations(Path(explanations), catalogue) if explanations is not None else None
    return _Validation(raws, arms_, registry, catalogue, cut).run(expl)


class _Validation(FindingsAssembly):
    def __init__(self, raws, arms, registry, catalogue, data_cut=None) -> None:
        self.raws: dict[str, RawTable] = raws
        self.data_cut: np.datetime64 | None = data_cut
        self.arms: tuple[str, str] = arms
        self.registry = registry
        self.items = item_ranges(registry)
        self.catalogue: dict[str, Rule] = catalogue
        self.file_rows: list[dict] = []
        self.hits: list[Hits] = []
        self.states: dict[str, TableState] = {}

    # -- findings -----------------------------------------------------------------------
    def file_finding(self, rule_id, table, column="", *, row=1, value="", message=None, record_key=None):
        rule = self.catalogue[rule_id]
        self.file_rows.append(
            {
                "rule_id": rule_id,
                "table": table,
                "row": row,
                "participant_id": "",
                "record_key": column if record_key is None else record_key,
                "column": column,
                "value": value,
                "message": rule.message if message is None else message,
            }
        )

    def add_hits(self, hits: Hits) -> None:
        if len(hits.pos) == 0:
            return
        self.hits.append(hits)
        if self.catalogue[hits.rule_id].action == "quarantine":
            self.states[hits.table].quarantine[hits.pos] = True

    # -- per table ----------------------------------------------------------------------
    def prepare(self, table: str) -> TableState:
        raw = self.raws[table]
        header = raw.header
        contract = CONTRACT_COLUMNS[table]
        items_present: dict[str, tuple[int, int]] = {}
        if table == "questionnaires":
            items_present = {c: r for c, r in self.items.items() if c in header}
        if raw.n_bom == 1:
            self.file_finding("FIL-005", table, "", record_key="")
        for f in file_findings(raw):
            self.file_finding(f["rule_id"], table, f["column"], message=f["message"])
        for k, name in enumerate(header):
            if k not in raw.unnamed and name not in contract and name not in items_present:
                self.file_finding(
                    "FIL-003", table, name,
                    message=f"column {name!r} is not part of the contract (ignored)",
                )
        for name in OPTIONAL_COLUMNS[table]:
            if name not in header:
                self.file_finding("FIL-004", table, name)
        if table == "questionnaires":
            for inst in self.registry.values():
                if not inst.has_own_columns:
                    continue
                cols = inst.item_columns()
                have = [c in header for c in cols]
                if any(have) and not all(have):
                    for c, has in zip(cols, have, strict=True):
                        if not has:
                            self.file_finding(
                                "QST-008", table, c,
                                message=f"instrument {inst.key} has only some of its item columns: "
                                f"{c} is missing",
                            )

        schema = table_schema(table, arms=self.arms, items=items_present)
        n = raw.data.num_rows
        text: dict[str, pa_.Array] = {}
        typed: dict[str, pd.Series | np.ndarray] = {}
        parse_hits: list[Hits] = []
        for col, column in schema.columns.items():
            if col in header:
                arr = as_array(raw.data.column(col))
            else:
                arr = pa_.nulls(n, pa_.string())
            meta = column.metadata
            parse_rule = meta.get("parse", meta)["rule_id"]
            kind = column_kind(schema, col)
            # typed columns are parsed first: a clean integer or date column cannot hold
            # whitespace, so only columns with unparseable values are stripped and re-parsed
            if kind == "date":
                d = parse_dates(arr)
                if len(d.bad):
                    arr = self._strip(table, col, arr)
                    d = parse_dates(arr)
                typed[col] = pd.Series(d.values, copy=False)
                parse_hits.append(Hits(parse_rule, table, d.bad, col))
            elif kind == "int":
                r = parse_ints(arr)
                if len(r.bad):
                    arr = self._strip(table, col, arr)
                    r = parse_ints(arr)
                typed[col] = pd.Series(r.values, copy=False)
                parse_hits.append(Hits(parse_rule, table, r.bad, col))
                if r.n_decimal:
                    self.file_finding(
                        "FIL-007", table, col,
                        message=f"{r.n_decimal} integral decimal value{'s' if r.n_decimal > 1 else ''} "
                        f"(such as 3.0) accepted as integers (first at line {raw.lines[r.first_decimal]})",
                    )
            else:
                arr = self._strip(table, col, arr)
                typed[col] = arr.to_pandas()
            text[col] = arr
        df = pd.DataFrame(typed, copy=False)
        df.index = pd.RangeIndex(n)
        state = TableState(table, df, text, raw.lines, list(items_present), data_cut=self.data_cut)
        if table != "participants":
            par_ids = self.states["participants"].text["participant_id"]
            state.pcode = lookup(text["participant_id"], par_ids)
            state.pgroup = participant_groups(state, len(par_ids))
        self.states[table] = state
        for h in parse_hits + row_hits(raw, [c for c in schema.columns if c in header]):
            self.add_hits(h)
        self.run_schema(state, schema)
        for rule_id, fn in TABLE_CHECKS.items():
            if table in self.catalogue[rule_id].tables:
                for h in fn(state):
                    self.add_hits(h)
        return state

    def _strip(self, table: str, col: str, arr: pa_.Array) -> pa_.Array:
        st = strip(arr)
        if st.n_changed:
            self.file_finding(
                "FIL-006", table, col,
                message=f"leading/trailing whitespace stripped from {st.n_changed} "
                f"value{'s' if st.n_changed > 1 else ''} (first at line "
                f"{self.raws[table].lines[st.first_changed]})",
            )
        return st.values

    def run_schema(self, state: TableState, schema: pa.DataFrameSchema) -> None:
        """Validate with pandera, lazily; columns that certainly pass are left out.

        A cheap vectorised screen evaluates the built-in checks (isin, ranges, nullable)
        from their pandera statistics; pandera validates (and reports) only the columns
        where a value may fail, plus the dataframe-level checks.
        """
        suspect = [c for c, col in schema.columns.items() if _may_fail(col, state.df[c])]
        if not suspect and not schema.checks:
            return
        schema = pa.DataFrameSchema(
            {c: schema.columns[c] for c in suspect}, checks=schema.checks, name=schema.name
        )
        try:
            with _PANDERA_LOCK:  # pandera keeps global configuration: one validation at a time
                schema.validate(state.df, lazy=True, inplace=True)
            return
        except pa.errors.SchemaErrors as exc:
            fc = exc.failure_cases
        table = state.name
        for (context, column, check), grp in fc.groupby(
            ["schema_context", "column", "check"], dropna=False, sort=False
        ):
            if context == "Column":
                meta = schema.columns[column].metadata or {}
                rule_id = meta.get("rule_id")
                if rule_id is None or str(check).startswith(("dtype", "column_in")):
                    raise RuntimeError(f"unexpected schema failure {check!r} on {table}.{column}")
                pos = np.unique(grp["index"].to_numpy(dtype=np.int64))
                self.add_hits(Hits(rule_id, table, pos, column))
            elif context == "DataFrameSchema" and check in self.catalogue:
                rule = self.catalogue[check]
                if column != rule.columns[0]:
                    continue  # one failure row per column: keep the rule's own column
                pos = np.unique(grp["index"].to_numpy(dtype=np.int64))
                other = rule.columns[1] if len(rule.columns) > 1 else None
                detail = None
                if other:
                    vals = state.text[other].take(pa_.array(pos)).to_pandas()
                    detail = pd.Series(f"{other} " + vals.fillna("").astype(str).to_numpy(dtype=object))
                self.add_hits(Hits(check, table, pos, column, detail))
            else:
                raise RuntimeError(f"unexpected schema failure {check!r} ({context}) on {table}")

    def apply_masks(self, state: TableState) -> None:
        for h in list(self.hits):
            if h.table != state.name or self.catalogue[h.rule_id].action != "mask":
                continue
            s = state.df[h.column]
            if len(h.pos) and s.iloc[h.pos].notna().any():
                m = np.zeros(len(s), dtype=bool)
                m[h.pos] = True
                state.df[h.column] = s.mask(m)

    # -- whole extract --------------------------------------------------------------------
    def run(self, expl: pd.DataFrame | None) -> ValidationResult:
        # participants first (the other tables look their participants up), then the
        # other three side by side: numpy and pyarrow release the GIL for the heavy work.
        # Findings are sorted at the end, so the result does not depend on the schedule.
        if self.data_cut is None:
            self.file_finding("FIL-014", "", "", record_key="")
        self.prepare("participants")
        self.apply_masks(self.states["participants"])

        def child(table: str) -> None:
            self.prepare(table)
            self.apply_masks(self.states[table])

        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            for f in [pool.submit(child, t) for t in TABLES[1:]]:
                f.result()
        par = self.states["participants"]
        keep = ~par.quarantine
        if not keep.any():
            n_in = self.raws["participants"].rows_in
            self.file_finding(
                "FIL-013", "participants", "", record_key="",
                message="no participants: participants.csv "
                + (f"has all {n_in} rows quarantined" if n_in else "has no data rows (header only)")
                + "; nothing can be analysed",
            )
        used_pos = np.full(len(keep), -1, dtype=np.int64)
        used_pos[keep] = np.arange(int(keep.sum()))
        pid_col = self.raws["participants"].header.index("participant_id")
        malformed = [
            f[pid_col].strip()
            for f in self.raws["participants"].bad_fields
            if pid_col < len(f) and f[pid_col].strip()
        ]
        ctx = CrossContext(
            participants=par.df[keep].reset_index(drop=True) if not keep.all() else par.df,
            used_pos=used_pos,
            malformed_ids=pa_.array(malformed, type=pa_.string()),
            children={t: self.states[t] for t in TABLES[1:]},
            control_arm=self.arms[1],
        )
        for fn in CROSS_TABLE_CHECKS.values():
            for h in fn(ctx):
                self.add_hits(h)
        findings = self.assemble_findings()
        findings = link_causes(self.explain(findings, expl), self.catalogue)[list(DETAIL_COLUMNS)]
        clean, quarantine, accounting = self.outputs()
        errors = (findings["severity"] == "error") & (findings["explained"] == "no")
        return ValidationResult(
            findings=findings,
            summary=summarise(findings, self.catalogue),
            row_accounting=accounting,
            clean=clean,
            quarantine=quarantine,
            exit_code=1 if bool(errors.any()) else 0,
            catalogue=self.catalogue,
        )



_RANGE_CHECKS = {
    "in_range": lambda v, st: (v >= st["min_value"] if st.get("include_min", True) else v > st["min_value"])
    & (v <= st["max_value"] if st.get("include_max", True) else v < st["max_value"]),
    "greater_than_or_equal_to": lambda v, st: v >= st["min_value"],
    "less_than_or_equal_to": lambda v, st: v <= st["max_value"],
    "greater_than": lambda v, st: v > st["min_value"],
    "less_than": lambda v, st: v < st["max_value"],
}


def _may_fail(column: pa.Column, s: pd.Series) -> bool:
    """Could a value of ``s`` fail ``column``'s checks? (False: certainly not.)"""
    arr = s.array
    values = None
    if isinstance(arr, pd.arrays.IntegerArray):
        # values and mask without copies where pandas exposes them (values under the mask
        # are ignored: the mask is ORed in below)
        values, isna = getattr(arr, "_data", None), getattr(arr, "_mask", None)
        if values is None or isna is None:
            values, isna = s.to_numpy(dtype=np.int64, na_value=0), s.isna().to_numpy()
    else:
        isna = s.isna().to_numpy()
    if not column.nullable and isna.any():
        return True
    for check in column.checks:
        st = check.statistics or {}
        if check.name == "isin" and "allowed_values" in st:
            ok = s.isin(list(st["allowed_values"])).to_numpy() | isna
        elif check.name in _RANGE_CHECKS and values is not None and check.ignore_na:
            ok = _RANGE_CHECKS[check.name](values, st) | isna  # nulls pass (ignore_na)
        else:
            return True  # not screened: pandera decides
        if not ok.all():
            return True
    return False


__all__ = [
    "ACCOUNTING_COLUMNS",
    "DETAIL_COLUMNS",
    "EXPLAINED_COLUMNS",
    "SUMMARY_COLUMNS",
    "explained_summary",
    "summarise",
    "unreadable_findings",
    "ValidationResult",
    "validate_extract",
]
