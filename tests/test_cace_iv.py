"""Two-stage least squares of outcomes.cace (docs/cace.md) against independent references.

One seeded trial of 400 made here (a latent compliance type; engagement and contacts in
the treated arm only; outcome heteroskedastic by arm; 12 peer workers, clusters from
``outcomes.clustering.cluster_ids``, so usual care and never-engagers are singletons):

- R ``AER::ivreg`` with ``sandwich::vcovHC(type = "HC1")`` and ``vcovCL(type = "HC1")``
  (tests/r/ivreg.R): coefficients and standard errors of the just-identified CACE model
  (receipt, arm) and of the overidentified dose model (contacts; arm and arm × centred
  baseline), the first-stage F of ``summary(fit, diagnostics = TRUE)`` with the default,
  HC1 and cluster variances, and the Sargan test. Tolerance 1e-8 relative: every
  quantity is a closed form (no iteration) computed by QR on both sides, so the two
  agree to rounding (1.5e-13 at most, measured); 1e-8 leaves room for BLAS differences.
- ``linearmodels.IV2SLS`` (``debiased=True``: HC1 and CR1) and ``IVGMM`` (Hansen's J of
  the two-step GMM fit) as the second reference, same tolerance.
- The closed form: with the arm as the only instrument and no covariates, 2SLS is the
  Wald estimator ITT(y) / ITT(receipt) (to 1e-12).

R is required as in tests/rscript.py (:func:`require_r`: skipped without it, failed
under CI); linearmodels is in the ``dev`` extra (skipped without it, failed under CI).
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pandas as pd
import pytest
from rscript import R_DIR, require_r

from outcomes.cace import (
    Clusters,
    cace_model,
    dose_instruments,
    dose_model,
    fit_cace,
    fit_dose_response,
    two_stage_least_squares,
)
from outcomes.cace.iv import _sandwich
from outcomes.clustering import cluster_codes, cluster_ids
from outcomes.clustering.robust import cluster_robust_cov
from outcomes.errors import NotEstimable

RTOL = 1e-8
R_SCRIPT = R_DIR / "ivreg.R"


def make_trial(n: int, seed: int, workers: int = 12) -> pd.DataFrame:
    """A two-arm trial with one-sided non-compliance: a complier type (more likely with a
    higher baseline), receipt ENGFL and contacts NCONTACT in the treated arm only, an
    outcome with a CACE of 3 and 0.3 per contact, residual SD 5 (control) and 8 (treated);
    ``w`` a weight in [1, 2] (no draw: the other columns are those of before)."""
    rng = np.random.default_rng(seed)
    arm = np.arange(n) % 2
    base = rng.normal(50, 10, n)
    site = rng.integers(0, 3, n)
    complier = rng.random(n) < 1 / (1 + np.exp(-(0.4 + 0.05 * (base - 50))))
    engaged = (arm == 1) & complier
    contacts = np.where(engaged, 1 + rng.poisson(np.exp(1.2 + 0.03 * (base - 50))), 0)
    y = 2 + 0.5 * base + 3 * engaged + 0.3 * contacts + rng.normal(0, 5 + 3 * arm, n)
    adsl = pd.DataFrame({
        "USUBJID": [f"S{i:04d}" for i in range(n)], "ARM": np.where(arm == 1, "PS", "UC"),
        "PEERWID": np.where(engaged, [f"W{w:02d}" for w in rng.integers(0, workers, n)], ""),
    })
    return pd.DataFrame({"y": y, "ENGFL": engaged.astype(float),
                         "NCONTACT": contacts.astype(float), "ARM": arm.astype(float),
                         "BASE": base, "SITE": site.astype(str),
                         "CLUSTER": cluster_ids(adsl, "PS").to_numpy(),
                         "w": 1 + (np.arange(n) * 7 % 5) / 4})


def covariates(d: pd.DataFrame) -> pd.DataFrame:
    """BASE and the site indicators, named as R names them."""
    return pd.DataFrame({"BASE": d["BASE"], "SITE1": (d["SITE"] == "1") * 1.0,
                         "SITE2": (d["SITE"] == "2") * 1.0})


def fit(d: pd.DataFrame, model: str, clustered: bool = False):
    cl = d["CLUSTER"].to_numpy() if clustered else None
    w = d["w"] if model.endswith("_w") else None
    if model.startswith("cace"):
        return fit_cace(d["y"], d["ENGFL"], d["ARM"], covariates(d), clusters=cl, weights=w)
    return fit_dose_response(d["y"], d["NCONTACT"], d["ARM"], covariates(d), ["BASE"],
                             clusters=cl, weights=w)


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    return make_trial(400, 2026)


@pytest.fixture(scope="module")
def r_reference(trial, tmp_path_factory) -> dict[str, float]:
    require_r(("AER", "sandwich"), install="r-base-core r-cran-aer r-cran-sandwich")
    out = tmp_path_factory.mktemp("ivreg")
    trial.to_csv(out / "trial.csv", index=False)
    r = subprocess.run(["Rscript", str(R_SCRIPT), str(out / "trial.csv"), str(out / "r.tsv")],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"ivreg.R failed: {r.stderr}"
    ref = pd.read_csv(out / "r.tsv", sep="\t")
    return dict(zip(ref["quantity"], ref["value"], strict=True))


def linearmodels_iv():
    try:
        from linearmodels.iv import IV2SLS, IVGMM
    except ImportError:
        msg = "linearmodels not installed (pip install -e '.[dev]')"
        if os.environ.get("CI"):
            pytest.fail(msg + " — required in CI")
        pytest.skip(msg)
    return IV2SLS, IVGMM


R_NAMES = {"(Intercept)": "(Intercept)", "SITE1": "SITE1", "SITE2": "SITE2"}


@pytest.mark.parametrize("model", ["cace", "dose", "cace_w", "dose_w"])
def test_estimates_and_robust_se_equal_r_aer_ivreg_with_sandwich(trial, r_reference, model):
    ref = r_reference
    hc, cr = fit(trial, model), fit(trial, model, clustered=True)
    for name in hc.names:
        np.testing.assert_allclose(hc.estimate(name), ref[f"{model}_coef_{name}"], rtol=RTOL)
        np.testing.assert_allclose(hc.std_error(name), ref[f"{model}_hc1_{name}"], rtol=RTOL)
        np.testing.assert_allclose(cr.estimate(name), ref[f"{model}_coef_{name}"], rtol=RTOL)
        np.testing.assert_allclose(cr.std_error(name), ref[f"{model}_cl_{name}"], rtol=RTOL)
    fs, fsc = hc.first_stage[0], cr.first_stage[0]
    np.testing.assert_allclose(fs.f, ref[f"{model}_weak_f"], rtol=RTOL)
    assert (fs.f_df1, fs.f_df2) == (ref[f"{model}_weak_df1"], ref[f"{model}_weak_df2"])
    np.testing.assert_allclose(fs.robust_f, ref[f"{model}_weak_f_hc1"], rtol=RTOL)
    np.testing.assert_allclose(fsc.robust_f, ref[f"{model}_weak_f_cl"], rtol=RTOL)
    assert hc.variance == "HC1" and cr.variance == "CR1"
    assert hc.df == 400 - len(hc.names) and cr.df == cr.n_clusters - 1
    if model.startswith("dose"):
        ov = hc.overidentification
        np.testing.assert_allclose(ov.sargan, ref[f"{model}_sargan"], rtol=RTOL)
        assert ov.df == ref[f"{model}_sargan_df"] == 1
    else:
        assert hc.overidentification is None


@pytest.mark.parametrize("model", ["cace", "dose"])
def test_linearmodels_iv2sls_and_gmm_j_agree(trial, model):
    IV2SLS, IVGMM = linearmodels_iv()
    exog = covariates(trial).assign(**{"(Intercept)": 1.0})
    endog = trial["ENGFL"] if model == "cace" else trial["NCONTACT"]
    instr = (trial["ARM"] if model == "cace"
             else dose_instruments(trial["ARM"], covariates(trial), ["BASE"]))
    clusters = pd.Series(pd.factorize(trial["CLUSTER"])[0])
    m = IV2SLS(trial["y"], exog, endog, instr)
    for res, ours in ((m.fit(cov_type="robust", debiased=True), fit(trial, model)),
                      (m.fit(cov_type="clustered", clusters=clusters, debiased=True),
                       fit(trial, model, clustered=True))):
        for name in ours.names:
            np.testing.assert_allclose(ours.estimate(name), res.params[name], rtol=RTOL)
            np.testing.assert_allclose(ours.std_error(name), res.std_errors[name], rtol=RTOL)
    if model == "dose":
        ours = fit(trial, model)
        np.testing.assert_allclose(ours.overidentification.sargan, res.sargan.stat, rtol=RTOL)
        j = IVGMM(trial["y"], exog, endog, instr, weight_type="robust").fit(iter_limit=2)
        np.testing.assert_allclose(ours.overidentification.hansen_j, j.j_stat.stat, rtol=RTOL)
        jc = IVGMM(trial["y"], exog, endog, instr, weight_type="clustered",
                   clusters=clusters).fit(iter_limit=2)
        np.testing.assert_allclose(fit(trial, model, clustered=True).overidentification.hansen_j,
                                   jc.j_stat.stat, rtol=RTOL)


def test_arm_as_only_instrument_is_the_wald_estimator(trial):
    y, d, z = trial["y"], trial["ENGFL"], trial["ARM"]
    wald = ((y[z == 1].mean() - y[z == 0].mean()) / (d[z == 1].mean() - d[z == 0].mean()))
    f = fit_cace(y, d, z)
    assert f.estimate("ENGFL") == pytest.approx(wald, rel=1e-12)
    # the first stage of a 0/1 receipt on the arm alone is the compliance rate difference
    assert f.first_stage[0].estimate == pytest.approx(d[z == 1].mean() - d[z == 0].mean(),
                                                      rel=1e-12)


def test_to_frame_row_per_endogenous_with_diagnostics(trial):
    row = fit(trial, "cace", clustered=True).to_frame()
    assert len(row) == 1 and row.loc[0, "term"] == "ENGFL"
    assert row.loc[0, "clustering"] == "peer_worker" and row.loc[0, "variance"] == "CR1"
    assert row.loc[0, "ci_low"] < row.loc[0, "estimate"] < row.loc[0, "ci_high"]
    assert np.isnan(row.loc[0, "sargan"]) and not row.loc[0, "weak_instruments"]
    dose = fit(trial, "dose").to_frame()
    assert dose.loc[0, "clustering"] == "none" and dose.loc[0, "overid_df"] == 1
    assert dose.loc[0, "instruments"] == "ARM + ARM:BASE"


def test_weak_instrument_flag_follows_the_rule():
    # compliance 5%: the first stage F is small and the flag says so
    d = make_trial(200, 3)
    rng = np.random.default_rng(4)
    d["ENGFL"] = ((d["ARM"] == 1) & (rng.random(200) < 0.05)).astype(float)
    fs = fit_cace(d["y"], d["ENGFL"], d["ARM"], covariates(d)).first_stage[0]
    assert fs.robust_f < 10 and fs.weak


def test_full_compliance_is_the_itt_with_an_infinite_first_stage_f(trial):
    y, z = trial["y"], trial["ARM"]
    f = fit_cace(y, z.rename("ENGFL"), z, covariates(trial))
    fs = f.first_stage[0]
    assert fs.f == fs.robust_f == np.inf and not fs.weak and fs.estimate == pytest.approx(1)
    ols = np.linalg.lstsq(np.column_stack([np.ones(len(y)), covariates(trial), z]), y,
                          rcond=None)[0]
    assert f.estimate("ENGFL") == pytest.approx(ols[-1], rel=1e-10)


def test_pilot_of_60_with_three_peer_workers():
    d = make_trial(60, 8, workers=3)
    f = fit_cace(d["y"], d["ENGFL"], d["ARM"], covariates(d), clusters=d["CLUSTER"])
    never = int(((d["ARM"] == 1) & (d["ENGFL"] == 0)).sum())
    # usual care and never-engagers are singletons, the engaged share 3 peer workers
    assert np.isfinite(f.std_error("ENGFL")) and f.n_clusters == 30 + never + 3


@pytest.mark.parametrize("case, match", [
    ("nobody_engages", "no participant received"),
    ("one_arm", "rank-deficient"),
    ("no_first_stage", "do not identify the effect of ENGFL"),
    ("one_cluster", "at least 2 clusters"),
    ("too_few_rows", "no residual degree of freedom"),
    ("no_events", "fits every outcome exactly"),
])
def test_not_identified_designs_are_not_estimable(case, match):
    d = make_trial(40, 5)
    y, r, a, cl, cov = d["y"], d["ENGFL"], d["ARM"], None, covariates(d)
    if case == "nobody_engages":
        r = r * 0
    elif case == "one_arm":
        a = a * 0 + 1
    elif case == "no_first_stage":
        r = pd.Series(np.tile([1.0, 1.0, 0.0, 0.0], 10), name="ENGFL")  # 50% in each arm
        cov = None  # unadjusted, so the first-stage coefficient is exactly 0
    elif case == "one_cluster":
        cl = np.repeat("PW:W1", 40)
    elif case == "no_events":  # a binary outcome with no event at all (a pilot, no readmission)
        y = y * 0
    else:
        d = d.iloc[:4]
        y, r, a, cov = d["y"], d["ENGFL"].copy(), d["ARM"], covariates(d)
        r.iloc[:] = [0.0, 1.0, 0.0, 1.0]
    with pytest.raises(NotEstimable, match=match):
        fit_cace(y, r, a, cov, clusters=cl)


def test_dose_response_centring_leaves_the_estimate_unchanged(trial):
    cov = covariates(trial)
    raw = pd.DataFrame({"ARM": trial["ARM"], "ARM:BASE": trial["ARM"] * trial["BASE"]})
    a = fit_dose_response(trial["y"], trial["NCONTACT"], trial["ARM"], cov, ["BASE"])
    b = two_stage_least_squares(trial["y"], trial["NCONTACT"], cov, raw)
    assert a.estimate("NCONTACT") == pytest.approx(b.estimate("NCONTACT"), rel=1e-10)
    assert a.std_error("NCONTACT") == pytest.approx(b.std_error("NCONTACT"), rel=1e-10)
    # centred: the arm's first-stage coefficient is the contacts' difference at mean BASE
    assert a.first_stage[0].estimate != pytest.approx(b.first_stage[0].estimate, rel=1e-3)


def test_dose_response_recovers_a_linear_dose_effect():
    """A known truth: the outcome depends on the contacts only (0.5 per contact, no
    effect of the offer itself) and the take-up rises with baseline. 20,000 participants;
    the estimate must lie within 4 of its SEs of 0.5 and the interaction must carry
    information (overidentified, not weak)."""
    rng = np.random.default_rng(7)
    n = 20_000
    arm = (np.arange(n) % 2).astype(float)
    base = rng.normal(50, 10, n)
    u = rng.normal(0, 1, n)  # unmeasured: raises both the take-up and the outcome
    dose = arm * rng.poisson(np.exp(0.8 + 0.04 * (base - 50) + 0.3 * u))
    y = 0.5 * dose + 0.4 * base + 2 * u + rng.normal(0, 4, n)
    cov = pd.DataFrame({"BASE": base})
    f = fit_dose_response(y, pd.Series(dose, name="NCONTACT"), arm, cov, ["BASE"])
    assert abs(f.estimate("NCONTACT") - 0.5) < 4 * f.std_error("NCONTACT")
    assert not f.first_stage[0].weak and f.overidentification.df == 1
    # the naive regression on the dose is confounded by u
    naive = np.linalg.lstsq(np.column_stack([np.ones(n), base, dose]), y, rcond=None)[0][2]
    assert naive - 0.5 > 5 * f.std_error("NCONTACT")  # 0.70: 8.7 SEs above


def test_dose_response_guards(trial):
    with pytest.raises(ValueError, match="main effect"):
        fit_dose_response(trial["y"], trial["NCONTACT"], trial["ARM"], None, ["BASE"])
    with pytest.raises(NotEstimable, match="no participant had a contact"):
        fit_dose_response(trial["y"], trial["NCONTACT"] * 0, trial["ARM"], covariates(trial))


def test_cr1_variances_are_those_of_cluster_robust_cov_to_the_last_bit(trial):
    """The coded clusters (:class:`Clusters`, made once per outcome) give the variance,
    the first-stage variance and Hansen's J of ``cluster_robust_cov`` on the labels
    exactly (more than 10 clusters, so its text order of the codes differs from theirs)."""
    labels = trial["CLUSTER"].to_numpy()
    cl = Clusters.of(labels)
    assert cl.n_clusters > 10
    codes = cluster_codes(labels)[0]
    U = np.random.default_rng(3).normal(size=(labels.size, 4)) * 1e3
    B = np.random.default_rng(4).normal(size=(4, 4))
    for adjust in (True, False):
        assert np.array_equal(cl.meat(U, adjust),
                              cluster_robust_cov(U, codes, adjust=adjust))
    n, k = U.shape[0], 4
    assert np.array_equal(_sandwich(U, B, cl, k),
                          cluster_robust_cov(U, codes, B, adjust=True) * ((n - 1) / (n - k)))
    with pytest.raises(NotEstimable, match="at least 2 clusters"):
        Clusters.of(np.array(["a"] * 5)).meat(U[:5], True)


@pytest.mark.parametrize("model", ["cace", "dose", "dose_w"])
def test_one_model_fits_both_designs_as_two_separate_fits(trial, model):
    """``iv_model(...).fit(clusters)`` twice (HC1, CR1) is ``two_stage_least_squares`` of
    each design, to the last bit, with the labels or with :class:`Clusters`."""
    w = trial["w"] if model.endswith("_w") else None
    if model == "cace":
        m = cace_model(trial["y"], trial["ENGFL"], trial["ARM"], covariates(trial), weights=w)
    else:
        m = dose_model(trial["y"], trial["NCONTACT"], trial["ARM"], covariates(trial),
                       ["BASE"], weights=w)
    labels = trial["CLUSTER"].to_numpy()
    for clusters, got in ((None, m.fit()), (labels, m.fit(labels)),
                          (labels, m.fit(Clusters.of(labels)))):
        want = fit(trial, model, clustered=clusters is not None).to_frame()
        pd.testing.assert_frame_equal(got.to_frame(), want, check_exact=True)
