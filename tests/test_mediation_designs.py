"""The standardised designs the mediation fits reuse (outcomes.mediation.fitting._standardised):
reused only for an equal design, never stale, and the fits unchanged by the reuse."""

from __future__ import annotations

import numpy as np
import pytest

from outcomes.mediation import fitting
from outcomes.mediation.fitting import _outer_rows, _standardised, _Std, fit_logistic, fit_ols


def _design(rng, n=200):
    return np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=(n, 3))])


def test_a_design_is_standardised_once_and_equal_designs_share_it():
    rng = np.random.default_rng(5)
    X = _design(rng)
    std, Xs, XX, iu = _standardised(X)
    ref = _Std.of(X)
    np.testing.assert_array_equal(std.shift, ref.shift)
    np.testing.assert_array_equal(Xs, ref.apply(X))
    np.testing.assert_array_equal(XX, _outer_rows(ref.apply(X))[0])
    assert _standardised(X.copy())[2] is XX  # an equal array: the same products
    with pytest.raises(ValueError):
        XX[0, 0] = 1.0  # shared, so read-only
    X2 = X.copy()
    X2[3, 2] += 1.0  # changed in place: recomputed, never the stale one
    assert _standardised(X2)[2] is not XX
    np.testing.assert_array_equal(_standardised(X2)[1], _Std.of(X2).apply(X2))
    for n in (200, 2000, 20000):  # bounded in bytes; a design above the bound is not kept
        for _ in range(4):
            _standardised(_design(rng, n))
        kept = sum(2 * d[0].nbytes + d[3].nbytes for d in fitting._DESIGNS)
        assert 0 < kept <= fitting._DESIGNS_BYTES
        assert len(fitting._DESIGNS) <= fitting._DESIGNS_KEPT
    big = _design(rng, 200000)
    _standardised(big)
    assert all(d[0].shape != big.shape for d in fitting._DESIGNS)


def test_fits_are_the_same_with_and_without_the_kept_designs():
    rng = np.random.default_rng(8)
    X = _design(rng)
    y = (rng.random(200) < 0.4).astype(float)
    W = rng.multinomial(200, np.full(200, 1 / 200), size=4).astype(float)
    fitting._DESIGNS.clear()
    first = fit_ols(X, y, W).coef, fit_logistic(X, y, W).coef
    again = fit_ols(X, y, W).coef, fit_logistic(X, y, W).coef  # from the kept design
    fitting._DESIGNS.clear()
    fresh = fit_ols(X, y, W).coef, fit_logistic(X, y, W).coef
    for a, b, c in zip(first, again, fresh, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
