"""Reading one extract file: byte-level checks, header, records with their line numbers.

Every column is read as text (pyarrow.csv, all columns ``string``); typing happens later,
vectorised, in :mod:`outcomes.validation.convert`. Problems that make a file unreadable
raise :class:`UnreadableFile` (exit status 2). A data row with the wrong number of fields
is not fatal: it is kept aside as a *malformed record* with its line number and quarantined.

Line numbers are physical lines of the file (header = line 1), as an editor shows them.
They are computed without a per-row Python loop:

* fast path (no ``"`` in the file, no blank line, no malformed row, no lone ``\\r``):
  data row *i* is on line *i* + 2;
* otherwise a numpy scan of the bytes finds the record terminators (newlines outside
  double quotes: the parity of the running count of ``"`` bytes, RFC 4180 quoting), so
  quoted fields holding newlines and blank lines keep line numbers right;
* if the scan and pyarrow disagree (a stray quote inside an unquoted field, an unterminated
  quoted field, a pyarrow parse error) the file is re-read with Python's :mod:`csv` module,
  which is slower but reports the exact line of any problem.

Each record also knows the line it ends on (``end_lines``): a record whose quoted field
holds a line break spans several lines, and both lines are named in its findings.
Only regular files are read: a named pipe (FIFO), a device or a socket is refused before
it is opened for a blocking read.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv

from outcomes.errors import ExtractUnreadableError


class UnreadableFile(ExtractUnreadableError):
    """An extract (or explanations) file that cannot be read; knows its table and line."""

    def __init__(self, file: str, problem: str, *, table: str = "", line: int | None = None):
        super().__init__(file, problem)
        self.table = table
        self.line = line


class UnreadableFiles(ExtractUnreadableError):
    """Several files of the extract cannot be read: one :class:`UnreadableFile` each."""

    def __init__(self, problems: list[UnreadableFile]) -> None:
        self._problems = tuple(problems)
        super().__init__(problems[0].file, problems[0].problem)
        self.args = ("; ".join(str(p) for p in self._problems),)

    @property
    def problems(self) -> tuple[UnreadableFile, ...]:
        return self._problems


@dataclass
class RawTable:
    """One file read as text: valid records in ``data``, malformed ones aside."""

    table: str
    display: str
    header: list[str]
    data: pa.Table
    lines: np.ndarray
    bad_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    bad_fields: list[list[str]] = field(default_factory=list)
    bad_texts: list[str] = field(default_factory=list)
    has_bom: bool = False
    end_lines: np.ndarray | None = None
    """Last line of each record of ``data`` (``None``: every record is on one line)."""
    bad_end_lines: np.ndarray | None = None
    """Last line of each malformed record (``None``: each on one line)."""
    n_bom: int = 0
    """Number of UTF-8 byte-order marks the file starts with (all stripped)."""
    unnamed: tuple[int, ...] = ()
    """0-based positions of the header's columns without a name; ``header`` holds a label
    for each (``(unnamed column N)``), never equal to a real column name."""

    @property
    def rows_in(self) -> int:
        return self.data.num_rows + len(self.bad_lines)


_NON_SPACE = re.compile(rb"\S")
_BLOCK_SIZE = 4 << 20
"""pyarrow.csv block size: fewer, larger chunks are cheaper to combine (measured)."""


def read_regular_file(path: Path, display: str, table: str = "") -> bytes:
    """The bytes of ``path``; a missing or non-regular file raises :class:`UnreadableFile`.

    The file is opened non-blocking and checked with ``fstat`` before it is read, so a
    named pipe (FIFO) or a device is refused at once instead of blocking the reader.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise UnreadableFile(display, "file not found", table=table) from None
    except IsADirectoryError:
        raise UnreadableFile(display, "is a directory, not a file", table=table) from None
    except OSError as exc:
        raise UnreadableFile(display, f"cannot be read ({exc.strerror or exc})", table=table) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UnreadableFile(display, "is a directory, not a file", table=table)
        if not stat.S_ISREG(mode):
            kind = (
                "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a special file"
            )
            raise UnreadableFile(
                display, f"not a regular file ({kind}): copy the data into a regular file", table=table
            )
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            return fh.read()
    except OSError as exc:
        raise UnreadableFile(display, f"cannot be read ({exc.strerror or exc})", table=table) from None
    finally:
        if fd >= 0:
            os.close(fd)


