"""The partially nested linear mixed model (outcomes.clustering.pnlmm) against
independent references.

- R ``nlme::lme(y ~ arm + ..., random = ~ pw - 1 | cluster, weights = varIdent(form =
  ~ 1 | arm), method = "REML")`` (tests/r/pnlmm.R) on the bundled trial's data and on a
  simulated heteroscedastic trial with never-engagers: fixed effects, their SEs and the
  three variance components to 1e-4 relative. Both fits maximise the same REML criterion
  with iterative optimisers that stop at a tolerance; at the maximum the criterion is
  flat to second order, so the parameters agree to about the square root of the
  criterion's tolerance. 1e-4 is the issue's bound; the agreement seen is about 1e-7.
- R ``lmerTest`` in the homoscedastic model (one residual variance): the Satterthwaite df
  of the treatment effect (lmerTest's numerical Hessian against our central
  differences) to 1e-4 relative, and statsmodels ``MixedLM`` on the same model.
- The closed-form inverse and determinant against dense linear algebra (1e-9 relative).
- Not estimable: no peer worker with 2 or more participants, too few participants, a
  pilot of 60 with clusters of one.

Needs Rscript with nlme and lmerTest for the R tests (Debian r-cran-nlme
r-cran-lmertest): skipped with the reason without them, failed under CI.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from rscript import R_DIR, require_r

from outcomes.ancova_effects import adjusted_means, arm_mean_vectors
from outcomes.clustering import cluster_ids
from outcomes.clustering.ancova import fit_nested_ancova
from outcomes.clustering.pnlmm import _Reml, fit_pnlmm
from outcomes.errors import NotEstimable
from outcomes.questionnaires import ancova_design

ROOT = Path(__file__).resolve().parents[1]
ARMS = dict(treated_arm="peer_support", control_arm="usual_care")
RTOL = 1e-4


def simulated(seed: int = 1, *, workers: int = 30, caseload: int = 10, controls: int = 300,
              never: int = 30, icc: float = 0.1, sd_treated: float = 1.3,
              sd_control: float = 1.0):
    """A partially nested trial: ``workers`` × ``caseload`` treated participants with a
    peer worker, ``never`` treated ones without, ``controls`` in usual care; fixed effects
    intercept, arm, baseline and two site indicators."""
    rng = np.random.default_rng(seed)
    n_t = workers * caseload + never
    worker = np.r_[np.repeat(np.arange(workers), caseload), -np.ones(never, dtype=int)]
    u = rng.normal(0, np.sqrt(icc / (1 - icc)) * sd_treated, workers)
    n = n_t + controls
    arm = np.r_[np.ones(n_t), np.zeros(controls)]
    base = rng.normal(size=n)
    site = rng.integers(0, 3, n)
    y = 0.3 * arm + 0.5 * base + np.r_[np.where(worker >= 0, u[worker], 0), np.zeros(controls)] \
        + rng.normal(size=n) * np.where(arm == 1, sd_treated, sd_control)
    clusters = np.r_[np.where(worker >= 0, np.char.add("PW:", worker.astype(str)),
                              np.char.add("ID:T", np.arange(n_t).astype(str))),
                     np.char.add("ID:C", np.arange(controls).astype(str))]
    X = np.column_stack([np.ones(n), arm, base, site == 1, site == 2]).astype(float)
    return y, X, arm, clusters, ["(Intercept)", "ARM", "BASE", "SITE1", "SITE2"]


@pytest.fixture(scope="module")
def bundled(report_run):
    """The bundled trial's ADSL and ADQS, from the session's results directory
    (tests/report_run.py)."""
    derived = report_run["full"] / "derived"
    return pd.read_parquet(derived / "adsl.parquet"), pd.read_parquet(derived / "adqs.parquet")


def score_data(adsl: pd.DataFrame, adqs: pd.DataFrame, paramcd: str, visit: str) -> pd.DataFrame:
    """The ANCOVA input of one score at one visit, as questionnaire_ancova builds it."""
    rows = adqs[adqs["PARAMCD"] == paramcd]
    base = rows.loc[rows["ABLFL"] == "Y", ["USUBJID", "AVAL"]].rename(columns={"AVAL": "BASE"})
    follow = rows.loc[rows["AVISIT"] == visit, ["USUBJID", "AVAL"]]
    data = adsl[["USUBJID", "ARM", "SITEID", "DIAGGR"]].assign(
        CLUSTER=cluster_ids(adsl, ARMS["treated_arm"]))
    return data.merge(follow, on="USUBJID", how="left").merge(base, on="USUBJID", how="left")


def bundled_design(adsl, adqs, paramcd, visit):
    d = ancova_design(score_data(adsl, adqs, paramcd, visit), what=paramcd, **ARMS)
    return (d.y, d.exog, d.treated, d.data["CLUSTER"].to_numpy(dtype=str), d.names)


def r_fit(y, X, arm, clusters) -> pd.DataFrame:
    """tests/r/pnlmm.R on the design (columns 2.. of X after the arm as x_*)."""
    tmp = Path(tempfile.mkdtemp(prefix="pnlmm-r-"))
    clusters = np.asarray(clusters, dtype=str)
    frame = pd.DataFrame({"y": y, "cluster": clusters,
                          "pw": np.char.startswith(clusters, "PW:").astype(int),
                          "arm": arm.astype(int)})
    for k in range(2, X.shape[1]):
        frame[f"x_{k}"] = X[:, k]
    frame.to_csv(tmp / "data.csv", index=False, float_format="%.17g")
    r = subprocess.run(["Rscript", str(R_DIR / "pnlmm.R"), str(tmp / "data.csv"),
                        str(tmp / "out.tsv")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return pd.read_csv(tmp / "out.tsv", sep="\t")


@pytest.fixture(scope="module")
def designs(bundled):
    adsl, adqs = bundled
    return {"SWEMWBS month_12": bundled_design(adsl, adqs, "SWEMWBS", "month_12"),
            "GSE month_4": bundled_design(adsl, adqs, "GSE", "month_4"),
            "simulated": simulated()[:4] + (simulated()[4],)}


@pytest.fixture(scope="module")
def r_results(designs):
    require_r(("nlme", "lmerTest"), "r-base-core r-cran-nlme r-cran-lmertest")
    return {k: r_fit(*v[:4]) for k, v in designs.items()}


@pytest.mark.parametrize("which", ["SWEMWBS month_12", "GSE month_4", "simulated"])
def test_equals_r_nlme_with_a_residual_variance_per_arm(designs, r_results, which):
    y, X, arm, clusters, names = designs[which]
    fit = fit_pnlmm(y, X, arm, clusters, names, icc_ci=False)
    r = r_results[which].query("model == 'nlme'").set_index("term")
    k = X.shape[1]
    np.testing.assert_allclose(fit.beta, r["estimate"].to_numpy()[:k], rtol=RTOL)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov_beta)), r["std_error"].to_numpy()[:k],
                               rtol=RTOL)
    ours = [fit.tau2, fit.sigma2_treated, fit.sigma2_control]
    theirs = r.loc[["tau2", "sigma2_treated", "sigma2_control"], "estimate"].to_numpy()
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)
    assert fit.tau2 > 0.01 * fit.sigma2_treated  # an interior estimate: relative check is meaningful


@pytest.mark.parametrize("which", ["SWEMWBS month_12", "simulated"])
def test_satterthwaite_df_equals_r_lmertest_with_one_residual_variance(designs, r_results,
                                                                       which):
    y, X, arm, clusters, names = designs[which]
    fit = fit_pnlmm(y, X, arm, clusters, names, common_residual=True, icc_ci=False)
    r = r_results[which].query("model == 'lmer'").reset_index(drop=True)
    assert r.at[1, "term"] == "arm"
    assert fit.df == pytest.approx(r.at[1, "df"], rel=RTOL)
    np.testing.assert_allclose(fit.beta, r["estimate"].to_numpy()[: X.shape[1]], rtol=RTOL)
    np.testing.assert_allclose([fit.tau2, fit.sigma2_treated],
                               r["estimate"].to_numpy()[-2:], rtol=RTOL)


@pytest.mark.parametrize("which", ["SWEMWBS month_12", "simulated"])
def test_adjusted_means_equal_r_nlme_and_their_df_lmertest(designs, r_results, which):
    """Each arm's adjusted mean (the fixed effects at the design's column means with the
    arm set) and its SE against nlme, at RTOL as the coefficients; its Satterthwaite df
    (``combinations``) against lmerTest's ``contest1D`` in the one-residual model."""
    y, X, arm, clusters, names = designs[which]
    L = np.vstack(arm_mean_vectors(X))
    for common, model in ((False, "nlme"), (True, "lmer")):
        fit = fit_pnlmm(y, X, arm, clusters, names, icc_ci=False, common_residual=common,
                        combinations=L)
        r = r_results[which].query("model == @model").set_index("term")
        means = adjusted_means(fit.beta, fit.cov_beta, X, ("T", "C"), (0, 0),
                               fit.combination_df)
        got = r.loc[["mean_treated", "mean_control"]]
        np.testing.assert_allclose([m.estimate for m in means], got["estimate"], rtol=RTOL)
        np.testing.assert_allclose([m.std_error for m in means], got["std_error"], rtol=RTOL)
        if model == "lmer":
            np.testing.assert_allclose(fit.combination_df, got["df"], rtol=RTOL)
            assert fit.df == pytest.approx(r.at["arm", "df"], rel=RTOL)


