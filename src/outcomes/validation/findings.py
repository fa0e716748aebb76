"""Findings, quarantine and row accounting of a validation: how the listing is assembled.

:class:`FindingsAssembly` is the part of the engine's validation that turns rule hits into
the rows of ``issues_detail.tsv`` (record keys, original values, explanations) and the
used and quarantined rows into ``clean/``, ``quarantine/`` and ``row_accounting.tsv``;
the module-level functions sort, summarise and build the one finding of an unreadable
extract.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa_

from outcomes.spreadsheet import neutralise_values
from outcomes.validation.catalogue import build_catalogue
from outcomes.validation.checks import Hits, TableState
from outcomes.validation.convert import as_array
from outcomes.validation.reader import RawTable, UnreadableFile
from outcomes.validation.rules import TABLES, Rule
from outcomes.validation.structure import malformed_messages

DETAIL_COLUMNS: tuple[str, ...] = (
    "rule_id",
    "severity",
    "category",
    "table",
    "row",
    "participant_id",
    "record_key",
    "column",
    "value",
    "message",
    "explained",
    "reason",
    "explained_by",
    "explained_on",
    "caused_by",
    "knock_ons",
)
"""Columns of ``issues_detail.tsv``; later columns are appended, never inserted."""
SUMMARY_COLUMNS: tuple[str, ...] = (
    "rule_id", "severity", "table", "count", "message", "explained", "root_causes", "knock_ons",
)
ACCOUNTING_COLUMNS: tuple[str, ...] = ("table", "rows_in", "rows_used", "rows_quarantined")
EXPLAINED_COLUMNS: tuple[str, ...] = ("rule_id", "severity", "table", "explained_by", "explained_on", "count")
"""Columns of ``issues_explained.tsv``: who accepted how many findings of a rule, and when."""

KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "participants": ("participant_id",),
    "questionnaires": ("participant_id", "visit"),
    "admissions": ("admission_id",),
    "peer_contacts": ("participant_id", "contact_date", "peer_worker_id"),
}
"""Columns whose values, joined with ``|``, form a row's ``record_key``."""

TABLE_ORDER: tuple[str, ...] = (*TABLES, "explanations")
_FRAME_COLUMNS = ("rule_id", "table", "row", "participant_id", "record_key", "column", "value", "message")
_EXPLANATION_FIELDS = ("reason", "explained_by", "explained_on")


def quarantine_columns(header) -> tuple[str, str]:
    """Names of the two columns the validator adds to a quarantine file.

    ``source_row`` and ``rule_ids``, unless the file has a column of that name already:
    then ``validator_source_row`` (``validator_source_row_2``, ... while taken), so that an
    input column never loses its values.
    """
    taken = set(header)
    out = []
    for base in ("source_row", "rule_ids"):
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"validator_{base}" if k == 2 else f"validator_{base}_{k - 1}"
        taken.add(name)
        out.append(name)
    return out[0], out[1]


def rule_id_lists(hits: list[tuple[str, np.ndarray]], n: int) -> np.ndarray:
    """``;``-joined sorted rule ids of each of ``n`` rows, from (rule_id, positions) pairs.

    Vectorised: each row's set of rules is a bit mask, and only the distinct masks (a
    handful) are turned into text.
    """
    rule_ids = sorted({r for r, _ in hits})
    if len(rule_ids) > 63:  # pragma: no cover - the catalogue has far fewer quarantine rules
        raise ValueError("too many quarantine rules for a 64-bit mask")
    mask = np.zeros(n, dtype=np.uint64)
    for r, pos in hits:
        mask[pos] |= np.uint64(1 << rule_ids.index(r))
    uniq, inverse = np.unique(mask, return_inverse=True)
    text = np.array(
        [";".join(r for k, r in enumerate(rule_ids) if int(u) >> k & 1) for u in uniq], dtype=object
    )
    return text[inverse.reshape(-1)]


