"""R references of the cluster-robust variances by peer worker (issue 13; docs/clustering.md).

One simulated trial (``simulate(n=400, seed=11)``, its derived datasets, the clusters of
``outcomes.clustering.cluster_ids``: peer workers of the treated arm, every other
participant a singleton) is analysed by the package and by tests/r/cluster_robust.R:

- the logistic model of the primary outcome: ``sandwich::vcovCL(glm, cluster = ~CLUSTER)``
  (its defaults for a glm: HC0 with the G/(G−1) factor), unweighted and with case
  weights (as the IPCW fits);
- the g-computation's risks, risk difference and marginal log odds ratio: the same delta
  method written in R (influence contributions from ``estfun`` and ``bread``, summed by
  cluster with ``rowsum``, times G/(G−1));
- the negative binomial rate ratio: ``vcovCL(MASS::glm.nb fit, cluster = ~CLUSTER)``;
- the Cox model of time to readmission and the Andersen–Gill model of recurrent
  readmissions: ``coxph(..., cluster = CLUSTER, ties = "efron")`` robust variance (no
  G/(G−1) factor, as R);
- the log-rank test clustered by peer worker: the score residuals of ``coxph(Surv ~ ARM +
  strata(SITEID), ties = "breslow")`` at β = 0 summed by cluster, and the robust score
  test ``coxph(..., cluster = CLUSTER)$rscore``; the RMST and the cumulative incidence at
  365 days of each arm with the grouped infinitesimal-jackknife variance from
  ``survfit(..., influence = TRUE)`` (tests/r/robust_curves.R);
- the mean squares of the ANOVA ICC: ``aov(y ~ factor(CLUSTER))`` and the nested
  ``aov(y ~ factor(SITEID) + factor(CLUSTER))``.

Tolerance 1e-6 relative: every quantity is a closed form of the fitted parameters, which
both sides iterate to ~1e-10 (R: glm epsilon 1e-14, glm.nb 1e-12, coxph eps 1e-11).
Skipped without R (failed under CI) by :func:`tests.rscript.require_r`.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from rscript import R_DIR, require_r

from outcomes.adam import derive_all
from outcomes.clustering import cluster_ids
from outcomes.clustering.icc import anova_icc
from outcomes.plan import AnalysisPlan
from outcomes.simulate import simulate
from outcomes.survival import (
    Arms,
    andersen_gill,
    cumulative_incidence,
    logrank,
    negative_binomial,
    readmission_within,
    rmst_difference,
    tenure_cox,
)
from outcomes.survival._common import arm_indicator, design, merge_adsl, param
from outcomes.survival.binary import g_computation, outcome_status
from outcomes.survival.competing import competing_status

R_SCRIPT = R_DIR / "cluster_robust.R"
RTOL = 1e-6
COX_COV = ("PRIORADM", "DETINDFL")


@pytest.fixture(scope="module")
def trial():
    tables, truth = simulate(n=400, seed=11, truth_n=1000)
    plan = AnalysisPlan.from_config({"data_cut": truth["meta"]["data_cut"]})
    ds = derive_all({k: v.to_frame() for k, v in tables.items()}, plan)
    adsl = ds["adsl"].assign(CLUSTER=cluster_ids(ds["adsl"], plan.treated_arm))
    return adsl, ds["adtte"], ds["adre"]


@pytest.fixture(scope="module")
def reference(trial, tmp_path_factory):
    require_r(("survival", "MASS", "sandwich"))
    adsl, adtte, adre = trial
    out = tmp_path_factory.mktemp("cluster_robust")
    d = merge_adsl(param(adtte, "READMIT"), adsl,
                   ["ARM", "DIAGGR", "CLUSTER", *COX_COV]).reset_index(drop=True)
    st = outcome_status(d, 365.0)
    w = np.random.default_rng(5).uniform(1.0, 2.0, len(d))
    prim = pd.DataFrame({"y": st["event"].astype(int), "used": (~st["lost"]).astype(int),
                         "w": w, "ARM": arm_indicator(d["ARM"], Arms()),
                         "SITEID": d["SITEID"], "DIAGGR": d["DIAGGR"],
                         "CLUSTER": d["CLUSTER"]})
    prim.to_csv(out / "primary.csv", index=False)
    tte = d[["AVAL", "PRIORADM", "SITEID", "CLUSTER"]].assign(
        EV=(d["CNSR"] == 0).astype(int), ST=competing_status(d), ARM=prim["ARM"],
        DETINDFL=(d["DETINDFL"] == "Y").astype(int))
    tte.to_csv(out / "tte.csv", index=False)
    ag = merge_adsl(adre, adsl, ["DIAGGR", "CLUSTER", *COX_COV])
    ag = ag.assign(ARM=arm_indicator(ag["ARM"], Arms()),
                   DETINDFL=(ag["DETINDFL"] == "Y").astype(int))
    ag[["TSTART", "TSTOP", "EVENT", "ARM", "PRIORADM", "DETINDFL", "SITEID",
        "CLUSTER"]].to_csv(out / "ag.csv", index=False)
    ag.drop_duplicates("USUBJID")[["NREADM", "RISKDAYS", "ARM", "SITEID", "DIAGGR",
                                   "CLUSTER"]].to_csv(out / "nb.csv", index=False)
    icc = _icc_rows(prim)
    icc.to_csv(out / "icc.csv", index=False)
    r = subprocess.run(["Rscript", str(R_SCRIPT), str(out), str(out / "r.tsv")],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"cluster_robust.R failed: {r.stderr}"
    ref = pd.read_csv(out / "r.tsv", sep="\t")
    return dict(zip(ref["quantity"], ref["value"], strict=True)), prim, icc


def _icc_rows(prim: pd.DataFrame) -> pd.DataFrame:
    m = (prim["ARM"] == 1) & (prim["used"] == 1) & prim["CLUSTER"].str.startswith("PW:")
    return prim.loc[m, ["y", "CLUSTER", "SITEID"]]


def _r_vector(ref: dict, prefix: str) -> np.ndarray:
    return np.array([v for k, v in ref.items() if k.startswith(prefix)])


def test_logistic_vcovcl_and_gcomputation_delta_method_equal_r(reference):
    ref, prim, _ = reference
    Z = design(prim, ["SITEID", "DIAGGR"]).to_numpy(float)
    for prefix, w in (("glm", None), ("glmw", prim["w"].to_numpy())):
        gc = g_computation(Z, prim["ARM"], prim["y"], prim["used"] == 1, w)
        gc = replace(gc, clusters=prim["CLUSTER"].to_numpy())
        se = np.sqrt(np.diag(gc.cov_beta))
        np.testing.assert_allclose(se, _r_vector(ref, f"{prefix}_se_"), rtol=RTOL)
        cov = gc.cov
        np.testing.assert_allclose(np.sqrt(np.diag(cov)),
                                   [ref[f"{prefix}_r1_se"], ref[f"{prefix}_r0_se"]], rtol=RTOL)
        np.testing.assert_allclose([gc.rd[1], gc.log_or[1]],
                                   [ref[f"{prefix}_rd_se"], ref[f"{prefix}_lor_se"]],
                                   rtol=RTOL)


def test_primary_analysis_clustered_rows_equal_r(trial, reference):
    """The pipeline's function (complete cases of the while-alive strategy, no IPCW, so
    that R gets the same rows): RD and OR SEs and the conditional OR's vcovCL SE."""
    ref, _, _ = reference
    adsl, adtte, _ = trial
    res = readmission_within(adtte, adsl, ipcw=False, cluster="CLUSTER")
    assert res.clustering == "peer_worker"
    np.testing.assert_allclose([res.rd[1], res.log_or[1], res.cond_log_or[1]],
                               [ref["glm_rd_se"], ref["glm_lor_se"], ref["glm_se_ARM"]],
                               rtol=RTOL)
    naive = readmission_within(adtte, adsl, ipcw=False)
    assert naive.rd[0] == res.rd[0] and naive.rd[1] != res.rd[1]


