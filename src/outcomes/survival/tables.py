"""Assembly of all survival effects into one tidy results table (docs/results.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.special import logit

from outcomes.clustering import NONE, PEER_WORKER, clustering_after_analysis
from outcomes.tables import ESTIMATED, write_tsv  # noqa: F401  (re-exported)

from ._common import RATIO_TYPES, RESULT_COLUMNS, STATUS_COLUMNS, integer_counts, with_status

#: Columns of the rows that respect the partially nested design, last before the status.
CLUSTERING_COLUMNS = ("design_effect", "n_clusters")
KEY = ["analysis", "outcome", "contrast", "estimate_type"]
#: Estimate types whose CI is the log(−log) interval of one arm's probability.
LOGLOG_TYPES = frozenset({"cumulative_incidence", "survival"})


def wald_scale(estimate_type: str):
    """The scale on which a row's Wald CI is symmetric: log for ratios, logit for a
    risk of one arm, log(−log) for a cumulative incidence or a Kaplan–Meier survival of one
    arm (``km.loglog_ci``; negated, so that it increases), the identity otherwise. The
    row's ``std_error`` is on this scale."""
    if estimate_type in RATIO_TYPES:
        return np.log
    if estimate_type == "risk":
        return logit
    if estimate_type in LOGLOG_TYPES:
        return lambda x: -np.log(-np.log(x))
    return lambda x: x


def main_analysis_rows(table: pd.DataFrame, clustering: str,
                       key: Sequence[str] = tuple(KEY)) -> pd.DataFrame:
    """The rows of the main analysis (the plan's ``clustering``): the rows of that
    clustering, and the ``none`` rows that have no twin of it (those whose numbers do not
    depend on the design, written once). Twins share the ``key`` columns (another table's
    identification, e.g. mediation's, can be given)."""
    if "clustering" not in table.columns:
        return table
    key = list(key)
    main = table["clustering"] == clustering
    keys = set(map(tuple, table.loc[main, key].to_numpy()))
    single = (table["clustering"] == NONE) & ~pd.Series(
        [tuple(k) in keys for k in table[key].to_numpy()], index=table.index)
    return table.loc[main | single]


def design_effects(table: pd.DataFrame) -> pd.Series:
    """For each ``peer_worker`` row with a ``none`` twin (same analysis, outcome, contrast
    and estimate type), both estimated: the variance of the peer-worker row over that of
    the naive row, from the widths of their Wald CIs on the scale where they are symmetric
    (both use the same normal quantile, so the squared ratio of widths is the ratio of
    variances). NA elsewhere."""
    out = pd.Series(np.nan, index=table.index, dtype=float)
    est = table["status"] == ESTIMATED
    naive = table.loc[(table["clustering"] == NONE) & est].drop_duplicates(KEY)
    width = {}
    for _, r in naive.iterrows():
        f = wald_scale(r["estimate_type"])
        width[tuple(r[KEY])] = f(r["ci_high"]) - f(r["ci_low"])
    for i, r in table.loc[(table["clustering"] == PEER_WORKER) & est].iterrows():
        w0 = width.get(tuple(r[KEY]))
        if w0 is None or not np.isfinite(w0) or w0 <= 0:
            continue
        f = wald_scale(r["estimate_type"])
        out[i] = ((f(r["ci_high"]) - f(r["ci_low"])) / w0) ** 2
    return out


def results_table(results: Iterable, *, drop_checks: bool = False) -> pd.DataFrame:
    """One row per effect from result objects (anything with ``to_frame()``) or frames.

    Columns: ``analysis, outcome, contrast, estimate_type, estimate, std_error, ci_low,
    ci_high, p_value, n, events`` then any extra columns (e.g. ``strategy``, ``horizon``, ``tau``).
    ``drop_checks`` leaves out the model-check rows (proportional-hazards tests).

    When a result gives a ``clustering`` column (docs/clustering.md), it is placed right
    after ``analysis`` (``none`` where a result did not set it), and
    ``design_effect`` (:func:`design_effects`) and ``n_clusters`` come last before the
    status.
    """
    frames: list[pd.DataFrame] = []
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
    clustered = "clustering" in out.columns
    if clustered:
        for c in CLUSTERING_COLUMNS:
            if c not in out.columns:
                out[c] = np.nan
    last = CLUSTERING_COLUMNS if clustered else ()
    extra = [c for c in out.columns
             if c not in (*RESULT_COLUMNS, *STATUS_COLUMNS, "clustering", *last)]
    out = out[[*RESULT_COLUMNS, *extra, *last, *[c for c in STATUS_COLUMNS if c in out],
               *(["clustering"] if clustered else [])]]
    if clustered:  # right after analysis, none where a result did not set it
        out = clustering_after_analysis(out)
    out = out.reset_index(drop=True)
    out = with_status(integer_counts(out))
    if clustered:
        out["design_effect"] = design_effects(out)
        out["n_clusters"] = out["n_clusters"].astype("Int64")
    return out