@pytest.mark.filterwarnings("ignore:Using deprecated variance components format")
def test_homoscedastic_model_equals_statsmodels_mixedlm():
    """MixedLM fits the common-residual model (the peer-worker effect as a variance
    component of a single group: MixedLM's SMW solver fails on groups whose random-effects
    design is zero). β and the variance components to 1e-5 relative (both optimisers'
    tolerance); the standard errors to 5e-3 against MixedLM's (from its observed Hessian,
    which differs from (XᵀV⁻¹X)⁻¹ at that order) and to 1e-9 against (XᵀV⁻¹X)⁻¹ built
    densely at MixedLM's variance estimates."""
    y, X, arm, clusters, names = simulated(2, sd_treated=1.0)
    fit = fit_pnlmm(y, X, arm, clusters, names, common_residual=True, icc_ci=False)
    labels = np.unique(clusters[np.char.startswith(clusters, "PW:")])
    Z = (clusters[:, None] == labels[None, :]).astype(float)
    sm_fit = sm.MixedLM(y, X, groups=np.zeros(len(y)), exog_vc={"pw": {0.0: Z}}).fit(reml=True)
    np.testing.assert_allclose(fit.beta, sm_fit.fe_params, rtol=1e-5)
    assert fit.tau2 == pytest.approx(float(sm_fit.vcomp[0]), rel=1e-5)
    assert fit.sigma2_treated == pytest.approx(sm_fit.scale, rel=1e-5)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov_beta)), sm_fit.bse_fe, rtol=5e-3)
    V = sm_fit.scale * np.eye(len(y)) + float(sm_fit.vcomp[0]) * Z @ Z.T
    dense = np.linalg.inv(X.T @ np.linalg.solve(V, X))
    reml = _Reml(y, X, arm == 1, clusters)
    closed = np.linalg.inv(reml.parts(float(sm_fit.vcomp[0]), sm_fit.scale, sm_fit.scale).xvx)
    np.testing.assert_allclose(closed, dense, rtol=1e-9)


