"""The change model's analysis data set, ``admed`` (docs/change-model.md, docs/mediation.md).

One row per randomised participant with exposure, the process scores at the mediator visit
and at baseline, the outcomes (WEMWBS at month 12; the landmark readmission outcomes of
:mod:`outcomes.mediation.landmark`) and the exposure-induced confounders, built once from
ADSL, ADQS and ADTTE; under multiple imputation also its m completed versions. The jobs
that analyse it are in :mod:`outcomes.mediation.changemodel`. In memory its columns have
the names below (``WEMWBS_M12``, ``<PARAMCD>_M``, ...); in ``admed.parquet`` and
``admed_imputed.parquet`` names of at most 8 characters and labels, mapped where the files
are written and read (:mod:`outcomes.mediation.admedvars`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from outcomes.errors import OutcomesError
from outcomes.imputation.frame import VISIT_DAYS
from outcomes.imputation.run import IMP, DataSets
from outcomes.plan import AnalysisPlan

from .landmark import landmark_outcomes

__all__ = ["CONFOUNDERS", "EXPOSURE", "ChangeModelError", "ImputedMediationSets",
           "completed_mediation_data", "imputed_mediation_data", "mediation_data",
           "read_completed_mediation", "read_mediation_data", "split_completed",
           "write_imputed_mediation_data", "write_mediation_data"]

#: The exposure column: the randomised arm, 1 treated, 0 control.
EXPOSURE = "TRTA01"
#: The exposure-induced confounders the plan can name
#: (``mediation.exposure_induced_confounders``) and their 0/1 columns in admed.
CONFOUNDERS = {"engagement": "ENGAGED", "early_readmission": "READM_PRE_M"}


class ChangeModelError(OutcomesError):
    """The plan asks for a mediator or outcome the data do not have."""


def mediation_data(adsl: pd.DataFrame, adqs: pd.DataFrame, adtte: pd.DataFrame, plan: AnalysisPlan) -> pd.DataFrame:
    """One row per randomised participant with exposure, mediators, outcomes and covariates.

    Columns: ``USUBJID``, ``TRTA01`` (1 treated, 0 control), ``ARM``, ``PEERWID`` (the main
    peer worker, for the cluster bootstrap), the ADSL covariates, for every
    score ``<PARAMCD>_M`` (mediator visit) and ``<PARAMCD>_BL`` (baseline), ``WEMWBS_M12``,
    and the landmark readmission outcomes of :func:`~outcomes.mediation.landmark.
    landmark_outcomes`: ``LMDAY`` (landmark day), ``LMEXCL`` (why not in the landmark risk
    set, "" if in it), ``READM12`` (1/0, missing when censored before the horizon),
    ``READMU``/``READMCNS`` (follow-up in the window, 1 = censored before the horizon: the
    IPCW), ``TTE_READMIT`` and ``EVT_READMIT`` (days from the landmark, 1 = readmitted).
    and the exposure-induced confounders (:data:`CONFOUNDERS`): ``ENGAGED`` (1 = ADSL ENGFL
    is Y) and ``READM_PRE_M`` (1 = first readmission before the mediator visit's nominal
    day).
    """
    from outcomes.imputation.frame import _readmitted_before

    med = plan.mediation
    out = adsl.loc[adsl["ARM"].isin(plan.arms)].copy()
    out[EXPOSURE] = (out["ARM"] == plan.treated_arm).astype(int)
    keep = ["USUBJID", EXPOSURE, "ARM", *(["PEERWID"] if "PEERWID" in out.columns else []),
            *sorted({c for c in med["covariates"] if c in out.columns and c != "PEERWID"})]
    missing_cov = [c for c in med["covariates"] if c not in out.columns]
    if missing_cov:
        raise ChangeModelError(f"config key 'mediation.covariates': not in ADSL: {', '.join(missing_cov)}")
    engaged = (out["ENGFL"] == "Y").astype(float) if "ENGFL" in out.columns else np.nan
    out = out[keep]
    out[CONFOUNDERS["engagement"]] = engaged

    def wide(visit: str, suffix: str) -> pd.DataFrame:
        rows = adqs.loc[adqs["AVISIT"] == visit, ["USUBJID", "PARAMCD", "AVAL"]]
        w = rows.pivot_table(index="USUBJID", columns="PARAMCD", values="AVAL", aggfunc="first")
        w.columns = [f"{c}_{suffix}" for c in w.columns]
        return w.reset_index()

    out = out.merge(wide(med["mediator_visit"], "M"), on="USUBJID", how="left")
    out = out.merge(wide("baseline", "BL"), on="USUBJID", how="left")
    m12 = wide("month_12", "M12")
    out = out.merge(m12[["USUBJID", "WEMWBS_M12"]] if "WEMWBS_M12" in m12 else m12[["USUBJID"]], on="USUBJID", how="left")

    visit = med["mediator_visit"]
    out = pd.concat([out, landmark_outcomes(out["USUBJID"], adqs, adtte, visit=visit,
                                            planned=VISIT_DAYS[visit],
                                            horizon=plan.followup_days)], axis=1)
    early = np.full(len(out), np.nan)
    known = out["USUBJID"].isin(adtte.loc[adtte["PARAMCD"] == "READMIT", "USUBJID"]).to_numpy()
    if known.any():
        early[known] = _readmitted_before(adtte, out.loc[known, "USUBJID"], visit)
    out[CONFOUNDERS["early_readmission"]] = early
    for col in out.columns:
        if str(out[col].dtype) in ("Int64", "Float64"):
            out[col] = out[col].astype(float)
    return out.sort_values("USUBJID").reset_index(drop=True)


def write_mediation_data(data: pd.DataFrame, plan: AnalysisPlan, out: str | Path) -> None:
    """Write ``data`` (:func:`mediation_data`) to ``out`` (``admed.parquet``, zstd) with the
    names of at most 8 characters and the labels of :mod:`outcomes.mediation.admedvars`;
    :func:`read_mediation_data` gives ``data`` back."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from outcomes.atomic import atomic_path

    from .admedvars import ADMED_LABEL, file_table

    table = file_table(pa.Table.from_pandas(data, preserve_index=False),
                       plan.mediation["mediator_visit"], ADMED_LABEL)
    with atomic_path(out) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_mediation_data(path: str | Path) -> pd.DataFrame:
    """The analysis data set of ``admed.parquet`` (:func:`write_mediation_data`) with the
    names the mediation code uses (:func:`outcomes.mediation.admedvars.memory_names`)."""
    import pyarrow.parquet as pq

    from .admedvars import memory_names

    data = pd.read_parquet(path)
    data.columns = pd.Index(memory_names(pq.read_schema(path)))
    return data


