#!/usr/bin/env bash
# Set everything up, then run the whole pipeline on the bundled synthetic trial.
# Extra arguments go to snakemake (e.g. --configfile my-plan.yaml, --forceall).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
exec .venv/bin/snakemake --workflow-profile workflow/profiles/default "$@"
