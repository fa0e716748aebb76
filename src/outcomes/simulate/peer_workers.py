"""Peer workers of the synthetic trial: caseloads and random worker effects (partially
nested design, docs/synthetic-trial.md §10a).

With ``icc > 0`` every peer worker gets one random effect per equation of the change
model, drawn once per seed: each month-4 process latent (the mediators), each month-12
process latent, the WEMWBS and QPR-15 latents at months 4 and 12, and the log hazard of
readmission (a shared frailty of the worker's caseload). A treated participant who
engages is assigned a main worker *before* the outcomes are drawn and carries that
worker's effects under the treated arm (``t * b``); usual care and treated participants
who never engage carry none. The effects are N(0, tau^2) with

    tau^2 = icc / (1 - icc) * sigma_e^2,

``sigma_e^2`` the variance of the equation's own disturbance, so ``icc`` is the
correlation of the disturbances of two participants of the same worker (Roberts & Roberts
2005, partially nested designs). For the hazard the disturbance is that of the log gap
time: with H(u) = Z exp(lp + b) c (u / 365)^k, ``k log T = const - lp - b - log Z + log E``
with E ~ Exp(1) (Var log E = pi^2/6) and Z ~ Gamma(1/theta, theta) (Var log Z =
trigamma(1/theta)); ``icc`` is the correlation of k·log T of two participants of one
worker given their linear predictors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import polygamma

from outcomes.simulate.parameters import (
    CASELOAD_CONCENTRATION,
    MEDIATORS,
    Parameters,
)

READMISSION = "readmission"


def disturbance_variances(params: Parameters) -> dict[str, float]:
    """Variance of each equation's own disturbance, by effect name (``<visit>:<key>`` or
    ``readmission``); the worker-effect variance is ``icc / (1 - icc)`` times it."""
    out: dict[str, float] = {}
    for key in MEDIATORS:
        spec = params.process[key]
        out[f"month_4:{key}"] = spec.sigma**2
        out[f"month_12:{key}"] = spec.sigma12**2
    for visit, specs in params.outcomes.items():
        for key, ospec in specs.items():
            out[f"{visit}:{key}"] = ospec.sigma**2
    theta = params.readmission.frailty_var
    out[READMISSION] = float(np.pi**2 / 6 + polygamma(1, 1.0 / theta))
    return out


@dataclass(frozen=True)
class PeerWorkers:
    """The peer workers of one seed: site, caseload weight and effects of each worker."""

    icc: float
    labels: tuple[str, ...]
    site: np.ndarray
    """Site index of each worker (array of length W)."""
    weight: np.ndarray
    """Probability that an engaged participant of the worker's site has this main worker."""
    variance: dict[str, float]
    """Worker-effect variance tau^2 by effect name."""
    effects: dict[str, np.ndarray]
    """Effect of each worker (array of length W) by effect name."""

    @property
    def n(self) -> int:
        return len(self.labels)

    def person_effects(self, main: np.ndarray) -> dict[str, np.ndarray]:
        """Each person's worker effects under the treated arm (0 where ``main`` is -1)."""
        has = main >= 0
        idx = np.where(has, main, 0)
        return {name: np.where(has, b[idx], 0.0) for name, b in self.effects.items()}


def draw_workers(rng: np.random.Generator, params: Parameters, icc: float) -> PeerWorkers:
    """Caseload weights (per site ~ Dirichlet(CASELOAD_CONCENTRATION, ...)) and effects
    N(0, tau^2) of the ``params.peer_workers`` workers of each site, in label order."""
    labels, site, weight = [], [], []
    for s, (name, k) in enumerate(zip(params.sites, params.peer_workers, strict=True)):
        w = rng.dirichlet(np.full(k, CASELOAD_CONCENTRATION))
        for j in range(k):
            labels.append(f"PW-{name}-{j + 1:02d}")
            site.append(s)
            weight.append(float(w[j]))
    ratio = icc / (1.0 - icc)
    variance = {name: ratio * v for name, v in disturbance_variances(params).items()}
    effects = {name: rng.normal(0.0, np.sqrt(v), size=len(labels)) for name, v in variance.items()}
    return PeerWorkers(icc=icc, labels=tuple(labels), site=np.asarray(site, dtype=np.int64),
                       weight=np.asarray(weight), variance=variance, effects=effects)