def _renames(columns, data: pd.DataFrame, plan: AnalysisPlan) -> dict[str, str]:
    """Imputation column -> admed column: the scores at the mediator visit, baseline and
    month 12 that ``data`` has (``_M``, ``_BL``, ``_M12``)."""
    visit = plan.mediation["mediator_visit"]
    suffixes = {f"_{visit}": "_M", "_baseline": "_BL", "_month_12": "_M12"}
    rename = {}
    for c in columns:
        for old, new in suffixes.items():
            if c.endswith(old) and c[: -len(old)] + new in data.columns:
                rename[c] = c[: -len(old)] + new
    return rename


def _completed_set(data: pd.DataFrame, block: pd.DataFrame, rename: dict[str, str],
                   ids: np.ndarray, i: int) -> pd.DataFrame:
    """Completed data set ``i`` of ``data`` from ``block`` (the imputation's rows of the
    long format), ``.imp`` first; an observed value that differs is an error."""
    scores = (block.assign(USUBJID=block["USUBJID"].astype(str)).set_index("USUBJID")
              [list(rename)].rename(columns=rename).reindex(ids))
    d = data.copy()
    for col in scores.columns:
        new = scores[col].to_numpy(dtype=float)
        old = d[col].to_numpy(dtype=float)
        clash = ~np.isnan(old) & ~np.isnan(new) & ~np.isclose(old, new, rtol=0, atol=1e-9)
        if clash.any():
            k = int(np.flatnonzero(clash)[0])
            raise ChangeModelError(
                f"imputed data, imputation {i}: {col} of {ids[k]} is {new[k]:g} but "
                f"{old[k]:g} in the analysis data set (imputations of another extract?)")
        d[col] = np.where(np.isnan(new), old, new)
    d.insert(0, IMP, np.full(len(d), int(i), dtype="int64"))
    return d


