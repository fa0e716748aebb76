"""True effects of the data-generating process, from potential outcomes.

A large population (``truth_n`` people, its own random stream) is drawn from the same
distribution as the trial participants. Every member is evaluated under both arms and,
for the natural (in)direct effects, under cross-world mediator values, using the same
exogenous draws each time (common random numbers). Every number in ``truth.json`` is an
average over this population, never an estimate from a model fitted to observed trial data
(the hazard ratios are the one exception by design: the Cox model is fitted to the
counterfactual population itself, where it defines a marginal hazard-ratio estimand).

Outcomes are *hypothetical complete* outcomes: questionnaires as if everyone completed
them with no missing items, and no death, withdrawal or data cut in the way of follow-up
(except where death is named as a competing event).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, cast

import numpy as np
import pandas as pd

from outcomes.instruments import Instrument
from outcomes.simulate.engagement import draw_engagement, engagement_truth, exposure
from outcomes.simulate.missingness import (
    MNAR_INSTRUMENT,
    delta_by_person,
    mnar_scores,
    population_nonresponse,
)
from outcomes.simulate.model import (
    Model,
    Units,
    Visit,
    draw_confounder,
    draw_units,
    engage_probability,
)
from outcomes.simulate.parameters import (
    CONTROL,
    FOLLOWUP_DAYS,
    MECHANISMS,
    TREATED,
    ConfounderSpec,
    EngagementSpec,
    MissingnessSpec,
    Parameters,
)
from outcomes.simulate.peer_workers import PeerWorkers, population_effects

OUTCOME_DEFINITIONS = {
    "WEMWBS_month_12": "WEMWBS total score at month 12 (complete responses), mean difference",
    "readmission_12m": (
        "readmitted within 365 days of index discharge while alive (death before readmission "
        "counts as no readmission): cumulative incidence with death as competing event, "
        "risk difference"
    ),
    "readmission_time_365": (
        "time to first readmission on the 365-day risk scale, P(T <= 365) in the hypothetical "
        "absence of death (death treated as independent censoring): risk difference"
    ),
    "readmission_landmark": (
        "landmark at the month-4 visit (day 122): readmitted between day 122 and day 365 "
        "while alive (death before readmission counts as no readmission) among those alive "
        "and not readmitted by day 122, in each (cross-world) scenario: risk difference"
    ),
    "readmission_time_landmark": (
        "landmark at the month-4 visit (day 122): P(T <= 365 | T > 122), the risk of first "
        "readmission within 243 days of the landmark among those not readmitted by it, in "
        "the hypothetical absence of death, in each (cross-world) scenario: risk difference"
    ),
}
#: The landmark of the change model's readmission outcomes: the month-4 visit's nominal day
#: (outcomes.imputation.frame.VISIT_DAYS; the simulator's visit target).
LANDMARK_DAY = 122


def _ratio_pseudo(y: np.ndarray, at_risk: np.ndarray) -> np.ndarray:
    """Per-person values whose mean is the population's conditional risk mean(y) / mean(at_risk)
    and whose differences between scenarios give the delta-method Monte Carlo SE of the
    difference of two such ratios: mu + (y - mu * at_risk) / mean(at_risk)."""
    a = float(np.mean(at_risk))
    mu = float(np.mean(y)) / a
    return mu + (y - mu * at_risk) / a


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else 0.0


def _odds(p: float) -> float:
    return p / (1.0 - p)


def mediator_sets(model: Model) -> dict[str, list[str]]:
    """Named sets of month-4 process instruments: each alone, each mechanism, all."""
    sets = {model.primary[k]: [k] for k in model.mediators}
    for name, keys in MECHANISMS.items():
        present = [k for k in keys if k in model.mediators]
        if present:
            sets[name] = present
    sets["all"] = list(model.mediators)
    return sets


class _Outcomes:
    """Per-person potential outcomes as functions of (arm, mediator values)."""

    def __init__(self, model: Model, u: Units, base: Visit) -> None:
        self.model, self.u, self.base = model, u, base
        self.death = model.death_days(u)

    def __call__(self, t: float, meds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        m, u = self.model, self.u
        lp = m.readmission_lp(u, t, meds)
        risk = m.risk365(u, lp)
        first = m.first_readmission_days(u, lp)
        died_first = (self.death < first) & (first <= FOLLOWUP_DAYS)
        # landmark outcomes, given the unit (frailty included) and its death day: at risk at
        # the landmark with probability S(L) (alive at L), readmitted in (L, min(365, D)]
        # with probability S(L) - S(min(365, D)); S(s) = exp(-c (s / 365) ** shape)
        c, k = m.hazard_scale(u, lp), m.params.readmission.shape
        surv = lambda s: np.exp(-c * (s / FOLLOWUP_DAYS) ** k)  # noqa: E731
        s_l = surv(LANDMARK_DAY)
        alive = self.death > LANDMARK_DAY
        end = np.minimum(FOLLOWUP_DAYS, np.maximum(self.death, LANDMARK_DAY))
        return {
            "WEMWBS_month_12": m.wemwbs12(u, self.base, t, meds),
            # E[1{T <= min(365, D)} | unit] = P(T <= 365 | unit) - 1{D < T <= 365}: the
            # first term integrates the readmission draw analytically (less Monte Carlo
            # noise), the second is exact given the draws.
            "readmission_12m": risk - died_first,
            "readmission_time_365": risk,
            "readmission_landmark": _ratio_pseudo(np.where(alive, s_l - surv(end), 0.0),
                                                  np.where(alive, s_l, 0.0)),
            "readmission_time_landmark": _ratio_pseudo(s_l - surv(FOLLOWUP_DAYS), s_l),
        }


def _natural_effects(a, d, y1_s0, y0_s1) -> dict[str, Any]:
    """Natural effects from the four potential-outcome arrays of one mediator set S.

    a = Y(1, M(1)), d = Y(0, M(0)), y1_s0 = Y(1, M_S(0), M_-S(1)), y0_s1 = Y(0, M_S(1), M_-S(0)).
    """
    total, total_se = _mean_se(a - d)
    acme_t, acme_t_se = _mean_se(a - y1_s0)
    acme_c, acme_c_se = _mean_se(y0_s1 - d)
    ade_t, ade_t_se = _mean_se(a - y0_s1)
    ade_c, ade_c_se = _mean_se(y1_s0 - d)
    acme_avg = (acme_t + acme_c) / 2
    ade_avg = (ade_t + ade_c) / 2
    out = {
        "total": total,
        "acme_treated": acme_t,
        "acme_control": acme_c,
        "ade_treated": ade_t,
        "ade_control": ade_c,
        "acme_average": acme_avg,
        "ade_average": ade_avg,
        "mc_se": {
            "total": total_se,
            "acme_treated": acme_t_se,
            "acme_control": acme_c_se,
            "ade_treated": ade_t_se,
            "ade_control": ade_c_se,
        },
    }
    if total != 0:
        out["prop_mediated"] = acme_avg / total
        out["prop_mediated_treated"] = acme_t / total
        out["prop_mediated_control"] = acme_c / total
    return out


def _rmst_days(model: Model, u: Units, lp: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Per-person restricted mean time to first readmission over 365 days, in whole days.

    Readmission days are recorded as ceil(T), so the Kaplan-Meier RMST of the data
    estimates sum_{d=0}^{364} P(T > d); per person P(T > d) = exp(-c (d / 365) ** k).
    """
    k = model.params.readmission.shape
    c = model.hazard_scale(u, lp)
    grid = (np.arange(FOLLOWUP_DAYS) / FOLLOWUP_DAYS) ** k
    out = np.empty(u.n)
    for s in range(0, u.n, chunk):
        out[s : s + chunk] = np.exp(-np.outer(c[s : s + chunk], grid)).sum(axis=1)
    return out


