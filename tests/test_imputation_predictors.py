"""Predictor selection of the chained equations (``missing_data.predictors``,
src/outcomes/imputation/predictors.py) against R ``mice::quickpred`` and ``cor``.

The correlations are compared to 1e-12 (the same sums in another order: rounding only);
the predictor matrices must be equal cell for cell (a correlation within 1e-12 of mincor
would make that fragile: the test data are checked to have none). Needs Rscript with mice
(Debian r-cran-mice); without it the R test is skipped, unless CI is set, where it fails.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
from rscript import require_r

from outcomes.errors import ConfigError
from outcomes.imputation.frame import ImputationFrame
from outcomes.imputation.mice import design, impute
from outcomes.imputation.predictors import (
    include_columns,
    pairwise_cor,
    quickpred,
    response_cor,
    same_score_columns,
)
from outcomes.imputation.settings import ImputationSettings
from outcomes.plan import PredictorSelection

SCRIPT = "tests/r/quickpred.R"
TOL = 1e-12


def _matrix(n: int = 250, seed: int = 7) -> pd.DataFrame:
    """Columns of every kind the model has: scores with MAR and MCAR gaps, a dummy, an
    indicator, a near-constant column, a complete one, weak and strong correlations."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n)
    site = (rng.random(n) < 0.4).astype(float)
    b = 50 + 0.2 * (age - 40) + rng.normal(0, 8, n)
    m4 = 0.6 * b + 3 * site + rng.normal(0, 6, n)
    m12 = 0.5 * b + 0.3 * m4 + rng.normal(0, 6, n)
    other = 0.05 * b + rng.normal(0, 5, n)
    noise = rng.normal(0, 1, n)
    nearconst = np.where(rng.random(n) < 0.01, 1.0, 0.0)
    m4[rng.random(n) < 1 / (1 + np.exp(-(age - 45) / 5))] = np.nan
    m12[rng.random(n) < 0.35] = np.nan
    other[rng.random(n) < 0.2] = np.nan
    b[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"S_baseline": b, "S_month_4": m4, "S_month_12": m12, "T_month_4": other,
                         "SITEID[B]": site, "AGE": age, "NOISE": noise, "FLAG": nearconst})


def test_pairwise_correlations_equal_pandas():
    x = _matrix()
    ours = pairwise_cor(x.to_numpy())
    ref = x.corr(min_periods=1).to_numpy()  # pandas: pairwise-complete Pearson
    np.testing.assert_allclose(ours, ref, rtol=0, atol=TOL)


def test_response_correlation_by_hand():
    x = _matrix().to_numpy()
    u = response_cor(x)
    r = (~np.isnan(x[:, 1])).astype(float)
    seen = ~np.isnan(x[:, 0])
    want = np.corrcoef(r[seen], x[seen, 0])[0, 1]
    assert u[1, 0] == pytest.approx(want, abs=TOL)
    assert np.isnan(u[5, 0])  # AGE is complete: its indicator is constant


def test_quickpred_rules():
    x = _matrix().to_numpy()
    p = quickpred(x, mincor=0.1)
    assert not p[np.arange(8), np.arange(8)].any()          # never itself
    assert not p[[4, 5, 6, 7]].any()                         # complete columns: no model
    assert p[2, 0] and p[2, 1]                               # strong predictors kept
    assert not p[2, 6]                                       # noise left out
    pi = quickpred(x, mincor=0.1, include=[6])
    assert pi[:4, 6].all() and not pi[4:, 6].any()           # include: every imputed column
    assert not quickpred(x, mincor=0.99).any()
    strict = quickpred(x, mincor=0.0, minpuc=1.0)            # usable cases: all needed
    assert not strict[1, 0]                                  # baseline missing where month 4 is


@pytest.mark.parametrize(("mincor", "minpuc", "include"),
                         [(0.1, 0.0, ()), (0.25, 0.5, ("NOISE",))])