class FindingsAssembly:
    """Mixin of the engine's validation (``raws``, ``states``, ``hits``, ``file_rows``,
    ``catalogue``): the findings listing and the output frames."""

    raws: dict[str, RawTable]
    states: dict[str, TableState]
    hits: list[Hits]
    file_rows: list[dict]
    catalogue: dict[str, Rule]

    def _take_text(self, state: TableState, col: str, pos: np.ndarray) -> np.ndarray:
        arr = state.text.get(col)
        if arr is None:
            return np.full(len(pos), "", dtype=object)
        return arr.take(pa_.array(pos)).fill_null("").to_numpy(zero_copy_only=False)

    def _raw_text(self, table: str, col: str, pos: np.ndarray) -> np.ndarray:
        raw = self.raws[table]
        if col not in raw.data.column_names:
            return np.full(len(pos), "", dtype=object)
        arr = as_array(raw.data.column(col))
        return arr.take(pa_.array(pos)).fill_null("").to_numpy(zero_copy_only=False)

    def assemble_findings(self) -> pd.DataFrame:
        frames = []
        if self.file_rows:
            frames.append(pd.DataFrame(self.file_rows, columns=_FRAME_COLUMNS))
        for table in TABLES:
            raw = self.raws[table]
            if len(raw.bad_lines):
                keys = KEY_COLUMNS[table]
                where = [raw.header.index(k) for k in keys]
                pid_at = raw.header.index("participant_id")

                def field_at(fields, i):
                    return fields[i].strip() if i < len(fields) else ""

                frames.append(
                    pd.DataFrame(
                        {
                            "rule_id": "FIL-002",
                            "table": table,
                            "row": raw.bad_lines,
                            "participant_id": [field_at(f, pid_at) for f in raw.bad_fields],
                            "record_key": ["|".join(field_at(f, i) for i in where) for f in raw.bad_fields],
                            "column": "",
                            "value": raw.bad_texts,
                            "message": malformed_messages(raw),
                        },
                        columns=_FRAME_COLUMNS,
                    )
                )
        for h in self.hits:
            state = self.states[h.table]
            rule = self.catalogue[h.rule_id]
            pos = np.asarray(h.pos, dtype=np.int64)
            texts = [self._take_text(state, k, pos) for k in KEY_COLUMNS[h.table]]
            key = texts[0].astype(object)
            for k in texts[1:]:
                key = key + "|" + k
            if h.detail is not None:
                message = (rule.message + ": " + h.detail.astype(str)).to_numpy(dtype=object)
            else:
                message = rule.message
            frames.append(
                pd.DataFrame(
                    {
                        "rule_id": h.rule_id,
                        "table": h.table,
                        "row": state.lines[pos],
                        "participant_id": self._take_text(state, "participant_id", pos),
                        "record_key": key,
                        "column": h.column,
                        "value": self._raw_text(h.table, h.column, pos),
                        "message": message,
                    },
                    columns=_FRAME_COLUMNS,
                )
            )
        if frames:
            f = pd.concat(frames, ignore_index=True)
        else:
            f = pd.DataFrame({c: pd.Series(dtype=object) for c in _FRAME_COLUMNS})
        f["row"] = f["row"].astype("Int64")
        f = f.drop_duplicates(["rule_id", "table", "row", "column"], keep="first")
        sev = {k: r.severity for k, r in self.catalogue.items()}
        cat = {k: r.category for k, r in self.catalogue.items()}
        f["severity"] = f["rule_id"].map(sev)
        f["category"] = f["rule_id"].map(cat)
        return sort_findings(f)

    def explain(self, f: pd.DataFrame, expl: pd.DataFrame | None) -> pd.DataFrame:
        """Mark the findings an explanation names (``explained``, ``reason``, ``explained_by``,
        ``explained_on``); stale explanations (``FIL-008``) and absent audit columns
        (``FIL-004``) of the explanations file are notices."""
        f = f.copy()
        f["explained"] = "no"
        for c in _EXPLANATION_FIELDS:
            f[c] = ""
        if expl is None:
            return f
        extra = [
            self._explanations_finding("FIL-004", 1, column, column,
                                       f"column {column} absent: who accepted each explanation and "
                                       "when is not recorded (add the columns explained_by and "
                                       "explained_on)")
            for column in expl.attrs.get("absent", ())
        ]
        if len(expl):
            # an explanation names the record key as issues_detail.tsv shows it (a guarded
            # formula keeps its leading ') or as the data have it; the shown form wins
            rule_ids = f["rule_id"].astype(str).to_numpy(dtype=object)
            raw = f["record_key"].astype(str).to_numpy(dtype=object)
            ekey = pd.MultiIndex.from_frame(expl[["rule_id", "record_key"]].astype(str))
            at = ekey.get_indexer(pd.MultiIndex.from_arrays([rule_ids, neutralise_values(raw)]))
            at_raw = ekey.get_indexer(pd.MultiIndex.from_arrays([rule_ids, raw]))
            at = np.where(at >= 0, at, at_raw)
            hit = at >= 0
            f.loc[hit, "explained"] = "yes"
            for c in _EXPLANATION_FIELDS:
                f.loc[hit, c] = expl[c].to_numpy(dtype=object)[at[hit]]
            used = np.zeros(len(expl), dtype=bool)
            used[at[hit]] = True
            unused = expl[~used]
            extra += [
                self._explanations_finding("FIL-008", line, "", key, value=rule_id)
                for line, key, rule_id in zip(unused["line"], unused["record_key"], unused["rule_id"],
                                              strict=True)
            ]
        if extra:
            extra_f = pd.DataFrame(extra, columns=[*_FRAME_COLUMNS, "severity", "category", "explained",
                                                   *_EXPLANATION_FIELDS])
            extra_f["row"] = extra_f["row"].astype("Int64")
            f = sort_findings(pd.concat([f, extra_f], ignore_index=True))
        return f

    def _explanations_finding(self, rule_id, line, column, record_key, message=None, value="") -> dict:
        rule = self.catalogue[rule_id]
        return {"rule_id": rule_id, "severity": rule.severity, "category": rule.category,
                "table": "explanations", "row": line, "participant_id": "", "record_key": record_key,
                "column": column, "value": value, "message": message or rule.message,
                "explained": "no", **dict.fromkeys(_EXPLANATION_FIELDS, "")}

    def outputs(self):
        clean: dict[str, pd.DataFrame] = {}
        quarantine: dict[str, pd.DataFrame] = {}
        rows = []
        qrules: dict[str, list[tuple[str, np.ndarray]]] = {t: [] for t in TABLES}
        for h in self.hits:
            if self.catalogue[h.rule_id].action == "quarantine":
                qrules[h.table].append((h.rule_id, np.asarray(h.pos, dtype=np.int64)))
        for table in TABLES:
            state, raw = self.states[table], self.raws[table]
            keep = ~state.quarantine
            df = state.df[keep] if not keep.all() else state.df
            df = df.reset_index(drop=True)
            df["source_row"] = pd.array(state.lines[keep], dtype="Int64")
            clean[table] = df
            quarantine[table] = self._quarantine_frame(table, state, raw, qrules[table])
            rows.append(
                {
                    "table": table,
                    "rows_in": raw.rows_in,
                    "rows_used": len(df),
                    "rows_quarantined": len(quarantine[table]),
                }
            )
            if raw.rows_in != len(df) + len(quarantine[table]):  # pragma: no cover - invariant
                raise AssertionError(f"{table}: rows in != rows used + rows quarantined")
        return clean, quarantine, pd.DataFrame(rows, columns=list(ACCOUNTING_COLUMNS))

    def _quarantine_frame(self, table, state, raw, qhits) -> pd.DataFrame:
        header = raw.header
        names = raw.data.column_names
        src_col, ids_col = quarantine_columns(header)
        cols = [*header, src_col, ids_col]
        parts = []
        pos = np.flatnonzero(state.quarantine)
        if len(pos):
            ids = rule_id_lists(qhits, len(state.quarantine))[pos]
            # the text stays in Arrow buffers (pandas' str dtype): no Python string per cell
            taken = raw.data if len(pos) == raw.data.num_rows else raw.data.take(pa_.array(pos))
            part = pa_.Table.from_arrays(
                [as_array(taken.column(n)).fill_null("") for n in names], names=list(header)
            ).to_pandas()
            part[src_col] = state.lines[pos]
            part[ids_col] = ids
            parts.append(part)
        if len(raw.bad_lines):
            width = len(header)

            def fit(fields: list[str]) -> list[str]:
                if len(fields) > width:
                    return [*fields[: width - 1], ",".join(fields[width - 1 :])]
                return fields + [""] * (width - len(fields))

            part = pd.DataFrame([fit(f) for f in raw.bad_fields], columns=header, dtype=object)
            part[src_col] = raw.bad_lines
            part[ids_col] = "FIL-002"
            parts.append(part)
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        # avoid copies of what may be most of the extract's text: concatenate, sort and
        # reorder only when needed
        out = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        if not out[src_col].is_monotonic_increasing:
            out = out.sort_values(src_col, kind="stable").reset_index(drop=True)
        out[src_col] = out[src_col].astype("Int64")
        return out if list(out.columns) == cols else out[cols]