def _cox(frame: pd.DataFrame, covariates: list[str], strata: list[str] | None) -> dict[str, float]:
    """Cox fit to the counterfactual population, aggregated to unique rows with weights."""
    from lifelines import CoxPHFitter

    cols = ["time", "event", *covariates, *(strata or [])]
    agg = frame.groupby(cols, sort=True).size().reset_index(name="weight")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = CoxPHFitter().fit(agg, "time", "event", weights_col="weight", strata=strata)
    beta = float(fit.params_["arm"])
    return {"log_hr": beta, "hr": float(np.exp(beta))}


def _score_block(paramcds: list[str], res: dict[int, Visit]) -> dict[str, dict]:
    """Mean of every score under each arm, the difference and its Monte Carlo SE."""
    block = {}
    for p in paramcds:
        if p not in res[0].scores:
            continue
        y1, y0 = res[1].scores[p], res[0].scores[p]
        diff, se = _mean_se(y1 - y0)
        block[p] = {TREATED: float(np.mean(y1)), CONTROL: float(np.mean(y0)), "difference": diff, "mc_se": se}
    return block


def _mnar_full_data(model: Model, u: Units, base: Visit, m4: dict, m12: dict, spec: MissingnessSpec,
                    rng: np.random.Generator) -> dict:
    """Shift the month-12 WEMWBS of each arm's would-be non-responders (in place, in
    ``m12[t].scores``) and describe the shift: share shifted and mean score shift by arm."""
    missing = population_nonresponse(model, u, base, m4, spec, rng)
    paramcd = model.primary[MNAR_INSTRUMENT]
    record = {}
    for t, label in ((1, TREATED), (0, CONTROL)):
        who = missing[t]
        shifted = mnar_scores(model, u, m12[t].latent[MNAR_INSTRUMENT], who, delta_by_person(spec, np.full(u.n, t)))
        diff = shifted[paramcd] - m12[t].scores[paramcd]
        record[label] = {"shifted_share": float(who.mean()),
                         "mean_score_shift": float(diff[who].mean()) if who.any() else 0.0}
        m12[t].scores.update(shifted)
    return record


