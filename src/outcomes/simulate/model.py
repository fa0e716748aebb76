"""The structural model shared by the trial and the truth population.

A *unit* is a person with baseline covariates and every exogenous random quantity of the
data-generating process (general factor, latent-equation noise, item noise, frailty, the
uniform draws behind readmission and death times). Given a unit, the arm ``t`` (0/1,
scalar or array) and, optionally, values of the month-4 mediators, every outcome is a
deterministic function. The trial evaluates these functions at the randomised arm; the
truth population evaluates them at both arms and at cross-world mediator values, with the
same exogenous draws (common random numbers), which is what potential outcomes are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np

from outcomes.instruments import Instrument
from outcomes.simulate.items import ItemModel, item_model, primary_paramcd, score_all
from outcomes.simulate.parameters import MEDIATORS, ConfounderSpec, Parameters

VISITS = ("baseline", "month_4", "month_12")
DIAGNOSIS_PSYCHOSIS = 0  # index of "psychosis" in contract.DIAGNOSIS_GROUPS
GENERIC_PERSISTENCE = 0.6


@dataclass
class Units:
    """Covariates and exogenous draws of ``n`` people (arrays of length n)."""

    n: int
    site: np.ndarray
    age: np.ndarray
    sex: np.ndarray
    diagnosis: np.ndarray
    prior: np.ndarray
    detained: np.ndarray
    general: np.ndarray
    latent_noise: dict[str, np.ndarray]
    frailty: np.ndarray
    u_readmit: np.ndarray
    u_death: np.ndarray
    item_seeds: dict[str, np.random.SeedSequence]
    worker_effect: dict[str, np.ndarray] = field(default_factory=dict)
    """Peer-worker effect of each person under the treated arm, by equation
    (``<visit>:<key>``, ``readmission``); empty without clustering (peer_workers.py)."""
    exposure: np.ndarray | None = None
    """Multiplier of every arm term under the treated arm (selective engagement, §10b:
    dose / reference dose for a complier, 0 for a never-taker); ``None``: 1 for everyone."""
    engaged_if_offered: np.ndarray | None = None
    """0/1: would engage if offered peer support (exposure-induced confounding, §10c);
    ``None``: no such confounder. ``confounder`` holds its effects (ConfounderSpec)."""
    confounder: ConfounderSpec | None = None
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def confounding(self, part: str, t):
        """The exposure-induced confounder's term in one equation (``mediators``,
        ``outcomes``, ``readmission``): its coefficient x L(t), L(t) = t x engaged if
        offered; 0 without the confounder."""
        if self.engaged_if_offered is None:
            return 0.0
        return getattr(self.confounder, part) * t * self.engaged_if_offered

    def item_noise(self, visit: str, key: str, p: int, cache: bool = False) -> np.ndarray:
        """Logistic item noise (n x p) of one instrument at one visit.

        Regenerated from its own seed sequence on every call, so repeated calls (one per
        arm or mediator configuration) give identical draws without keeping them all in
        memory; ``cache`` keeps the array for an instrument used many times.
        """
        name = f"{visit}:{key}"
        if name in self._cache:
            return self._cache[name]
        noise = np.random.default_rng(self.item_seeds[name]).logistic(size=(self.n, p))
        if cache:
            self._cache[name] = noise
        return noise

    def treated(self, t):
        """What the arm terms of the equations multiply: ``t``, times the person's
        exposure under selective engagement."""
        return t if self.exposure is None else t * self.exposure

    def add_worker(self, lin: np.ndarray, name: str, t) -> np.ndarray:
        """``lin + t * b`` with ``b`` the person's worker effect on equation ``name``
        (``lin`` itself, untouched, when there is none)."""
        b = self.worker_effect.get(name)
        return lin if b is None else lin + t * b


def draw_units(rng: np.random.Generator, n: int, params: Parameters, keys: list[str]) -> Units:
    """Draw covariates and exogenous noise for ``n`` people (instrument keys ``keys``)."""
    cov = params.covariates
    site = rng.choice(len(params.sites), size=n, p=np.asarray(params.site_weights))
    lo, hi = cov.age_range
    age = np.clip(np.rint(rng.normal(cov.age_mean, cov.age_sd, size=n)), lo, hi).astype(np.int64)
    sex = rng.choice(len(cov.sex_probs), size=n, p=np.asarray(cov.sex_probs))
    diagnosis = rng.choice(len(cov.diagnosis_probs), size=n, p=np.asarray(cov.diagnosis_probs))
    p_nb = cov.prior_extra_size / (cov.prior_extra_size + cov.prior_extra_mean)
    prior = 1 + rng.negative_binomial(cov.prior_extra_size, p_nb, size=n)
    prior = np.where(rng.random(n) < cov.prior_zero_prob, 0, prior).astype(np.int64)
    logit = cov.detained_intercept + np.asarray(cov.detained_by_diagnosis)[diagnosis]
    detained = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    general = rng.normal(size=n)
    latent_noise = {}
    for visit in VISITS:
        for key in keys:
            latent_noise[f"{visit}:{key}"] = rng.normal(size=n)
    frailty_var = params.readmission.frailty_var
    frailty = rng.gamma(1.0 / frailty_var, frailty_var, size=n)
    u_readmit = rng.random(n)
    u_death = rng.random(n)
    names = [f"{visit}:{key}" for visit in VISITS for key in keys]
    seeds = {name: cast(np.random.SeedSequence, g.bit_generator.seed_seq)
             for name, g in zip(names, rng.spawn(len(names)), strict=True)}
    return Units(
        n=n, site=site, age=age, sex=sex, diagnosis=diagnosis, prior=prior,
        detained=detained, general=general, latent_noise=latent_noise, frailty=frailty,
        u_readmit=u_readmit, u_death=u_death, item_seeds=seeds,
    )


def engage_probability(spec, u: Units) -> np.ndarray:
    """P(engaged if offered) of everyone in ``u`` (ConfounderSpec, §10c)."""
    return 1.0 / (1.0 + np.exp(-(spec.intercept + spec.prior * (u.prior - 1.5))))


def draw_confounder(u: Units, spec, rng: np.random.Generator) -> None:
    """Engaged-if-offered of everyone in ``u`` (one uniform each, §10c), in place."""
    u.engaged_if_offered = (rng.random(u.n) < engage_probability(spec, u)).astype(float)
    u.confounder = spec


@dataclass
class Visit:
    """Latents, complete item responses (optional) and scores of one visit under one arm."""

    latent: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]
    items: dict[str, np.ndarray] | None = None


class Model:
    """The DGP equations (see parameters.py and docs/synthetic-trial.md)."""

    def __init__(self, params: Parameters, registry: dict[str, Instrument]) -> None:
        self.params = params
        self.registry = registry
        self.keys = [k for k, inst in registry.items() if inst.has_own_columns]
        self.item_models: dict[str, ItemModel] = {
            k: item_model(registry[k], params.latent_spec(k)) for k in self.keys
        }
        self.primary = {k: primary_paramcd(registry[k]) for k in self.keys}
        self.mediators = [k for k in MEDIATORS if k in self.item_models]

    # -- helpers -------------------------------------------------------------------------
    def z(self, key: str, score: np.ndarray) -> np.ndarray:
        spec = self.params.latent_spec(key)
        return (score - spec.ref_mean) / spec.ref_sd

    def draw_items(self, u: Units, visit: str, key: str, theta: np.ndarray, cache: bool = False) -> np.ndarray:
        model = self.item_models[key]
        return model.draw(theta, u.item_noise(visit, key, model.n_items, cache=cache))

    def score_instrument(self, key: str, items: np.ndarray) -> dict[str, np.ndarray]:
        """Every PARAMCD computed from instrument ``key``'s items (SWEMWBS with WEMWBS)."""
        subset = {
            k: inst
            for k, inst in self.registry.items()
            if k == key or inst.source_instrument == key
        }
        return score_all(subset, {key: items})

    def primary_score(self, key: str, items: np.ndarray) -> np.ndarray:
        return score_all({key: self.registry[key]}, {key: items})[self.primary[key]]

    def _visit(self, latent, items, scores, keep_items: bool) -> Visit:
        return Visit(latent=latent, scores=scores, items=items if keep_items else None)

    def _add(self, items, scores, key: str, mat: np.ndarray, keep_items: bool) -> None:
        """Score one instrument at once and keep its items only when asked (saves memory)."""
        scores.update(self.score_instrument(key, mat))
        if keep_items:
            items[key] = mat

    # -- baseline ------------------------------------------------------------------------
    def baseline(self, u: Units, keep_items: bool = False) -> Visit:
        latent: dict[str, np.ndarray] = {}
        items: dict[str, np.ndarray] = {}
        scores: dict[str, np.ndarray] = {}
        for key in self.keys:
            spec = self.params.latent_spec(key)
            e = u.latent_noise[f"baseline:{key}"]
            latent[key] = spec.mu0 + spec.loading * u.general + np.sqrt(1 - spec.loading**2) * e
            mat = self.draw_items(u, "baseline", key, latent[key])
            self._add(items, scores, key, mat, keep_items)
        return self._visit(latent, items, scores, keep_items)

    def z0(self, base: Visit, key: str) -> np.ndarray:
        return self.z(key, base.scores[self.primary[key]])

    # -- month 4 -------------------------------------------------------------------------
    def process_latent(self, u: Units, base: Visit, key: str, t) -> np.ndarray:
        spec = self.params.process[key]
        mu0 = self.params.latent_spec(key).mu0
        lin = (
            mu0 + spec.shift + spec.arm * u.treated(t) + spec.own_baseline * self.z0(base, key)
            + self.params.site_effect(f"month_4:{key}", u.site)
            + spec.prior * (u.prior - 1.5)
            + spec.sigma * u.latent_noise[f"month_4:{key}"]
            + u.confounding("mediators", t)
        )
        return u.add_worker(lin, f"month_4:{key}", t)

    def outcome_latent(self, u: Units, base: Visit, visit: str, key: str, t, mediators: dict[str, np.ndarray]) -> np.ndarray:
        """Latent of WEMWBS / QPR-15 at ``visit`` given observed month-4 mediator scores."""
        spec = self.params.outcomes[visit][key]
        mu0 = self.params.latent_spec(key).mu0
        lin = (
            mu0 + spec.shift + spec.arm * u.treated(t) + spec.own_baseline * self.z0(base, key)
            + self.params.site_effect(f"{visit}:{key}", u.site)
            + spec.prior * (u.prior - 1.5)
            + spec.sigma * u.latent_noise[f"{visit}:{key}"]
            + (u.confounding("outcomes", t) if visit == "month_12" else 0.0)
        )
        lin = u.add_worker(lin, f"{visit}:{key}", t)
        for med, coef in spec.mediators.items():
            if med in mediators:
                lin = lin + coef * self.z(med, mediators[med])
        return lin

    def generic_latent(self, u: Units, base: Visit, visit: str, key: str) -> np.ndarray:
        mu0 = self.params.latent_spec(key).mu0
        rho = GENERIC_PERSISTENCE
        return mu0 + rho * (base.latent[key] - mu0) + np.sqrt(1 - rho**2) * u.latent_noise[f"{visit}:{key}"]

    def month4(self, u: Units, base: Visit, t, keep_items: bool = False) -> Visit:
        latent: dict[str, np.ndarray] = {}
        items: dict[str, np.ndarray] = {}
        scores: dict[str, np.ndarray] = {}
        mediators = {}
        for key in self.mediators:
            latent[key] = self.process_latent(u, base, key, t)
            mat = self.draw_items(u, "month_4", key, latent[key])
            self._add(items, scores, key, mat, keep_items)
            mediators[key] = scores[self.primary[key]]
        for key in self.keys:
            if key in latent:
                continue
            if key in self.params.outcomes["month_4"]:
                latent[key] = self.outcome_latent(u, base, "month_4", key, t, mediators)
            else:
                latent[key] = self.generic_latent(u, base, "month_4", key)
            mat = self.draw_items(u, "month_4", key, latent[key])
            self._add(items, scores, key, mat, keep_items)
        return self._visit(latent, items, scores, keep_items)

    def mediator_scores(self, visit4: Visit) -> dict[str, np.ndarray]:
        """Observed (complete-response) month-4 primary scores of the process instruments."""
        return {k: visit4.scores[self.primary[k]] for k in self.mediators}

    # -- month 12 ------------------------------------------------------------------------
    def month12(self, u: Units, base: Visit, m4: Visit, t, keep_items: bool = False) -> Visit:
        latent: dict[str, np.ndarray] = {}
        items: dict[str, np.ndarray] = {}
        scores: dict[str, np.ndarray] = {}
        mediators = self.mediator_scores(m4)
        for key in self.keys:
            if key in self.params.process:
                spec = self.params.process[key]
                mu0 = self.params.latent_spec(key).mu0
                latent[key] = u.add_worker(
                    mu0 + spec.shift12
                    + spec.persistence * (m4.latent[key] - mu0 - spec.shift)
                    + spec.sigma12 * u.latent_noise[f"month_12:{key}"],
                    f"month_12:{key}", t,
                )
            elif key in self.params.outcomes["month_12"]:
                latent[key] = self.outcome_latent(u, base, "month_12", key, t, mediators)
            else:
                latent[key] = self.generic_latent(u, base, "month_12", key)
            mat = self.draw_items(u, "month_12", key, latent[key], cache=(key == "wemwbs"))
            self._add(items, scores, key, mat, keep_items)
        return self._visit(latent, items, scores, keep_items)

    def wemwbs12(self, u: Units, base: Visit, t, mediators: dict[str, np.ndarray]) -> np.ndarray:
        """Observed month-12 WEMWBS total under arm ``t`` and the given mediator values."""
        theta = self.outcome_latent(u, base, "month_12", "wemwbs", t, mediators)
        items = self.draw_items(u, "month_12", "wemwbs", theta, cache=True)
        return self.primary_score("wemwbs", items)

    # -- readmission and death -----------------------------------------------------------
    def readmission_lp(self, u: Units, t, mediators: dict[str, np.ndarray]) -> np.ndarray:
        spec = self.params.readmission
        lp = (
            self.params.site_effect("readmission", u.site)
            + spec.prior * (u.prior - 1.5)
            + spec.detained * (u.detained.astype(float) - 0.4)
            + spec.arm * u.treated(t)
            + u.confounding("readmission", t)
        )
        lp = u.add_worker(lp, "readmission", t)
        for med, coef in spec.mediators.items():
            if med in mediators:
                lp = lp + coef * self.z(med, mediators[med])
        return lp

    def hazard_scale(self, u: Units, lp: np.ndarray) -> np.ndarray:
        """``c`` in H(u) = c * (u / 365) ** shape, including the frailty."""
        return u.frailty * self.params.readmission.cumhaz_365 * np.exp(lp)

    def gap_days(self, scale: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """Invert the cumulative hazard: continuous days to the next readmission."""
        k = self.params.readmission.shape
        return 365.0 * (-np.log(uniform) / scale) ** (1.0 / k)

    def first_readmission_days(self, u: Units, lp: np.ndarray) -> np.ndarray:
        return self.gap_days(self.hazard_scale(u, lp), u.u_readmit)

    def risk365(self, u: Units, lp: np.ndarray) -> np.ndarray:
        """P(first readmission within 365 days | unit, frailty), no competing death."""
        return -np.expm1(-self.hazard_scale(u, lp))

    def death_days(self, u: Units) -> np.ndarray:
        spec = self.params.death
        scale = spec.cumhaz_365 * np.exp(spec.age * (u.age - 40.0))
        return 365.0 * (-np.log(u.u_death) / scale) ** (1.0 / spec.shape)
