"""fit_mediation: causal mediation effects with a shared-resample, vectorised bootstrap."""

from __future__ import annotations

import platform
import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

import numpy as np
import pandas as pd

from outcomes.clustering import cluster_codes
from outcomes.clustering.bootstrap import block_rows as _chunk_rows  # noqa: F401 (tests)
from outcomes.clustering.bootstrap import cluster_bootstrap_counts, units_by_stratum
from outcomes.errors import NotEstimable

from . import binary_mediator as bm
from . import effects as fx
from . import interventional as ivx
from .bootstrap import (
    CI_METHOD,
    CLUSTER_CI_METHOD,
    PVALUE_METHOD,
    bootstrap_counts,
    bootstrap_pvalue,
    seed_of,
)
from .checks import ReplicateCheck, check_design, check_sample, interval_failure
from .data import (
    MediationDataError,
    Roles,
    binary_array,
    count_missing,
    covariate_matrix,
    numeric_array,
)
from .evalue import evalue_columns, risk_ratio_effects
from .landmark import CensoringWeights
from .models import K_REF, Engine, SetModel, subset
from .result import (
    ASSUMPTIONS,
    ESTIMATED,
    NOT_ESTIMABLE,
    RESULT_COLUMNS,
    STATUS_COLUMNS,
    SURVIVAL_ASSUMPTION,
    MediationResult,
    natural_effect_names,
    not_estimable_rows,
)
from .sensitivity import DEFAULT_RHO_GRID, sensitivity_tables, usable_grid
from .summaries import EXTRAPOLATED, extrapolated_effects, meaningful_proportions

__all__ = ["fit_mediation", "fit_mediation_designs", "bootstrap_counts", "bootstrap_pvalue", "MissingDataWarning"]

OutcomeType = Literal["linear", "logistic", "weibull"]


class MissingDataWarning(UserWarning):
    """Participants were excluded for missing model variables (counts are in the result)."""


@lru_cache(maxsize=1)
def _versions_cached() -> tuple[tuple[str, str], ...]:
    return tuple(_versions_uncached().items())


def _versions() -> dict[str, str]:
    return dict(_versions_cached())