def test_closed_form_reml_likelihood_equals_dense_linear_algebra():
    y, X, arm, clusters, _ = simulated(3, workers=8, caseload=5, controls=40, never=6)
    tau2, s2t, s2c = 0.3, 1.7, 0.9
    labels = np.unique(clusters[np.char.startswith(clusters, "PW:")])
    Z = (clusters[:, None] == labels[None, :]).astype(float)
    V = np.diag(np.where(arm == 1, s2t, s2c)) + tau2 * Z @ Z.T
    Vi = np.linalg.inv(V)
    xvx = X.T @ Vi @ X
    beta = np.linalg.solve(xvx, X.T @ Vi @ y)
    r = y - X @ beta
    n, p = X.shape
    ll = -0.5 * ((n - p) * np.log(2 * np.pi) + np.linalg.slogdet(V)[1]
                 + np.linalg.slogdet(xvx)[1] + r @ Vi @ r)
    part = _Reml(y, X, arm == 1, clusters).parts(tau2, s2t, s2c)
    assert part.ll == pytest.approx(ll, rel=1e-9)
    np.testing.assert_allclose(part.beta, beta, rtol=1e-9)
    np.testing.assert_allclose(part.xvx, xvx, rtol=1e-9)


def test_icc_at_the_boundary_is_zero_with_a_profile_ci():
    """No peer-worker effect and a treated arm far noisier within workers: τ̂² = 0 exactly,
    the CI from 0; β̂ then is weighted least squares with the two residual variances."""
    y, X, arm, clusters, names = simulated(4, icc=1e-9, sd_treated=1.0)
    fit = fit_pnlmm(y, X, arm, clusters, names)
    if fit.tau2 > 0:  # this seed's REML estimate must be at the boundary for the test
        pytest.fail(f"τ̂² = {fit.tau2}: pick a seed with τ̂² = 0")
    assert fit.icc == 0 and fit.icc_ci_low == 0 and 0 < fit.icc_ci_high < 0.2
    w = np.where(arm == 1, 1 / fit.sigma2_treated, 1 / fit.sigma2_control)
    wls = sm.WLS(y, X, weights=w).fit()
    np.testing.assert_allclose(fit.beta, wls.params, rtol=1e-9)
    assert 1 < fit.df <= len(y) - X.shape[1]


