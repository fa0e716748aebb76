"""The survival stage as the pipeline runs it: every analysis of the plan in one table."""

import numpy as np
import pandas as pd
import pytest

from outcomes.adam import derive_all
from outcomes.plan import AnalysisPlan
from outcomes.simulate import simulate
from outcomes.survival.run import run_survival, write_survival
from outcomes.survival.tables import write_tsv


@pytest.fixture(scope="module")
def derived():
    tables, truth = simulate(n=400, seed=11, truth_n=2000)
    frames = {k: v.to_frame() for k, v in tables.items()}
    plan = AnalysisPlan.from_config({"data_cut": truth["meta"]["data_cut"], "survival": {"hospital_days_n_boot": 200}})
    return derive_all(frames, plan), plan


def test_every_planned_analysis_is_in_the_table(derived, tmp_path):
    ds, plan = derived
    res = run_survival(ds["adsl"], ds["adtte"], ds["adre"], plan, plan.rng("survival"))
    t = res.table
    for analysis, etype in [
        ("primary", "odds_ratio"),
        ("primary", "risk_difference"),
        ("community_tenure", "hazard_ratio"),
        ("community_tenure", "logrank_hazard_ratio"),
        ("community_tenure", "rmst_difference"),
        ("community_tenure", "ph_test_chisq"),
        ("detained_readmission", "hazard_ratio"),
        ("competing_risks", "cif_difference"),
        ("recurrent_readmission", "rate_ratio"),
        ("days_in_hospital", "mean_difference"),
    ]:
        assert ((t["analysis"] == analysis) & (t["estimate_type"] == etype)).any(), (analysis, etype)
    for col in ("analysis", "outcome", "contrast", "estimate_type", "estimate", "ci_low", "ci_high", "p_value", "n", "events"):
        assert col in t.columns
    paths = write_survival(res, tmp_path / "tables", tmp_path / "figures")
    assert all(p.stat().st_size > 0 for p in paths)
    again = run_survival(ds["adsl"], ds["adtte"], ds["adre"], plan, plan.rng("survival"))
    pd.testing.assert_frame_equal(t, again.table)


def test_infinite_medians_are_written_as_na(tmp_path):
    t = pd.DataFrame({"estimate": [np.inf, 1.0], "ci_high": [np.inf, -np.inf]})
    write_tsv(t, tmp_path / "x.tsv")
    assert (tmp_path / "x.tsv").read_text().splitlines()[1:] == ["NA\tNA", "1\tNA"]
