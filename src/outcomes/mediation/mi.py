"""Mediation over multiply imputed data: the MI Boot pooled method (docs/mediation.md, §7b).

Schomaker & Heumann (2018, Stat Med 37:2252-2266) call it "MI Boot pooled": impute m
times, bootstrap each completed data set, and take the percentile interval of all the
bootstrap estimates pooled into one sample. Here each completed data set gets
``ceil(n_boot / m)`` replicates (at least 2) from its own child of the job's random stream,
so the whole analysis fits about as many replicates as the complete-case one. The point
estimate is the mean of the m full-sample estimates (Rubin's); the p-value is the
bootstrap p-value of the pooled draws; ``riv`` and ``fmi`` come from Rubin's rules with
each imputation's bootstrap variance as its within-imputation variance.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from outcomes.clustering.bootstrap import ClusterDesignError
from outcomes.errors import NotEstimable
from outcomes.imputation.gaps import NOT_IMPUTED, decode, not_imputed_reason
from outcomes.imputation.pool import rubin
from outcomes.memory import keep_large_blocks

from . import effects as fx
from . import interventional as ivx
from .bootstrap import bootstrap_pvalue
from .checks import interval_failure
from .data import Roles, count_missing
from .engine import MissingDataWarning, fit_mediation_designs
from .evalue import evalue_columns
from .result import ESTIMATED, NOT_ESTIMABLE, STATUS_COLUMNS, MediationResult
from .sensitivity import (
    DEFAULT_RHO_GRID,
    SENSITIVITY_COLUMNS,
    SENSITIVITY_MODELS,
    acme_at_rho,
    probit_band,
    sensitivity_band,
    usable_grid,
)
from .summaries import EXTRAPOLATED, meaningful_proportions

__all__ = ["MI_COLUMNS", "MediationMIResult", "boot_per_imputation", "fit_mediation_mi",
           "fit_mediation_mi_designs"]

#: What the MI rows add to the complete-case columns (before status and reason).
MI_COLUMNS = ("riv", "fmi", "m")
CI_METHOD = (
    "MI Boot pooled (Schomaker & Heumann 2018): every completed data set is bootstrapped "
    "(ceil(n_boot / m) replicates each, at least 2, one shared resample per replicate for "
    "all models: of participants, or of whole clusters for the cluster bootstrap) and the percentile interval and bootstrap p-value are "
    "taken over the replicates of all imputations pooled; point estimate = mean of the m "
    "full-sample estimates; riv and fmi by Rubin's rules with each imputation's bootstrap "
    "variance as its within-imputation variance"
)
MI_ASSUMPTION = (
    "Multiple imputation: missing mediators, outcomes and covariate scores are missing at "
    "random given the imputation model (every score at every visit, arm, strata, age, prior "
    "admissions, readmission before each visit); scores after death or the data cut are not "
    "imputed and their participants are left out (the while-alive estimand); readmission "
    "outcomes are not imputed."
)


def boot_per_imputation(n_boot: int, m: int) -> int:
    """Bootstrap replicates per completed data set: ceil(n_boot / m), at least 2 (a
    within-imputation variance needs two); 0 when no bootstrap is asked for."""
    return 0 if n_boot <= 0 else max(2, -(-int(n_boot) // int(m)))


def _child(seed: np.random.SeedSequence, i: int) -> np.random.Generator:
    """Generator of imputation ``i`` (1..m): child ``i`` of the job's stream ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed.entropy,
                                                        spawn_key=(*seed.spawn_key, i)))


@dataclass(frozen=True)
class MediationMIResult:
    """The pooled analysis: ``estimates`` in the complete-case shape plus ``riv``, ``fmi``
    and ``m``; ``fits`` the analysis of each completed data set."""

    estimates: pd.DataFrame
    sensitivity: pd.DataFrame
    sensitivity_summary: pd.DataFrame
    fits: tuple[MediationResult, ...]
    boot_each: int
    details: dict[str, Any]
    notes: list[str]

    @property
    def m(self) -> int:
        return len(self.fits)

    def to_frame(self) -> pd.DataFrame:
        return self.estimates.copy()

    def sensitivity_frame(self) -> pd.DataFrame:
        return self.sensitivity.copy()

    def report(self) -> dict[str, Any]:
        """The first imputation's report with the pooled inference, notes and assumptions."""
        out = self.fits[0].report()
        out["assumptions"] = [MI_ASSUMPTION if a.startswith("Complete cases") else a
                              for a in out["assumptions"]]
        out["inference"].update(self.details["inference"])
        out["inference"].pop("seed", None)
        out["sensitivity"] = self.sensitivity_summary.to_dict(orient="records")
        out["notes"] = self.notes
        out["missing_data"] = self.details["missing_data"]
        return out