def compute_truth(
    params: Parameters, registry: dict[str, Instrument], rng: np.random.Generator, truth_n: int,
    spec: MissingnessSpec | None = None, rng_missing: np.random.Generator | None = None,
    workers: PeerWorkers | None = None, rng_workers: np.random.Generator | None = None,
    engagement: tuple[EngagementSpec, np.random.Generator] | None = None,
    confounder: tuple[ConfounderSpec, np.random.Generator] | None = None,
) -> dict:
    """All true effects (see docs/synthetic-trial.md for the layout).

    Under an MNAR scenario (``spec.mnar_delta`` not zero) the month-12 scores of the MNAR
    instrument are those of the shifted full data (§11); ``rng_missing`` draws the
    population's follow-up, and ``truth["mnar_population"]`` describes the shift.
    With ``workers`` (``icc > 0``) each member carries, under the treated arm, the effects
    of a worker of its own drawn from ``rng_workers`` (peer_workers.population_effects).
    With ``engagement`` (selective engagement, §10b: its spec and stream) each member has
    a compliance type and dose; only compliers engage (and draw a worker), and
    ``truth["engagement"]`` holds the estimands by principal stratum (engagement.py).
    With ``confounder`` (engagement as an exposure-induced confounder, §10c: its spec and
    stream) ``truth["mediation_interventional"]`` holds the interventional effects
    (:func:`interventional_effects`); the natural effects then include the confounder's
    path (cross-world, as always).
    """
    model = Model(params, registry)
    u = draw_units(rng, truth_n, params, model.keys)
    eng = None
    if engagement is not None:
        e_spec, r_eng = engagement
        eng = draw_engagement(r_eng, e_spec, params, u)
        u.exposure = exposure(e_spec, eng.dose)
    if workers is not None:
        assert rng_workers is not None  # given with workers
        u.worker_effect = population_effects(rng_workers, workers, truth_n, params.contacts.no_contact_prob,
                                             engaged=None if eng is None else eng.complier)
    r_fresh = None
    if confounder is not None:
        c_spec, r_conf = confounder
        r_draw, r_fresh = r_conf.spawn(2)
        draw_confounder(u, c_spec, r_draw)
    base = model.baseline(u)
    paramcds = [s.paramcd for inst in registry.values() for s in inst.scores]
    scores: dict[str, dict] = {
        "baseline": {p: {"mean": float(np.mean(base.scores[p]))} for p in paramcds if p in base.scores}
    }
    m4 = {t: model.month4(u, base, float(t)) for t in (0, 1)}
    scores["month_4"] = _score_block(paramcds, m4)
    m12 = {t: model.month12(u, base, m4[t], float(t)) for t in (0, 1)}
    if eng is not None:
        # potential outcomes with one more contact for every complier, and the month-12
        # scores before any MNAR shift (the engagement truth refers to the structural outcomes)
        u.exposure = exposure(e_spec, eng.dose + eng.complier)
        m4_plus = model.month4(u, base, 1.0)
        m12_plus = model.month12(u, base, m4_plus, 1.0)
        u.exposure = exposure(e_spec, eng.dose)
        m12_structural = {t: Visit(latent={}, scores=dict(m12[t].scores)) for t in (0, 1)}
    mnar = None
    if spec is not None and any(spec.mnar_delta) and MNAR_INSTRUMENT in model.keys:
        assert rng_missing is not None  # given with spec
        mnar = _mnar_full_data(model, u, base, m4, m12, spec, rng_missing)
    scores["month_12"] = _score_block(paramcds, m12)
    med = {t: model.mediator_scores(m4[t]) for t in (0, 1)}

    # --- natural effects through each mediator set -----------------------------------------
    outcome = _Outcomes(model, u, base)
    factual = {t: outcome(float(t), med[t]) for t in (0, 1)}
    engagement_block = None
    if eng is not None:
        u.exposure = exposure(e_spec, eng.dose + eng.complier)
        readm_plus = outcome(1.0, model.mediator_scores(m4_plus))
        u.exposure = exposure(e_spec, eng.dose)
        engagement_block = engagement_truth(model, u, base, m4, m12_structural, factual, eng, e_spec,
                                            (m4_plus, m12_plus, readm_plus))
        del m4_plus, m12_plus, m12_structural, readm_plus
    del m4, m12  # only the mediator scores are needed from here on (memory)
    sets = mediator_sets(model)
    mediation: dict[str, dict] = {name: {} for name in OUTCOME_DEFINITIONS}
    for set_name, keys in sets.items():
        mix_10 = {k: (med[0][k] if k in keys else med[1][k]) for k in model.mediators}
        mix_01 = {k: (med[1][k] if k in keys else med[0][k]) for k in model.mediators}
        y1_s0 = outcome(1.0, mix_10)
        y0_s1 = outcome(0.0, mix_01)
        for name in OUTCOME_DEFINITIONS:
            mediation[name][set_name] = _natural_effects(
                factual[1][name], factual[0][name], y1_s0[name], y0_s1[name]
            )

    interventional = None
    if r_fresh is not None:
        interventional = interventional_effects(model, u, base, med, outcome, sets, r_fresh)

    # --- readmission by arm --------------------------------------------------------------
    readmission: dict[str, dict] = {}
    for label, key in (
        ("risk_365_no_death", "readmission_time_365"),
        ("cuminc_365_death_competing", "readmission_12m"),
    ):
        r1, r0 = float(np.mean(factual[1][key])), float(np.mean(factual[0][key]))
        diff, se = _mean_se(factual[1][key] - factual[0][key])
        readmission[label] = {
            TREATED: r1,
            CONTROL: r0,
            "risk_difference": diff,
            "risk_ratio": r1 / r0,
            "odds_ratio": _odds(r1) / _odds(r0),
            "mc_se_risk_difference": se,
        }
    readmission["death_365"] = {"risk": float(np.mean(outcome.death <= FOLLOWUP_DAYS))}

    lp = {t: model.readmission_lp(u, float(t), med[t]) for t in (0, 1)}
    rmst = {t: _rmst_days(model, u, lp[t]) for t in (0, 1)}
    diff, se = _mean_se(rmst[1] - rmst[0])
    readmission["rmst_365_days"] = {
        TREATED: float(rmst[1].mean()),
        CONTROL: float(rmst[0].mean()),
        "difference": diff,
        "mc_se": se,
    }
    frames = []
    for t in (0, 1):
        day = np.ceil(model.first_readmission_days(u, lp[t]))
        frames.append(
            pd.DataFrame({
                "time": np.minimum(day, FOLLOWUP_DAYS).astype(np.int64),
                "event": (day <= FOLLOWUP_DAYS).astype(np.int64),
                "arm": t,
                "prior_admissions": u.prior,
                "detained_at_index": u.detained.astype(np.int64),
                "site": u.site,
            })
        )
    cf = pd.concat(frames, ignore_index=True)
    readmission["cox_unadjusted"] = _cox(cf, ["arm"], None)
    readmission["cox_site_strata_adjusted"] = _cox(
        cf, ["arm", "prior_admissions", "detained_at_index"], ["site"]
    )

    out = {
        "scores": scores,
        "mediation": mediation,
        "mediator_sets": {name: [model.primary[k] for k in keys] for name, keys in sets.items()},
        "outcome_definitions": dict(OUTCOME_DEFINITIONS),
        "readmission": readmission,
    }
    if mnar is not None:
        out["mnar_population"] = mnar
    if engagement_block is not None:
        out["engagement_population"] = engagement_block
    if interventional is not None:
        out["mediation_interventional"] = interventional
        assert u.confounder is not None and u.engaged_if_offered is not None
        out["exposure_induced_confounder"] = {
            **u.confounder.to_dict(), "engaged_if_offered_share": float(np.mean(u.engaged_if_offered))}
    return out