def assign_workers(rng: np.random.Generator, workers: PeerWorkers, site: np.ndarray, arm: np.ndarray,
                   no_contact_prob: float, complier: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Engagement and main worker of each participant, before any outcome is drawn.

    A treated participant engages with probability ``1 - no_contact_prob`` (as in §10,
    independent of everything else) and then has main worker j of their site with
    probability ``workers.weight[j]``. Returns ``(engaged, main)``: ``main`` is the worker
    index (into ``workers.labels``), -1 for usual care and never-engagers. Under selective
    engagement (§10b) ``complier`` decides instead (the uniform is still drawn).
    """
    n = site.size
    engaged = (rng.random(n) >= no_contact_prob) & (arm == 1)
    if complier is not None:
        engaged = complier & (arm == 1)
    u = rng.random(n)
    main = np.full(n, -1, dtype=np.int64)
    for s in np.unique(site):
        idx = np.flatnonzero(workers.site == s)
        cum = np.cumsum(workers.weight[idx])
        who = np.flatnonzero((site == s) & engaged)
        pick = np.minimum(np.searchsorted(cum / cum[-1], u[who], side="right"), idx.size - 1)
        main[who] = idx[pick]
    return engaged, main


def population_effects(rng: np.random.Generator, workers: PeerWorkers, n: int,
                       no_contact_prob: float, engaged: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Worker effects of a truth population under the treated arm: each member engages
    with the trial's probability (or, under selective engagement, if ``engaged``: the
    compliers; the uniforms are still drawn) and then draws a worker of its own from the
    population of workers (N(0, tau^2) per effect), so averages are over workers, not the
    trial's."""
    drawn = rng.random(n) >= no_contact_prob
    engaged = drawn if engaged is None else engaged
    return {name: np.where(engaged, rng.normal(0.0, np.sqrt(v), size=n), 0.0)
            for name, v in workers.variance.items()}


def score_scale(model, workers: PeerWorkers, rng: np.random.Generator, n_pairs: int) -> dict[str, dict]:
    """ICC of each primary score on its own scale (months 4 and 12, treated arm, engaged).

    ``icc`` fixes the latent disturbances; what an analysis estimates is the between-worker
    variance of an observed score's residual, which the item model (ordinal items) and the
    propagation of the month-4 worker effects through the mediators change. Computed from
    ``n_pairs`` pairs of new population members (``draw_units``), the two members of a pair
    sharing one worker (effects N(0, tau^2)): with r the residual of the score regressed on
    the own baseline score and site (ordinary least squares on the whole population),
    ``between = mean(r_a r_b)`` over pairs (the covariance of two members of one caseload),
    ``total = var(r)``, ``icc = between / total``; ``mc_se`` is the Monte Carlo SE of
    ``between``.
    """
    from outcomes.simulate.model import draw_units

    n = 2 * n_pairs
    u = draw_units(rng, n, model.params, model.keys)
    u.worker_effect = {name: np.repeat(rng.normal(0.0, np.sqrt(v), size=n_pairs), 2)
                       for name, v in workers.variance.items()}
    base = model.baseline(u)
    m4 = model.month4(u, base, 1.0)
    m12 = model.month12(u, base, m4, 1.0)
    sites = np.unique(u.site)
    dummies = (u.site[:, None] == sites[None, 1:]).astype(float)
    out: dict[str, dict] = {}
    for visit, res in (("month_4", m4), ("month_12", m12)):
        for key in model.keys:
            if f"{visit}:{key}" not in workers.variance:
                continue
            p = model.primary[key]
            x = np.column_stack([np.ones(n), base.scores[p], dummies])
            y = res.scores[p]
            r = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
            prod = r[0::2] * r[1::2]
            between, total = float(prod.mean()), float(r.var())
            out[f"{visit}:{p}"] = {
                "between_worker_variance": between,
                "residual_variance": total,
                "icc": between / total,
                "mc_se_between": float(prod.std(ddof=1) / np.sqrt(n_pairs)),
            }
    return out


def clustering_block(params: Parameters, workers: PeerWorkers, main: np.ndarray, pid: list[str],
                     scores: dict) -> dict:
    """truth.json → clustering (docs/synthetic-trial.md §10a)."""
    caseload = np.bincount(main[main >= 0], minlength=workers.n)
    return {
        "icc": workers.icc,
        "icc_refers_to": (
            "latent scale: correlation of the disturbances of one equation of the change model "
            "(each month-4 and month-12 questionnaire latent, incl. the mediators) for two "
            "participants of one peer worker; readmission: correlation of k*log(gap time) "
            "given the linear predictor (log-hazard worker effect against the individual "
            "gamma frailty and the extreme-value error, Var = trigamma(1/theta) + pi^2/6)"
        ),
        "n_workers": workers.n,
        "caseload_concentration": CASELOAD_CONCENTRATION,
        "workers": {
            label: {
                "site": params.sites[site],
                "caseload_weight": float(workers.weight[j]),
                "caseload": int(caseload[j]),
                "effects": {name: float(b[j]) for name, b in workers.effects.items()},
            }
            for j, (label, site) in enumerate(zip(workers.labels, workers.site.tolist(), strict=True))
        },
        "worker_effect_variance": dict(workers.variance),
        "disturbance_variance": disturbance_variances(params),
        "main_worker": {pid[i]: workers.labels[main[i]] for i in np.flatnonzero(main >= 0)},
        "score_scale": scores,
        "truth_population": (
            "each member draws a worker of its own from the population of workers (effects "
            "N(0, tau^2), mean 0), engaging with the trial's probability, under the treated "
            "arm only: the true effects average over peer workers, not over the trial's"
        ),
        "rng": (
            "numpy.random.default_rng(seed).spawn(5)[4].spawn(4) -> [workers (caseload "
            "weights, effects), assignment (engagement, main worker), truth population, "
            "score-scale pairs]"
        ),
    }
