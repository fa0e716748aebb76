"""ANCOVA against the closed form of the two-group analysis of covariance (one site, one
diagnosis group: the stratifiers add no column)."""

import numpy as np
import pandas as pd
import pytest

from outcomes.questionnaires import fit_ancova, questionnaire_ancova


def _data(rng, n=200, effect=2.0):
    arm = np.where(np.arange(n) % 2 == 0, "peer_support", "usual_care")
    base = rng.normal(45, 8, n)
    aval = 10 + 0.6 * base + effect * (arm == "peer_support") + rng.normal(0, 5, n)
    return pd.DataFrame({"ARM": arm, "SITEID": "S1", "DIAGGR": "psychosis", "AVAL": aval,
                         "BASE": base})


def test_ancova_equals_the_closed_form_with_one_site():
    # Closed form (one site): beta_w = pooled within-group slope;
    # effect = (ybar_t - ybar_c) - beta_w (xbar_t - xbar_c).
    d = _data(np.random.default_rng(3))
    t = d["ARM"] == "peer_support"
    x, y = d["BASE"], d["AVAL"]
    sxy = sum(((x[g] - x[g].mean()) * (y[g] - y[g].mean())).sum() for g in (t, ~t))
    sxx = sum(((x[g] - x[g].mean()) ** 2).sum() for g in (t, ~t))
    beta = sxy / sxx
    closed = (y[t].mean() - y[~t].mean()) - beta * (x[t].mean() - x[~t].mean())
    res = fit_ancova(d, treated_arm="peer_support", control_arm="usual_care")
    assert res.estimate == pytest.approx(closed, abs=1e-10)
    # SE closed form: sqrt(s2 * (1/n_t + 1/n_c + (xbar_t - xbar_c)^2 / sxx)), df = n - 3.
    resid = (
        y
        - (y[t].mean() * t + y[~t].mean() * ~t)
        - beta * (x - (x[t].mean() * t + x[~t].mean() * ~t))
    )
    s2 = (resid**2).sum() / (len(d) - 3)
    se = np.sqrt(s2 * (1 / t.sum() + 1 / (~t).sum() + (x[t].mean() - x[~t].mean()) ** 2 / sxx))
    assert res.std_error == pytest.approx(se, rel=1e-10)
    assert res.ci_low < closed < res.ci_high


def test_missing_values_are_counted_not_dropped_silently():
    d = _data(np.random.default_rng(4))
    d.loc[:9, "AVAL"] = np.nan
    d.loc[10:14, "BASE"] = np.nan
    res = fit_ancova(d, treated_arm="peer_support", control_arm="usual_care")
    assert res.n == 185 and res.n_excluded == 15


def test_questionnaire_ancova_covers_every_score_and_visit():
    rng = np.random.default_rng(5)
    n = 60
    ids = [f"P{i:03d}" for i in range(n)]
    adsl = pd.DataFrame(
        {
            "USUBJID": ids,
            "ARM": np.where(np.arange(n) % 2, "usual_care", "peer_support"),
            "SITEID": np.where(np.arange(n) < 30, "S1", "S2"),
            "DIAGGR": np.where(np.arange(n) % 3, "psychosis", "bipolar"),
        }
    )
    rows = []
    for pid in ids:
        for visit, flag in (("baseline", "Y"), ("month_4", ""), ("month_12", "")):
            for paramcd in ("WEMWBS", "HHI"):
                rows.append(
                    {
                        "USUBJID": pid,
                        "AVISIT": visit,
                        "PARAMCD": paramcd,
                        "PARAM": paramcd + " total",
                        "AVAL": rng.normal(40, 5),
                        "ABLFL": flag,
                    }
                )
    out = questionnaire_ancova(
        pd.DataFrame(rows), adsl, treated_arm="peer_support", control_arm="usual_care"
    )
    assert len(out) == 16  # the difference, two adjusted means and Hedges' g of each
    assert list(out["estimate_type"][:4]) == ["adjusted_mean_difference", "adjusted_mean",
                                              "adjusted_mean", "hedges_g"]
    assert list(out["contrast"][:4]) == ["peer_support vs usual_care", "peer_support",
                                         "usual_care", "peer_support vs usual_care"]
    assert set(out["outcome"]) == {
        "WEMWBS month_4",
        "WEMWBS month_12",
        "HHI month_4",
        "HHI month_12",
    }
    for col in (
        "analysis",
        "outcome",
        "contrast",
        "estimate_type",
        "estimate",
        "ci_low",
        "ci_high",
        "p_value",
        "n",
    ):
        assert col in out.columns


# ----------------------------------------------------------------------------- not estimable


