"""Interventional (randomised) direct and indirect effects with exposure-induced
mediator-outcome confounders (VanderWeele, Vansteelandt & Robins 2014, Epidemiology
25:300-306; several mediators: Vansteelandt & Daniel 2017, Epidemiology 28:258-265).

When a variable L caused by the exposure (engagement, early readmission) affects both the
mediators M and the outcome Y, natural effects are not identified. Interventional effects
compare the outcome under exposure t with the mediators set to a random draw G_t' from
their distribution under exposure t' given the covariates C (marginal over L):

    IDE = E[Y(1, G_0)] - E[Y(0, G_0)]      (``interventional_direct``)
    IIE = E[Y(1, G_1)] - E[Y(1, G_0)]      (``interventional_indirect``)
    overall = IDE + IIE = E[Y(1, G_1)] - E[Y(0, G_0)]   (``interventional_overall``)

identified by the g-formula (VanderWeele et al. 2014, eq. 2):

    E[Y(t, G_t')] = E_C sum_{l, l'} P(l | t, C) P(l' | t', C)
                    E[ E[Y | t, l, M, C] | M ~ f(M | t', l', C) ]

(L under t for the outcome; an independent L' under t' for the mediators' draw, which is
what breaks the L-M link). The overall effect equals the total effect E[Y(1) - Y(0)] only
when L does not affect M.

Models (each fitted with the bootstrap's frequency weights, :mod:`.fitting`): every L is
0/1, with a logistic model given the arm, the earlier L's and C (sequential, so any joint
distribution of the L's given arm and C is allowed); an L that does not vary within an arm
(nobody in usual care engages) is that constant there and modelled in the other arm only;
the mediators are normal linear given arm, L and C (multivariate normal for a set, the
residual covariance of the fits); the outcome model is the engine's (linear, logistic,
Weibull AFT) with L added. The logistic models of L and the logistic and Weibull outcome
models carry a weak ridge penalty (:data:`CONFOUNDER_RIDGE`, :data:`OUTCOME_RIDGE`) so that
a resample with a small cell without events does not fail.

The g-formula is evaluated without Monte Carlo draws: the binary L's are summed over
(their 2^K configurations under t and under t'), and given them the outcome's linear
predictor is normal (a linear function of the normal mediator residuals), so the inner
expectation is closed form for a linear outcome and a one-dimensional Gauss-Hermite
integral for the logistic and Weibull-risk scales (as in :mod:`.effects`). This is the
Monte Carlo g-computation of the papers with its Monte Carlo error removed (decisions
IE1); :func:`monte_carlo_po` is the brute-force simulation version, used in the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from outcomes.errors import NotEstimable

from .checks import check_design
from .effects import NODE_BLOCK, gauss_hermite
from .fitting import fit_logistic, fit_ols, fit_weibull
from .models import _K_LADDER, K_REF, SetModel

__all__ = ["EFFECTS", "PAIRS", "SUFFIX", "ConfounderModel", "InterventionalAnalysis",
           "InterventionalSet", "effects_from_po", "estimate_type", "monte_carlo_po"]

EFFECTS = ("interventional_indirect", "interventional_direct", "interventional_overall")
#: (t, t') of the potential-outcome means E[Y(t, G_t')] the effects need, in this order.
PAIRS = ((1, 1), (1, 0), (0, 0))
_ROWS = 64  # replicates per block of the quadrature
#: Ridge penalty of the confounder models (fitting.fit_logistic): a normal prior with SD
#: 10^(1/2) = 3.2 on each log-odds ratio per SD of a covariate, so that a resample in which
#: a covariate cell (a small site) has every participant engaged gives fitted
#: probabilities near 1 there instead of a failed replicate (separation); it moves the
#: fit by about ridge / (n p (1 - p)) of a coefficient otherwise (decisions IE3).
CONFOUNDER_RIDGE = 0.1
#: The same weak penalty on the logistic and Weibull outcome models with the confounders
#: (the log odds or hazard ratio per SD of each regressor; the intercept and the Weibull
#: scale are not penalised). With a confounder that is 0 for everyone in usual care
#: (engagement), the arm's coefficient is the contrast of the treated with L = 0, a small
#: cell that has no event in a share of the resamples of a small trial (quasi-complete
#: separation: 16-20% of the resamples in a simulated trial of 500 failed without it);
#: the recovery study of docs/mediation.md section 10b runs with it (decisions L67).
OUTCOME_RIDGE = CONFOUNDER_RIDGE


def estimate_type(outcome_type: str) -> str:
    """The scale of the interventional rows: mean difference (linear outcome), else risk
    difference (logistic; the risk by the horizon for the Weibull model)."""
    return "mean_difference" if outcome_type == "linear" else "risk_difference"


def effects_from_po(mu: np.ndarray) -> np.ndarray:
    """(B, 3) effects in the order of EFFECTS from (B, 3) means in the order of PAIRS."""
    return np.column_stack([mu[:, 0] - mu[:, 1], mu[:, 1] - mu[:, 2], mu[:, 0] - mu[:, 2]])


@dataclass(frozen=True)
class ConfounderModel:
    """How one 0/1 exposure-induced confounder is modelled: ``modelled`` lists the arms in
    which it varies (a logistic model; with the arm as a covariate when both), ``constant``
    its value in an arm where it does not vary."""

    name: str
    modelled: tuple[int, ...]
    constant: dict[int, float]

    @classmethod
    def of(cls, name: str, L: np.ndarray, T: np.ndarray) -> ConfounderModel:
        if not np.isin(L, (0.0, 1.0)).all():
            raise NotEstimable(f"exposure-induced confounder {name} is not 0/1")
        modelled, constant = [], {}
        for t in (0, 1):
            lt = L[T == t]
            if lt.min() == lt.max():
                constant[t] = float(lt[0])
            else:
                modelled.append(t)
        if not modelled:
            raise NotEstimable(
                f"exposure-induced confounder {name} is a function of the arm (constant within "
                "each arm): it cannot be told apart from the exposure")
        return cls(name, tuple(modelled), constant)

    def design_columns(self, k: int) -> str:
        """Words for the report: the L model's regressors."""
        arm = "arm + " if len(self.modelled) == 2 else ""
        where = "" if len(self.modelled) == 2 else (
            f" (arm {self.modelled[0]} only; {self.constant[1 - self.modelled[0]]:g} in arm "
            f"{1 - self.modelled[0]})")
        return f"{arm}earlier confounders + covariates{where}" if k else (
            f"{arm}covariates{where}")


