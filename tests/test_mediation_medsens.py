"""ρ sensitivity analysis of a binary outcome with a probit outcome model (Imai, Keele &
Tingley 2010, appendix; R ``medsens``): mediation/sensitivity.py, mediation/probit.py."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import integrate
from scipy.stats import norm

from outcomes.mediation import fit_mediation
from outcomes.mediation.probit import fit_probit

PROBIT = sm.families.Binomial(sm.families.links.Probit())


def binary_trial(n, rho, seed, a=(0.2, 0.8, 0.5), th=(-0.4, 0.3, 0.6, -0.3), s2=1.0):
    """Structural model: M = a0 + a1 T + a2 x + e2 (SD s2), Y* = t0 + t1 T + g M + t3 x + e3,
    e3 ~ N(0, 1), corr(e2, e3) = rho (an unmeasured mediator-outcome confounder)."""
    rng = np.random.default_rng(seed)
    arm = rng.permutation(np.arange(n) % 2)
    x = rng.integers(0, 2, n).astype(float)
    z = rng.normal(size=(n, 2))
    e2 = s2 * z[:, 0]
    e3 = rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1]
    m = a[0] + a[1] * arm + a[2] * x + e2
    y = (th[0] + th[1] * arm + th[2] * m + th[3] * x + e3 > 0).astype(int)
    return pd.DataFrame({"arm": arm, "x": x, "m": m, "y": y})


def true_acme(rho, x, a=(0.2, 0.8, 0.5), th=(-0.4, 0.3, 0.6, -0.3), s2=1.0):
    """Average ACME of the structural model over covariate values ``x`` (closed form)."""
    g = th[2]
    sd = np.sqrt(g**2 * s2**2 + 2 * g * rho * s2 + 1)

    def mu(t, tp):
        return norm.cdf((th[0] + th[1] * t + th[3] * x + g * (a[0] + a[1] * tp + a[2] * x)) / sd).mean()

    return 0.5 * ((mu(0, 1) - mu(0, 0)) + (mu(1, 1) - mu(1, 0)))


def test_batched_probit_equals_statsmodels_on_the_sample_and_on_resamples():
    """statsmodels GLM Binomial(probit) by IRLS to 1e-12; tolerance 1e-7 (both converge
    to the same maximum; Newton stops at a step below 1e-8 on the standardised scale)."""
    d = binary_trial(400, 0.0, 1)
    X = np.column_stack([np.ones(len(d)), d.arm, d.m, d.x])
    y = d.y.to_numpy(float)
    full = fit_probit(X, y, np.ones((1, len(d))))
    ref = sm.GLM(y, X, family=PROBIT).fit(tol=1e-12)
    np.testing.assert_allclose(full.coef[0], ref.params, atol=1e-7)
    W = np.random.default_rng(2).multinomial(len(d), np.full(len(d), 1 / len(d)), size=3)
    boot = fit_probit(X, y, W.astype(float), start=full.coef[0])
    for b in range(3):
        rows = np.repeat(np.arange(len(d)), W[b])
        rb = sm.GLM(y[rows], X[rows], family=PROBIT).fit(tol=1e-12)
        np.testing.assert_allclose(boot.coef[b], rb.params, atol=1e-7)
    assert boot.converged.all()


def test_acme_curve_equals_brute_force_integration_of_the_correlated_errors_model():
    """Independent derivation: for each ρ, the structural model that reproduces the fitted
    probit P(Y | T, M, x) and the fitted mediator model (γ = γ̃ √(1−ρ²) − ρ/σ₂,
    θ = β̃₋ₘ √(1−ρ²) + ρ α/σ₂), its ACME by numerical integration over the mediator error
    (scipy quad, 1e-11), averaged over the sample. At ρ = 0 it is the probit model's own
    ACME, and 0 at ρ = rho12. Tolerance 1e-8 (quadrature)."""
    d = binary_trial(300, 0.3, 3)
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome="y", outcome_type="logistic",
                        covariates=["x"], n_boot=0, rng=np.random.default_rng(0),
                        rho_grid=[-0.6, -0.2, 0.0, 0.35, 0.7])
    curve = res.sensitivity_frame().set_index("rho")["estimate"]
    fm = smf.ols("m ~ arm + x", d).fit()
    fy = smf.glm("y ~ arm + m + x", d, family=PROBIT).fit(tol=1e-12)
    alpha = fm.params[["Intercept", "arm", "x"]].to_numpy()
    bt = fy.params[["Intercept", "arm", "x"]].to_numpy()
    gt, s2 = fy.params["m"], np.sqrt(fm.scale)
    pats = d.groupby("x").size()

    def acme_brute(rho):
        g = gt * np.sqrt(1 - rho**2) - rho / s2
        th = bt * np.sqrt(1 - rho**2) + rho * alpha / s2

        def mu(t, tp, x):
            lin = th @ [1, t, x] + g * (alpha @ [1, tp, x])
            f = lambda z: norm.pdf(z) * norm.cdf((lin + (g * s2 + rho) * z) / np.sqrt(1 - rho**2))  # noqa: E731
            return integrate.quad(f, -12, 12, epsabs=1e-11, epsrel=1e-11)[0]

        tot = sum(k * 0.5 * ((mu(0, 1, x) - mu(0, 0, x)) + (mu(1, 1, x) - mu(1, 0, x)))
                  for x, k in pats.items())
        return tot / len(d)

    for rho, est in curve.items():
        assert est == pytest.approx(acme_brute(rho), abs=1e-8)
    summ = res.sensitivity_summary.iloc[0]
    assert summ["acme_rho0"] == pytest.approx(acme_brute(0.0), abs=1e-8)
    x = s2 * gt
    assert summ["rho_at_zero_acme"] == pytest.approx(x / np.sqrt(1 + x * x), abs=1e-8)
    assert acme_brute(summ["rho_at_zero_acme"]) == pytest.approx(0.0, abs=1e-8)


def test_acme_at_the_true_rho_recovers_the_truth_under_unmeasured_confounding():
    """Simulated correlated errors ρ = 0.5: the naive (ρ = 0) probit ACME is biased, the
    ACME at ρ = 0.5 recovers the true ACME (closed form from the structural parameters).
    n = 10,000 (naive off by 18 SE; seeds 4, 7, 8: ACME(0.5) within 1 SE); tolerance 4 bootstrap SE (the percentile band's width / 3.92)."""
    d = binary_trial(10_000, 0.5, 4)
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome="y", outcome_type="logistic",
                        covariates=["x"], n_boot=60, rng=np.random.default_rng(5))
    truth = true_acme(0.5, d.x.to_numpy())
    sens = res.sensitivity_frame().set_index("rho")
    at0, at5 = sens.loc[0.0], sens.loc[0.5]
    se0 = (at0["ci_high"] - at0["ci_low"]) / 3.92
    se5 = (at5["ci_high"] - at5["ci_low"]) / 3.92
    assert abs(at0["estimate"] - truth) > 8 * se0
    assert abs(at5["estimate"] - truth) < 4 * se5
    assert (sens["outcome_model"] == "probit (sensitivity analysis only)").all()
    assert (sens["estimate_type"] == "risk_difference").all()


