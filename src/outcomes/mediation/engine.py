"""fit_mediation: causal mediation effects with a shared-resample, vectorised bootstrap."""

from __future__ import annotations

import platform
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

import numpy as np
import pandas as pd

from . import effects as fx
from .data import MediationDataError, Roles, binary_array, count_missing, covariate_matrix
from .fitting import fit_logistic, fit_ols, fit_weibull
from .result import ASSUMPTIONS, RESULT_COLUMNS, SURVIVAL_ASSUMPTION, MediationResult
from .sensitivity import DEFAULT_RHO_GRID, acme_at_rho

__all__ = ["fit_mediation", "bootstrap_counts", "bootstrap_pvalue", "MissingDataWarning"]

OutcomeType = Literal["linear", "logistic", "weibull"]

_K_REF = 96  # Gauss-Hermite nodes of the reference (point-estimate) quadrature
_K_LADDER = (2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 96)

PVALUE_METHOD = (
    "bootstrap two-sided: p = min(1, 2 (1 + k) / (B + 1)), k = min(#{draws <= null}, "
    "#{draws >= null}) over the B valid bootstrap draws (null 0, or 1 for odds ratios); "
    "R mediation's 2 x min(share <= 0, share >= 0) with the Monte Carlo correction of "
    "Davison & Hinkley (1997) so that p is never 0 (smallest p = 2 / (B + 1))"
)
CI_METHOD = (
    "percentile bootstrap; each replicate resamples participants with replacement once "
    "and that one resample (as multinomial counts = frequency weights) feeds the mediator "
    "model(s), the outcome model and the averaging over the covariate distribution"
)


class MissingDataWarning(UserWarning):
    """Participants were excluded for missing model variables (counts are in the result)."""


