"""One Snakemake run of the bundled trial with config/test.yaml and the default workflow
profile (what ``bash scripts/pipeline.sh`` runs), shared by the tests that only read its
results or compare other runs with it (the ``bundled_run`` fixture of tests/conftest.py:
tests/test_workflow.py and tests/test_reproducibility.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def workflow_copy(dest: Path) -> Path:
    """A copy of the workflow, its configs and the bundled extract (not of results), in
    which a run cannot touch the repository."""
    dest.mkdir(parents=True)
    shutil.copy(ROOT / "Snakefile", dest)
    for name in ("workflow", "config", "synthetic_data"):
        shutil.copytree(ROOT / name, dest / name)
    return dest


@dataclass(frozen=True)
class BundledRun:
    work: Path                              # the working directory (results/ inside)
    process: subprocess.CompletedProcess    # Snakemake's exit status, stdout and stderr


def make_bundled_run(root: Path) -> BundledRun:
    work = workflow_copy(root / "wf")
    res = subprocess.run([SNAKEMAKE, "--workflow-profile", "workflow/profiles/default",
                          "--configfile", "config/test.yaml"],
                         cwd=work, capture_output=True, text=True, timeout=1200)
    return BundledRun(work, res)
