"""The contract in two forms: docs/data-contract.md and the Frictionless descriptor.

Expectations come from the validator's own declarations (the pandera models and the rule
tables), not from the generator; the frictionless library checks the bundled extract and
faulty copies of the worked examples of docs/data-contract.md.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import frictionless
import pytest

from outcomes import cli, contract
from outcomes.contract_doc import ITEM_PATTERN, begin, end, replace_in_document
from outcomes.datapackage import DESCRIPTOR_FILE, build_datapackage, datapackage_json
from outcomes.errors import ExtractUnreadableError
from outcomes.instruments import load_registry
from outcomes.simulate.parameters import CONTROL, TREATED
from outcomes.template import write_template
from outcomes.validation import build_catalogue, validate_extract
from outcomes.validation.rules import CROSS_TABLE_RULES, TABLE_RULES
from outcomes.validation.schemas import item_ranges, table_schema

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "data-contract.md"
BUNDLED = ROOT / "synthetic_data"
DATA_CUT = "2024-12-31"  # the worked examples lie before it


def _pandera(table: str):
    return table_schema(table, arms=contract.ARMS, items=item_ranges(load_registry()))


def _expected(table: str) -> dict[str, dict]:
    """Column -> what the pandera model says: type, value required, codes, range."""
    out = {}
    for name, col in _pandera(table).columns.items():
        dtype = str(col.dtype)
        kind = "date" if dtype.startswith("datetime64") else "integer" if dtype == "Int64" else "string"
        stats: dict = {}
        for check in col.checks:
            stats.update(check.statistics)
        out[name] = {
            "type": kind,
            "required": not col.nullable and col.metadata["severity"] == "error",
            "enum": stats.get("allowed_values"),
            "minimum": stats.get("min_value"),
            "maximum": stats.get("max_value"),
        }
    return out


def _unique_keys() -> dict[str, list[str]]:
    """Table -> columns of its rule that quarantines every copy of a duplicate."""
    return {
        r.tables[0]: list(r.columns)
        for r in TABLE_RULES
        if r.category == "key" and r.action == "quarantine"
    }


# --------------------------------------------------------------------------------------
# the descriptor, the pandera models and the document agree
# --------------------------------------------------------------------------------------


def test_descriptor_agrees_with_the_pandera_models():
    desc = build_datapackage()
    assert [r["name"] for r in desc["resources"]] == list(contract.TABLE_FILES)
    orphan_rule = next(r for r in CROSS_TABLE_RULES if r.rule_id == "XTB-001")
    for res in desc["resources"]:
        table = res["name"]
        assert res["path"] == contract.TABLE_FILES[table]
        schema = res["schema"]
        fields = {f["name"]: f for f in schema["fields"]}
        expected = _expected(table)
        assert list(fields) == list(expected), table  # same columns, contract order
        for name, exp in expected.items():
            f, cons = fields[name], fields[name].get("constraints", {})
            assert f["type"] == exp["type"], (table, name)
            assert cons.get("required", False) == exp["required"], (table, name)
            assert cons.get("enum") == exp["enum"], (table, name)
            if f["type"] == "integer":
                assert (cons.get("minimum"), cons.get("maximum")) == (exp["minimum"], exp["maximum"]), name
            if f["type"] == "date":
                assert f["format"] == "default" and cons["minimum"] == "1900-01-01", name
            # a required value is a required column: partial matching then reports it missing
            if exp["required"]:
                assert name in contract.REQUIRED_COLUMNS[table], name
        assert schema["fieldsMatch"] == "partial" and schema["missingValues"] == [""]
        assert schema.get("primaryKey") == _unique_keys().get(table), table
        fks = schema.get("foreignKeys", [])
        if table in orphan_rule.tables:
            assert fks == [{"fields": list(orphan_rule.columns),
                            "reference": {"resource": "participants", "fields": ["participant_id"]}}]
        else:
            assert fks == []
    assert {c for r in desc["resources"] for c in r["dialect"].values()} >= {",", '"'}


def test_descriptor_takes_the_plans_arms_and_instruments():
    desc = build_datapackage(arms=("intervention", "control"), instruments=["ucla3"])
    fields = {r["name"]: {f["name"]: f for f in r["schema"]["fields"]} for r in desc["resources"]}
    assert fields["participants"]["arm"]["constraints"]["enum"] == ["intervention", "control"]
    assert list(fields["questionnaires"]) == [*contract.QUESTIONNAIRE_KEY_COLUMNS, "ucla3_01", "ucla3_02", "ucla3_03"]
    assert fields["questionnaires"]["ucla3_01"]["constraints"] == {"minimum": 1, "maximum": 3}


def _cells(row: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def _doc_table(text: str, block: str) -> list[dict[str, str]]:
    body = text[text.index(begin(block)) + len(begin(block)) : text.index(end(block))]
    rows = [r for r in body.strip().splitlines()]
    head = _cells(rows[0])
    return [dict(zip(head, _cells(r), strict=True)) for r in rows[2:]]


def test_document_tables_agree_with_the_pandera_models():
    text = DOC.read_text(encoding="utf-8")
    for table in contract.TABLE_FILES:
        rows = {r["column"].strip("`"): r for r in _doc_table(text, table)}
        expected = _expected(table)
        keys = [c for c in expected if c in contract.REQUIRED_COLUMNS[table] + contract.OPTIONAL_COLUMNS[table]]
        assert list(rows) == keys + ([ITEM_PATTERN] if table == "questionnaires" else []), table
        for name in keys:
            row, exp = rows[name], expected[name]
            assert row["type"] == {"string": "text"}.get(exp["type"], exp["type"]), name
            assert (row["empty value"] == "error") == exp["required"], name
            optional = name in contract.OPTIONAL_COLUMNS[table]
            assert row["column in the file"].startswith("optional") == optional, name
            if exp["enum"]:
                assert row["allowed values"] == " | ".join(f"`{v}`" for v in exp["enum"]), name
            elif exp["maximum"] is not None:
                assert row["allowed values"] == f"{exp['minimum']}..{exp['maximum']}", name
            elif exp["minimum"] is not None:
                assert row["allowed values"] == f"≥ {exp['minimum']}", name
            assert row["rules"].split(", ")[0] == _pandera(table).columns[name].metadata["rule_id"], name
    instruments = {r["key"].strip("`"): r for r in _doc_table(text, "instruments")}
    registry = load_registry()
    assert list(instruments) == list(registry)
    for key, inst in registry.items():
        assert instruments[key]["codes"] == f"{inst.code_min}..{inst.code_max}"
        cols = inst.item_columns()
        assert f"`{cols[0]}`" in instruments[key]["item columns"]
        assert f"`{cols[-1]}`" in instruments[key]["item columns"]
    keys = {r["file"]: r for r in _doc_table(text, "keys")}
    for table, cols in _unique_keys().items():
        assert keys[contract.TABLE_FILES[table]]["primary key (unique)"] == ", ".join(f"`{c}`" for c in cols)


def test_documented_contract_is_current():
    text = DOC.read_text(encoding="utf-8")
    assert replace_in_document(text) == text, (
        "docs/data-contract.md is out of date: python -m outcomes.contract_doc --write docs/data-contract.md"
    )


def test_rule_ids_cited_in_the_document_exist():
    cited = set(re.findall(r"\b(?:FIL|PAR|QST|ADM|PCT|XTB)-\d{3}\b", DOC.read_text(encoding="utf-8")))
    assert cited and cited <= set(build_catalogue())


def test_bundled_descriptor_is_current():
    assert (BUNDLED / DESCRIPTOR_FILE).read_text(encoding="utf-8") == datapackage_json(arms=(TREATED, CONTROL)), (
        "synthetic_data/datapackage.json is out of date: outcomes datapackage --out synthetic_data/datapackage.json"
    )


# --------------------------------------------------------------------------------------
# frictionless on the bundled extract, the worked examples and faulty copies
# --------------------------------------------------------------------------------------


def _errors(report) -> set[tuple[str, str, str]]:
    """(resource, field or '', error type) of every error of a frictionless report."""
    out = set()
    for task in report.tasks:
        for err in task.errors:
            out.add((task.name, getattr(err, "field_name", "") or "", err.type))
    return out


def test_bundled_extract_is_valid_for_frictionless():
    report = frictionless.validate(BUNDLED / DESCRIPTOR_FILE)
    assert report.valid, report.flatten(["taskNumber", "rowNumber", "fieldName", "type", "note"])[:5]
    assert [t.name for t in report.tasks] == list(contract.TABLE_FILES)
    assert all(t.stats["rows"] > 500 for t in report.tasks)


def _examples(directory: Path) -> Path:
    """The worked examples of docs/data-contract.md as an extract, with its descriptor."""
    found = re.findall(r"<!-- example: (\S+) -->\n```csv\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert sorted(name for name, _ in found) == sorted(contract.TABLE_FILES.values())
    directory.mkdir()
    for name, body in found:
        (directory / name).write_text(body, encoding="utf-8")
    (directory / DESCRIPTOR_FILE).write_text(datapackage_json(), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def examples(tmp_path_factory) -> Path:
    return _examples(tmp_path_factory.mktemp("contract") / "examples")


def test_worked_examples_are_a_clean_extract(examples):
    result = validate_extract(examples, data_cut=DATA_CUT)
    assert result.exit_code == 0 and result.findings.empty, result.findings
    report = frictionless.validate(examples / DESCRIPTOR_FILE)
    assert report.valid, _errors(report)


def _edit(directory: Path, file: str, old: str, new: str) -> None:
    path = directory / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


FAULTS = {
    "bad arm code": ("participants.csv", "P0001,S1,peer_support", "P0001,S1,peer-support",
                     ("participants", "arm", "constraint-error"), "PAR-004"),
    "duplicated participant_id": ("participants.csv", "P0002,S1,usual_care", "P0001,S1,usual_care",
                                  ("participants", "", "primary-key"), "PAR-002"),
    "orphan questionnaire row": ("questionnaires.csv", "P0003,month_4", "P0009,month_4",
                                 ("questionnaires", "", "foreign-key"), "XTB-001"),
    "bad date": ("admissions.csv", "A0001,2024-02-20", "A0001,2024-02-30",
                 ("admissions", "admission_date", "type-error"), "ADM-004"),
    "age out of range": ("participants.csv", ",27,not_stated", ",15,not_stated",
                         ("participants", "age", "constraint-error"), "PAR-007"),
    "empty required value": ("peer_contacts.csv", "45,face_to_face", ",face_to_face",
                             ("peer_contacts", "duration_minutes", "constraint-error"), "PCT-004"),
    "duplicated visit": ("questionnaires.csv", "P0003,month_4", "P0003,baseline",
                         ("questionnaires", "", "primary-key"), "QST-003"),
}


@pytest.fixture
def work(examples, tmp_path) -> Path:
    """A copy of the worked examples, to break."""
    return Path(shutil.copytree(examples, tmp_path / "x"))


def _rewrite(path: Path, edit) -> None:
    """Rewrite a CSV file (no quoted fields) through ``edit(rows) -> rows``."""
    rows = [line.split(",") for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("\n".join(",".join(r) for r in edit(rows)) + "\n", encoding="utf-8")


@pytest.mark.parametrize("fault", FAULTS)
def test_faulty_extract_is_invalid_for_frictionless_and_the_validator(fault, work):
    file, old, new, error, rule_id = FAULTS[fault]
    _edit(work, file, old, new)
    report = frictionless.validate(work / DESCRIPTOR_FILE)
    assert not report.valid
    assert error in _errors(report), _errors(report)
    assert rule_id in set(validate_extract(work, data_cut=DATA_CUT).findings["rule_id"])


def test_missing_required_column_is_a_missing_label(work):
    _rewrite(work / "participants.csv", lambda rows: [r[:1] + r[2:] for r in rows])  # without site
    assert ("participants", "site", "missing-label") in _errors(frictionless.validate(work / DESCRIPTOR_FILE))
    with pytest.raises(ExtractUnreadableError, match="missing required column: site"):
        validate_extract(work, data_cut=DATA_CUT)


def test_what_the_contract_tolerates_frictionless_tolerates(work):
    """Absent optional columns, no questionnaire items, columns in another order, an extra column."""
    def participants(rows):
        keep = [i for i, name in enumerate(rows[0]) if name not in ("withdrawal_date", "death_date")]
        return [[r[i] for i in reversed(keep)] + ["note" if n == 0 else "x"] for n, r in enumerate(rows)]

    _rewrite(work / "participants.csv", participants)
    _rewrite(work / "questionnaires.csv", lambda rows: [r[:3] for r in rows])
    report = frictionless.validate(work / DESCRIPTOR_FILE)
    assert report.valid, _errors(report)
    found = validate_extract(work, data_cut=DATA_CUT).findings
    assert set(found["rule_id"]) == {"FIL-003", "FIL-004"}  # the extra column, the absent optional ones


# --------------------------------------------------------------------------------------
# reaching it: outcomes datapackage, outcomes template
# --------------------------------------------------------------------------------------


def test_cli_datapackage(tmp_path, capsys):
    out = tmp_path / "dp.json"
    assert cli.main(["datapackage", "--out", str(out), "--arms", "A", "B", "--instruments", "ucla3"]) == 0
    desc = json.loads(out.read_text(encoding="utf-8"))
    assert desc == build_datapackage(arms=("A", "B"), instruments=["ucla3"])
    assert capsys.readouterr().out == f"datapackage: wrote {out}\n"
    assert cli.main(["datapackage"]) == 0
    assert capsys.readouterr().out == datapackage_json()
    assert cli.main(["datapackage", "--arms", "A", "A"]) == 2
    assert cli.main(["datapackage", "--instruments", "nope"]) == 2
    err = capsys.readouterr().err
    assert "arms" in err and "unknown nope" in err and "Traceback" not in err


def test_filled_template_validates_with_frictionless(examples, tmp_path):
    """`outcomes template DIR` writes the descriptor; filled with the examples, it is valid."""
    write_template(tmp_path / "t", instruments=["ucla3"])
    assert (tmp_path / "t" / DESCRIPTOR_FILE).read_text() == datapackage_json(instruments=["ucla3"])
    for name in contract.TABLE_FILES.values():
        rows = (examples / name).read_text(encoding="utf-8").splitlines()
        assert (tmp_path / "t" / name).read_text(encoding="utf-8") == rows[0] + "\n"
        with (tmp_path / "t" / name).open("a", encoding="utf-8") as fh:
            fh.write("\n".join(rows[1:]) + "\n")
    report = frictionless.validate(tmp_path / "t" / DESCRIPTOR_FILE)
    assert report.valid, _errors(report)