FRAMING = Path(statsmodels.__file__).parent / "stats" / "tests" / "results" / "framing.csv"


@pytest.mark.skipif(not FRAMING.is_file(), reason="statsmodels' framing.csv not installed")
def test_framing_example_of_the_r_mediation_vignette():
    """Tingley et al. (2014, J Stat Softw 59(5), section 3.3; the R ``mediation`` vignette):
    medsens on the framing experiment, probit outcome cong_mesg, mediator emo. Published:
    R²~_M R²~_Y = 0.0493 at ρ = 0.3 and 0.0877 at ρ = 0.4 (deterministic: the model R²s;
    checked to the 4 printed decimals), and the ACME crossing 0 between ρ = 0.3 and 0.4.
    R computes rho12 as s2 g~ / (1 + |s2 g~|) (0.343 here, inside the published interval);
    the correlated-errors model gives s2 g~ / sqrt(1 + s2² g~²) = 0.463 (docs/decisions.md MS2,
    brute-force check above)."""
    d = pd.read_csv(FRAMING)
    res = fit_mediation(d, exposure="treat", mediators=["emo"], outcome="cong_mesg",
                        outcome_type="logistic", covariates=["age", "educ", "gender", "income"],
                        n_boot=0, rng=np.random.default_rng(1))
    s = res.sensitivity_summary.iloc[0]
    prod = (1 - s["r2_mediator_model"]) * (1 - s["r2_outcome_model"])
    assert round(0.09 * prod, 4) == 0.0493 and round(0.16 * prod, 4) == 0.0877
    assert s["rho_at_zero_acme"] == pytest.approx(0.4627, abs=1e-4)
    x = s["rho_at_zero_acme"] / np.sqrt(1 - s["rho_at_zero_acme"] ** 2)  # s2 g~
    assert 0.3 < x / (1 + abs(x)) < 0.4


def test_interaction_and_weibull_have_no_rho_analysis_and_say_so():
    d = binary_trial(300, 0.0, 6)
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome="y", outcome_type="logistic",
                        interaction=True, n_boot=0, rng=np.random.default_rng(0))
    assert res.sensitivity_frame().empty
    assert any("not available here" in n for n in res.notes)


def test_binned_normal_cdf_means_of_a_large_trial_within_the_stated_bound():
    """Above K participants the probit curve's means of Phi over participants use linear
    binning onto K nodes (error <= 0.0303 h^2 <= BINNING_TOL = 1e-7 by the choice of K);
    against the direct sum at n = 40,000 (observed error ~2e-8)."""
    from scipy.special import ndtr

    from outcomes.mediation.sensitivity import BINNING_TOL, mean_normal_cdf

    rng = np.random.default_rng(7)
    B, n = 4, 40_000
    c = rng.normal(size=(B, n)) * 1.5 + rng.normal(size=(B, 1))
    w = rng.multinomial(n, np.full(n, 1 / n), size=B).astype(float)
    w /= w.sum(axis=1, keepdims=True)
    shifts = rng.normal(size=(B, 30))
    direct = np.einsum("bsn,bn->bs", ndtr(c[:, None, :] + shifts[:, :, None]), w)
    assert np.abs(mean_normal_cdf(c, w, shifts) - direct).max() < BINNING_TOL
    small = mean_normal_cdf(c[:, :300], w[:, :300], shifts)  # fewer than K: direct, exact
    ref = np.einsum("bsn,bn->bs", ndtr(c[:, None, :300] + shifts[:, :, None]), w[:, :300])
    np.testing.assert_allclose(small, ref, rtol=0, atol=1e-15)
