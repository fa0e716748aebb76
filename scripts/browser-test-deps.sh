#!/usr/bin/env bash
# Install what the browser tests (tests/test_report*.py) need, from Debian's archive only:
# chromium, chromium-driver and a font. Never downloads a browser from anywhere else.
# The Python side (selenium) is in the `dev` extra of pyproject.toml.
#
#   bash scripts/browser-test-deps.sh        # as root, or with sudo available
set -euo pipefail

PACKAGES=(chromium chromium-driver fonts-dejavu-core)

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    echo "browser-test-deps: $(/usr/bin/chromium --version 2>/dev/null | head -n 1) and chromedriver present"
    exit 0
fi
bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" "${PACKAGES[@]}"
/usr/bin/chromium --version 2>/dev/null | head -n 1
