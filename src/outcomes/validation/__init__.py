"""Validation of a raw data extract (docs/validation.md).

Library API::

    from outcomes.validation import validate_extract
    result = validate_extract("synthetic_data", explanations=None, data_cut="2025-12-31")
    result.findings        # one row per finding (issues_detail.tsv)
    result.summary         # one row per rule and table (issues_summary.tsv)
    result.row_accounting  # rows in / used / quarantined per table
    result.clean           # typed frames of the usable rows (clean/<table>.parquet)
    result.quarantine      # unusable rows as text (quarantine/<table>.csv)
    result.exit_code       # 0 no unexplained errors, 1 unexplained errors
    result.write("validation")

:func:`validate_texts` validates an extract held in memory (the text of each file).

An unreadable extract raises :class:`outcomes.errors.ExtractUnreadableError` (exit 2).
:func:`run_validation` is the ``outcomes validate`` command. The rules are listed by
:func:`rule_catalogue` and in docs/validation.md.
"""

from __future__ import annotations

from outcomes.validation.catalogue import build_catalogue, catalogue_frame
from outcomes.validation.engine import (
    ACCOUNTING_COLUMNS,
    DETAIL_COLUMNS,
    SUMMARY_COLUMNS,
    ValidationResult,
    validate_extract,
    validate_texts,
)
from outcomes.validation.report import read_clean, run_validation
from outcomes.validation.rules import Rule


def rule_catalogue():
    """All rules as a DataFrame: rule_id, severity, category, table, columns, action, message."""
    return catalogue_frame()


__all__ = [
    "ACCOUNTING_COLUMNS",
    "DETAIL_COLUMNS",
    "SUMMARY_COLUMNS",
    "Rule",
    "ValidationResult",
    "build_catalogue",
    "read_clean",
    "rule_catalogue",
    "run_validation",
    "validate_extract",
    "validate_texts",
]
