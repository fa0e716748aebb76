"""Results table (docs/results.md columns) and deterministic figures."""

import numpy as np
import pandas as pd
import pytest
from survival_dgp import simulate_trial

from outcomes import survival as sv
from outcomes.survival import plots
from outcomes.survival._common import z_crit
from outcomes.survival.tables import wald_scale


@pytest.fixture(scope="module")
def results():
    adsl, adtte, adre, _ = simulate_trial(300, seed=12)
    det = adtte.assign(PARAMCD="READMDET")  # same functions, another PARAMCD
    return [
        sv.readmission_within(adtte, adsl),
        sv.kaplan_meier(adtte),
        sv.logrank(adtte),
        sv.tenure_cox(adtte, adsl=adsl),
        sv.rmst_difference(adtte),
        sv.cumulative_incidence(adtte),
        sv.cause_specific_cox(adtte, adsl=adsl),
        sv.negative_binomial(adre, adsl),
        sv.andersen_gill(adre, adsl),
        sv.hospital_days(adre, adsl, n_boot=200, rng=np.random.default_rng(1)),
        sv.kaplan_meier(det, "READMDET", analysis="detained_readmission"),
        sv.survival_at_landmarks(det, "READMDET", times=[90, 365],
                                 analysis="detained_readmission"),
        sv.tenure_cox(det, "READMDET", adsl=adsl, analysis="detained_readmission"),
    ]


def test_results_table_columns_and_rows(results, tmp_path):
    tab = sv.results_table(results)
    # the clustering column (docs/clustering.md) right after analysis
    assert list(tab.columns[:12]) == ["analysis", "clustering", *sv.RESULT_COLUMNS[1:]]
    assert list(tab.columns[4:7]) == ["estimate_type", "estimate", "std_error"]
    assert set(tab.clustering) == {"none"}
    assert list(tab.columns[-4:]) == ["design_effect", "n_clusters", "status", "reason"]
    effects = tab.loc[tab.contrast.str.contains(" vs ")]
    assert not effects.duplicated(["analysis", "clustering", "outcome", "contrast",
                                   "estimate_type", "strategy"]).any()
    assert {"odds_ratio", "risk_difference", "hazard_ratio", "rmst_difference", "rate_ratio",
            "cif_difference", "mean_difference", "logrank_hazard_ratio"} <= set(tab.estimate_type)
    assert (tab.loc[tab.estimate_type == "ph_test_chisq", "p_value"].between(0, 1)).all()
    ok = effects.dropna(subset=["ci_low"])
    assert ((ok.ci_low <= ok.estimate) & (ok.estimate <= ok.ci_high)).all()
    assert (tab.n > 0).all() and (tab.events >= 0).all()
    assert "READMDET" in set(tab.outcome)
    assert not sv.results_table(results, drop_checks=True).estimate_type.eq("ph_test_chisq").any()
    path = tmp_path / "survival.tsv"
    sv.write_tsv(tab, path)
    back = pd.read_csv(path, sep="\t")
    assert len(back) == len(tab)
    # medians not reached (inf) are written as NA
    np.testing.assert_allclose(back.estimate, tab.estimate.replace(np.inf, np.nan), rtol=1e-9)


@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_figures_are_deterministic(results, tmp_path, suffix):
    km = results[1]
    tab = sv.results_table(results)
    a = plots.kmunicate(km, tmp_path / f"a.{suffix}", times=[0, 90, 180, 270, 365])
    b = plots.kmunicate(km, tmp_path / f"b.{suffix}", times=[0, 90, 180, 270, 365])
    assert a.read_bytes() == b.read_bytes()
    f1 = plots.forest(tab, tmp_path / f"f1.{suffix}")
    f2 = plots.forest(tab, tmp_path / f"f2.{suffix}")
    assert f1.read_bytes() == f2.read_bytes()
    if suffix == "svg":
        text = a.read_text()
        assert "<dc:date>" not in text
        # the KMunicate table shows the numbers at risk of the risk table
        rt = km.risk_table([0, 90, 180, 270, 365])
        assert rt.loc[rt.arm == "peer_support", "at_risk"].iloc[0] == 150


def test_std_error_is_that_of_the_wald_ci(results):
    """``std_error`` is filled wherever a CI is (except the median's Brookmeyer–Crowley
    inversion, which has no standard error), and estimate ± z·SE on the scale of the row's
    CI (log for ratios, logit for a risk, log(−log) for a KM survival or a cumulative
    incidence) reproduces the CI to 1e-9 (the same arithmetic, another order); the
    bootstrap rows (days in hospital, percentile CIs) have the bootstrap SE, which is
    checked against the replicates in test_survival_recurrent.py."""
    tab = sv.results_table(results)
    with_ci = tab.ci_low.notna() & (tab.estimate_type != "median_time")
    assert tab.loc[with_ci, "std_error"].notna().all()
    assert tab.loc[tab.ci_low.isna(), "std_error"].isna().all()
    wald = with_ci & (tab.analysis != "days_in_hospital") & (tab.estimate_type != "icc")
    assert {"survival", "survival_difference", "risk", "cumulative_incidence", "odds_ratio",
            "rmst"} <= set(tab.loc[wald, "estimate_type"])
    for _, r in tab.loc[wald].iterrows():
        f = wald_scale(r.estimate_type)
        half = z_crit() * r.std_error
        np.testing.assert_allclose([f(r.ci_low), f(r.ci_high)],
                                   [f(r.estimate) - half, f(r.estimate) + half],
                                   rtol=1e-9, atol=1e-12, err_msg=str(r[:6].to_dict()))


def test_forest_needs_effects(tmp_path):
    with pytest.raises(ValueError):
        plots.forest(pd.DataFrame({"estimate_type": ["median_time"], "contrast": ["a"]}),
                     tmp_path / "x.svg")