class InterventionalSet:
    """The models of one mediator set with the exposure-induced confounders ``L`` (n x K),
    fitted for a block of resample counts; potential outcomes E[Y(t, G_t')] for PAIRS."""

    def __init__(self, sm: SetModel, L: np.ndarray, names: Sequence[str], T: np.ndarray,
                 outcome_type: str, y, time, event, horizon: float,
                 outcome_weights: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self.sm, self.L, self.names, self.T = sm, L, tuple(names), T
        #: maps resample counts to the outcome model's weights (e.g. censoring weights);
        #: the confounder and mediator models and the standardisation keep the counts
        self.outcome_weights = outcome_weights
        self.outcome_type, self.y, self.time, self.event = outcome_type, y, time, event
        self.horizon = horizon
        if getattr(sm, "binary", False):
            raise NotEstimable("a binary mediator: the interventional effects are implemented "
                               "for normal mediator models only")
        K = L.shape[1]
        self.conf = [ConfounderModel.of(nm, L[:, k], T) for k, nm in enumerate(self.names)]
        Xc = sm.C[:, 1:]
        one = sm.C[:, :1]
        self.Xl: list[np.ndarray] = []
        for k, cm in enumerate(self.conf):
            parts = [one] + ([T[:, None]] if len(cm.modelled) == 2 else []) + [L[:, :k], Xc]
            X = np.hstack(parts)
            rows = np.isin(T, cm.modelled)
            names_k = (["Intercept"] + (["arm"] if len(cm.modelled) == 2 else [])
                       + list(self.names[:k]) + list(sm.cov_names))
            check_design(X[rows], names_k, model=f"confounder model for {cm.name}")
            self.Xl.append(X)
        self.Xm = np.hstack([sm.Xm[:, :2], L, sm.Xm[:, 2:]])
        self.Xo = np.hstack([sm.Xo, L])
        check_design(self.Xm, [*sm.mediator_names[:2], *self.names, *sm.mediator_names[2:]],
                     model=f"mediator model(s) for {', '.join(sm.meds)} with {', '.join(self.names)}")
        check_design(self.Xo, [*sm.outcome_names, *self.names],
                     model=f"outcome model for {sm.label} with {', '.join(self.names)}",
                     extra_params=int(outcome_type == "weibull"))
        self.K = K
        self.configs = np.array([[(c >> k) & 1 for k in range(K)] for c in range(2 ** K)],
                                dtype=float)  # (2^K, K)
        self.start: dict[Any, Any] = {}  # warm starts: coefficients, or (coefficients, sigma)

    # -- fitting -------------------------------------------------------------------------
    def fit(self, W: np.ndarray, *, point: bool) -> tuple[dict, np.ndarray, dict[str, np.ndarray]]:
        """Parameters of every model for the replicates of ``W`` (B x n); ``ok`` (B,) and the
        failed replicates by cause (model that did not converge)."""
        B = W.shape[0]
        causes: dict[str, np.ndarray] = {}
        gam = []
        for k, (cm, X) in enumerate(zip(self.conf, self.Xl, strict=True)):
            Wk = W * np.isin(self.T, cm.modelled)[None, :]
            start = None if point else self.start[f"L{k}"]
            lf = fit_logistic(X, self.L[:, k], Wk, start=start, ridge=CONFOUNDER_RIDGE)
            coef, conv = lf.coef, lf.converged
            if start is not None and not conv.all():  # Newton overshot from the warm start
                again = fit_logistic(X, self.L[:, k], Wk[~conv], ridge=CONFOUNDER_RIDGE)
                coef[~conv], conv[~conv] = again.coef, again.converged
            if point:
                self.start[f"L{k}"] = coef[0]
            causes[f"confounder model for {cm.name} did not converge"] = ~conv
            gam.append(coef)
        J = self.sm.J
        med = fit_ols(self.Xm, self.sm.Ym[:, :J], W)
        start = None if point else self.start["outcome"]
        wsig = None
        Wo = W if self.outcome_weights is None else self.outcome_weights(W)
        if self.outcome_type == "linear":
            beta = fit_ols(self.Xo, self.y, Wo, resid=False).coef[:, :, 0]
            ok_y = np.ones(B, dtype=bool)
        elif self.outcome_type == "logistic":
            lf = fit_logistic(self.Xo, self.y, Wo, start=start, ridge=OUTCOME_RIDGE)
            beta, ok_y = lf.coef, lf.converged
            if start is not None and not ok_y.all():  # Newton overshot from the warm start
                again = fit_logistic(self.Xo, self.y, Wo[~ok_y], ridge=OUTCOME_RIDGE)
                beta[~ok_y], ok_y[~ok_y] = again.coef, again.converged
        else:
            wf = fit_weibull(self.Xo, self.time, self.event, Wo, start=start, ridge=OUTCOME_RIDGE)
            beta, ok_y, wsig = wf.coef, wf.converged, wf.sigma
        if point:
            self.start["outcome"] = beta[0] if wsig is None else (beta[0], float(wsig[0]))
        causes[f"{self.outcome_type} outcome model with the confounders did not converge"] = ~ok_y
        ok = ~np.logical_or.reduce(list(causes.values()))
        prm = {"confounder": gam, "mediator": med.coef, "mediator_cov": med.resid_cov[:, :J, :J],
               "outcome": beta, "weibull_sigma": wsig}
        return prm, ok, causes

    # -- potential outcomes --------------------------------------------------------------
    def _config_probs(self, gam: list[np.ndarray], t: int, rows: slice, b: int) -> np.ndarray:
        """(b, n, 2^K): P(L = l | t, C_i) for every configuration l (sequential models)."""
        n = self.sm.C.shape[0]
        Xc = self.sm.C[:, 1:]
        out = np.ones((b, n, len(self.configs)))
        for k, cm in enumerate(self.conf):
            for c, lv in enumerate(self.configs):
                if t in cm.modelled:
                    arm = [np.full((n, 1), float(t))] if len(cm.modelled) == 2 else []
                    Xk = np.hstack([np.ones((n, 1)), *arm, np.tile(lv[:k], (n, 1)), Xc])
                    p1 = 0.5 * (1.0 + np.tanh(0.5 * (gam[k][rows] @ Xk.T)))
                else:
                    p1 = np.full((b, n), cm.constant[t])
                out[:, :, c] *= p1 if lv[k] == 1 else 1.0 - p1
        return out

    def potential_outcomes(self, prm: dict, W: np.ndarray, k: int) -> dict[str, np.ndarray]:
        """{estimate_type: (B, 3)} means E[Y(t, G_t')] in the order of PAIRS (risk by the
        horizon for the Weibull model)."""
        sm, K, J = self.sm, self.K, self.sm.J
        C = sm.C
        weight = W / W.sum(axis=1, keepdims=True)
        alpha, sigma_m, beta = prm["mediator"], prm["mediator_cov"], prm["outcome"]
        a_c = np.concatenate([alpha[:, :1], alpha[:, 2 + K:]], axis=1)  # (B, 1+q, J)
        a_t = alpha[:, 1]  # (B, J)
        a_l = alpha[:, 2:2 + K]  # (B, K, J)
        nq = C.shape[1] - 1
        off = 2 + J + (J if sm.interaction else 0)
        b_c = np.concatenate([beta[:, :1], beta[:, off:off + nq]], axis=1)  # (B, 1+q)
        b_t, b_m = beta[:, 1], beta[:, 2:2 + J]
        b_tm = beta[:, 2 + J:2 + 2 * J] if sm.interaction else np.zeros_like(b_m)
        b_l = beta[:, off + nq:]  # (B, K)
        B = W.shape[0]
        mu = np.empty((B, len(PAIRS)))
        if self.outcome_type != "linear":
            x, w = gauss_hermite(k)
            if self.outcome_type == "weibull":
                sig = prm["weibull_sigma"]
                logh = float(np.log(self.horizon))
        for lo in range(0, B, _ROWS):
            r = slice(lo, min(lo + _ROWS, B))
            P = {t: self._config_probs(prm["confounder"], t, r, r.stop - r.start) for t in (0, 1)}
            wt = weight[r]
            for j, (t, tp) in enumerate(PAIRS):
                v = b_m[r] + t * b_tm[r]  # (b, J)
                base = (b_c[r] + np.einsum("bqj,bj->bq", a_c[r], v)) @ C.T  # (b, n)
                base += (b_t[r] * t + tp * (a_t[r] * v).sum(axis=1))[:, None]
                cl = self.configs @ b_l[r].T  # (2^K, b): beta_L . l
                cm = np.einsum("ck,bkj,bj->cb", self.configs, a_l[r], v)  # v . alpha_L' l'
                if self.outcome_type == "linear":
                    el = np.einsum("bnc,cb->bn", P[t], cl)
                    em = np.einsum("bnc,cb->bn", P[tp], cm)
                    mu[r, j] = ((base + el + em) * wt).sum(axis=1)
                    continue
                s = np.sqrt(np.clip(np.einsum("bj,bjk,bk->b", v, sigma_m[r], v), 0.0, None))
                acc = np.zeros(base.shape[0])
                for c1 in range(len(self.configs)):
                    p1 = P[t][:, :, c1]
                    if not p1.any():
                        continue
                    for c2 in range(len(self.configs)):
                        pw = p1 * P[tp][:, :, c2] * wt
                        if not pw.any():
                            continue
                        eta = base + (cl[c1] + cm[c2])[:, None]
                        step = max(1, NODE_BLOCK // eta.size)  # nodes per pass
                        for n0 in range(0, k, step):
                            e = eta[:, None, :] + (s[:, None] * x[None, n0:n0 + step])[:, :, None]
                            if self.outcome_type == "logistic":
                                h = 0.5 * (1.0 + np.tanh(0.5 * e))
                            else:
                                h = -np.expm1(-np.exp(np.clip((logh - e) / sig[r, None, None],
                                                              -200.0, 200.0)))
                            h *= pw[:, None, :]
                            node_sums = h.sum(axis=2)  # (b, nodes)
                            for kk in range(node_sums.shape[1]):
                                acc += w[n0 + kk] * node_sums[:, kk]
                mu[r, j] = acc
        return {estimate_type(self.outcome_type): mu}


#: Suffix of a mediator set's label in the keys of the interventional effects
#: (``MediationResult.point_effects``, ``replicates``, ``failed_by``).
SUFFIX = " (interventional)"


class InterventionalAnalysis:
    """The interventional effects of every mediator set, beside the engine's natural ones:
    full-sample fits, then blocks of the SAME resample counts as the natural effects
    (:func:`outcomes.mediation.engine.fit_mediation_designs`). A set whose models cannot be
    fitted on the full sample gets its reason in ``reasons`` (its natural effects are
    unaffected)."""

    def __init__(self, sets: Sequence[SetModel], L: np.ndarray, names: Sequence[str],
                 T: np.ndarray, outcome_type: str, y, time, event, horizon: float,
                 outcome_weights: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        varies = [k for k in range(L.shape[1]) if L[:, k].min() != L[:, k].max()]
        #: confounders constant in the whole sample (e.g. early readmission in a landmark
        #: sample of people not readmitted before it): no confounding by them, left out
        self.constant = tuple(nm for k, nm in enumerate(names) if k not in varies)
        L = L[:, varies]
        names = [names[k] for k in varies]
        self.names = tuple(names)
        self.models: dict[str, InterventionalSet] = {}
        self.reasons: dict[str, str] = {}
        self.point_eff: dict[tuple[str, str], np.ndarray] = {}
        self.params: dict[str, dict] = {}
        for sm in sets:
            try:
                self.models[sm.label] = InterventionalSet(sm, L, names, T, outcome_type, y, time,
                                                          event, horizon, outcome_weights)
            except NotEstimable as e:
                self.reasons[sm.label + SUFFIX] = e.reason

    def describe(self, exposure: str, covariate_terms: Sequence[str]) -> dict[str, str]:
        """The models' formulas for the report (one set's; the same for every set but the
        mediators and outcome, which the natural models already state)."""
        covs = " + ".join(covariate_terms)
        out = {}
        for k, nm in enumerate(self.names):
            cm = next(iter(self.models.values())).conf[k] if self.models else None
            where = "" if cm is None or len(cm.modelled) == 2 else (
                f"; arm {cm.modelled[0]} only, {cm.constant[1 - cm.modelled[0]]:g} in arm "
                f"{1 - cm.modelled[0]}")
            arm = f"{exposure} + " if cm is None or len(cm.modelled) == 2 else ""
            rhs = arm + "".join(f"{e} + " for e in self.names[:k]) + covs
            out[f"interventional: confounder model {nm}"] = (
                f"{nm} ~ {rhs}  [binomial, logit link (maximum likelihood){where}]")
        out["interventional: mediator and outcome models"] = (
            "as the natural-effect models, with " + " + ".join(self.names) + " added"
            if self.names else "the natural-effect models (no confounder varies)")
        if self.constant:
            out["interventional: not used"] = (
                f"{', '.join(self.constant)}: the same value for every participant analysed "
                "(no confounding by it)")
        return out

    def point(self, k: int) -> None:
        """Full-sample fits and effects (``k`` Gauss-Hermite nodes)."""
        for label, iv in list(self.models.items()):
            ones = np.ones((1, iv.L.shape[0]))
            prm, ok, causes = iv.fit(ones, point=True)
            if not ok[0]:
                why = next(c for c, m in causes.items() if m[0])
                self.reasons[label + SUFFIX] = f"{why} on the full sample"
                del self.models[label]
                continue
            for et, mu in iv.potential_outcomes(prm, ones, k).items():
                eff = effects_from_po(mu)
                if not np.isfinite(eff).all():
                    self.reasons[label + SUFFIX] = "interventional effects not finite"
                    continue
                self.point_eff[(label + SUFFIX, et)] = eff[0]
            self.params[label] = prm

    def nodes(self, label: str, qtol: float) -> int:
        """Gauss-Hermite nodes for the bootstrap of a set whose natural effects are not
        estimable, so that the engine chose none (decisions IS1): as
        :meth:`~outcomes.mediation.models.Engine.choose_nodes`, the fewest nodes keeping the
        full-sample potential-outcome means (risks) within ``qtol`` of the reference
        quadrature at 1.25 x the fitted mediator spread; 0 (unused) for a linear outcome
        or a set that is not estimable."""
        iv, prm = self.models.get(label), self.params.get(label)
        if iv is None or prm is None or iv.outcome_type == "linear":
            return 0
        ones = np.ones((1, iv.L.shape[0]))
        wide = {**prm, "mediator_cov": prm["mediator_cov"] * 1.25 ** 2}
        ref = iv.potential_outcomes(wide, ones, K_REF)
        for k in _K_LADDER:
            cand = iv.potential_outcomes(wide, ones, k)
            if max(float(np.max(np.abs(mu - ref[et]))) for et, mu in cand.items()) <= qtol:
                return k
        return K_REF

    def block(self, label: str, W: np.ndarray, k: int
              ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
        """Effects (B, 3) per estimate type for one block of resample counts (NaN rows:
        failed), and the failed replicates by cause (models that did not converge, effects
        not finite). None for a set that is not estimable."""
        iv = self.models.get(label)
        if iv is None or (label + SUFFIX) in self.reasons:
            return None
        prm, ok, causes = iv.fit(W, point=False)
        eff = {et: np.full((W.shape[0], len(EFFECTS)), np.nan)
               for (lab, et) in self.point_eff if lab == label + SUFFIX}
        if ok.any():
            sub = {key: (None if v is None else
                         [g[ok] for g in v] if isinstance(v, list) else v[ok])
                   for key, v in prm.items()}
            for et, mu in iv.potential_outcomes(sub, W[ok], k).items():
                eff[et][ok] = effects_from_po(mu)
        finite = np.logical_and.reduce([np.isfinite(e).all(axis=1) for e in eff.values()])
        causes["interventional effects not finite"] = ok & ~finite
        for e in eff.values():
            e[~(ok & finite)] = np.nan
        return eff, causes


    def add_block(self, label: str, W: np.ndarray, causes: dict[str, np.ndarray], k: int,
                  reps: dict[tuple[str, str], list[np.ndarray]],
                  failed_by: dict[str, dict[str, int]]) -> None:
        """Append one block's effects of a set to ``reps`` and count its failed replicates
        in ``failed_by`` (each once): the same replicate checks as the set's natural
        effects (``causes``: arms, mediator variation), then its own models' failures."""
        out = self.block(label, W, k)
        if out is None:
            return
        eff, own = out
        key = label + SUFFIX
        bad = np.zeros(W.shape[0], dtype=bool)
        counts = failed_by[key]
        for cause, mask in {**causes, **own}.items():
            counts[cause] = counts.get(cause, 0) + int((mask & ~bad).sum())
            bad |= mask
        for et, e in eff.items():
            e[bad] = np.nan
            reps[(key, et)].append(e)


def monte_carlo_po(iv: InterventionalSet, prm: dict, rng: np.random.Generator,
                   draws: int = 200) -> dict[str, np.ndarray]:
    """Brute-force Monte Carlo g-computation of :meth:`InterventionalSet.potential_outcomes`
    for the first replicate of ``prm`` (the full-sample fit): for each participant and each
    of ``draws`` copies, draw L under t, an independent L' under t', the mediators under t'
    given L' (so the draw G_t' is marginal over L), then the outcome's mean given (t, L, G);
    average. For the tests (it has Monte Carlo error; the engine integrates exactly)."""
    sm, K, J = iv.sm, iv.K, iv.sm.J
    n = sm.C.shape[0]
    Xc = sm.C[:, 1:]
    alpha, Sig, beta = prm["mediator"][0], prm["mediator_cov"][0], prm["outcome"][0]
    chol = np.linalg.cholesky(Sig + 1e-300 * np.eye(J))
    out = np.empty(len(PAIRS))

    def draw_L(t: int) -> np.ndarray:
        Ls = np.zeros((draws, n, K))
        for k, cm in enumerate(iv.conf):
            if t in cm.modelled:
                g = prm["confounder"][k][0]
                lin = g[0] + (g[1] * t if len(cm.modelled) == 2 else 0.0)
                j0 = 2 if len(cm.modelled) == 2 else 1
                lin = lin + Ls[:, :, :k] @ g[j0:j0 + k] + Xc @ g[j0 + k:]
                Ls[:, :, k] = rng.random((draws, n)) < 1 / (1 + np.exp(-lin))
            else:
                Ls[:, :, k] = cm.constant[t]
        return Ls

    nq = Xc.shape[1]
    off = 2 + J + (J if sm.interaction else 0)
    for j, (t, tp) in enumerate(PAIRS):
        L_out, L_med = draw_L(t), draw_L(tp)
        G = (alpha[0] + alpha[1] * tp + L_med @ alpha[2:2 + K] + (Xc @ alpha[2 + K:])[None]
             + rng.standard_normal((draws, n, J)) @ chol.T)
        eta = (beta[0] + beta[1] * t + G @ (beta[2:2 + J] + t * (beta[2 + J:2 + 2 * J]
                                                              if sm.interaction else 0.0))
               + (Xc @ beta[off:off + nq])[None] + L_out @ beta[off + nq:])
        if iv.outcome_type == "linear":
            h = eta
        elif iv.outcome_type == "logistic":
            h = 1 / (1 + np.exp(-eta))
        else:
            h = -np.expm1(-np.exp((np.log(iv.horizon) - eta) / prm["weibull_sigma"][0]))
        out[j] = h.mean()
    return {estimate_type(iv.outcome_type): out[None, :]}
