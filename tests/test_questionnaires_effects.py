"""The questionnaire ANCOVA's adjustment for the plan's stratifiers, the adjusted means by
arm and Hedges' g (outcomes.questionnaires, outcomes.ancova_effects) against independent
references.

- R ``lm`` with ``predict`` averaged over every participant with the arm set to each arm
  (tests/r/ancova.R): the difference, each adjusted mean, its SE and CI, the raw SDs and
  Hedges' g (R's own code of the closed form) to 1e-8 relative. Both sides solve the same
  least-squares problem by QR in double precision on 300 rows, so they agree to about
  1e-12; 1e-8 is the issue's bound.
- Hedges' g against the worked example of Borenstein, Hedges, Higgins & Rothstein
  (Introduction to Meta-Analysis, 2009, §4.2: means 103 and 100, SDs 5.5 and 4.5, 50 per
  group: d = 0.5970, V_d = 0.0418, J = 0.9923, g = 0.5924, V_g = 0.0411, SE_g = 0.2028),
  to the 4 decimals printed (5e-5).
- The plan key ``stratifiers``: the default, ``survival.primary_covariates`` following it,
  a stratifier absent from ADSL named.

Needs Rscript for the R test (r-base-core): skipped with the reason without it, failed
under CI.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rscript import R_DIR, require_r

from outcomes.ancova_effects import adjusted_means, hedges_g, pooled_sd
from outcomes.errors import ConfigError, NotEstimable
from outcomes.plan import AnalysisPlan
from outcomes.questionnaires import fit_ancova, questionnaire_ancova

ARMS = dict(treated_arm="peer_support", control_arm="usual_care")
RTOL = 1e-8


def trial(seed: int = 11, n: int = 300) -> pd.DataFrame:
    """A trial with three sites and four diagnosis groups (one participant's unknown: its
    own level), both prognostic, unequal arms."""
    rng = np.random.default_rng(seed)
    arm = np.where(rng.random(n) < 0.55, "peer_support", "usual_care")
    site = rng.choice(["S1", "S2", "S3"], n)
    diag = rng.choice(["psychosis", "bipolar", "depression_anxiety", "other"], n).astype(object)
    diag[7] = None
    base = rng.normal(45, 8, n)
    aval = (12 + 0.6 * base + 2.5 * (arm == "peer_support") + 1.5 * (site == "S2")
            - 2.0 * (diag == "bipolar") + rng.normal(0, 6, n))
    aval[:12] = np.nan
    return pd.DataFrame({"ARM": arm, "SITEID": site, "DIAGGR": diag, "AVAL": aval,
                         "BASE": base})


def r_ancova(d: pd.DataFrame, strat: tuple[str, ...]) -> pd.DataFrame:
    tmp = Path(tempfile.mkdtemp(prefix="ancova-r-"))
    cc = d.loc[d["AVAL"].notna() & d["BASE"].notna()]
    frame = cc.assign(TRT=(cc["ARM"] == ARMS["treated_arm"]).astype(int)).drop(columns="ARM")
    frame.to_csv(tmp / "data.csv", index=False, float_format="%.17g")
    r = subprocess.run(["Rscript", str(R_DIR / "ancova.R"), str(tmp / "data.csv"),
                        ",".join(strat), str(tmp / "out.tsv")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return pd.read_csv(tmp / "out.tsv", sep="\t")


def test_adjusted_means_and_hedges_g_equal_r_lm_and_predict():
    require_r(("stats",), "r-base-core")
    d = trial()
    res = fit_ancova(d, **ARMS, stratifiers=("SITEID", "DIAGGR"))
    r = r_ancova(d, ("SITEID", "DIAGGR"))
    assert len(res.adjusted) == 2
    ours = [(res.estimate, res.std_error, res.ci_low, res.ci_high, res.p_value, res.n, res.df),
            *[(m.estimate, m.std_error, m.ci_low, m.ci_high, math.nan, m.n, m.df)
              for m in res.adjusted],
            (res.hedges.estimate, res.hedges.std_error, res.hedges.ci_low, res.hedges.ci_high,
             math.nan, res.n, res.hedges.df)]
    cols = ["estimate", "std_error", "ci_low", "ci_high", "p_value", "n", "df"]
    np.testing.assert_allclose(np.array(ours, dtype=float), r[cols].to_numpy(dtype=float),
                               rtol=RTOL)
    np.testing.assert_allclose([res.sd_treated, res.sd_control, res.hedges.sd_pooled],
                               r["sd"].to_numpy()[1:], rtol=RTOL)
    # the adjusted means differ by exactly the adjusted mean difference
    assert res.adjusted[0].estimate - res.adjusted[1].estimate == pytest.approx(
        res.estimate, rel=1e-12)
    # the diagnosis group changes the estimate: it is adjusted for
    site_only = fit_ancova(d, **ARMS, stratifiers=("SITEID",))
    assert abs(site_only.estimate - res.estimate) > 1e-3


def test_hedges_g_equals_the_published_worked_example():
    s = pooled_sd(5.5, 4.5, 50, 50)
    g = hedges_g(103.0 - 100.0, s * math.sqrt(1 / 50 + 1 / 50), math.inf, 5.5, 4.5, 50, 50)
    assert g.sd_pooled == pytest.approx(5.0249, abs=5e-5)
    assert g.j == pytest.approx(0.9923, abs=5e-5)
    assert g.estimate / g.j == pytest.approx(0.5970, abs=5e-5)  # d
    assert (g.std_error / g.j) ** 2 == pytest.approx(0.0418, abs=5e-5)  # V_d
    assert g.estimate == pytest.approx(0.5924, abs=5e-5)
    assert g.std_error**2 == pytest.approx(0.0411, abs=5e-5)
    assert g.std_error == pytest.approx(0.2028, abs=5e-5)
    assert (g.ci_low, g.ci_high) == pytest.approx(
        (g.estimate - 1.959964 * g.std_error, g.estimate + 1.959964 * g.std_error), abs=1e-6)


def test_hedges_g_without_a_spread_is_not_estimable():
    with pytest.raises(NotEstimable, match="pooled SD of the score is 0"):
        hedges_g(1.0, 0.5, 10, 0.0, 0.0, 6, 6)
    with pytest.raises(NotEstimable, match="a pooled SD needs 2 per arm"):
        hedges_g(1.0, 0.5, 10, 1.0, math.nan, 6, 1)


def test_adjusted_means_average_the_design_with_the_arm_set():
    """x̄_a'β and sqrt(x̄_a' V x̄_a): one covariate, by hand."""
    exog = np.array([[1, 1, 2.0], [1, 0, 4.0], [1, 1, 6.0], [1, 0, 0.0]])
    beta, cov = np.array([1.0, 2.0, 0.5]), np.diag([0.25, 0.5, 0.01])
    t, c = adjusted_means(beta, cov, exog, ("T", "C"), (2, 2), (1.0, 1.0))
    assert t.estimate == pytest.approx(1 + 2 + 0.5 * 3) and c.estimate == pytest.approx(2.5)
    assert t.std_error == pytest.approx(math.sqrt(0.25 + 0.5 + 9 * 0.01))
    assert c.std_error == pytest.approx(math.sqrt(0.25 + 9 * 0.01))
    assert t.ci_high - t.estimate == pytest.approx(12.706204736 * t.std_error, rel=1e-9)


def test_stratifiers_plan_key_is_the_one_source():
    plan = AnalysisPlan.from_config({})
    assert plan.stratifiers == ("SITEID", "DIAGGR")
    assert plan.survival["primary_covariates"] == ["SITEID", "DIAGGR"]
    plan = AnalysisPlan.from_config({"stratifiers": ["SITEID"]})
    assert plan.survival["primary_covariates"] == ["SITEID"]
    # an older plan's explicit list keeps its meaning
    old = AnalysisPlan.from_config({"survival": {"primary_covariates": ["SITEID", "SEX"]}})
    assert old.survival["primary_covariates"] == ["SITEID", "SEX"]
    assert old.stratifiers == ("SITEID", "DIAGGR")


def test_a_stratifier_absent_from_adsl_is_named():
    d = trial(n=40)
    adsl = pd.DataFrame({"USUBJID": [f"P{i}" for i in range(40)], "ARM": d["ARM"],
                         "SITEID": d["SITEID"]})
    adqs = pd.DataFrame({"USUBJID": list(adsl["USUBJID"]) * 2, "PARAMCD": "WEMWBS",
                         "PARAM": "WEMWBS", "AVISIT": ["baseline"] * 40 + ["month_12"] * 40,
                         "ABLFL": ["Y"] * 40 + [""] * 40,
                         "AVAL": np.r_[d["BASE"], d["AVAL"]]})
    with pytest.raises(ConfigError, match="config key 'stratifiers': 'DIAGGR' is not a "
                                          "column of ADSL"):
        questionnaire_ancova(adqs, adsl, **ARMS, visits=("month_12",))
