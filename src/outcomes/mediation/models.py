"""The models of one mediator set, fitted for the full sample and for blocks of bootstrap
replicates at once, and the potential outcomes and effects computed from them (Imai, Keele
& Tingley 2010); see docs/mediation.md, section 4."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import binary_mediator as bm
from . import effects as fx
from .checks import INTERCEPT
from .fitting import fit_logistic, fit_ols, fit_weibull
from .probit import fit_probit
from .rmst import po_weibull_rmst
from .sensitivity import probit_acme_curve

K_REF = 96  # Gauss-Hermite nodes of the reference (point-estimate) quadrature
_K_LADDER = (2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 96)


@dataclass
class SetModel:
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
    exposure: str
    binary: bool = False  # a single binary mediator (logistic model; binary_mediator.py)

    @property
    def J(self) -> int:
        return len(self.meds)

    @property
    def mediator_names(self) -> list[str]:
        """Column names of ``Xm``."""
        return [INTERCEPT, self.exposure, *self.cov_names]

    @property
    def outcome_names(self) -> list[str]:
        """Column names of ``Xo``."""
        inter = [f"{self.exposure}:{m}" for m in self.meds] if self.interaction else []
        return [INTERCEPT, self.exposure, *self.meds, *inter, *self.cov_names]


class Engine:
    """Fits of every mediator set for blocks of resample counts; ``diverged`` holds the last
    outcome fit's divergence flags (separation, monotone likelihood), None for linear;
    ``separated`` (and ``mediator_separated`` for a binary mediator) the replicates whose
    logistic model has no maximum-likelihood estimate because their data are separated
    (:func:`~.fitting.separated`), or whose Weibull outcome model's likelihood is monotone
    (:func:`~.fitting.monotone_likelihood`), None when there is no such model.
    ``outcome_weights`` (set by the caller) maps resample counts to the logistic outcome
    model's weights (:class:`~outcomes.mediation.landmark.CensoringWeights`); None: the
    counts themselves."""

    outcome_weights: Callable[[np.ndarray], np.ndarray] | None = None

    def __init__(self, outcome_type, sets, T, y, time, event, horizon, odds_ratio, qtol,
                 rho_grid=None):
        self.diverged: np.ndarray | None = None
        self.separated: np.ndarray | None = None
        self.mediator_ok: np.ndarray | None = None  # binary mediator: logistic fit converged
        self.mediator_separated: np.ndarray | None = None
        self.outcome_type = outcome_type
        self.sets = sets
        self.T = T
        self.y = y
        self.time = time
        self.event = event
        self.horizon = horizon
        self.odds_ratio = odds_ratio
        self.qtol = qtol
        self.start: dict[Any, Any] = {}  # warm starts: coefficients, or (coefficients, sigma)
        self.k_boot: dict[str, int] = {}
        self.k_point: dict[str, int] = {}
        self.rho_grid = rho_grid  # the ρ grid of the probit sensitivity analysis

    # -- fitting -------------------------------------------------------------------------
    def fit_set(self, sm: SetModel, W: np.ndarray, *, point: bool):
        J = sm.J
        start = None if point else self.start[sm.label]
        wsig = None
        self.diverged = self.separated = None
        self.mediator_ok = self.mediator_separated = None
        if sm.binary:
            mf = fit_logistic(sm.Xm, sm.Ym[:, 0], W,
                              start=None if point else self.start[sm.label + "/mediator"])
            if point:
                self.start[sm.label + "/mediator"] = mf.coef[0]
            self.mediator_ok, self.mediator_separated = mf.converged, mf.separated
            alpha = mf.coef[:, :, None]
            sigma_m = np.full((W.shape[0], 1, 1), np.nan)  # no residual variance
        else:
            need_resid = self.outcome_type != "linear" or sm.sensitivity
            med = fit_ols(sm.Xm, sm.Ym, W, resid=need_resid)
            alpha = med.coef[:, :, :J]
            sigma_m = med.resid_cov[:, :J, :J]
        if self.outcome_type == "linear":
            beta = fit_ols(sm.Xo, self.y, W, resid=False).coef[:, :, 0]
            ok = np.ones(W.shape[0], dtype=bool)
        elif self.outcome_type == "logistic":
            Wo = W if self.outcome_weights is None else self.outcome_weights(W)
            lf = fit_logistic(sm.Xo, self.y, Wo, start=start)
            beta, ok, self.diverged, self.separated = lf.coef, lf.converged, lf.diverged, lf.separated
        else:
            wf = fit_weibull(sm.Xo, self.time, self.event, W, start=start)
            beta, ok, wsig, self.diverged = wf.coef, wf.converged, wf.sigma, wf.diverged
            self.separated = wf.monotone  # monotone likelihood (decisions IS2)
        params = {"mediator": alpha, "mediator_cov": sigma_m, "outcome": beta}
        if wsig is not None:
            params["weibull_sigma"] = wsig
        if point:
            self.start[sm.label] = beta[0] if wsig is None else (beta[0], float(wsig[0]))
        lp = self._linear_predictor(sm, alpha, sigma_m, beta, W)
        sens = None
        if sm.sensitivity and self.outcome_type == "logistic":
            sens = self._probit_sensitivity(sm, alpha[:, :, 0], sigma_m[:, 0, 0], W, Wo, point)
        elif sm.sensitivity:
            cov = med.resid_cov
            with np.errstate(invalid="ignore", divide="ignore"):  # failed replicates: NaN
                s2 = np.sqrt(cov[:, 0, 0])
                s1 = np.sqrt(cov[:, 1, 1])
                sens = np.column_stack([alpha[:, 1, 0], s1, s2, cov[:, 0, 1] / (s1 * s2)])
        return lp, params, ok, wsig, sens

    def _probit_sensitivity(self, sm, alpha, var_m, W, Wo, point):
        """(B, 2 + G): rho12, the probit ACME(ρ) over ``rho_grid`` and at ρ = 0
        (:func:`~.sensitivity.probit_acme_curve`); NaN rows where the probit fit fails. The
        probit outcome model has the logistic one's weights ``Wo`` (resample counts, times
        the censoring weights of a landmark outcome); the average over covariates ``W``."""
        key = ("probit", sm.label)
        pf = fit_probit(sm.Xo, self.y, Wo, start=None if point else self.start.get(key))
        if point:
            self.start[key] = pf.coef[0]
        grid = np.append(self.rho_grid, 0.0)
        with np.errstate(invalid="ignore"):
            return probit_acme_curve(pf.coef, alpha, np.sqrt(var_m), sm.C,
                                     W / W.sum(axis=1, keepdims=True), grid)

    def _linear_predictor(self, sm, alpha, sigma_m, beta, W):
        J = sm.J
        a_c = np.concatenate([alpha[:, :1, :], alpha[:, 2:, :]], axis=1)  # (B, 1+q, J)
        a_t = alpha[:, 1, :]
        off = 2 + J + (J if sm.interaction else 0)
        b_c = np.concatenate([beta[:, :1], beta[:, off:]], axis=1)
        b_t = beta[:, 1]
        b_m = beta[:, 2 : 2 + J]
        b_tm = beta[:, 2 + J : 2 + 2 * J] if sm.interaction else np.zeros_like(b_m)
        if sm.binary:
            return bm.BernoulliPredictor(b_c, b_t, (b_m[:, 0], b_m[:, 0] + b_tm[:, 0]),
                                         a_c[:, :, 0], a_t[:, 0], sm.C,
                                         W / W.sum(axis=1, keepdims=True))
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
        if isinstance(lp, bm.BernoulliPredictor):  # two-point sum, exact (k unused)
            if self.outcome_type == "linear":
                return {"mean_difference": bm.po_linear(lp)}
            if self.outcome_type == "logistic":
                return {"risk_difference": bm.po_logistic(lp)}
            return {"risk_difference": bm.po_weibull_risk(lp, wsig, self.horizon),
                    "median_difference": bm.po_weibull_median(lp, wsig),
                    "rmst_difference": bm.po_weibull_rmst(lp, wsig, self.horizon)}
        if self.outcome_type == "linear":
            return {"mean_difference": fx.po_linear(lp)}
        if self.outcome_type == "logistic":
            return {"risk_difference": fx.po_logistic(lp, k)}
        return {
            "risk_difference": fx.po_weibull_risk(lp, wsig, self.horizon, k),
            "median_difference": fx.po_weibull_median(lp, wsig, k),
            "rmst_difference": po_weibull_rmst(lp, wsig, self.horizon, k),
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
        medians: relative; restricted means: relative to the horizon) at 1.25 x the fitted
        mediator spread s(t); a binary mediator needs no quadrature."""
        if self.outcome_type == "linear" or sm.binary:
            return
        self.k_point[sm.label] = K_REF
        wide = fx.LinearPredictor(lp.coef_c, lp.beta_t, lp.delta,
                                  tuple(1.25 * s for s in lp.s), lp.C, lp.weight)
        ref = self.potential_outcomes(wide, wsig, K_REF)
        for k in _K_LADDER:
            cand = self.potential_outcomes(wide, wsig, k)
            err = 0.0
            for et, mu in cand.items():
                scale = (np.abs(ref[et]) if et == "median_difference" else
                         self.horizon if et == "rmst_difference" else 1.0)
                err = max(err, float(np.max(np.abs(mu - ref[et]) / scale)))
            if err <= self.qtol:
                self.k_boot[sm.label] = k
                return
        self.k_boot[sm.label] = K_REF


def subset(lp, ok: np.ndarray):
    if isinstance(lp, bm.BernoulliPredictor):
        return lp.subset(ok)
    return fx.LinearPredictor(tuple(c[ok] for c in lp.coef_c), lp.beta_t[ok],
                              tuple(d[ok] for d in lp.delta), tuple(s[ok] for s in lp.s),
                              lp.C, lp.weight[ok])
