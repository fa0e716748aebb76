"""The tipping-point analysis (outcomes.imputation.tipping): the grid, the tipping points,
the heat map and the command.

The bundled trial is derived once (module fixture, ~1.5 s) and imputed with m = 3, 2
sweeps; a constructed trial whose imputed participants are balanced on the ANCOVA's
covariates gives the closed form of the estimate and of the tipping point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from freed import watch_derived_at_reading
from scipy import stats
from scipy.optimize import brentq

from outcomes.adam import derive_all
from outcomes.imputation.ancova import ancova_mi
from outcomes.imputation.frame import ImputationFrame, imputation_frame
from outcomes.imputation.mice import impute
from outcomes.imputation.plots import tipping_heatmap
from outcomes.imputation.pool import barnard_rubin_df
from outcomes.imputation.settings import ImputationSettings
from outcomes.imputation.tipping import (
    ANALYSIS,
    BOUNDARY,
    NO_DIFFERENCE,
    default_deltas,
    tipping_points,
)
from outcomes.plan import AnalysisPlan
from outcomes.validation.engine import validate_extract

TREATED, CONTROL = "peer_support", "usual_care"
COL = "WEMWBS_month_12"
GRID = [-6, -3, 0, 3, 6]


def _plan(**tipping):
    return AnalysisPlan.from_config({"missing_data": {
        "method": "mi", "m": 3, "iterations": 2,
        "tipping_point": {"deltas": GRID, **tipping}}})


@pytest.fixture(scope="module")
def derived():
    plan = _plan()
    return derive_all(validate_extract("synthetic_data").clean, plan), plan


@pytest.fixture(scope="module")
def frame(derived):
    ds, plan = derived
    return imputation_frame(ds["adsl"], ds["adqs"], ds["adtte"], plan)


@pytest.fixture(scope="module")
def tipping(derived, frame):
    _, plan = derived
    imp = impute(frame, ImputationSettings.from_plan(plan), plan.seed)
    return imp, tipping_points(frame, plan, imputed=imp)[0]


def test_delta_zero_is_the_main_mi_analysis(derived, tipping):
    _, plan = derived
    imp, tp = tipping
    main = ancova_mi([imp.completed(i) for i in range(1, 4)], "WEMWBS", "month_12", plan)
    assert tp.at(0.0, 0.0).result.ancova == main.ancova and tp.at(0.0, 0.0).result.pooled == main.pooled
    table = tp.to_frame()
    assert len(table.loc[table["analysis"] == ANALYSIS]) == 25
    row = table.loc[(table["analysis"] == ANALYSIS) & (table["delta_treated"] == 0)
                    & (table["delta_control"] == 0)].iloc[0]
    assert (row["estimate"], row["p_value"], row["fmi"], row["m"]) == (
        main.ancova.estimate, main.ancova.p_value, main.pooled.fmi, 3)
    assert list(table.columns[-4:]) == ["tipping", "conclusion", "status", "reason"]
    assert {"paramcd", "avisit", "delta_treated", "delta_control", "ci_low", "ci_high", "df",
            "fmi"} <= set(table.columns)


def test_a_grid_point_is_the_imputation_with_that_final_delta(derived, frame, tipping):
    _, plan = derived
    _, tp = tipping
    delta = {(COL, TREATED): 3.0, (COL, CONTROL): -6.0}
    imp = impute(frame, ImputationSettings.from_plan(plan, delta=delta), plan.seed)
    direct = ancova_mi([imp.completed(i) for i in range(1, 4)], "WEMWBS", "month_12", plan)
    got = tp.at(3.0, -6.0).result.ancova
    for k in ("estimate", "std_error", "ci_low", "ci_high", "p_value", "df"):
        assert getattr(got, k) == pytest.approx(getattr(direct.ancova, k), rel=1e-12), k


def test_estimate_monotone_in_the_shifts_and_boundaries_where_a_ci_limit_is_zero(tipping):
    _, tp = tipping
    est = np.array([[tp.at(dt, dc).result.ancova.estimate for dt in GRID] for dc in GRID])
    assert (np.diff(est, axis=1) > 0).all()  # up with δ_treated
    assert (np.diff(est, axis=0) < 0).all()  # down with δ_control
    diag = [tp.at(d, -d).result.ancova.estimate for d in GRID]  # δ_treated − δ_control up
    assert (np.diff(diag) > 0).all()
    assert tp.boundaries
    for row in tp.boundaries:
        a = row.result.ancova
        # located to 1e-4 of the grid step: the CI limit is 0 to well within its SE
        assert abs(getattr(a, row.bound)) < 1e-3 * a.std_error
        assert a.p_value == pytest.approx(tp.alpha, abs=1e-3)
        assert NO_DIFFERENCE in row.conclusion and row.analysis in BOUNDARY.values()
        # the grid neighbours on either side of the boundary have the conclusions it names
        path = "delta_treated" if row.analysis == BOUNDARY["delta_treated"] else "delta_control"
        x = row.delta_treated if path == "delta_treated" else row.delta_control
        fixed = row.delta_control if path == "delta_treated" else row.delta_treated
        lo, hi = max(g for g in GRID if g <= x), min(g for g in GRID if g >= x)
        pair = [tp.at(*((g, fixed) if path == "delta_treated" else (fixed, g))).conclusion
                for g in (lo, hi)]
        assert row.conclusion == f"{pair[0]} to {pair[1]}" or pair[0] != pair[1]


def _balanced_frame(rng):
    """A trial in which, within each arm, the participants with a missing month-12 score
    have the same baseline and site as the observed ones: treated in pairs (one of two
    missing), control in triplets (one of three missing)."""
    rows = []
    for arm, size, groups, effect in ((TREATED, 2, 60, 4.0), (CONTROL, 3, 40, 0.0)):
        for g in range(groups):
            site, base = f"S{g % 3}", rng.normal(45, 8)
            for k in range(size):
                y = 10 + 0.7 * base + effect + rng.normal(0, 4)
                rows.append({"ARM": arm, "TRT01PN": float(arm == TREATED), "SITEID": site,
                             "WEMWBS_baseline": base, COL: np.nan if k == 0 else y})
    data = pd.DataFrame(rows)
    data.insert(0, "USUBJID", [f"P{i:04d}" for i in range(len(data))])
    cols = ("WEMWBS_baseline", COL)
    return ImputationFrame(data=data, eligible=pd.DataFrame(True, index=data.index, columns=list(cols)),
                           score_columns=cols, predictor_columns=("TRT01PN",), categorical=(),
                           passive=(), visits=("baseline", "month_12"),
                           treated_arm=TREATED, control_arm=CONTROL)


def test_estimate_and_tipping_point_match_their_closed_form():
    frame = _balanced_frame(np.random.default_rng(4))
    grid = [-12.0, -8.0, -4.0, 0.0, 4.0, 8.0]
    plan = AnalysisPlan.from_config({"stratifiers": ["SITEID"], "missing_data": {  # the frame's
        "m": 5, "iterations": 1, "imputation": "norm", "tipping_point": {"deltas": grid}}})
    imp = impute(frame, ImputationSettings.from_plan(plan), plan.seed)
    tp = tipping_points(frame, plan, imputed=imp)[0]
    # the estimate moves by δ × the fraction imputed in the arm: +δ_t / 2, −δ_c / 3
    e0 = tp.at(0.0, 0.0).result.ancova.estimate
    for row in tp.grid:
        assert row.result.ancova.estimate == pytest.approx(
            e0 + row.delta_treated / 2 - row.delta_control / 3, abs=1e-9)
    # the lower CI limit along δ_control = 0, from the δ = 0 fits alone: each imputation's
    # residuals move by δ_t (d − ½) on the treated (d = 1 if imputed), the arm coefficient
    # by δ_t / 2, the between-imputation variance not at all
    d = frame.data
    x = np.column_stack([np.ones(len(d)), d["ARM"] == TREATED, d["WEMWBS_baseline"],
                         d["SITEID"] == "S1", d["SITEID"] == "S2"]).astype(float)
    xtx_inv = np.linalg.inv(x.T @ x)
    dfres = len(d) - x.shape[1]
    r = np.where(d["ARM"] == TREATED, d[COL].isna() - 0.5, 0.0)
    fits = []
    for i in range(1, 6):
        y = imp.completed(i)[COL].to_numpy()
        beta = xtx_inv @ x.T @ y
        fits.append((beta[1], y - x @ beta))
    q = np.array([f[0] for f in fits])
    b = q.var(ddof=1)

    def lower(dt):
        u = np.mean([(e + dt * r) @ (e + dt * r) / dfres * xtx_inv[1, 1] for _, e in fits])
        t = u + (1 + 1 / 5) * b
        df = barnard_rubin_df(5, b, t, dfres)
        return q.mean() + dt / 2 - stats.t.ppf(0.975, df) * np.sqrt(t)

    expect = brentq(lower, -12.0, 0.0, xtol=1e-10)
    found = [row for row in tp.boundaries if row.analysis == BOUNDARY["delta_treated"]
             and row.delta_control == 0.0 and row.bound == "ci_low"]
    assert tp.at(0.0, 0.0).conclusion == "favours treated"
    assert [row.conclusion for row in found] == ["no difference to favours treated"]
    assert found[0].delta_treated == pytest.approx(expect, abs=1e-3)
    assert found[0].result.ancova.ci_low == pytest.approx(0.0, abs=1e-6)
    # the rows marked as the tipping points: one arm shifted, the other at MAR
    table = tp.to_frame()
    marked = table.loc[table["tipping"] == "yes"]
    assert len(marked) and ((marked["delta_control"] == 0) | (marked["delta_treated"] == 0)).all()
    assert found[0].delta_treated in marked["delta_treated"].tolist()


def test_default_grid_is_a_round_quarter_sd_either_side():
    obs = np.array([30.0, 40.0, 50.0, 60.0, np.nan])  # SD 12.9: steps of 2.5 (12.9 / 4 = 3.2)
    assert default_deltas(obs) == (-10.0, -7.5, -5.0, -2.5, 0.0, 2.5, 5.0, 7.5, 10.0)
    assert default_deltas(np.array([0.1, 0.9, 1.7]))[5] == 0.2  # SD 0.8: steps of 0.2
    assert default_deltas(np.array([5.0]))[5] == 1.0  # no SD: steps of 1


def test_not_estimable_grid_points_give_rows(derived, frame, tmp_path):
    _, plan = derived
    # no month-12 WEMWBS observed and none due (e.g. a data cut before anyone's month 12)
    data, eligible = frame.data.copy(), frame.eligible.copy()
    data[COL], eligible[COL] = np.nan, False
    early = ImputationFrame(**{**frame.__dict__, "data": data, "eligible": eligible})
    tp = tipping_points(early, plan)[0]
    table = tp.to_frame()
    assert len(table) == 25 and not tp.boundaries
    assert (table["status"] == "not estimable").all() and (table["conclusion"] == "").all()
    assert table["reason"].str.contains("no month_12 value of WEMWBS").all()
    assert tipping_heatmap(tp, tmp_path / "ne.svg").stat().st_size > 0


def test_cli_writes_the_same_table_and_heat_map_from_the_impute_file_or_imputing(
        derived, tmp_path, capsys, monkeypatch):
    """delta_mode final: the grid shifts the data sets of 'outcomes impute'
    (imputed_long.parquet, run b, as the rule does) or of its own imputation (run a): the
    same bytes; run b has freed the derived data when it reads that file and keeps only
    the outcome's columns of it (decisions PN6-PN7). A file of another plan is refused."""
    from outcomes.adam import write_adam
    from outcomes.cli import main
    from outcomes.imputation import tipping

    held = watch_derived_at_reading(monkeypatch, ("outcomes.imputation.tipping",))
    grids = []
    real_points = tipping.tipping_points

    def points(frame, plan, **kwargs):
        grids.append(kwargs["imputed"])
        return real_points(frame, plan, **kwargs)

    monkeypatch.setattr(tipping, "tipping_points", points)

    ds, _ = derived
    write_adam(ds, tmp_path / "derived")
    plan = tmp_path / "plan.yaml"
    plan.write_text("missing_data: {method: mi, m: 2, iterations: 1, "
                    "tipping_point: {deltas: [-4, 0, 4]}}\n")
    common = ["--derived", str(tmp_path / "derived"), "--plan", str(plan)]
    assert main(["impute", *common, "--out", str(tmp_path / "imp"), "--write-imputed"]) == 0
    long = tmp_path / "imp" / "imputed_long.parquet"
    for run, extra in (("a", []), ("b", ["--imputed", str(long)])):
        assert main(["tipping", *common, *extra,
                     "--table", str(tmp_path / run / "tipping_point.tsv"),
                     "--figures", str(tmp_path / run / "figures")]) == 0
    files = ("tipping_point.tsv", "figures/tipping_point_WEMWBS_month_12.svg")
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert held == [[]]
    assert grids[0] is None and list(grids[1].base.columns) == [
        "USUBJID", "ARM", "SITEID", "DIAGGR", "WEMWBS_baseline", "WEMWBS_month_12"]
    assert set(grids[1].cells) <= {"WEMWBS_baseline", "WEMWBS_month_12"}
    assert "tipping: 1 outcome(s)" in capsys.readouterr().out
    plan.write_text("missing_data: {method: mi, m: 3, iterations: 1}\n")
    assert main(["tipping", *common, "--imputed", str(long), "--table", str(tmp_path / "x.tsv"),
                 "--figures", str(tmp_path)]) == 2
    assert f"{long}: data sets .imp = 0..2" in capsys.readouterr().err
    plan.write_text("missing_data: {method: mi, m: 2, iterations: 1, "
                    "tipping_point: {deltas: [-4, 0, 4]}}\n")
    assert b"<svg" in (tmp_path / "a" / files[1]).read_bytes()
    table = pd.read_csv(tmp_path / "a" / files[0], sep="\t", na_values=["NA"], keep_default_na=False)
    assert (table["analysis"] == ANALYSIS).sum() == 9
    plan.write_text("missing_data: {tipping_point: {outcomes: [WEMWBS month_4]}}\nvisits: [month_12]\n")
    assert main(["tipping", "--derived", str(tmp_path / "derived"), "--plan", str(plan),
                 "--table", str(tmp_path / "c.tsv"), "--figures", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'WEMWBS month_4': month_4 is not one of the plan's visits" in err
    assert "Traceback" not in err


def test_post_mode_imputes_again_and_agrees_with_final_for_one_incomplete_column():
    # one incomplete column with complete predictors: δ after every draw is the same as δ
    # once at the end, so the re-imputed grid equals the shifted one
    frame = _balanced_frame(np.random.default_rng(4))
    grids = {}
    for mode in ("final", "post"):
        plan = AnalysisPlan.from_config({"stratifiers": ["SITEID"], "missing_data": {
            "m": 3, "iterations": 2, "imputation": "norm",
            "tipping_point": {"deltas": [-8, 0, 8], "delta_mode": mode}}})
        grids[mode] = tipping_points(frame, plan)[0]
    assert grids["post"].delta_mode == "post"
    for a, b in zip(grids["final"].grid, grids["post"].grid, strict=True):
        assert b.result.ancova.estimate == pytest.approx(a.result.ancova.estimate, abs=1e-9)
        assert b.conclusion == a.conclusion
