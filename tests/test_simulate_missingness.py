"""Missingness scenarios of the simulator (issue 12 point 1; docs/synthetic-trial.md §9).

The default scenario is today's mechanism: tests/test_bundled_data.py regenerates the
bundled extract byte for byte. Here: the flag, shared draws across scenarios, realised
rates, the truth.json record, the MNAR shift, and a fast one-replicate version of the
bias property measured by benchmarks/missingness_bias.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from benchmark_module import load_benchmark

from outcomes import contract
from outcomes.cli import main
from outcomes.instruments import load_registry
from outcomes.simulate import simulate, table_to_csv
from outcomes.simulate.missingness import ScenarioError, expected_sum_score, latent_shift, scenario
from outcomes.simulate.parameters import MISSINGNESS

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = tuple(MISSINGNESS)
OTHER_TABLES = ("participants", "admissions", "peer_contacts")


def _benchmark():
    return load_benchmark("missingness_bias")


@pytest.fixture(scope="module")
def runs():
    """One trial (n = 3,000, seed 12) under every scenario; a small truth population."""
    return {sc: simulate(3_000, 12, truth_n=4_000, missingness=sc) for sc in SCENARIOS}


def _rows(tables) -> pd.DataFrame:
    q = tables["questionnaires"].to_frame()
    return q.set_index(["participant_id", "visit"])


def test_scenarios_share_every_draw_but_which_questionnaires_are_missing(runs):
    base = runs["default"][0]
    base_q = _rows(base)
    for sc in SCENARIOS:
        tables = runs[sc][0]
        for name in OTHER_TABLES:
            assert table_to_csv(tables[name]) == table_to_csv(base[name]), (sc, name)
        q = _rows(tables)
        both = q.index.intersection(base_q.index)
        answered = (q.loc[both, "completion_date"] != "") & (base_q.loc[both, "completion_date"] != "")
        keys = both[answered.to_numpy()]
        # a questionnaire answered in both scenarios is the same answer, item for item
        pd.testing.assert_frame_equal(q.loc[keys], base_q.loc[keys])
        assert (q.xs("baseline", level="visit").equals(base_q.xs("baseline", level="visit")))
    differs = set(_rows(runs["mar"][0]).index) ^ set(base_q.index)
    assert len(differs) > 100  # mar does change which follow-ups are missing
    # pattern mixture: the shifted values are never observed, so mnar's extract is mar's
    for name in contract.TABLE_FILES:
        assert table_to_csv(runs["mnar"][0][name]) == table_to_csv(runs["mar"][0][name]), name


def _no_questionnaire(tables) -> dict[tuple[str, str], float]:
    par = tables["participants"].to_frame()
    q = tables["questionnaires"].to_frame()
    done = q[q["completion_date"] != ""]
    out = {}
    for visit in ("month_4", "month_12"):
        seen = set(done.loc[done["visit"] == visit, "participant_id"])
        for arm, ids in par.groupby("arm")["participant_id"]:
            out[(visit, arm)] = 1 - ids.isin(seen).mean()
    return out


def test_realised_missing_rates_are_in_the_documented_ranges_and_recorded(runs):
    for sc in SCENARIOS:
        tables, truth = runs[sc]
        rates = _no_questionnaire(tables)
        all4 = np.mean([rates[("month_4", a)] for a in contract.ARMS])
        all12 = np.mean([rates[("month_12", a)] for a in contract.ARMS])
        # docs/synthetic-trial.md §9: about 11-16% at month 4 and 23-30% at month 12
        assert 0.10 <= all4 <= 0.17, (sc, all4)
        assert 0.22 <= all12 <= 0.31, (sc, all12)
        assert truth["missingness"]["scenario"] == sc  # every scenario, default included
        rec = truth["missingness"]["realised"]
        for (visit, arm), rate in rates.items():
            assert rec[visit][arm]["no_questionnaire"] == pytest.approx(rate, abs=1e-6), (sc, visit, arm)
            r = rec[visit][arm]
            total = r["died_before_visit"] + r["withdrawn_before_visit"] + r["missed"]
            assert total == pytest.approx(r["no_questionnaire"], abs=1e-5)
            assert r["wemwbs_missing"] >= r["no_questionnaire"]
    mcar = _no_questionnaire(runs["mcar"][0])
    assert abs(mcar[("month_12", "peer_support")] - mcar[("month_12", "usual_care")]) < 0.05
    mar = _no_questionnaire(runs["mar"][0])
    assert mar[("month_12", "usual_care")] - mar[("month_12", "peer_support")] > 0.02


def test_truth_json_records_the_scenario(runs):
    for sc in ("mcar", "mar", "mnar"):
        block = runs[sc][1]["missingness"]
        assert block["scenario"] == sc
        assert block["parameters"]["name"] == sc
        assert tuple(block["parameters"]["intercept"]) == MISSINGNESS[sc].intercept
    assert runs["mar"][1]["missingness"]["mnar_delta"] == {"peer_support": 0.0, "usual_care": 0.0}
    assert runs["mnar"][1]["missingness"]["mnar_delta"] == {"peer_support": -5.0, "usual_care": -5.0}
    # the truth is the potential-outcome truth: the same in every scenario but mnar's
    # month-12 WEMWBS (and the SWEMWBS scores, from the same items)
    t = {sc: runs[sc][1] for sc in SCENARIOS}
    for sc in ("mcar", "mar"):
        for key in ("scores", "mediation", "readmission", "parameters"):
            assert t[sc][key] == t["default"][key], (sc, key)
    m12_mar, m12_mnar = t["mar"]["scores"]["month_12"], t["mnar"]["scores"]["month_12"]
    changed = {p for p in m12_mar if m12_mar[p] != m12_mnar[p]}
    from_wemwbs_items = {s.paramcd for inst in load_registry().values()
                         if "wemwbs" in (inst.key, inst.source_instrument) for s in inst.scores}
    assert changed == from_wemwbs_items == {"WEMWBS", "SWEMWBS", "SWEMRAW"}
    assert t["mnar"]["mediation"] == t["mar"]["mediation"]


def test_mnar_shift_is_delta_on_the_expected_score(runs):
    truth = runs["mnar"][1]
    block = truth["missingness"]
    for arm in contract.ARMS:
        pop = block["mnar_truth_population"][arm]
        assert pop["mean_score_shift"] == pytest.approx(-5.0, abs=0.25)
        assert 0.15 <= pop["shifted_share"] <= 0.35
        assert block["mnar_trial"][arm]["mean_score_shift"] == pytest.approx(-5.0, abs=0.5)
        # the replayed follow-up of the population misses about as often as the trial
        trial_share = block["mnar_trial"][arm]["shifted"] / block["realised"]["month_12"][arm]["n"]
        assert pop["shifted_share"] == pytest.approx(trial_share, abs=0.04)
    # the mean of each arm moves by delta x (share shifted), so the difference by the
    # difference of those products
    mar = runs["mar"][1]["scores"]["month_12"]["WEMWBS"]
    mnar = truth["scores"]["month_12"]["WEMWBS"]
    for arm in contract.ARMS:
        pop = block["mnar_truth_population"][arm]
        assert mnar[arm] - mar[arm] == pytest.approx(pop["shifted_share"] * pop["mean_score_shift"], abs=1e-3)


def test_latent_shift_moves_the_expected_score_by_delta_up_to_the_floor():
    from outcomes.simulate.items import item_model
    from outcomes.simulate.parameters import LATENT

    im = item_model(load_registry()["wemwbs"], LATENT["wemwbs"])
    theta = np.array([-3.0, -1.0, 0.0, 1.0, 2.5])
    delta = np.full(theta.size, -5.0)
    es = expected_sum_score(im, theta)
    moved = expected_sum_score(im, theta + latent_shift(im, theta, delta))
    room = es - 14.0 > 5.0
    np.testing.assert_allclose((moved - es)[room], -5.0, atol=1e-6)
    assert (moved[~room] - 14.0 < 0.01).all()  # no room: the expected score goes to the floor
    assert room.sum() >= 3


def test_flag_and_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("outcomes.simulate.DEFAULT_TRUTH_N", 1_000)
    out = tmp_path / "mnar"
    assert main(["simulate", "--n", "40", "--seed", "2", "--out", str(out), "--missingness", "mnar",
                 "--mnar-delta", "-3", "1"]) == 0
    assert "missingness mnar" in capsys.readouterr().out
    block = json.loads((out / "truth.json").read_text())["missingness"]
    assert block["mnar_delta"] == {"peer_support": -3.0, "usual_care": 1.0}
    assert main(["simulate", "--n", "40", "--seed", "2", "--out", str(out), "--missingness", "mar",
                 "--mnar-delta", "-3"]) == 2
    assert "--mnar-delta needs --missingness mnar" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["simulate", "--n", "40", "--seed", "2", "--out", str(out), "--missingness", "nmar"])
    with pytest.raises(ScenarioError, match="one or two finite numbers"):
        scenario("mnar", (1.0, 2.0, 3.0))
    assert scenario("mnar", -2).mnar_delta == (-2.0, -2.0)


def test_complete_cases_are_biased_under_strong_mar_not_under_mcar(runs):
    """The bias property of benchmarks/missingness_bias.py on one paired replicate (the
    module's trial, n = 3,000): the complete-case ANCOVA of WEMWBS at month 12 under mar
    exceeds the same trial's estimate under mcar by more than 0.2 points, and under mcar it
    is within 3.5 SE of the truth.

    Expected mar − mcar difference 0.64 points (benchmark, 200 replicates of n = 600: mean
    0.644, SD 0.449); its SD at n = 3,000 is ≈ 0.449 * sqrt(600 / 3,000) ≈ 0.20, so a
    correct simulator falls below 0.2 with probability ≈ 1.4%, and a mechanism that lost
    its strong dependence (expected difference 0) passes with probability ≈ 16%. This
    seed gives 0.745.
    """
    bench = _benchmark()
    plan = bench.analysis_plan()
    est = {sc: bench.complete_case_ancova(runs[sc][0], plan) for sc in ("mcar", "mar")}
    true = runs["mcar"][1]["scores"]["month_12"]["WEMWBS"]["difference"]
    assert est["mar"]["estimate"] - est["mcar"]["estimate"] > 0.2
    z = (est["mcar"]["estimate"] - true) / est["mcar"]["std_error"]
    assert abs(z) < 3.5, z


def _mi_recovery():
    return load_benchmark("mi_recovery")


@pytest.fixture(scope="module")
def recovery(runs):
    """The mar trial of ``runs`` (n = 3,000, seed 12; the mnar extract is the same bytes)
    derived on benchmarks/mi_recovery.py's plan and imputed as there, cheaper: m = 5,
    5 sweeps, pmm by arm. Returns the truth, the complete-case fit and (δ_t, δ_c) -> the
    pooled ANCOVA of the δ-adjusted imputations (δ added once, ``final``)."""
    from outcomes.imputation.frame import imputation_frame
    from outcomes.imputation.mice import impute
    from outcomes.imputation.settings import ImputationSettings
    from outcomes.imputation.tipping import delta_analyser

    bench = _mi_recovery()
    plan = bench.analysis_plan(bench.INSTRUMENTS)
    tables, truth = runs["mar"]
    derived = bench.derive(tables, plan, adtte=True)
    frame = imputation_frame(derived["adsl"], derived["adqs"], derived["adtte"], plan)
    imp = impute(frame, ImputationSettings(m=5, iterations=5), 12)
    analyse = delta_analyser(frame, imp, 12, plan, "WEMWBS", "month_12", "final", 0.05, "")
    return bench.truth_of(truth), bench.cc_ancova(derived), lambda dt, dc: analyse(dt, dc).ancova


def test_mi_recovers_the_truth_under_strong_mar_where_complete_cases_do_not(recovery):
    """The MAR property of benchmarks/mi_recovery.py on one replicate of n = 3,000: MI's
    estimate of WEMWBS at month 12 is within 0.8 points (≈ 2 SE) of the truth, and below the
    complete-case estimate of the same trial by more than 0.3 points.

    Benchmark (200 replicates of n = 600): MI − truth SD 0.92, MI − complete cases mean
    −0.60, SD 0.42, so SDs ≈ 0.41 and 0.19 at n = 3,000. Measured at n = 3,000 (seeds
    12–15; m = 5, 5 sweeps): MI − truth −0.05, +0.10, +0.91, +0.31; MI − complete cases
    −0.80, −0.67, −0.43, −0.99. A correct MI fails the first bound with probability ≈ 5%
    and the second with ≈ 4%; an imputation model without the month-4 scores the
    mechanism depends on is biased like complete cases (MI − complete cases ≈ 0) and
    passes the second with ≈ 6%. This seed: MI − truth −0.05, MI − complete cases −0.80.
    """
    truth, cc, analyse = recovery
    mi = analyse(0.0, 0.0)
    assert abs(mi.estimate - truth) < 0.8, (mi.estimate, truth)
    assert mi.estimate - cc["estimate"] < -0.3, (mi.estimate, cc["estimate"])


def test_delta_adjusted_mi_with_the_true_delta_recovers_the_mnar_truth(recovery):
    """The MNAR property on the same trial: simulated with δ = (−10, 0) (peer support's
    unobserved month-12 WEMWBS 10 points lower than MAR predicts, usual care's at MAR; the
    extract is that of mar), the δ-adjusted MI with that δ is within 1.0 point of the
    MNAR truth, and the MAR analysis (δ = 0) is more than 1.5 points above it.

    The shift moves the MNAR truth by ≈ −10 × 0.22 (the treated share without a month-12
    questionnaire). Measured (seeds 12–15): δ-adjusted MI − MNAR truth −0.47, −0.34,
    +0.73, −0.12; δ = 0 MI − MNAR truth +2.11, +2.30, +3.14, +2.41. The δ-adjusted analysis
    sits ≈ 0.3 below the truth on average because it shifts every imputed value, including
    the ≈ 3% of month-12 WEMWBS missing through a skipped item, which the simulator does
    not shift (docs/imputation.md, *Verification: truth recovery*). A δ given to the
    wrong arm moves the estimate up by ≈ 2.9 instead, and fails.
    """
    _, truth = simulate(3_000, 12, truth_n=4_000, missingness="mnar", mnar_delta=(-10.0, 0.0))
    truth_mnar = truth["scores"]["month_12"]["WEMWBS"]["difference"]
    _, _, analyse = recovery
    adjusted, mar = analyse(-10.0, 0.0), analyse(0.0, 0.0)
    assert abs(adjusted.estimate - truth_mnar) < 1.0, (adjusted.estimate, truth_mnar)
    assert mar.estimate - truth_mnar > 1.5, (mar.estimate, truth_mnar)
