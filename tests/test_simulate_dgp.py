"""outcomes.simulate.dgp: the DGP of a scenario apart from its trials (for simulation
studies), draw for draw the simulator's, and its two new scenario settings."""

from __future__ import annotations

import pytest

from outcomes.simulate import (
    SimulationError,
    SimulatorSettings,
    TrialDGP,
    simulate,
    table_to_csv,
)


def _csv(tables):
    return {name: table_to_csv(t) for name, t in tables.items()}


@pytest.mark.parametrize("settings", [SimulatorSettings(), SimulatorSettings(icc=0.05),
                                      SimulatorSettings(engagement="selective")])
def test_a_trial_of_the_dgp_of_its_own_seed_is_the_simulators_trial(settings):
    tables, _ = simulate(120, 7, truth_n=1000, missingness=settings.missingness, icc=settings.icc,
                         engagement=settings.engagement)
    dgp = TrialDGP(settings, 7)
    got, _ = dgp.trial(120, 7)
    assert _csv(got) == _csv(tables)
    again, _ = dgp.trial(120, 7)  # fresh trial streams at each call
    assert _csv(again) == _csv(tables)


def test_trials_of_other_seeds_share_the_dgp_parameters_but_not_the_draws():
    dgp = TrialDGP(SimulatorSettings(), 7)
    a, _ = dgp.trial(80, 101)
    b, _ = dgp.trial(80, 102)
    assert _csv(a)["participants"] != _csv(b)["participants"]
    # the parameters are those of seed 7 whatever the trial seed
    _, truth7 = simulate(80, 7, truth_n=1000)
    assert dgp.params.site_effects == TrialDGP(SimulatorSettings(), 7).params.site_effects
    assert list(dgp.params.peer_workers) == list(truth7["parameters"]["peer_workers"])


def test_effect_scale_zero_removes_every_arm_term_and_one_changes_nothing():
    base = TrialDGP(SimulatorSettings(), 3).params
    assert TrialDGP(SimulatorSettings(effect_scale=1.0), 3).params == base
    null = TrialDGP(SimulatorSettings(effect_scale=0.0), 3).params
    assert all(s.arm == 0.0 for s in null.process.values())
    assert all(s.arm == 0.0 for specs in null.outcomes.values() for s in specs.values())
    assert null.readmission.arm == 0.0 and base.readmission.arm != 0.0
    assert null.site_effects == base.site_effects  # no draw changed
    half = TrialDGP(SimulatorSettings(effect_scale=0.5), 3).params
    assert half.process["wai_sr"].arm == pytest.approx(0.5 * base.process["wai_sr"].arm)


def test_null_truth_has_no_effect():
    truth = TrialDGP(SimulatorSettings(effect_scale=0.0), 3).truth(20_000)
    risk = truth["readmission"]["risk_365_no_death"]
    # the same population under both arms up to Monte Carlo error of 20,000 people
    assert abs(risk["risk_difference"]) < 5 * risk["mc_se_risk_difference"] + 1e-12


def test_peer_workers_per_site_overrides_the_draw():
    dgp = TrialDGP(SimulatorSettings(peer_workers_per_site=4), 3)
    assert dgp.params.peer_workers == (4,) * len(dgp.params.sites)


@pytest.mark.parametrize("kwargs, message", [
    ({"icc": 1.0}, "--icc must be in"), ({"engagement": "eager"}, "--engagement must be one of"),
    ({"effect_scale": float("nan")}, "effect_scale"), ({"peer_workers_per_site": 0}, "peer_workers_per_site"),
    ({"exposure_induced_confounding": True, "icc": 0.1}, "not combined"),
])
def test_bad_settings_are_one_line_errors(kwargs, message):
    with pytest.raises(SimulationError, match=message):
        SimulatorSettings(**kwargs)


def test_each_trial_recruits_its_own_peer_workers():
    """icc > 0: caseload weights and worker effects are drawn per trial (a study's replicates
    vary over workers, as the truth's average over the population of workers assumes); the
    trial of the DGP's own seed has the simulator's workers; the number per site is fixed."""
    dgp = TrialDGP(SimulatorSettings(icc=0.1), 7)
    own, other = dgp.trial_workers(7), dgp.trial_workers(8)
    assert own.labels == dgp.workers.labels == other.labels
    for name, effects in dgp.workers.effects.items():
        assert (own.effects[name] == effects).all()
        assert not (other.effects[name] == effects).any()
    assert not (other.weight == own.weight).all()
    assert own.variance == other.variance
    _, record = dgp.trial(150, 8)
    caseloads = {dgp.workers.labels[j] for j in record["main_worker"] if j >= 0}
    assert caseloads <= set(dgp.workers.labels)
    assert TrialDGP(SimulatorSettings(), 7).trial_workers(8) is None