def _not_imputed_texts(not_imputed: pd.DataFrame | None, ids: np.ndarray,
                       rename: dict[str, str]) -> np.ndarray | None:
    """The :data:`~outcomes.imputation.gaps.NOT_IMPUTED` text of each participant, or None
    when every due value was imputed (the usual data sets then have no such column)."""
    if not_imputed is None:
        return None
    from outcomes.imputation.gaps import encode

    why = (not_imputed.assign(USUBJID=not_imputed["USUBJID"].astype(str))
           .set_index("USUBJID").reindex(ids).fillna(""))
    cells = encode(why, rename)
    return np.array(cells, dtype=object) if any(cells) else None


def completed_mediation_data(data: pd.DataFrame, imputed_long: pd.DataFrame,
                             plan: AnalysisPlan, not_imputed: pd.DataFrame | None = None
                             ) -> pd.DataFrame:
    """The m completed versions of ``data`` (admed), stacked with ``.imp`` (1..m) first.

    ``imputed_long`` is the imputations in the long format of ``outcomes impute``
    (``imputed_long.parquet``: ``.imp`` 0..m, one row per participant, score columns
    ``<PARAMCD>_<visit>``); its scores at the mediator visit, baseline and month 12 replace
    the ``_M``, ``_BL`` and ``_M12`` columns. Values that stay missing in the imputations
    (after death or the data cut, or that could not be imputed) stay missing. An observed
    value that differs from the imputed data (imputations of another extract) is an error
    naming the column. ``not_imputed`` (:func:`outcomes.imputation.gaps.not_imputed_cells`)
    adds, when some due value could not be imputed, the column ``NOT_IMPUTED`` naming them
    (the MI analyses that need them are not estimable).
    """
    _check_long_columns(imputed_long.columns)
    rename = _renames(imputed_long.columns, data, plan)
    ids = data["USUBJID"].astype(str).to_numpy()
    out = [_completed_set(data, block, rename, ids, int(i))
           for i, block in imputed_long.loc[imputed_long[IMP] > 0].groupby(IMP, sort=True)]
    if not out:
        raise ChangeModelError("imputed data: no completed data set (.imp >= 1)")
    long = pd.concat(out, ignore_index=True)
    cells = _not_imputed_texts(not_imputed, ids, rename)
    if cells is not None:
        from outcomes.imputation.gaps import NOT_IMPUTED

        long[NOT_IMPUTED] = np.tile(cells, len(out))
    return long


def _check_long_columns(columns) -> None:
    if IMP not in columns or "USUBJID" not in columns:
        raise ChangeModelError("imputed data: no '.imp' and 'USUBJID' columns (expected the "
                               "long format written by 'outcomes impute')")


def split_completed(long: pd.DataFrame) -> list[pd.DataFrame]:
    """The completed data sets of :func:`completed_mediation_data`, in ``.imp`` order."""
    return [g.drop(columns=IMP).reset_index(drop=True)
            for _, g in long.groupby(IMP, sort=True)]


