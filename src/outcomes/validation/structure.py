"""Findings about a file's structure that the reader observes.

Byte-order marks, columns without a name, values holding a line break and the line span
of malformed records. The reader (:mod:`outcomes.validation.reader`) records what it saw;
this module turns it into file-level findings and row :class:`Hits`, vectorised (a regex
over the Arrow string arrays, run only when some record spans several lines).
Line breaks inside quoted fields are legal CSV (RFC 4180, section 2.6) but no column of
the contract (ids, codes, dates, numbers) can hold one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from outcomes.validation.checks import Hits
from outcomes.validation.convert import as_array
from outcomes.validation.reader import RawTable


def span(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def file_findings(raw: RawTable) -> list[dict]:
    """File-level findings (row 1): ``{"rule_id", "column", "message"}`` (message may be None)."""
    out: list[dict] = []
    if raw.n_bom > 1:
        out.append({"rule_id": "FIL-012", "column": "", "message": None})
    empty = [
        k for k in raw.unnamed if raw.data.column(raw.header[k]).null_count == raw.data.num_rows
    ]
    if empty:
        cols = ", ".join(str(k + 1) for k in empty)
        out.append(
            {
                "rule_id": "FIL-010",
                "column": raw.header[empty[0]],
                "message": f"{len(empty)} column{'s' if len(empty) > 1 else ''} without a name "
                f"and without values (column{'s' if len(empty) > 1 else ''} {cols} of the header) "
                "ignored; spreadsheets leave them after deleted columns: delete "
                f"{'them' if len(empty) > 1 else 'it'} to silence this notice",
            }
        )
    return out


def row_hits(raw: RawTable, checked: Iterable[str]) -> list[Hits]:
    """Rows with a value in a column without a name (``FIL-011``), and rows whose value in
    one of the ``checked`` columns holds a line break (``FIL-009``, naming the lines the
    record spans)."""
    hits: list[Hits] = []
    for k in raw.unnamed:
        label = raw.header[k]
        col = as_array(raw.data.column(label))
        if col.null_count < len(col):
            pos = np.flatnonzero(col.is_valid().to_numpy(zero_copy_only=False))
            hits.append(Hits("FIL-011", raw.table, pos, label))
    if raw.end_lines is None or not bool((raw.end_lines != raw.lines).any()):
        return hits
    for name in checked:
        col = as_array(raw.data.column(name))
        broken = pc.match_substring_regex(col, r"[\r\n]").fill_null(False)
        pos = np.flatnonzero(broken.to_numpy(zero_copy_only=False))
        if len(pos):
            detail = pd.Series(
                [f"the record spans {span(a, b)}" for a, b in zip(raw.lines[pos], raw.end_lines[pos], strict=True)],
                dtype=object,
            )
            hits.append(Hits("FIL-009", raw.table, pos, name, detail))
    return hits


def malformed_messages(raw: RawTable) -> list[str]:
    """``FIL-002`` message of each malformed record: its field count, and the lines it
    spans when a quoted field runs over a line break."""
    width = len(raw.header)
    named = max((k + 1 for k in range(width) if k not in raw.unnamed), default=0)
    ends = raw.bad_end_lines if raw.bad_end_lines is not None else raw.bad_lines
    out = []
    for fields, a, b in zip(raw.bad_fields, raw.bad_lines, ends, strict=True):
        msg = f"row has {len(fields)} fields, the header has {width}"
        if named <= len(fields) < width:
            msg += (
                f" ({width - named} of them without a name at its end: delete the header's "
                "trailing commas)"
            )
        elif len(fields) > width and not any(f.strip() for f in fields[width:]):
            msg += " (the extra fields are empty: delete the row's trailing commas)"
        if b != a:
            msg += (
                f"; the record spans {span(int(a), int(b))}: a double quote opened on line {a} "
                f"closes on line {b}?"
            )
        out.append(msg)
    return out
