"""Derive all four datasets from the validator's clean tables and write them deterministically."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from outcomes.adam._inputs import DATE_DTYPE, DerivationError, admissions_table, latest_date
from outcomes.adam.adqs import derive_adqs
from outcomes.adam.adsl import derive_adsl
from outcomes.adam.adtte import derive_adre, derive_adtte
from outcomes.adam.csvcopy import write_csv
from outcomes.adam.models import KEYS, columns, dataset_label, labels
from outcomes.adam.timeline import participant_timelines
from outcomes.atomic import atomic_path
from outcomes.contract import TABLE_FILES
from outcomes.memory import release_memory
from outcomes.plan import AnalysisPlan

DATASETS: tuple[str, ...] = ("adsl", "adqs", "adtte", "adre")
PARQUET_COMPRESSION = "zstd"
PARQUET_COMPRESSION_LEVEL = 9


def derive_all(
    tables: Mapping[str, pd.DataFrame | None], plan: AnalysisPlan
) -> dict[str, pd.DataFrame]:
    """ADSL, ADQS, ADTTE and ADRE from the four input tables (keys as in ``TABLE_FILES``).

    Without a data cut in the plan the cut is the latest date in all four tables.
    """
    return _derive_all(dict(tables), plan)


def _derive_all(tables: dict[str, pd.DataFrame | None], plan: AnalysisPlan
                ) -> dict[str, pd.DataFrame]:
    """:func:`derive_all`, taking each input table out of ``tables`` when it is used, so
    that a caller who hands over the only reference frees the tables as it goes."""
    if tables.get("participants") is None:
        raise DerivationError("participants: no table given")
    cut = plan.data_cut or latest_date(tables)
    adsl = derive_adsl(tables.pop("participants"), tables.pop("peer_contacts", None), plan,
                       data_cut=cut)
    if tables.get("questionnaires") is None:
        tables["questionnaires"] = pd.DataFrame(
            columns=["participant_id", "visit", "completion_date"])
    # ADQS, the largest, first: its peak then holds the fewest other tables
    adqs = derive_adqs(tables.pop("questionnaires"), adsl, plan)
    release_memory()
    admissions = admissions_table(tables.pop("admissions", None))
    timelines = participant_timelines(adsl, admissions)  # once, for ADTTE and ADRE
    return {
        "adsl": adsl,
        "adqs": adqs,
        "adtte": derive_adtte(adsl, admissions, plan, timelines=timelines),
        "adre": derive_adre(adsl, admissions, plan, timelines=timelines),
    }


def read_clean(clean_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The validator's ``clean/<table>.parquet`` files (all four must exist)."""
    clean_dir = Path(clean_dir)
    tables = {}
    for table in TABLE_FILES:
        path = clean_dir / f"{table}.parquet"
        if not path.is_file():
            raise DerivationError(f"{path}: no such file (run outcomes validate first)")
        try:
            tables[table] = pq.read_table(path).to_pandas()
        except (OSError, pa.ArrowException) as exc:
            raise DerivationError(f"{path}: cannot read Parquet ({exc})") from None
    return tables


def _arrow_type(dtype) -> pa.DataType:
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return pa.date32()
    if pd.api.types.is_string_dtype(dtype):
        return pa.string()
    if isinstance(dtype, pd.Int64Dtype):
        return pa.int64()
    return pa.from_numpy_dtype(dtype)


def _arrow_table(frame: pd.DataFrame, schema: pa.Schema | None = None) -> pa.Table:
    """Dates become ``date32``, strings ``string``; the pandas index is not stored."""
    if schema is None:
        schema = pa.schema([pa.field(c, _arrow_type(frame[c].dtype)) for c in frame.columns])
    frame = frame.copy(deep=False)
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col].dtype):
            # datetime64[D] -> datetime.date objects (None for NaT) in one numpy cast
            frame[col] = pd.Series(
                frame[col].to_numpy(dtype="datetime64[D]").astype(object),
                index=frame.index,
                dtype=object,
            )
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


#: Rows of a Parquet row group (pyarrow's default maximum, which ``write_table`` uses).
ROW_GROUP_ROWS = 1024 * 1024


