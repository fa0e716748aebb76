"""benchmarks/cace_recovery.py cannot silently rot: its replicate trials are the
simulator's, and its per-replicate function, on two small replicates, gives the rows the
summary needs with the Wald identity (no covariates: CACE = ITT / compliance) holding.

The benchmark itself (500 replicates, docs/cace.md "Truth recovery") is not run here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_module import load_benchmark

from outcomes.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261203


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("cace_recovery")


@pytest.fixture(scope="module")
def small_truth():
    """A selective-engagement trial of 200 and its truth (smallest truth population)."""
    return simulate(200, SEED, truth_n=1000, engagement="selective")


def test_replicate_tables_are_the_simulators(bench, small_truth):
    """Trial seed = parameter seed: exactly ``simulate``'s tables (the benchmark's streams
    are the simulator's, only the trial streams change between replicates)."""
    tables = bench.replicate_tables(200, SEED, params_seed=SEED)
    for name, table in small_truth[0].items():
        assert tables[name].columns == table.columns
        assert tables[name].rows == table.rows, name
    other = bench.replicate_tables(200, [SEED, 1], params_seed=SEED)
    assert other["participants"].rows != tables["participants"].rows


def test_replicate_rows_and_the_wald_identity(bench, small_truth):
    truth = small_truth[1]
    plan = bench.analysis_plan()
    rows = []
    for r in (0, 1):
        rows += bench.cace_replicate(r, seed=SEED, n=200, truth=truth, plan=plan,
                                     params_seed=SEED, m=2, iterations=2,
                                     paramcds=("WEMWBS",), adjust=False)
    df = bench.pd.DataFrame(rows)
    # 2 replicates x (WEMWBS at month 4 and 12, readmission) x 5 estimators, HC1 only
    assert len(df) == 2 * 3 * len(bench.ESTIMATORS)
    assert (df["status"] == "estimated").all(), df.loc[df["status"] != "estimated", "reason"]
    assert set(df["estimator"]) == set(bench.ESTIMATORS) and set(df["variance"]) == {"HC1"}
    assert list(df["seed"].unique()) == [f"{SEED},0", f"{SEED},1"]
    for c in ("estimate", "std_error", "ci_low", "ci_high", "truth", "own_truth"):
        assert np.isfinite(df[c]).all(), c
    assert (df["ci_low"] < df["estimate"]).all() and (df["estimate"] < df["ci_high"]).all()
    eng = truth["engagement"]
    key = df.set_index(["rep", "outcome", "visit", "estimator"])
    assert key.loc[(0, "WEMWBS", "month_12", "cace"), "truth"] == \
        eng["scores"]["month_12"]["WEMWBS"]["cace"]
    assert key.loc[(0, "READMIT", "365_days", "dose_response"), "truth"] == \
        eng["readmission"]["cuminc_365_death_competing"]["effect_per_contact"]
    # Wald: without covariates the CACE is the ITT over the compliance (the first stage),
    # exactly, also pooled over imputations (the analysed participants, hence the first
    # stage, are the same in every imputation)
    cace = df[df["estimator"] == "cace"].set_index(["rep", "outcome", "visit"])
    itt = df[df["estimator"] == "itt"].set_index(["rep", "outcome", "visit"])
    compliance = cace["first_stage"]
    assert ((compliance > 0.5) & (compliance < 0.9)).all()
    np.testing.assert_allclose(cace["estimate"], itt["estimate"] / compliance, rtol=1e-10)
    # the MI rows pooled something (fmi > 0); readmission has nothing to impute
    assert (cace.xs("month_12", level="visit")["fmi"].dropna() >= 0).all()
    assert (df.loc[df["outcome"] == "READMIT", "fmi"] == 0).all()
    summ = bench.summary_table(df)
    assert len(summ) == 3 * len(bench.ESTIMATORS) and (summ["reps"] == 2).all()
    assert {"bias", "empirical_sd", "coverage_%", "own_truth", "not_estimable"} <= set(summ.columns)
