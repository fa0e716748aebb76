"""Simulation-study definition and runner (outcomes.simstudy.study / run): the study file's
checks, the grid and seed streams, the rows a replicate gives, batching that changes
nothing, and the summary's layout."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from outcomes.errors import ConfigError
from outcomes.simstudy import performance, run_batch, study_from_config, summarise
from outcomes.simstudy.run import estimand_row

ROOT = Path(__file__).resolve().parents[1]
PRIMARY_OR = {"name": "primary_or", "table": "primary", "scale": "log",
              "where": {"analysis": "primary", "clustering": "none", "estimate_type": "odds_ratio"},
              "truth": "readmission.risk_365_no_death.odds_ratio"}


def _config(**changes):
    cfg = {"name": "tiny", "seed": 5, "replicates": 3, "batch_size": 2, "truth_n": 1000,
           "plan": "config/test.yaml", "analyses": ["primary"],
           "plan_overrides": {},
           "scenarios": {"n": [100], "effect_scale": [0.0, 1.0]}, "estimands": [PRIMARY_OR]}
    cfg.update(changes)
    return cfg


def test_grid_batches_and_seed_streams():
    study = study_from_config(_config(scenarios={"icc": [0.0, 0.05], "n": [100, 200]}), ROOT)
    # the file's key order does not matter: n varies slowest
    assert [(s.id, s.n, s.settings.icc) for s in study.scenarios] == [
        ("s01", 100, 0.0), ("s02", 100, 0.05), ("s03", 200, 0.0), ("s04", 200, 0.05)]
    assert study.scenarios[1].label == "n = 100, icc = 0.05"
    assert (study.n_batches, list(study.batch(0)), list(study.batch(1))) == (2, [0, 1], [2])
    s1, s2 = study.scenarios[:2]
    seeds = {study.trial_seed(s, r) for s in (s1, s2) for r in range(3)}
    seeds |= {study.analysis_seed(s, r) for s in (s1, s2) for r in range(3)}
    assert len(seeds) == 12 and all(0 <= x < 2**63 for x in seeds)
    again = study_from_config(_config(scenarios={"icc": [0.0, 0.05], "n": [100, 200]}), ROOT)
    assert again.trial_seed(s2, 2) == study.trial_seed(s2, 2)
    assert study.parameters_seed() == again.parameters_seed()


@pytest.mark.parametrize("changes, message", [
    ({"replicats": 3}, "replicats"),
    ({"scenarios": {"n": [100], "missingness": ["mar"], "mnar_delta": [-3.0]}}, "scenario s01"),
    ({"scenarios": {"n": [10]}}, "scenarios.n"),
    ({"estimands": [PRIMARY_OR, PRIMARY_OR]}, "unique"),
    ({"plan_overrides": {"survival": {"hospital_days_n_boot": 5}}}, "study's plan"),
    ({"plan": "config/nope.yaml"}, "does not exist"),
    ({"power": {"estimand": "nope"}}, "power.estimand 'nope'"),
    ({"power": {"estimand": "primary_or"}}, "at least two values of it"),
])
def test_a_bad_study_file_is_a_config_error_naming_the_problem(changes, message):
    with pytest.raises(ConfigError, match=message):
        study_from_config(_config(**changes), ROOT)


def test_an_estimand_of_an_analysis_not_run_is_refused():
    cace = {"name": "cace", "table": "cace", "where": {"analysis": "cace"}, "truth": 1.0}
    study = study_from_config(_config(estimands=[cace]), ROOT)
    with pytest.raises(ConfigError, match="needs the analysis 'engagement'"):
        run_batch(study, study.scenarios[0], 0)


def test_estimand_rows_on_their_scale_and_when_not_estimable():
    study = study_from_config(_config(), ROOT)
    sc, est = study.scenarios[0], study.estimands[0]
    table = pd.DataFrame({"analysis": ["primary", "primary"], "clustering": ["none", "peer_worker"],
                          "estimate_type": ["odds_ratio"] * 2, "estimate": [0.5, 0.6],
                          "std_error": [0.2, 0.3], "ci_low": [0.25, 0.3], "ci_high": [1.0, 1.2],
                          "p_value": [0.04, 0.1], "status": ["estimated"] * 2, "reason": ["", ""]})
    row = estimand_row({"primary": table}, sc, 7, est)
    assert row["estimate"] == pytest.approx(math.log(0.5)) and row["se"] == 0.2
    assert (row["lower"], row["upper"]) == pytest.approx((math.log(0.25), 0.0))
    assert (row["replicate"], row["status"]) == (7, "estimated")
    failed = table.assign(estimate=[np.nan, 0.6], status=["not estimable", "estimated"],
                          reason=["too few events", ""])
    row = estimand_row({"primary": failed}, sc, 7, est)
    assert (row["status"], row["reason"]) == ("not estimable", "too few events")
    row = estimand_row({"primary": table.iloc[1:]}, sc, 7, est)
    assert row["status"] == "not estimable" and "no row" in row["reason"]
    with pytest.raises(ConfigError, match="picks 2 rows"):
        estimand_row({"primary": table.assign(clustering="none")}, sc, 7, est)


@pytest.mark.slow
def test_a_replicate_is_the_same_whatever_batch_it_is_run_in():
    """Replicate 1 at n = 100 run alone (batches of 1) and second in a batch of 2: the same
    row, so batching and reruns change nothing; replicates 0 and 1 differ."""
    alone = study_from_config(_config(replicates=2, batch_size=1), ROOT)
    pair = study_from_config(_config(replicates=2, batch_size=2), ROOT)
    sc = alone.scenarios[0]
    one = run_batch(alone, sc, 1)
    both = run_batch(pair, sc, 0)
    assert list(both["replicate"]) == [0, 1] and set(both["status"]) == {"estimated"}
    pd.testing.assert_frame_equal(one, both.iloc[1:].reset_index(drop=True))
    assert both["estimate"].nunique() == 2


def test_summary_has_the_factors_and_the_performance_of_each_estimand():
    study = study_from_config(_config(), ROOT)
    rng = np.random.default_rng(1)
    rows = []
    for sc in study.scenarios:
        for r in range(study.replicates):
            est = float(rng.normal(-0.4, 0.3))
            rows.append({"scenario": sc.id, "replicate": r, "estimand": "primary_or",
                         "estimate": est, "se": 0.3, "lower": est - 0.6, "upper": est + 0.6,
                         "p_value": 0.2, "status": "estimated", "reason": ""})
    reps = pd.DataFrame(rows)
    truths = {sc.id: {"readmission": {"risk_365_no_death": {"odds_ratio": 0.7}}}
              for sc in study.scenarios}
    out = summarise(study, reps, truths)
    assert list(out.columns[:4]) == ["scenario", "n", "effect_scale", "estimand"]
    assert len(out) == 2 * 8
    s2 = out.loc[out["scenario"] == "s02"].set_index("measure")
    want = performance(reps.loc[reps["scenario"] == "s02"], true_value=math.log(0.7))
    assert s2.loc["bias", "estimate"] == want.values["bias"]
    assert s2.loc["coverage", "mcse"] == want.mcse["coverage"]
    with pytest.raises(ValueError, match="2 replicates"):
        summarise(study, reps.loc[reps["replicate"] < 2], truths)
