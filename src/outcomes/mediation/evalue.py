"""E-values of the natural direct and indirect effects (VanderWeele & Ding 2017, Ann Intern
Med 167:268-274; for mediation: Smith & VanderWeele 2019, Epidemiology 30:835-837).

The E-value of a risk ratio RR is the minimum strength of association, on the risk-ratio
scale, that an unmeasured confounder would need with both the exposure (here: of the
mediator-outcome relation, for the indirect effect) and the outcome, beyond the measured
covariates, to explain the effect away:

    E = RR* + sqrt(RR* (RR* - 1)),   RR* = RR if RR >= 1, else 1 / RR;

the E-value of the CI is that of the limit closest to 1, and 1 when the CI contains 1.
Effects on other scales are converted to an (approximate) risk ratio first (VanderWeele &
Ding 2017, table): odds ratio -> sqrt(OR) for a common outcome (> 15%), OR for a rare one;
standardised mean difference d = difference / SD(outcome) -> exp(0.91 d). A risk
difference of potential-outcome risks is replaced by the ratio of the same risks
(``risk_ratio_effects``), with its own bootstrap percentile CI. Closed forms only (no
library in Python; R ``EValue`` is not installable here): checked against the paper's and
``EValue``'s worked examples in tests/test_mediation_evalue.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .effects import effects_from_po

__all__ = ["EVALUE_COLUMNS", "COMMON_OUTCOME", "evalue", "evalue_of_ci", "rr_from_or",
           "rr_from_smd", "risk_ratio_effects", "evalue_columns"]

EVALUE_COLUMNS = ["evalue", "evalue_ci"]
#: Outcome risk above which an odds ratio is converted by its square root (VanderWeele &
#: Ding 2017: "common", more than 15% at the end of follow-up).
COMMON_OUTCOME = 0.15
#: Effects that get an E-value (not the proportion mediated).
EFFECTS_WITH_EVALUE = ("acme_control", "acme_treated", "acme_average", "ade_control",
                       "ade_treated", "ade_average", "total")


def evalue(rr):
    """E-value of risk ratio(s) ``rr`` (array-like; NaN where rr is not positive/finite)."""
    rr = np.asarray(rr, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(rr >= 1, rr, 1.0 / rr)
        out = r + np.sqrt(r * (r - 1.0))
    return np.where(np.isfinite(rr) & (rr > 0), out, np.nan)


def evalue_of_ci(lo, hi):
    """E-value of the CI (lo, hi) of a risk ratio: of the limit closest to 1, 1 when the
    interval contains 1, NaN when a limit is missing."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    out = np.where(lo > 1, evalue(lo), np.where(hi < 1, evalue(hi), 1.0))
    return np.where(np.isfinite(lo) & np.isfinite(hi), out, np.nan)


def rr_from_or(odds_ratio, common: bool):
    """Approximate risk ratio of an odds ratio: sqrt(OR) for a common outcome, else OR."""
    o = np.asarray(odds_ratio, dtype=float)
    return np.sqrt(o) if common else o


def rr_from_smd(d):
    """Approximate risk ratio of a standardised mean difference d: exp(0.91 d)."""
    return np.exp(0.91 * np.asarray(d, dtype=float))


def risk_ratio_effects(mu: np.ndarray) -> np.ndarray:
    """(B, 7) effects on the risk-ratio scale from (B, 2, 2) potential-outcome risks
    mu[t, t'] in the order of EFFECTS[:7]; the averages are geometric means (as for the
    odds ratios, :func:`~.effects.odds_ratio_effects`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(effects_from_po(np.log(mu))[:, :7])


def evalue_columns(est: pd.DataFrame, ratio_point: dict, ratio_draws: dict,
                   outcome_sd: float | None, outcome_risk: float | None,
                   alpha: float, effects: tuple[str, ...] = EFFECTS_WITH_EVALUE
                   ) -> pd.DataFrame:
    """``est`` (rows of one mediation analysis) with ``evalue`` and ``evalue_ci`` before
    ``status``: from the risk ratio of the potential-outcome risks for ``risk_difference``
    rows (``ratio_point[label]`` (7,), ``ratio_draws[label]`` (B, 7): percentile CI of
    the valid draws), sqrt(OR) or OR for ``odds_ratio`` rows (``outcome_risk`` > 15% or
    not), exp(0.91 d) with d = estimate / ``outcome_sd`` for ``mean_difference`` rows; NaN
    for the proportion mediated, median differences and rows not estimated. ``effects``
    names the effects that get one, in the order of the columns of the ratio arrays (other
    analyses, e.g. interventional effects, pass their own)."""
    ev = np.full(len(est), np.nan)
    ev_ci = np.full(len(est), np.nan)
    col = {c: est[c].to_numpy() if len(est) else np.empty(0)
           for c in ("effect", "estimate_type", "mediator", "estimate", "ci_low", "ci_high")}
    status = est["status"].to_numpy() if "status" in est.columns else None
    for i, (name, et) in enumerate(zip(col["effect"], col["estimate_type"], strict=True)):
        if name not in effects or (status is not None and status[i] != "estimated"):
            continue
        j = effects.index(name)
        if et == "risk_difference" and col["mediator"][i] in ratio_point:
            rr = ratio_point[col["mediator"][i]][j]
            d = ratio_draws[col["mediator"][i]][:, j]
            d = d[np.isfinite(d)]
            lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2]) if d.size else (np.nan, np.nan)
        elif et == "odds_ratio" and outcome_risk is not None:
            common = outcome_risk > COMMON_OUTCOME
            rr, lo, hi = (rr_from_or(col[c][i], common) for c in ("estimate", "ci_low", "ci_high"))
        elif et == "mean_difference" and outcome_sd and outcome_sd > 0:
            rr, lo, hi = (rr_from_smd(col[c][i] / outcome_sd)
                          for c in ("estimate", "ci_low", "ci_high"))
        else:
            continue
        ev[i] = float(evalue(rr))
        ev_ci[i] = float(evalue_of_ci(lo, hi))
    tail = [c for c in ("status", "reason") if c in est.columns]
    out = est.drop(columns=[c for c in EVALUE_COLUMNS if c in est.columns])
    head = [c for c in out.columns if c not in tail]
    if list(out.columns) != head + tail:  # status/reason not last: reorder
        out = out[head + tail]
    out.insert(len(head), "evalue", ev)
    out.insert(len(head) + 1, "evalue_ci", ev_ci)
    return out
