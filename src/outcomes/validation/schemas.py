"""Pandera models of the four extract tables (docs/data-contract.md): types, per-column rules, row checks.

Each field's ``metadata`` declares the rule that a failing value breaks (see
:func:`outcomes.validation.rules.rule`). The models validate the *typed* frame built by
the engine: text is converted first, vectorised; values that cannot be converted are
reported under the field's rule (or its ``parse`` rule) and become null before pandera
runs, so pandera sees the right dtypes and reports range, code-list and missing-value
failures. Dataframe checks are named by the id of a rule declared in
:data:`outcomes.validation.rules.TABLE_RULES`.

Questionnaire item columns depend on the instrument registry: :func:`questionnaire_schema`
adds them to :class:`QuestionnairesModel`'s schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from outcomes.contract import (
    AGE_RANGE,
    ARMS,
    BOOLEAN_CODES,
    CONTACT_MODES,
    DIAGNOSIS_GROUPS,
    DURATION_MINUTES_RANGE,
    LEGAL_STATUS_CODES,
    PRIOR_ADMISSIONS_MAX,
    SEX_CODES,
    VISITS,
)
from outcomes.instruments import Instrument
from outcomes.validation.rules import rule

_DATE = "YYYY-MM-DD date"


class ParticipantsModel(pa.DataFrameModel):
    """participants.csv: one row per randomised participant."""

    participant_id: Series[str] = pa.Field(
        description="the participant's trial identifier; unique in the file",
        nullable=False,
        metadata=rule("PAR-001", "error", "key", "participant_id is empty", action="quarantine"),
    )
    site: Series[str] = pa.Field(
        description="code of the recruiting site (any non-empty text)",
        nullable=False,
        metadata=rule("PAR-003", "error", "required", "site is empty", action="quarantine"),
    )
    arm: Series[str] = pa.Field(
        description="randomised arm",
        nullable=False,
        isin=list(ARMS),
        metadata=rule(
            "PAR-004", "error", "code", "arm is missing or not one of the two arm codes",
            action="quarantine",
        ),
    )
    randomisation_date: Series[pa.DateTime] = pa.Field(
        description="date of randomisation",
        nullable=False,
        metadata=rule(
            "PAR-005", "error", "date", f"randomisation_date is missing or not a valid {_DATE}",
            action="quarantine",
        ),
    )
    index_discharge_date: Series[pa.DateTime] = pa.Field(
        description="discharge from the index admission: time zero of follow-up; not before randomisation_date",
        nullable=False,
        metadata=rule(
            "PAR-006", "error", "date", f"index_discharge_date is missing or not a valid {_DATE}",
            action="quarantine",
        ),
    )
    age: Series[pd.Int64Dtype] = pa.Field(
        description="age in years at randomisation",
        nullable=False,
        ge=AGE_RANGE[0],
        le=AGE_RANGE[1],
        metadata=rule(
            "PAR-007", "error", "range",
            f"age is missing or not an integer in {AGE_RANGE[0]}..{AGE_RANGE[1]}", action="mask",
        ),
    )
    sex: Series[str] = pa.Field(
        description="sex as recorded",
        nullable=False,
        isin=list(SEX_CODES),
        metadata=rule(
            "PAR-008", "error", "code", f"sex is missing or not one of {'|'.join(SEX_CODES)}",
            action="mask",
        ),
    )
    diagnosis_group: Series[str] = pa.Field(
        description="primary diagnosis group",
        nullable=False,
        isin=list(DIAGNOSIS_GROUPS),
        metadata=rule(
            "PAR-009", "error", "code",
            f"diagnosis_group is missing or not one of {'|'.join(DIAGNOSIS_GROUPS)}", action="mask",
        ),
    )
    prior_admissions: Series[pd.Int64Dtype] = pa.Field(
        description="psychiatric inpatient admissions before the index admission",
        nullable=False,
        ge=0,
        metadata=rule(
            "PAR-010", "error", "range", "prior_admissions is missing or not an integer >= 0",
            action="mask",
        ),
    )
    detained_at_index: Series[str] = pa.Field(
        description="detained under mental-health law during the index admission",
        nullable=False,
        isin=list(BOOLEAN_CODES),
        metadata=rule(
            "PAR-011", "error", "code", "detained_at_index is missing or not true|false",
            action="mask",
        ),
    )
    withdrawal_date: Series[pa.DateTime] = pa.Field(
        description="withdrawal from follow-up (empty: not withdrawn); not before randomisation_date",
        nullable=True,
        metadata=rule(
            "PAR-012", "error", "date", f"withdrawal_date is not a valid {_DATE}", action="mask"
        ),
    )
    death_date: Series[pa.DateTime] = pa.Field(
        description="date of death (empty: not known to have died); not before randomisation_date",
        nullable=True,
        metadata=rule("PAR-013", "error", "date", f"death_date is not a valid {_DATE}", action="mask"),
    )

    @pa.dataframe_check(name="PAR-014")
    def index_discharge_not_before_randomisation(cls, df: pd.DataFrame) -> pd.Series:
        return ~(df["index_discharge_date"] < df["randomisation_date"])

    @pa.dataframe_check(name="PAR-015")
    def withdrawal_not_before_randomisation(cls, df: pd.DataFrame) -> pd.Series:
        return ~(df["withdrawal_date"] < df["randomisation_date"])

    @pa.dataframe_check(name="PAR-016")
    def death_not_before_randomisation(cls, df: pd.DataFrame) -> pd.Series:
        return ~(df["death_date"] < df["randomisation_date"])

    @pa.dataframe_check(name="PAR-017")
    def prior_admissions_plausible(cls, df: pd.DataFrame) -> pd.Series:
        return ~(df["prior_admissions"] > PRIOR_ADMISSIONS_MAX).fillna(False).astype(bool)

    class Config:
        strict = False
        coerce = False


class QuestionnairesModel(pa.DataFrameModel):
    """questionnaires.csv key columns; item columns are added by :func:`questionnaire_schema`."""

    participant_id: Series[str] = pa.Field(
        description="a participant_id of participants.csv",
        nullable=False,
        metadata=rule("QST-001", "error", "key", "participant_id is empty", action="quarantine"),
    )
    visit: Series[str] = pa.Field(
        description="scheduled visit; one row per participant and visit",
        nullable=False,
        isin=list(VISITS),
        metadata=rule(
            "QST-002", "error", "key", f"visit is missing or not one of {'|'.join(VISITS)}",
            action="quarantine",
        ),
    )
    completion_date: Series[pa.DateTime] = pa.Field(
        description="date the questionnaires were completed; required when any item is answered",
        nullable=True,
        metadata=rule(
            "QST-004", "error", "date", f"completion_date is not a valid {_DATE}", action="mask"
        ),
    )

    class Config:
        strict = False
        coerce = False


ITEM_RULE = rule(
    "QST-007",
    "error",
    "range",
    "item code outside the instrument's code range",
    action="mask",
    parse=rule("QST-006", "error", "type", "item code is not an integer", action="mask"),
)
"""Rules of every questionnaire item column (``<instrument>_<nn>``)."""


class AdmissionsModel(pa.DataFrameModel):
    """admissions.csv: one row per psychiatric inpatient admission."""

    participant_id: Series[str] = pa.Field(
        description="a participant_id of participants.csv",
        nullable=False,
        metadata=rule("ADM-001", "error", "key", "participant_id is empty", action="quarantine"),
    )
    admission_id: Series[str] = pa.Field(
        description="identifier of the admission; unique in the file",
        nullable=False,
        metadata=rule("ADM-002", "error", "key", "admission_id is empty", action="quarantine"),
    )
    admission_date: Series[pa.DateTime] = pa.Field(
        description="date of admission to a psychiatric inpatient ward",
        nullable=False,
        metadata=rule(
            "ADM-004", "error", "date", f"admission_date is missing or not a valid {_DATE}",
            action="quarantine",
        ),
    )
    discharge_date: Series[pa.DateTime] = pa.Field(
        description="date of discharge (empty: still in hospital at the data cut); not before admission_date",
        nullable=True,
        metadata=rule(
            "ADM-005", "error", "date",
            f"discharge_date is not a valid {_DATE} (row quarantined: an empty discharge_date "
            "would mean 'still in hospital')",
            action="quarantine",
        ),
    )
    legal_status: Series[str] = pa.Field(
        description="informal, or detained under mental-health law",
        nullable=False,
        isin=list(LEGAL_STATUS_CODES),
        metadata=rule(
            "ADM-006", "error", "code",
            f"legal_status is missing or not one of {'|'.join(LEGAL_STATUS_CODES)}", action="mask",
        ),
    )

    @pa.dataframe_check(name="ADM-007")
    def discharge_not_before_admission(cls, df: pd.DataFrame) -> pd.Series:
        return ~(df["discharge_date"] < df["admission_date"])

    class Config:
        strict = False
        coerce = False


class PeerContactsModel(pa.DataFrameModel):
    """peer_contacts.csv: intervention delivery."""

    participant_id: Series[str] = pa.Field(
        description="a participant_id of participants.csv",
        nullable=False,
        metadata=rule("PCT-001", "error", "key", "participant_id is empty", action="quarantine"),
    )
    contact_date: Series[pa.DateTime] = pa.Field(
        description="date of the peer-support contact",
        nullable=False,
        metadata=rule(
            "PCT-002", "error", "date", f"contact_date is missing or not a valid {_DATE}",
            action="quarantine",
        ),
    )
    peer_worker_id: Series[str] = pa.Field(
        description="identifier of the peer worker (empty: a warning)",
        nullable=False,
        metadata=rule("PCT-003", "warning", "required", "peer_worker_id is empty"),
    )
    duration_minutes: Series[pd.Int64Dtype] = pa.Field(
        description="duration of the contact in minutes",
        nullable=False,
        ge=DURATION_MINUTES_RANGE[0],
        le=DURATION_MINUTES_RANGE[1],
        metadata=rule(
            "PCT-004", "error", "range",
            "duration_minutes is missing or not an integer in "
            f"{DURATION_MINUTES_RANGE[0]}..{DURATION_MINUTES_RANGE[1]}",
            action="mask",
        ),
    )
    mode: Series[str] = pa.Field(
        description="how the contact took place",
        nullable=False,
        isin=list(CONTACT_MODES),
        metadata=rule(
            "PCT-005", "error", "code", f"mode is missing or not one of {'|'.join(CONTACT_MODES)}",
            action="mask",
        ),
    )

    class Config:
        strict = False
        coerce = False


MODELS: dict[str, type[pa.DataFrameModel]] = {
    "participants": ParticipantsModel,
    "questionnaires": QuestionnairesModel,
    "admissions": AdmissionsModel,
    "peer_contacts": PeerContactsModel,
}


def item_ranges(registry: Mapping[str, Instrument]) -> dict[str, tuple[int, int]]:
    """Item column -> (code_min, code_max) for every instrument with columns of its own."""
    out: dict[str, tuple[int, int]] = {}
    for inst in registry.values():
        if inst.has_own_columns:
            for col in inst.item_columns():
                out[col] = (inst.code_min, inst.code_max)
    return out


def questionnaire_schema(items: Mapping[str, tuple[int, int]]) -> pa.DataFrameSchema:
    """:class:`QuestionnairesModel` plus one nullable Int64 column per item column present."""
    columns = {
        col: pa.Column(
            pd.Int64Dtype(),
            checks=pa.Check.in_range(lo, hi),
            nullable=True,
            required=True,
            metadata=ITEM_RULE,
            name=col,
        )
        for col, (lo, hi) in items.items()
    }
    return QuestionnairesModel.to_schema().add_columns(columns)


def table_schema(
    table: str, *, arms: tuple[str, str], items: Mapping[str, tuple[int, int]] | None = None
) -> pa.DataFrameSchema:
    """The schema a table is validated with (arm codes and item columns filled in)."""
    return _table_schema(table, tuple(arms), tuple((items or {}).items()))


@lru_cache(maxsize=64)
def _table_schema(table: str, arms: tuple[str, ...], items: tuple) -> pa.DataFrameSchema:
    # cached: building a schema deep-copies its columns (pandera schemas are not mutated)
    if table == "questionnaires":
        return questionnaire_schema(dict(items))
    schema = MODELS[table].to_schema()
    if table == "participants":
        schema = schema.update_column("arm", checks=[pa.Check.isin(list(arms))])
    return schema


def column_kind(schema: pa.DataFrameSchema, column: str) -> str:
    """``date``, ``int`` or ``str``: how the text of ``column`` is converted."""
    dtype = str(schema.columns[column].dtype)
    if dtype.startswith("datetime64"):
        return "date"
    if dtype == "Int64":
        return "int"
    return "str"