def _roles(kw: dict[str, Any]) -> Roles:
    outcome_vars = ((kw["time"], kw["event"]) if kw.get("outcome_type") == "weibull"
                    else (kw["outcome"],))
    return Roles(kw["exposure"], tuple(kw["mediators"]), outcome_vars,
                 tuple(kw.get("covariates", ())),
                 {m: tuple(v) for m, v in (kw.get("mediator_covariates") or {}).items()})


def fit_mediation_mi(completed: Sequence[pd.DataFrame], *, seed: np.random.SeedSequence,
                     n_boot: int = 1000, ci_level: float = 0.95, cluster: str | None = None,
                     **kwargs: Any) -> MediationMIResult:
    """:func:`~outcomes.mediation.fit_mediation` on each completed data set, pooled.

    ``kwargs`` are those of ``fit_mediation`` (without ``rng``); ``seed`` is the job's
    stream, whose children 1..m seed the bootstraps of the imputations; ``cluster`` makes
    every imputation's bootstrap the cluster bootstrap. Raises :class:`NotEstimable` when
    a value the analysis needs could not be imputed (the completed data sets' column
    ``NOT_IMPUTED``, :mod:`outcomes.imputation.gaps`; leaving its participants out would be
    complete cases, not MI), when an imputation's analysis is not estimable (naming the
    imputations and the reason) or when the completed data sets analyse different
    participants (a value left missing in some of them only).
    """
    return fit_mediation_mi_designs(completed, designs={"": (seed, cluster)}, n_boot=n_boot,
                                    ci_level=ci_level, **kwargs)[""]


def fit_mediation_mi_designs(completed: Sequence[pd.DataFrame], *,
                             designs: Mapping[str, tuple[np.random.SeedSequence, str | None]],
                             n_boot: int = 1000, ci_level: float = 0.95, **kwargs: Any
                             ) -> dict[str, MediationMIResult]:
    """:func:`fit_mediation_mi` for several bootstrap designs (name -> (stream, cluster
    column or None)) sharing each imputation's full-sample fits
    (:func:`~outcomes.mediation.engine.fit_mediation_designs`). A design whose clusters
    cannot be resampled raises :class:`~outcomes.clustering.bootstrap.ClusterDesignError`.
    """
    if len(completed) < 2:
        raise NotEstimable(f"{len(completed)} imputation(s): pooling needs m >= 2")
    roles = _roles(kwargs)
    if NOT_IMPUTED in completed[0].columns:
        cols = roles.all_columns()
        lost = not_imputed_reason(completed[0], decode(completed[0][NOT_IMPUTED], cols), cols)
        if lost:
            raise NotEstimable(lost)
    masks = [count_missing(d, roles)[1] for d in completed]
    differ = [i + 1 for i, k in enumerate(masks) if not np.array_equal(k, masks[0])]
    if differ:
        raise NotEstimable(
            f"the completed data sets analyse different participants ({int(masks[0].sum())} in "
            f"imputation 1, {int(masks[differ[0] - 1].sum())} in imputation {differ[0]})")
    each = boot_per_imputation(n_boot, len(completed))
    keep_large_blocks()  # m bootstraps allocate the same blocks m times
    fits: dict[str, list[MediationResult]] = {name: [] for name in designs}
    failed: dict[str, list[int]] = {}
    for i, d in enumerate(completed, start=1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingDataWarning)  # not-due values: counted
            try:
                res = fit_mediation_designs(
                    d, designs={k: (_child(seq, i), c) for k, (seq, c) in designs.items()},
                    n_boot=each, ci_level=ci_level, **kwargs)
            except ClusterDesignError:
                raise  # the same participants and clusters in every imputation
            except NotEstimable as exc:
                failed.setdefault(exc.reason, []).append(i)
                continue
        for name in designs:
            fits[name].append(res[name])
    if failed:
        k = sum(len(v) for v in failed.values())
        why = "; ".join(f"imputation{'s' if len(v) > 1 else ''} {', '.join(map(str, v))}: {r}"
                        for r, v in failed.items())
        raise NotEstimable(f"not estimable in {k} of {len(completed)} imputations ({why})")
    return {name: _pool(f, each, ci_level) for name, f in fits.items()}


