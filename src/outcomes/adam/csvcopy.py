"""The CSV copies of the ADaM datasets, byte for byte what ``DataFrame.to_csv`` writes.

``to_csv`` formats and quotes every cell in Python (24 of derive's 65 s at n = 100,000,
issue 17). This writer formats each column's *distinct* values once, with the formatter
``to_csv`` itself uses for that value (Python's :mod:`csv` writer for text, which quotes
only where needed; pandas for numbers and dates), and assembles the rows with pyarrow
compute, a block of rows at a time (the distinct values of each block), so memory stays
bounded. Formatting a value does not
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


def _pandas_fields(uniques: pd.Series, date_format: str) -> list[str]:
    """Non-text values (numbers, dates, booleans: never quoted) as ``to_csv`` formats them."""
    text = pd.DataFrame({"v": uniques.to_numpy(), "s": 0}).to_csv(
        index=False, header=False, date_format=date_format, lineterminator="\n"
    )
    lines = text.split("\n")[:-1]
    if len(lines) != len(uniques) or not all(line.endswith(",0") for line in lines):
        raise ValueError(f"cannot format {uniques.dtype} values for CSV")
    return [line[:-2] for line in lines]


def _is_text(dtype) -> bool:
    return isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype)
    )


def _supported(dtype) -> bool:
    return _is_text(dtype) or (
        pd.api.types.is_datetime64_dtype(dtype)
        or pd.api.types.is_integer_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_float_dtype(dtype)
    )


def _formatted_column(series: pd.Series, date_format: str) -> tuple[np.ndarray, pa.Array]:
    """``(codes, fields)`` of a column of a supported dtype: every cell is
    ``fields[codes[i]]``."""
    dtype = series.dtype
    if _is_text(dtype):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        fields = _csv_fields([str(v) for v in uniques])
    else:
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
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    if missing.any():  # missing cells are written empty (to_csv's na_rep)
        codes = np.where(missing, len(fields), codes)
        fields = [*fields, ""]
    return codes, pa.array(fields, type=pa.string())


def write_csv(frame: pd.DataFrame, path: str | Path, *, date_format: str = "%Y-%m-%d") -> None:
    """``frame.to_csv(path, index=False, date_format=date_format, lineterminator="\\n",
    encoding="utf-8")``, faster (module docstring)."""
    if not all(_supported(frame[c].dtype) for c in frame.columns):
        frame.to_csv(path, index=False, date_format=date_format, lineterminator="\n",
                     encoding="utf-8")
        return
    header = _csv_fields([str(c) for c in frame.columns])
    lone = len(frame.columns) == 1  # the csv module writes a lone empty field as ""
    if lone:
        header = [h or '""' for h in header]
    with open(path, "wb") as f:
        f.write((",".join(header) + "\n").encode("utf-8"))
        for lo in range(0, len(frame) if len(frame.columns) else 0, BLOCK_ROWS):
            block = frame.iloc[lo:lo + BLOCK_ROWS]
            cells = []
            for j, name in enumerate(block.columns):
                codes, fields = _formatted_column(block[name], date_format)
                if lone:
                    fields = pc.if_else(pc.equal(fields, ""), '""', fields)
                if j == len(block.columns) - 1:  # the line ends with the last column's text
                    fields = pc.binary_join_element_wise(fields, "", "\n")
                cells.append(fields.take(pa.array(codes)))
            rows = pc.binary_join_element_wise(*cells, ",") if len(cells) > 1 else cells[0]
            rows = pa.concat_arrays([rows]) if rows.offset else rows
            offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=len(rows) + 1)
            f.write(memoryview(rows.buffers()[2])[offsets[0]:offsets[-1]])
