#!/usr/bin/env bash
# Set up the project on a fresh Debian machine with Python 3.11: the virtualenv .venv with
# the package (editable) and everything the workflow and tests need. Idempotent; sourced
# by scripts/pipeline.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"

apt_install() {
    bash scripts/apt-install.sh "$@"
}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: Python >= 3.11 is required ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
    exit 2
fi

if [ ! -x .venv/bin/python ]; then
    # Debian's python3 ships venv without ensurepip until python3-venv is installed.
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
    "$PYTHON" -m venv .venv
fi

# Reinstall only when the declared dependencies changed.
stamp=".venv/.outcomes-installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    rm -f .venv/.outcomes-installed-*
    touch "$stamp"
fi