def _adqs(n=60, visits=("baseline", "month_4", "month_12"), seed=6):
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    adsl = pd.DataFrame({"USUBJID": ids,
                         "ARM": np.where(np.arange(n) % 2, "usual_care", "peer_support"),
                         "SITEID": np.where(np.arange(n) < n // 2, "S1", "S2"),
                         "DIAGGR": np.where(np.arange(n) % 3, "psychosis", "bipolar")})
    rows = [{"USUBJID": pid, "AVISIT": v, "PARAMCD": "WEMWBS", "PARAM": "WEMWBS total",
             "AVAL": rng.normal(40, 5), "ABLFL": "Y" if v == "baseline" else ""}
            for pid in ids for v in visits]
    return pd.DataFrame(rows), adsl


def _run(adqs, adsl, rows="adjusted_mean_difference"):
    out = questionnaire_ancova(adqs, adsl, treated_arm="peer_support", control_arm="usual_care")
    return out.loc[out["estimate_type"] == rows] if rows else out


def test_no_month_12_values_give_a_not_estimable_row():
    adqs, adsl = _adqs(visits=("baseline", "month_4"))
    out = _run(adqs, adsl).set_index("avisit")
    assert out.loc["month_4", "status"] == "estimated" and out.loc["month_4", "reason"] == ""
    assert out.loc["month_12", "status"] == "not estimable"
    assert out.loc["month_12", "reason"] == "no month_12 value of WEMWBS"
    assert np.isnan(out.loc["month_12", "estimate"]) and out.loc["month_12", "n"] == 0
    assert out.loc["month_12", "n_excluded"] == 60
    assert list(out.columns[-2:]) == ["status", "reason"]


def test_fewer_than_two_complete_cases_in_an_arm_is_not_estimable():
    adqs, adsl = _adqs()
    control = adqs["USUBJID"].isin(adsl.loc[adsl["ARM"] == "usual_care", "USUBJID"])
    m4 = adqs["AVISIT"] == "month_4"
    keep_one = adqs.index[control & m4][1:]
    adqs.loc[keep_one, "AVAL"] = np.nan
    out = _run(adqs, adsl).set_index("avisit")
    assert out.loc["month_4", "status"] == "not estimable"
    assert out.loc["month_4", "reason"].startswith("1 participant(s) in the usual_care arm")
    assert out.loc["month_4", "n_control"] == 1 and out.loc["month_4", "n_treated"] == 30
    assert out.loc["month_12", "status"] == "estimated"


def test_ancova_constant_baseline_is_a_singular_design():
    from outcomes.errors import SingularDesign

    d = _data(np.random.default_rng(7))
    d["BASE"] = 40.0
    with pytest.raises(SingularDesign, match="BASE is constant"):
        fit_ancova(d, treated_arm="peer_support", control_arm="usual_care")


def test_ancova_site_with_one_arm_only_makes_a_duplicated_column():
    from outcomes.errors import SingularDesign

    d = _data(np.random.default_rng(8))
    d["SITEID"] = np.where(d["ARM"] == "peer_support", "S2", "S1")  # site = arm
    with pytest.raises(SingularDesign, match=r"SITEID\[S2\] is a linear combination"):
        fit_ancova(d, treated_arm="peer_support", control_arm="usual_care")
    adqs, adsl = _adqs()
    adsl["SITEID"] = np.where(adsl["ARM"] == "peer_support", "S2", "S1")
    out = _run(adqs, adsl, rows=None)
    assert (out["status"] == "not estimable").all()
    assert out["reason"].str.contains("rank-deficient").all()


def test_no_residual_degree_of_freedom_is_not_estimable():
    from outcomes.errors import NotEstimable

    d = _data(np.random.default_rng(9), n=4)
    d["SITEID"] = ["S1", "S1", "S2", "S2"]
    with pytest.raises(NotEstimable, match="4 complete cases for 4 coefficients"):
        fit_ancova(d, treated_arm="peer_support", control_arm="usual_care")


def test_ols_is_statsmodels_bit_for_bit():
    """``ols`` does statsmodels OLS's operations (pseudo-inverse by SVD): the same bits,
    also when the pseudo-inverse is reused for a second outcome on the same design, and
    on a design in Fortran order (the layout ancova_design makes)."""
    import statsmodels.api as sm

    from outcomes.questionnaires import ols

    rng = np.random.default_rng(4)
    for n, p in ((12, 3), (200, 7), (600, 13)):
        X = np.asfortranarray(np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))]))
        basis: dict = {}
        for _ in range(2):
            y = X @ rng.normal(size=p) + rng.normal(size=n)
            ref = sm.OLS(y, X).fit()
            fit = ols(y, X, 0.1, basis)
            ci = ref.conf_int(0.1)
            for ours, theirs in ((fit.params, ref.params), (fit.bse, ref.bse),
                                 (fit.cov, ref.cov_params()), (fit.pvalues, ref.pvalues),
                                 (fit.ci_low, ci[:, 0]), (fit.ci_high, ci[:, 1])):
                assert ours.tobytes() == np.asarray(theirs).tobytes()
            assert fit.df_resid == ref.df_resid
