"""docs/results.md documents every file the workflow rules declare, and the shared columns.

The rules are read as text (cheap: importing Snakemake's API alone takes seconds): every
``f"{RESULTS}/..."`` path of a rule's ``output:`` and ``log:``, wildcards filled with a
sample value. A rule whose outputs are written another way fails the test rather than
escaping it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from outcomes.adam.io import DATASETS
from outcomes.contract import TABLE_FILES
from outcomes.estimands.rows import QUESTIONNAIRES, with_estimands
from outcomes.mediation.changemodel import OUTCOMES
from outcomes.mediation.result import RESULT_COLUMNS as MEDIATION_COLUMNS
from outcomes.plan import AnalysisPlan
from outcomes.provenance import build_provenance
from outcomes.questionnaires import AncovaResult
from outcomes.survival import RESULT_COLUMNS as SURVIVAL_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "results.md"
WORKFLOW = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]

#: A value for each wildcard of a declared path (expand() and rule wildcards).
SAMPLE = {"table": "participants", "ds": "adsl", "mediator": "M2", "outcome": "wemwbs_m12",
          "paramcd": "WEMWBS", "visit": "month_12",
          # the loop that defines the mediation batches (mediation.smk): a job and a batch
          "m": "M2", "o": "wemwbs_m12", "_number": "1"}
#: Rules that declare no file under results/.
NO_OUTPUT = {"all"}
#: Documented files no rule declares, and why each exists.
UNDECLARED = {
    "results/derived/<dataset>.csv": "outcomes.adam.io.write_adam writes a CSV beside each Parquet",
    "results/logs/current_run.json": "outcomes.stale.begin_run (onstart)",
    "results/stale/run-<time>/": "outcomes.stale.retire_stale_results (onerror)",
    "results/logs/benchmarks/<rule>.tsv": "Snakemake's benchmark: directive of every rule",
    "results/logs/benchmarks/mediation/batch_<n>.tsv": "the same, each mediation batch",
    "results/logs/input_checksums.json": "outcomes.resources.cached_sha256 (validate's params)",
}

_RULE = re.compile(r"^rule (\w+):[ \t]*$", re.MULTILINE)
_DIRECTIVE = re.compile(r"^    (\w+):", re.MULTILINE)
_PATH = re.compile(r'f"\{RESULTS\}/([^"]*)"')
_WILDCARD = re.compile(r"\{\{?(\w+)(?:,[^{}]*)?\}?\}")


_LOOP_RULE = re.compile(r'^    rule:\n        name:\n            f"(\w+?)_\{', re.MULTILINE)


def rule_blocks() -> dict[str, str]:
    """Rule name -> its text, from every workflow file; a rule a loop defines (``rule:``
    with ``name: f"mediation_batch_{_number}"``) by its name's fixed part, unindented."""
    blocks = {}
    for path in WORKFLOW:
        text = path.read_text(encoding="utf-8")
        for m in _LOOP_RULE.finditer(text):
            body = text[text.index("\n", m.end()):]
            top = re.search(r"^\S", body, re.MULTILINE)
            blocks[m.group(1)] = re.sub(r"(?m)^    ", "", body[: top.start()] if top else body)
        starts = list(_RULE.finditer(text))
        for k, m in enumerate(starts):
            end = starts[k + 1].start() if k + 1 < len(starts) else len(text)
            body = text[m.end():end]
            top = re.search(r"^\S", body, re.MULTILINE)  # the rule ends at the next top-level line
            blocks[m.group(1)] = body[: top.start()] if top else body
    return blocks


def declared_paths() -> dict[str, list[str]]:
    """Rule name -> the results/ paths of its output and log, wildcards filled in."""
    out = {}
    for name, body in rule_blocks().items():
        sections = list(_DIRECTIVE.finditer(body))
        paths = []
        for k, d in enumerate(sections):
            if d.group(1) not in ("output", "log"):
                continue
            end = sections[k + 1].start() if k + 1 < len(sections) else len(body)
            section = body[d.end():end]
            found = _PATH.findall(section)
            if not found and section.strip():
                pytest.fail(f"rule {name}: {d.group(1)} is not written as f\"{{RESULTS}}/...\"; "
                            "teach tests/test_docs_results.py to read it")
            for raw in found:
                def fill(m, name=name):
                    if m.group(1) not in SAMPLE:
                        pytest.fail(f"rule {name}: no sample value for wildcard {m.group(1)!r}")
                    return SAMPLE[m.group(1)]
                paths.append("results/" + _WILDCARD.sub(fill, raw))
        out[name] = paths
    return out