def sort_findings(f: pd.DataFrame) -> pd.DataFrame:
    order = {t: i for i, t in enumerate(TABLE_ORDER)}
    key_table = f["table"].map(order).fillna(len(order))
    f = f.assign(_t=key_table, _r=f["row"].fillna(0))
    f = f.sort_values(["_t", "_r", "column", "rule_id"], kind="stable")
    return f.drop(columns=["_t", "_r"]).reset_index(drop=True)


def summarise(findings: pd.DataFrame, catalogue: Mapping[str, Rule]) -> pd.DataFrame:
    """One row per rule and table: ``count`` findings, of which ``explained`` are explained
    and ``root_causes`` are not knock-ons; ``knock_ons``: the knock-on findings they caused
    (each counted once)."""
    if len(findings) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SUMMARY_COLUMNS})
    f = findings.assign(_x=(findings["explained"] == "yes").astype(int),
                        _root=(findings["caused_by"] == "").astype(int))
    s = f.groupby(["rule_id", "table"], sort=False).agg(
        count=("rule_id", "size"), explained=("_x", "sum"), root_causes=("_root", "sum")
    ).reset_index()
    # copies of a duplicated id share their knock-ons: count them once per rule
    causes = f[f["knock_ons"] > 0].drop_duplicates(["rule_id", "table", "participant_id"])
    caused = causes.groupby(["rule_id", "table"], sort=False)["knock_ons"].sum()
    s["knock_ons"] = pd.MultiIndex.from_frame(s[["rule_id", "table"]]).map(caused).fillna(0).astype(int)
    s["severity"] = s["rule_id"].map({k: r.severity for k, r in catalogue.items()})
    s["message"] = s["rule_id"].map({k: r.message for k, r in catalogue.items()})
    return _catalogue_order(s, catalogue)[list(SUMMARY_COLUMNS)].reset_index(drop=True)


