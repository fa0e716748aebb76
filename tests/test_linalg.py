"""The shared rank check: closed-form cases (exact collinearity is known by construction)."""

import numpy as np
import pytest

from outcomes.errors import NotEstimable, SingularDesign
from outcomes.linalg import aliased_columns, check_full_rank, separating_direction


def _design(rng, n=50):
    one = np.ones(n)
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n).astype(float)
    return one, x, t


def test_full_rank_passes():
    one, x, t = _design(np.random.default_rng(1))
    check_full_rank(np.column_stack([one, x, t]), ["const", "x", "treat"], model="m")
    assert aliased_columns(np.column_stack([one, x, t]), ["const", "x", "treat"]) == []


def test_constant_column_named_as_constant():
    one, x, t = _design(np.random.default_rng(2))
    X = np.column_stack([one, t, np.full_like(x, 3.0)])
    with pytest.raises(SingularDesign, match=r"mediator model: .*M is constant") as e:
        check_full_rank(X, ["const", "treat", "M"], model="mediator model", intercept="const")
    assert e.value.aliased == ("M",)
    assert isinstance(e.value, NotEstimable)


def test_duplicate_of_exposure_names_later_column_and_its_twin():
    one, x, t = _design(np.random.default_rng(3))
    X = np.column_stack([one, t, x, t.copy()])
    assert aliased_columns(X, ["const", "treat", "x", "cov"]) == [("cov", ["treat"])]


def test_linear_combination_and_zero_column():
    one, x, t = _design(np.random.default_rng(4))
    X = np.column_stack([one, x, t, 2 * x - t + 1, np.zeros_like(x)])
    got = aliased_columns(X, ["c", "x", "t", "combo", "zero"])
    assert got == [("combo", ["c", "x", "t"]), ("zero", [])]


def test_fewer_rows_than_columns_is_singular():
    X = np.random.default_rng(5).normal(size=(3, 5))
    got = aliased_columns(X, list("abcde"))
    assert [g[0] for g in got] == ["d", "e"]


def test_near_collinear_but_distinct_is_full_rank():
    rng = np.random.default_rng(6)
    x = rng.normal(size=200)
    X = np.column_stack([np.ones(200), x, x + 1e-3 * rng.normal(size=200)])
    assert aliased_columns(X, ["c", "x", "x2"]) == []


def test_non_finite_is_named():
    X = np.column_stack([np.ones(4), [1.0, np.nan, 2.0, 3.0]])
    with pytest.raises(SingularDesign, match="non-finite .* x"):
        check_full_rank(X, ["c", "x"], model="m")


def test_the_r_of_a_reduced_qr_is_that_of_the_check_to_the_bit():
    """A caller's ``numpy.linalg.qr(X)`` gives the R the check computes itself (the same
    LAPACK factorisation): the same columns aliased, with or without it."""
    rng = np.random.default_rng(7)
    one, x, t = _design(rng, n=500)
    for X in (np.column_stack([one, x, t]), np.column_stack([one, x, t, 2 * x - t + 1])):
        q, r = np.linalg.qr(X)
        assert np.array_equal(r, np.linalg.qr(X, mode="r"))
        names = [f"c{j}" for j in range(X.shape[1])]
        assert aliased_columns(X, names, r=r) == aliased_columns(X, names)
    X = rng.normal(size=(3, 5))  # fewer rows than columns: the check pads X itself
    assert aliased_columns(X, list("abcde"), r=np.linalg.qr(X)[1]) == aliased_columns(
        X, list("abcde"))


def test_separating_direction_by_hand():
    """Logistic rows s_i x_i (intercept, x): y = 1 exactly when x > 0 is separated
    (Albert & Anderson 1984) and the b found separates them; one y = 1 at x < 0 overlaps and is not."""
    x = np.array([-2.0, -1.0, 1.0, 2.0])
    X = np.column_stack([np.ones(4), x])

    def rows(y):
        return X * (2 * np.asarray(y, float) - 1)[:, None]

    A = rows([0, 0, 1, 1])
    found, b = separating_direction(A)
    scaled = A / np.abs(A).max(axis=0)  # b is in units of the scaled columns
    assert found and (scaled @ b >= -1e-9).all() and (scaled @ b).sum() > 0 and b[1] > 0
    assert separating_direction(rows([1, 0, 1, 0]))[0] is False
    # quasi-complete: a tie at x = 0 on both sides still separates the rest
    Xq = np.column_stack([np.ones(5), [-1.0, 0.0, 0.0, 1.0, 2.0]])
    assert separating_direction(Xq * np.array([-1, -1, 1, 1, 1.0])[:, None])[0]
