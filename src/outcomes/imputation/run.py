"""The ``outcomes impute`` command: impute the derived datasets, write the summary and,
on request, every completed data set (docs/imputation.md)."""

from __future__ import annotations

import operator
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from outcomes.adam.io import PARQUET_COMPRESSION, PARQUET_COMPRESSION_LEVEL
from outcomes.atomic import atomic_path
from outcomes.errors import OutcomesError
from outcomes.imputation.frame import ImputationFrame, imputation_frame
from outcomes.imputation.mice import ImputedData, impute
from outcomes.imputation.settings import ImputationSettings
from outcomes.plan import AnalysisPlan
from outcomes.tables import write_tsv

SUMMARY = "imputation_summary.tsv"
LONG = "imputed_long.parquet"
#: The column numbering the data sets of the long format (0 = the incomplete data).
IMP = ".imp"


class ImputedFileError(OutcomesError):
    """An imputed_long.parquet cannot be used with the derived datasets and plan at hand."""


def missing_summary(imp: ImputedData) -> pd.DataFrame:
    """Per incomplete column and arm: participants, observed, not due (after death or the
    data cut, never imputed), imputed, the missing rate (1 − observed / participants), the
    imputation settings, the number of columns predicting it, and the due cells that could
    not be imputed and why (last)."""
    frame, s = imp.frame, imp.settings
    d = frame.data
    rows = []
    for col in d.columns:
        miss = d[col].isna()
        if not miss.any():
            continue
        elig = frame.eligible[col] if col in frame.eligible else pd.Series(True, index=d.index)
        for arm in frame.arms:
            a = d["ARM"] == arm
            n, n_obs = int(a.sum()), int((a & ~miss).sum())
            lost = int((a & miss & elig & ~imp.imputed[col]).sum())
            rows.append({"column": col, "arm": arm, "n": n, "n_observed": n_obs,
                         "n_not_due": int((a & miss & ~elig).sum()),
                         "n_imputed": int((a & imp.imputed[col]).sum()),
                         "missing_rate": (n - n_obs) / n if n else float("nan"),
                         "method": s.method, "m": s.m, "iterations": s.iterations,
                         "by_arm": s.by_arm, "predictors": s.predictors.select,
                         "n_predictors": _n_predictors(imp, col, arm),
                         "n_not_imputed": lost,
                         "not_imputed_reason": _reason_in(imp.not_imputed, col, arm, s.by_arm)
                         if lost else ""})
    return pd.DataFrame(rows)


def _n_predictors(imp: ImputedData, column: str, arm: str) -> int | None:
    """Columns predicting ``column`` in the imputation model of ``arm`` (None when the column
    is not imputed there, or is a passive score computed from imputed ones)."""
    group = arm if imp.settings.by_arm else "both arms"
    p = imp.predictors.get((group, column))
    return None if p is None else len(p)


def _reason_in(gaps, column: str, arm: str, by_arm: bool) -> str:
    return "; ".join(g.reason for g in gaps
                     if g.column == column and (g.group == arm or not by_arm))


def long_table(imp: ImputedData) -> pa.Table:
    """All data sets stacked (``.imp`` 0..m) as the Arrow table :func:`write_long` stores
    (no pandas metadata: the file reads the same in R and Python)."""
    return pa.Table.from_pandas(imp.long(), preserve_index=False).replace_schema_metadata(None)


def write_long(imp: ImputedData, path: str | Path) -> Path:
    """All data sets stacked (``.imp`` 0..m), as Parquet; the same data give the same bytes.

    Written one data set at a time (one row group each), so that memory holds one data set,
    not m + 1 of them and their Arrow copy (3 GB at n = 100,000, m = 50)."""
    n = len(imp.frame.data)
    with atomic_path(path) as tmp:
        writer = None
        try:
            for k in range(imp.m + 1):
                d = (imp.frame.data if k == 0 else imp.completed(k)).copy(deep=False)
                d.insert(0, IMP, np.full(n, k, dtype="int64"))
                table = pa.Table.from_pandas(d, preserve_index=False).replace_schema_metadata(None)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, compression=PARQUET_COMPRESSION,
                                              compression_level=PARQUET_COMPRESSION_LEVEL)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
    return Path(path)


def imputed_data(derived: dict[str, pd.DataFrame], plan: AnalysisPlan) -> ImputedData:
    """The imputations of the derived datasets with the plan's ``missing_data`` settings
    and its seed."""
    frame = imputation_frame(derived["adsl"], derived["adqs"], derived["adtte"], plan)
    return impute(frame, ImputationSettings.from_plan(plan), plan.seed)


def run_impute(derived: dict[str, pd.DataFrame], plan: AnalysisPlan, out_dir: str | Path, *,
               write_imputed: bool | None = None) -> tuple[ImputedData, list[Path]]:
    """Impute with the plan's ``missing_data`` settings and its seed; write the summary
    and, when asked (here or by ``missing_data.write_imputed``), the long data."""
    imp = imputed_data(derived, plan)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_tsv(missing_summary(imp), out / SUMMARY)
    paths = [out / SUMMARY]
    if plan.missing_data.write_imputed if write_imputed is None else write_imputed:
        paths.append(write_long(imp, out / LONG))
    return imp, paths


