#!/usr/bin/env bash
# Set everything up, check the code (ruff, mypy), then run the whole test suite (what
# .ci/run runs).
# As root (CI, a fresh machine) this also installs Debian's Chromium for the report's
# browser tests and Debian's R with survival, cmprsk, MASS, sandwich, nlme, lmerTest, mice and AER
# for the R oracles (tests/test_r_oracle*.py, tests/test_clustering_pnlmm.py, tests/test_cace_iv.py: skipped with their reason
# when R is absent and not root, an error when CI is set), and installs and starts a
# one-node SLURM cluster on localhost for the workflow's SLURM test, stopping it
# afterwards by its pid files.
# Extra arguments go to pytest (e.g. -k scoring, -x).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh

.venv/bin/ruff check src tests benchmarks
# Types of the package (pyproject.toml [tool.mypy]; about 18 s of CPU from a cold cache).
.venv/bin/mypy

if [ "$(id -u)" = 0 ]; then
    # Debian's Chromium and ChromeDriver for the report's browser tests (never a download).
    bash scripts/browser-test-deps.sh
    # Debian's R and its survival/cmprsk/MASS/sandwich/mice packages for the R oracles.
    bash scripts/r-test-deps.sh
    bash scripts/slurm-local.sh up
    trap 'bash scripts/slurm-local.sh down' EXIT
fi

# One BLAS thread per process, as Snakemake gives every job of threads: 1: the analyses'
# matrices are small, and threaded BLAS on a shared 2-core machine made a 60-participant
# imputation take 79 s instead of 1.6 s (decisions Z2).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# the same OpenBLAS kernels on every x86-64 machine with AVX2, also in pytest's own process,
# which may load numpy before it imports outcomes (src/outcomes/blas.py, decisions L82)
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=Haswell
fi
# Two processes (pytest-xdist; whole modules per process, the longest first: tests/conftest.py); OUTCOMES_TEST_PROCESSES=0 runs in one.
.venv/bin/python -m pytest -n "${OUTCOMES_TEST_PROCESSES:-2}" --dist loadscope --durations=25 "$@"
