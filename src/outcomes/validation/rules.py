"""Validation rules declared as data.

Every rule has a stable id, a severity, a category, the table(s) and column(s) it looks
at, a message and an *action*:

``quarantine``
    the row cannot be used: it goes to ``quarantine/<table>.csv`` and not to ``clean/``;
``mask``
    the row is kept but the offending cell is null in ``clean/``;
``report``
    the finding is listed, nothing else happens.

Per-column rules are declared where the column is declared, in the pandera models of
:mod:`outcomes.validation.schemas` (``pa.Field(metadata=rule(...))``). Rules that look at
a whole row, several rows, several tables or the file itself are declared here, in
:data:`TABLE_RULES`, :data:`CROSS_TABLE_RULES` and :data:`FILE_RULES`.
:func:`outcomes.validation.catalogue.build_catalogue` collects all of them and checks
that every id is declared exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outcomes.contract import FOREIGN_KEYS, PRIMARY_KEYS, PRIOR_ADMISSIONS_MAX

SEVERITIES: tuple[str, ...] = ("error", "warning", "notice")
ACTIONS: tuple[str, ...] = ("quarantine", "mask", "report")

TABLES: tuple[str, ...] = ("participants", "questionnaires", "admissions", "peer_contacts")
ANY_TABLE = "*"
"""``table`` of file-level rules that apply to every file (and to the explanations file)."""

PREFIX: dict[str, str] = {
    "participants": "PAR",
    "questionnaires": "QST",
    "admissions": "ADM",
    "peer_contacts": "PCT",
}


@dataclass(frozen=True)
class Rule:
    """One validation rule: what is checked, how bad a failure is and what happens to the row."""

    rule_id: str
    severity: str
    category: str
    tables: tuple[str, ...]
    columns: tuple[str, ...]
    message: str
    action: str = "report"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.rule_id}: severity {self.severity!r} not in {SEVERITIES}")
        if self.action not in ACTIONS:
            raise ValueError(f"{self.rule_id}: action {self.action!r} not in {ACTIONS}")
        if self.action != "report" and self.severity != "error":
            raise ValueError(f"{self.rule_id}: only errors may quarantine or mask a row")

    @property
    def table(self) -> str:
        return ", ".join(self.tables)


def rule(
    rule_id: str,
    severity: str,
    category: str,
    message: str,
    *,
    action: str = "report",
    parse: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Metadata of a per-column rule, for ``pa.Field(metadata=...)``.

    ``parse`` optionally declares a second rule for values that cannot be converted to the
    column's type (for questionnaire items, "not an integer" is a rule of its own); without
    it, conversion failures are reported under ``rule_id``.
    """
    meta: dict[str, Any] = {
        "rule_id": rule_id,
        "severity": severity,
        "category": category,
        "message": message,
        "action": action,
    }
    if parse is not None:
        meta["parse"] = parse
    return meta


def _r(rule_id, severity, category, tables, columns, message, action="report") -> Rule:
    if isinstance(tables, str):
        tables = (tables,)
    if isinstance(columns, str):
        columns = (columns,)
    return Rule(rule_id, severity, category, tuple(tables), tuple(columns), message, action)


# --------------------------------------------------------------------------------------
# File-level rules: the file as a whole, its header and its records.
# --------------------------------------------------------------------------------------
FILE_RULES: tuple[Rule, ...] = (
    _r("FIL-001", "error", "file", ANY_TABLE, (),
       "file cannot be read (exit status 2): missing, not a regular file, empty, binary, "
       "UTF-16 or not UTF-8, not comma-separated, unbalanced quotes, missing required or "
       "duplicated column"),
    _r("FIL-002", "error", "structure", ANY_TABLE, (),
       "row has the wrong number of fields", "quarantine"),
    _r("FIL-003", "warning", "structure", ANY_TABLE, (),
       "column is not part of the contract (ignored)"),
    _r("FIL-004", "notice", "structure", ANY_TABLE, (),
       "optional column absent (treated as empty for every row)"),
    _r("FIL-005", "notice", "format", ANY_TABLE, (),
       "file starts with a UTF-8 byte-order mark (accepted)"),
    _r("FIL-006", "notice", "format", ANY_TABLE, (),
       "leading/trailing whitespace stripped"),
    _r("FIL-007", "notice", "format", ANY_TABLE, (),
       "integral decimals (such as 3.0) accepted as integers"),
    _r("FIL-008", "notice", "explanation", "explanations", ("rule_id", "record_key"),
       "explanation matches no finding"),
    _r("FIL-009", "error", "structure", ANY_TABLE, (),
       "value holds a line break, which an id, code, date or number cannot: a double quote "
       "opened on one line and closed on a later one merges records; fix the quotes "
       "(row quarantined)", "quarantine"),
    _r("FIL-010", "notice", "structure", ANY_TABLE, (),
       "column without a name and without values in the header (ignored; spreadsheets "
       "leave them after deleted columns): delete the column"),
    _r("FIL-011", "error", "structure", ANY_TABLE, (),
       "value in a column without a name in the header (a shifted row or a deleted column "
       "name?): name the column in the header or delete the value (row quarantined)",
       "quarantine"),
    _r("FIL-012", "warning", "format", ANY_TABLE, (),
       "file starts with more than one UTF-8 byte-order mark (all stripped): re-save it as "
       "UTF-8 CSV"),
    _r("FIL-013", "error", "structure", "participants", (),
       "no participants: participants.csv has no usable row"),
    _r("FIL-014", "notice", "chronology", ANY_TABLE, (),
       "no data cut given (outcomes validate --data-cut, plan key data_cut): dates after "
       "the data cut are not checked"),
)