def _chunk_rows(n: int) -> int:
    """Replicates per bootstrap block (fixed given n, so results depend on the seed only)."""
    return int(max(16, min(1024, 2**17 // max(n, 1))))  # ~1 MB blocks stay in cache


def bootstrap_counts(rng: np.random.Generator, n: int, n_boot: int) -> Iterator[np.ndarray]:
    """Blocks of resample counts (rows = replicates, columns = participants).

    Replicate b draws n row indices ``rng.integers(0, n, n)`` (with replacement); its row of
    counts says how often each participant was drawn. Blocks of ``_chunk_rows(n)`` replicates
    are drawn with one call each, so the same generator state gives the same replicates.
    """
    rows = _chunk_rows(n)
    for lo in range(0, n_boot, rows):
        b = min(rows, n_boot - lo)
        idx = rng.integers(0, n, size=(b, n))
        flat = (idx + (np.arange(b) * n)[:, None]).ravel()
        yield np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)


def bootstrap_pvalue(draws: np.ndarray, null: float = 0.0) -> float:
    """Two-sided bootstrap p-value (see PVALUE_METHOD); NaN draws are ignored."""
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    k = min(int((d <= null).sum()), int((d >= null).sum()))
    return float(min(1.0, 2.0 * (1 + k) / (d.size + 1)))


@dataclass
class _SetModel:
    """Design of one mediator set (a single mediator or a joint set)."""

    label: str
    kind: str  # "single" or "joint"
    meds: tuple[str, ...]
    cov_names: list[str]
    C: np.ndarray  # (n, 1+q): [1, covariates]
    Xm: np.ndarray  # (n, 2+q): [1, T, covariates]
    Xo: np.ndarray  # (n, p_o): [1, T, M..., T*M..., covariates]
    Ym: np.ndarray  # (n, J [+1]): mediators [, outcome for the sensitivity analysis]
    interaction: bool
    sensitivity: bool

    @property
    def J(self) -> int:
        return len(self.meds)


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


def _seed_of(rng: np.random.Generator) -> int | None:
    ss = getattr(rng.bit_generator, "seed_seq", None)
    if isinstance(ss, np.random.SeedSequence) and isinstance(ss.entropy, int) and not ss.spawn_key:
        return int(ss.entropy)
    return None


class _Engine:
    def __init__(self, outcome_type, sets, T, y, time, event, horizon, odds_ratio, qtol):
        self.outcome_type = outcome_type
        self.sets = sets
        self.T = T
        self.y = y
        self.time = time
        self.event = event
        self.horizon = horizon
        self.odds_ratio = odds_ratio
        self.qtol = qtol
        self.start: dict[str, object] = {}
        self.k_boot: dict[str, int] = {}
        self.k_point: dict[str, int] = {}

    # -- fitting -------------------------------------------------------------------------
    def fit_set(self, sm: _SetModel, W: np.ndarray, *, point: bool):
        J = sm.J
        need_resid = self.outcome_type != "linear" or sm.sensitivity
        med = fit_ols(sm.Xm, sm.Ym, W, resid=need_resid)
        alpha = med.coef[:, :, :J]
        sigma_m = med.resid_cov[:, :J, :J]
        start = None if point else self.start[sm.label]
        wsig = None
        if self.outcome_type == "linear":
            beta = fit_ols(sm.Xo, self.y, W, resid=False).coef[:, :, 0]
            ok = np.ones(W.shape[0], dtype=bool)
        elif self.outcome_type == "logistic":
            lf = fit_logistic(sm.Xo, self.y, W, start=start)
            beta, ok = lf.coef, lf.converged
        else:
            wf = fit_weibull(sm.Xo, self.time, self.event, W, start=start)
            beta, ok, wsig = wf.coef, wf.converged, wf.sigma
        params = {"mediator": alpha, "mediator_cov": sigma_m, "outcome": beta}
        if wsig is not None:
            params["weibull_sigma"] = wsig
        if point:
            self.start[sm.label] = beta[0] if wsig is None else (beta[0], float(wsig[0]))
        lp = self._linear_predictor(sm, alpha, sigma_m, beta, W)
        sens = None
        if sm.sensitivity:
            cov = med.resid_cov
            s2 = np.sqrt(cov[:, 0, 0])
            s1 = np.sqrt(cov[:, 1, 1])
            sens = np.column_stack([alpha[:, 1, 0], s1, s2, cov[:, 0, 1] / (s1 * s2)])
        return lp, params, ok, wsig, sens

    def _linear_predictor(self, sm, alpha, sigma_m, beta, W) -> fx.LinearPredictor:
        J = sm.J
        a_c = np.concatenate([alpha[:, :1, :], alpha[:, 2:, :]], axis=1)  # (B, 1+q, J)
        a_t = alpha[:, 1, :]
        off = 2 + J + (J if sm.interaction else 0)
        b_c = np.concatenate([beta[:, :1], beta[:, off:]], axis=1)
        b_t = beta[:, 1]
        b_m = beta[:, 2 : 2 + J]
        b_tm = beta[:, 2 + J : 2 + 2 * J] if sm.interaction else np.zeros_like(b_m)
        coef_c, delta, s = [], [], []
        for t in (0, 1):
            v = b_m + t * b_tm
            coef_c.append(b_c + np.einsum("bqj,bj->bq", a_c, v))
            delta.append((v * a_t).sum(axis=1))
            var = np.einsum("bj,bjk,bk->b", v, sigma_m, v)
            s.append(np.sqrt(np.clip(var, 0.0, None)))
        weight = W / W.sum(axis=1, keepdims=True)
        return fx.LinearPredictor(tuple(coef_c), b_t, tuple(delta), tuple(s), sm.C, weight)

    # -- potential outcomes and effects ---------------------------------------------------
    def potential_outcomes(self, lp, wsig, k) -> dict[str, np.ndarray]:
        if self.outcome_type == "linear":
            return {"mean_difference": fx.po_linear(lp)}
        if self.outcome_type == "logistic":
            return {"risk_difference": fx.po_logistic(lp, k)}
        return {
            "risk_difference": fx.po_weibull_risk(lp, wsig, self.horizon, k),
            "median_difference": fx.po_weibull_median(lp, wsig, k),
        }

    def effects(self, po: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for et, mu in po.items():
            out[et] = fx.effects_from_po(mu)
            if et == "risk_difference" and self.outcome_type == "logistic" and self.odds_ratio:
                out["odds_ratio"] = fx.odds_ratio_effects(mu)
        return out

    def choose_nodes(self, sm, lp, wsig) -> None:
        """Reference quadrature for the point estimate; fewest nodes for the bootstrap whose
        potential-outcome means stay within ``qtol`` of the reference (risks: absolute,
        medians: relative) at 1.25 x the fitted mediator spread s(t)."""
        if self.outcome_type == "linear":
            return
        self.k_point[sm.label] = _K_REF
        wide = fx.LinearPredictor(lp.coef_c, lp.beta_t, lp.delta,
                                  tuple(1.25 * s for s in lp.s), lp.C, lp.weight)
        ref = self.potential_outcomes(wide, wsig, _K_REF)
        for k in _K_LADDER:
            cand = self.potential_outcomes(wide, wsig, k)
            err = 0.0
            for et, mu in cand.items():
                scale = np.abs(ref[et]) if et == "median_difference" else 1.0
                err = max(err, float(np.max(np.abs(mu - ref[et]) / scale)))
            if err <= self.qtol:
                self.k_boot[sm.label] = k
                return
        self.k_boot[sm.label] = _K_REF


def _formula(lhs: str, terms: Sequence[str]) -> str:
    return f"{lhs} ~ " + " + ".join(terms)


def fit_mediation(
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
    time: str | None = None,
    event: str | None = None,
    horizon: float = 365.0,
    n_boot: int = 1000,
    rng: np.random.Generator,
    ci_level: float = 0.95,
    odds_ratio: bool = False,
    joint: bool = True,
    singles: bool = True,
    rho_grid: Sequence[float] = tuple(DEFAULT_RHO_GRID),
    quadrature_tol: float = 1e-6,
    analysis: str = "mediation",
) -> MediationResult:
    """Causal mediation analysis (Imai, Keele & Tingley 2010) of a 0/1 exposure.

    For each mediator alone (unless ``singles=False``), and (``joint=True``, several
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
    analysed; exclusions are counted in ``result.missing`` and warned about.
    """
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
        outcome_vars = (outcome,)
        outcome_label = outcome
    mcov = {m: tuple(v) for m, v in (mediator_covariates or {}).items()}
    unknown = set(mcov) - set(mediators)
    if unknown:
        raise MediationDataError(f"mediator_covariates for unknown mediators: {sorted(unknown)}")
    roles = Roles(exposure, mediators, outcome_vars, tuple(covariates), mcov)
    overlap = set(mediators) & (set(outcome_vars) | {exposure} | set(roles.covariates_for(mediators)))
    if overlap:
        raise MediationDataError(f"column(s) with two roles: {sorted(overlap)}")

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
    if n < 10:
        raise MediationDataError(f"only {n} complete cases")
    T = binary_array(df[exposure], exposure)
    if T.min() == T.max():
        raise MediationDataError(f"{exposure} takes a single value among complete cases")
    M = np.column_stack([pd.to_numeric(df[m]).to_numpy(dtype=float) for m in mediators])
    y = tm = ev = None
    events = None
    if outcome_type == "linear":
        y = pd.to_numeric(df[outcome]).to_numpy(dtype=float)
    elif outcome_type == "logistic":
        y = binary_array(df[outcome], outcome)
        events = int(y.sum())
    else:
        tm = pd.to_numeric(df[time]).to_numpy(dtype=float)
        if (tm < 0).any():
            raise MediationDataError(f"{time} has negative times")
        ev = binary_array(df[event], event)
        events = int(ev.sum())

    # -- designs of every mediator set -------------------------------------------------
    sets: list[_SetModel] = []
    groups = [(m, "single", (m,)) for m in mediators] if singles or len(mediators) == 1 else []
    if joint and len(mediators) > 1:
        groups.append(("+".join(mediators), "joint", mediators))
    all_levels: dict[str, list] = {}
    models: dict[str, dict[str, str]] = {}
    ofam = {
        "linear": "gaussian, identity link (least squares)",
        "logistic": "binomial, logit link (maximum likelihood)",
        "weibull": "Weibull accelerated failure time, log T = x'b + sigma W, W standard "
                   "minimum extreme value (maximum likelihood with right censoring; events "
                   "at day 0 interval-censored in (0, 1] day)",
    }[outcome_type]
    for label, kind, meds in groups:
        covs = roles.covariates_for(meds)
        Xc, cnames, levels = covariate_matrix(df, covs, categorical)
        all_levels.update(levels)
        one = np.ones((n, 1))
        Mj = M[:, [mediators.index(m) for m in meds]]
        sens = outcome_type == "linear" and kind == "single" and not interaction
        Ym = np.column_stack([Mj, y]) if sens else Mj
        parts = [one, T[:, None], Mj]
        if interaction:
            parts.append(T[:, None] * Mj)
        parts.append(Xc)
        sets.append(_SetModel(label, kind, meds, cnames, np.hstack([one, Xc]),
                              np.hstack([one, T[:, None], Xc]), np.hstack(parts), Ym,
                              interaction, sens))
        cterms = [f"C({c})" if c in levels else c for c in covs]
        oterms = [exposure, *meds]
        if interaction:
            oterms += [f"{exposure}:{m}" for m in meds]
        models[label] = {
            **{f"mediator model {m}": _formula(m, [exposure, *cterms])
               + "  [normal linear, least squares]" for m in meds},
            "outcome model": _formula(outcome_label if outcome_type != "weibull"
                                      else f"Surv({time}, {event})", oterms + cterms)
            + f"  [{ofam}]",
        }
        if kind == "joint":
            models[label]["mediator distribution"] = (
                "multivariate normal: the mediator models' means and residual covariance")

    eng = _Engine(outcome_type, sets, T, y, tm, ev, horizon, odds_ratio, quadrature_tol)

    # -- point estimates ----------------------------------------------------------------
    ones = np.ones((1, n))
    point_eff: dict[tuple[str, str], np.ndarray] = {}
    point_po: dict[tuple[str, str], np.ndarray] = {}
    params: dict[str, dict] = {}
    sens_point: dict[str, np.ndarray] = {}
    for sm in sets:
        lp, prm, ok, wsig, sens = eng.fit_set(sm, ones, point=True)
        if not ok[0]:
            raise MediationDataError(f"the {outcome_type} outcome model for {sm.label} did not "
                                     "converge on the full sample")
        eng.choose_nodes(sm, lp, wsig)
        po = eng.potential_outcomes(lp, wsig, eng.k_point.get(sm.label, 0))
        for et, e in eng.effects(po).items():
            point_eff[(sm.label, et)] = e[0]
        for et, mu in po.items():
            point_po[(sm.label, et)] = mu[0]
        params[sm.label] = _named_params(sm, prm, exposure)
        if sens is not None:
            sens_point[sm.label] = sens[0]

    # -- bootstrap ------------------------------------------------------------------------
    seed = _seed_of(rng)
    rng_state = rng.bit_generator.state
    reps: dict[tuple[str, str], list[np.ndarray]] = {k: [] for k in point_eff}
    bparams: dict[str, dict[str, list[np.ndarray]]] = {sm.label: {} for sm in sets}
    sens_reps: dict[str, list[np.ndarray]] = {k: [] for k in sens_point}
    failed = {sm.label: 0 for sm in sets}
    for W in bootstrap_counts(rng, n, n_boot):
        for sm in sets:
            lp, prm, ok, wsig, sens = eng.fit_set(sm, W, point=False)
            failed[sm.label] += int((~ok).sum())
            for key, arr in prm.items():
                bparams[sm.label].setdefault(key, []).append(arr)
            k = eng.k_boot.get(sm.label, 0)
            eff = {et: np.full((W.shape[0], e.size), np.nan) for (lab, et), e in point_eff.items()
                   if lab == sm.label}
            if ok.any():
                lp_ok = _subset(lp, ok)
                for et, e in eng.effects(eng.potential_outcomes(
                        lp_ok, None if wsig is None else wsig[ok], k)).items():
                    eff[et][ok] = e
            for et, e in eff.items():
                reps[(sm.label, et)].append(e)
            if sens is not None:
                sens_reps[sm.label].append(sens)
    rep_arr = {k: (np.vstack(v) if v else np.empty((0, point_eff[k].size)))
               for k, v in reps.items()}
    bparams_arr = {lab: {k: np.concatenate(v) for k, v in d.items()} for lab, d in bparams.items()}

    # -- tables ---------------------------------------------------------------------------
    alpha = 1 - ci_level
    contrast = f"{exposure}=1 vs {exposure}=0"
    rows = []
    kinds = {sm.label: sm.kind for sm in sets}
    effect_names: dict[str, tuple[str, ...]] = {}
    for (label, et), est in point_eff.items():
        names = fx.EFFECTS[: est.size]
        effect_names[et] = names
        draws = rep_arr[(label, et)]
        null = 1.0 if et == "odds_ratio" else 0.0
        for j, name in enumerate(names):
            d = draws[:, j]
            d = d[np.isfinite(d)]
            lo, hi = (np.quantile(d, [alpha / 2, 1 - alpha / 2]) if d.size
                      else (np.nan, np.nan))
            rows.append({
                "analysis": analysis, "outcome": outcome_label, "contrast": contrast,
                "estimate_type": et, "estimate": float(est[j]), "ci_low": float(lo),
                "ci_high": float(hi), "p_value": bootstrap_pvalue(d, null), "n": n,
                "mediator": label, "effect": name, "n_boot": n_boot, "seed": seed,
                "mediator_set": kinds[label],
                "events": events, "horizon": horizon if outcome_type == "weibull" else None,
                "ci_level": ci_level, "outcome_type": outcome_type,
                "n_boot_failed": failed[label], "boot_se": float(np.std(d, ddof=1))
                if d.size > 1 else float("nan"),
            })
    est_df = pd.DataFrame(rows)
    est_df = est_df[RESULT_COLUMNS + [c for c in est_df.columns if c not in RESULT_COLUMNS]]

    sens_df, sens_sum, notes = _sensitivity_tables(
        sets, sens_point, {k: np.vstack(v) if v else np.empty((0, 4)) for k, v in sens_reps.items()},
        np.asarray(rho_grid, dtype=float), alpha, analysis, outcome_label, outcome_type,
        interaction, df, exposure, y)
    if any(failed.values()):
        notes.append(f"bootstrap replicates whose outcome model did not converge (excluded "
                     f"from CIs and p-values): {failed}")
    if outcome_type == "weibull":
        notes.append(
            "Median times are those of the marginal counterfactual distributions implied by "
            "the Weibull model; medians beyond the follow-up are extrapolations.")
    assumptions = list(ASSUMPTIONS)
    if outcome_type == "weibull":
        assumptions.append(SURVIVAL_ASSUMPTION)
    methods = {
        "ci_method": CI_METHOD,
        "pvalue_method": PVALUE_METHOD,
        "point_estimate": "full-sample fit (not the bootstrap mean)",
        "integration": (
            "closed form (linear outcome)" if outcome_type == "linear" else
            "Gauss-Hermite quadrature over the normal distribution of the outcome's linear "
            "predictor given covariates (exact reduction of the mediators' normal residuals); "
            f"{_K_REF} nodes for point estimates, the fewest nodes keeping every "
            f"potential-outcome mean within {quadrature_tol:g} of that for the bootstrap"),
    }
    return MediationResult(
        analysis=analysis, outcome=outcome_label, outcome_type=outcome_type, exposure=exposure,
        contrast=contrast, mediators=mediators,
        mediator_sets={sm.label: sm.meds for sm in sets}, estimates=est_df,
        replicates=rep_arr, effect_names=effect_names, potential_outcomes=point_po,
        params=params, boot_params=bparams_arr, sensitivity=sens_df,
        sensitivity_summary=sens_sum, missing=report, n=n, events=events, n_boot=n_boot,
        n_boot_failed=failed, seed=seed, rng_state=rng_state, ci_level=ci_level,
        covariates=tuple(covariates), mediator_covariates=mcov,
        categorical_levels=all_levels, interaction=interaction,
        horizon=horizon if outcome_type == "weibull" else None, models=models,
        quadrature_nodes={sm.label: {"point": eng.k_point.get(sm.label, 0),
                                     "bootstrap": eng.k_boot.get(sm.label, 0)} for sm in sets},
        software=_versions(), methods=methods, assumptions=assumptions, notes=notes,
    )


def _subset(lp: fx.LinearPredictor, ok: np.ndarray) -> fx.LinearPredictor:
    return fx.LinearPredictor(tuple(c[ok] for c in lp.coef_c), lp.beta_t[ok],
                              tuple(d[ok] for d in lp.delta), tuple(s[ok] for s in lp.s),
                              lp.C, lp.weight[ok])


def _named_params(sm: _SetModel, prm: dict, exposure: str) -> dict:
    """Full-sample coefficients with names (for the report and for checks)."""
    mnames = ["Intercept", exposure, *sm.cov_names]
    onames = ["Intercept", exposure, *sm.meds]
    if sm.interaction:
        onames += [f"{exposure}:{m}" for m in sm.meds]
    onames += sm.cov_names
    out = {
        "mediator": {m: pd.Series(prm["mediator"][0, :, j], index=mnames)
                     for j, m in enumerate(sm.meds)},
        "mediator_cov": pd.DataFrame(prm["mediator_cov"][0], index=sm.meds, columns=sm.meds),
        "outcome": pd.Series(prm["outcome"][0], index=onames),
    }
    if "weibull_sigma" in prm:
        out["weibull_sigma"] = float(prm["weibull_sigma"][0])
    return out


def _r2(X, y):
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    r = y - X @ beta
    return 1 - (r @ r) / ((y - y.mean()) @ (y - y.mean()))


def _sensitivity_tables(sets, point, reps, grid, alpha, analysis, outcome, outcome_type,
                        interaction, df, exposure, y):
    rows, summ, notes = [], [], []
    grid = grid[(grid > -1) & (grid < 1)]
    for sm in sets:
        if sm.label not in point:
            continue
        b2, s1, s2, rt = point[sm.label]
        acme = acme_at_rho(b2, s1, s2, rt, grid)
        R = reps[sm.label]
        if R.shape[0]:
            draws = acme_at_rho(R[:, :1], R[:, 1:2], R[:, 2:3], R[:, 3:4], grid[None, :])
            lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
            rlo, rhi = np.quantile(R[:, 3], [alpha / 2, 1 - alpha / 2])
        else:
            lo = hi = np.full(grid.size, np.nan)
            rlo = rhi = np.nan
        for r, a, l_, h_ in zip(grid, acme, lo, hi, strict=True):
            rows.append({"analysis": analysis, "outcome": outcome, "mediator": sm.label,
                         "estimate_type": "mean_difference", "effect": "acme_average",
                         "rho": float(r), "estimate": float(a), "ci_low": float(l_),
                         "ci_high": float(h_)})
        r2m = _r2(sm.Xm, sm.Ym[:, 0])
        r2y = _r2(sm.Xo, y)
        summ.append({
            "analysis": analysis, "outcome": outcome, "mediator": sm.label,
            "acme_rho0": float(acme_at_rho(b2, s1, s2, rt, 0.0)),
            "rho_at_zero_acme": float(rt), "rho_at_zero_ci_low": float(rlo),
            "rho_at_zero_ci_high": float(rhi),
            "r2star_product_at_zero": float(rt**2),
            "r2tilde_product_at_zero": float(rt**2 * (1 - r2m) * (1 - r2y)),
            "r2_mediator_model": float(r2m), "r2_outcome_model": float(r2y),
        })
    if outcome_type != "linear" or interaction:
        notes.append(
            "Sensitivity analysis for mediator-outcome confounding (Imai, Keele & Yamamoto "
            "2010 closed form) is computed for linear mediator and outcome models without "
            "exposure x mediator interaction, for each single mediator; not available here.")
    elif any(sm.kind == "joint" for sm in sets):
        notes.append("Sensitivity analysis is reported for each single mediator; the joint "
                     "effect of a set has no closed-form rho analysis.")
    cols = ["analysis", "outcome", "mediator", "estimate_type", "effect", "rho", "estimate",
            "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=cols), pd.DataFrame(summ), notes
