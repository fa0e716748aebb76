"""The rule catalogue: declared once, consistent, documented."""

from __future__ import annotations

from pathlib import Path

from outcomes.validation import build_catalogue, rule_catalogue
from outcomes.validation.catalogue import dataframe_check_names, replace_in_document
from outcomes.validation.checks import CROSS_TABLE_CHECKS, TABLE_CHECKS
from outcomes.validation.rules import CROSS_TABLE_RULES, TABLE_RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "validation.md"


def test_ids_are_unique_and_well_formed():
    cat = build_catalogue()
    assert len(cat) == len(rule_catalogue())
    for rule_id, rule in cat.items():
        assert rule.rule_id == rule_id
        prefix = rule_id[:3]
        if prefix in ("PAR", "QST", "ADM", "PCT"):
            expected = {"PAR": "participants", "QST": "questionnaires", "ADM": "admissions", "PCT": "peer_contacts"}
            assert rule.tables == (expected[prefix],)


def test_every_table_and_cross_table_rule_is_implemented():
    checks = {n for names in dataframe_check_names().values() for n in names}
    implemented = set(TABLE_CHECKS) | set(CROSS_TABLE_CHECKS) | checks | {"XTB-002", "QST-008"}
    for rule in (*TABLE_RULES, *CROSS_TABLE_RULES):
        assert rule.rule_id in implemented, rule.rule_id


def test_only_errors_quarantine_or_mask():
    for rule in build_catalogue().values():
        if rule.action != "report":
            assert rule.severity == "error", rule.rule_id


def test_documented_catalogue_is_current():
    text = DOC.read_text(encoding="utf-8")
    assert replace_in_document(text) == text, (
        "docs/validation.md is out of date: python -m outcomes.validation.catalogue --write docs/validation.md"
    )