# --------------------------------------------------------------------------------------
# Table rules that look at a whole row or at several rows of one table. Within-row rules
# are pandera dataframe checks named by their rule id (schemas.py); the others are
# vectorised functions in checks.py registered under their rule id.
# --------------------------------------------------------------------------------------
_AFTER_CUT = "date after the data cut (not counted by the analysis)"
TABLE_RULES: tuple[Rule, ...] = (
    _r("PAR-002", "error", "key", "participants", PRIMARY_KEYS["participants"],
       "participant_id is duplicated (every copy quarantined)", "quarantine"),
    _r("PAR-014", "error", "chronology", "participants",
       ("index_discharge_date", "randomisation_date"),
       "index_discharge_date is before randomisation_date"),
    _r("PAR-015", "error", "chronology", "participants", ("withdrawal_date", "randomisation_date"),
       "withdrawal_date is before randomisation_date"),
    _r("PAR-016", "error", "chronology", "participants", ("death_date", "randomisation_date"),
       "death_date is before randomisation_date"),
    _r("PAR-017", "error", "range", "participants", "prior_admissions",
       f"prior_admissions above the plausible maximum of {PRIOR_ADMISSIONS_MAX}: correct it, or "
       "explain it to use the value as it is"),
    _r("PAR-018", "warning", "chronology", "participants",
       ("randomisation_date", "index_discharge_date", "withdrawal_date", "death_date"),
       _AFTER_CUT),
    _r("QST-003", "error", "key", "questionnaires", PRIMARY_KEYS["questionnaires"],
       "(participant_id, visit) is duplicated (every copy quarantined)", "quarantine"),
    _r("QST-005", "error", "required", "questionnaires", "completion_date",
       "completion_date missing or invalid although items are answered", "quarantine"),
    _r("QST-008", "error", "structure", "questionnaires", (),
       "instrument has only some of its item columns: this item column is missing"),
    _r("QST-009", "warning", "chronology", "questionnaires", "completion_date", _AFTER_CUT),
    _r("ADM-003", "error", "key", "admissions", PRIMARY_KEYS["admissions"],
       "admission_id is duplicated (every copy quarantined)", "quarantine"),
    _r("ADM-007", "error", "chronology", "admissions", ("discharge_date", "admission_date"),
       "discharge_date is before admission_date", "quarantine"),
    _r("ADM-008", "error", "chronology", "admissions", ("admission_date", "discharge_date"),
       "admission overlaps another admission of the same participant (both listed)"),
    _r("ADM-009", "warning", "chronology", "admissions", ("admission_date", "discharge_date"),
       _AFTER_CUT),
    _r("PCT-006", "warning", "key", "peer_contacts",
       ("participant_id", "contact_date", "peer_worker_id"),
       "duplicate contact record: same participant, date and peer worker (every copy listed)"),
    _r("PCT-007", "warning", "chronology", "peer_contacts", "contact_date", _AFTER_CUT),
)
AFTER_DATA_CUT: tuple[str, ...] = ("PAR-018", "QST-009", "ADM-009", "PCT-007")
"""Rules that report the dates of their columns lying after the data cut."""

# --------------------------------------------------------------------------------------
# Cross-table rules (vectorised functions in checks.py).
# --------------------------------------------------------------------------------------
_CHILDREN = tuple(FOREIGN_KEYS)  # their participant_id refers to participants.csv
CROSS_TABLE_RULES: tuple[Rule, ...] = (
    _r("XTB-001", "error", "cross-table", _CHILDREN, "participant_id",
       "participant_id not in participants.csv", "quarantine"),
    _r("XTB-002", "error", "cross-table", _CHILDREN, "participant_id",
       "the participant's row in participants.csv was quarantined (row quarantined with it)",
       "quarantine"),
    _r("XTB-003", "error", "cross-table", "questionnaires", "completion_date",
       "questionnaire completed after the participant's death_date"),
    _r("XTB-004", "warning", "cross-table", "questionnaires", "completion_date",
       "questionnaire completed after the participant's withdrawal_date"),
    _r("XTB-005", "error", "cross-table", "admissions", "admission_date",
       "admission starts after the participant's death_date"),
    _r("XTB-006", "error", "cross-table", "peer_contacts", "contact_date",
       "peer contact after the participant's death_date"),
    _r("XTB-007", "warning", "cross-table", "peer_contacts", "participant_id",
       "usual-care participant has peer contacts (contamination)"),
)
KNOCK_ON_RULES: dict[str, str] = {"XTB-002": "participants"}
"""Rules whose findings are knock-ons: rule -> table whose quarantined row (same
``participant_id``) caused them. Their causes are that row's quarantining findings
(:mod:`outcomes.validation.causes`). No other rule reports a consequence of another
finding: later checks skip quarantined rows and masked cells."""
