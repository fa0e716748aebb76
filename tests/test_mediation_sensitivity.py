"""Sensitivity analysis for unmeasured mediator-outcome confounding (IKY 2010, Theorem 2)."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy.optimize import brentq

from outcomes.mediation import acme_at_rho, fit_mediation


def confounded(n, rho, seed, a=0.5, b=0.4, c=0.2):
    """M and Y errors correlated (rho): an unmeasured mediator-outcome confounder."""
    rng = np.random.default_rng(seed)
    arm = rng.permutation(np.arange(n) % 2)
    x = rng.normal(size=n)
    e2, e3 = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n).T
    m = a * arm + 0.5 * x + e2
    y = c * arm + b * m + 0.3 * x + e3
    return pd.DataFrame({"arm": arm, "x": x, "m": m, "y": y})


def test_acme_at_rho_zero_is_a_times_b_and_zero_at_rho_tilde():
    d = confounded(500, 0.0, 1)
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome="y", outcome_type="linear",
                        covariates=["x"], n_boot=100, rng=np.random.default_rng(0))
    sens = res.sensitivity_frame().set_index("rho")
    acme = res.to_frame().set_index("effect").loc["acme_average", "estimate"]
    assert sens.loc[0.0, "estimate"] == pytest.approx(acme, abs=1e-12)
    summ = res.sensitivity_summary.iloc[0]
    rt = summ["rho_at_zero_acme"]
    assert summ["acme_rho0"] == pytest.approx(acme, abs=1e-12)
    p = res.params["m"]
    s1 = np.sqrt(smf.ols("y ~ arm + x", d).fit().scale)
    s2 = np.sqrt(p["mediator_cov"].iloc[0, 0])
    b2 = p["mediator"]["m"]["arm"]
    assert acme_at_rho(b2, s1, s2, rt, rt) == pytest.approx(0.0, abs=1e-12)
    assert summ["r2star_product_at_zero"] == pytest.approx(rt**2)
    # grid -0.9..0.9, decreasing in rho when the ACME is positive, bootstrap CIs around it
    assert sens.index.min() == -0.9 and sens.index.max() == 0.9 and len(sens) == 37
    assert (np.diff(sens["estimate"].to_numpy()) < 0).all()
    assert (sens["ci_low"] <= sens["estimate"]).all() and (sens["estimate"] <= sens["ci_high"]).all()


def test_closed_form_equals_solving_the_moment_equations_numerically():
    """Independent derivation: with e1 = g e2 + e3 and corr(e2, e3) = rho the residual
    moments satisfy cov(e1, e2) = g s2^2 + rho s2 s3 and var(e1) = g^2 s2^2 + s3^2 +
    2 g rho s2 s3. Solve them for (g, s3) by root finding and compare b2 * g with the
    closed form. Tolerance 1e-9 (root finder)."""
    d = confounded(400, 0.3, 2)
    r1 = smf.ols("y ~ arm + x", d).fit().resid
    fm = smf.ols("m ~ arm + x", d).fit()
    r2 = fm.resid
    s1, s2 = r1.std(), r2.std()
    c12 = np.cov(r1, r2)[0, 1]
    b2 = fm.params["arm"]
    for rho in (-0.6, -0.2, 0.1, 0.5, 0.8):
        def s3_of(g, rho=rho):
            return (c12 - g * s2**2) / (rho * s2)

        def var_gap(g, rho=rho):
            s3 = s3_of(g)
            return g**2 * s2**2 + s3**2 + 2 * g * rho * s2 * s3 - s1**2

        # root with s3 > 0: g on the side where (c12 - g s2^2) has the sign of rho
        k = c12 / s2**2
        lo, hi = (k - 50, k - 1e-12) if rho > 0 else (k + 1e-12, k + 50)
        g = brentq(var_gap, lo, hi, xtol=1e-14)
        assert s3_of(g) > 0
        closed = acme_at_rho(b2, s1, s2, c12 / (s1 * s2), rho)
        assert b2 * g == pytest.approx(float(closed), abs=1e-9)


def test_acme_at_the_true_rho_recovers_the_true_effect():
    """Brute force: simulate an error correlation rho = 0.4 (unmeasured confounding). The
    naive ACME is biased; the rho-adjusted ACME at the true rho recovers a * b = 0.2.
    n = 100,000; tolerance 4 bootstrap SE (SE ~ 0.003)."""
    rho, truth = 0.4, 0.5 * 0.4
    d = confounded(100_000, rho, 3)
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome="y", outcome_type="linear",
                        covariates=["x"], n_boot=100, rng=np.random.default_rng(1))
    naive = res.to_frame().set_index("effect").loc["acme_average"]
    sens = res.sensitivity_frame().set_index("rho").loc[rho]
    se = (sens["ci_high"] - sens["ci_low"]) / (2 * 1.96)
    assert abs(naive["estimate"] - truth) > 20 * naive["std_error"]  # the naive ACME is off
    assert abs(sens["estimate"] - truth) < 4 * se
    assert sens["ci_low"] < truth < sens["ci_high"]


def test_logistic_outcome_gets_the_probit_grid_interaction_none():
    """A binary outcome now has the probit ρ analysis (tests/test_mediation_medsens.py);
    an exposure x mediator interaction still has none, and the notes say so."""
    d = confounded(300, 0.0, 4)
    d["yb"] = (d.y > d.y.median()).astype(int)
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome="yb",
                        outcome_type="logistic", n_boot=0, rng=np.random.default_rng(0))
    grid = res.sensitivity_frame()
    assert len(grid) == 37 and (grid["estimate_type"] == "risk_difference").all()
    assert any("probit" in n for n in res.notes)
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome="y", outcome_type="linear",
                        interaction=True, n_boot=0, rng=np.random.default_rng(0))
    assert res.sensitivity_frame().empty
    assert any("not available here" in n for n in res.notes)
