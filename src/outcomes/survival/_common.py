"""Shared pieces of the survival analyses: tidy rows, Wald intervals, design matrices, the
``status``/``reason`` columns and the not-estimable rules shared by the regressions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from outcomes.tables import ESTIMATE_COLUMNS, ESTIMATED, NOT_ESTIMABLE, STATUS_COLUMNS

#: Columns of every estimates table (docs/results.md) plus ``events`` (events of the row's
#: outcome only; a row whose outcome is not an event, such as days in hospital, has NA).
RESULT_COLUMNS: tuple[str, ...] = (*ESTIMATE_COLUMNS, "events")

#: Count columns written as integers: participants, events, and the participants
#: readmitted at least once of the days-in-hospital rows.
COUNT_COLUMNS: tuple[str, ...] = ("n", "events", "n_readmitted")

#: Estimate types whose natural scale is the ratio (plotted on a log axis).
RATIO_TYPES = frozenset(
    {"odds_ratio", "conditional_odds_ratio", "risk_ratio", "hazard_ratio", "rate_ratio",
     "logrank_hazard_ratio", "subdistribution_hazard_ratio"}
)
#: Estimate types that are differences (plotted on a linear axis around 0).
DIFFERENCE_TYPES = frozenset(
    {"risk_difference", "rmst_difference", "mean_difference", "cif_difference",
     "median_difference", "survival_difference"}
)

TREATED = "peer_support"
CONTROL = "usual_care"


@dataclass(frozen=True)
class Arms:
    """Codes of the compared arms: ``treated`` is compared with ``control``."""

    treated: str = TREATED
    control: str = CONTROL

    @property
    def contrast(self) -> str:
        return f"{self.treated} vs {self.control}"


DEFAULT_ARMS = Arms()


def z_crit(level: float = 0.95) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


def usable_se(se: float) -> float:
    """``se`` when it gives a Wald CI (finite and > 0), else NA (:func:`wald`)."""
    se = float(se)
    return se if np.isfinite(se) and se > 0 else np.nan


def wald(estimate: float, se: float, level: float = 0.95) -> tuple[float, float, float]:
    """(ci_low, ci_high, two-sided p) of a normal Wald statistic on the given scale."""
    z = z_crit(level)
    if not np.isfinite(se) or se <= 0:
        return (np.nan, np.nan, np.nan)
    p = float(2 * stats.norm.sf(abs(estimate / se)))
    return (estimate - z * se, estimate + z * se, p)


def row(
    analysis: str,
    outcome: str,
    contrast: str,
    estimate_type: str,
    estimate: float,
    ci_low: float = np.nan,
    ci_high: float = np.nan,
    p_value: float = np.nan,
    n: int | float = np.nan,
    events: int | float = np.nan,
    *,
    std_error: float = np.nan,
    **extra,
) -> dict:
    """One result row; ``std_error`` is the standard error of ``estimate`` on the scale of
    its CI (NA when the row has none, e.g. a median, a count, a test statistic)."""
    out = {
        "analysis": analysis,
        "outcome": outcome,
        "contrast": contrast,
        "estimate_type": estimate_type,
        "estimate": float(estimate),
        "std_error": float(std_error),
        "ci_low": float(ci_low),
        "ci_high": float(ci_high),
        "p_value": float(p_value),
        "n": n,
        "events": events,
    }
    out.update(extra)
    return out


def not_estimable_row(analysis: str, outcome: str, contrast: str, estimate_type: str,
                      reason: str, n: int | float = np.nan, events: int | float = np.nan,
                      **extra) -> dict:
    """A row that keeps its identification (and n/events where known) with estimate, CI
    and p-value NA, ``status = not estimable`` and the plain ``reason``."""
    return row(analysis, outcome, contrast, estimate_type, np.nan, n=n, events=events,
               **extra, status=NOT_ESTIMABLE, reason=reason)


def with_status(df: pd.DataFrame) -> pd.DataFrame:
    """``status`` ("estimated" unless set) and ``reason`` ("" unless set) as the last columns."""
    df = df.copy()
    status = df["status"] if "status" in df.columns else pd.Series(np.nan, index=df.index)
    reason = df["reason"] if "reason" in df.columns else pd.Series(np.nan, index=df.index)
    df = df.drop(columns=[c for c in STATUS_COLUMNS if c in df.columns])
    df["status"] = status.where(status.notna(), ESTIMATED).astype(object)
    df["reason"] = reason.where(reason.notna(), "").astype(object)
    return df


def integer_counts(df: pd.DataFrame) -> pd.DataFrame:
    """The :data:`COUNT_COLUMNS` of ``df`` as integers (NA where absent), in place."""
    for c in COUNT_COLUMNS:
        if c in df.columns:
            df[c] = df[c].astype("Int64")
    return df


def frame(rows: Iterable[dict]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows))
    if df.empty:
        return pd.DataFrame(columns=list(RESULT_COLUMNS + STATUS_COLUMNS))
    extra = [c for c in df.columns if c not in RESULT_COLUMNS]
    df = df[list(RESULT_COLUMNS) + extra]
    return with_status(integer_counts(df))


@dataclass(frozen=True)
class NotEstimableResult:
    """An analysis (or one part of it) that could not be estimated: its rows, each with
    its identification, n and events where known, and the plain ``reason``."""

    reason: str
    rows: tuple[dict, ...]

    def to_frame(self) -> pd.DataFrame:
        return frame(not_estimable_row(reason=self.reason, **r) for r in self.rows)


def ident(analysis: str, outcome: str, contrast: str, estimate_type: str,
          n: int | float = np.nan, events: int | float = np.nan, **extra) -> dict:
    """The identification of one result row (for :class:`NotEstimableResult`)."""
    return dict(analysis=analysis, outcome=outcome, contrast=contrast,
                estimate_type=estimate_type, n=n, events=events, **extra)


def ratio_row(analysis, outcome, contrast, estimate_type, log_est, log_se, n, events,
              level=0.95, **extra) -> dict:
    """A row for a ratio estimated on the log scale (Wald CI exponentiated)."""
    lo, hi, p = wald(log_est, log_se, level)
    return row(analysis, outcome, contrast, estimate_type, np.exp(log_est), np.exp(lo),
               np.exp(hi), p, n, events, std_error=usable_se(log_se), **extra)


def diff_row(analysis, outcome, contrast, estimate_type, est, se, n, events, level=0.95,
             **extra) -> dict:
    """A row with a Wald CI on the scale of the estimate (a difference, an RMST)."""
    lo, hi, p = wald(est, se, level)
    return row(analysis, outcome, contrast, estimate_type, est, lo, hi, p, n, events,
               std_error=usable_se(se), **extra)


def is_flag(s: pd.Series) -> bool:
    vals = set(pd.unique(s.dropna().astype(str)))
    return bool(vals) and vals <= {"Y", "N"}


def design(df: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Numeric design columns for ``covariates`` (no intercept).

    Y/N flags become 0/1; text, categorical and boolean columns become indicator columns
    for every level but the first in sorted order (reference = first level); numeric
    columns are used as they are. Column names are ``COL`` or ``COL[level]``.
    """
    parts = []
    for col in covariates:
        s = df[col]
        if is_flag(s):
            parts.append(pd.Series((s.astype(str) == "Y").astype(float).to_numpy(),
                                   index=df.index, name=col))
        elif pd.api.types.is_bool_dtype(s):
            parts.append(s.astype(float).rename(col))
        elif pd.api.types.is_numeric_dtype(s):
            parts.append(s.astype(float).rename(col))
        else:
            levels = sorted(pd.unique(s.dropna().astype(str)))
            for lev in levels[1:]:
                parts.append(pd.Series((s.astype(str) == lev).astype(float).to_numpy(),
                                       index=df.index, name=f"{col}[{lev}]"))
    if not parts:
        return pd.DataFrame(index=df.index)
    return pd.concat(parts, axis=1)


