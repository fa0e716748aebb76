"""Missingness scenarios of the follow-up questionnaires (docs/synthetic-trial.md §9).

The trial and the truth population share these functions: the response model
(:func:`missed_logit`), who counts as a month-12 non-responder and the MNAR shift of the
month-12 WEMWBS (:func:`mnar_scores`). A scenario only changes *which* questionnaires are
missing (and, for ``mnar``, the month-12 WEMWBS of those whose questionnaire is missing):
it draws nothing of its own in the trial, so at the same seed every outcome of the trial is
the same in every scenario.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from outcomes.errors import OutcomesError
from outcomes.simulate.items import ItemModel
from outcomes.simulate.parameters import MISSINGNESS, MissingnessSpec

MNAR_INSTRUMENT = "wemwbs"
"""The instrument whose unobserved month-12 values the ``mnar`` scenario shifts."""
VISIT_KEYS = ("month_4", "month_12")
_SHIFT_BOUND = 12.0  # latent SD: beyond it the expected score sits at its floor / ceiling
_BISECTIONS = 34


class ScenarioError(OutcomesError):
    """An unknown scenario or a δ given to a scenario without one (exit status 2)."""

    exit_code = 2


def scenario(name: str, mnar_delta: float | tuple[float, float] | None = None) -> MissingnessSpec:
    """The named scenario; ``mnar_delta`` (one value for both arms, or (peer support, usual
    care)) replaces the ``mnar`` scenario's default δ."""
    if name not in MISSINGNESS:
        raise ScenarioError(f"--missingness must be one of {', '.join(MISSINGNESS)}, got {name!r}")
    spec = MISSINGNESS[name]
    if mnar_delta is None:
        return spec
    if name != "mnar":
        raise ScenarioError(f"--mnar-delta needs --missingness mnar, got --missingness {name}")
    delta = tuple(np.atleast_1d(np.asarray(mnar_delta, dtype=float)).tolist())
    if len(delta) == 1:
        delta = delta * 2
    if len(delta) != 2 or not all(np.isfinite(delta)):
        raise ScenarioError(f"--mnar-delta must be one or two finite numbers, got {mnar_delta!r}")
    return dataclasses.replace(spec, mnar_delta=(float(delta[0]), float(delta[1])))


def missed_logit(spec: MissingnessSpec, k: int, *, age, prior, arm, w0, readmitted,
                 m4_missing=None, z4=None) -> np.ndarray:
    """logit P(visit k missed | alive and in the study) (k = 0 month 4, 1 month 12).

    ``z4``: standardised observed month-4 scores by instrument key (NaN when missing).
    The terms are added in a fixed order (the default scenario's historical one, so its
    draws compare with bit-identical probabilities); a zero coefficient adds nothing.
    """
    n = len(age)
    logit = np.full(n, spec.intercept[k]) if spec.age_per_10y == 0 else (
        spec.intercept[k] + spec.age_per_10y * (age - 40) / 10
    )
    if spec.wemwbs0_per_10 != 0:
        logit = logit + spec.wemwbs0_per_10 * np.nan_to_num(w0 - 38, nan=0.0) / 10
    if spec.prior != 0:
        logit = logit + spec.prior * (prior - 1.5)
    if spec.peer_support != 0:
        logit = logit + spec.peer_support * arm
    if spec.readmitted != 0:
        logit = logit + spec.readmitted * readmitted
    if k == 1:
        if spec.month4_missing != 0:
            logit = logit + spec.month4_missing * m4_missing
        if spec.month4_z:
            index = sum(c * np.nan_to_num(z4[key], nan=0.0) for key, c in spec.month4_z.items())
            factor = np.where(arm == 1, spec.month4_arm_factor[0], spec.month4_arm_factor[1])
            logit = logit + factor * index
    return logit


def month4_z(model, spec: MissingnessSpec, scores: dict[str, np.ndarray], observed: np.ndarray) -> dict[str, np.ndarray]:
    """Standardised month-4 scores of the scenario's instruments (primary PARAMCD), NaN
    where ``observed`` is False or the score itself is missing."""
    out = {}
    for key in spec.month4_z:
        if model.registry[key].scores[0].max_missing != 0:
            raise ValueError(f"month4_z: {key} allows missing items; use an instrument that does not")
        out[key] = np.where(observed, model.z(key, scores[model.primary[key]]), np.nan)
    return out


def readmitted_before(spec: MissingnessSpec, first_readmission, visit_day, target_day):
    """1{first readmission before the visit} on the scenario's definition (day numbers)."""
    if spec.readmitted_before == "visit_date":
        return first_readmission <= visit_day
    return first_readmission < target_day


def delta_by_person(spec: MissingnessSpec, arm) -> np.ndarray:
    """δ of each person: ``mnar_delta`` of their arm."""
    return np.where(np.asarray(arm) == 1, spec.mnar_delta[0], spec.mnar_delta[1])


def expected_sum_score(model: ItemModel, theta: np.ndarray) -> np.ndarray:
    """E[sum of the scored item values | θ] under the graded-response model (items.py)."""
    inst = model.instrument
    z = model.discrimination[None, :, None] * (theta[:, None, None] - model.thresholds[None, :, :])
    return inst.n_items * inst.code_min + (1.0 / (1.0 + np.exp(-z))).sum(axis=(1, 2))


