"""SAS transport (XPT version 5) copies of ADSL, ADQS and ADTTE (docs/adam.md, "Submission files").

Written by pyreadstat (``write_xport(..., file_format_version=5)``) with the variable labels
of :mod:`outcomes.adam.models`, each dataset's label and name. Version 5 allows names of
at most 8 characters, labels of at most 40 and character values of at most 200 bytes;
a dataset that breaks a limit, or holds a character that is not ASCII, is refused with a
:class:`~outcomes.adam._inputs.DerivationError` naming the variable. Dates are SAS dates
(days since 1960-01-01) with the format ``DATE9.``; nullable integers are SAS numerics
(missing ``.``). The two header time stamps a transport file holds are set to the data
cut (ADSL ``DCUTDT``, midnight), so the same data give the same bytes. A large dataset is
written a chunk of rows at a time (:func:`write_xpt_chunks`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from outcomes.adam._inputs import DATE_DTYPE, DerivationError
from outcomes.adam.models import LABEL_MAX, NAME_MAX, dataset_label, labels
from outcomes.atomic import atomic_path

#: The datasets with a transport copy, in the order define.xml lists them.
XPT_DATASETS: tuple[str, ...] = ("adsl", "adqs", "adtte")
#: The longest character value (bytes) of a version 5 transport file.
CHAR_MAX = 200
DATE_FORMAT = "DATE9."
#: Rows given to pyreadstat at once (bounds the memory of its Python objects).
CHUNK_ROWS = 262_144
#: SAS's date-time text in the library and member headers: 16 characters, ddMMMyy:hh:mm:ss.
_STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
_OBS_HEADER = b"HEADER RECORD*******OBS     HEADER RECORD"


def from_arrow(table: pa.Table) -> pd.DataFrame:
    """A table of a derived Parquet file as :func:`outcomes.adam.read_adam` returns it."""
    frame = table.to_pandas(date_as_object=False)
    for field in table.schema:
        if pa.types.is_date32(field.type):
            frame[field.name] = frame[field.name].astype(DATE_DTYPE)
    return frame


def xpt_frame(name: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` as pyreadstat writes it (dates as ``datetime.date``, nullable integers as
    floats) and the ``DATE9.`` format of each date variable; checks the version 5 limits."""
    problems = []
    out = {}
    formats = {}
    for col in frame.columns:
        if len(col) > NAME_MAX:
            problems.append(f"name {col} longer than {NAME_MAX} characters")
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            codes, days = pd.factorize(s.to_numpy(dtype="datetime64[D]"))
            dates = np.append(days.astype("datetime64[D]").astype(object), np.array([None], dtype=object))
            out[col] = dates[codes]  # datetime.date or None (NaT: code -1), one object each
            formats[col] = DATE_FORMAT
        elif isinstance(s.dtype, pd.Int64Dtype):
            out[col] = s.astype("float64").to_numpy(na_value=np.nan)
        elif _is_text(s.dtype):
            codes, uniques = pd.factorize(s.astype("str"))
            values = np.asarray(uniques, dtype=object)
            long = [v for v in values if len(v.encode("utf-8")) > CHAR_MAX]
            if long:
                problems.append(f"{col} has values longer than {CHAR_MAX} bytes: {long[0][:40]!r}...")
            odd = [v for v in values if not v.isascii()]
            if odd:
                problems.append(f"{col} has a value that is not ASCII: {odd[0]!r}")
            out[col] = values[codes]  # one Python string per distinct value
        else:
            out[col] = s.to_numpy()
    for col, label in labels(name).items():
        if len(label) > LABEL_MAX:
            problems.append(f"label of {col} longer than {LABEL_MAX} characters")
    if problems:
        raise DerivationError(f"{name.upper()}: cannot be written as SAS transport version 5: "
                              + "; ".join(problems))
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame))), formats


def _stamp(cut: dt.date | None) -> bytes:
    when = cut or dt.date(1960, 1, 1)
    return when.strftime("%d%b%y").upper().encode("ascii") + b":00:00:00"


def _is_text(dtype) -> bool:
    return pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)


def text_widths(frame: pd.DataFrame) -> dict[str, int]:
    """The stored width of each character variable: its longest value in bytes (at least 1)."""
    return {c: max(1, int(frame[c].astype("str").str.encode("utf-8").str.len().max()
                          if len(frame) else 1))
            for c in frame.columns if _is_text(frame[c].dtype)}