class DataSets(Sequence[pd.DataFrame]):
    """A sequence of data sets, each built when asked for by ``_item(k)``, 0 <= k < len."""

    @abstractmethod
    def _item(self, k: int) -> pd.DataFrame:
        """Data set ``k`` (each subclass builds it its own way)."""

    @overload
    def __getitem__(self, i: int) -> pd.DataFrame: ...

    @overload
    def __getitem__(self, i: slice) -> list[pd.DataFrame]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._item(k) for k in range(*i.indices(len(self)))]
        k = operator.index(i)
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(f"completed data set {i} of {len(self)}")
        return self._item(k)


@dataclass(frozen=True)
class CompletedSets(DataSets):
    """The completed data sets 1..m of ``imputed_long.parquet`` as :func:`read_completed`
    reads them: data set 0 (``base``) and, per column, the rows that any data set changes
    (``cells``) with their values in each data set (``values``, m × cells). Item ``i`` is
    data set ``i + 1``, built on access, equal to the file's rows; memory holds one data
    set and the imputed cells instead of m + 1 data sets (2.5 GB at n = 100,000, m = 50)."""

    base: pd.DataFrame
    cells: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    m: int

    def __len__(self) -> int:
        return self.m

    def _item(self, k: int) -> pd.DataFrame:
        out = self.base.copy(deep=False)
        for col, rows in self.cells.items():
            arr = self.base[col].to_numpy(dtype=float, copy=True)
            arr[rows] = self.values[col][k]
            out[col] = arr
        return out


def select_columns(completed: Sequence[pd.DataFrame], columns: Sequence[str]) -> Sequence[pd.DataFrame]:
    """``completed`` with only those of ``columns`` it has, when it is
    :class:`CompletedSets` (each data set is then built from a few columns, not all of
    them: the analysis of one score reads five); any other sequence as it is."""
    if not isinstance(completed, CompletedSets):
        return completed
    cols = [c for c in completed.base.columns if c in set(columns)]
    return CompletedSets(base=completed.base[cols],
                         cells={c: r for c, r in completed.cells.items() if c in cols},
                         values={c: v for c, v in completed.values.items() if c in cols},
                         m=completed.m)


@dataclass(frozen=True)
class CompactSets(DataSets):
    """Data sets that differ from the first in a few number cells, held as the first
    (``base``) and, per other data set, what differs (``diffs[k]``: column -> (rows, values)
    of a number column whose bits differ there, or the whole column when it is not a
    number column; the whole data set when its columns or index differ). Item ``k`` is
    built on access and equals data set ``k`` (:meth:`of`)."""

    base: pd.DataFrame
    diffs: tuple[dict[str, Any] | pd.DataFrame, ...]

    @classmethod
    def of(cls, sets: Iterable[pd.DataFrame]) -> CompactSets:
        """The data sets of ``sets``, each taken once (one in memory at a time)."""
        base: pd.DataFrame | None = None
        diffs: list[dict[str, Any] | pd.DataFrame] = []
        for d in sets:
            if base is None:
                base, diff = d, {}
            elif not (d.columns.equals(base.columns) and d.index.equals(base.index)
                      and d.dtypes.equals(base.dtypes)):
                diff = d
            else:
                diff = {}
                for col in d.columns:
                    new, old = d[col], base[col]
                    if new.dtype == np.float64:
                        a, b = new.to_numpy(), old.to_numpy()
                        rows = np.flatnonzero(a.view(np.int64) != b.view(np.int64))
                        if len(rows):
                            diff[col] = (rows.astype(np.int32 if len(a) < 2**31 else np.int64),
                                         a[rows])
                    elif not new.equals(old):
                        diff[col] = new
            diffs.append(diff)
        if base is None:
            raise ValueError("no data set to hold")
        return cls(base, tuple(diffs))

    def __len__(self) -> int:
        return len(self.diffs)

    def _item(self, k: int) -> pd.DataFrame:
        diff = self.diffs[k]
        if isinstance(diff, pd.DataFrame):
            return diff
        out = self.base.copy(deep=False)
        for col, d in diff.items():
            if isinstance(d, pd.Series):
                out[col] = d
            else:
                arr = self.base[col].to_numpy(dtype=float, copy=True)
                arr[d[0]] = d[1]
                out[col] = arr
        return out


def map_sets(sets: Sequence[pd.DataFrame], fn: Callable[[pd.DataFrame], pd.DataFrame]
             ) -> Sequence[pd.DataFrame]:
    """``[fn(d) for d in sets]`` for data sets in memory (a list or tuple); for data sets
    read when asked for (e.g. a file's, one at a time), the same as :class:`CompactSets`,
    so that memory holds one whole data set and the cells that differ."""
    if isinstance(sets, (list, tuple)):
        return [fn(d) for d in sets]
    return CompactSets.of(fn(d) for d in sets)