def _pool(fits: list[MediationResult], each: int, ci_level: float) -> MediationMIResult:
    m = len(fits)
    first = fits[0]
    alpha = 1 - ci_level
    total = m * each
    causes: dict[str, dict[str, int]] = {}
    for f in fits:
        for label, by_cause in f.failed_by.items():
            for cause, k in by_cause.items():
                causes.setdefault(label, {})[cause] = causes.get(label, {}).get(cause, 0) + k
    not_estimable = {lab: why for lab, by_cause in causes.items()
                     if (why := interval_failure(by_cause, total, ci_level)) is not None}
    rows = []
    fmi: dict[str, float] = {}
    for pos, (_, r) in enumerate(first.estimates.iterrows()):
        label, et, name = r["mediator"], r["estimate_type"], r["effect"]
        if name in ivx.EFFECTS:  # interventional effects: their own keys (interventional.SUFFIX)
            label, j = label + ivx.SUFFIX, ivx.EFFECTS.index(name)
        else:
            j = fx.EFFECTS.index(name)
        lost = [i for i, f in enumerate(fits, start=1) if (label, et) not in f.point_effects]
        if (label, et) not in first.point_effects:  # a set not estimable before fitting
            row = {**r.to_dict(), "n_boot": total, "seed": None, "riv": np.nan,
                   "fmi": np.nan, "m": m}
            if len(lost) < m:  # natural rows of imputation 1 only, say so (decisions IS1)
                row["reason"] = (f"not estimable in imputation(s) {', '.join(map(str, lost))} "
                                 f"({r['reason']})")
            rows.append(row)
            continue
        if lost:  # not estimable on the full sample of some other imputation(s)
            row = r.to_dict()
            row.update(estimate=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan,
                       std_error=np.nan, n_boot=total, seed=None, n_boot_failed=0, riv=np.nan,
                       fmi=np.nan, m=m, status=NOT_ESTIMABLE,
                       reason=f"not estimable in imputation(s) {', '.join(map(str, lost))}")
            rows.append(row)
            continue
        point = np.array([f.point_effects[(label, et)][j] for f in fits])
        per = [f.replicates[(label, et)][:, j] for f in fits]
        per = [p[np.isfinite(p)] for p in per]
        why = not_estimable.get(label)
        d = np.concatenate(per) if why is None else np.empty(0)
        lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2]) if d.size else (np.nan, np.nan)
        riv = f_mi = np.nan
        if why is None and all(p.size > 1 for p in per):
            try:
                pooled = rubin(point, [np.var(p, ddof=1) for p in per], alpha=alpha)
                riv, f_mi = pooled.riv, pooled.fmi
            except (NotEstimable, ValueError):
                pass
        fmi[f"{label} {et} {name}"] = f_mi
        row = r.to_dict()
        row.update(
            estimate=float(point.mean()) if why is None else np.nan, ci_low=float(lo),
            ci_high=float(hi), p_value=bootstrap_pvalue(d, 1.0 if et == "odds_ratio" else 0.0),
            n_boot=total, seed=None, n_boot_failed=sum(causes.get(label, {}).values()),
            std_error=float(np.std(d, ddof=1)) if d.size > 1 else np.nan,
            riv=riv, fmi=f_mi, m=m, status=ESTIMATED if why is None else NOT_ESTIMABLE,
            reason=why or "")
        if row.get(EXTRAPOLATED) in ("yes", "no"):  # in any imputation
            row[EXTRAPOLATED] = ("yes" if any(f.estimates[EXTRAPOLATED].iloc[pos] == "yes"
                                              for f in fits) else "no")
        rows.append(row)
    est = pd.DataFrame(rows)
    est = meaningful_proportions(
        est[[c for c in est.columns if c not in STATUS_COLUMNS] + STATUS_COLUMNS])
    est = _pooled_evalues(est, fits, alpha)
    sens, summ = _pool_sensitivity(fits, set(not_estimable), alpha)
    notes = [n for n in first.notes if "bootstrap replicates failed" not in n
             and "effects not estimable" not in n]
    for lab, by_cause in causes.items():
        if any(by_cause.values()):
            listed = "; ".join(f"{c}: {k}" for c, k in by_cause.items() if k)
            notes.append(f"{lab}: {sum(by_cause.values())} of {total} bootstrap replicates failed over "
                         f"the {m} imputations ({listed}); excluded from CIs and p-values")
    notes += [f"{lab}: effects not estimable: {why}" for lab, why in not_estimable.items()]
    details = {
        "inference": {"ci_method": CI_METHOD, "n_boot": total, "n_boot_per_imputation": each,
                      "n_boot_failed": {lab: sum(d.values()) for lab, d in causes.items()},
                      "point_estimate": "mean of the m full-sample estimates (Rubin 1987)",
                      "bootstrap_of_each_imputation": first.methods["ci_method"],
                      **{k: v for k, v in first.methods.items() if k == "resampling_units"}},
        "missing_data": {"method": "mi", "m": m, "n_boot_per_imputation": each,
                         "combination": CI_METHOD, "fmi": fmi},
    }
    return MediationMIResult(est, sens, summ, tuple(fits), each, details, notes)


