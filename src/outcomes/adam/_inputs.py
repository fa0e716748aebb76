"""Defensive normalisation of the validated input tables (contract column names).

The validator's ``clean/<table>.parquet`` already has typed columns, but the derivations
accept any DataFrame with the contract's column names: dates as ``datetime64`` of any
unit, pyarrow ``date32``, ``datetime.date`` objects or ISO ``YYYY-MM-DD`` strings;
integers as ``Int64``, ``int`` or numeric strings; booleans as ``true``/``false`` strings
or real booleans. Everything is converted here, once, to:

- dates: ``datetime64[s]`` at midnight (``NaT`` = missing);
- integers: nullable ``Int64``;
- codes and ids: ``str`` with ``""`` for missing.

A value that cannot be converted raises :class:`DerivationError` naming table, column
and value: validated data never does, so this is a contract breach, not a data problem.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from outcomes.contract import (
    ADMISSION_COLUMNS,
    OPTIONAL_COLUMNS,
    PARTICIPANT_COLUMNS,
    PEER_CONTACT_COLUMNS,
    QUESTIONNAIRE_KEY_COLUMNS,
)
from outcomes.errors import OutcomesError

DATE_DTYPE = "datetime64[s]"


class DerivationError(OutcomesError):
    """The ADaM datasets cannot be derived from the inputs given (one-line message)."""

    exit_code = 2


DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "participants": ("randomisation_date", "index_discharge_date", "withdrawal_date", "death_date"),
    "questionnaires": ("completion_date",),
    "admissions": ("admission_date", "discharge_date"),
    "peer_contacts": ("contact_date",),
}


def require_columns(frame: pd.DataFrame, table: str, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DerivationError(f"{table}: missing column(s) {', '.join(missing)}")


def _all_text(series: pd.Series) -> bool:
    """Text dtype, or object dtype holding only strings and missing values."""
    if pd.api.types.is_object_dtype(series.dtype):
        return pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")
    return pd.api.types.is_string_dtype(series.dtype)


def as_str(series: pd.Series) -> pd.Series:
    """Strings with ``""`` for missing (ids and codes)."""
    if _all_text(series):  # vectorised; the same strings as the loop below
        missing = series.isna().to_numpy()
        out = series.astype("str")
        if missing.any():
            out = out.where(~missing, "")
        return out
    values = [("" if _isna(v) else str(v)) for v in series.tolist()]
    return pd.Series(values, index=series.index, dtype="str")


def _isna(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def as_date(series: pd.Series, table: str, column: str) -> pd.Series:
    """Any date representation -> ``datetime64[s]`` (midnight), ``NaT`` for missing."""
    s = series
    if pd.api.types.is_object_dtype(s.dtype) and pd.api.types.infer_dtype(
        s, skipna=True
    ) in ("date", "datetime", "datetime64", "empty"):
        # date / Timestamp objects and missing values (pyarrow's date32 -> pandas): vectorised
        try:
            s = pd.to_datetime(s.where(s.notna(), None), errors="raise")
        except (ValueError, TypeError, OverflowError) as exc:
            raise DerivationError(f"{table}.{column}: cannot read as a date ({exc})") from None
    if isinstance(s.dtype, pd.ArrowDtype) or not pd.api.types.is_datetime64_any_dtype(s.dtype):
        if pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
            s = s.map(
                lambda v: pd.NA if (_isna(v) or (isinstance(v, str) and not v.strip())) else v
            )
            strings = s.map(lambda v: isinstance(v, str))
            try:
                if strings.any():
                    parsed = pd.to_datetime(s.where(strings), format="ISO8601", errors="raise")
                    others = pd.to_datetime(s.where(~strings), errors="raise")
                    s = parsed.where(strings, others)
                else:
                    s = pd.to_datetime(s, errors="raise")
            except (ValueError, TypeError, OverflowError) as exc:
                raise DerivationError(f"{table}.{column}: cannot read as a date ({exc})") from None
        else:
            try:
                s = pd.to_datetime(s, errors="raise")
            except (ValueError, TypeError, OverflowError) as exc:
                raise DerivationError(f"{table}.{column}: cannot read as a date ({exc})") from None
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    return s.dt.floor("D").astype(DATE_DTYPE)


def as_int(series: pd.Series, table: str, column: str) -> pd.Series:
    """Integers (nullable ``Int64``); a non-integral value is an error."""
    s = series
    if pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
        s = s.map(lambda v: np.nan if (_isna(v) or (isinstance(v, str) and not v.strip())) else v)
    try:
        num = pd.to_numeric(s, errors="raise")
    except (ValueError, TypeError) as exc:
        raise DerivationError(f"{table}.{column}: cannot read as an integer ({exc})") from None
    as_float = num.astype("Float64")
    bad = as_float.notna() & (as_float != as_float.round())
    if bad.any():
        raise DerivationError(
            f"{table}.{column}: '{series[bad.to_numpy()].iloc[0]}' is not an integer"
        )
    return as_float.round().astype("Int64")


_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}


def as_bool(series: pd.Series, table: str, column: str) -> pd.Series:
    """``true``/``false`` strings or booleans -> nullable ``boolean``."""
    conv = _bool_value(table, column)

    if not pd.api.types.is_object_dtype(series.dtype):
        # typed column: convert each distinct value once (same rules, same errors)
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        values = pd.array([conv(v) for v in uniques] + [pd.NA], dtype="boolean")
        return pd.Series(values[codes], index=series.index, dtype="boolean")
    return pd.Series([conv(v) for v in series.tolist()], index=series.index, dtype="boolean")


def _bool_value(table: str, column: str):
    def conv(v):
        if _isna(v):
            return pd.NA
        if isinstance(v, bool | np.bool_):
            return bool(v)
        text = str(v).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise DerivationError(f"{table}.{column}: '{v}' is not true/false")

    return conv


def _base(frame: pd.DataFrame, table: str, columns: tuple[str, ...]) -> pd.DataFrame:
    if frame is None:
        raise DerivationError(f"{table}: no table given")
    frame = frame.copy(deep=False)  # copy-on-write: the caller's frame is never modified
    for col in OPTIONAL_COLUMNS.get(table, ()):
        if col not in frame.columns:
            frame[col] = pd.NaT
    require_columns(frame, table, columns)
    frame = frame.reset_index(drop=True)
    for col in DATE_COLUMNS[table]:
        frame[col] = as_date(frame[col], table, col)
    return frame


def participants_table(frame: pd.DataFrame) -> pd.DataFrame:
    out = _base(frame, "participants", PARTICIPANT_COLUMNS)
    for col in ("participant_id", "site", "arm", "sex", "diagnosis_group"):
        out[col] = as_str(out[col])
    for col in ("age", "prior_admissions"):
        out[col] = as_int(out[col], "participants", col)
    out["detained_at_index"] = as_bool(
        out["detained_at_index"], "participants", "detained_at_index"
    )
    if (out["participant_id"] == "").any():
        raise DerivationError("participants.participant_id: empty id")
    dup = out["participant_id"].duplicated()
    if dup.any():
        raise DerivationError(
            f"participants.participant_id: duplicate id '{out.loc[dup, 'participant_id'].iloc[0]}'"
        )
    for col in ("randomisation_date", "index_discharge_date"):
        if out[col].isna().any():
            pid = out.loc[out[col].isna(), "participant_id"].iloc[0]
            raise DerivationError(f"participants.{col}: missing for participant '{pid}'")
    return out


def questionnaires_table(frame: pd.DataFrame) -> pd.DataFrame:
    out = _base(frame, "questionnaires", QUESTIONNAIRE_KEY_COLUMNS)
    out["participant_id"] = as_str(out["participant_id"])
    out["visit"] = as_str(out["visit"])
    return out


def admissions_table(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None:
        frame = pd.DataFrame({c: pd.Series(dtype="object") for c in ADMISSION_COLUMNS})
    out = _base(frame, "admissions", ADMISSION_COLUMNS)
    for col in ("participant_id", "admission_id", "legal_status"):
        out[col] = as_str(out[col])
    if out["admission_date"].isna().any():
        aid = out.loc[out["admission_date"].isna(), "admission_id"].iloc[0]
        raise DerivationError(f"admissions.admission_date: missing for admission '{aid}'")
    bad = out["discharge_date"].notna() & (out["discharge_date"] < out["admission_date"])
    if bad.any():
        aid = out.loc[bad, "admission_id"].iloc[0]
        raise DerivationError(
            f"admissions.discharge_date: before admission_date for admission '{aid}'"
        )
    return out


def peer_contacts_table(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None:
        frame = pd.DataFrame({c: pd.Series(dtype="object") for c in PEER_CONTACT_COLUMNS})
    out = _base(frame, "peer_contacts", PEER_CONTACT_COLUMNS)
    for col in ("participant_id", "peer_worker_id", "mode"):
        out[col] = as_str(out[col])
    out["duration_minutes"] = as_int(out["duration_minutes"], "peer_contacts", "duration_minutes")
    return out


def latest_date(tables: dict[str, pd.DataFrame | None]) -> dt.date | None:
    """The latest date found in any date column of the tables given (the default data cut)."""
    latest = None
    for table, frame in tables.items():
        if frame is None:
            continue
        for col in DATE_COLUMNS.get(table, ()):
            if col not in frame.columns:
                continue
            value = as_date(frame[col], table, col).max()
            if pd.notna(value) and (latest is None or value > latest):
                latest = value
    return None if latest is None else latest.date()