def interventional_effects(model: Model, u: Units, base: Visit, med: dict, outcome: _Outcomes,
                           sets: dict[str, list[str]], rng: np.random.Generator) -> dict:
    """Interventional effects (VanderWeele, Vansteelandt & Robins 2014) of every mediator
    set S and outcome, from potential outcomes Y(t, G_t'): G_t' is each member's month-4
    scores of S under arm t' recomputed with fresh exogenous draws (month-4 latent and
    item noise) and a fresh engaged-if-offered L' (the draw's confounder, independent of
    the L(t) the outcome sees), so it is a random draw from the distribution of M_S(t')
    given the member's baseline covariates, marginal over L; the other mediators keep the
    member's own M(t). IIE = E[Y(1, G_1) - Y(1, G_0)], IDE = E[Y(1, G_0) - Y(0, G_0)],
    overall = their sum."""
    fresh_noise = {k: rng.normal(size=u.n) for k in (f"month_4:{key}" for key in model.keys)}
    seeds = rng.spawn(len(fresh_noise))
    L_fresh = dataclasses.replace(u, _cache={})
    L_fresh.latent_noise = {**u.latent_noise, **fresh_noise}
    L_fresh.item_seeds = {**u.item_seeds, **{k: cast(np.random.SeedSequence, g.bit_generator.seed_seq)
                                             for k, g in zip(fresh_noise, seeds, strict=True)}}
    L_fresh.engaged_if_offered = (rng.random(u.n) < engage_probability(u.confounder, u)).astype(float)
    draw = {t: model.mediator_scores(model.month4(L_fresh, base, float(t))) for t in (0, 1)}
    out: dict[str, dict] = {name: {} for name in OUTCOME_DEFINITIONS}
    for set_name, keys in sets.items():
        po = {}
        for t, tp in ((1, 1), (1, 0), (0, 0)):
            meds = {k: (draw[tp][k] if k in keys else med[t][k]) for k in model.mediators}
            po[(t, tp)] = outcome(float(t), meds)
        for name in OUTCOME_DEFINITIONS:
            iie, iie_se = _mean_se(po[(1, 1)][name] - po[(1, 0)][name])
            ide, ide_se = _mean_se(po[(1, 0)][name] - po[(0, 0)][name])
            overall, overall_se = _mean_se(po[(1, 1)][name] - po[(0, 0)][name])
            out[name][set_name] = {
                "interventional_indirect": iie, "interventional_direct": ide,
                "interventional_overall": overall,
                "mc_se": {"interventional_indirect": iie_se, "interventional_direct": ide_se,
                          "interventional_overall": overall_se}}
    return out
