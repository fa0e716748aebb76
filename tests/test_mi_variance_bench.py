"""benchmarks/mi_variance.py cannot silently rot: its restricted imputation models hold
only the variables they name, its ``plan`` model draws the imputations of
cace_recovery.py (so its rows explain that benchmark's), and ``--engagement default`` is
the simulator's default trial.

The benchmark itself (docs/imputation.md, *Rubin's variance when the imputation model is
richer than the analysis*) is not run here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_module import load_benchmark

from outcomes.imputation.mice import design
from outcomes.imputation.settings import ImputationSettings
from outcomes.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261203


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("mi_variance")


@pytest.fixture(scope="module")
def truth():
    return simulate(200, SEED, truth_n=1000, engagement="selective")[1]


def test_default_engagement_is_the_default_trial(bench):
    tables = bench.replicate_tables(200, SEED, params_seed=SEED, engagement="default")
    for name, table in simulate(200, SEED, truth_n=1000)[0].items():
        assert tables[name].rows == table.rows, name


def test_models_and_rows(bench, truth):
    t = {"itt": truth["engagement"]["scores"]["month_12"]["WEMWBS"]["itt"],
         "cace": truth["engagement"]["scores"]["month_12"]["WEMWBS"]["cace"]}
    rows = bench.variance_replicate(0, seed=SEED, n=200, engagement="selective", truth=t, m=2,
                                    iterations=2, models=("plan", "analysis"), params_seed=SEED)
    df = bench.pd.DataFrame(rows)
    # 2 estimators x (complete cases + 2 models at m = 2)
    assert len(df) == 2 * 3 and set(df["model"]) == {"complete_case", "plan", "analysis"}
    assert np.isfinite(df[["estimate", "std_error", "ci_low", "ci_high"]]).all().all()
    assert (df.loc[df["model"] != "complete_case", "b"] > 0).all()
    assert 0 <= df["n_swemraw_observed"].iloc[0] <= df["n_missing"].iloc[0]
    # the analysis model imputes from WEMWBS at baseline and month 12, site (and the
    # indicator of a visit not due, death or data cut) only
    plan = bench.analysis_plan()
    derived = bench.validate_and_derive(
        bench.replicate_tables(200, [SEED, 0], params_seed=SEED), plan)
    frame = bench.imputation_frame(derived["adsl"], derived["adqs"], derived["adtte"], plan)
    names = design(bench.model_frames(frame)["analysis"], ImputationSettings()).names
    assert [n for n in names if not n.startswith(("SITEID[", "NOTDUE_"))] == [bench.BASE, bench.Y]
    # the plan model's pooled ITT is cace_recovery.py's (same imputations, same fit)
    cr = load_benchmark("cace_recovery")
    ref = cr.cace_replicate(0, seed=SEED, n=200, truth=truth, plan=plan, params_seed=SEED,
                            m=2, iterations=2, paramcds=("WEMWBS",))
    ref = {(r["visit"], r["estimator"]): r for r in ref}
    for est in ("itt", "cace"):
        row = df[(df["model"] == "plan") & (df["estimator"] == est)].iloc[0]
        np.testing.assert_allclose(row["estimate"], ref[("month_12", est)]["estimate"], rtol=1e-9)
        np.testing.assert_allclose(row["std_error"], ref[("month_12", est)]["std_error"],
                                   rtol=1e-9)
