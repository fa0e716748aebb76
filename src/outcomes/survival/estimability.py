"""The not-estimable rules shared by the survival regressions, checked before fitting.

Each check raises :class:`~outcomes.errors.NotEstimable` (or its subclass
:class:`~outcomes.errors.SingularDesign`) with a plain reason; the rules are listed in
docs/survival.md.

References
----------
- Albert A, Anderson JA. On the existence of maximum likelihood estimates in logistic
  regression models. Biometrika 1984 (complete and quasi-complete separation).
- Konis K. Linear programming algorithms for detecting separated data in binary logistic
  regression models. DPhil thesis, University of Oxford 2007 (R packages
  safeBinaryRegression and detectseparation).
- Bryson MC, Johnson ME. The incidence of monotone likelihood in the Cox model.
  Technometrics 1981 (a coefficient diverges: no finite maximum).
- Peduzzi P et al. A simulation study of the number of events per variable in logistic
  regression analysis. J Clin Epidemiol 1996.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from outcomes.errors import NotEstimable
from outcomes.linalg import check_full_rank, separating_direction

from ._common import Arms, strata_groups

#: What a Cox fit that has no finite maximum is reported as.
MONOTONE = ("the partial likelihood has no finite maximum (a coefficient diverges: "
            "monotone likelihood)")


def check_events_by_arm(events: Sequence[int], arms: Arms, *, what: str = "events",
                        estimate: str = "the hazard ratio is 0 or infinite") -> None:
    """Raise :class:`NotEstimable` when an arm has no event (``events`` = treated, control).

    With no event in one arm the likelihood of a ratio of the arms increases without bound
    (monotone likelihood; Bryson & Johnson, Biometrika 1981), so no finite estimate exists.
    """
    if sum(events) == 0:
        raise NotEstimable(f"no {what} in either arm")
    for arm, e in zip((arms.treated, arms.control), events, strict=True):
        if e == 0:
            raise NotEstimable(f"no {what} in the {arm} arm: {estimate}")


def check_events_per_coefficient(events: int, n_coef: int, *, model: str,
                                 what: str = "events") -> None:
    """Raise :class:`NotEstimable` when a model has fewer ``events`` than coefficients.

    A floor, not a rule of thumb: below one event per coefficient the maximum-likelihood
    estimate is undefined or pure sparse-data artefact (Peduzzi et al., J Clin Epidemiol
    1996, report bias already below 10); above it the estimate is reported with its (wide)
    confidence interval.
    """
    if events < n_coef:
        raise NotEstimable(f"{model}: {events} {what} for {n_coef} coefficients "
                           "(at least one per coefficient is needed)")


def separated_terms(X, y, names) -> list[str]:
    """Terms of a direction along which the logistic likelihood increases for ever: empty
    when the maximum-likelihood estimate exists.

    The data are (quasi-completely) separated — some finite coefficients do not exist —
    exactly when a b != 0 has s_i x_i'b >= 0 for every row, s_i = 2 y_i - 1 (Albert &
    Anderson 1984). Konis (2007)'s linear program finds one: maximise sum_i s_i x_i'b
    subject to those constraints and -1 <= b_j <= 1 (columns scaled to max |x| = 1); the
    data are separated when the optimum is positive. The terms returned are the non-zero
    entries of the b found (one separating direction; there may be others).
    """
    X = np.asarray(X, float)
    found, b = separating_direction(X * (2 * np.asarray(y, float) - 1)[:, None])
    if not found:
        return []
    return [nm for nm, bj in zip(names, b, strict=True) if abs(bj) > 1e-7]


def check_logistic_design(X, y, names, *, model: str = "logistic model") -> None:
    """The not-estimable rules of a logistic regression, checked before fitting
    (docs/survival.md): full column rank (intercept first), at least one outcome and one
    non-outcome per coefficient, and no (quasi-complete) separation."""
    check_full_rank(X, names, model=model, intercept=names[0])
    y = np.asarray(y, bool)
    check_events_per_coefficient(int(min(y.sum(), (~y).sum())), X.shape[1], model=model,
                                 what="outcomes of the rarer kind")
    sep = separated_terms(X, y, names)
    if sep:
        raise NotEstimable(
            f"{model}: the outcome is (quasi-completely) separated by {', '.join(sep)}: some "
            "fitted risks are 0 or 1 and the odds ratios have no finite estimate")


def risk_set_differences(X, stop, event, start=None, strata=None) -> np.ndarray:
    """The distinct non-zero rows x_i - x_j, i an event and j at risk at its time in its
    stratum: all the partial likelihood knows about the coefficients (it depends on the
    data only through them). Rows are rounded to 12 decimals and sorted (``np.unique``).

    Computed over the distinct covariate patterns of each stratum rather than over pairs
    of rows (which grow as events × n: 80 million rows at n = 20,000): pattern b is at risk
    at an event of pattern a when some row of b has start < t_i <= stop, i.e. when
    #{start_j < t_i} − #{stop_j < t_i} > 0 over the rows j of b, for some event i of a.
    The cost is O(K n log n) for K patterns in a stratum, and the result is the row-pair
    definition's exactly (tests/test_survival_estimability.py checks it against it).
    """
    X = np.asarray(X, float)
    n, p = X.shape
    stop = np.asarray(stop, float)
    start = np.full(n, -np.inf) if start is None else np.asarray(start, float)
    ev = np.asarray(event, float) > 0
    diffs = [np.zeros((0, p))]
    for idx in strata_groups(strata, n):
        if not ev[idx].any():
            continue
        pats, code = np.unique(X[idx], axis=0, return_inverse=True)
        code = code.reshape(-1)
        t_ev, a_ev = stop[idx][ev[idx]], code[ev[idx]]
        k = len(pats)
        for b in range(k):
            rows = idx[code == b]
            covered = (np.searchsorted(np.sort(start[rows]), t_ev, "left")
                       - np.searchsorted(np.sort(stop[rows]), t_ev, "left")) > 0
            a = np.flatnonzero(np.bincount(a_ev[covered], minlength=k))
            diffs.append(pats[a] - pats[b])
    D = np.unique(np.round(np.vstack(diffs), 12), axis=0)
    return D[np.any(D != 0, axis=1)]


def monotone_terms(D, names) -> list[str]:
    """Terms of a direction along which the Cox partial likelihood increases for ever:
    empty when the maximum partial-likelihood estimate is finite. ``D`` is
    :func:`risk_set_differences`.

    The likelihood is monotone exactly when a b != 0 makes every event's risk score the
    largest of its risk set: (x_i - x_j)'b >= 0 for each event i and each j at risk at its
    time in its stratum, > 0 for one (Bryson & Johnson 1981; with Efron's ties too, tied
    events then share the score). As for separation in logistic regression (Konis 2007), a
    linear program finds such a b: maximise the sum of (x_i - x_j)'b under those
    constraints and -1 <= b_k <= 1 (columns scaled to max |x| = 1); the likelihood is
    monotone when the optimum is positive. The terms returned are the non-zero entries of
    the b found.
    """
    D = np.asarray(D, float)
    if D.size == 0:
        return []
    found, b = separating_direction(D)
    if not found:
        return []
    return [nm for nm, bj in zip(names, b, strict=True) if abs(bj) > 1e-7]


def check_cox_design(X: pd.DataFrame, strata, events: np.ndarray, arm: np.ndarray, arms: Arms,
                     *, model: str) -> None:
    """The not-estimable rules of a Cox model, checked before fitting (docs/survival.md).

    No event in an arm (the hazard ratio of arm is 0 or infinite); fewer events than
    coefficients; a design column that is constant within strata or a linear combination
    of the others (rank checked with the stratum indicators, which play the intercept's
    part: the baseline hazard absorbs anything constant within a stratum). :func:`cox`
    then checks the rank of :func:`risk_set_differences` (a covariate that never differs
    between an event and those at risk with it is not identified, e.g. with one
    participant per stratum) and monotone likelihood (:func:`monotone_terms`).
    """
    check_events_by_arm((int(events[arm == 1].sum()), int(events[arm == 0].sum())), arms)
    check_events_per_coefficient(int(events.sum()), X.shape[1], model=model)
    if strata is None:
        S, snames = np.ones((len(X), 1)), ["(baseline hazard)"]
    else:
        codes, levels = pd.factorize(np.asarray(strata), sort=True)
        S = (codes[:, None] == np.arange(len(levels))[None, :]).astype(float)
        snames = [f"stratum[{lev}]" for lev in levels]
    check_full_rank(np.column_stack([S, X.to_numpy(float)]), [*snames, *X.columns],
                    model=model, intercept=snames[0] if strata is None else None)