def test_icc_profile_ci_limits_are_where_the_profile_deviance_is_the_chi2_quantile():
    """At each limit of the CI, the REML log-likelihood maximised over σ²_T/σ²_C on a
    fine grid (not the optimiser of the fit) is 1.92 below the maximum."""
    y, X, arm, clusters, names = simulated(5)
    fit = fit_pnlmm(y, X, arm, clusters, names)
    reml = _Reml(y, X, arm == 1, clusters)
    ll_max = reml.profiled(np.log(fit.sigma2_treated / fit.sigma2_control), fit.icc)[0]
    assert ll_max == pytest.approx(fit.reml_loglik, abs=1e-8)
    grid = np.log(fit.sigma2_treated / fit.sigma2_control) + np.linspace(-0.3, 0.3, 6001)
    for limit in (fit.icc_ci_low, fit.icc_ci_high):
        best = max(reml.profiled(g, limit)[0] for g in grid)
        assert ll_max - best == pytest.approx(3.841458820694124 / 2, abs=1e-4)
    assert fit.icc_ci_low < fit.icc < fit.icc_ci_high


def test_not_estimable_without_a_peer_worker_of_two_or_more():
    y, X, arm, clusters, names = simulated(6, workers=30, caseload=1, controls=30, never=0)
    with pytest.raises(NotEstimable, match="no peer worker with 2 or more participants"):
        fit_pnlmm(y, X, arm, clusters, names)


def test_not_estimable_with_one_peer_worker():
    y, X, arm, clusters, names = simulated(6, workers=1, caseload=20, controls=30, never=5)
    with pytest.raises(NotEstimable, match="1 peer worker\\(s\\) among the participants"):
        fit_pnlmm(y, X, arm, clusters, names)


def test_a_control_participant_in_a_peer_worker_cluster_is_an_error():
    y, X, arm, clusters, names = simulated(7)
    clusters = clusters.copy()
    clusters[-1] = "PW:0"
    with pytest.raises(ValueError, match="control-arm participant"):
        fit_pnlmm(y, X, arm, clusters, names)


def test_non_convergence_is_not_estimable(monkeypatch):
    from scipy import optimize

    from outcomes.clustering import pnlmm

    def failing(fun, x0, **kw):
        return optimize.OptimizeResult(x=np.asarray(x0) + 0.5, fun=fun(np.asarray(x0))[0],
                                       success=False, message="STOP: TOTAL NO. OF ITERATIONS")
    monkeypatch.setattr(pnlmm.optimize, "minimize", failing)
    y, X, arm, clusters, names = simulated(8)
    with pytest.raises(NotEstimable, match="REML did not converge: STOP"):
        fit_pnlmm(y, X, arm, clusters, names)


def _pilot(sizes: list[int], seed: int = 9) -> pd.DataFrame:
    """60 participants: 30 treated (peer-worker caseloads ``sizes``, the rest never
    engaged), 30 in usual care, two sites."""
    rng = np.random.default_rng(seed)
    worker = np.r_[np.repeat(np.arange(len(sizes)), sizes), -np.ones(30 - sum(sizes), int)]
    return pd.DataFrame({
        "USUBJID": [f"P{i:03d}" for i in range(60)],
        "ARM": ["peer_support"] * 30 + ["usual_care"] * 30,
        "SITEID": np.tile(["S1", "S2"], 30),
        "DIAGGR": np.tile(["psychosis", "bipolar", "other"], 20),
        "PEERWID": [f"W{w}" if w >= 0 else "" for w in worker] + [""] * 30,
        "BASE": rng.normal(50, 8, 60),
        "AVAL": rng.normal(52, 8, 60)})


