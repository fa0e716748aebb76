"""Parameters of the synthetic trial's data-generating process (DGP).

Everything the generator assumes is declared here, as data: fixed constants (the change
model's effect sizes, item-model shapes, rates and calendar) and the few quantities that
are drawn once per seed from the *parameter* stream (site random effects, the number of
peer workers per site). ``docs/synthetic-trial.md`` explains every value; ``truth.json``
records them under ``parameters``.

Latent scales: every questionnaire has one latent variable per visit, on a scale where
the baseline population has mean ``mu0`` and variance 1 and where a higher latent value
means a higher score (so for ISMI-10 and UCLA-3 higher = worse). Effects are in latent
standard-deviation units unless stated otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np

FOLLOWUP_DAYS = 365
RECRUITMENT_START = dt.date(2023, 1, 9)
RECRUITMENT_MONTHS = 18
RECRUITMENT_END = dt.date(2024, 7, 8)  # last possible randomisation date (18 months)
DATA_CUT = dt.date(2025, 12, 31)
"""Fixed data cut. The last randomisation (2024-07-08) + 60 days to discharge + 365 days
of follow-up + 6 weeks of visit window ends before it, so everyone's 12-month follow-up
is complete at the cut; admissions data run until the cut."""

TREATED, CONTROL = "peer_support", "usual_care"

MEDIATORS: tuple[str, ...] = ("wai_sr", "hhi", "gse", "ismi10", "lsns6", "ucla3")
"""Month-4 process instruments (instrument keys), in change-model order."""

MECHANISMS: dict[str, tuple[str, ...]] = {
    "M1": ("wai_sr",),
    "M2": ("hhi", "gse", "ismi10"),
    "M3": ("lsns6", "ucla3"),
}
"""Mechanisms of the change model (docs/change-model.md) as sets of process instruments."""

SITES: tuple[str, ...] = ("S1", "S2", "S3", "S4", "S5", "S6", "S7")
SITE_WEIGHTS: tuple[float, ...] = (0.19, 0.17, 0.15, 0.14, 0.13, 0.12, 0.10)


@dataclass(frozen=True)
class LatentSpec:
    """Baseline latent of one instrument and its item model.

    ``theta0 = mu0 + loading * G + sqrt(1 - loading^2) * e`` with the person-level general
    factor ``G ~ N(0, 1)``. ``ref_mean``/``ref_sd`` standardise the instrument's primary
    score (z = (score - ref_mean) / ref_sd) wherever an *observed* score enters the DGP;
    they are fixed constants close to the baseline mean and SD of the score.
    """

    loading: float
    mu0: float
    ref_mean: float
    ref_sd: float
    discrimination: float = 2.0
    threshold_span: float = 4.0


@dataclass(frozen=True)
class ProcessSpec:
    """Month-4 latent of a process instrument (a mediator) and its month-12 carry-over.

    ``theta4 = mu0 + shift + arm * A + own_baseline * z0_own + site_u + prior *
    (prior_admissions - 1.5) + sigma * e4``;
    ``theta12 = mu0 + shift12 + persistence * (theta4 - mu0 - shift) + sigma12 * e12``.
    """

    shift: float
    arm: float
    own_baseline: float
    prior: float
    sigma: float
    persistence: float = 0.6
    shift12: float = 0.0
    sigma12: float = 0.8


@dataclass(frozen=True)
class OutcomeSpec:
    """Latent of a downstream questionnaire (WEMWBS, QPR-15) at month 4 or 12.

    ``theta = mu0 + shift + arm * A + sum_j mediators[j] * zM_j + own_baseline * z0_own +
    site_u + prior * (prior_admissions - 1.5) + sigma * e`` where ``zM_j`` is the
    standardised observed month-4 score of process instrument j.
    """

    shift: float
    arm: float
    mediators: dict[str, float]
    own_baseline: float
    prior: float
    sigma: float


@dataclass(frozen=True)
class ReadmissionSpec:
    """Weibull proportional hazards with gamma frailty for readmissions.

    Cumulative hazard of the gap time u (days out of hospital since the last discharge):
    ``H(u) = Z * cumhaz_365 * (u / 365) ** shape * exp(lp)`` with
    ``lp = site_u + prior * (prior_admissions - 1.5) + detained * (detained_at_index - 0.4)
    + arm * A + sum_j mediators[j] * zM_j`` and ``Z ~ Gamma(1/frailty_var, frailty_var)``.
    The first readmission is the gap from the index discharge; later ones restart the
    clock at each discharge (time in hospital is not at risk).
    """

    shape: float
    cumhaz_365: float
    frailty_var: float
    prior: float
    detained: float
    arm: float
    mediators: dict[str, float]
    los_median_days: float
    los_sigma: float
    los_detained_ratio: float
    detained_logit: tuple[float, float, float]  # intercept, detained at index, psychosis


@dataclass(frozen=True)
class DeathSpec:
    """Weibull death hazard from index discharge (falling: excess mortality after discharge).

    ``H_D(u) = cumhaz_365 * (u / 365) ** shape * exp(age * (age - 40))``; not affected by
    the arm.
    """

    cumhaz_365: float
    shape: float
    age: float


@dataclass(frozen=True)
class CovariateSpec:
    age_mean: float = 40.0
    age_sd: float = 13.0
    age_range: tuple[int, int] = (18, 78)
    sex_probs: tuple[float, ...] = (0.47, 0.50, 0.015, 0.015)
    diagnosis_probs: tuple[float, ...] = (0.38, 0.16, 0.20, 0.18, 0.08)
    prior_zero_prob: float = 0.03
    prior_extra_mean: float = 1.0  # prior_admissions = 1 + NegBin(mean 1.0, size 2)
    prior_extra_size: float = 2.0
    # logit P(detained at index) = intercept + by diagnosis group (contract order)
    detained_intercept: float = -0.62
    detained_by_diagnosis: tuple[float, ...] = (0.75, 0.35, -0.45, -0.1, -0.2)
    pre_randomisation_median_days: float = 9.0  # index admission -> randomisation
    discharge_beta: tuple[float, float] = (1.3, 3.5)  # (discharge - randomisation) / 60


@dataclass(frozen=True)
class FollowUpSpec:
    withdrawal_prob: float = 0.05
    withdrawal_max_days: int = 480
    keep_admissions_after_withdrawal: float = 0.4
    index_admission_listed: float = 0.92
    visit_target_days: tuple[int, int] = (122, 365)  # month 4, month 12 after discharge
    visit_sd_days: tuple[float, float] = (9.0, 12.0)
    visit_window: tuple[tuple[int, int], tuple[int, int]] = ((-21, 35), (-28, 42))
    # logit P(missed visit | alive, in study) = intercept + coefficients below
    missed_intercept: tuple[float, float] = (-2.3, -1.9)
    missed_age_per_10y: float = -0.25
    missed_wemwbs_per_10: float = -0.3
    missed_prior: float = 0.15
    missed_peer_support: float = -0.2
    missed_readmitted: float = 0.6
    missed_month4_missed: float = 1.8
    empty_row_prob: float = 0.10
    patchy_prob: dict[str, float] = dataclasses.field(
        default_factory=lambda: {"wai_sr": 0.08, "ismi10": 0.06, "lsns6": 0.06}
    )
    patchy_prob_default: float = 0.04
    patchy_item_prob: float = 0.25


@dataclass(frozen=True)
class MissingnessSpec:
    """One scenario of follow-up questionnaire non-response (docs/synthetic-trial.md §9).

    For a participant alive and in the study at visit v (0 = month 4, 1 = month 12):

        logit P(visit missed) = intercept[v] + age_per_10y * (age - 40) / 10
            + wemwbs0_per_10 * (W0 - 38) / 10 + prior * (prior_admissions - 1.5)
            + peer_support * A + readmitted * 1{readmitted before the visit}
            + (month 12 only) month4_missing * 1{no month-4 WEMWBS}
            + (month 12 only) arm_factor[arm] * sum_j month4_z[j] * z4_j   (0 when missing)

    with ``z4_j`` the observed month-4 score of instrument j standardised as in the DGP
    (``LatentSpec.ref_mean``, ``ref_sd``; instruments whose score allows no missing item).

    ``scores``: ``"complete"`` takes W0 from the complete item responses (the historical
    default, not quite observed), ``"observed"`` from the extract (a missing W0 adds 0).
    ``readmitted_before``: ``"visit_date"`` (the planned date, which a missed visit does
    not reveal) or ``"target_day"`` (readmission fewer than 122 / 365 days after index
    discharge, as ADTTE shows it). ``month4_arm_factor`` and ``mnar_delta`` are
    ``(peer support, usual care)``; ``mnar_delta`` shifts the expected month-12 WEMWBS
    score of month-12 non-responders (pattern mixture, §9).
    """

    name: str
    intercept: tuple[float, float]
    age_per_10y: float = 0.0
    wemwbs0_per_10: float = 0.0
    prior: float = 0.0
    peer_support: float = 0.0
    readmitted: float = 0.0
    month4_missing: float = 0.0
    month4_z: dict[str, float] = dataclasses.field(default_factory=dict)
    month4_arm_factor: tuple[float, float] = (1.0, 1.0)
    scores: str = "observed"
    readmitted_before: str = "target_day"
    mnar_delta: tuple[float, float] = (0.0, 0.0)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _default_missingness(fu: FollowUpSpec) -> MissingnessSpec:
    """Today's dropout model (FollowUpSpec's ``missed_*``): weak MAR, see §9."""
    return MissingnessSpec(
        name="default", intercept=fu.missed_intercept, age_per_10y=fu.missed_age_per_10y,
        wemwbs0_per_10=fu.missed_wemwbs_per_10, prior=fu.missed_prior,
        peer_support=fu.missed_peer_support, readmitted=fu.missed_readmitted,
        month4_missing=fu.missed_month4_missed, scores="complete", readmitted_before="visit_date",
    )


MISSINGNESS: dict[str, MissingnessSpec] = {
    "default": _default_missingness(FollowUpSpec()),
    # missed with a constant probability per visit, about the default's rates
    "mcar": MissingnessSpec(name="mcar", intercept=(-2.08, -1.28)),
    # strong MAR: worse baseline wellbeing, an early readmission and (month 12) a missed or
    # poor month-4 questionnaire raise the odds of missing; in peer support the month-4
    # wellbeing matters more (people not helped by the service leave the study with it)
    "mar": MissingnessSpec(
        name="mar", intercept=(-2.55, -2.5), wemwbs0_per_10=-0.5, readmitted=1.2,
        month4_missing=1.5,
        month4_z={"wai_sr": -0.9, "hhi": -1.8, "ucla3": 1.2, "lsns6": -0.75},
        month4_arm_factor=(1.0, -0.6),
    ),
}
MISSINGNESS["mnar"] = dataclasses.replace(MISSINGNESS["mar"], name="mnar", mnar_delta=(-5.0, -5.0))
"""Named missingness scenarios of ``outcomes simulate --missingness``; ``mnar`` is ``mar``
plus a shift of the unobserved month-12 WEMWBS (``--mnar-delta``)."""


@dataclass(frozen=True)
class ContactSpec:
    no_contact_prob: float = 0.12
    ward_mean: float = 1.2
    community_mean: float = 7.0
    community_size: float = 2.0
    alliance_link: float = 0.25
    main_worker_prob: float = 0.85
    community_days: int = 122
    mode_probs: tuple[float, ...] = (0.55, 0.25, 0.05, 0.05, 0.10)
    # lognormal duration (median minutes, sigma) per mode in contract order
    duration: tuple[tuple[float, float], ...] = (
        (55.0, 0.5),
        (15.0, 0.6),
        (40.0, 0.4),
        (90.0, 0.3),
        (3.0, 0.6),
    )


@dataclass(frozen=True)
class ConfounderSpec:
    """Engagement as an exposure-induced mediator-outcome confounder
    (``--exposure-induced-confounding``, docs/synthetic-trial.md §10c).

    Everyone has a 0/1 ``engaged if offered``, drawn before the outcomes with
    logit P = intercept + prior x (prior admissions - 1.5); engagement L(t) = t x that (nobody
    engages in usual care), and only the engaged have peer contacts. L(t) adds
    ``mediators`` to every month-4 process latent, ``outcomes`` to the month-12 outcome
    latents (WEMWBS, QPR-15) and ``readmission`` to the readmission log hazard: arm -> L ->
    M and L -> Y, so natural effects are not identified (VanderWeele, Vansteelandt & Robins
    2014) and the truth has the interventional effects."""

    intercept: float = 1.2
    prior: float = -0.4
    mediators: float = 0.5
    outcomes: float = 0.4
    readmission: float = -0.4

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EngagementSpec:
    """Selective engagement (``--engagement selective``, docs/synthetic-trial.md §10b).

    A latent compliance type C for everyone, both arms, before the outcomes:

        logit P(C = 1) = intercept + wellbeing * w0 + age_per_10y * (age - 40) / 10
            + diagnosis[group] + prior * (prior_admissions - 1.5)
            + frailty * zlogZ + hope * e4_hhi + readiness * e12_wemwbs

    with ``w0`` the baseline WEMWBS latent minus its mean (variance 1), ``zlogZ`` the
    standardised log of the readmission frailty, ``e4_hhi`` the month-4 hope disturbance
    and ``e12_wemwbs`` the month-12 wellbeing disturbance (the last three unobserved
    traits: what makes a per-protocol comparison biased even given baseline covariates). A complier's dose (contacts in the window of
    ``window_days`` after index discharge, from randomisation) is

        D = 1 + min(NegBin(size dose_size, mean mu), dose_max - 1),
        log mu = log(dose_mean) + dose_age_per_10y * (age - 40) / 10 + dose_diagnosis[group]
            + dose_prior * (prior_admissions - 1.5) + dose_site[site] + dose_alliance * e4_wai_sr

    and every arm term of the change model is multiplied by ``D / reference_dose`` for a
    treated complier, by 0 for a never-taker: the effect per contact is the arm
    coefficient / ``reference_dose`` whatever the covariates.
    """

    intercept: float = 1.1
    wellbeing: float = 0.5
    age_per_10y: float = 0.15
    diagnosis: tuple[float, ...] = (-0.2, 0.0, 0.3, -0.3, 0.0)
    prior: float = -0.15
    frailty: float = -0.4
    hope: float = 0.3
    readiness: float = 0.3
    dose_mean: float = 5.5
    dose_size: float = 3.0
    dose_age_per_10y: float = 0.15
    dose_diagnosis: tuple[float, ...] = (0.2, 0.0, -0.2, 0.3, 0.0)
    dose_prior: float = 0.1
    dose_site: tuple[float, ...] = (0.25, 0.1, 0.0, -0.1, -0.2, 0.15, -0.25)
    dose_alliance: float = 0.25
    dose_max: int = 24
    reference_dose: float = 5.5
    window_days: int = 122

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


ENGAGEMENT_SCENARIOS: tuple[str, ...] = ("default", "selective")
"""``outcomes simulate --engagement``: ``default`` (a random 12% of the treated arm never
engage and the arm effect reaches everyone randomised to peer support) or ``selective``
(:class:`EngagementSpec`)."""


LATENT: dict[str, LatentSpec] = {
    "wemwbs": LatentSpec(loading=0.80, mu0=-0.35, ref_mean=38.0, ref_sd=11.0, discrimination=1.6, threshold_span=4.5),
    "qpr15": LatentSpec(loading=0.75, mu0=-0.10, ref_mean=29.0, ref_sd=12.0, discrimination=1.5, threshold_span=4.5),
    "hhi": LatentSpec(loading=0.70, mu0=0.15, ref_mean=31.0, ref_sd=7.0, discrimination=1.3, threshold_span=5.0),
    "gse": LatentSpec(loading=0.60, mu0=-0.10, ref_mean=24.5, ref_sd=6.0, discrimination=1.5, threshold_span=5.0),
    "ismi10": LatentSpec(loading=-0.55, mu0=-0.10, ref_mean=2.45, ref_sd=0.6, discrimination=1.3, threshold_span=5.0),
    "lsns6": LatentSpec(loading=0.40, mu0=-0.45, ref_mean=12.5, ref_sd=6.5, discrimination=1.5, threshold_span=4.0),
    "ucla3": LatentSpec(loading=-0.55, mu0=0.20, ref_mean=6.2, ref_sd=1.6, discrimination=2.0, threshold_span=4.0),
    "wai_sr": LatentSpec(loading=0.35, mu0=0.10, ref_mean=37.0, ref_sd=10.0, discrimination=1.6, threshold_span=4.5),
}
GENERIC_LATENT = LatentSpec(loading=0.5, mu0=0.0, ref_mean=0.0, ref_sd=1.0)
"""Used for an instrument added to the registry that the change model does not know."""

PROCESS: dict[str, ProcessSpec] = {
    "wai_sr": ProcessSpec(shift=0.00, arm=0.50, own_baseline=0.35, prior=0.00, sigma=0.90),
    "hhi": ProcessSpec(shift=0.10, arm=0.30, own_baseline=0.55, prior=-0.04, sigma=0.80),
    "gse": ProcessSpec(shift=0.10, arm=0.20, own_baseline=0.55, prior=-0.03, sigma=0.80),
    "ismi10": ProcessSpec(shift=-0.05, arm=-0.25, own_baseline=0.55, prior=0.04, sigma=0.80),
    "lsns6": ProcessSpec(shift=0.00, arm=0.20, own_baseline=0.55, prior=-0.04, sigma=0.80),
    "ucla3": ProcessSpec(shift=-0.05, arm=-0.25, own_baseline=0.55, prior=0.03, sigma=0.80),
}

_W12_MEDIATORS = {
    "wai_sr": 0.06,
    "hhi": 0.12,
    "gse": 0.08,
    "ismi10": -0.08,
    "lsns6": 0.05,
    "ucla3": -0.08,
}
OUTCOMES: dict[str, dict[str, OutcomeSpec]] = {
    "month_4": {
        "wemwbs": OutcomeSpec(
            shift=0.20, arm=0.05, mediators={k: 1.2 * v for k, v in _W12_MEDIATORS.items()},
            own_baseline=0.50, prior=-0.03, sigma=0.70,
        ),
        "qpr15": OutcomeSpec(
            shift=0.15, arm=0.05,
            mediators={"wai_sr": 0.05, "hhi": 0.15, "gse": 0.10, "ismi10": -0.10, "lsns6": 0.05, "ucla3": -0.05},
            own_baseline=0.50, prior=-0.03, sigma=0.70,
        ),
    },
    "month_12": {
        "wemwbs": OutcomeSpec(
            shift=0.25, arm=0.08, mediators=dict(_W12_MEDIATORS),
            own_baseline=0.45, prior=-0.04, sigma=0.75,
        ),
        "qpr15": OutcomeSpec(
            shift=0.25, arm=0.05,
            mediators={"wai_sr": 0.05, "hhi": 0.15, "gse": 0.10, "ismi10": -0.10, "lsns6": 0.05, "ucla3": -0.05},
            own_baseline=0.45, prior=-0.04, sigma=0.75,
        ),
    },
}

READMISSION = ReadmissionSpec(
    shape=0.75,
    cumhaz_365=0.75,
    frailty_var=0.5,
    prior=0.15,
    detained=0.25,
    arm=-0.18,
    mediators={
        "wai_sr": -0.10,
        "hhi": -0.15,
        "gse": -0.10,
        "ismi10": 0.15,
        "lsns6": -0.12,
        "ucla3": 0.12,
    },
    los_median_days=24.0,
    los_sigma=0.75,
    los_detained_ratio=1.5,
    detained_logit=(-1.1, 1.7, 0.4),
)

DEATH = DeathSpec(cumhaz_365=0.018, shape=0.7, age=0.04)

SITE_EFFECT_SD: dict[str, float] = {"process": 0.15, "outcome": 0.15, "readmission": 0.20}
PEER_WORKERS_PER_SITE: tuple[int, int] = (3, 5)
CASELOAD_CONCENTRATION = 2.0
"""With ``--icc > 0``: the main-worker shares of a site's peer workers are
Dirichlet(2, ..., 2) (unequal caseloads; peer_workers.py)."""


@dataclass(frozen=True)
class Parameters:
    """All DGP parameters of one seed: fixed constants plus per-seed site draws."""

    latent: dict[str, LatentSpec]
    process: dict[str, ProcessSpec]
    outcomes: dict[str, dict[str, OutcomeSpec]]
    readmission: ReadmissionSpec
    death: DeathSpec
    covariates: CovariateSpec
    followup: FollowUpSpec
    contacts: ContactSpec
    sites: tuple[str, ...]
    site_weights: tuple[float, ...]
    site_effects: dict[str, tuple[float, ...]]
    """Keyed ``month_4:<instrument>`` (process), ``month_4:<outcome>``,
    ``month_12:<outcome>`` and ``readmission``; one value per site, weighted mean 0."""
    peer_workers: tuple[int, ...]

    def latent_spec(self, key: str) -> LatentSpec:
        return self.latent.get(key, GENERIC_LATENT)

    def site_effect(self, name: str, site: np.ndarray) -> np.ndarray:
        effects = self.site_effects.get(name)
        if effects is None:
            return np.zeros(site.shape)
        return np.asarray(effects)[site]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def draw_parameters(rng: np.random.Generator) -> Parameters:
    """Fixed constants plus the per-seed site effects and peer-worker counts.

    Site effects are drawn from N(0, sd^2) and centred to a weighted mean of 0 (weights =
    site recruitment shares), so the site draw moves sites relative to each other but not
    the population means and rates that the constants are calibrated to.
    """
    weights = np.asarray(SITE_WEIGHTS)
    names = [f"month_4:{k}" for k in MEDIATORS]
    sds = [SITE_EFFECT_SD["process"]] * len(MEDIATORS)
    for visit, specs in OUTCOMES.items():
        for key in specs:
            names.append(f"{visit}:{key}")
            sds.append(SITE_EFFECT_SD["outcome"])
    names.append("readmission")
    sds.append(SITE_EFFECT_SD["readmission"])
    site_effects = {}
    for name, sd in zip(names, sds, strict=True):
        u = rng.normal(0.0, sd, size=len(SITES))
        u = u - float(weights @ u)
        site_effects[name] = tuple(float(x) for x in u)
    lo, hi = PEER_WORKERS_PER_SITE
    workers = tuple(int(x) for x in rng.integers(lo, hi + 1, size=len(SITES)))
    return Parameters(
        latent=dict(LATENT),
        process=dict(PROCESS),
        outcomes={v: dict(s) for v, s in OUTCOMES.items()},
        readmission=READMISSION,
        death=DEATH,
        covariates=CovariateSpec(),
        followup=FollowUpSpec(),
        contacts=ContactSpec(),
        sites=SITES,
        site_weights=SITE_WEIGHTS,
        site_effects=site_effects,
        peer_workers=workers,
    )
