"""ANCOVA against the closed form of the two-group analysis of covariance."""

import numpy as np
import pandas as pd
import pytest

from outcomes.questionnaires import fit_ancova, questionnaire_ancova


def _data(rng, n=200, effect=2.0):
    arm = np.where(np.arange(n) % 2 == 0, "peer_support", "usual_care")
    base = rng.normal(45, 8, n)
    aval = 10 + 0.6 * base + effect * (arm == "peer_support") + rng.normal(0, 5, n)
    return pd.DataFrame({"ARM": arm, "SITEID": "S1", "AVAL": aval, "BASE": base})


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
    assert len(out) == 4
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