def read_completed(path: str | Path, frame: ImputationFrame, m: int) -> CompletedSets:
    """The completed data sets 1..m of ``path`` (as :func:`write_long` wrote it), checked
    against ``frame`` (the data set the imputations must have been made from: the same
    participants and observed scores) and the plan's ``m``; a stale or foreign file is an
    :class:`ImputedFileError` naming the file and what differs.

    Read one column at a time (:class:`CompletedSets`): a number column keeps the rows
    where some data set's bits differ from data set 0's; any other column must be the same
    in every data set."""
    path = Path(path)
    try:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        if IMP not in names:
            raise ImputedFileError(f"{path}: no '{IMP}' column: not written by 'outcomes impute'")
        n = len(frame.data)
        _check_sets(path, pf.read(columns=[IMP]).column(0).to_numpy(), n, m)
        base_cols, cells, values = {}, {}, {}
        for name in names:
            if name == IMP:
                continue
            col = pf.read(columns=[name]).column(0)
            # a copy of data set 0's rows: a slice would keep the whole column of the m + 1
            # sets alive (482 MiB of Arrow memory at n = 20,000; decisions L70)
            base_cols[name] = col.slice(0, n).take(np.arange(n))
            if pa.types.is_floating(col.type):
                sets = col.to_numpy().reshape(m + 1, n)
                bits = sets.view(np.int64)
                rows = np.flatnonzero((bits[1:] != bits[0]).any(axis=0))
                if len(rows):
                    cells[name], values[name] = rows, sets[1:, rows].copy()
                continue
            for k in range(1, m + 1):
                if not col.slice(k * n, n).equals(base_cols[name]):
                    raise ImputedFileError(f"{path}: {name} of data set {k} is not that of data "
                                           "set 0 (not written by 'outcomes impute')")
        base = pa.table(base_cols).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise ImputedFileError(f"{path}: cannot read: {exc}") from None
    _check_base(path, base, frame)
    return CompletedSets(base=base, cells=cells, values=values, m=m)


def completed_sets(long: pd.DataFrame, frame: ImputationFrame, m: int,
                   path: str | Path = "imputed data") -> list[pd.DataFrame]:
    """The completed data sets 1..m of ``long`` (all data sets stacked in memory, as
    :func:`long_table`), checked as :func:`read_completed` checks the file; ``path`` names
    the data in the messages."""
    if IMP not in long.columns:
        raise ImputedFileError(f"{path}: no '{IMP}' column: not written by 'outcomes impute'")
    n = len(frame.data)
    _check_sets(Path(path), long[IMP].to_numpy(), n, m)
    sets = [long.iloc[k * n:(k + 1) * n].reset_index(drop=True) for k in range(m + 1)]
    _check_base(Path(path), sets[0], frame)
    return [d.drop(columns=IMP) for d in sets[1:]]


def _check_sets(path: Path, imps: np.ndarray, n: int, m: int) -> None:
    """Data set k is rows k·n .. (k + 1)·n − 1, for k = 0..m."""
    found = sorted(set(np.unique(imps).tolist()))
    if found != list(range(m + 1)) or len(imps) != n * (m + 1):
        shown = f"{found[0]}..{found[-1]}" if found else "none"
        raise ImputedFileError(
            f"{path}: data sets {IMP} = {shown} with {len(imps)} rows; the plan needs 0..{m} "
            f"of {n} participants each (rerun 'outcomes impute' with this plan)")
    for k in range(m + 1):
        if not (imps[k * n:(k + 1) * n] == k).all():
            raise ImputedFileError(f"{path}: data set {k} is not rows {k * n + 2}..{(k + 1) * n + 1}")


def _check_base(path: Path, base: pd.DataFrame, frame: ImputationFrame) -> None:
    """Data set 0 is ``frame``'s participants with its observed scores."""
    missing = [c for c in ("USUBJID", *frame.score_columns) if c not in base.columns]
    if missing:
        raise ImputedFileError(f"{path}: no column {missing[0]} (imputed from other derived data; "
                               "rerun 'outcomes impute')")
    ids = base["USUBJID"].astype(str).to_numpy()
    differ = np.flatnonzero(ids != frame.data["USUBJID"].to_numpy())
    if len(differ):
        raise ImputedFileError(
            f"{path}: row {int(differ[0]) + 2} is participant {ids[differ[0]]}, ADSL's ITT "
            f"participant {int(differ[0]) + 1} is {frame.data['USUBJID'].iat[differ[0]]} "
            "(imputed from other derived data; rerun 'outcomes impute')")
    for col in frame.score_columns:
        old = base[col].to_numpy(dtype=float)
        new = frame.data[col].to_numpy(dtype=float)
        if not np.array_equal(old, new, equal_nan=True):
            k = int(np.flatnonzero(~((old == new) | (np.isnan(old) & np.isnan(new))))[0])
            raise ImputedFileError(
                f"{path}: {col} of participant {ids[k]} is {old[k]} in the imputed data and "
                f"{new[k]} in ADQS (imputed from other derived data; rerun 'outcomes impute')")
