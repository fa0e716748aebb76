"""The property of benchmarks/clustering_oc.py, small enough for CI: on 400 replicate
trials of 30 peer workers × 10 participants and 300 controls with ICC 0.10 and no effect,
the naive ANCOVA rejects too often and the partially nested model does not.

The benchmark (20,000 replicates, docs/clustering.md) measured 10.60% for the naive
analysis (theory 10.4%) and 5.25% for the partially nested one; these 400 replicates give
10.25% and 5.75%. With 400 replicates the binomial MC SE is 1.5 points at 10.4% and 1.1
points at 5%: the bound 7.5% is 2.3 SE above 5% and 1.9 SE below 10.4%. The replicates are
seeded, so the test is deterministic; it checks that the same bound separates the two
analyses on the same trials.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_module import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
REPS, BOUND = 400, 0.075


@pytest.fixture(scope="module")
def oc():
    return load_benchmark("clustering_oc")


def test_partially_nested_holds_the_type_i_error_the_naive_analysis_does_not(oc):
    df = oc.run(REPS, [0.10], [0.0], seed=20261201)
    s = oc.summarise(df).set_index("analysis")
    assert (s["reps"] == REPS).all() and (s["not_estimable"] == 0).all()
    assert s.at["peer_worker", "reject"] <= BOUND < s.at["naive", "reject"]
    # the reason: the naive SE is too small, the mixed model's matches the estimates' SD
    sd = s.at["naive", "sd_estimate"]
    assert s.at["naive", "mean_se"] < 0.9 * sd
    assert s.at["peer_worker", "mean_se"] == pytest.approx(sd, rel=0.1)
    assert np.isfinite(s.at["peer_worker", "mean_df"]) and s.at["peer_worker", "mean_df"] < 200
