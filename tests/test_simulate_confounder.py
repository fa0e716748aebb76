"""Engagement as an exposure-induced confounder in the simulator (docs/synthetic-trial.md
§10c): the observable engagement and the interventional truth. Off (the default), every
draw is as before: tests/test_bundled_data.py regenerates the bundled trial byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from outcomes.simulate import SimulationError, simulate
from outcomes.simulate.truth import OUTCOME_DEFINITIONS


@pytest.fixture(scope="module")
def trial():
    return simulate(300, 4, truth_n=4000, exposure_induced_confounding=True)


def test_engaged_have_contacts_and_usual_care_none(trial):
    tables, truth = trial
    arm = {r[0]: r[2] for r in tables["participants"].rows}
    with_contacts = {r[0] for r in tables["peer_contacts"].rows}
    assert all(arm[p] == "peer_support" for p in with_contacts)
    treated = [p for p, a in arm.items() if a == "peer_support"]
    share = len(with_contacts) / len(treated)
    # engaged if offered: the population share, within binomial error (deaths and
    # withdrawals before a first contact take a few off)
    p = truth["exposure_induced_confounder"]["engaged_if_offered_share"]
    assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / len(treated)) + 0.02


def test_interventional_truth_block(trial):
    _, truth = trial
    iv = truth["mediation_interventional"]
    assert set(iv) == set(OUTCOME_DEFINITIONS)
    for name in OUTCOME_DEFINITIONS:
        assert set(iv[name]) == set(truth["mediation"][name])  # every mediator set
        for eff in iv[name].values():
            # overall = IIE + IDE exactly (one set of potential outcomes)
            assert eff["interventional_overall"] == pytest.approx(
                eff["interventional_indirect"] + eff["interventional_direct"], abs=1e-9)
            assert all(v > 0 for v in eff["mc_se"].values())
    w = iv["WEMWBS_month_12"]["all"]
    # engagement raises every process score and WEMWBS: indirect and direct effects positive
    assert w["interventional_indirect"] > 3 * w["mc_se"]["interventional_indirect"]
    assert w["interventional_direct"] > 3 * w["mc_se"]["interventional_direct"]


def test_not_combined_with_clustering_or_selective_engagement():
    with pytest.raises(SimulationError, match="not combined"):
        simulate(50, 1, truth_n=1000, icc=0.1, exposure_induced_confounding=True)
