"""Pandera output models of the four ADaM datasets (docs/adam.md describes every variable).

Each derivation validates its result against its model before returning it, so a dataset
that leaves the package always has these columns, in this order, with these types and
allowed values. Conventions shared by the models:

- character variables are ``str`` and never null: blank is ``""`` (as in SAS transport);
- dates are ``datetime64`` (written to Parquet as ``date32``), ``NaT`` when unknown;
- ``*FL`` flags are ``Y``/``N`` in ADSL (the population flag ``ITTFL``, the engagement
  flag ``ENGFL`` and the baseline characteristic ``DETINDFL``, blank when unknown) and
  ``Y``/blank for record-level flags (``ABLFL``, ``ANL01FL``, ``CMPEVFL``), as ADaMIG
  recommends;
- every variable has a label (the field's ``title``, at most 40 characters) and every
  dataset one (the model's ``title``): :func:`labels`, :func:`dataset_label`; names have at
  most 8 characters (SAS transport version 5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from outcomes.adam._inputs import DerivationError

YN = ["Y", "N"]
#: The longest variable or dataset label SAS transport version 5 stores.
LABEL_MAX = 40
#: The longest variable name of every derived dataset (SAS transport version 5).
NAME_MAX = 8
Y_BLANK = ["Y", ""]


def _paramcd_param_one_to_one(df: pd.DataFrame) -> bool:
    if df.empty:
        return True
    pairs = df[["PARAMCD", "PARAM"]].drop_duplicates()
    return bool(pairs["PARAMCD"].is_unique and pairs["PARAM"].is_unique)


def _f(label: str, **checks):
    """A pandera field whose ``title`` is the variable label (at most 40 characters: SAS
    transport version 5; Define-XML and the Parquet field metadata carry it too)."""
    if len(label) > LABEL_MAX:
        raise ValueError(f"variable label longer than {LABEL_MAX} characters: {label!r}")
    return pa.Field(title=label, **checks)


class _Base(pa.DataFrameModel):
    class Config:
        strict = True
        ordered = True
        coerce = False


class ADSLModel(_Base):
    """Subject-level analysis dataset: one row per randomised participant."""

    STUDYID: Series[str] = _f("Study Identifier", str_length={"min_value": 1})
    USUBJID: Series[str] = _f("Unique Subject Identifier", str_length={"min_value": 1},
                              unique=True)
    SITEID: Series[str] = _f("Study Site Identifier")
    ARM: Series[str] = _f("Planned Arm Code (as Randomised)")
    TRT01P: Series[str] = _f("Planned Treatment for Period 01")
    TRT01PN: Series[pd.Int64Dtype] = _f("Planned Treatment for Period 01 (N)", isin=[0, 1],
                                         nullable=True)
    TRT01A: Series[str] = _f("Actual Treatment for Period 01")
    TRT01AN: Series[pd.Int64Dtype] = _f("Actual Treatment for Period 01 (N)", isin=[0, 1],
                                         nullable=True)
    RANDDT: Series[pd.Timestamp] = _f("Date of Randomization")
    INDEXDT: Series[pd.Timestamp] = _f("Index Discharge Date (Time Zero)")
    AGE: Series[pd.Int64Dtype] = _f("Age (Years)", nullable=True, ge=0)
    SEX: Series[str] = _f("Sex")
    DIAGGR: Series[str] = _f("Diagnosis Group")
    PRIORADM: Series[pd.Int64Dtype] = _f("Number of Prior Admissions", nullable=True, ge=0)
    DETINDFL: Series[str] = _f("Detained During Index Admission", isin=YN + [""])
    WDDT: Series[pd.Timestamp] = _f("Date of Withdrawal", nullable=True)
    DTHDT: Series[pd.Timestamp] = _f("Date of Death", nullable=True)
    DCUTDT: Series[pd.Timestamp] = _f("Date of Data Cut")
    EOSDT: Series[pd.Timestamp] = _f("End of Observation Date")
    FUDAYS: Series[int] = _f("Follow-up (Days)", ge=0)
    ITTFL: Series[str] = _f("Intent-To-Treat Population Flag", isin=YN)
    NCONTACT: Series[int] = _f("Number of Peer Contacts", ge=0)
    CONTMIN: Series[int] = _f("Total Minutes of Peer Contact", ge=0)
    PEERWID: Series[str] = _f("Main Peer Worker Identifier")
    NCONTWIN: Series[int] = _f("Peer Contacts in Receipt Window", ge=0)
    CONTMWIN: Series[int] = _f("Peer Contact Minutes in Receipt Window", ge=0)
    ENGFL: Series[str] = _f("Received Peer Support Flag", isin=YN)

    class Config:
        title = "Subject-Level Analysis Dataset"

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

    STUDYID: Series[str] = _f("Study Identifier", str_length={"min_value": 1})
    USUBJID: Series[str] = _f("Unique Subject Identifier", str_length={"min_value": 1})
    SITEID: Series[str] = _f("Study Site Identifier")
    ARM: Series[str] = _f("Planned Arm Code (as Randomised)")
    TRTP: Series[str] = _f("Planned Treatment")
    TRTA: Series[str] = _f("Actual Treatment")
    AVISIT: Series[str] = _f("Analysis Visit")
    AVISITN: Series[int] = _f("Analysis Visit (N)", isin=[0, 4, 12])
    ADT: Series[pd.Timestamp] = _f("Analysis Date", nullable=True)
    PARCAT1: Series[str] = _f("Parameter Category 1 (Instrument)", str_length={"min_value": 1})
    PARAMCD: Series[str] = _f("Parameter Code", str_length={"min_value": 1, "max_value": 8})
    PARAM: Series[str] = _f("Parameter", str_length={"min_value": 1})
    AVAL: Series[float] = _f("Analysis Value", nullable=True)
    ABLFL: Series[str] = _f("Baseline Record Flag", isin=Y_BLANK)
    BASE: Series[float] = _f("Baseline Value", nullable=True)
    CHG: Series[float] = _f("Change from Baseline", nullable=True)
    NITEMS: Series[int] = _f("Number of Items Answered", ge=0)
    NMISS: Series[int] = _f("Number of Items Missing", ge=0)
    DTYPE: Series[str] = _f("Derivation Type", isin=["PRORATED", ""])
    ANL01FL: Series[str] = _f("Analysis Flag 01", isin=Y_BLANK)

    class Config:
        title = "Questionnaire Analysis Dataset"
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

    STUDYID: Series[str] = _f("Study Identifier", str_length={"min_value": 1})
    USUBJID: Series[str] = _f("Unique Subject Identifier", str_length={"min_value": 1})
    SITEID: Series[str] = _f("Study Site Identifier")
    ARM: Series[str] = _f("Planned Arm Code (as Randomised)")
    TRTP: Series[str] = _f("Planned Treatment")
    TRTA: Series[str] = _f("Actual Treatment")
    PARAMCD: Series[str] = _f("Parameter Code", str_length={"min_value": 1, "max_value": 8})
    PARAM: Series[str] = _f("Parameter", str_length={"min_value": 1})
    STARTDT: Series[pd.Timestamp] = _f("Time-to-Event Origin Date for Subject")
    ADT: Series[pd.Timestamp] = _f("Analysis Date")
    AVAL: Series[int] = _f("Analysis Value (Days)", ge=0)
    CNSR: Series[int] = _f("Censor", isin=[0, 1])
    EVNTDESC: Series[str] = _f("Event or Censoring Description", str_length={"min_value": 1})
    CNSDTDSC: Series[str] = _f("Censor Date Description")
    SRCDOM: Series[str] = _f("Source Data", str_length={"min_value": 1})
    SRCVAR: Series[str] = _f("Source Variable", str_length={"min_value": 1})
    CMPEVFL: Series[str] = _f("Competing Event Flag", isin=Y_BLANK)

    class Config:
        title = "Time-to-Event Analysis Dataset"
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

    STUDYID: Series[str] = _f("Study Identifier", str_length={"min_value": 1})
    USUBJID: Series[str] = _f("Unique Subject Identifier", str_length={"min_value": 1})
    SITEID: Series[str] = _f("Study Site Identifier")
    ARM: Series[str] = _f("Planned Arm Code (as Randomised)")
    TRTP: Series[str] = _f("Planned Treatment")
    INTNUM: Series[int] = _f("At-Risk Interval Number", ge=1)
    TSTART: Series[float] = _f("Start of At-Risk Interval (Days)", ge=0)
    TSTOP: Series[float] = _f("End of At-Risk Interval (Days)", ge=0)
    EVENT: Series[int] = _f("Interval Ends in Readmission (1/0)", isin=[0, 1])
    ADMID: Series[str] = _f("Admission Identifier of the Event")
    NREADM: Series[int] = _f("Number of Readmissions", ge=0)
    BEDDAYS: Series[float] = _f("Days in Hospital During Follow-up", ge=0)
    RISKDAYS: Series[float] = _f("Days at Risk During Follow-up", ge=0)
    FUDAYS: Series[float] = _f("Follow-up (Days)", ge=0)

    class Config:
        title = "Recurrent Readmissions Analysis Dataset"
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
            & (df["RISKDAYS"] == 0)
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
            DAR=("RISKDAYS", "first"),
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


def labels(name: str) -> dict[str, str]:
    """Variable -> label of dataset ``name``, in column order (the models' field titles)."""
    return {c: str(col.title) for c, col in MODELS[name].to_schema().columns.items()}


def dataset_label(name: str) -> str:
    """The label of dataset ``name`` (its model's title, e.g. "Subject-Level Analysis Dataset")."""
    return str(MODELS[name].to_schema().title)


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
