"""Number formatting of the report: one place, so that the tests can check every number.

Every estimate shown in the report is a :class:`Num`: the text shown, and — when the number
comes from a results table — the table, row, column and the full-precision text of the TSV
cell, which the template writes as ``data-*`` attributes. ``scale`` is the factor between the
value and the number shown (100 for percentages and percentage points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MINUS = "\u2212"

#: estimate types shown as percentages (probabilities) or percentage points (differences)
PERCENT_TYPES = frozenset({"risk", "cumulative_incidence", "survival"})
POINTS_TYPES = frozenset({"risk_difference", "cif_difference", "survival_difference"})
RATIO_TYPES = frozenset({"odds_ratio", "conditional_odds_ratio", "risk_ratio", "hazard_ratio",
                         "rate_ratio", "logrank_hazard_ratio", "subdistribution_hazard_ratio"})
DAYS_TYPES = frozenset({"median_time", "rmst", "rmst_difference", "mean", "median",
                        "mean_difference", "median_difference"})


@dataclass(frozen=True)
class Num:
    """A number as shown, with where it came from (``src``/``row``/``col``/``raw``)."""

    text: str
    raw: str | None = None
    src: str | None = None
    row: int | None = None
    col: str | None = None
    scale: float = 1.0
    decimals: int | None = None

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.text


def is_missing(x) -> bool:
    if x is None:
        return True
    try:
        return bool(math.isnan(float(x)))
    except (TypeError, ValueError):
        return str(x).strip() in ("", "NA", "NaN", "nan")


def number(x, decimals: int, *, scale: float = 1.0, missing: str = "\u2014",
           signed: bool = False) -> str:
    """``x * scale`` with ``decimals`` decimals, a true minus sign, ``missing`` for NA."""
    if is_missing(x):
        return missing
    v = float(x) * scale
    if math.isinf(v):
        return missing
    text = f"{v:+.{decimals}f}" if signed else f"{v:.{decimals}f}"
    text = text.replace("-", MINUS)
    # -0.0 shown as 0.0
    if text.lstrip("+" + MINUS).strip("0.") == "":
        text = f"{0.0:.{decimals}f}"
    return text


def percent_tick(x) -> str:
    """A probability ``x`` as an axis tick in percent: whole percents without decimals,
    others with one (0.25 -> "25%", 0.025 -> "2.5%"), the report's minus sign."""
    v = float(x) * 100
    decimals = 0 if abs(v - round(v)) < 1e-6 else 1
    return number(x, decimals, scale=100.0) + "%"


def p_value(p) -> str:
    if is_missing(p):
        return "\u2014"
    p = float(p)
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}"


def style(estimate_type: str, analysis: str = "") -> tuple[int, float, str]:
    """(decimals, scale, unit suffix) of an estimate type."""
    if estimate_type in PERCENT_TYPES:
        return 1, 100.0, "%"
    if estimate_type in POINTS_TYPES:
        return 1, 100.0, ""
    if estimate_type in RATIO_TYPES:
        return 2, 1.0, ""
    if estimate_type == "icc":  # an intracluster correlation: often below 0.05
        return 3, 1.0, ""
    if estimate_type in ("ph_test_chisq", "design_effect"):
        return 2, 1.0, ""
    if estimate_type == "prop_mediated":
        return 1, 100.0, "%"
    if estimate_type in ("adjusted_mean_difference",):
        return 2, 1.0, ""
    if estimate_type == "effect_per_contact":  # score points per contact: often below 0.1
        return 3, 1.0, ""
    if estimate_type == "risk_difference_per_contact":  # percentage points per contact
        return 2, 100.0, ""
    if estimate_type == "median_time":
        return 0, 1.0, ""
    if estimate_type in DAYS_TYPES and analysis != "mediation":
        return 1, 1.0, ""
    return 2, 1.0, ""


def cell(raw, *, estimate_type: str, src: str | None = None, row: int | None = None,
         col: str | None = None, analysis: str = "", missing: str = "\u2014",
         unit: bool = True) -> Num:
    """A table cell as a :class:`Num` formatted for ``estimate_type``."""
    decimals, scale, suffix = style(estimate_type, analysis)
    text = number(raw, decimals, scale=scale, missing=missing)
    if unit and suffix and not is_missing(raw):
        text += suffix
    raw_text = None if raw is None else str(raw)
    return Num(text, raw_text, src, row, col, scale, decimals)
