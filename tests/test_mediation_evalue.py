"""E-values of the natural direct and indirect effects (mediation/evalue.py)."""

import numpy as np
import pandas as pd
import pytest

from outcomes.mediation import fit_mediation
from outcomes.mediation.evalue import (
    evalue,
    evalue_of_ci,
    risk_ratio_effects,
    rr_from_or,
    rr_from_smd,
)


@pytest.mark.parametrize("est, lo, hi, e_point, e_ci", [
    # VanderWeele & Ding (2017): smoking and lung cancer, RR 10.73 (8.02-14.36)
    (10.73, 8.02, 14.36, 20.95, 15.52),
    # leukaemia example (EValue::evalues.RR(0.80, 0.71, 0.91)): protective effect
    (0.80, 0.71, 0.91, 1.81, 1.43),
    # a CI containing 1 has E-value 1
    (1.30, 0.95, 1.70, 1.92, 1.00),
])
def test_evalue_of_a_risk_ratio_reproduces_the_published_examples(est, lo, hi, e_point, e_ci):
    """Published values are rounded to 2 decimals: tolerance 0.005."""
    assert float(evalue(est)) == pytest.approx(e_point, abs=0.005)
    assert float(evalue_of_ci(lo, hi)) == pytest.approx(e_ci, abs=0.005)


def test_conversions_of_odds_ratios_and_standardised_differences():
    """VanderWeele & Ding (2017): breastfeeding, OR 3.9 (1.8-8.7) with a rare outcome
    (the EValue vignette's evalues.OR(3.9, 1.8, 8.7, rare = TRUE)): E-values 7.26 and 3.0.
    The inputs of EValue's help examples evalues.OR(0.86, 0.75, 0.99, rare = FALSE) and a
    d of 0.5, with the paper's conversions worked by hand (sqrt(OR): RR 0.927, E-values
    1.37 and 1.08; exp(0.91 d): RR 1.58, E-value 2.53)."""
    assert float(evalue(rr_from_or(3.9, common=False))) == pytest.approx(7.26, abs=0.005)
    assert float(evalue_of_ci(*rr_from_or(np.array([1.8, 8.7]), common=False))) == (
        pytest.approx(3.0, abs=0.005))
    rr = rr_from_or(np.array([0.86, 0.75, 0.99]), common=True)
    assert rr[0] == pytest.approx(0.927, abs=5e-4)
    assert float(evalue(rr[0])) == pytest.approx(1.37, abs=0.005)
    assert float(evalue_of_ci(rr[1], rr[2])) == pytest.approx(1.08, abs=0.005)
    assert float(rr_from_smd(0.5)) == pytest.approx(1.58, abs=0.005)
    assert float(evalue(rr_from_smd(0.5))) == pytest.approx(2.53, abs=0.005)
    assert np.isnan(evalue(np.nan)) and np.isnan(evalue(-1.0))
    assert float(evalue(1.0)) == 1.0


def _trial(n=500, seed=11):
    rng = np.random.default_rng(seed)
    arm = rng.permutation(np.arange(n) % 2)
    x = rng.normal(size=n)
    m = 0.6 * arm + 0.4 * x + rng.normal(size=n)
    y = 0.3 * arm + 0.5 * m + 0.2 * x + rng.normal(size=n)
    yb = (rng.uniform(size=n) < 1 / (1 + np.exp(-(-0.5 + 0.4 * arm + 0.7 * m)))).astype(int)
    return pd.DataFrame({"arm": arm, "x": x, "m": m, "y": y, "yb": yb})


def test_mediation_rows_carry_evalues_of_their_risk_ratios_and_standardised_differences():
    """Binary outcome: the E-value of each effect is that of the ratio of the potential-
    outcome risks (RR of acme_control = mu[0,1] / mu[0,0]; averages geometric means), and
    every bootstrap draw of the ratio lies on the same side of 1 as the draw of the risk
    difference. Continuous outcome: exp(0.91 d), d = estimate / SD(outcome). The
    proportion mediated has none. Exact up to rounding (1e-12)."""
    d = _trial()
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome="yb", outcome_type="logistic",
                        covariates=["x"], n_boot=100, rng=np.random.default_rng(3))
    t = res.to_frame().set_index("effect")
    assert list(res.to_frame().columns[-4:]) == ["evalue", "evalue_ci", "status", "reason"]
    mu = res.potential_outcomes[("m", "risk_difference")]
    assert t.loc["acme_control", "evalue"] == pytest.approx(float(evalue(mu[0, 1] / mu[0, 0])), abs=1e-12)
    assert t.loc["ade_treated", "evalue"] == pytest.approx(float(evalue(mu[1, 1] / mu[0, 1])), abs=1e-12)
    avg = np.sqrt(mu[0, 1] / mu[0, 0] * mu[1, 1] / mu[1, 0])
    assert t.loc["acme_average", "evalue"] == pytest.approx(float(evalue(avg)), abs=1e-12)
    assert np.isnan(t.loc["prop_mediated", "evalue"])
    rr = res.ratio_draws["m"]
    rd = res.replicates[("m", "risk_difference")][:, :7]
    ok = np.isfinite(rr).all(axis=1)
    assert ok.sum() == 100
    assert (np.sign(rr[ok] - 1) == np.sign(rd[ok])).all()
    lo, hi = np.quantile(rr[ok, 6], [0.025, 0.975])
    assert t.loc["total", "evalue_ci"] == pytest.approx(float(evalue_of_ci(lo, hi)), abs=1e-12)
    assert (t["evalue_ci"].dropna() <= t["evalue"].dropna()).all()
    assert np.allclose(risk_ratio_effects(mu[None])[0], res.ratio_point["m"])

    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome="y", outcome_type="linear",
                        covariates=["x"], n_boot=50, rng=np.random.default_rng(3))
    t = res.to_frame().set_index("effect")
    sd = d["y"].std(ddof=1)
    for eff in ("acme_average", "ade_average", "total"):
        rr = np.exp(0.91 * t.loc[eff, "estimate"] / sd)
        assert t.loc[eff, "evalue"] == pytest.approx(float(evalue(rr)), abs=1e-12)
        lim = t.loc[eff, "ci_low"] if t.loc[eff, "estimate"] > 0 else t.loc[eff, "ci_high"]
        expect = 1.0 if t.loc[eff, "ci_low"] < 0 < t.loc[eff, "ci_high"] else float(
            evalue(np.exp(0.91 * lim / sd)))
        assert t.loc[eff, "evalue_ci"] == pytest.approx(expect, abs=1e-12)
