"""Helpers of the validator's tests."""

from __future__ import annotations


def findings_at(result, rule_id):
    """{(table, row, column)} of the findings of ``rule_id``."""
    f = result.findings[result.findings["rule_id"] == rule_id]
    return {(t, int(r), c) for t, r, c in zip(f["table"], f["row"], f["column"], strict=True)}


AUDIT = ("J. Data Manager", "2026-11-30")
"""explained_by and explained_on of the explanations the tests write."""


def explanations_tsv(*lines, audit=AUDIT):
    """Text of an explanations file: the header and one line per (rule_id, record_key, reason),
    each accepted by ``audit`` (who, when)."""
    rows = ["rule_id\trecord_key\treason\texplained_by\texplained_on"]
    rows += ["\t".join((*line, *audit)) for line in lines]
    return "\n".join(rows) + "\n"
