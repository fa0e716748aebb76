#!/usr/bin/env bash
# Set everything up, then run the whole test suite (what .ci/run runs).
# Extra arguments go to pytest (e.g. -k scoring, -x).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
exec .venv/bin/python -m pytest "$@"