def utf16_problem(data: bytes, resave: str) -> str | None:
    """A message if ``data`` looks like UTF-16 text: a UTF-16 byte-order mark, or NUL at
    (at least 3 in 4 of) every other byte of the first 200, as ASCII text in UTF-16 has."""
    what = None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        what = "UTF-16 text (it starts with a UTF-16 byte-order mark)"
    else:
        head = data[:200]
        odd, even = head[1::2], head[0::2]
        if len(head) >= 4 and max(odd.count(0), even.count(0)) >= 0.75 * len(odd):
            what = "UTF-16 text (every other byte is NUL)"
    if what is None:
        return None
    return f"{what}, expected UTF-8: {resave}"


RESAVE_CSV = "re-save it as UTF-8 CSV (in Excel: 'CSV UTF-8 (Comma delimited)')"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _utf8_problem(data: bytes, base_line: int = 0) -> tuple[str, int] | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = base_line + _line_of(data, exc.start)
        return f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at line {line})", line
    return None


_MOJIBAKE_BOM = codecs.BOM_UTF8.decode("cp1252")
"""A UTF-8 byte-order mark read as Windows-1252 and saved again as UTF-8 (``ï»¿``)."""


def _missing_hint(missing: str, header: list[str]) -> str:
    for name in header:
        if name.startswith(_MOJIBAKE_BOM) and name[len(_MOJIBAKE_BOM):] == missing:
            return (
                f" (header has {name!r}: a byte-order mark read as Windows-1252 and saved "
                f"again; {RESAVE_CSV})"
            )
        if name.strip().lower() == missing and name != missing:
            return f" (header has {name!r})"
    return ""


def parse_header(text: str, display: str, table: str) -> list[str]:
    try:
        fields = next(csv.reader([text], strict=True), [])
    except csv.Error as exc:
        raise UnreadableFile(display, f"malformed header: {exc}", table=table, line=1) from None
    if len(fields) == 1:
        for sep, kind in ((";", "semicolon"), ("\t", "tab")):
            if sep in fields[0]:
                raise UnreadableFile(
                    display,
                    f"not comma-separated: the header is one field containing {sep!r} "
                    f"({kind}-separated file?)",
                    table=table,
                    line=1,
                )
    seen: set[str] = set()
    for name in fields:
        if name in seen and name.strip():  # columns without a name are labelled, not duplicates
            raise UnreadableFile(
                display, f"duplicated column name {name!r} in the header", table=table, line=1
            )
        seen.add(name)
    return fields


def column_labels(header: list[str]) -> tuple[list[str], tuple[int, ...]]:
    """Column names with a label ``(unnamed column N)`` (N = 1-based position) for each
    column without a name, and the positions of those columns.

    A label never equals a name of the header (``'`` is appended until it is unique), so
    the reader's own naming cannot collide with a real column.
    """
    taken = set(header)
    labels: list[str] = []
    unnamed: list[int] = []
    for i, name in enumerate(header):
        if name.strip():
            labels.append(name)
            continue
        label = f"(unnamed column {i + 1})"
        while label in taken:
            label += "'"
        taken.add(label)
        labels.append(label)
        unnamed.append(i)
    return labels, tuple(unnamed)


def read_table(path: Path, table: str, required: tuple[str, ...], display: str | None = None) -> RawTable:
    """Read ``path`` as the extract table ``table``; raise :class:`UnreadableFile` if impossible."""
    display = display or str(path)
    return read_bytes(read_regular_file(path, display, table), table, required, display)