def test_pilot_of_60_participants():
    """Three peer workers of 10: estimated; three of one each: not estimable, with the
    reason (never a crash)."""
    for sizes, ok in (([10, 10, 10], True), ([1, 1, 1], False)):
        data = _pilot(sizes)
        data["CLUSTER"] = cluster_ids(data, "peer_support")
        if ok:
            res = fit_nested_ancova(data, **ARMS)
            assert res.clustering == "peer_worker" and res.n_clusters == 3 and res.n == 60
            assert np.isfinite([res.estimate, res.std_error, res.df, res.icc]).all()
            assert res.ci_low < res.estimate < res.ci_high
            assert all(np.isfinite([m.estimate, m.std_error, m.df]).all() for m in res.adjusted)
            assert res.hedges.status == "estimated" and np.isfinite(res.hedges.ci_high)
        else:
            with pytest.raises(NotEstimable, match="no peer worker with 2 or more"):
                fit_nested_ancova(data, **ARMS)
    data = _pilot([10, 10, 10]).iloc[list(range(30)) + [30]]  # one control participant
    data["CLUSTER"] = cluster_ids(data, "peer_support")
    with pytest.raises(NotEstimable, match="1 participant\\(s\\) in the usual_care arm"):
        fit_nested_ancova(data, **ARMS)


#: UCLA-3 at month 12 of a simulated pilot (``outcomes simulate --n 60 --seed 3``): arm,
#: site, diagnosis group (3 letters), cluster (P: a peer worker, I: alone), score, baseline.
PILOT_UCLA3 = (
    "C S3 dep I002 6 9 ; C S5 per I005 8 9 ; T S7 bip I007 7 6 ; C S6 bip I008 4 6 ; T S5 "
    "dep PS5-03 6 6 ; T S3 psy PS3-02 6 6 ; C S3 dep I012 3 4 ; C S1 bip I013 8 5 ; T S5 "
    "dep PS5-02 5 4 ; T S6 psy PS6-03 7 5 ; T S2 per PS2-03 5 6 ; T S7 psy I017 7 8 ; C "
    "S5 dep I018 5 6 ; C S5 psy I019 5 9 ; C S6 per I020 6 8 ; T S4 per I022 7 5 ; C S2 "
    "bip I023 5 6 ; T S6 psy PS6-02 6 6 ; C S4 oth I025 6 8 ; C S7 dep I026 9 8 ; T S4 "
    "dep PS4-02 6 3 ; C S2 bip I028 7 4 ; T S4 bip PS4-01 6 4 ; T S3 per PS3-04 5 6 ; C "
    "S7 psy I032 9 6 ; C S5 psy I034 7 8 ; T S4 oth PS4-04 6 9 ; T S5 dep PS5-01 4 3 ; T "
    "S1 psy PS1-03 5 3 ; C S1 per I040 8 3 ; T S7 psy PS7-01 5 7 ; T S1 psy I043 5 5 ; C "
    "S7 bip I044 8 7 ; C S5 dep I045 9 8 ; T S7 dep PS7-01 5 8 ; T S2 psy PS2-03 5 6 ; C "
    "S1 dep I052 6 5 ; C S3 psy I055 6 4 ; C S7 psy I056 8 6 ; C S4 bip I057 6 7 ; T S3 "
    "dep PS3-02 6 9 ")


def test_a_pilot_whose_icc_profile_meets_a_singular_information_is_estimated():
    """Many sites and diagnosis groups, caseloads of 1 or 2: near ICC 1 XᵀV⁻¹X is singular
    for some variance ratios, which stopped the profile CI with LinAlgError (decisions
    AQ10); the likelihood there counts as −∞ and the row is estimated."""
    rows = [r.split() for r in PILOT_UCLA3.split(";")]
    data = pd.DataFrame(rows, columns=["ARM", "SITEID", "DIAGGR", "CLUSTER", "AVAL", "BASE"])
    data["ARM"] = data["ARM"].map({"T": "peer_support", "C": "usual_care"})
    data["CLUSTER"] = [("PW:" if c[0] == "P" else "ID:") + c for c in data["CLUSTER"]]
    data[["AVAL", "BASE"]] = data[["AVAL", "BASE"]].astype(float)
    res = fit_nested_ancova(data, **ARMS)
    assert res.status == "estimated" and res.n == 41
    assert 0 <= res.icc_ci_low <= res.icc <= res.icc_ci_high <= 1


