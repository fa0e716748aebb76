"""Writing result tables (the one TSV format of every ``results/tables/*.tsv``).

Kept free of heavy imports so that every pipeline job can use it cheaply.
"""

from __future__ import annotations

import pandas as pd

from outcomes.atomic import atomic_path
from outcomes.spreadsheet import neutralise_formulas

#: The columns every estimates table starts with (docs/results.md); each analysis adds its own.
#: ``std_error`` is the standard error of ``estimate`` on the scale of its CI (log scale for
#: a ratio; docs/results.md lists the scale of each ``estimate_type``), NA where there is none.
ESTIMATE_COLUMNS: tuple[str, ...] = (
    "analysis", "outcome", "contrast", "estimate_type", "estimate", "std_error", "ci_low",
    "ci_high", "p_value", "n",
)
#: The last two columns of every estimates table: ``status`` (one of the two values below)
#: and ``reason`` (why not estimable; empty otherwise).
STATUS_COLUMNS: tuple[str, ...] = ("status", "reason")
ESTIMATED = "estimated"
NOT_ESTIMABLE = "not estimable"


def write_tsv(table: pd.DataFrame, path) -> None:
    """Write a results table as TSV (``NA`` for missing, full float precision).

    Infinite values (a median or CI limit not reached) are written as ``NA``, as R's
    ``survfit`` prints them. Text cells that a spreadsheet would run as a formula get a
    leading ``'`` (:func:`outcomes.spreadsheet.neutralise_formulas`). The file is replaced
    atomically (:mod:`outcomes.atomic`).
    """
    table = neutralise_formulas(table)
    table = table.replace([float("inf"), float("-inf")], float("nan"))
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.10g", lineterminator="\n")
