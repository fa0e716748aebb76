"""outcomes: validation, scoring, survival and mediation analysis of peer-support trials."""

import os as _os

from outcomes.blas import pin_openblas_kernels as _pin_openblas_kernels

#: The package's version, written only here: pyproject.toml reads it (setuptools dynamic
#: metadata), the CLI's --version, provenance and the reports print it.
__version__ = "0.1.0"

# Before numpy loads OpenBLAS (docs/results.md, decisions L82); a value already set is kept.
_pin_openblas_kernels(_os.environ)
