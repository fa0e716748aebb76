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
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo > /dev/null; then
        echo "browser-test-deps: need root or sudo to apt-get install ${PACKAGES[*]}" >&2
        exit 1
    fi
    SUDO=sudo
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"
/usr/bin/chromium --version 2>/dev/null | head -n 1
