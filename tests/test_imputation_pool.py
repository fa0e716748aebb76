"""Rubin's rules against hand computation (Rubin 1987 §3.1; Barnard & Rubin 1999)."""

import math
from fractions import Fraction as F

import pytest
from scipy import stats

from outcomes.errors import NotEstimable
from outcomes.imputation.pool import barnard_rubin_df, rubin

# Q = 1, 2, 3 and U = 0.5, 1, 1.5 (m = 3): qbar 2, ubar 1, b 1, t = 1 + (4/3)·1 = 7/3,
# riv = 4/3, lambda = (4/3)/(7/3) = 4/7, nu_old = 2 / (4/7)^2 = 49/8.
Q, U = [1.0, 2.0, 3.0], [0.5, 1.0, 1.5]
NU_OLD = F(49, 8)


def test_rubin_by_hand_with_barnard_rubin_df():
    # nu_com = 10: nu_obs = 11/13 · 10 · (1 - 4/7) = 330/91; nu = nu_old·nu_obs/(nu_old + nu_obs)
    nu_obs = F(11, 13) * 10 * F(3, 7)
    nu = NU_OLD * nu_obs / (NU_OLD + nu_obs)
    p = rubin(Q, U, df_complete=10)
    assert (p.estimate, p.ubar, p.b, p.m, p.df_complete) == (2.0, 1.0, 1.0, 3, 10.0)
    assert p.t == pytest.approx(7 / 3, rel=1e-15)
    assert p.std_error == pytest.approx(math.sqrt(7 / 3), rel=1e-15)
    assert p.riv == pytest.approx(4 / 3, rel=1e-15)
    assert p.lambda_ == pytest.approx(4 / 7, rel=1e-15)
    assert p.df == pytest.approx(float(nu), rel=1e-14)
    assert p.fmi == pytest.approx((4 / 3 + 2 / (float(nu) + 3)) / (7 / 3), rel=1e-14)
    q = stats.t.ppf(0.975, float(nu))
    assert (p.ci_low, p.ci_high) == pytest.approx((2 - q * math.sqrt(7 / 3),
                                                   2 + q * math.sqrt(7 / 3)), rel=1e-12)
    assert p.p_value == pytest.approx(2 * stats.t.sf(2 / math.sqrt(7 / 3), float(nu)),
                                      rel=1e-12)
    assert p.to_dict()["lambda"] == p.lambda_ and "lambda_" not in p.to_dict()


def test_large_sample_df_without_complete_data_df():
    p = rubin(Q, U)
    assert p.df == pytest.approx(float(NU_OLD), rel=1e-15) and math.isinf(p.df_complete)
    assert p.fmi == pytest.approx((4 / 3 + 2 / (49 / 8 + 3)) / (7 / 3), rel=1e-14)
    # the Barnard–Rubin df tends to Rubin's as the complete-data df grows, never above it
    assert barnard_rubin_df(3, 1.0, 7 / 3, 1e12) == pytest.approx(49 / 8, rel=1e-9)
    assert barnard_rubin_df(3, 1.0, 7 / 3, 10) < barnard_rubin_df(3, 1.0, 7 / 3, 100) < 49 / 8


def test_b_zero_is_the_complete_data_analysis():
    """Identical estimates (nothing imputed moves them): df = the complete-data df, riv =
    lambda = fmi = 0, no division by zero; the CI and p-value of the t test on 10 df."""
    p = rubin([2.0, 2.0, 2.0], [1.0, 1.0, 1.0], df_complete=10)
    assert (p.b, p.t, p.df, p.riv, p.lambda_, p.fmi) == (0.0, 1.0, 10.0, 0.0, 0.0, 0.0)
    q = stats.t.ppf(0.975, 10)
    assert (p.ci_low, p.ci_high) == pytest.approx((2 - q, 2 + q), rel=1e-15)
    assert p.p_value == pytest.approx(2 * stats.t.sf(2, 10), rel=1e-15)
    # large sample: an infinite df, the normal distribution
    p = rubin([2.0, 2.0], [1.0, 1.0])
    assert math.isinf(p.df)
    assert p.ci_high == pytest.approx(2 + stats.norm.ppf(0.975), rel=1e-15)
    assert p.p_value == pytest.approx(2 * stats.norm.sf(2), rel=1e-15)


def test_one_imputation_is_not_estimable_and_says_why():
    with pytest.raises(NotEstimable, match=r"1 imputation: .*m ≥ 2 .*between-imputation"):
        rubin([1.0], [0.5], df_complete=10)
    with pytest.raises(NotEstimable, match="variance of the estimate is 0 in all 2"):
        rubin([1.0, 2.0], [0.0, 0.0])


@pytest.mark.parametrize("q, u, dfcom, message", [
    ([1.0, 2.0], [1.0], None, "2 estimates and 1 variances"),
    ([], [], None, "no estimates"),
    ([1.0, float("nan")], [1.0, 1.0], None, "not a finite number"),
    ([1.0, 2.0], [1.0, -1.0], None, "negative variance"),
    ([1.0, 2.0], [1.0, 1.0], 0, "complete-data degrees of freedom 0"),
])
def test_bad_input_is_a_clear_error(q, u, dfcom, message):
    with pytest.raises(ValueError, match=message):
        rubin(q, u, df_complete=dfcom)


def test_estimates_equal_but_for_rounding_have_no_between_imputation_variance():
    """The same data in every imputation, fitted with the last bit of rounding differing:
    b = 0 (df the complete-data df, fmi 0), not fmi ≈ 2/(df + 3) from a b of 1e-33."""
    q = [0.2247, 0.2247 * (1 + 2e-16), 0.2247]
    p = rubin(q, [0.0064] * 3, df_complete=347)
    assert (p.b, p.df, p.riv, p.fmi) == (0.0, 347.0, 0.0, 0.0)
    real = rubin([0.2247, 0.2247 * (1 + 1e-9), 0.2247], [0.0064] * 3, df_complete=347)
    assert real.b > 0  # a real spread, however small, is kept
