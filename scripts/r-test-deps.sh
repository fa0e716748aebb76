#!/usr/bin/env bash
# Install what the R oracle (tests/test_r_oracle.py, tests/r/) needs, from Debian's archive
# only: R and the survival, cmprsk, MASS and sandwich packages. Never downloads from CRAN
# or anywhere else.
#
#   bash scripts/r-test-deps.sh        # as root, or with sudo available
set -euo pipefail

PACKAGES=(r-base-core r-cran-survival r-cran-cmprsk r-cran-mass r-cran-sandwich)
CHECK='for (p in c("survival", "cmprsk", "MASS", "sandwich")) if (!requireNamespace(p, quietly = TRUE)) quit(status = 1)'

if command -v Rscript > /dev/null && Rscript -e "$CHECK" > /dev/null 2>&1; then
    echo "r-test-deps: $(Rscript --version 2>&1 | head -n 1) with survival, cmprsk, MASS, sandwich present"
    exit 0
fi
bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" "${PACKAGES[@]}"
Rscript -e "$CHECK"
Rscript --version 2>&1 | head -n 1
