"""Estimability of a mediation analysis: the analysed sample, every model's design, and
each bootstrap replicate.

An analysis that cannot be estimated raises :class:`~outcomes.errors.NotEstimable` (a
:class:`~outcomes.errors.SingularDesign` for a rank-deficient design) with a plain reason
naming the column; it never returns a number computed from an unidentified model.

- **Sample:** at least 2 complete cases per arm; events and non-events of a binary
  outcome in each arm, at least one event per arm for the Weibull model (otherwise the
  exposure coefficient's maximum-likelihood estimate is infinite: separation, monotone
  likelihood); more complete cases than parameters in every model (a residual variance
  needs a residual degree of freedom).
- **Designs:** the full-sample design of every mediator and outcome model has full
  column rank (:func:`outcomes.linalg.check_full_rank`, R ``lm``'s QR rule).
- **Replicates:** a resample with no participant in one arm, with no more distinct
  participants than the parameters of a model (no residual degree of freedom), or in
  which a mediator (or, with an exposure x mediator term, a mediator within an arm) does
  not vary, leaves the exposure or mediator coefficient or the residual variance
  unidentified; it is a failed replicate, as is one whose outcome model does not converge. These checks are O(B n) matrix products, a
  small fraction of the fits; a full QR per replicate is not needed because the other
  columns are covariates, whose loss in a resample (a small category absent) leaves the
  fitted values, and so the effects, unchanged (minimum-norm solution).
- **Intervals:** when more than (1 - ci_level) / 2 of the replicates fail (2.5% for 95%
  intervals), the failed ones could be all of one tail, so which of them failed could
  decide a percentile bound: the effects of that mediator set are not estimable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from outcomes.errors import NotEstimable
from outcomes.linalg import check_full_rank

__all__ = ["INTERCEPT", "check_sample", "check_design", "ReplicateCheck", "interval_failure"]

INTERCEPT = "Intercept"  # as in statsmodels' formula API and result.params
#: Complete cases needed in each arm.
MIN_PER_ARM = 2


def check_sample(
    T: np.ndarray,
    exposure: str,
    outcome_type: str,
    *,
    y: np.ndarray | None = None,
    outcome: str | None = None,
    event: np.ndarray | None = None,
    event_name: str | None = None,
) -> None:
    """Raise NotEstimable unless both arms, and both outcome values, are represented."""
    n = T.size
    if n == 0:
        raise NotEstimable("no complete cases (every participant misses a model variable)")
    for value in (0, 1):
        k = int((T == value).sum())
        if k < MIN_PER_ARM:
            raise NotEstimable(
                f"only {k} complete case(s) with {exposure} = {value} "
                f"(at least {MIN_PER_ARM} per arm are needed)")
    if outcome_type == "logistic" and y is not None:
        if y.min() == y.max():
            raise NotEstimable(
                f"outcome {outcome} is {int(y[0])} for all {n} complete cases; a logistic "
                "outcome model needs both values")
        for value in (0, 1):
            yv = y[T == value]
            if yv.min() == yv.max():
                raise NotEstimable(
                    f"outcome {outcome} is {int(yv[0])} for every complete case with {exposure} "
                    f"= {value}: (quasi-)complete separation, the logistic outcome model has no "
                    "finite maximum-likelihood estimate")
    if outcome_type == "weibull" and event is not None:
        if not event.any():
            raise NotEstimable(
                f"no events ({event_name} = 1) among the {n} complete cases; the Weibull "
                "outcome model is not estimable")
        for value in (0, 1):
            if not event[T == value].any():
                raise NotEstimable(
                    f"no events ({event_name} = 1) among the complete cases with {exposure} = "
                    f"{value}: monotone likelihood, the Weibull outcome model has no finite "
                    "maximum-likelihood estimate")


def check_design(X: np.ndarray, names: Sequence[str], *, model: str, extra_params: int = 0) -> None:
    """More rows than parameters, and full column rank (R ``lm``'s QR rule), or NotEstimable."""
    n, p = X.shape
    if n <= p + extra_params:
        raise NotEstimable(
            f"{model}: {n} complete cases for {p + extra_params} parameters (no residual degree "
            "of freedom)")
    check_full_rank(X, names, model=model, intercept=INTERCEPT)


class ReplicateCheck:
    """Which bootstrap replicates leave the exposure or a mediator coefficient unidentified.

    Built once per mediator set from the full sample; calling it with a block of resample
    counts ``W`` (B x n) returns ``{cause: (B,) bool mask of failed replicates}``.
    """

    def __init__(self, T: np.ndarray, M: np.ndarray, meds: Sequence[str], exposure: str,
                 interaction: bool, n_params: int) -> None:
        sd = M.std(axis=0)
        sd[sd == 0] = 1.0
        Z = (M - M.mean(axis=0)) / sd  # standardised: the variance test is scale-free
        self.exposure = exposure
        self.meds = tuple(meds)
        parts = [T[:, None], Z, Z * Z]
        if interaction:
            parts += [T[:, None] * Z, T[:, None] * Z * Z]
        self.P = np.hstack(parts)  # (n, 1 + 2J [+ 2J])
        self.T = T
        self.interaction = interaction
        self.n_params = n_params

    def __call__(self, W: np.ndarray) -> dict[str, np.ndarray]:
        J = len(self.meds)
        S = W @ self.P
        nw = W.sum(axis=1)
        n1 = S[:, 0]
        out = {f"no participant with {self.exposure} = 0 or 1 in the resample":
               (n1 <= 0) | (n1 >= nw),
               f"at most {self.n_params} distinct participants (the parameters of the largest "
               "model) in the resample": np.count_nonzero(W, axis=1) <= self.n_params}
        tol = 1e-10

        def flat(total, s1, s2):
            with np.errstate(invalid="ignore", divide="ignore"):
                m = s1 / total[:, None]
                var = s2 / total[:, None] - m * m
            return ~(var > tol)  # (B, J); NaN (empty group) counts as flat

        const = flat(nw, S[:, 1:1 + J], S[:, 1 + J:1 + 2 * J])
        if self.interaction:
            t1 = flat(n1, S[:, 1 + 2 * J:1 + 3 * J], S[:, 1 + 3 * J:1 + 4 * J])
            W0 = S[:, 1:1 + J] - S[:, 1 + 2 * J:1 + 3 * J]
            t0 = flat(nw - n1, W0, S[:, 1 + J:1 + 2 * J] - S[:, 1 + 3 * J:1 + 4 * J])
            const = const | t1 | t0
        out["a mediator constant in the resample" + (" (or within an arm)" if self.interaction
                                                     else "")] = const.any(axis=1)
        return out


def interval_failure(failed: dict[str, int], n_boot: int, ci_level: float) -> str | None:
    """The reason the bootstrap intervals are not estimable, or None when few enough failed."""
    total = sum(failed.values())
    limit = (1 - ci_level) / 2
    if n_boot == 0 or total <= limit * n_boot + 1e-9:
        return None
    causes = "; ".join(f"{cause}: {k}" for cause, k in failed.items() if k)
    return (f"{total} of {n_boot} bootstrap replicates failed ({causes}), more than "
            f"{limit:.1%} (half of 1 - ci_level): the percentile interval and p-value would "
            "depend on which replicates failed")