def _catalogue_order(s: pd.DataFrame, catalogue: Mapping[str, Rule], *then: str) -> pd.DataFrame:
    """Rows by rule (catalogue order), table (listing order), then ``then``."""
    order = {k: i for i, k in enumerate(catalogue)}
    t_order = {t: i for i, t in enumerate(TABLE_ORDER)}
    s = s.assign(_o=s["rule_id"].map(order), _t=s["table"].map(t_order))
    return s.sort_values(["_o", "_t", *then], kind="stable")


def explained_summary(findings: pd.DataFrame, catalogue: Mapping[str, Rule]) -> pd.DataFrame:
    """The audit trail without record keys: explained findings counted per rule, table,
    ``explained_by`` and ``explained_on`` (catalogue order, then date and name)."""
    e = findings[findings["explained"] == "yes"]
    if len(e) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EXPLAINED_COLUMNS})
    by = ["rule_id", "table", "explained_by", "explained_on"]
    s = e.groupby(by, sort=False).size().rename("count").reset_index()
    s["severity"] = s["rule_id"].map({k: r.severity for k, r in catalogue.items()})
    s = _catalogue_order(s, catalogue, "explained_on", "explained_by")
    return s[list(EXPLAINED_COLUMNS)].reset_index(drop=True)


def unreadable_findings(exc: UnreadableFile | Exception) -> pd.DataFrame:
    """The findings of an unreadable extract (exit status 2): one per file that cannot be read."""
    rule = build_catalogue()["FIL-001"]
    rows = []
    for p in getattr(exc, "problems", (exc,)):
        file = getattr(p, "file", "")
        rows.append({
            "rule_id": rule.rule_id,
            "severity": rule.severity,
            "category": rule.category,
            "table": getattr(p, "table", "") or "",
            "row": getattr(p, "line", None),
            "participant_id": "",
            "record_key": "",
            "column": "",
            "value": file,
            "message": f"{file}: {getattr(p, 'problem', str(p))}",
            "explained": "no",
            "reason": "",
            "explained_by": "",
            "explained_on": "",
            "caused_by": "",
            "knock_ons": 0,
        })
    f = pd.DataFrame(rows, columns=list(DETAIL_COLUMNS))
    f["row"] = f["row"].astype("Int64")
    return f


__all__ = [
    "ACCOUNTING_COLUMNS",
    "DETAIL_COLUMNS",
    "EXPLAINED_COLUMNS",
    "KEY_COLUMNS",
    "SUMMARY_COLUMNS",
    "FindingsAssembly",
    "explained_summary",
    "quarantine_columns",
    "sort_findings",
    "summarise",
    "unreadable_findings",
]