def _versions_uncached() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("outcomes", "numpy", "scipy", "pandas"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            out[pkg] = "unknown"
    return out


def _formula(lhs: str, terms: Sequence[str]) -> str:
    return f"{lhs} ~ " + " + ".join(terms)


def fit_mediation(data: pd.DataFrame, *, rng: np.random.Generator, cluster: str | None = None,
                  **options: Any) -> MediationResult:
    """Causal mediation analysis (Imai, Keele & Tingley 2010) of a 0/1 exposure.

    ``options`` are the keyword arguments of :func:`fit_mediation_designs` (``exposure``,
    ``mediators``, ``outcome``, ``outcome_type``, ``covariates``, ``n_boot``...). For each mediator alone (unless ``singles=False``), and (``joint=True``, several
    mediators) for all of them
    jointly: ACME and ADE under control and treatment and their averages, total effect and
    proportion mediated, from potential outcomes of the fitted models, averaged over the
    sample's covariate distribution. Mediator models are linear (normal); the outcome model
    is linear (``outcome_type="linear"``), logistic (risk-difference scale, plus odds ratios
    with ``odds_ratio=True``) or a Weibull AFT model of ``time``/``event`` (event = 1,
    censored = 0; risk of the event by ``horizon`` and median time). ``covariates`` enter
    every model; ``mediator_covariates[m]`` (e.g. the baseline value of m) enter m's model
    and every outcome model that contains m. Strings/categoricals (and columns listed in
    ``categorical``) are dummy-coded. ``interaction=True`` adds exposure x mediator terms.

    Percentile bootstrap CIs and p-values from ``n_boot`` resamples of participants drawn
    with ``rng`` (one shared resample per replicate for all models). Complete cases are
    analysed; exclusions are counted in ``result.missing`` and warned about. With
    ``cluster`` (a column of cluster labels, e.g. :func:`outcomes.clustering.cluster_ids`)
    the bootstrap is the cluster bootstrap stratified by exposure
    (:mod:`outcomes.clustering.bootstrap`): whole clusters are resampled within each arm;
    fewer than 2 units in an arm, or a cluster in both arms, is :class:`NotEstimable`.

    Raises :class:`MediationDataError` for bad input (naming the column) and
    :class:`~outcomes.errors.NotEstimable` (:class:`~outcomes.errors.SingularDesign` for a
    rank-deficient design, naming the column) when a model cannot be estimated; a mediator
    set with too many failed bootstrap replicates gets ``status = not estimable`` rows
    (``outcomes.mediation.checks``; docs/mediation.md, section 7a).
    """
    return fit_mediation_designs(data, designs={"": (rng, cluster)}, **options)[""]


def fit_mediation_designs(
    data: pd.DataFrame,
    *,
    exposure: str,
    mediators: Sequence[str],
    outcome: str | None = None,
    outcome_type: OutcomeType,
    covariates: Sequence[str] = (),
    mediator_covariates: Mapping[str, Sequence[str]] | None = None,
    categorical: Sequence[str] = (),
    interaction: bool = False,
    mediator_types: Mapping[str, str] | None = None,
    time: str | None = None,
    event: str | None = None,
    horizon: float = 365.0,
    n_boot: int = 1000,
    designs: Mapping[str, tuple[np.random.Generator, str | None]],
    ci_level: float = 0.95,
    odds_ratio: bool = False,
    joint: bool = True,
    singles: bool = True,
    rho_grid: Sequence[float] = tuple(DEFAULT_RHO_GRID),
    quadrature_tol: float = 1e-6,
    analysis: str = "mediation",
    censoring: tuple[str, str] | None = None,
    exposure_induced_confounders: Sequence[str] = (),
) -> dict[str, MediationResult]:
    """:func:`fit_mediation` with one or more bootstrap designs: ``designs`` maps a name to
    (generator, cluster column or None). The full-sample fits are shared; each design's
    bootstrap draws from its own generator. ``mediator_types`` maps a mediator to
    ``"binary"`` (logistic mediator model, :mod:`outcomes.mediation.binary_mediator`) or
    ``"continuous"``; an undeclared mediator coded 0/1 is binary. A design whose clusters cannot be resampled
    raises :class:`~outcomes.clustering.bootstrap.ClusterDesignError` before any fitting.

    ``censoring`` (logistic outcome only): the columns (follow-up time to the outcome or
    the horizon, 1 = censored before the horizon) of a binary outcome at a horizon that
    some participants were censored before. Their outcome value is ignored; the others'
    outcome-model weights are the resample counts times 1/G(time−), G the Kaplan–Meier
    probability of remaining uncensored by exposure arm, re-estimated in every resample
    (:class:`~outcomes.mediation.landmark.CensoringWeights`). The mediator models and the
    standardisation keep every participant.

    ``exposure_induced_confounders`` (0/1 columns caused by the exposure that affect the
    mediators and the outcome) add the interventional effects of every mediator set
    (:mod:`outcomes.mediation.interventional`), estimated inside the same bootstrap. A set
    whose natural outcome model has no estimate on the complete cases (or whose natural
    effects are not finite) then keeps its interventional rows if their own models are
    estimable, its natural rows ``not estimable`` with the reason (decisions IS1); without
    estimable interventional effects that raises :class:`NotEstimable` as before."""
    for rng, _ in designs.values():
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed))")
    if outcome_type not in ("linear", "logistic", "weibull"):
        raise MediationDataError(f"outcome_type must be linear, logistic or weibull, not {outcome_type!r}")
    mediators = tuple(mediators)
    if not mediators or len(set(mediators)) != len(mediators):
        raise MediationDataError("mediators must be a non-empty list of distinct columns")
    if not 0 < ci_level < 1:
        raise MediationDataError("ci_level must be between 0 and 1")
    if n_boot < 0:
        raise MediationDataError("n_boot must be >= 0")
    if outcome_type == "weibull":
        if time is None or event is None:
            raise MediationDataError("a weibull outcome needs time= and event= columns")
        outcome_vars: tuple[str, ...] = (time, event)
        outcome_label = outcome or time
        if not horizon > 0:
            raise MediationDataError("horizon must be > 0")
    else:
        if outcome is None:
            raise MediationDataError(f"a {outcome_type} outcome needs outcome=")
        outcome_vars = (outcome, *(censoring or ()))
        outcome_label = outcome
    if censoring is not None and outcome_type != "logistic":
        raise MediationDataError("censoring= is for a logistic outcome")
    mcov = {m: tuple(v) for m, v in (mediator_covariates or {}).items()}
    unknown = set(mcov) - set(mediators)
    if unknown:
        raise MediationDataError(f"mediator_covariates for unknown mediators: {sorted(unknown)}")
    roles = Roles(exposure, mediators, outcome_vars, tuple(covariates), mcov)
    overlap = set(mediators) & (set(outcome_vars) | {exposure} | set(roles.covariates_for(mediators)))
    confounders = tuple(exposure_induced_confounders)
    overlap |= set(confounders) & (set(mediators) | set(outcome_vars) | {exposure}
                                   | set(roles.covariates_for(mediators)))
    if overlap:
        raise MediationDataError(f"column(s) with two roles: {sorted(overlap)}")
    absent = [c for c in confounders if c not in data.columns]
    if absent:
        raise MediationDataError(f"exposure-induced confounder(s) not in the data: {absent}")

    report, complete = count_missing(data, roles)
    if report.n_excluded:
        warnings.warn(
            MissingDataWarning(
                f"{report.n_excluded} of {report.n_total} participants excluded for missing "
                f"model variables ({report.by_reason}); complete-case analysis"
            ),
            stacklevel=2,
        )
    df = data.loc[complete]
    n = len(df)
    T = binary_array(df[exposure], exposure, "exposure")
    units_of: dict[str, np.ndarray | None] = {}
    for name, (_, cluster) in designs.items():
        units_of[name] = None
        if cluster is not None:
            if cluster not in data.columns:
                raise MediationDataError(f"cluster column {cluster!r} not in the data")
            labels = df[cluster]
            if labels.isna().any() or (labels.astype(str).str.strip() == "").any():
                raise MediationDataError(f"cluster column {cluster!r} has missing labels")
            codes = cluster_codes(labels)[0]
            units_of[name] = codes
            units_by_stratum(codes, T, min_units=2)  # raises before any fitting
    M = np.column_stack([numeric_array(df[m], m, "mediator") for m in mediators]) if n else (
        np.empty((0, len(mediators))))
    mtypes = bm.mediator_types(M, mediators, mediator_types)
    y = tm = ev = None
    events = None
    if outcome_type == "linear":
        assert outcome is not None
        y = numeric_array(df[outcome], outcome, "outcome")
    elif outcome_type == "logistic":
        assert outcome is not None
        y = binary_array(df[outcome], outcome, "outcome")
        events = int(y.sum())
    else:
        assert time is not None and event is not None
        tm = numeric_array(df[time], time, "time")
        if (tm < 0).any():
            raise MediationDataError(f"{time} has negative times")
        ev = binary_array(df[event], event, "event")
        events = int(ev.sum())
    ipcw = None
    if censoring is not None:
        ipcw = CensoringWeights.of(df[censoring[0]], binary_array(df[censoring[1]], censoring[1],
                                                                  "censoring"), T)
        assert y is not None  # censoring weights are for the logistic outcome
        events = int(y[~ipcw.censored].sum())
    known = slice(None) if ipcw is None else ~ipcw.censored
    check_sample(T[known], exposure, outcome_type, y=None if y is None else y[known],
                 outcome=outcome, event=ev, event_name=event)
    Lmat = np.column_stack([numeric_array(df[c], c, "exposure-induced confounder")
                            for c in confounders]) if confounders else None
    if Lmat is not None and np.isnan(Lmat).any():
        gaps = [c for j, c in enumerate(confounders) if np.isnan(Lmat[:, j]).any()]
        raise MediationDataError(f"exposure-induced confounder(s) {gaps} missing for complete cases")

    # -- designs of every mediator set -------------------------------------------------
    sets: list[SetModel] = []
    groups: list[tuple[str, str, tuple[str, ...]]] = [(m, "single", (m,)) for m in mediators] if singles or len(mediators) == 1 else []
    if joint and len(mediators) > 1:
        groups.append(("+".join(mediators), "joint", mediators))
    all_levels: dict[str, list] = {}
    models: dict[str, dict[str, str]] = {}
    rep_checks: dict[str, ReplicateCheck] = {}
    ofam = {
        "linear": "gaussian, identity link (least squares)",
        "logistic": "binomial, logit link (maximum likelihood" + (
            "; inverse probability of censoring weights" if censoring else "") + ")",
        "weibull": "Weibull accelerated failure time, log T = x'b + sigma W, W standard "
                   "minimum extreme value (maximum likelihood with right censoring; events "
                   "at day 0 interval-censored in (0, 1] day)",
    }[outcome_type]
    unmodelled: dict[str, str] = {}  # joint sets with a binary mediator -> why (with singles)
    for label, kind, meds in groups:
        if kind == "joint" and len(groups) > 1:
            try:
                bm.check_joint(label, meds, [mtypes[mediators.index(m)] for m in meds])
            except NotEstimable as exc:
                unmodelled[label] = exc.reason
                continue
        covs = roles.covariates_for(meds)
        Xc, cnames, levels = covariate_matrix(df, covs, categorical)
        all_levels.update(levels)
        one = np.ones((n, 1))
        Mj = M[:, [mediators.index(m) for m in meds]]
        binary = [mtypes[mediators.index(m)] == bm.BINARY for m in meds]
        if kind == "joint":
            bm.check_joint(label, meds, [mtypes[mediators.index(m)] for m in meds])
        elif binary[0]:
            bm.check_mediator_sample(Mj[:, 0], T, meds[0], exposure)
        sens = (outcome_type in ("linear", "logistic") and kind == "single" and not interaction
                and not binary[0])
        Ym = np.column_stack([Mj, y]) if sens and outcome_type == "linear" and y is not None else Mj
        parts = [one, T[:, None], Mj]
        if interaction:
            parts.append(T[:, None] * Mj)
        parts.append(Xc)
        sm = SetModel(label, kind, meds, cnames, np.hstack([one, Xc]),
                       np.hstack([one, T[:, None], Xc]), np.hstack(parts), Ym, interaction,
                       sens, exposure, binary=kind == "single" and binary[0])
        check_design(sm.Xm, sm.mediator_names,
                     model=f"mediator model{'s' if len(meds) > 1 else ''} for {', '.join(meds)}")
        check_design(sm.Xo, sm.outcome_names, model=f"outcome model for {label}",
                     extra_params=int(outcome_type == "weibull"))
        sets.append(sm)
        rep_checks[label] = ReplicateCheck(
            T, Mj, meds, exposure, interaction,
            max(sm.Xm.shape[1], sm.Xo.shape[1] + int(outcome_type == "weibull")))
        cterms = [f"C({c})" if c in levels else c for c in covs]
        oterms = [exposure, *meds]
        if interaction:
            oterms += [f"{exposure}:{m}" for m in meds]
        models[label] = {
            **{f"mediator model {m}": _formula(m, [exposure, *cterms])
               + ("  [binomial, logit link (maximum likelihood)]" if b
                  else "  [normal linear, least squares]") for m, b in zip(meds, binary, strict=True)},
            "outcome model": _formula(outcome_label if outcome_type != "weibull"
                                      else f"Surv({time}, {event})", oterms + cterms)
            + f"  [{ofam}]",
        }
        if kind == "joint":
            models[label]["mediator distribution"] = (
                "multivariate normal: the mediator models' means and residual covariance")

    eng = Engine(outcome_type, sets, T, y, tm, ev, horizon, odds_ratio, quadrature_tol,
                 usable_grid(rho_grid))
    eng.outcome_weights = ipcw

    # -- point estimates ----------------------------------------------------------------
    ones = np.ones((1, n))
    point_eff: dict[tuple[str, str], np.ndarray] = {}
    point_po: dict[tuple[str, str], np.ndarray] = {}
    params: dict[str, dict] = {}
    sens_point: dict[str, np.ndarray] = {}
    ratio_point: dict[str, np.ndarray] = {}  # risk ratios of the effects (E-values)
    # A set whose natural-effect outcome model has no estimate (or whose natural effects
    # are not finite) keeps its interventional effects if their own models are estimable
    # (decisions IS1): the reason is carried as its natural rows' status. A mediator model
    # without an estimate is shared by both kinds: the job is not estimable.
    natural_why: dict[str, str] = {}
    for sm in sets:
        lp, prm, ok, wsig, sens = eng.fit_set(sm, ones, point=True)
        if eng.mediator_ok is not None and not eng.mediator_ok[0]:
            raise NotEstimable(f"the logistic mediator model for {sm.label} has no finite "
                               f"maximum-likelihood estimate on the {n} complete cases")
        if not ok[0]:
            natural_why[sm.label] = _no_convergence(
                outcome_type, sm.label, n, outcome_label, events,
                bool(eng.diverged is not None and eng.diverged[0]))
            continue
        eng.choose_nodes(sm, lp, wsig)
        po = eng.potential_outcomes(lp, wsig, eng.k_point.get(sm.label, 0))
        eff_sm = eng.effects(po)
        infinite = [et for et, e in eff_sm.items() if not np.isfinite(e[0]).all()]
        if infinite:
            natural_why[sm.label] = (f"{sm.label}: the {infinite[0].replace('_', ' ')} effects "
                                     "are not finite on the complete cases")
            continue
        for et, e in eff_sm.items():
            point_eff[(sm.label, et)] = e[0]
        for et, mu in po.items():
            point_po[(sm.label, et)] = mu[0]
        if "risk_difference" in po:
            ratio_point[sm.label] = risk_ratio_effects(po["risk_difference"])[0]
        params[sm.label] = _named_params(sm, prm, exposure)
        if sens is not None:
            sens_point[sm.label] = sens[0]
    ivs = None
    if Lmat is not None:
        ivs = ivx.InterventionalAnalysis(sets, Lmat, confounders, T, outcome_type, y, tm, ev,
                                         horizon, outcome_weights=ipcw)
        ivs.point(K_REF)
        point_eff.update(ivs.point_eff)
    # without estimable interventional effects a set with no natural estimate has no row
    # to report: the analysis is not estimable, as before IS1
    alone = [lab for lab in natural_why
             if ivs is None or not any(key == lab + ivx.SUFFIX for key, _ in ivs.point_eff)]
    if alone:
        raise NotEstimable(natural_why[alone[0]])
    iv_nodes = {} if ivs is None else {lab: ivs.nodes(lab, quadrature_tol) for lab in natural_why}
    if ivs is not None:
        for sm in sets:
            cterms = [f"C({c})" if c in all_levels else c for c in roles.covariates_for(sm.meds)]
            models[sm.label].update(ivs.describe(exposure, cterms))

    out: dict[str, MediationResult] = {}
    for design, (rng, cluster) in designs.items():
        units = units_of[design]
        # -- bootstrap ------------------------------------------------------------------------
        seed = seed_of(rng)
        rng_state = rng.bit_generator.state
        reps: dict[tuple[str, str], list[np.ndarray]] = {k: [] for k in point_eff}
        bparams: dict[str, dict[str, list[np.ndarray]]] = {sm.label: {} for sm in sets}
        sens_reps: dict[str, list[np.ndarray]] = {k: [] for k in sens_point}
        ratio_reps: dict[str, list[np.ndarray]] = {k: [] for k in ratio_point}
        failed_by: dict[str, dict[str, int]] = {sm.label: {} for sm in sets
                                                if sm.label not in natural_why}
        if ivs is not None:
            failed_by.update({lab: {} for lab, _ in ivs.point_eff})
        no_conv = f"{outcome_type} outcome model did not converge"
        weights = (bootstrap_counts(rng, n, n_boot) if units is None
                   else cluster_bootstrap_counts(rng, units, n_boot, T, min_units=2))
        for W in weights:
            for sm in sets:
                if sm.label in natural_why:  # the interventional effects only (IS1)
                    assert ivs is not None
                    ivs.add_block(sm.label, W, dict(rep_checks[sm.label](W)),
                                  iv_nodes[sm.label], reps, failed_by)
                    continue
                lp, prm, ok, wsig, sens = eng.fit_set(sm, W, point=False)
                causes = rep_checks[sm.label](W)
                if ivs is not None:
                    ivs.add_block(sm.label, W, dict(causes), eng.k_boot.get(sm.label, 0),
                                  reps, failed_by)
                # A separated replicate (no maximum-likelihood estimate) is counted as such
                # however its Newton iteration stopped (decisions SP1); the earlier cause wins.
                if eng.mediator_ok is not None:
                    if eng.mediator_separated is not None:
                        causes[SEPARATED_MEDIATOR] = eng.mediator_separated
                    causes["logistic mediator model did not converge"] = ~eng.mediator_ok
                if eng.separated is not None:
                    causes[MONOTONE_OUTCOME if outcome_type == "weibull"
                           else SEPARATED_OUTCOME] = eng.separated
                causes[no_conv] = ~ok
                bad = np.zeros(W.shape[0], dtype=bool)
                for cause, mask in causes.items():
                    _count(failed_by[sm.label], cause, mask & ~bad)
                    bad |= mask
                ok = ~bad
                for key, arr in prm.items():
                    bparams[sm.label].setdefault(key, []).append(arr)
                k = eng.k_boot.get(sm.label, 0)
                eff = {et: np.full((W.shape[0], e.size), np.nan) for (lab, et), e in point_eff.items()
                       if lab == sm.label}
                rr = np.full((W.shape[0], 7), np.nan)
                if ok.any():
                    lp_ok = subset(lp, ok)
                    po_b = eng.potential_outcomes(lp_ok, None if wsig is None else wsig[ok], k)
                    for et, e in eng.effects(po_b).items():
                        eff[et][ok] = e
                    if "risk_difference" in po_b:
                        rr[ok] = risk_ratio_effects(po_b["risk_difference"])
                finite = np.logical_and.reduce([np.isfinite(e).all(axis=1) for e in eff.values()])
                _count(failed_by[sm.label], "effects not finite", ok & ~finite)
                ok &= finite
                for et, e in eff.items():
                    e[~ok] = np.nan
                    reps[(sm.label, et)].append(e)
                if sm.label in ratio_reps:
                    rr[~ok] = np.nan
                    ratio_reps[sm.label].append(rr)
                if sens is not None:
                    sens = sens.copy()
                    sens[~ok] = np.nan
                    sens_reps[sm.label].append(sens)
        failed = {lab: sum(d.values()) for lab, d in failed_by.items()}
        not_estimable = {lab: why for lab, d in failed_by.items()
                         if (why := interval_failure(d, n_boot, ci_level)) is not None}
        rep_arr = {k: (np.vstack(v) if v else np.empty((0, point_eff[k].size)))
                   for k, v in reps.items()}
        bparams_arr = {lab: {k: np.concatenate(v) for k, v in d.items()} for lab, d in bparams.items()}

        # -- tables ---------------------------------------------------------------------------
        alpha = 1 - ci_level
        contrast = f"{exposure}=1 vs {exposure}=0"
        rows = []
        kinds = {sm.label: sm.kind for sm in sets}
        effect_names: dict[str, tuple[str, ...]] = {}
        longest = float(tm.max()) if tm is not None else np.nan  # the longest follow-up
        beyond = ({sm.label: extrapolated_effects(
                       point_po.get((sm.label, "median_difference"), np.full((2, 2), np.nan)),
                       horizon, longest)
                   for sm in sets} if outcome_type == "weibull" else {})
        iv_reasons = {} if ivs is None else ivs.reasons
        # the natural rows of a set with no natural estimate, in their place (IS1)
        natural_names = natural_effect_names(outcome_type, odds_ratio)
        entries: list[tuple[str, str, np.ndarray | None]] = []
        for sm in sets:
            entries += ([(sm.label, et, None) for et in natural_names] if sm.label in natural_why
                        else [(lab, et, e) for (lab, et), e in point_eff.items() if lab == sm.label])
        entries += [(lab, et, e) for (lab, et), e in point_eff.items() if lab.endswith(ivx.SUFFIX)]
        for label, et, est in entries:
            if est is None:
                effect_names.setdefault(et, natural_names[et])
                rows += [{
                    "analysis": analysis, "outcome": outcome_label, "contrast": contrast,
                    "estimate_type": et, "estimate": np.nan, "std_error": np.nan,
                    "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, "n": n,
                    "mediator": label, "effect": name, "n_boot": n_boot, "seed": seed,
                    "mediator_set": kinds[label], "events": events,
                    "horizon": horizon if outcome_type == "weibull" else None,
                    "ci_level": ci_level, "outcome_type": outcome_type, "n_boot_failed": 0,
                    EXTRAPOLATED: None, "status": NOT_ESTIMABLE, "reason": natural_why[label],
                } for name in natural_names[et]]
                continue
            names = ivx.EFFECTS if label.endswith(ivx.SUFFIX) else fx.EFFECTS[: est.size]
            effect_names.setdefault(et, names)
            draws = rep_arr[(label, et)]
            null = 1.0 if et == "odds_ratio" else 0.0
            why = not_estimable.get(label)
            shown = label.removesuffix(ivx.SUFFIX)
            for j, name in enumerate(names):
                d = draws[:, j]
                d = d[np.isfinite(d)] if why is None else d[:0]
                lo, hi = (np.quantile(d, [alpha / 2, 1 - alpha / 2]) if d.size
                          else (np.nan, np.nan))
                rows.append({
                    "analysis": analysis, "outcome": outcome_label, "contrast": contrast,
                    "estimate_type": et, "estimate": float(est[j]) if why is None else np.nan,
                    "std_error": float(np.std(d, ddof=1)) if d.size > 1 else float("nan"),
                    "ci_low": float(lo), "ci_high": float(hi),
                    "p_value": bootstrap_pvalue(d, null), "n": n,
                    "mediator": shown, "effect": name, "n_boot": n_boot, "seed": seed,
                    "mediator_set": kinds[shown],
                    "events": events, "horizon": horizon if outcome_type == "weibull" else None,
                    "ci_level": ci_level, "outcome_type": outcome_type,
                    "n_boot_failed": failed[label],
                    EXTRAPOLATED: _extrapolated(beyond, label, shown, et, name),
                    "status": ESTIMATED if why is None else NOT_ESTIMABLE, "reason": why or "",
                })
        iv_type = ivx.estimate_type(outcome_type)
        for key, why in iv_reasons.items():  # not estimable on the full sample
            rows += [{**rows[0], "estimate_type": iv_type, "estimate": np.nan, "std_error": np.nan,
                      "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan,
                      "mediator": key.removesuffix(ivx.SUFFIX), "effect": name,
                      "mediator_set": kinds[key.removesuffix(ivx.SUFFIX)], "n_boot_failed": 0,
                      "status": NOT_ESTIMABLE, "reason": why} for name in ivx.EFFECTS]
        est_df = pd.DataFrame(rows)
        first = RESULT_COLUMNS + [c for c in est_df.columns
                                  if c not in RESULT_COLUMNS and c not in STATUS_COLUMNS]
        est_df = meaningful_proportions(est_df[first + STATUS_COLUMNS])
        ratio_arr = {k: np.vstack(v) if v else np.empty((0, 7)) for k, v in ratio_reps.items()}
        outcome_sd = (float(np.std(y, ddof=1)) if outcome_type == "linear" and n > 1
                      and y is not None else None)
        outcome_risk = None
        if outcome_type == "logistic" and n:  # with censoring weights: the IPCW risk
            assert y is not None
            w_risk = np.ones(n) if ipcw is None else ipcw(np.ones((1, n)))[0]
            outcome_risk = float(np.sum(np.where(w_risk > 0, w_risk * y, 0.0)) / np.sum(w_risk))
        est_df = evalue_columns(est_df, ratio_point, ratio_arr, outcome_sd, outcome_risk, alpha)
        for label, why in unmodelled.items():  # the joint set's rows, not estimable
            extra = not_estimable_rows(
                why, outcome_type=outcome_type, odds_ratio=odds_ratio, analysis=analysis,
                outcome=outcome_label, contrast=contrast, n=n, mediator=label, n_boot=n_boot,
                seed=seed, mediator_set="joint", events=events,
                horizon=horizon if outcome_type == "weibull" else None, ci_level=ci_level,
                n_boot_failed=0, interventional=ivs is not None)
            est_df = pd.concat([est_df, extra.reindex(columns=est_df.columns)], ignore_index=True)

        sens_arr = {k: np.vstack(v) if v else np.empty((0, sens_point[k].size))
                    for k, v in sens_reps.items()}
        sens_df, sens_sum, notes = sensitivity_tables(
            [sm for sm in sets if sm.label not in not_estimable and sm.label not in natural_why],
            sens_point, sens_arr,
            np.asarray(rho_grid, dtype=float), alpha, analysis, outcome_label, outcome_type,
            interaction, y)
        bin_meds = [sm.label for sm in sets if sm.binary]
        if bin_meds:
            notes.append(bm.SENSITIVITY_NOTE.format(meds=", ".join(bin_meds)))
        for lab, by_cause in failed_by.items():
            if any(by_cause.values()):
                counts = "; ".join(f"{cause}: {k}" for cause, k in by_cause.items() if k)
                notes.append(f"{lab}: {failed[lab]} of {n_boot} bootstrap replicates failed "
                             f"({counts}); excluded from CIs and p-values")
        for lab, why in {**not_estimable, **iv_reasons}.items():
            notes.append(f"{lab}: effects not estimable: {why}")
        for lab, why in natural_why.items():
            notes.append(f"{lab}: natural effects not estimable: {why}; the interventional "
                         "effects have their own models")
        notes += [f"{lab}: not estimable: {why}" for lab, why in unmodelled.items()]
        if outcome_type == "weibull":
            notes.append(
                "Median times are those of the marginal counterfactual distributions implied by "
                "the Weibull model; a median beyond the longest follow-up "
                f"({longest:g}) is an extrapolation (column {EXTRAPOLATED}); the "
                f"restricted mean times to {horizon:g} (rmst_difference) and the risks by it "
                "extrapolate only when the horizon is beyond the longest follow-up.")
        assumptions = list(ASSUMPTIONS)
        if bin_meds:
            assumptions.append(bm.ASSUMPTION)
        if outcome_type == "weibull":
            assumptions.append(SURVIVAL_ASSUMPTION)
        methods = {
            "ci_method": CI_METHOD if units is None else CLUSTER_CI_METHOD,
            "pvalue_method": PVALUE_METHOD,
            "point_estimate": "full-sample fit (not the bootstrap mean)",
            "integration": (
                "closed form (linear outcome)" if outcome_type == "linear" else
                "Gauss-Hermite quadrature over the normal distribution of the outcome's linear "
                "predictor given covariates (exact reduction of the mediators' normal residuals); "
                f"{K_REF} nodes for point estimates, the fewest nodes keeping every "
                f"potential-outcome mean within {quadrature_tol:g} of that for the bootstrap"),
        }
        if bin_meds:
            methods["integration_binary_mediator"] = (
                "exact two-point sum over the binary mediator's fitted Bernoulli distribution "
                f"({', '.join(bin_meds)})")
        if units is not None:
            per_arm = [len(np.unique(units[T == v])) for v in (1.0, 0.0)]
            methods["resampling_units"] = (f"{per_arm[0]} units ({exposure}=1), {per_arm[1]} units "
                                           f"({exposure}=0) from column {cluster}")
        out[design] = MediationResult(
            analysis=analysis, outcome=outcome_label, outcome_type=outcome_type, exposure=exposure,
            contrast=contrast, mediators=mediators,
            mediator_sets={sm.label: sm.meds for sm in sets}, estimates=est_df,
            replicates=rep_arr, effect_names=effect_names, potential_outcomes=point_po,
            params=params, boot_params=bparams_arr, sensitivity=sens_df,
            sensitivity_summary=sens_sum, missing=report, n=n, events=events, n_boot=n_boot,
            n_boot_failed=failed, seed=seed, rng_state=dict(rng_state), ci_level=ci_level,
            covariates=tuple(covariates), mediator_covariates=mcov,
            categorical_levels=all_levels, interaction=interaction,
            horizon=horizon if outcome_type == "weibull" else None, models=models,
            quadrature_nodes={sm.label: {"point": eng.k_point.get(sm.label, 0),
                                         "bootstrap": eng.k_boot.get(sm.label, 0)} for sm in sets},
            software=_versions(), methods=methods, assumptions=assumptions, notes=notes,
            point_effects=point_eff, failed_by=failed_by, sensitivity_point=sens_point,
            sensitivity_draws=sens_arr, ratio_point=ratio_point, ratio_draws=ratio_arr,
            outcome_sd=outcome_sd, outcome_risk=outcome_risk,
        )
    return out