def latent_shift(model: ItemModel, theta: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Per-person latent shift s with E[score | θ + s] = E[score | θ] + δ (bisection).

    Where the floor or ceiling of the score leaves less room than δ, s stops at
    ±12 latent SD: the expected score goes (almost) to the floor or ceiling, and the
    person's shift is smaller than δ.
    """
    target = expected_sum_score(model, theta) + delta
    lo = np.full(theta.shape, -_SHIFT_BOUND)
    hi = np.full(theta.shape, _SHIFT_BOUND)
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        below = expected_sum_score(model, theta + mid) < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return np.where(delta == 0, 0.0, (lo + hi) / 2)


def mnar_scores(model, u, theta12: np.ndarray, who: np.ndarray, delta: np.ndarray) -> dict[str, np.ndarray]:
    """Every score of the MNAR instrument at month 12 with ``who``'s latent shifted so that
    their expected WEMWBS moves by ``delta`` (same item noise: common random numbers)."""
    key = MNAR_INSTRUMENT
    im = model.item_models[key]
    if im.instrument.scores[0].method != "sum":
        raise ValueError(f"the MNAR shift is defined for a sum score, not {im.instrument.scores[0].method}")
    shift = np.zeros(theta12.shape)
    idx = np.flatnonzero(who & (delta != 0))
    shift[idx] = latent_shift(im, theta12[idx], delta[idx])
    items = model.draw_items(u, "month_12", key, theta12 + shift, cache=True)
    return model.score_instrument(key, items)


def population_nonresponse(model, u, base, m4: dict, spec: MissingnessSpec,
                           rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Month-12 non-response while alive, under each arm, of the truth population.

    The trial's follow-up (§9) replayed on days since index discharge with the population's
    own draws (``rng``), shared by both arms: discharge delay, withdrawal, visit dates,
    dropout uniforms and whether the WEMWBS block has a blank item (its score then missing:
    WEMWBS allows no missing item). Death and the first readmission come from the units
    (readmission under each arm). The data cut never falls before month 12 (parameters.py).
    Returns ``{arm: bool array}``: alive at the planned month-12 visit and no questionnaire.
    """
    fu, cov = model.params.followup, model.params.covariates
    n: int = u.n
    if model.registry[MNAR_INSTRUMENT].scores[0].max_missing != 0:
        raise ValueError("population_nonresponse assumes a WEMWBS total with no missing item")
    shape_a, shape_b = cov.discharge_beta
    post = np.rint(60 * rng.beta(shape_a, shape_b, size=n))
    wd = np.where(rng.random(n) < fu.withdrawal_prob,
                  1 + np.floor(rng.random(n) * fu.withdrawal_max_days) - post, np.inf)
    death = np.ceil(model.death_days(u))
    visit, u_missed = [], []
    for k in range(2):
        lo, hi = fu.visit_window[k]
        visit.append(fu.visit_target_days[k] + np.clip(np.rint(rng.normal(0.0, fu.visit_sd_days[k], size=n)), lo, hi))
        u_missed.append(rng.random(n))
    patchy = {v: rng.random(n) < fu.patchy_prob.get(MNAR_INSTRUMENT, fu.patchy_prob_default) for v in range(2)}
    patchy4 = {key: rng.random(n) < fu.patchy_prob.get(key, fu.patchy_prob_default) for key in spec.month4_z}
    if MNAR_INSTRUMENT in patchy4:
        patchy4[MNAR_INSTRUMENT] = patchy[1]
    paramcd = model.primary[MNAR_INSTRUMENT]
    w0_complete = base.scores[paramcd]
    w0 = w0_complete if spec.scores == "complete" else np.where(patchy[0], np.nan, w0_complete)
    out = {}
    for t in (0, 1):
        arm = np.full(n, t)
        lp = model.readmission_lp(u, float(t), model.mediator_scores(m4[t]))
        first = np.ceil(model.first_readmission_days(u, lp))
        first = np.where(first <= death, first, np.inf)  # no readmission after death
        scores4 = {model.primary[key]: np.where(patchy4[key], np.nan, m4[t].scores[model.primary[key]])
                   for key in spec.month4_z}
        completed4 = np.zeros(n, dtype=bool)
        w4 = np.full(n, np.nan)
        for k in range(2):
            in_study = (visit[k] < death) & (visit[k] < wd)
            readm = readmitted_before(spec, first, visit[k], fu.visit_target_days[k])
            m4_missing = z4 = None
            if k == 1:
                m4_missing = ~completed4 if spec.scores == "complete" else np.isnan(w4)
                z4 = month4_z(model, spec, scores4, completed4)
            logit = missed_logit(spec, k, age=u.age, prior=u.prior, arm=arm, w0=w0, readmitted=readm,
                                 m4_missing=m4_missing, z4=z4)
            completed = in_study & ~(u_missed[k] < 1.0 / (1.0 + np.exp(-logit)))
            if k == 0:
                completed4 = completed
                w4 = np.where(completed & ~patchy[1], m4[t].scores[paramcd], np.nan)
            else:
                out[t] = (visit[1] < death) & ~completed
    return out
