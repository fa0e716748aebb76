"""config/README.md describes every key of the plan; .test/ and the workflow catalogue file.

The key table of config/README.md is generated from the schema (outcomes.plan_doc); these
tests fail when it is out of date, when a key of the schema is missing from it, when the
.test configuration is no longer the cheap plan on the bundled trial (whose real run is
the suite's shared bundled run) or no longer dry-runs, and when
.snakemake-workflow-catalog.yml claims a deployment the workflow does not declare.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from bundled_run import workflow_copy

from outcomes import plan_doc
from outcomes.plan import validate_config

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "config" / "README.md"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


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


def test_dot_test_is_the_cheap_plan_on_the_bundled_trial():
    """What `snakemake --directory .test` reads is config/test.yaml and synthetic_data, so the
    suite's shared bundled run (tests/bundled_run.py) is the real run of .test."""
    assert (ROOT / ".test/config/config.yaml").resolve() == (ROOT / "config/test.yaml").resolve()
    assert (ROOT / ".test/synthetic_data").resolve() == (ROOT / "synthetic_data").resolve()
    plan = yaml.safe_load((ROOT / ".test/config/config.yaml").read_text(encoding="utf-8"))
    assert validate_config(plan)["data_dir"] == "synthetic_data"


def test_dot_test_dry_runs_every_stage(tmp_path):
    work = workflow_copy(tmp_path / "wf")
    shutil.copytree(ROOT / ".test", work / ".test", symlinks=True)
    res = subprocess.run([SNAKEMAKE, "--directory", ".test", "--cores", "2", "--dry-run"],
                         cwd=work, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    for rule in ("validate", "derive_adam", "impute", "survival", "questionnaire_ancova",
                 "engagement", "mediation_gather", "multiplicity", "report"):
        assert re.search(rf"^{rule}\s+1$", out, flags=re.MULTILINE), (rule, out)
    assert not (work / "results").exists(), "the dry run wrote outside .test"


def test_catalogue_file_says_what_the_workflow_declares():
    cat = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text(encoding="utf-8"))
    usage = cat["usage"]
    assert set(usage) == {"mandatory-flags", "software-stack-deployment", "report"}
    assert set(usage["mandatory-flags"]) == {"desc", "flags"}
    rules = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "workflow/rules").glob("*.smk"))
    declares_conda = "conda:" in rules or (ROOT / "workflow/envs").exists()
    declares_container = "container:" in rules
    stack = usage["software-stack-deployment"]
    assert stack["conda"] is declares_conda
    assert stack["apptainer"] is declares_container
    assert stack["apptainer+conda"] is (declares_conda and declares_container)
    assert usage["report"] is True and any((ROOT / "workflow/report").glob("*.rst"))