def test_hundred_thousand_participants():
    """1,000 peer workers × 50 and 50,000 controls, ten sites: the fit (with the ICC's
    profile CI) costs O(clusters), not O(participants); about 1 s on the project's VM."""
    rng = np.random.default_rng(10)
    n_t, n_c, g = 50_000, 50_000, 1000
    worker = np.repeat(np.arange(g), n_t // g)
    arm = np.r_[np.ones(n_t), np.zeros(n_c)]
    site = rng.integers(0, 10, n_t + n_c)
    X = np.column_stack([np.ones(n_t + n_c), arm, rng.normal(size=n_t + n_c)]
                        + [site == k for k in range(1, 10)]).astype(float)
    y = 0.2 * arm + 0.5 * X[:, 2] + np.r_[rng.normal(0, 0.3, g)[worker], np.zeros(n_c)] \
        + rng.normal(size=n_t + n_c)
    clusters = np.r_[np.char.add("PW:", worker.astype(str)),
                     np.char.add("ID:", np.arange(n_c).astype(str))]
    fit = fit_pnlmm(y, X, arm, clusters, [f"x{k}" for k in range(X.shape[1])],
                    combinations=np.vstack(arm_mean_vectors(X)))
    assert fit.n_clusters == g and fit.n == 100_000
    assert all(100 < df <= 100_000 - X.shape[1] for df in fit.combination_df)
    assert abs(fit.estimate - 0.2) < 4 * fit.std_error
    assert fit.icc_ci_low < 0.09 / 1.09 < fit.icc_ci_high


def test_forward_differences_are_scipys_and_leave_the_fit_unchanged():
    """The objective's gradient is scipy's own 2-point difference (``approx_derivative``
    as L-BFGS-B calls it without ``jac``) bit for bit, inside the bounds and at them, so
    L-BFGS-B takes the same path: the optimum is the same bits either way; and the
    peer-worker codes give the fit the labels give."""
    from scipy import optimize
    from scipy.optimize._numdiff import approx_derivative

    from outcomes.clustering import peer_worker_codes
    from outcomes.clustering.pnlmm import FD_STEP, ICC_MAX, _forward_differences

    y, X, arm, clusters, names = simulated(3)
    reml = _Reml(y, X, arm, clusters)
    bounds = [(-30.0, 30.0), (0.0, ICC_MAX)]

    def objective(x):
        return -reml.profiled(float(x[0]), float(x[1]))[0]

    with_gradient = _forward_differences(objective, bounds)
    for x in ([0.2, 0.1], [-1.0, 0.0], [30.0, ICC_MAX], [0.0, ICC_MAX - 1e-9]):
        x = np.asarray(x, dtype=float)
        f, g = with_gradient(x)
        ref = approx_derivative(objective, x, method="2-point", abs_step=FD_STEP,
                                bounds=([b[0] for b in bounds], [b[1] for b in bounds]))
        assert f == objective(x) and g.tobytes() == ref.tobytes()
    opts = {"ftol": 1e-15, "gtol": 1e-9, "maxiter": 500}
    plain = optimize.minimize(objective, [0.1, 0.05], method="L-BFGS-B", bounds=bounds,
                              options=opts)
    ours = optimize.minimize(with_gradient, [0.1, 0.05], jac=True, method="L-BFGS-B",
                             bounds=bounds, options={**opts, "maxfun": 5000})
    assert ours.x.tobytes() == plain.x.tobytes() and ours.fun == plain.fun
    assert ours.nit == plain.nit and ours.message == plain.message
    a = fit_pnlmm(y, X, arm, clusters, names, icc_ci=False)
    b = fit_pnlmm(y, X, arm, peer_worker_codes(clusters), names, icc_ci=False)
    assert (a.beta.tobytes(), a.cov_beta.tobytes(), a.icc, a.df, a.n_clusters) == \
        (b.beta.tobytes(), b.cov_beta.tobytes(), b.icc, b.df, b.n_clusters)