def _sample_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Row 0 and the first row with a value of each column: enough for the pandas
    metadata Arrow stores (it infers the logical type of a column from its values)."""
    rows = {0}
    for col in frame.columns:
        present = frame[col].notna().to_numpy()
        if present.any():
            rows.add(int(present.argmax()))
    return frame.iloc[sorted(rows)]


def labelled(schema: pa.Schema, name: str) -> pa.Schema:
    """``schema`` with the label of each variable of dataset ``name`` in its field metadata
    (key ``label``) and the dataset's label in the schema metadata (key ``label``)."""
    return with_labels(schema, labels(name), dataset_label(name))


def with_labels(schema: pa.Schema, var_labels: Mapping[str, str], label: str) -> pa.Schema:
    """``schema`` with ``var_labels[field]`` in each field's metadata (key ``label``) and
    ``label`` in the schema metadata (key ``label``): how every derived dataset carries its
    labels (the ADaM datasets through :func:`labelled`, admed through
    :mod:`outcomes.mediation.admedvars`)."""
    fields = [f.with_metadata({"label": var_labels[f.name]}) if f.name in var_labels else f
              for f in schema]
    return pa.schema(fields, metadata={**(schema.metadata or {}), b"label": label.encode()})


def write_parquet(frame: pd.DataFrame, path: str | Path, name: str | None = None) -> None:
    """``pq.write_table(_arrow_table(frame), ...)`` one row group at a time: the same
    bytes, without holding the Arrow copy of the whole frame. ``name``: the ADaM dataset,
    whose labels go into the metadata (:func:`labelled`)."""
    if len(frame) <= ROW_GROUP_ROWS:
        tables = iter([_arrow_table(frame)])
        schema = None
    else:
        schema = _arrow_table(_sample_rows(frame)).schema
        tables = (_arrow_table(frame.iloc[lo:lo + ROW_GROUP_ROWS], schema).replace_schema_metadata(
            schema.metadata) for lo in range(0, len(frame), ROW_GROUP_ROWS))
    first = next(tables)
    if schema is None:
        schema = first.schema
    if name is not None:
        schema = labelled(schema, name)
        tables = (pa.Table.from_arrays(t.columns, schema=schema) for t in tables)
        first = pa.Table.from_arrays(first.columns, schema=schema)
    with pq.ParquetWriter(
        path,
        schema,
        compression=PARQUET_COMPRESSION,
        compression_level=PARQUET_COMPRESSION_LEVEL,
        use_dictionary=True,
        write_statistics=True,
    ) as writer:
        writer.write_table(first)
        del first
        for table in tables:
            writer.write_table(table)


def _sorted(frame: pd.DataFrame, keys: list[str]) -> bool:
    """Whether the rows are already in the order of ``keys`` (ties allowed)."""
    if len(frame) < 2:
        return True
    before = np.zeros(len(frame) - 1, dtype=bool)  # row i sorts strictly before row i + 1
    tied = np.ones(len(frame) - 1, dtype=bool)
    for key in keys:
        v = frame[key]
        if v.isna().any():
            return False
        a, b = v.array[:-1], v.array[1:]  # text compares in Arrow, without Python strings
        before |= tied & np.asarray(a < b, dtype=bool)
        tied &= np.asarray(a == b, dtype=bool)
    return bool((before | tied).all())


