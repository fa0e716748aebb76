#!/usr/bin/env bash
# Set everything up, then run the whole pipeline on the bundled synthetic trial.
# Extra arguments go to snakemake (e.g. --configfile my-plan.yaml, --forceall;
# --printshellcmds --quiet host shows each job's shell command, inputs and outputs).
# The output ends with the run's last line (outcomes.pipeline_end): where the report is,
# or which stage failed and which file to open.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
OUTCOMES_END_OF_RUN="$(mktemp)"
export OUTCOMES_END_OF_RUN
trap 'rm -f "$OUTCOMES_END_OF_RUN"' EXIT
rc=0
# Snakemake through outcomes.snakemake_local: a local run does not import the SLURM
# executor plugin, whose probe of the cluster costs ~9 s where no controller answers
# (docs/pipeline.md, "Reruns"); with --executor or --profile it is plain Snakemake.
.venv/bin/python -m outcomes.snakemake_local --workflow-profile workflow/profiles/default "$@" || rc=$?
# after Snakemake's own closing lines (log path, elapsed time, error summary)
cat "$OUTCOMES_END_OF_RUN"
exit "$rc"
