"""Assembly of all survival effects into one tidy results table (docs/results.md)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from outcomes.tables import write_tsv  # noqa: F401  (re-exported)

from ._common import RESULT_COLUMNS, STATUS_COLUMNS, with_status


def results_table(results: Iterable, *, drop_checks: bool = False) -> pd.DataFrame:
    """One row per effect from result objects (anything with ``to_frame()``) or frames.

    Columns: ``analysis, outcome, contrast, estimate_type, estimate, ci_low, ci_high,
    p_value, n, events`` then any extra columns (e.g. ``strategy``, ``horizon``, ``tau``).
    ``drop_checks`` leaves out the model-check rows (proportional-hazards tests).
    """
    frames = []
    for r in results:
        if isinstance(r, tuple | list):
            frames.extend(x.to_frame() for x in r)
        elif isinstance(r, pd.DataFrame):
            frames.append(r)
        else:
            frames.append(r.to_frame())
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(RESULT_COLUMNS + STATUS_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    missing = [c for c in RESULT_COLUMNS if c not in out.columns]
    if missing:
        raise ValueError(f"results lack the columns {missing}")
    if drop_checks:
        out = out.loc[~out["estimate_type"].str.startswith("ph_test")]
    extra = [c for c in out.columns if c not in RESULT_COLUMNS + STATUS_COLUMNS]
    out = out[list(RESULT_COLUMNS) + extra + [c for c in STATUS_COLUMNS if c in out]]
    out = out.reset_index(drop=True)
    out["n"] = out["n"].astype("Int64")
    out["events"] = out["events"].astype("Int64")
    return with_status(out)