def _pooled_evalues(est: pd.DataFrame, fits: list[MediationResult], alpha: float
                    ) -> pd.DataFrame:
    """E-values of the pooled rows: risk ratios = geometric mean over the imputations, CI
    from the pooled draws; the outcome's SD / risk averaged over the imputations."""
    every = [lab for lab in fits[0].ratio_point if all(lab in f.ratio_point for f in fits)]
    with np.errstate(divide="ignore", invalid="ignore"):
        point = {lab: np.exp(np.mean([np.log(f.ratio_point[lab]) for f in fits], axis=0))
                 for lab in every}
    draws = {lab: np.vstack([f.ratio_draws[lab] for f in fits]) for lab in point}
    sds = [f.outcome_sd for f in fits if f.outcome_sd is not None]
    risks = [f.outcome_risk for f in fits if f.outcome_risk is not None]
    return evalue_columns(est, point, draws, float(np.mean(sds)) if sds else None,
                          float(np.mean(risks)) if risks else None, alpha)


def _pool_sensitivity(fits: list[MediationResult], skip: set[str], alpha: float
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ACME(rho) of each single mediator: mean over the imputations of their ACME(rho), CI
    from the pooled replicates; summary numbers averaged, the CI of rho at ACME = 0 pooled."""
    first = fits[0]
    rows, summ = [], []
    probit = first.outcome_type == "logistic"
    for label in first.sensitivity_point:
        if label in skip or any(label not in f.sensitivity_point for f in fits):
            continue  # not every imputation has the set's natural effects (decisions IS1)
        mine = first.sensitivity.loc[first.sensitivity["mediator"] == label]
        grid = mine["rho"].to_numpy() if not mine.empty else usable_grid(DEFAULT_RHO_GRID)
        point = np.array([f.sensitivity_point[label] for f in fits])
        draws = np.vstack([f.sensitivity_draws[label] for f in fits])
        if probit:  # (rho12, ACME over the grid, ACME at 0) of each imputation
            est = point[:, 1:1 + grid.size].mean(axis=0)
            acme0 = float(point[:, -1].mean())
            lo, hi, rlo, rhi = probit_band(draws, grid.size, alpha)
        else:
            # (b2, s1, s2, rho12) of each imputation; mypy miscounts a NumPy row unpacked
            est = np.mean([acme_at_rho(*p, grid) for p in point], axis=0)  # type: ignore[call-arg]
            acme0 = float(np.mean([acme_at_rho(*p, 0.0) for p in point]))  # type: ignore[call-arg]
            lo, hi, rlo, rhi = sensitivity_band(draws, grid, alpha)
        model = SENSITIVITY_MODELS[first.outcome_type]
        for r, a, l_, h_ in zip(grid, est, lo, hi, strict=True):
            rows.append({"analysis": first.analysis, "outcome": first.outcome, "mediator": label,
                         "estimate_type": "risk_difference" if probit else "mean_difference",
                         "effect": "acme_average", "rho": float(r), "estimate": float(a),
                         "ci_low": float(l_), "ci_high": float(h_), "outcome_model": model})
        per = pd.concat([f.sensitivity_summary.loc[f.sensitivity_summary["mediator"] == label]
                         for f in fits if not f.sensitivity_summary.empty])
        row = {"analysis": first.analysis, "outcome": first.outcome, "mediator": label,
               "acme_rho0": acme0,
               "rho_at_zero_acme": float(point[:, 0 if probit else 3].mean()),
               "rho_at_zero_ci_low": float(rlo), "rho_at_zero_ci_high": float(rhi),
               "outcome_model": model}
        for c in ("r2star_product_at_zero", "r2tilde_product_at_zero", "r2_mediator_model",
                  "r2_outcome_model"):
            row[c] = float(per[c].mean()) if not per.empty else np.nan
        summ.append(row)
    return pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS), pd.DataFrame(summ)
