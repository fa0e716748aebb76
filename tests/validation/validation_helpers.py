"""Helpers of the validator's tests."""

from __future__ import annotations


def findings_at(result, rule_id):
    """{(table, row, column)} of the findings of ``rule_id``."""
    f = result.findings[result.findings["rule_id"] == rule_id]
    return {(t, int(r), c) for t, r, c in zip(f["table"], f["row"], f["column"], strict=True)}
