"""Structural model of the synthetic trial: item model and the change-model equations."""

import numpy as np
import pytest

from outcomes.instruments import load_registry
from outcomes.simulate.items import item_model, score_all
from outcomes.simulate.model import Model, draw_units
from outcomes.simulate.parameters import LATENT, MEDIATORS, PROCESS, draw_parameters

REG = load_registry()


@pytest.mark.parametrize("key", sorted(LATENT))
def test_item_model_codes_and_reversal(key):
    inst = REG[key]
    model = item_model(inst, LATENT[key])
    rng = np.random.default_rng(0)
    theta = np.linspace(-3, 3, 4001)
    items = model.draw(theta, rng.logistic(size=(theta.size, inst.n_items)))
    assert items.dtype.kind == "i"
    assert items.min() >= inst.code_min and items.max() <= inst.code_max
    score = score_all({key: inst}, {key: items})[inst.scores[0].paramcd]
    # the scored value rises with the latent, reversed items included
    assert np.corrcoef(theta, score)[0, 1] > 0.8
    for i in inst.reversed:
        assert np.corrcoef(theta, items[:, i - 1])[0, 1] < -0.3
    # extreme latents reach the ends of the range (no dead categories)
    lo = model.draw(np.full(200, -8.0), np.zeros((200, inst.n_items)))
    hi = model.draw(np.full(200, 8.0), np.zeros((200, inst.n_items)))
    flip = [i - 1 for i in inst.reversed]
    keep = [i for i in range(inst.n_items) if i not in flip]
    assert (lo[:, keep] == inst.code_min).all() and (hi[:, keep] == inst.code_max).all()
    assert (lo[:, flip] == inst.code_max).all() and (hi[:, flip] == inst.code_min).all()


def test_common_random_numbers_make_potential_outcomes_monotone():
    """Same exogenous draws under both arms: each process score moves in its designed direction
    for every person (or stays), as potential outcomes of one unit should."""
    params = draw_parameters(np.random.default_rng(3))
    model = Model(params, REG)
    u = draw_units(np.random.default_rng(4), 5_000, params, model.keys)
    base = model.baseline(u)
    m = {t: model.mediator_scores(model.month4(u, base, float(t))) for t in (0, 1)}
    for key in MEDIATORS:
        diff = m[1][key] - m[0][key]
        assert (np.sign(diff) * np.sign(PROCESS[key].arm) >= 0).all(), key
        assert (diff != 0).mean() > 0.2, key


def test_mediators_conditionally_independent_given_adjustment_set():
    """Each month-4 process score, residualised on arm, its own observed baseline score,
    site and prior admissions, is uncorrelated with every other process score."""
    params = draw_parameters(np.random.default_rng(1))
    model = Model(params, REG)
    rng = np.random.default_rng(2)
    u = draw_units(rng, 20_000, params, model.keys)
    arm = rng.integers(0, 2, size=u.n).astype(float)
    base = model.baseline(u)
    m4 = model.mediator_scores(model.month4(u, base, arm))
    site = np.eye(len(params.sites))[u.site]
    for j in model.mediators:
        x = np.column_stack([site, arm, model.z0(base, j), u.prior])
        coef, *_ = np.linalg.lstsq(x, m4[j], rcond=None)
        resid = m4[j] - x @ coef
        for k in model.mediators:
            if k != j:
                r = np.corrcoef(resid, m4[k])[0, 1]
                assert abs(r) < 0.035, (j, k, r)