def test_equals_r_quickpred(tmp_path, mincor, minpuc, include):
    require_r(("mice",), "r-base-core r-cran-mice")
    x = _matrix()
    x.to_csv(tmp_path / "in.csv", index=False, na_rep="NA")
    subprocess.run(["Rscript", SCRIPT, str(tmp_path / "in.csv"), str(tmp_path), str(mincor),
                    str(minpuc), ",".join(include)], check=True, capture_output=True, text=True)
    v = pd.read_csv(tmp_path / "cor.csv", na_values=["NA"]).to_numpy()
    u = pd.read_csv(tmp_path / "response_cor.csv", na_values=["NA"]).to_numpy()
    ours_v, ours_u = pairwise_cor(x.to_numpy()), response_cor(x.to_numpy())
    np.testing.assert_allclose(ours_v, v, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours_u, u, rtol=0, atol=TOL)
    both = np.nan_to_num(np.maximum(np.abs(v), np.abs(u)), nan=0.0)
    assert np.abs(both - mincor).min() > 1e-9  # no cell on the threshold
    idx = [list(x.columns).index(c) for c in include]
    ours = quickpred(x.to_numpy(), mincor=mincor, minpuc=minpuc, include=idx)
    ref = pd.read_csv(tmp_path / "quickpred.csv").to_numpy().astype(bool)
    assert (ours == ref).all(), np.argwhere(ours != ref)


def test_include_names_and_same_score():
    names = ["WEMWBS_baseline", "WEMWBS_month_4", "HHI_month_4", "SITEID[B]", "SITEID[C]", "AGE"]
    visits = ("baseline", "month_4")
    assert include_columns(names, ["SITEID", "AGE"], visits) == [3, 4, 5]
    assert include_columns(names, ["WEMWBS"], visits) == [0, 1]
    with pytest.raises(ConfigError, match="'SEX' is no column"):
        include_columns(names, ["SEX"], visits)
    same = same_score_columns(names, visits)
    assert same[0, 1] and same[1, 0] and not same[1, 2] and not same[3, 4]


def _frame() -> ImputationFrame:
    x = _matrix(n=300, seed=3)
    n = len(x)
    d = pd.DataFrame({"USUBJID": [f"P{i:03d}" for i in range(n)],
                      "ARM": np.where(np.arange(n) % 2 == 0, "a", "b"), "TRT01PN": 1.0,
                      "SITEID": np.where(x["SITEID[B]"] == 1, "B", "A"), "AGE": x["AGE"],
                      "NOISE": x["NOISE"]})
    scores = x[["S_baseline", "S_month_4", "S_month_12", "T_month_4"]]
    d = pd.concat([d, scores], axis=1)
    return ImputationFrame(data=d, eligible=pd.DataFrame(True, index=d.index, columns=scores.columns),
                           score_columns=tuple(scores.columns),
                           predictor_columns=("TRT01PN", "SITEID", "AGE", "NOISE"),
                           categorical=("SITEID",), passive=(),
                           visits=("baseline", "month_4", "month_12"), treated_arm="a",
                           control_arm="b")


def test_impute_with_quickpred_uses_the_selection():
    frame = _frame()
    sel = PredictorSelection(select="quickpred", mincor=0.15, include=("SITEID",))
    imp = impute(frame, ImputationSettings(m=3, iterations=3, predictors=sel), 11)
    full = impute(frame, ImputationSettings(m=3, iterations=3), 11)
    model = design(frame, ImputationSettings(predictors=sel))
    n_sel = n_all = 0
    for arm in ("a", "b"):
        # the group's quickpred on the matrix the chained equations start from, with the
        # include list and the same score's other visits
        z = model.group_matrix(arm).to_numpy()
        chosen = quickpred(z, mincor=0.15, include=model.include) | model.same_score
        for target in ("S_baseline", "S_month_4", "S_month_12", "T_month_4"):
            j = model.names.index(target)
            p = imp.predictors[(arm, target)]
            assert set(p) == {model.names[k] for k in np.flatnonzero(chosen[j])}
            assert "SITEID[B]" in p
            if target.startswith("S_"):
                assert {c for c in ("S_baseline", "S_month_4", "S_month_12") if c != target} <= set(p)
            assert len(full.predictors[(arm, target)]) == 6   # all: every other column
            n_sel, n_all = n_sel + len(p), n_all + 6
    assert n_sel < n_all
    assert not imp.completed(1).equals(full.completed(1))  # another model, other draws


def test_report_states_the_selection():
    from outcomes.report.missing_data import _predictor_words

    assert _predictor_words(PredictorSelection()) == (
        "Each score is predicted by every other variable of the model.")
    words = _predictor_words(PredictorSelection(select="quickpred", mincor=0.3))
    assert "exceeds 0.3 (R mice's quickpred)" in words
    assert "same questionnaire at its other visits and by site, diagnosis group" in words