def imputed_mediation_data(derived: dict[str, pd.DataFrame], data: pd.DataFrame,
                           plan: AnalysisPlan, imputed_long: pd.DataFrame | None = None
                           ) -> pd.DataFrame:
    """:func:`completed_mediation_data` from ``imputed_long``, or, without it, from the
    imputations of the derived data with the plan's settings and seed (the same numbers
    ``outcomes impute`` writes)."""
    from outcomes.imputation.gaps import not_imputed_cells
    from outcomes.imputation.mice import impute

    frame, settings = _frame_and_settings(derived, plan)
    if imputed_long is None:
        imputed_long = impute(frame, settings, plan.seed).long()
    return completed_mediation_data(data, imputed_long, plan,
                                    not_imputed_cells(frame, settings))


def _frame_and_settings(derived: dict[str, pd.DataFrame], plan: AnalysisPlan):
    """The imputation frame of the derived data and the plan's imputation settings."""
    from outcomes.imputation.frame import imputation_frame
    from outcomes.imputation.settings import ImputationSettings

    return (imputation_frame(derived["adsl"], derived["adqs"], derived["adtte"], plan),
            ImputationSettings.from_plan(plan))


def write_imputed_mediation_data(derived: dict[str, pd.DataFrame], data: pd.DataFrame,
                                 plan: AnalysisPlan, out: str | Path,
                                 imputed: str | Path | None = None) -> int:
    """Write :func:`imputed_mediation_data` to ``out`` (Parquet, zstd; the names and labels
    of :mod:`outcomes.mediation.admedvars`, ``.imp`` as ``IMPNUM``) one completed data set
    at a time, one row group each, and return how many: memory holds one completed data set
    and the scores of one imputation of ``imputed`` (``imputed_long.parquet``; without it,
    the imputations are made here), not the m stacked (2.5 GB at n = 20,000, m = 50)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from outcomes.adam.io import PARQUET_COMPRESSION
    from outcomes.atomic import atomic_path
    from outcomes.imputation.gaps import NOT_IMPUTED, not_imputed_cells
    from outcomes.imputation.mice import impute
    from outcomes.memory import release_memory

    from .admedvars import ADMED_IMPUTED_LABEL, file_names, file_table, rename_texts

    frame, settings = _frame_and_settings(derived, plan)
    if imputed is None:
        imp = impute(frame, settings, plan.seed)
        columns: list[str] = list(imp.frame.data.columns)
        blocks: Iterator[tuple[int, pd.DataFrame]] = (
            (k, imp.completed(k)) for k in range(1, imp.m + 1))
    else:
        columns = pq.ParquetFile(imputed).schema_arrow.names
        _check_long_columns(columns)
        blocks = _file_blocks(imputed, ["USUBJID", *_renames(columns, data, plan)])
    rename = _renames(columns, data, plan)
    ids = data["USUBJID"].astype(str).to_numpy()
    cells = _not_imputed_texts(not_imputed_cells(frame, settings), ids, rename)
    if cells is not None:  # the texts name the file's columns
        names = file_names(list(data.columns), plan.mediation["mediator_visit"])[0]
        cells = np.array(rename_texts(cells, names), dtype=object)
    m = 0
    with atomic_path(out) as tmp:
        writer = None
        schema = None  # the first data set's, with the in-memory names
        try:
            for i, block in blocks:
                d = _completed_set(data, block, rename, ids, i)
                if cells is not None:
                    d[NOT_IMPUTED] = cells
                table = pa.Table.from_pandas(d, preserve_index=False, schema=schema)
                if writer is None:
                    schema = table.schema
                    table = file_table(table, plan.mediation["mediator_visit"],
                                       ADMED_IMPUTED_LABEL)
                    writer = pq.ParquetWriter(tmp, table.schema, compression=PARQUET_COMPRESSION)
                else:  # the same names, labels and metadata as the first
                    table = pa.Table.from_arrays(table.columns, schema=writer.schema)
                writer.write_table(table)
                del d, table, block
                release_memory()  # Arrow's pool would keep every data set's buffers
                m += 1
        finally:
            if writer is not None:
                writer.close()
        if not m:
            raise ChangeModelError("imputed data: no completed data set (.imp >= 1)")
    return m


def _file_blocks(path: str | Path, columns: list[str]) -> Iterator[tuple[int, pd.DataFrame]]:
    """(i, the ``columns`` of imputation i) of the long file ``path``, i = 1, 2, ...: each
    read alone (a file of ``outcomes impute`` has one row group per imputation)."""
    import pyarrow.parquet as pq

    imps = pq.read_table(path, columns=[IMP]).column(0).to_numpy()
    for i in np.unique(imps[imps > 0]).tolist():
        yield int(i), pq.read_table(path, columns=columns, filters=[(IMP, "==", i)]).to_pandas()


def _read_sets(path: Path, names: list[str], imp: int | None = None) -> pd.DataFrame:
    """The completed data sets of ``path`` (all, or ``.imp`` = ``imp``), with the in-memory
    ``names`` of its columns (:func:`~outcomes.mediation.admedvars.memory_names`)."""
    from outcomes.imputation.gaps import NOT_IMPUTED

    from .admedvars import rename_texts

    filters = None if imp is None else [(_imp_field(names, path), "==", imp)]
    data = pd.read_parquet(path, filters=filters)
    if NOT_IMPUTED in names:  # its texts name the file's columns: the in-memory ones
        col = data.columns[names.index(NOT_IMPUTED)]
        data[col] = pd.Series(rename_texts(data[col], dict(zip(data.columns, names, strict=True))),
                              index=data.index, dtype=data[col].dtype)
    data.columns = pd.Index(names)
    return data


def _imp_field(names: Sequence[str], path: Path) -> str:
    """The file's name of the ``.imp`` column (``IMPNUM``)."""
    import pyarrow.parquet as pq

    return pq.read_schema(path).names[list(names).index(IMP)]


