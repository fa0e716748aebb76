#!/usr/bin/env bash
# Install what the R oracles (tests/test_r_oracle.py, tests/test_r_oracle_mi.py,
# tests/test_imputation_r.py, tests/test_clustering_pnlmm.py, tests/test_cace_iv.py, tests/r/)
# need, from Debian's archive only: R and the survival, cmprsk, MASS, sandwich and mice
# packages, nlme and lmerTest, and AER (ivreg). Never downloads from CRAN or anywhere else.
#
#   bash scripts/r-test-deps.sh        # as root, or with sudo available
set -euo pipefail

PACKAGES=(r-base-core r-cran-survival r-cran-cmprsk r-cran-mass r-cran-sandwich r-cran-mice
          r-cran-nlme r-cran-lmertest r-cran-aer)
CHECK='for (p in c("survival", "cmprsk", "MASS", "sandwich", "mice", "nlme", "lmerTest", "AER")) if (!requireNamespace(p, quietly = TRUE)) quit(status = 1)'

if command -v Rscript > /dev/null && Rscript -e "$CHECK" > /dev/null 2>&1; then
    echo "r-test-deps: $(Rscript --version 2>&1 | head -n 1) with survival, cmprsk, MASS, sandwich, mice, nlme, lmerTest, AER present"
    exit 0
fi
bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" "${PACKAGES[@]}"
Rscript -e "$CHECK"
Rscript --version 2>&1 | head -n 1