def read_bytes(data: bytes, table: str, required: tuple[str, ...], display: str) -> RawTable:
    """Parse the bytes of one file (see :func:`read_table`)."""
    if not data:
        raise UnreadableFile(display, "empty file (0 bytes)", table=table)
    utf16 = utf16_problem(data, RESAVE_CSV)
    if utf16 is not None:
        raise UnreadableFile(display, utf16, table=table, line=1)
    nul = data.find(b"\x00")
    if nul >= 0:
        line = _line_of(data, nul)
        raise UnreadableFile(
            display, f"binary file, not CSV text (NUL byte at line {line})", table=table, line=line
        )
    body = data
    n_bom = 0
    while body.startswith(codecs.BOM_UTF8):  # a doubled mark is stripped too (a warning)
        body = body[3:]
        n_bom += 1
    if _NON_SPACE.search(body) is None:
        raise UnreadableFile(display, "empty file (no header row)", table=table, line=1)
    ends = [i for i in (body.find(b"\n"), body.find(b"\r")) if i >= 0]
    header_bytes = body[: min(ends)] if ends else body
    if not header_bytes.strip():
        raise UnreadableFile(display, "line 1 is blank: expected the header row", table=table, line=1)
    try:
        header_text = header_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            display,
            f"not UTF-8 text (invalid byte 0x{header_bytes[exc.start]:02x} at line 1)",
            table=table,
            line=1,
        ) from None
    header = parse_header(header_text, display, table)
    missing = [c for c in required if c not in header]
    if missing:
        hints = "".join(_missing_hint(m, header) for m in missing[:1])
        raise UnreadableFile(
            display,
            f"missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}{hints}",
            table=table,
            line=1,
        )
    labels, unnamed = column_labels(header)
    raw = _read_with_pyarrow(body, labels, table, display)
    if raw is None:
        raw = _read_with_csv_module(body, labels, table, display)
    raw.has_bom = n_bom > 0
    raw.n_bom = n_bom
    raw.unnamed = unnamed
    return raw


# --------------------------------------------------------------------------------------
# pyarrow path
# --------------------------------------------------------------------------------------


def _read_with_pyarrow(body: bytes, header: list[str], table: str, display: str) -> RawTable | None:
    names = header  # unique labels (column_labels)
    invalid: list[str] = []

    def handler(row) -> str:
        invalid.append(row.text)
        return "skip"

    ends = [i for i in (body.find(b"\n"), body.find(b"\r")) if i >= 0]
    has_quotes = bool(ends) and body.find(b'"', min(ends)) >= 0  # quotes after the header
    try:
        tbl = pv.read_csv(
            pa.BufferReader(body),
            read_options=pv.ReadOptions(column_names=names, skip_rows=1, block_size=_BLOCK_SIZE),
            parse_options=pv.ParseOptions(
                delimiter=",", newlines_in_values=has_quotes, invalid_row_handler=handler
            ),
            convert_options=pv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None  # the csv-module path gives the precise line of the problem
    n = tbl.num_rows
    n_bad = len(invalid)
    lone_cr = body.find(b"\r") >= 0 and body.count(b"\r") != body.count(b"\r\n")
    if not has_quotes and n_bad == 0 and not lone_cr:
        # every line is one record: no blank line iff the lines are exactly header + rows
        n_lines = int(np.count_nonzero(np.frombuffer(body, dtype=np.uint8) == 10))
        n_lines += 0 if body.endswith(b"\n") else 1
        if n_lines == n + 1:
            lines = np.arange(2, n + 2, dtype=np.int64)
            return RawTable(table, display, header, tbl, lines)
    scan = _scan_records(body, has_quotes, lone_cr, n_fields=len(names) if n_bad else None)
    if scan is None:
        return None
    rec_lines, rec_start, rec_end, rec_fields, rec_last = scan
    # rec_* cover the non-empty records after the header
    if len(rec_lines) != n + n_bad:
        return None
    if n_bad:
        bad = rec_fields != len(names)
        if int(bad.sum()) != n_bad:
            return None
    else:
        bad = np.zeros(len(rec_lines), dtype=bool)
    raw = RawTable(table, display, header, tbl, rec_lines[~bad].astype(np.int64))
    raw.end_lines = rec_last[~bad].astype(np.int64)
    if n_bad:
        raw.bad_lines = rec_lines[bad].astype(np.int64)
        raw.bad_end_lines = rec_last[bad].astype(np.int64)
        for s, e in zip(rec_start[bad], rec_end[bad], strict=True):
            text = body[s:e].decode("utf-8", errors="replace")
            raw.bad_texts.append(text)
            raw.bad_fields.append(next(csv.reader(io.StringIO(text, newline="")), []))
    return raw


def _scan_records(body: bytes, has_quotes: bool, lone_cr: bool, n_fields: int | None):
    """Non-empty records after the header: (line, start, end, field count or None, last line).

    A record ends at a newline outside double quotes; a newline is inside quotes when an
    odd number of ``"`` bytes precede it (RFC 4180 quoting; ``""`` escapes keep parity).
    """
    arr = np.frombuffer(body, dtype=np.uint8)
    is_nl = arr == 10
    if lone_cr:
        is_cr = arr == 13
        followed = np.zeros_like(is_cr)
        followed[:-1] = is_nl[1:]
        is_nl |= is_cr & ~followed
    term = np.flatnonzero(is_nl)
    del is_nl
    quotes = np.flatnonzero(arr == 34) if has_quotes else None
    if quotes is not None:
        if len(quotes) % 2:
            return None  # unbalanced quotes: let the csv module name the line
        rec_term = term[np.searchsorted(quotes, term) % 2 == 0]
    else:
        rec_term = term
    starts = np.concatenate(([0], rec_term + 1))
    ends = np.concatenate((rec_term, [len(arr)]))
    keep = starts < len(arr)
    starts, ends = starts[keep], ends[keep]
    # content end without a trailing \r
    has_cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13)
    cend = ends - has_cr
    nonempty = cend > starts
    starts, cend = starts[nonempty], cend[nonempty]
    if len(starts) == 0 or starts[0] != 0:
        return None
    lines = np.searchsorted(term, starts, side="left") + 1
    last = np.searchsorted(term, cend - 1, side="left") + 1  # line of the record's last byte
    starts, cend, lines, last = starts[1:], cend[1:], lines[1:], last[1:]
    fields = None
    if n_fields is not None:
        commas = np.flatnonzero(arr == 44)
        if quotes is not None:
            commas = commas[np.searchsorted(quotes, commas) % 2 == 0]
        fields = np.searchsorted(commas, cend) - np.searchsorted(commas, starts) + 1
    return lines, starts, cend, fields, last