def arm_indicator(arm: pd.Series, arms: Arms) -> np.ndarray:
    """1.0 for the treated arm, 0.0 for control; any other code is an error."""
    a = arm.astype(str).to_numpy()
    bad = sorted(set(a) - {arms.treated, arms.control})
    if bad:
        raise ValueError(f"ARM has codes other than {arms.treated!r}/{arms.control!r}: {bad}")
    return (a == arms.treated).astype(float)


def param(adtte: pd.DataFrame, paramcd: str, paramcd_col: str = "PARAMCD") -> pd.DataFrame:
    """The rows of one time-to-event parameter, one per participant."""
    sub = adtte.loc[adtte[paramcd_col] == paramcd].copy()
    if sub.empty:
        raise ValueError(f"ADTTE has no rows with {paramcd_col} == {paramcd!r}")
    return sub


def merge_adsl(tte: pd.DataFrame, adsl: pd.DataFrame | None, columns: Sequence[str],
               id_col: str = "USUBJID") -> pd.DataFrame:
    """Add the ADSL ``columns`` missing from ``tte`` (one row per participant)."""
    need = [c for c in dict.fromkeys(columns) if c not in tte.columns]
    if not need:
        return tte
    if adsl is None:
        raise ValueError(f"columns {need} are not in the data and no ADSL was given")
    if adsl[id_col].duplicated().any():
        raise ValueError("ADSL must have one row per participant")
    return tte.merge(adsl[[id_col, *need]], on=id_col, how="left", validate="many_to_one")


def strata_groups(strata, n) -> list[np.ndarray]:
    """Row indices of each stratum (one group of all rows when ``strata`` is None)."""
    if strata is None:
        return [np.arange(n)]
    codes = pd.factorize(np.asarray(strata))[0]
    return [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]


def joined_labels(df: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """The text of ``columns`` of each row joined by ``|`` (one label per combination):
    ``df[columns].astype(str).agg("|".join, axis=1)``, vectorised (the row-wise version
    takes about half a second per 1,000 rows)."""
    columns = list(columns)
    if not columns:
        return pd.Series("", index=df.index, dtype=object)
    out = df[columns[0]].astype(str)
    for c in columns[1:]:
        out = out.str.cat(df[c].astype(str), sep="|")
    return out
