"""The input data contract of docs/data-contract.md: table files, column order and categorical codes.

This module is the one place where the raw-extract format is declared. The simulator
writes exactly these columns; the validator checks against them. Instrument item columns
(``<instrument>_<nn>``) come from the instrument registry (:mod:`outcomes.instruments`).
"""

from __future__ import annotations

ARMS: tuple[str, ...] = ("peer_support", "usual_care")
"""Default arm codes; the analysis plan may rename them (config ``arms``)."""

SEX_CODES: tuple[str, ...] = ("female", "male", "other", "not_stated")
DIAGNOSIS_GROUPS: tuple[str, ...] = (
    "psychosis",
    "bipolar",
    "depression_anxiety",
    "personality",
    "other",
)
BOOLEAN_CODES: tuple[str, ...] = ("true", "false")
VISITS: tuple[str, ...] = ("baseline", "month_4", "month_12")
LEGAL_STATUS_CODES: tuple[str, ...] = ("informal", "detained")
CONTACT_MODES: tuple[str, ...] = ("face_to_face", "telephone", "video", "group", "text")

AGE_RANGE: tuple[int, int] = (16, 100)
DURATION_MINUTES_RANGE: tuple[int, int] = (1, 600)
PRIOR_ADMISSIONS_MAX: int = 50
"""Plausible maximum of prior_admissions (lifetime psychiatric admissions before the index
admission): a larger count is an error to correct or explain (validation rule PAR-017)."""

DATE_FORMAT = "%Y-%m-%d"
"""ISO 8601 calendar date, the only date format the contract allows."""

TABLE_FILES: dict[str, str] = {
    "participants": "participants.csv",
    "questionnaires": "questionnaires.csv",
    "admissions": "admissions.csv",
    "peer_contacts": "peer_contacts.csv",
}
"""Table name -> file name inside a data directory."""

TABLE_DESCRIPTIONS: dict[str, str] = {
    "participants": "one row per randomised participant",
    "questionnaires": "one row per participant and visit, questionnaire items wide",
    "admissions": "one row per psychiatric inpatient admission",
    "peer_contacts": "one row per peer-support contact (intervention delivery)",
}

PARTICIPANT_COLUMNS: tuple[str, ...] = (
    "participant_id",
    "site",
    "arm",
    "randomisation_date",
    "index_discharge_date",
    "age",
    "sex",
    "diagnosis_group",
    "prior_admissions",
    "detained_at_index",
    "withdrawal_date",
    "death_date",
)
QUESTIONNAIRE_KEY_COLUMNS: tuple[str, ...] = ("participant_id", "visit", "completion_date")
ADMISSION_COLUMNS: tuple[str, ...] = (
    "participant_id",
    "admission_id",
    "admission_date",
    "discharge_date",
    "legal_status",
)
PEER_CONTACT_COLUMNS: tuple[str, ...] = (
    "participant_id",
    "contact_date",
    "peer_worker_id",
    "duration_minutes",
    "mode",
)

OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "participants": ("withdrawal_date", "death_date"),
    "questionnaires": (),
    "admissions": (),
    "peer_contacts": (),
}
"""Columns whose values are optional and which an extract may leave out altogether
(absent = empty for every row; the validator records a notice). ``discharge_date`` is
optional-valued but its column is required: an absent column would silently turn every
admission into one still open at the data cut."""

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "participants": tuple(c for c in PARTICIPANT_COLUMNS if c not in OPTIONAL_COLUMNS["participants"]),
    "questionnaires": QUESTIONNAIRE_KEY_COLUMNS,
    "admissions": ADMISSION_COLUMNS,
    "peer_contacts": PEER_CONTACT_COLUMNS,
}
"""Columns every file must carry (exit 2 when one is missing)."""

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "participants": ("participant_id",),
    "questionnaires": ("participant_id", "visit"),
    "admissions": ("admission_id",),
    "peer_contacts": (),
}
"""Columns whose values identify a row: unique in their file (every copy of a duplicate is
quarantined). peer_contacts has none: two contacts may share participant, date and worker."""

FOREIGN_KEYS: dict[str, tuple[str, str]] = {
    "questionnaires": ("participant_id", "participants"),
    "admissions": ("participant_id", "participants"),
    "peer_contacts": ("participant_id", "participants"),
}
"""Table -> (column, parent table): the column's value must be the parent's primary key of
a row of the parent (rows of an unknown or quarantined participant are quarantined)."""

ENCODING = "utf-8"
CSV_DIALECT: dict[str, object] = {"delimiter": ",", "quoteChar": '"', "doubleQuote": True, "header": True}
"""What the reader accepts: UTF-8 (a byte-order mark is a notice), comma-separated, fields
quoted with ``"`` and ``""`` inside a quoted field (RFC 4180), header on line 1, LF or CRLF
line ends. Keys as in a Frictionless CSV dialect."""


def item_column(instrument: str, item: int) -> str:
    """Column name of item ``item`` (1-based) of ``instrument``: ``wemwbs_01``."""
    return f"{instrument}_{item:02d}"
