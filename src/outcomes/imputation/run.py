"""The ``outcomes impute`` command: impute the derived datasets, write the summary and,
on request, every completed data set (docs/imputation.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from outcomes.adam.io import PARQUET_COMPRESSION, PARQUET_COMPRESSION_LEVEL
from outcomes.atomic import atomic_path
from outcomes.imputation.frame import imputation_frame
from outcomes.imputation.mice import ImputedData, impute
from outcomes.imputation.settings import ImputationSettings
from outcomes.plan import AnalysisPlan
from outcomes.tables import write_tsv

SUMMARY = "imputation_summary.tsv"
LONG = "imputed_long.parquet"


def missing_summary(imp: ImputedData) -> pd.DataFrame:
    """Per incomplete column and arm: participants, observed, not due (after death or the
    data cut, never imputed), imputed, and the missing rate (1 − observed / participants)."""
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
            rows.append({"column": col, "arm": arm, "n": n, "n_observed": n_obs,
                         "n_not_due": int((a & miss & ~elig).sum()),
                         "n_imputed": int((a & imp.imputed[col]).sum()),
                         "missing_rate": (n - n_obs) / n if n else float("nan"),
                         "method": s.method, "m": s.m, "iterations": s.iterations,
                         "by_arm": s.by_arm})
    return pd.DataFrame(rows)


def write_long(imp: ImputedData, path: str | Path) -> Path:
    """All data sets stacked (``.imp`` 0..m), as Parquet; the same data give the same bytes."""
    table = pa.Table.from_pandas(imp.long(), preserve_index=False)
    table = table.replace_schema_metadata(None)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression=PARQUET_COMPRESSION,
                       compression_level=PARQUET_COMPRESSION_LEVEL)
    return Path(path)


def run_impute(derived: dict[str, pd.DataFrame], plan: AnalysisPlan, out_dir: str | Path, *,
               write_imputed: bool | None = None) -> tuple[ImputedData, list[Path]]:
    """Impute with the plan's ``missing_data`` settings and its seed; write the summary
    and, when asked (here or by ``missing_data.write_imputed``), the long data."""
    frame = imputation_frame(derived["adsl"], derived["adqs"], derived["adtte"], plan)
    imp = impute(frame, ImputationSettings.from_plan(plan), plan.seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_tsv(missing_summary(imp), out / SUMMARY)
    paths = [out / SUMMARY]
    if plan.missing_data.write_imputed if write_imputed is None else write_imputed:
        paths.append(write_long(imp, out / LONG))
    return imp, paths