def test_cox_and_andersen_gill_robust_se_equal_coxph_cluster(trial, reference):
    ref, _, _ = reference
    adsl, adtte, adre = trial
    cx = tenure_cox(adtte, adsl=adsl, covariates=COX_COV, cluster="CLUSTER")
    np.testing.assert_allclose([cx.coef[0], cx.robust_se[0]],
                               [ref["cox_coef_ARM"], ref["cox_se_ARM"]], rtol=RTOL)
    ag = andersen_gill(adre, adsl, covariates=COX_COV, cluster="CLUSTER")
    np.testing.assert_allclose([ag.coef[0], ag.robust_se[0]],
                               [ref["ag_coef_ARM"], ref["ag_se_ARM"]], rtol=RTOL)
    assert ag.n_clusters == adsl["CLUSTER"].nunique()


def test_negative_binomial_vcovcl_equals_r(trial, reference):
    ref, _, _ = reference
    adsl, _, adre = trial
    nb = negative_binomial(adre, adsl, cluster="CLUSTER")
    np.testing.assert_allclose(nb.params[1], ref["nb_coef_ARM"], rtol=RTOL)
    np.testing.assert_allclose(nb.bse, _r_vector(ref, "nb_se_"), rtol=RTOL)


def test_icc_mean_squares_equal_aov(reference):
    ref, _, icc = reference
    flat = anova_icc(icc["y"], icc["CLUSTER"])
    nested = anova_icc(icc["y"], icc["CLUSTER"], icc["SITEID"])
    np.testing.assert_allclose([flat.msb, flat.msw, nested.msb, nested.msw],
                               [ref["msb_flat"], ref["msw_flat"], ref["msb_nested"],
                                ref["msw_nested"]], rtol=RTOL)


def test_clustered_logrank_rmst_and_cif_equal_r_survival(trial, reference):
    """The log-rank numerator, its clustered variance and the robust score test (R
    ``coxph(cluster = )$rscore``), and each arm's grouped IJ variance of the RMST and of the
    cumulative incidence at 365 days (R ``survfit`` influences) to 1e-6."""
    ref, _, _ = reference
    adsl, adtte, _ = trial
    lr = logrank(adtte, adsl=adsl, cluster="CLUSTER")
    np.testing.assert_allclose([lr.observed - lr.expected, lr.robust_variance, lr.chisq],
                               [ref["lr_u"], ref["lr_W"], ref["lr_rscore"]], rtol=RTOL)
    rm = rmst_difference(adtte, adsl=adsl, tau=365.0, cluster="CLUSTER")
    np.testing.assert_allclose(rm.variance, [ref["rmst_var_1"], ref["rmst_var_0"]], rtol=RTOL)
    ci = cumulative_incidence(adtte, adsl=adsl, horizon=365.0, cluster="CLUSTER")
    F = ci.at([365.0])["cif"].to_numpy()
    np.testing.assert_allclose(F, [ref["cif_1"], ref["cif_0"]], rtol=RTOL)
    np.testing.assert_allclose(ci.cluster_variance, [ref["cif_var_1"], ref["cif_var_0"]],
                               rtol=RTOL)
    assert rm.n_clusters[0] < (adsl["ARM"] == "peer_support").sum()
