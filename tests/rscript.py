"""R as a test reference: where the tests' R scripts are, and the one rule every R test
follows when R or an R package is missing: skipped with the reason, failed when CI is set
(scripts/test.sh installs R and the packages when run as root, scripts/r-test-deps.sh).

Shared by the R tests (tests/test_r_oracle*.py, test_imputation_r.py,
test_imputation_predictors.py, test_clustering_pnlmm.py, ...) instead of importing it from
a test module, which ran that module's set-up (a temporary plan file) on import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
R_DIR = ROOT / "tests" / "r"
#: The packages of the survival oracle (tests/r/oracle.R), and their Debian names.
R_PACKAGES = ("survival", "cmprsk", "MASS", "sandwich")
INSTALL = "r-base-core r-cran-survival r-cran-cmprsk r-cran-mass r-cran-sandwich"


def r_missing(packages: tuple[str, ...] = R_PACKAGES) -> str | None:
    """Why R cannot serve (no Rscript, or the first of ``packages`` not installed), or None."""
    if shutil.which("Rscript") is None:
        return "Rscript not found"
    names = ", ".join(f'"{p}"' for p in packages)
    check = (f"for (p in c({names})) if (!requireNamespace(p, quietly = TRUE)) "
             "{cat(p); quit(status = 1)}")
    r = subprocess.run(["Rscript", "-e", check], capture_output=True, text=True)
    if r.returncode != 0:
        return f"R package {r.stdout.strip() or '?'} not installed"
    return None


def require_r(packages: tuple[str, ...] = R_PACKAGES, install: str = INSTALL) -> None:
    """Skip the calling test loudly when R or one of ``packages`` is absent (fail in CI)."""
    why = r_missing(packages)
    if why:
        msg = (f"R oracle: {why}; install {install} (the test command scripts/test.sh "
               "does this when run as root)")
        if os.environ.get("CI"):  # as the other CI-aware tests
            pytest.fail(msg + " — required in CI")
        pytest.skip(msg)
