#!/usr/bin/env bash
# Install Debian packages by name (root, or with sudo): the one apt-get call of the
# set-up scripts (setup.sh, browser-test-deps.sh, r-test-deps.sh). Waits for a held dpkg
# lock instead of failing. Never downloads from anywhere but the Debian archive.
#
#   bash scripts/apt-install.sh PACKAGE...
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo > /dev/null; then
        echo "apt-install: need root or sudo to apt-get install $*" >&2
        exit 1
    fi
    SUDO=sudo
fi
$SUDO apt-get -o DPkg::Lock::Timeout=600 -q update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 -q install -y \
    --no-install-recommends "$@"
