"""Pandera output models of the four ADaM datasets (docs/adam.md describes every variable).

Each derivation validates its result against its model before returning it, so a dataset
that leaves the package always has these columns, in this order, with these types and
allowed values. Conventions shared by the models:

- character variables are ``str`` and never null: blank is ``""`` (as in SAS transport);
- dates are ``datetime64`` (written to Parquet as ``date32``), ``NaT`` when unknown;
- ``*FL`` flags are ``Y``/``N`` for ADSL population-type flags (``DETINDFL``, ``ITTFL``)
  and ``Y``/blank for record-level flags (``ABLFL``, ``ANL01FL``, ``CMPEVFL``), as ADaMIG
  recommends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from outcomes.adam._inputs import DerivationError

YN = ["Y", "N"]
Y_BLANK = ["Y", ""]


def _paramcd_param_one_to_one(df: pd.DataFrame) -> bool:
    if df.empty:
        return True
    pairs = df[["PARAMCD", "PARAM"]].drop_duplicates()
    return bool(pairs["PARAMCD"].is_unique and pairs["PARAM"].is_unique)


class _Base(pa.DataFrameModel):
    class Config:
        strict = True
        ordered = True
        coerce = False


class ADSLModel(_Base):
    """Subject-level analysis dataset: one row per randomised participant."""

    USUBJID: Series[str] = pa.Field(str_length={"min_value": 1}, unique=True)
    SITEID: Series[str]
    ARM: Series[str]
    TRT01P: Series[str]
    TRT01PN: Series[pd.Int64Dtype] = pa.Field(isin=[0, 1], nullable=True)
    RANDDT: Series[pd.Timestamp]
    INDEXDT: Series[pd.Timestamp]
    AGE: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    SEX: Series[str]
    DIAGGR: Series[str]
    PRIORADM: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    DETINDFL: Series[str] = pa.Field(isin=YN + [""])
    WDDT: Series[pd.Timestamp] = pa.Field(nullable=True)
    DTHDT: Series[pd.Timestamp] = pa.Field(nullable=True)
    DCUTDT: Series[pd.Timestamp]
    EOSDT: Series[pd.Timestamp]
    FUDAYS: Series[int] = pa.Field(ge=0)
    ITTFL: Series[str] = pa.Field(isin=YN)
    NCONTACT: Series[int] = pa.Field(ge=0)
    CONTMIN: Series[int] = pa.Field(ge=0)
    PEERWID: Series[str]
    NCONTWIN: Series[int] = pa.Field(ge=0)
    CONTMWIN: Series[int] = pa.Field(ge=0)
    ENGFL: Series[str] = pa.Field(isin=YN)

    @pa.dataframe_check(error="EOSDT is after DCUTDT or INDEXDT + follow-up")
    @classmethod
    def eos_not_after_cut(cls, df: pd.DataFrame) -> Series[bool]:
        return df["EOSDT"] <= df["DCUTDT"]

    @pa.dataframe_check(error="PEERWID must be blank exactly when NCONTACT is 0")
    @classmethod
    def peer_worker_when_contacts(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["PEERWID"] == "") == (df["NCONTACT"] == 0)

    @pa.dataframe_check(error="the receipt window holds more contacts or minutes than the "
                              "follow-up (NCONTWIN > NCONTACT or CONTMWIN > CONTMIN)")
    @classmethod
    def window_within_contacts(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["NCONTWIN"] <= df["NCONTACT"]) & (df["CONTMWIN"] <= df["CONTMIN"])


class ADQSModel(_Base):
    """Questionnaire scores: one row per participant x visit x score."""

    USUBJID: Series[str] = pa.Field(str_length={"min_value": 1})
    SITEID: Series[str]
    ARM: Series[str]
    AVISIT: Series[str]
    AVISITN: Series[int] = pa.Field(isin=[0, 4, 12])
    ADT: Series[pd.Timestamp] = pa.Field(nullable=True)
    PARCAT1: Series[str] = pa.Field(str_length={"min_value": 1})
    PARAMCD: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 8})
    PARAM: Series[str] = pa.Field(str_length={"min_value": 1})
    AVAL: Series[float] = pa.Field(nullable=True)
    ABLFL: Series[str] = pa.Field(isin=Y_BLANK)
    BASE: Series[float] = pa.Field(nullable=True)
    CHG: Series[float] = pa.Field(nullable=True)
    NITEMS: Series[int] = pa.Field(ge=0)
    NMISS: Series[int] = pa.Field(ge=0)
    DTYPE: Series[str] = pa.Field(isin=["PRORATED", ""])
    ANL01FL: Series[str] = pa.Field(isin=Y_BLANK)

    class Config:
        unique = ["USUBJID", "AVISITN", "PARAMCD"]

    @pa.dataframe_check(error="PARAMCD and PARAM are not 1:1")
    @classmethod
    def paramcd_param(cls, df: pd.DataFrame) -> bool:
        return _paramcd_param_one_to_one(df)

    @pa.dataframe_check(error="ABLFL = Y only on a baseline record with AVAL")
    @classmethod
    def baseline_flag(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["ABLFL"] != "Y") | ((df["AVISITN"] == 0) & df["AVAL"].notna())

    @pa.dataframe_check(error="ANL01FL = Y exactly when AVAL is non-missing")
    @classmethod
    def analysis_flag(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["ANL01FL"] == "Y") == df["AVAL"].notna()

    @pa.dataframe_check(error="CHG must be blank at baseline and AVAL - BASE after it")
    @classmethod
    def change(cls, df: pd.DataFrame) -> Series[bool]:
        expected = (df["AVAL"] - df["BASE"]).where(df["AVISITN"] > 0)
        both_na = expected.isna() & df["CHG"].isna()
        return both_na | ((expected - df["CHG"]).abs() < 1e-9)

    @pa.dataframe_check(error="DTYPE = PRORATED needs a score with missing items")
    @classmethod
    def prorated(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["DTYPE"] == "") | (df["AVAL"].notna() & (df["NMISS"] > 0))


class ADTTEModel(_Base):
    """Time to event: one row per participant x parameter."""

    USUBJID: Series[str] = pa.Field(str_length={"min_value": 1})
    SITEID: Series[str]
    ARM: Series[str]
    PARAMCD: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 8})
    PARAM: Series[str] = pa.Field(str_length={"min_value": 1})
    STARTDT: Series[pd.Timestamp]
    ADT: Series[pd.Timestamp]
    AVAL: Series[int] = pa.Field(ge=0)
    CNSR: Series[int] = pa.Field(isin=[0, 1])
    EVNTDESC: Series[str] = pa.Field(str_length={"min_value": 1})
    CNSDTDSC: Series[str]
    CMPEVFL: Series[str] = pa.Field(isin=Y_BLANK)

    class Config:
        unique = ["USUBJID", "PARAMCD"]

    @pa.dataframe_check(error="PARAMCD and PARAM are not 1:1")
    @classmethod
    def paramcd_param(cls, df: pd.DataFrame) -> bool:
        return _paramcd_param_one_to_one(df)

    @pa.dataframe_check(error="AVAL must equal ADT - STARTDT in days")
    @classmethod
    def aval_days(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["ADT"] - df["STARTDT"]).dt.days == df["AVAL"]

    @pa.dataframe_check(error="CNSDTDSC is set exactly on censored records")
    @classmethod
    def censor_description(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["CNSDTDSC"] != "") == (df["CNSR"] == 1)

    @pa.dataframe_check(error="CMPEVFL = Y only on censored records")
    @classmethod
    def competing_only_censored(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["CMPEVFL"] != "Y") | (df["CNSR"] == 1)


class ADREModel(_Base):
    """Recurrent readmissions, counting-process form: one row per at-risk interval."""

    USUBJID: Series[str] = pa.Field(str_length={"min_value": 1})
    SITEID: Series[str]
    ARM: Series[str]
    INTNUM: Series[int] = pa.Field(ge=1)
    TSTART: Series[float] = pa.Field(ge=0)
    TSTOP: Series[float] = pa.Field(ge=0)
    EVENT: Series[int] = pa.Field(isin=[0, 1])
    ADMID: Series[str]
    NREADM: Series[int] = pa.Field(ge=0)
    BEDDAYS: Series[float] = pa.Field(ge=0)
    DAYSATRISK: Series[float] = pa.Field(ge=0)
    FUDAYS: Series[float] = pa.Field(ge=0)

    class Config:
        unique = ["USUBJID", "INTNUM"]

    @pa.dataframe_check(
        error="TSTART < TSTOP, except the one zero-length EVENT = 0 row of a participant "
        "with no time at risk"
    )
    @classmethod
    def positive_intervals(cls, df: pd.DataFrame) -> Series[bool]:
        placeholder = (
            (df["TSTART"] == df["TSTOP"])
            & (df["EVENT"] == 0)
            & (df["DAYSATRISK"] == 0)
            & (df["INTNUM"] == 1)
        )
        return (df["TSTART"] < df["TSTOP"]) | placeholder

    @pa.dataframe_check(error="ADMID is set exactly on event rows")
    @classmethod
    def admid_on_events(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["ADMID"] != "") == (df["EVENT"] == 1)

    @pa.dataframe_check(error="per-participant totals disagree with the intervals")
    @classmethod
    def totals(cls, df: pd.DataFrame) -> bool:
        if df.empty:
            return True
        g = df.assign(LEN=df["TSTOP"] - df["TSTART"]).groupby("USUBJID", sort=False)
        agg = g.agg(
            EV=("EVENT", "sum"),
            LEN=("LEN", "sum"),
            NREADM=("NREADM", "first"),
            DAR=("DAYSATRISK", "first"),
            BED=("BEDDAYS", "first"),
            FU=("FUDAYS", "first"),
            NU=("NREADM", "nunique"),
        )
        return bool(
            (agg["EV"] == agg["NREADM"]).all()
            and ((agg["LEN"] - agg["DAR"]).abs() < 1e-9).all()
            and ((agg["BED"] + agg["DAR"] - agg["FU"]).abs() < 1e-9).all()
            and (agg["NU"] == 1).all()
        )


MODELS: dict[str, type[_Base]] = {
    "adsl": ADSLModel,
    "adqs": ADQSModel,
    "adtte": ADTTEModel,
    "adre": ADREModel,
}

KEYS: dict[str, list[str]] = {
    "adsl": ["USUBJID"],
    "adqs": ["USUBJID", "PARAMCD", "AVISITN"],
    "adtte": ["USUBJID", "PARAMCD"],
    "adre": ["USUBJID", "INTNUM"],
}
"""Sort keys of each dataset (also its unique key)."""


def columns(name: str) -> list[str]:
    """The column order of dataset ``name``."""
    return list(MODELS[name].to_schema().columns)


#: Rows validated at once: the checks hold temporary columns as long as the frame they
#: are given (issue 17: a 4-million-row ADQS).
CHECK_ROWS = 500_000


def _blocks(frame: pd.DataFrame) -> list[pd.DataFrame] | None:
    """Blocks of about :data:`CHECK_ROWS` rows cut where USUBJID changes, plus the rows
    holding each distinct (PARAMCD, PARAM) pair; None to validate the frame whole.

    Every check of the models that spans rows is within one participant (unique keys,
    ADRE's totals) except the PARAMCD/PARAM 1:1 check, which the rows of the distinct
    pairs decide; so validating the blocks validates the frame. The frame must be sorted
    by USUBJID (as every derivation returns it), else it is validated whole.
    """
    if len(frame) <= CHECK_ROWS or "USUBJID" not in frame.columns:
        return None
    ids = frame["USUBJID"].array
    if frame["USUBJID"].isna().any() or not np.asarray(ids[:-1] <= ids[1:], dtype=bool).all():
        return None
    change = np.flatnonzero(np.asarray(ids[1:] != ids[:-1], dtype=bool)) + 1
    cuts = [0]
    for target in range(CHECK_ROWS, len(frame), CHECK_ROWS):
        k = np.searchsorted(change, target)
        if k < len(change) and change[k] > cuts[-1]:
            cuts.append(int(change[k]))
    cuts.append(len(frame))
    blocks = [frame.iloc[lo:hi] for lo, hi in zip(cuts[:-1], cuts[1:], strict=True) if hi > lo]
    if {"PARAMCD", "PARAM"} <= set(frame.columns):  # distinct pairs, a block at a time
        pairs = frame.loc[np.concatenate(
            [b[["PARAMCD", "PARAM"]].drop_duplicates().index for b in blocks])]
        blocks.append(pairs.loc[pairs[["PARAMCD", "PARAM"]].drop_duplicates().index])
    return blocks


def check(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate ``frame`` against the model of dataset ``name``; one-line error on failure.

    Validated in place (nothing is coerced), a large frame in blocks (:func:`_blocks`).
    """
    blocks = _blocks(frame)
    failures = []
    for block in [frame] if blocks is None else blocks:
        try:
            MODELS[name].validate(block, lazy=True, inplace=True)
        except pa.errors.SchemaErrors as exc:
            failures.append(exc.failure_cases)
    if failures:
        cases = pd.concat(failures, ignore_index=True)
        first = cases.iloc[0] if len(cases) else None
        detail = ""
        if first is not None:
            detail = f": column {first.get('column')}, check {first.get('check')}, value {first.get('failure_case')}"
        raise DerivationError(
            f"{name.upper()} fails its output model ({len(cases)} failure(s)){detail}"
        ) from None
    return frame
