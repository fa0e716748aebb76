"""The explanations file: findings a data manager accepts, with a reason.

A TSV with the header ``rule_id<TAB>record_key<TAB>reason<TAB>explained_by<TAB>explained_on``
(more columns are ignored), in the dialect of ``issues_detail.tsv`` (a field starting with ``"`` is quoted, ``""``
is one ``"``). Every line names one rule id and one record key, as ``issues_detail.tsv``
shows it (with the leading ``'`` that guards a spreadsheet formula) or as in the data;
every finding with that rule id and record key is shown as explained and, if it is an
error, no longer counts for the exit status. ``explained_by`` (who accepted it, free
text) and ``explained_on`` (when, ``YYYY-MM-DD``) are the audit trail: a file of the
earlier three-column format is read, its explanations unattributed (the engine lists
a notice per absent column). A file that cannot be read, lacks a required column or has
one audit column without the other, has an empty field, an ``explained_on`` that is not a
date, an unknown rule id or a duplicated (rule_id, record_key) is unreadable (exit
status 2); so is a file saved as UTF-16 (Excel's "Unicode Text") or one
that is not a regular file (a named pipe). Leading UTF-8 byte-order marks, one or
several, are stripped.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa

from outcomes.validation.convert import parse_dates
from outcomes.validation.reader import UnreadableFile, read_regular_file, utf16_problem

REQUIRED_COLUMNS = ("rule_id", "record_key", "reason")
AUDIT_COLUMNS = ("explained_by", "explained_on")
"""Who accepted an explanation (free text) and when (``YYYY-MM-DD``); optional as a pair."""
EXPLANATION_COLUMNS = (*REQUIRED_COLUMNS, *AUDIT_COLUMNS)
_RESAVE_TSV = (
    "re-save it as UTF-8 tab-separated text (Excel's 'Unicode Text' is UTF-16: open it in a "
    "text editor and save it with the encoding UTF-8)"
)


def load_explanations(path: Path, known_rules) -> pd.DataFrame:
    """Explanations as a frame ``rule_id, record_key, reason, explained_by, explained_on, line``.

    ``attrs["absent"]`` names the audit columns the header lacks (both or none); their
    values are then empty.
    """
    display = str(path)

    def fail(problem: str, line: int | None = None) -> UnreadableFile:
        return UnreadableFile(display, problem, table="explanations", line=line)

    if not path.exists():
        raise fail("explanations file not found")
    data = read_regular_file(path, display, "explanations")
    utf16 = utf16_problem(data, _RESAVE_TSV)
    if utf16 is not None:
        raise fail(utf16, 1)
    if b"\x00" in data:
        raise fail("binary file, not a TSV text file")
    try:
        text = data.decode("utf-8").lstrip("\ufeff")  # one or more byte-order marks
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise fail(f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at line {line})", line) from None
    # the dialect issues_detail.tsv is written in: a field that starts with " is quoted and
    # "" inside it is one ", so a record key copied from the listing (or the listing read
    # and written again with a TSV library) arrives unchanged
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", strict=True)
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in reader:
            rows.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise fail(f"line {line}: {exc} (a field that starts with a double quote must end with one)",
                   line) from None
    if not rows or not any(f.strip() for f in rows[0][1]):
        raise fail(f"empty file: expected the header {', '.join(EXPLANATION_COLUMNS)}", 1)
    header = [h.strip() for h in rows[0][1]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        hint = " (is it tab-separated?)" if len(header) == 1 else ""
        raise fail(f"header lacks column(s) {', '.join(missing)}{hint}", 1)
    absent = [c for c in AUDIT_COLUMNS if c not in header]
    if len(absent) == 1:
        (have,) = set(AUDIT_COLUMNS) - set(absent)
        raise fail(f"header has {have} but lacks {absent[0]} (who accepted an explanation and "
                   "when go together)", 1)
    columns = [c for c in EXPLANATION_COLUMNS if c not in absent]
    where = [header.index(c) for c in columns]
    out = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in rows[1:]:
        if not row or not any(f.strip() for f in row) or row[0].lstrip().startswith("#"):
            continue  # blank line or comment (rule ids never start with #)
        if len(row) != len(header):
            raise fail(f"line {line}: {len(row)} fields, the header has {len(header)}", line)
        values = [row[i].strip() for i in where] + [""] * len(absent)
        rule_id, record_key, reason, by, on = values
        for name, value in zip(columns, values, strict=False):
            if not value and name != "record_key":
                raise fail(f"line {line}: empty {name}", line)
        if on and len(parse_dates(pa.array([on])).bad):
            raise fail(f"line {line}: explained_on {on!r} is not a valid YYYY-MM-DD date", line)
        if rule_id not in known_rules:
            raise fail(f"line {line}: unknown rule id {rule_id!r}", line)
        key = (rule_id, record_key)
        if key in seen:
            raise fail(
                f"line {line}: {rule_id} {record_key!r} is already explained on line {seen[key]}",
                line,
            )
        seen[key] = line
        out.append((rule_id, record_key, reason, by, on, line))
    frame = pd.DataFrame(out, columns=[*EXPLANATION_COLUMNS, "line"])
    frame.attrs["absent"] = tuple(absent)
    return frame
