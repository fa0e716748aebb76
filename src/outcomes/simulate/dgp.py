"""The data-generating process of one scenario, apart from the trials drawn from it.

:func:`outcomes.simulate.simulate` draws the DGP's parameters, one trial and the truth
from ONE seed. A simulation study needs them apart: the parameters (site effects,
peer-worker counts) and the truth (a large population) once per scenario, and many trials from the same DGP, each from a seed of its own.
:class:`TrialDGP` is that split. The peer workers' caseload weights and effects (``icc >
0``) belong to the trial, not the DGP: each trial draws its own from its seed, as a new
trial recruits new peer workers, so a study's replicates vary over workers as the truth
(which averages over the population of workers) and the partially nested analysis assume;
the number of workers per site stays a parameter of the DGP. Its streams are those of
:func:`simulate`:
``numpy.random.default_rng(seed).spawn(7)`` -> parameters, trial, truth population,
truth follow-up under MNAR, peer workers (``spawn(4)``: draw, assignment, population,
score-scale pairs), selective engagement (``spawn(2)``: trial, truth), exposure-induced
confounder (``spawn(2)``: trial, truth); so ``TrialDGP(settings, s).trial(n, s)`` is the
trial of ``simulate(n, s, ...)`` draw for draw (tests/test_simulate_dgp.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from outcomes.errors import OutcomesError
from outcomes.instruments import load_registry
from outcomes.simulate.missingness import scenario
from outcomes.simulate.parameters import (
    ENGAGEMENT_SCENARIOS,
    ConfounderSpec,
    EngagementSpec,
    Parameters,
    draw_parameters,
)
from outcomes.simulate.peer_workers import PeerWorkers, draw_workers
from outcomes.simulate.trial import Table, simulate_trial
from outcomes.simulate.truth import compute_truth

MIN_TRUTH_N = 1_000


class SimulationError(OutcomesError):
    """Bad arguments to the simulator (exit status 2, one line on stderr)."""

    exit_code = 2


@dataclass(frozen=True)
class SimulatorSettings:
    """A scenario of the simulator: everything but ``n`` and the seeds.

    ``missingness``, ``mnar_delta``, ``icc``, ``engagement``,
    ``routine_data_after_withdrawal``, ``exposure_induced_confounding``: as
    :func:`outcomes.simulate.simulate`. ``effect_scale`` multiplies every arm term of the
    change model (the arm's effect on each month-4 process latent, on each downstream
    questionnaire latent and on the readmission log hazard): 1 is the trial as designed,
    0 a trial with no effect of peer support on anything (the null of a type I error
    study). ``peer_workers_per_site``: the same number of peer workers at every site
    instead of the per-seed draw (None). Both change no draw.
    """

    missingness: str = "default"
    mnar_delta: float | tuple[float, float] | None = None
    icc: float = 0.0
    engagement: str = "default"
    routine_data_after_withdrawal: bool = False
    exposure_induced_confounding: bool = False
    effect_scale: float = 1.0
    peer_workers_per_site: int | None = None

    def __post_init__(self) -> None:
        icc = self.icc
        if isinstance(icc, bool) or not isinstance(icc, int | float | np.integer | np.floating):
            raise SimulationError(f"--icc must be a number in [0, 1), got {icc!r}")
        if not (math.isfinite(float(icc)) and 0.0 <= float(icc) < 1.0):
            raise SimulationError(f"--icc must be in [0, 1) (0 = no peer-worker clustering), got {icc!r}")
        object.__setattr__(self, "icc", float(icc))
        if self.engagement not in ENGAGEMENT_SCENARIOS:
            raise SimulationError(f"--engagement must be one of {', '.join(ENGAGEMENT_SCENARIOS)}, "
                                  f"got {self.engagement!r}")
        if self.exposure_induced_confounding and (self.icc > 0 or self.engagement != "default"):
            raise SimulationError("--exposure-induced-confounding is not combined with --icc > 0 "
                                  "or --engagement selective")
        scale = self.effect_scale
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale):
            raise SimulationError(f"effect_scale must be a finite number, got {scale!r}")
        k = self.peer_workers_per_site
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise SimulationError(f"peer_workers_per_site must be a positive integer, got {k!r}")


@dataclass(frozen=True)
class _Streams:
    """The named child streams of one seed (the layout of :func:`simulate`). Spawning a
    child draws nothing from its parent, so spawning all of them always changes no draw."""

    params: np.random.Generator
    trial: np.random.Generator
    truth: np.random.Generator
    truth_missing: np.random.Generator
    workers_draw: np.random.Generator
    workers_assign: np.random.Generator
    workers_population: np.random.Generator
    workers_pairs: np.random.Generator
    engagement_trial: np.random.Generator
    engagement_truth: np.random.Generator
    confounder_trial: np.random.Generator
    confounder_truth: np.random.Generator

    @classmethod
    def of(cls, seed: int) -> _Streams:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise SimulationError(f"--seed must be a non-negative integer, got {seed!r}")
        r_params, r_trial, r_truth, r_truth_missing, r_workers, r_eng, r_conf = (
            np.random.default_rng(seed).spawn(7))
        return cls(r_params, r_trial, r_truth, r_truth_missing, *r_workers.spawn(4),
                   *r_eng.spawn(2), *r_conf.spawn(2))


def _scaled(params: Parameters, scale: float) -> Parameters:
    """``params`` with every arm term of the change model multiplied by ``scale``."""
    if scale == 1.0:
        return params
    return replace(
        params,
        process={k: replace(s, arm=s.arm * scale) for k, s in params.process.items()},
        outcomes={v: {k: replace(s, arm=s.arm * scale) for k, s in specs.items()}
                  for v, specs in params.outcomes.items()},
        readmission=replace(params.readmission, arm=params.readmission.arm * scale),
    )


class TrialDGP:
    """The DGP of one scenario: parameters drawn from ``seed`` (as :func:`simulate` draws
    them), trials from seeds of their own (:meth:`trial`), the truth once (:meth:`truth`).
    ``workers`` are the peer workers of the trial of ``seed`` itself (those of
    :func:`simulate`); the truth uses only their variances."""

    def __init__(self, settings: SimulatorSettings, seed: int) -> None:
        self.settings = settings
        self.seed = int(seed)
        streams = _Streams.of(seed)
        self.spec = scenario(settings.missingness, settings.mnar_delta)
        params = draw_parameters(streams.params)
        if settings.routine_data_after_withdrawal:
            params = replace(params, followup=replace(params.followup,
                                                      keep_admissions_after_withdrawal=1.0))
        if settings.peer_workers_per_site is not None:
            params = replace(params, peer_workers=(settings.peer_workers_per_site,) * len(params.sites))
        self.params = _scaled(params, float(settings.effect_scale))
        self.registry = load_registry()
        self.workers = (draw_workers(streams.workers_draw, self.params, settings.icc)
                        if settings.icc > 0 else None)
        self.engagement_spec = EngagementSpec() if settings.engagement == "selective" else None
        self.confounder_spec = ConfounderSpec() if settings.exposure_induced_confounding else None

    def trial(self, n: int, seed: int) -> tuple[dict[str, Table], dict]:
        """The tables of one trial of ``n`` participants and the record of what it realised,
        from the trial streams of ``seed``."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise SimulationError(f"--n must be a positive integer, got {n!r}")
        s = _Streams.of(seed)
        eng = None if self.engagement_spec is None else (self.engagement_spec, s.engagement_trial)
        conf = None if self.confounder_spec is None else (self.confounder_spec, s.confounder_trial)
        workers = self.trial_workers(seed)
        assign = s.workers_assign if workers is not None else None
        return simulate_trial(int(n), s.trial, self.params, self.registry, self.spec, workers,
                              assign, eng, conf)

    def trial_workers(self, seed: int) -> PeerWorkers | None:
        """The peer workers (caseload weights, effects) of the trial of ``seed``: drawn from
        its own stream (module docstring); None without clustering (``icc = 0``)."""
        if self.workers is None:
            return None
        return draw_workers(_Streams.of(seed).workers_draw, self.params, self.settings.icc)

    def truth(self, truth_n: int) -> dict:
        """The population truth of the scenario (:func:`outcomes.simulate.truth.compute_truth`)
        from the truth streams of the DGP's seed (fresh at each call: the same truth)."""
        if isinstance(truth_n, bool) or not isinstance(truth_n, int | np.integer) or truth_n < MIN_TRUTH_N:
            raise SimulationError(f"--truth-n must be an integer >= {MIN_TRUTH_N}, got {truth_n!r}")
        s = _Streams.of(self.seed)
        eng = None if self.engagement_spec is None else (self.engagement_spec, s.engagement_truth)
        conf = None if self.confounder_spec is None else (self.confounder_spec, s.confounder_truth)
        population = s.workers_population if self.workers is not None else None
        return compute_truth(self.params, self.registry, s.truth, int(truth_n), self.spec,
                             s.truth_missing, self.workers, population, eng, conf)

    def score_scale_pairs(self) -> np.random.Generator:
        """The stream of the peer-worker score-scale pairs (truth.json ``clustering``)."""
        return _Streams.of(self.seed).workers_pairs