@dataclass(frozen=True)
class ImputedMediationSets(DataSets):
    """The completed data sets of a file of :func:`write_imputed_mediation_data`, in
    ``.imp`` order, each read from the file when asked for (equal to the data set ``i``
    that :func:`read_completed_mediation` reads at once: the in-memory names, the
    ``NOT_IMPUTED`` texts naming them): memory holds one data set, not m. ``names``: the
    in-memory name of each column of the file."""

    path: Path
    imps: tuple[int, ...]
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.imps)

    def _item(self, k: int) -> pd.DataFrame:
        return (_read_sets(self.path, list(self.names), self.imps[k])
                .drop(columns=IMP).reset_index(drop=True))


#: Completed data sets of at most this many rows in all (participants × m) are read at once
#: (a list: each is built once); larger ones one at a time (:class:`ImputedMediationSets`).
EAGER_ROWS = 250_000


def read_completed_mediation(path: str | Path, eager_rows: int = EAGER_ROWS
                             ) -> Sequence[pd.DataFrame]:
    """The completed data sets of ``admed_imputed.parquet`` in ``.imp`` order: a list when
    they have at most ``eager_rows`` rows in all, else :class:`ImputedMediationSets`
    (the same data sets, read when asked for)."""
    import pyarrow.parquet as pq

    from .admedvars import RENAMED, memory_names

    path = Path(path)
    schema = pq.ParquetFile(path).schema_arrow
    names = memory_names(schema)
    if IMP not in names:
        raise ChangeModelError(f"{path}: no '{RENAMED[IMP]}' column (expected the completed "
                               "data sets of 'outcomes mediation-data --imputed-out')")
    imps = pq.read_table(path, columns=[schema.names[names.index(IMP)]]).column(0).to_numpy()
    if not len(imps):
        raise ChangeModelError(f"{path}: no completed data set (.imp >= 1)")
    if len(imps) <= eager_rows:
        return split_completed(_read_sets(path, names))
    return ImputedMediationSets(path, tuple(int(i) for i in np.unique(imps).tolist()),
                                tuple(names))
