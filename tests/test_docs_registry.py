"""docs/questionnaires.md: the registry section is generated from the YAML files and current."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from outcomes.docgen import replace_between
from outcomes.instruments import catalogue as cat
from outcomes.instruments import load_registry
from outcomes.report.checks import scoring_rules

DOC = Path(__file__).resolve().parents[1] / "docs" / "questionnaires.md"
PACKAGE = Path(load_registry()["wemwbs"].path).parent


def test_documented_registry_is_current():
    text = DOC.read_text(encoding="utf-8")
    assert cat.replace_in_document(text) == text, (
        "docs/questionnaires.md is out of date: "
        "python -m outcomes.instruments.catalogue --write docs/questionnaires.md"
    )


def test_every_score_and_rule_status_of_the_registry_is_in_the_doc():
    text = DOC.read_text(encoding="utf-8")
    for key, inst in load_registry().items():
        section = text.split(f"### `{key}`: ")[1].split("\n### ")[0]
        for score in inst.scores:
            assert f"| `{score.paramcd}` | {score.param} |" in section
        for rule in inst.rules.values():
            assert f"| {rule['status']} |" in section


def test_the_doc_follows_a_changed_instrument_file(tmp_path):
    for path in PACKAGE.glob("*.yaml"):
        shutil.copy(path, tmp_path)
    yaml_path = tmp_path / "hhi.yaml"
    text = yaml_path.read_text(encoding="utf-8")
    yaml_path.write_text(text.replace("reversed: [3, 6]", "reversed: [3, 6, 9]")
                         .replace("missing: {max_missing: 0}", "missing: {max_missing: 2}"),
                         encoding="utf-8")
    section = cat.instrument_section(load_registry(tmp_path)["hhi"])
    assert "- Reversed items: 3, 6, 9, scored as (1 + 4) − code." in section
    assert "up to 2 missing: mean of the answered items × 12 (prorated)" in section


def test_rules_to_sign_off_are_the_reports_list():
    reg = load_registry()
    rows, _ = scoring_rules({})
    listed = {(r["instrument"], r["key"], r["rule"]) for r in rows}
    expected = {(inst.name, key, rule)
                for key, inst in reg.items() for rule in inst.rules_to_sign_off()}
    assert listed == expected
    assert ("Internalized Stigma of Mental Illness scale, 10-item", "ismi10", "reversed") in listed
    assert all(rule not in reg["gse"].rules_to_sign_off() for rule in reg["gse"].rules)


def test_replace_between_needs_each_marker_once_and_in_order():
    assert replace_between("a\n<b>\nold\n<e>\nz", "<b>", "<e>", "new\n") == "a\n<b>\nnew\n<e>\nz"
    with pytest.raises(ValueError, match="exactly once"):
        replace_between("<b> <e> <b>", "<b>", "<e>", "")
    with pytest.raises(ValueError, match="exactly once"):
        replace_between("<b> only", "<b>", "<e>", "")
    with pytest.raises(ValueError, match="before"):
        replace_between("<e> <b>", "<b>", "<e>", "")


def test_write_rewrites_only_the_section(tmp_path):
    doc = tmp_path / "q.md"
    doc.write_text(f"intro\n{cat.BEGIN}\nstale\n{cat.END}\nend\n", encoding="utf-8")
    assert cat.main(["--write", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith(f"intro\n{cat.BEGIN}\n| key | instrument |") and text.endswith(f"{cat.END}\nend\n")
    assert "stale" not in text
