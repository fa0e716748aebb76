"""config/README.md describes every key of the plan.

The key table of config/README.md is generated from the schema (outcomes.plan_doc); these
tests fail when it is out of date or when a key of the schema is missing from it.
"""

from __future__ import annotations

import re
from pathlib import Path

from outcomes import plan_doc

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "config" / "README.md"


def documented_keys(text: str) -> set[str]:
    """The key paths of the rows of the key table (``| `key` | ...``)."""
    return set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE))


def test_config_readme_is_current():
    text = README.read_text(encoding="utf-8")
    assert plan_doc.replace_in_document(text) == text, (
        f"config/README.md is out of date: {plan_doc.COMMAND}")


def test_every_schema_key_is_in_config_readme():
    paths = [path for path, _, _ in plan_doc.keys(plan_doc.schema())]
    missing = set(paths) - documented_keys(README.read_text(encoding="utf-8"))
    assert not missing, f"keys of the schema missing from config/README.md: {sorted(missing)}"
    top = set(plan_doc.schema()["properties"])
    assert top <= set(paths) and {"survival.strata", "mediation.batches",
                                  "missing_data.tipping_point.deltas",
                                  "estimands.<id>.intercurrent_events[].strategy",
                                  "multiplicity.key_secondary.hypotheses[].table"} <= set(paths)


def test_a_missing_key_is_caught():
    text = README.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `followup_days` |"))
    assert "followup_days" not in documented_keys(text.replace(row + "\n", ""))
    assert plan_doc.replace_in_document(text.replace(row + "\n", "")) == text


def test_rows_show_defaults_bounds_and_required_keys():
    rows = {line.split(" | ")[0][3:-1]: line for line in plan_doc.table_markdown().splitlines()[2:]}
    assert rows["followup_days"].startswith("| `followup_days` | integer, ≥ 1 | `365` |")
    assert "| `\"\"` |" in rows["explanations"]
    assert "| `peer_worker` \\| `none` | `peer_worker` |" in rows["clustering"]
    assert "| list of text or null | `null` |" in rows["survival.primary_covariates"]
    assert "| integer, ≥ 1 | absent |" in rows["mediation.batches"]
    assert "| required |" in rows["estimands.<id>.label"]
    assert "| required |" in rows["multiplicity.primary.table"]
    assert "| absent |" in rows["multiplicity.primary.analysis"]
    assert all(not row.endswith("|  |") for row in rows.values()), "a key without a description"
