"""Due values that could not be imputed, told apart from values that are not due.

:func:`~outcomes.imputation.mice.impute` leaves a due value missing when its column has too
few observed values in its imputation group (:class:`~outcomes.imputation.mice.NotImputed`).
Its participant must not be left out of an MI analysis as a not-due one would be: that
would be a complete-case result passed off as MI (docs/imputation.md, *A column that cannot
be imputed*). Here: which cells those are, their per-participant text form
(:data:`NOT_IMPUTED`, carried by the mediation's completed data sets), and the reason an
analysis that needs them gives for being not estimable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from outcomes.imputation.frame import ImputationFrame
from outcomes.imputation.mice import design, imputed_cells
from outcomes.imputation.settings import ImputationSettings

#: Column naming a participant's due values that could not be imputed: ``"<column>: <why>"``
#: entries joined by ``"; "`` ("" when none).
NOT_IMPUTED = "NOT_IMPUTED"
#: What an analysis's not-estimable reason ends with.
NEEDS_EVERY_VALUE = "the MI analysis needs every due value"


def not_imputed_cells(frame: ImputationFrame, settings: ImputationSettings) -> pd.DataFrame:
    """``USUBJID`` and every score column of ``frame``: why the due cell is not imputed
    (:meth:`NotImputed.describe`), "" where it is observed, imputed or not due. It depends
    on the frame and the settings only, so a reader of the completed data sets need not
    impute."""
    model = design(frame, settings)
    imputed, gaps = imputed_cells(frame, model)
    group = np.empty(len(frame.data), dtype=object)
    for label, rows in model.groups:
        group[rows] = label
    out = {"USUBJID": frame.data["USUBJID"].to_numpy()}
    for col in frame.score_columns:
        lost = (frame.eligible[col].to_numpy() & frame.data[col].isna().to_numpy()
                & ~imputed[col].to_numpy())
        text = np.full(len(group), "", dtype=object)
        for g in gaps:
            if g.column == col:
                text[lost & (group == g.group)] = g.describe()
        out[col] = text
    return pd.DataFrame(out)


def encode(cells: pd.DataFrame, rename: Mapping[str, str]) -> list[str]:
    """The :data:`NOT_IMPUTED` text of each row of ``cells`` over its columns ``rename``
    (imputation column -> the analysis data set's name)."""
    return ["; ".join(f"{rename[c]}: {w}" for c, w in row.items() if w)
            for _, row in cells[list(rename)].iterrows()]


def decode(texts: pd.Series, columns: Sequence[str]) -> pd.DataFrame:
    """The cells of ``columns`` from :data:`NOT_IMPUTED` texts (inverse of :func:`encode`)."""
    rows = [dict(e.split(": ", 1) for e in str(t).split("; ") if e) for t in texts.fillna("")]
    return pd.DataFrame([{c: r.get(c, "") for c in columns} for r in rows],
                        columns=list(columns), index=texts.index)


def not_imputed_reason(data: pd.DataFrame, cells: pd.DataFrame, columns: Sequence[str],
                       rows: np.ndarray | None = None) -> str:
    """Why an analysis of ``columns`` of ``data`` (a completed data set) is not MI: the
    reasons (``cells``, row-aligned with ``data``) of the values it needs that could not be
    imputed, counted over the participants who would be analysed but for them (``rows``:
    those in the analysis's population); "" when there is none."""
    cols = list(columns)
    why = cells[cols].to_numpy(dtype=object) != ""
    usable = data[cols].notna().to_numpy() | why
    lost = why.any(axis=1) & usable.all(axis=1)
    if rows is not None:
        lost &= rows
    counts: dict[str, int] = {}
    for k in np.flatnonzero(lost):
        for text in cells[cols].iloc[k]:
            if text:
                counts[text] = counts.get(text, 0) + 1
    if not counts:
        return ""
    listed = "; ".join(f"{text} [{n} participant{'s' if n > 1 else ''}]"
                       for text, n in counts.items())
    return f"{listed}: {NEEDS_EVERY_VALUE}"