def _width_row(frame: pd.DataFrame, widths: Mapping[str, int]) -> pd.DataFrame:
    """One row that fixes each character variable's width (blanks of that width) and is
    otherwise missing: it makes every chunk's file have the same headers."""
    row = {}
    for c in frame.columns:
        if c in widths:
            row[c] = pd.Series([" " * widths[c]], dtype=frame[c].dtype)
        else:
            row[c] = frame[c].iloc[:0].reindex([0])
    return pd.DataFrame(row)


def _chunk_file(name: str, chunk: pd.DataFrame, widths: Mapping[str, int], tmp: Path,
                cut: dt.date | None) -> tuple[bytes, bytes]:
    """(headers, observation bytes) of ``chunk`` written by pyreadstat after the width row."""
    import pyreadstat

    data, formats = xpt_frame(name, pd.concat([_width_row(chunk, widths), chunk],
                                              ignore_index=True))
    var_labels = labels(name)
    pyreadstat.write_xport(data, str(tmp), file_label=dataset_label(name),
                           column_labels=[var_labels[c] for c in data.columns],
                           table_name=name.upper(), file_format_version=5,
                           variable_format=formats)
    del data
    raw = tmp.read_bytes()
    start = raw.index(_OBS_HEADER) + 80
    row_len = sum(widths.get(c, 8) for c in chunk.columns)
    head = _STAMP.sub(_stamp(cut), raw[:start])
    return head, raw[start + row_len:start + row_len * (1 + len(chunk))]


def write_xpt_chunks(name: str, chunks: Iterable[pd.DataFrame], widths: Mapping[str, int],
                     path: str | Path, cut: dt.date | None) -> None:
    """Write dataset ``name`` from ``chunks`` (its rows in file order, a block at a time)
    as one version 5 transport file at ``path``.

    pyreadstat writes each chunk, after a row of blanks that gives every character
    variable its width in ``widths`` (so the headers of all chunks are the same); the file
    is the headers and the chunks' observations without that row, padded with blanks to
    80-byte records, as pyreadstat pads (tests/test_adam_transport.py checks the bytes
    against one pyreadstat call on the whole dataset). Memory is that of one chunk.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        part = tmp.with_name(tmp.name + ".part")
        try:
            size = 0
            with open(tmp, "wb") as out:
                head = None
                for chunk in chunks:
                    h, body = _chunk_file(name, chunk, widths, part, cut)
                    if head is None:
                        head = h
                        out.write(h)
                    elif h != head:
                        raise DerivationError(f"{name.upper()}: transport chunks differ in "
                                              "their headers")
                    out.write(body)
                    size += len(body)
                out.write(b" " * (-size % 80))
        finally:
            part.unlink(missing_ok=True)


def write_xpt(name: str, frame: pd.DataFrame, path: str | Path, cut: dt.date | None,
              chunk_rows: int | None = None) -> None:
    """Write dataset ``name`` (in file order) as a version 5 transport file at ``path``."""
    step = chunk_rows or CHUNK_ROWS
    chunks = (frame.iloc[lo:lo + step] for lo in range(0, max(len(frame), 1), step))
    write_xpt_chunks(name, chunks, text_widths(frame), path, cut)


def write_xpt_file(name: str, parquet: str | Path, path: str | Path,
                   cut: dt.date | None) -> None:
    """:func:`write_xpt` of a dataset's Parquet file, read a chunk at a time (the widths
    from one column at a time): ADQS at n = 100,000 has 4 million rows."""
    pf = pq.ParquetFile(parquet)
    widths = {}
    for field in pf.schema_arrow:
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            col = pf.read(columns=[field.name]).column(0)
            longest = pc.max(pc.binary_length(col)).as_py() if len(col) else None
            widths[field.name] = max(1, longest or 1)

    def chunks():
        if pf.metadata.num_rows == 0:
            yield from_arrow(pf.schema_arrow.empty_table())
        for batch in pf.iter_batches(batch_size=CHUNK_ROWS):
            yield from_arrow(pa.Table.from_batches([batch]))

    write_xpt_chunks(name, chunks(), widths, path, cut)


def data_cut(adsl: pd.DataFrame | None) -> dt.date | None:
    """ADSL's data cut (DCUTDT is the same on every row), None without ADSL rows."""
    if adsl is None or adsl.empty:
        return None
    return pd.Timestamp(adsl["DCUTDT"].iloc[0]).date()