def documented_patterns(rules: list[str]) -> dict[str, re.Pattern[str]]:
    """Every path of the layout table of docs/results.md -> a regex (placeholders filled)."""
    values = {
        "table": [t for t in TABLE_FILES],
        "dataset": list(DATASETS),
        "outcome": list(OUTCOMES),
        "rule": rules,
    }
    free = {"mediator set": r"[A-Z][A-Z0-9]*", "time": r"[^/]+", "PARAMCD": r"[A-Z][A-Z0-9]*",
            "visit": r"month_[0-9]+", "n": r"[0-9]+"}
    patterns = {}
    for span in _first_cells(_section("Layout"))[0]:
        regex = ""
        for part in re.split(r"(<[^>]+>)", span):
            if part.startswith("<"):
                name = part[1:-1]
                if name in values:
                    regex += "(?:" + "|".join(map(re.escape, values[name])) + ")"
                elif name in free:
                    regex += free[name]
                else:
                    pytest.fail(f"docs/results.md: unknown placeholder {part} in {span}")
            else:
                regex += re.escape(part)
        patterns[span] = re.compile(regex + (".*" if span.endswith("/") else ""))
    return patterns


def test_the_rules_are_read():
    paths = declared_paths()
    assert {"validate", "derive_adam", "survival", "mediation_batch", "report"} <= set(paths)
    for name, found in paths.items():
        assert found or name in NO_OUTPUT, f"rule {name} declares no file under results/"
    assert "results/mediation/M2__wemwbs_m12.sensitivity.tsv" in paths["mediation_batch"]
    assert "results/logs/mediation/batch_1.log" in paths["mediation_batch"]
    assert "results/validation/clean/participants.parquet" in paths["validate"]
    assert "results/logs/validate.log" in paths["validate"]


def test_every_file_a_rule_declares_is_documented():
    paths = declared_paths()
    patterns = documented_patterns(sorted(paths))
    missing = [f"{rule}: {p}" for rule, found in paths.items() for p in found
               if not any(rx.fullmatch(p) for rx in patterns.values())]
    assert not missing, "not in docs/results.md:\n" + "\n".join(missing)


def test_every_documented_file_is_written():
    paths = declared_paths()
    declared = [p for found in paths.values() for p in found]
    unused = [span for span, rx in documented_patterns(sorted(paths)).items()
              if span not in UNDECLARED and not any(rx.fullmatch(p) for p in declared)]
    assert not unused, "docs/results.md documents files no rule declares: " + ", ".join(unused)


def test_an_undocumented_output_is_caught(monkeypatch, tmp_path):
    rules = tmp_path / "extra.smk"
    rules.write_text('rule extra:\n    output:\n        f"{RESULTS}/tables/new.tsv",\n', encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.WORKFLOW", [*WORKFLOW, rules])
    with pytest.raises(AssertionError, match="extra: results/tables/new.tsv"):
        test_every_file_a_rule_declares_is_documented()
    rules.write_text('rule odd:\n    output:\n        os.path.join(RESULTS, "x"),\n', encoding="utf-8")
    with pytest.raises(pytest.fail.Exception, match="rule odd: output is not written"):
        declared_paths()


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n")[1].split("\n## ")[0]


def _first_cells(section: str) -> list[list[str]]:
    """Code spans of the first cell of each row, one list per table of the section."""
    tables, rows = [], []
    for line in section.splitlines() + [""]:
        if line.startswith("|---"):
            continue
        if line.startswith("|"):
            rows.append(re.findall(r"`([^`]+)`", line.split("|")[1]))
        elif rows:
            tables.append([c for cell in rows[1:] for c in cell])
            rows = []
    return tables


def test_documented_columns_are_those_of_every_estimates_table():
    shared, status = _first_cells(_section("Estimates tables"))[:2]
    ancova = AncovaResult("WEMWBS", "WEMWBS total score", "month_12", "a", "b",
                          *([0.0] * 5), 1, 1, 0, 0, 0.0, 0.0).to_frame()
    # `estimand` is added where each table is assembled (outcomes.estimands.rows)
    ancova = with_estimands(ancova, QUESTIONNAIRES, AnalysisPlan.from_config({}).estimands)
    assert list(ancova.columns[: len(shared)]) == shared
    for columns in (list(SURVIVAL_COLUMNS), list(MEDIATION_COLUMNS)):
        # the result objects' columns: `clustering` and `estimand` are placed by the
        # table builders (results_table, with_estimands)
        expected = [c for c in shared if c not in ("clustering", "estimand")]
        assert columns[: len(expected)] == expected
    assert list(ancova.columns[-2:]) == status == ["status", "reason"]


def test_documented_provenance_keys_are_the_record(tmp_path):
    (tmp_path / "participants.csv").write_text("participant_id\n", encoding="utf-8")
    record = build_provenance([tmp_path / "participants.csv"], {"seed": 1}, {"analysis_seed": 1},
                              repo_dir=tmp_path)
    documented = set(_first_cells(_section("provenance.json"))[0])
    assert documented == set(record)
