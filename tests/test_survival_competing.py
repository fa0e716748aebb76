"""Aalen–Johansen cumulative incidence with tied event and competing times.

Tolerances: hand arithmetic with exact fractions and statsmodels' algebraically identical
delta-method variance to 1e-12 (floating point only); lifelines' AalenJohansenFitter on
data without ties (where it does not jitter) to 1e-10.
"""

from fractions import Fraction as Fr

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter
from statsmodels.duration.survfunc import CumIncidenceRight
from survival_dgp import simulate_trial

from outcomes.survival import aalen_johansen, cause_specific_cox, cumulative_incidence, tenure_cox

# status: 0 censored, 1 readmission, 2 death (competing)
T = [1, 2, 2, 2, 2, 3, 3, 4, 5, 5, 6]
S = [1, 1, 1, 2, 0, 2, 0, 1, 1, 2, 0]


def test_aalen_johansen_hand_table_with_ties():
    tab = aalen_johansen(T, S).set_index("time")
    # time  n  d1 d2  c   S(t-)          S(t)                 F(t)
    #  1   11   1  0  0   1              10/11                1/11
    #  2   10   2  1  1   10/11          10/11*7/10 = 7/11    1/11 + 10/11*2/10 = 3/11
    #  3    6   0  1  1   7/11           7/11*5/6 = 35/66     3/11
    #  4    4   1  0  0   35/66          35/66*3/4 = 35/88    3/11 + 35/66/4 = 107/264
    #  5    3   1  1  0   35/88          35/88*1/3 = 35/264   107/264 + 35/88/3 = 142/264
    #  6    1   0  0  1   35/264         35/264               142/264
    F = {1: Fr(1, 11), 2: Fr(3, 11), 3: Fr(3, 11), 4: Fr(107, 264), 5: Fr(142, 264),
         6: Fr(142, 264)}
    for t, f in F.items():
        assert tab.loc[t, "cif"] == pytest.approx(float(f), abs=1e-14)
    assert list(tab.n_risk) == [11, 10, 6, 4, 3, 1]
    # cause 1 + cause 2 + event-free = 1 (cause 2 incidence by the same arithmetic)
    F2_5 = Fr(0) + Fr(10, 11) * Fr(1, 10) + Fr(7, 11) * Fr(1, 6) + Fr(35, 88) * Fr(1, 3)
    assert float(F[5] + F2_5 + Fr(35, 264)) == pytest.approx(1.0, abs=1e-14)

    # Aalen (cmprsk) variance at t = 5, F = F(5):
    # sum over times j of S(t_j-)^2/n_j^2 * [d1 c(d1) (1 + (F_j - F)/S_j)^2
    #                                        + d2 c(d2) ((F_j - F)/S_j)^2],
    # c(d) = (n - d)/(n - 1) for d > 1 (tie correction), else 1.
    Fv = F[5]
    rows = [  # n, S-, S, F_j, d1, d2
        (11, Fr(1), Fr(10, 11), F[1], 1, 0),
        (10, Fr(10, 11), Fr(7, 11), F[2], 2, 1),
        (6, Fr(7, 11), Fr(35, 66), F[3], 0, 1),
        (4, Fr(35, 66), Fr(35, 88), F[4], 1, 0),
        (3, Fr(35, 88), Fr(35, 264), F[5], 1, 1),
    ]
    v = Fr(0)
    for n, sm, s, fj, d1, d2 in rows:
        c1 = Fr(n - d1, n - 1) if d1 > 1 else 1
        c2 = Fr(n - d2, n - 1) if d2 > 1 else 1
        v += sm**2 / n**2 * (d1 * c1 * (1 + (fj - Fv) / s) ** 2 + d2 * c2 * ((fj - Fv) / s) ** 2)
    assert tab.loc[5, "var_aalen"] == pytest.approx(float(v), abs=1e-14)
    # the t = 2 row: d1 = 2 uses the tie correction (10 - 2)/(10 - 1)
    F2 = F[2]
    v2 = (Fr(1, 121) * (1 + (F[1] - F2) / Fr(10, 11)) ** 2
          + Fr(100, 121) / 100 * (2 * Fr(8, 9) * 1 + 1 * ((F2 - F2) / Fr(7, 11)) ** 2))
    assert tab.loc[2, "var_aalen"] == pytest.approx(float(v2), abs=1e-14)


def test_delta_variance_matches_statsmodels_on_tied_data():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 40, 250).astype(float)
    s = rng.choice([0, 1, 2], 250, p=[0.4, 0.45, 0.15])
    tab = aalen_johansen(t, s)
    ref = CumIncidenceRight(t, s)
    np.testing.assert_allclose(tab.cif, ref.cinc[0], atol=1e-12)
    np.testing.assert_allclose(np.sqrt(tab.var_delta), ref.cinc_se[0], atol=1e-12)
    # the two variances are close (same first-order behaviour) until few remain at risk
    np.testing.assert_allclose(tab.var_aalen[5:-3], tab.var_delta[5:-3], rtol=0.1)


def test_matches_lifelines_without_ties():
    rng = np.random.default_rng(2)
    t = rng.exponential(10, 200)
    s = rng.choice([0, 1, 2], 200, p=[0.3, 0.5, 0.2])
    tab = aalen_johansen(t, s)
    ajf = AalenJohansenFitter(calculate_variance=False).fit(t, s, event_of_interest=1)
    ref = ajf.cumulative_density_.iloc[:, 0]
    np.testing.assert_allclose(tab.cif.to_numpy(), ref.loc[tab.time].to_numpy(), atol=1e-10)


def test_cumulative_incidence_by_arm_and_cause_specific_cox():
    adsl, adtte, _, _ = simulate_trial(400, seed=3)
    res = cumulative_incidence(adtte)
    f = res.to_frame()
    assert list(f.estimate_type) == ["cumulative_incidence"] * 2 + ["cif_difference"]
    assert f.estimate.iloc[2] == pytest.approx(f.estimate.iloc[0] - f.estimate.iloc[1])
    assert sum(res.competing) == (adtte.CMPEVFL == "Y").sum()
    cs1, cs2 = cause_specific_cox(adtte, adsl=adsl)
    main = tenure_cox(adtte, adsl=adsl, ph=False)
    np.testing.assert_allclose(cs1.coef, main.coef, atol=1e-12)
    assert cs2.events == (adtte.CMPEVFL == "Y").sum()
    at = res.at([0, 100, 365])
    assert (at.groupby("arm").cif.diff().dropna() >= 0).all()


def test_status_codes_are_checked():
    with pytest.raises(ValueError):
        aalen_johansen([1, 2], [0, 3])
    assert pd.api.types.is_float_dtype(aalen_johansen([1, 2], [1, 0]).cif)
