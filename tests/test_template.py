"""`outcomes template DIR`: an empty extract in the contract's shape, and an explanations
template whose commented example is skipped when read."""

from pathlib import Path

import pandas as pd
import pytest

from outcomes import cli, contract
from outcomes.datapackage import DESCRIPTOR_FILE
from outcomes.instruments import load_registry
from outcomes.template import EXPLANATIONS_FILE, template_columns, write_template
from outcomes.validation import rule_catalogue
from outcomes.validation.explanations import load_explanations

BUNDLED = Path(__file__).resolve().parents[1] / "synthetic_data"


def _header(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[0].split(",")


def test_template_headers_are_the_contract(tmp_path):
    paths = write_template(tmp_path)
    assert sorted(p.name for p in paths) == sorted(
        [*contract.TABLE_FILES.values(), DESCRIPTOR_FILE, EXPLANATIONS_FILE]
    )
    for table, name in contract.TABLE_FILES.items():
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert text.count("\n") == 1, name  # header only
        assert _header(tmp_path / name) == list(template_columns()[table])
    # every instrument with columns of its own, registry order, as the simulator writes them
    items = [c for inst in load_registry().values() if inst.has_own_columns for c in inst.item_columns()]
    assert len(items) == len(set(items))
    assert _header(tmp_path / "questionnaires.csv") == [*contract.QUESTIONNAIRE_KEY_COLUMNS, *items]
    assert _header(tmp_path / "questionnaires.csv") == _header(BUNDLED / "questionnaires.csv")


def test_template_matches_the_bundled_extract(tmp_path):
    """The bundled trial (written by the simulator) has the template's columns."""
    write_template(tmp_path)
    for name in contract.TABLE_FILES.values():
        assert set(_header(tmp_path / name)) == set(pd.read_csv(BUNDLED / name, nrows=0).columns), name


def test_explanations_template_reads_as_no_explanations(tmp_path):
    write_template(tmp_path)
    known = set(rule_catalogue()["rule_id"])
    assert load_explanations(tmp_path / EXPLANATIONS_FILE, known).empty
    # the example, uncommented, is a valid explanation
    lines = (tmp_path / EXPLANATIONS_FILE).read_text(encoding="utf-8").splitlines()
    (tmp_path / "one.tsv").write_text(lines[0] + "\n" + lines[1].removeprefix("# example: ") + "\n")
    got = load_explanations(tmp_path / "one.tsv", known)
    assert got[["rule_id", "record_key", "explained_by", "explained_on"]].values.tolist() == [
        ["PAR-017", "P0042", "A. Data Manager", "2026-11-30"]]
    assert lines[0].split("\t") == ["rule_id", "record_key", "reason", "explained_by", "explained_on"]


def test_template_validates_as_an_extract_with_no_participants(tmp_path, capsys):
    write_template(tmp_path / "x")
    rc = cli.main(["validate", str(tmp_path / "x"), "--out", str(tmp_path / "o"),
                   "--explanations", str(tmp_path / "x" / EXPLANATIONS_FILE), "--data-cut", "2024-12-31"])
    assert rc == 1
    detail = pd.read_csv(tmp_path / "o" / "issues_detail.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert detail["rule_id"].tolist() == ["FIL-013"]


def test_template_never_overwrites_and_names_unknown_instruments(tmp_path, capsys):
    assert cli.main(["template", str(tmp_path), "--instruments", "wemwbs", "gse"]) == 0
    assert _header(tmp_path / "questionnaires.csv")[3:] == [
        *load_registry()["wemwbs"].item_columns(), *load_registry()["gse"].item_columns()]
    before = (tmp_path / "participants.csv").read_bytes()
    capsys.readouterr()
    assert cli.main(["template", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "participants.csv" in err and "already exists" in err and "Traceback" not in err
    assert (tmp_path / "participants.csv").read_bytes() == before
    # SWEMWBS is scored from WEMWBS items: its template carries all of WEMWBS (QST-008)
    assert cli.main(["template", str(tmp_path / "sw"), "--instruments", "swemwbs"]) == 0
    assert _header(tmp_path / "sw" / "questionnaires.csv")[3:] == load_registry()["wemwbs"].item_columns()
    assert cli.main(["template", str(tmp_path / "new"), "--instruments", "nope"]) == 2
    assert "instruments: unknown nope" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("line", ["# a comment", "  # indented comment\twith\tfields"])
def test_explanations_comment_lines_are_skipped(tmp_path, line):
    known = set(rule_catalogue()["rule_id"])
    p = tmp_path / "e.tsv"
    p.write_text(f"rule_id\trecord_key\treason\n{line}\nPAR-017\tP0001\tchecked\n", encoding="utf-8")
    assert load_explanations(p, known)["line"].tolist() == [3]