def in_file_order(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Dataset ``name`` as :func:`write_adam` stores it: its columns in order, its rows
    sorted by its keys (stable; not re-sorted when the derivation already did)."""
    frame = frame[columns(name)]
    if not _sorted(frame, KEYS[name]):
        frame = frame.sort_values(KEYS[name], kind="mergesort")
    return frame.reset_index(drop=True)


def write_adam(datasets: Mapping[str, pd.DataFrame], out_dir: str | Path) -> dict[str, Path]:
    """Write ``<name>.parquet`` and ``<name>.csv`` for each dataset, sorted by its keys.

    Same datasets -> byte-identical files: stable sort, fixed column order, no pandas
    index, fixed compression, no timestamps in the file metadata. Each file is replaced
    atomically (:mod:`outcomes.atomic`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in DATASETS:
        if name not in datasets:
            continue
        frame = in_file_order(name, datasets[name])
        path = out_dir / f"{name}.parquet"
        with atomic_path(path) as tmp:
            write_parquet(frame, tmp, name)
        with atomic_path(out_dir / f"{name}.csv") as tmp:
            write_csv(frame, tmp, date_format="%Y-%m-%d")
        written[name] = path
        release_memory()
    return written


def read_adam(out_dir: str | Path, names: Iterable[str] | None = None,
              columns: Mapping[str, Sequence[str]] | None = None) -> dict[str, pd.DataFrame]:
    """Read the datasets written by :func:`write_adam`, dates back as ``datetime64[s]``.

    ``names``: only these datasets, in that order (default all); ``columns``: only these
    columns of the datasets named (in the file's order), e.g. the few of ADQS's 4 million
    rows at n = 100,000 that a stage needs. Each Arrow column is freed as soon as it is
    converted (``self_destruct``): ADQS at n = 100,000 (0.95 GB in pandas) peaks at 1.2 GB
    instead of 1.4 GB.
    """
    out = {}
    for name in DATASETS if names is None else [n for n in dict.fromkeys(names) if n in DATASETS]:
        path = Path(out_dir) / f"{name}.parquet"
        if path.is_file():
            cols = None if columns is None or name not in columns else list(columns[name])
            table = pq.read_table(path, columns=cols)
            schema = table.schema
            # date32 straight to datetime64 (not through datetime.date objects)
            frame = table.to_pandas(date_as_object=False, self_destruct=True)
            del table
            for field in schema:
                if pa.types.is_date32(field.type):
                    frame[field.name] = frame[field.name].astype(DATE_DTYPE)
            out[name] = frame
    return out


def derive_from_dir(
    clean_dir: str | Path, plan: AnalysisPlan, out_dir: str | Path
) -> dict[str, pd.DataFrame]:
    """The ``outcomes derive`` command: read clean tables, derive, write."""
    datasets = _derive_all(read_clean(clean_dir), plan)
    write_adam(datasets, out_dir)
    return datasets


def transport_from_dir(derived_dir: str | Path, plan: AnalysisPlan,
                       out_dir: str | Path | None = None) -> list[Path]:
    """The ``outcomes transport`` command: SAS transport (XPT v5) files of ADSL, ADQS and
    ADTTE and their define.xml (:mod:`outcomes.adam.xpt`, :mod:`outcomes.adam.define`) from
    the Parquet files :func:`write_adam` wrote in ``derived_dir`` (read a chunk of rows or
    a few columns at a time); written to ``out_dir`` (default ``derived_dir``)."""
    from outcomes.adam.define import write_define
    from outcomes.adam.xpt import XPT_DATASETS, data_cut, write_xpt_file

    derived_dir = Path(derived_dir)
    out = Path(out_dir) if out_dir is not None else derived_dir
    missing = [n for n in XPT_DATASETS if not (derived_dir / f"{n}.parquet").is_file()]
    if missing:
        raise DerivationError(f"{derived_dir}: no {', '.join(f'{n}.parquet' for n in missing)} "
                              "(run outcomes derive first)")
    out.mkdir(parents=True, exist_ok=True)

    def read(name: str, cols: list[str]) -> pd.DataFrame:
        return read_adam(derived_dir, [name], {name: cols})[name]

    for name in XPT_DATASETS:
        found = pq.read_schema(derived_dir / f"{name}.parquet").names
        if found != columns(name):
            raise DerivationError(
                f"{derived_dir / f'{name}.parquet'}: its variables are not those of "
                f"{name.upper()} (differ at {sorted(set(found) ^ set(columns(name)))[:5]}; "
                "written by another version? run outcomes derive again)")
    cut = data_cut(read("adsl", ["DCUTDT"]))
    written = []
    for name in XPT_DATASETS:
        write_xpt_file(name, derived_dir / f"{name}.parquet", out / f"{name}.xpt", cut)
        written.append(out / f"{name}.xpt")
        release_memory()
    written.append(write_define(read, plan, cut, out / "define.xml"))
    return written