#: Causes of failed bootstrap replicates (``failed_by``, notes, not-estimable reasons): a
#: resample whose data separate the binary outcome or mediator (fitting.separated).
SEPARATED_OUTCOME = "logistic outcome model has no finite estimate (separation)"
SEPARATED_MEDIATOR = "logistic mediator model has no finite estimate (separation)"
#: ... a resample whose Weibull outcome likelihood is monotone (fitting.monotone_likelihood)
MONOTONE_OUTCOME = "weibull outcome model has no finite estimate (monotone likelihood)"


def _no_convergence(outcome_type: str, label: str, n: int, outcome: str, events: int | None,
                    diverged: bool) -> str:
    """Plain reason for an outcome model that cannot be fitted on the full sample."""
    if not diverged:
        return (f"the {outcome_type} outcome model for {label} did not converge on the {n} "
                "complete cases (iteration limit)")
    why = (f"(quasi-)complete separation of {outcome}" if outcome_type == "logistic" else
           f"monotone likelihood with {events} event(s)")
    return (f"the {outcome_type} outcome model for {label} has no finite maximum-likelihood "
            f"estimate on the {n} complete cases ({why})")


def _count(counts: dict[str, int], cause: str, mask: np.ndarray) -> None:
    counts[cause] = counts.get(cause, 0) + int(mask.sum())


def _named_params(sm: SetModel, prm: dict, exposure: str) -> dict:
    """Full-sample coefficients with names (for the report and for checks)."""
    mnames, onames = sm.mediator_names, sm.outcome_names
    out = {
        "mediator": {m: pd.Series(prm["mediator"][0, :, j], index=mnames)
                     for j, m in enumerate(sm.meds)},
        "mediator_cov": pd.DataFrame(prm["mediator_cov"][0], index=sm.meds, columns=sm.meds),
        "outcome": pd.Series(prm["outcome"][0], index=onames),
    }
    if "weibull_sigma" in prm:
        out["weibull_sigma"] = float(prm["weibull_sigma"][0])
    return out


def _extrapolated(beyond: dict, label: str, shown: str, et: str, name: str) -> str | None:
    """The ``extrapolated`` flag of a Weibull row (None for the other outcomes); an
    interventional row (risk by the horizon) has its set's risk flag, which depends on the
    horizon alone (:func:`~outcomes.mediation.summaries.extrapolated_effects`)."""
    if not beyond:
        return None
    flags = beyond[label][et] if label in beyond else beyond[shown]["risk_difference"]
    return "yes" if flags.get(name, flags["total"]) else "no"
