"""One Snakemake run of the bundled trial with config/test.yaml and the default workflow
profile (what ``bash scripts/pipeline.sh`` runs), shared by the tests that only read its
results, compare other runs with it or work on copies of it (the ``bundled_run`` fixture
of tests/conftest.py: tests/test_workflow.py, tests/test_reproducibility.py,
tests/test_workflow_trust.py and tests/test_estimands_outputs.py).

The run reads the extract from a directory whose name holds a space, a quote and a shell
command (``EXTRACT``) and an explanations file without explanations, through
``config/bundled.yaml`` (config/test.yaml with ``data_dir`` and ``explanations`` set), so
that it is also the good run of the shell-syntax tests of tests/test_workflow_trust.py:
until decisions CU2 that module made its own full run of the same plan (93 s of the suite).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
#: The shared run's extract directory: a space, a quote and a shell command.
EXTRACT = "extract 'Q'; touch pwned"
#: The plan of the shared run and of the runs compared with it (``bundled_copy``).
CONFIG = "config/bundled.yaml"


def workflow_copy(dest: Path) -> Path:
    """A copy of the workflow, its configs and the bundled extract (not of results), in
    which a run cannot touch the repository."""
    dest.mkdir(parents=True)
    shutil.copy(ROOT / "Snakefile", dest)
    for name in ("workflow", "config", "synthetic_data"):
        shutil.copytree(ROOT / name, dest / name)
    return dest


def bundled_copy(dest: Path, extract: str = "synthetic_data") -> Path:
    """``workflow_copy`` with the bundled extract in the directory ``extract``, an
    explanations file that explains nothing (header only) and ``CONFIG``: config/test.yaml
    reading both. The extract's directory name is in no result table, derived dataset,
    validation or imputation table (only in plan.json, provenance.json, the logs and the
    HTML pages), so runs from copies with different names give the same bytes there."""
    work = workflow_copy(dest)
    if extract != "synthetic_data":
        (work / "synthetic_data").rename(work / extract)
    (work / "explanations.tsv").write_text("rule_id\trecord_key\treason\n")
    test = (work / "config" / "test.yaml").read_text()
    plan = test.replace("data_dir: synthetic_data\n", "").replace('explanations: ""\n', "")
    assert plan.count("\n") == test.count("\n") - 2, "config/test.yaml: data_dir or explanations moved"
    (work / CONFIG).write_text(plan + f"data_dir: {json.dumps(extract)}\nexplanations: explanations.tsv\n")
    return work


@dataclass(frozen=True)
class BundledRun:
    work: Path                              # the working directory (results/ inside)
    process: subprocess.CompletedProcess    # Snakemake's exit status, stdout and stderr


#: Where each job of the shared run records its peak RSS and thread variables
#: (outcomes.resources.record_usage; tests/test_resources.py), outside results/.
USAGE = "usage"


def make_bundled_run(root: Path) -> BundledRun:
    work = bundled_copy(root / "wf", EXTRACT)
    env = dict(os.environ, OUTCOMES_USAGE_DIR=str(work / USAGE))
    res = subprocess.run([SNAKEMAKE, "--workflow-profile", "workflow/profiles/default",
                          "--configfile", CONFIG],
                         cwd=work, capture_output=True, text=True, timeout=1200, env=env)
    return BundledRun(work, res)
