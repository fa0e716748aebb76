"""Recovery of known truths on data simulated from a known DGP (tests/survival_dgp.py).

R = 24 independent trials of n = 800. For each estimand: the mean bias is under 0.5 of the
mean standard error (the Monte Carlo SD of a mean of 24 estimates is 0.2 SE, so this is
about 2.5 MC SDs), and at least 20 of 24 nominal 95% CIs contain the truth (under
correct coverage the chance of fewer than 20 is 0.6%). A single run is deterministic (fixed
seeds); the thresholds say how far off a correct estimator could be.
"""

import numpy as np
import pytest
from survival_dgp import simulate_trial

from outcomes import survival as sv

R, N = 24, 800


@pytest.fixture(scope="module")
def runs():
    out = []
    for seed in range(100, 100 + R):
        adsl, adtte, adre, tr = simulate_trial(N, seed=seed)
        res = {
            "cox": sv.tenure_cox(adtte, adsl=adsl, ph=False),
            "rmst": sv.rmst_difference(adtte, tau=365),
            "cif": sv.cumulative_incidence(adtte),
            "while_alive": sv.readmission_within(adtte, adsl, strategy="while_alive"),
            "composite": sv.readmission_within(adtte, adsl, strategy="composite"),
            "ipcw": sv.readmission_within(adtte, adsl, strategy="hypothetical_ipcw"),
            "km": sv.readmission_within(adtte, adsl, strategy="hypothetical_km"),
            "nb": sv.negative_binomial(adre, adsl),
            "ag": sv.andersen_gill(adre, adsl),
        }
        out.append((res, tr))
    return out


def _check(est, se, truth):
    est, se = np.asarray(est), np.asarray(se)
    bias = est.mean() - truth
    assert abs(bias) < 0.5 * se.mean(), (bias, se.mean())
    covered = (np.abs(est - truth) <= 1.96 * se).sum()
    assert covered >= 20, covered


def test_cox_hazard_ratio(runs):
    k = [r["cox"].terms.index("ARM") for r, _ in runs][0]
    _check([r["cox"].coef[k] for r, _ in runs], [r["cox"].se[k] for r, _ in runs],
           np.log(runs[0][1]["hazard_ratio"]))


def test_rmst_difference(runs):
    _check([r["rmst"].difference for r, _ in runs], [r["rmst"].se_difference for r, _ in runs],
           runs[0][1]["rmst_difference"])


def test_cumulative_incidence_difference(runs):
    rows = [r["cif"].to_frame().iloc[2] for r, _ in runs]
    se = [(x.ci_high - x.ci_low) / (2 * 1.959964) for x in rows]
    _check([x.estimate for x in rows], se, runs[0][1]["cif_difference"])


@pytest.mark.parametrize("key,truth", [("while_alive", "cif_difference"),
                                       ("composite", "risk_composite_difference"),
                                       ("ipcw", "risk_hypothetical_difference"),
                                       ("km", "risk_hypothetical_difference")])
def test_risk_differences_by_strategy(runs, key, truth):
    _check([r[key].rd[0] for r, _ in runs], [r[key].rd[1] for r, _ in runs], runs[0][1][truth])


def test_marginal_odds_ratio_hypothetical(runs):
    _check([r["ipcw"].log_or[0] for r, _ in runs], [r["ipcw"].log_or[1] for r, _ in runs],
           np.log(runs[0][1]["odds_ratio_hypothetical"]))


def test_rate_ratios(runs):
    truth = np.log(runs[0][1]["rate_ratio"])
    _check([r["nb"].params[1] for r, _ in runs], [r["nb"].bse[1] for r, _ in runs], truth)
    _check([r["ag"].coef[0] for r, _ in runs], [r["ag"].robust_se[0] for r, _ in runs], truth)
    alpha = np.mean([r["nb"].alpha for r, _ in runs])
    assert alpha == pytest.approx(runs[0][1]["nb_alpha"], rel=0.15)
