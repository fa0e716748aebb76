"""CDISC ADaM-style analysis datasets (docs/adam.md): ADSL, ADQS, ADTTE, ADRE.

Each ``derive_*`` function takes validated input tables (contract column names, types
normalised defensively) and an :class:`outcomes.plan.AnalysisPlan`, and returns a DataFrame
checked against its pandera model (:mod:`outcomes.adam.models`). Conventions are in
``docs/adam.md``.
"""

from outcomes.adam._inputs import DerivationError
from outcomes.adam.adqs import derive_adqs
from outcomes.adam.adsl import derive_adsl, resolve_data_cut
from outcomes.adam.adtte import derive_adre, derive_adtte
from outcomes.adam.io import (
    DATASETS,
    derive_all,
    derive_from_dir,
    read_adam,
    read_clean,
    write_adam,
)
from outcomes.adam.models import ADQSModel, ADREModel, ADSLModel, ADTTEModel

__all__ = [
    "DATASETS",
    "ADQSModel",
    "ADREModel",
    "ADSLModel",
    "ADTTEModel",
    "DerivationError",
    "derive_adqs",
    "derive_adre",
    "derive_adsl",
    "derive_adtte",
    "derive_all",
    "derive_from_dir",
    "read_adam",
    "read_clean",
    "resolve_data_cut",
    "write_adam",
]