# --------------------------------------------------------------------------------------
# csv-module path (exact, slower; used only when the fast paths disagree)
# --------------------------------------------------------------------------------------


def _read_with_csv_module(body: bytes, header: list[str], table: str, display: str) -> RawTable:
    problem = _utf8_problem(body)
    if problem is not None:
        raise UnreadableFile(display, problem[0], table=table, line=problem[1])
    text = body.decode("utf-8")
    names = header  # unique labels (column_labels)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    good_lines: list[int] = []
    good_last: list[int] = []
    good_rows: list[list[str]] = []
    bad_lines: list[int] = []
    bad_last: list[int] = []
    bad_fields: list[list[str]] = []
    bad_texts: list[str] = []
    src_lines = io.StringIO(text, newline="").readlines()
    last = 0
    first = True
    while True:
        start = last + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                message = f'unbalanced double quote: the quoted field of the record starting at line {start} is never closed'
            else:
                message = f"malformed CSV: {exc} (record starting at line {start})"
            raise UnreadableFile(display, message, table=table, line=start) from None
        last = reader.line_num
        if first:
            first = False
            continue
        if not row:
            continue
        if len(row) == len(names):
            good_lines.append(start)
            good_last.append(last)
            good_rows.append(row)
        else:
            bad_lines.append(start)
            bad_last.append(last)
            bad_fields.append(row)
            bad_texts.append("".join(src_lines[start - 1 : last]).rstrip("\r\n"))
    cols = list(zip(*good_rows, strict=True)) if good_rows else [() for _ in names]
    arrays = [pa.array([v if v != "" else None for v in col], type=pa.string()) for col in cols]
    tbl = pa.Table.from_arrays(arrays, names=names)
    return RawTable(
        table,
        display,
        header,
        tbl,
        np.asarray(good_lines, dtype=np.int64),
        np.asarray(bad_lines, dtype=np.int64),
        bad_fields,
        bad_texts,
        end_lines=np.asarray(good_last, dtype=np.int64),
        bad_end_lines=np.asarray(bad_last, dtype=np.int64),
    )
