"""The CSV copies of the ADaM datasets, byte for byte what ``DataFrame.to_csv`` writes.

``to_csv`` formats and quotes every cell in Python (24 of derive's 65 s at n = 100,000,
issue 17). This writer formats each column's *distinct* values once, with the formatter
``to_csv`` itself uses for that value (Python's :mod:`csv` writer for text, which quotes
only where needed; pandas for numbers and dates), and assembles the rows with pyarrow
compute, a block of rows at a time, so memory stays bounded. Formatting a value does not
depend on its neighbours, so the bytes are those of
``frame.to_csv(path, index=False, date_format=..., lineterminator="\\n", encoding="utf-8")``
(checked in tests/test_adam_csvcopy.py); a column of any other dtype (not text, integer,
float, boolean or date) falls back to ``to_csv`` for the whole file.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Rows assembled at once (bounds the memory of the row strings, about 100 bytes each).
BLOCK_ROWS = 262_144


def _csv_fields(values: list[str]) -> list[str]:
    """``values`` as the csv module writes them (QUOTE_MINIMAL, ``"`` doubled)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    out = []
    for v in values:
        buf.seek(0)
        buf.truncate()
        writer.writerow([v, ""])  # two fields: a lone empty field would be written '""'
        out.append(buf.getvalue()[:-2])
    return out


def _pandas_fields(uniques: pd.Series, date_format: str) -> list[str] | None:
    """Non-text values as ``to_csv`` formats them (None if the text cannot be split back)."""
    text = pd.DataFrame({"v": uniques.to_numpy(), "s": 0}).to_csv(
        index=False, header=False, date_format=date_format, lineterminator="\n"
    )
    lines = text.split("\n")[:-1]
    if len(lines) != len(uniques) or not all(line.endswith(",0") for line in lines):
        return None
    return [line[:-2] for line in lines]


def _is_text(dtype) -> bool:
    return isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype)
    )


def _formatted_column(series: pd.Series, date_format: str) -> tuple[np.ndarray, pa.Array] | None:
    """``(codes, fields)``: every cell is ``fields[codes[i]]``; None for an unsupported dtype."""
    dtype = series.dtype
    if _is_text(dtype):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        fields = _csv_fields([str(v) for v in uniques])
    elif (
        pd.api.types.is_datetime64_dtype(dtype)
        or pd.api.types.is_integer_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_float_dtype(dtype)
    ):
        if isinstance(dtype, np.dtype) and dtype.kind == "f":
            # distinct bit patterns, so that -0.0 and 0.0 keep their own text
            values = series.to_numpy()
            present = ~np.isnan(values)
            inverse, bits = pd.factorize(values[present].view(np.int64))
            codes = np.full(len(values), -1, dtype=np.int64)
            codes[present] = inverse
            uniques = pd.Series(bits.view(np.float64))
        else:
            codes, uniques = pd.factorize(series, use_na_sentinel=True)
            uniques = pd.Series(uniques)
        fields = _pandas_fields(uniques, date_format)
        if fields is None:
            return None
    else:
        return None
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    if missing.any():  # missing cells are written empty (to_csv's na_rep)
        codes = np.where(missing, len(fields), codes)
        fields = [*fields, ""]
    return codes, pa.array(fields, type=pa.string())


def write_csv(frame: pd.DataFrame, path: str | Path, *, date_format: str = "%Y-%m-%d") -> None:
    """``frame.to_csv(path, index=False, date_format=date_format, lineterminator="\\n",
    encoding="utf-8")``, faster (module docstring)."""
    columns = []
    for name in frame.columns:
        col = _formatted_column(frame[name], date_format)
        if col is None:
            frame.to_csv(path, index=False, date_format=date_format, lineterminator="\n",
                          encoding="utf-8")
            return
        columns.append(col)
    header = _csv_fields([str(c) for c in frame.columns])
    if len(columns) == 1:  # the csv module writes a lone empty field as ""
        codes, fields = columns[0]
        columns[0] = (codes, pc.if_else(pc.equal(fields, ""), '""', fields))
        header = [h or '""' for h in header]
    with open(path, "wb") as f:
        f.write((",".join(header) + "\n").encode("utf-8"))
        if not columns:
            return
        # the line ends with the last column's text
        codes_last, fields_last = columns[-1]
        columns[-1] = (codes_last, pc.binary_join_element_wise(fields_last, "", "\n"))
        for lo in range(0, len(frame), BLOCK_ROWS):
            hi = min(lo + BLOCK_ROWS, len(frame))
            cells = [fields.take(pa.array(codes[lo:hi])) for codes, fields in columns]
            rows = pc.binary_join_element_wise(*cells, ",") if len(cells) > 1 else cells[0]
            rows = pa.concat_arrays([rows]) if rows.offset else rows
            offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=len(rows) + 1)
            data = rows.buffers()[2]
            f.write(memoryview(data)[offsets[0]:offsets[-1]])
