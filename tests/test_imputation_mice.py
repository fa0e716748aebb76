"""Multiple imputation (outcomes.imputation): the frame, masks, seeds, δ, arms, recovery.

The bundled trial is validated and derived once (module fixture, ~1.5 s); imputations
here are small (m ≤ 4, 2–3 sweeps) except the MAR recovery check on a two-column design.
Agreement with R mice is in tests/test_imputation_r.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from freed import watch_derived_at_reading

from outcomes.adam import derive_all
from outcomes.errors import ConfigError
from outcomes.imputation.frame import VISIT_DAYS, ImputationFrame, imputation_frame
from outcomes.imputation.gaps import not_imputed_cells
from outcomes.imputation.lindep import remove_lindep
from outcomes.imputation.mice import ImputationError, impute, pmm_match
from outcomes.imputation.run import missing_summary
from outcomes.imputation.settings import ImputationSettings
from outcomes.plan import AnalysisPlan
from outcomes.validation.engine import validate_extract

TREATED, CONTROL = "peer_support", "usual_care"


@pytest.fixture(scope="module")
def derived():
    plan = AnalysisPlan.load("config/test.yaml")
    return derive_all(validate_extract("synthetic_data").clean, plan), plan


@pytest.fixture(scope="module")
def frame(derived):
    ds, plan = derived
    return imputation_frame(ds["adsl"], ds["adqs"], ds["adtte"], plan)


@pytest.fixture(scope="module")
def imputed(frame):
    return impute(frame, ImputationSettings(m=3, iterations=3, method="pmm"), 20261122)


def _settings(**kw):
    return ImputationSettings(**{"m": 2, "iterations": 2, **kw})


def test_frame_columns_rows_and_predictors(derived, frame):
    ds, _ = derived
    d = frame.data
    assert list(d.columns[:9]) == ["USUBJID", "ARM", "TRT01PN", "SITEID", "DIAGGR", "AGE",
                                   "PRIORADM", "READM_month_4", "READM_month_12"]
    assert len(d) == (ds["adsl"]["ITTFL"] == "Y").sum() == d["USUBJID"].nunique()
    assert "WEMWBS_baseline" in d and "WAISR_month_4" in d and "WEMWBS_month_12" in d
    assert list(frame.eligible.columns) == list(frame.score_columns)
    # scores as in ADQS
    q = ds["adqs"].set_index(["USUBJID", "PARAMCD", "AVISIT"])["AVAL"]
    row = d.iloc[7]
    assert row["GSE_month_4"] == q.get((row["USUBJID"], "GSE", "month_4"), np.nan) or (
        np.isnan(row["GSE_month_4"]))
    # readmission before the visit's nominal day, from ADTTE
    tte = ds["adtte"].loc[ds["adtte"]["PARAMCD"] == "READMIT"].set_index("USUBJID")
    tte = tte.reindex(d["USUBJID"])
    expect = ((tte["CNSR"] == 0) & (tte["AVAL"] < VISIT_DAYS["month_4"])).to_numpy(dtype=float)
    assert np.array_equal(d["READM_month_4"].to_numpy(), expect)
    assert 0 < d["READM_month_4"].sum() < d["READM_month_12"].sum()
    # passive scores: the WAI-SR total is the sum of its subscales, its mean the total / 12
    passive = dict(frame.passive)
    assert passive["WAISR_month_4"].sources == ("WAISRGL_month_4", "WAISRTK_month_4", "WAISRBD_month_4")
    assert passive["WAISRMN_month_4"].kind == "mean" and passive["SWEMWBS_month_12"].kind == "table"
    assert "WEMWBS_month_12" not in passive


def test_visits_after_death_or_the_data_cut_are_not_eligible(derived, frame):
    ds, plan = derived
    adsl = ds["adsl"].set_index("USUBJID").reindex(frame.data["USUBJID"])
    died_before = (adsl["DTHDT"] < adsl["INDEXDT"] + pd.Timedelta(days=365)).to_numpy()
    col = frame.data["WEMWBS_month_12"].isna().to_numpy()
    assert died_before.sum() > 0
    assert np.array_equal(~frame.eligible["WEMWBS_month_12"].to_numpy(), died_before & col)
    assert frame.eligible.filter(like="_baseline").all().all()
    # a data cut 200 days after the first index discharge: nobody's month-12 visit is due
    cut = ds["adsl"].assign(DCUTDT=ds["adsl"]["INDEXDT"].min() + pd.Timedelta(days=200))
    early = imputation_frame(cut, ds["adqs"], ds["adtte"], plan)
    m12 = early.data["WEMWBS_month_12"].isna().to_numpy()
    assert np.array_equal(~early.eligible["WEMWBS_month_12"].to_numpy(), m12)
    assert (~early.eligible["WEMWBS_month_4"]).sum() > (~frame.eligible["WEMWBS_month_4"]).sum()


def test_unknown_auxiliary_is_a_config_error(derived):
    ds, plan = derived
    with pytest.raises(ConfigError, match="missing_data.auxiliaries.*'NOPE' is not an ADSL column"):
        imputation_frame(ds["adsl"], ds["adqs"], ds["adtte"], plan, auxiliaries=("NOPE",))
    f = imputation_frame(ds["adsl"], ds["adqs"], ds["adtte"], plan, auxiliaries=("SEX", "NCONTACT"))
    assert "SEX" in f.categorical and f.data["NCONTACT"].dtype == float


def test_observed_kept_ineligible_missing_imputed_complete(frame, imputed):
    d, elig = frame.data, frame.eligible
    assert imputed.m == 3
    for i in (1, 3):
        c = imputed.completed(i)
        assert list(c.columns) == list(d.columns) and len(c) == len(d)
        for col in frame.score_columns:
            obs = d[col].notna()
            assert np.array_equal(c.loc[obs, col].to_numpy(), d.loc[obs, col].to_numpy())
            assert c.loc[~elig[col], col].isna().all()
            assert c.loc[elig[col], col].notna().all()
            assert np.array_equal(imputed.imputed[col].to_numpy(), (d[col].isna() & elig[col]).to_numpy())
        # pmm: imputed values are values observed in the same arm; passive scores stay exact
        for arm in (TREATED, CONTROL):
            rows = (d["ARM"] == arm) & imputed.imputed["WEMWBS_month_12"]
            assert c.loc[rows, "WEMWBS_month_12"].isin(d.loc[d["ARM"] == arm, "WEMWBS_month_12"]).all()
        rows = imputed.imputed["WAISR_month_4"]
        total = c.loc[rows, ["WAISRGL_month_4", "WAISRTK_month_4", "WAISRBD_month_4"]].sum(axis=1)
        assert np.allclose(c.loc[rows, "WAISR_month_4"], total)
        assert np.allclose(c.loc[rows, "WAISRMN_month_4"], total / 12)
    assert not imputed.imputed[["USUBJID", "ARM", "SITEID", "READM_month_4"]].any().any()
    long = imputed.long()
    assert list(long.columns[:2]) == [".imp", "USUBJID"] and len(long) == 4 * len(d)
    assert long[".imp"].tolist() == sorted(long[".imp"]) and set(long[".imp"]) == {0, 1, 2, 3}
    assert long.loc[long[".imp"] == 0].drop(columns=".imp").reset_index(drop=True).equals(d)
    with pytest.raises(IndexError):
        imputed.completed(4)


def test_same_seed_same_data_and_imputation_i_does_not_depend_on_m(frame, imputed):
    again = impute(frame, ImputationSettings(m=3, iterations=3, method="pmm"), 20261122)
    assert again.long().equals(imputed.long())
    fewer = impute(frame, ImputationSettings(m=2, iterations=3, method="pmm"), 20261122)
    assert fewer.completed(2).equals(imputed.completed(2))
    other = impute(frame, ImputationSettings(m=2, iterations=3, method="pmm"), 7)
    assert not other.completed(1).equals(imputed.completed(1))
    assert not imputed.completed(1).equals(imputed.completed(2))


def test_post_delta_shifts_the_imputed_values_of_its_arm_only(frame):
    base = impute(frame, _settings(method="norm"), 5)
    shifted = impute(frame, _settings(method="norm", delta={("WEMWBS_month_12", TREATED): -8.0},
                                      delta_mode="post"), 5)
    d = frame.data
    for i in (1, 2):
        a, b = base.completed(i), shifted.completed(i)
        control = (d["ARM"] == CONTROL).to_numpy()
        assert a.loc[control].equals(b.loc[control])  # the control arm's chain is untouched
        observed = d["WEMWBS_month_12"].notna()
        assert a.loc[observed, "WEMWBS_month_12"].equals(b.loc[observed, "WEMWBS_month_12"])
        rows = (base.imputed["WEMWBS_month_12"] & (d["ARM"] == TREATED)).to_numpy()
        assert rows.sum() > 50
        shift = (b.loc[rows, "WEMWBS_month_12"] - a.loc[rows, "WEMWBS_month_12"]).mean()
        # δ after each draw (mice's post) also lowers the other month-12 scores imputed
        # from it, which feed back: the shift is δ conditional on them, larger marginally
        assert -30.0 < shift < -8.0, shift
    with pytest.raises(ImputationError, match="not one of"):
        impute(frame, _settings(delta={("WEMWBS_month_12", "placebo"): 1.0}), 5)


def test_final_delta_moves_each_imputed_value_by_delta_and_nothing_else(frame, imputed):
    delta = {("WEMWBS_month_12", TREATED): -8.0, ("WEMWBS_month_12", CONTROL): 2.5}
    shifted = impute(frame, ImputationSettings(m=3, iterations=3, method="pmm", delta=delta),
                     20261122)
    assert shifted.settings.delta_mode == "final"  # the default
    d = frame.data
    rows = imputed.imputed["WEMWBS_month_12"].to_numpy()
    expect = np.where(d["ARM"] == TREATED, -8.0, 2.5)[rows]
    for i in (1, 2, 3):
        a, b = imputed.completed(i), shifted.completed(i)
        diff = b["WEMWBS_month_12"].to_numpy()[rows] - a["WEMWBS_month_12"].to_numpy()[rows]
        assert np.allclose(diff, expect, rtol=0, atol=1e-12)
        assert a.drop(columns="WEMWBS_month_12").equals(b.drop(columns="WEMWBS_month_12"))
        assert a.loc[~rows, "WEMWBS_month_12"].equals(b.loc[~rows, "WEMWBS_month_12"])
    with pytest.raises(ConfigError, match="delta mode 'often'"):
        ImputationSettings(delta_mode="often")


def test_by_arm_imputations_use_their_own_arm_only(frame):
    changed = frame.data.copy()
    control = changed["ARM"] == CONTROL
    changed.loc[control, "WEMWBS_month_4"] += 30.0
    other = ImputationFrame(**{**frame.__dict__, "data": changed})
    a = impute(frame, _settings(), 11).completed(1)
    b = impute(other, _settings(), 11).completed(1)
    assert a.loc[~control].equals(b.loc[~control])
    assert not a.loc[control].equals(b.loc[control])
    # one model with arm as a predictor: the treated arm's values now move too
    c = impute(frame, _settings(by_arm=False), 11).completed(1)
    d = impute(other, _settings(by_arm=False), 11).completed(1)
    assert not c.loc[~control].equals(d.loc[~control])


def _mar_frame(n: int, rng: np.random.Generator) -> tuple[ImputationFrame, np.ndarray]:
    """y0 complete, y1 = 10 + 0.8 y0 + e missing more often when y0 is high (MAR)."""
    y0 = rng.normal(50, 10, n)
    y1 = 10 + 0.8 * y0 + rng.normal(0, 6, n)
    miss = rng.random(n) < 1 / (1 + np.exp(-(y0 - 50) / 4))
    data = pd.DataFrame({"USUBJID": [f"P{i:05d}" for i in range(n)], "ARM": TREATED,
                         "TRT01PN": 1.0, "Y_baseline": y0, "Y_month_12": np.where(miss, np.nan, y1)})
    cols = ("Y_baseline", "Y_month_12")
    frame = ImputationFrame(data=data, eligible=pd.DataFrame(True, index=data.index, columns=list(cols)),
                            score_columns=cols, predictor_columns=("TRT01PN",), categorical=(),
                            passive=(), visits=("baseline", "month_12"),
                            treated_arm=TREATED, control_arm=CONTROL)
    return frame, y1


@pytest.mark.parametrize("method", ["pmm", "norm"])
def test_recovers_the_mean_under_mar(method):
    frame, y1 = _mar_frame(3000, np.random.default_rng(1))
    truth = y1.mean()
    cc = frame.data["Y_month_12"].mean()
    assert truth - cc > 3.0  # complete cases are biased
    imp = impute(frame, ImputationSettings(method=method, m=10, iterations=2), 3)
    means = np.array([imp.completed(i)["Y_month_12"].mean() for i in range(1, 11)])
    # the imputations scatter around the truth: SE of the full-data mean is 0.2, the
    # imputation error about the same; 0.6 is 3 such SEs
    assert abs(means.mean() - truth) < 0.6, (means.mean(), truth)
    assert means.std(ddof=1) > 0.02  # proper imputation: the data sets differ


def test_post_delta_is_added_to_each_draw():
    # one incomplete column with complete predictors: the same draws plus exactly δ
    frame, _ = _mar_frame(400, np.random.default_rng(2))
    s = ImputationSettings(method="norm", m=2, iterations=2)
    a = impute(frame, s, 9)
    b = impute(frame, ImputationSettings(method="norm", m=2, iterations=2, delta_mode="post",
                                         delta={("Y_month_12", TREATED): 5.0}), 9)
    rows = a.imputed["Y_month_12"]
    diff = b.completed(2).loc[rows, "Y_month_12"] - a.completed(2).loc[rows, "Y_month_12"]
    assert np.allclose(diff, 5.0)


def test_a_column_with_too_few_observed_values_is_left_missing_and_no_predictor(frame):
    """HHI month 4 with 1 observed value in the treated arm and WAISRGL month 4 with none:
    their due cells there stay missing in every data set (and WAISR, WAISRMN built from
    WAISRGL), they are recorded, and the treated arm's other imputations are those of a
    model without the two columns (the treated group is imputed first, so the draws agree)."""
    data = frame.data.copy()
    treated = data["ARM"] == TREATED
    data.loc[treated, ["HHI_month_4", "WAISRGL_month_4"]] = np.nan
    data.loc[data.index[treated][0], "HHI_month_4"] = 30.0
    gap = ImputationFrame(**{**frame.__dict__, "data": data})
    imp = impute(gap, _settings(), 1)
    assert [(g.column, g.group, g.reason) for g in imp.not_imputed] == [
        ("HHI_month_4", TREATED, "1 observed value, at least 2 needed"),
        ("WAISRGL_month_4", TREATED, "0 observed values, at least 2 needed"),
        ("WAISR_month_4", TREATED, "computed from WAISRGL_month_4 and WAISRTK_month_4 and "
                                   "WAISRBD_month_4, not all imputed"),
        ("WAISRMN_month_4", TREATED, "computed from WAISR_month_4, not all imputed")]
    assert imp.not_imputed[0].describe() == (
        f"HHI_month_4 could not be imputed in {TREATED} (1 observed value, at least 2 needed)")
    due = frame.eligible.loc[treated, "HHI_month_4"]
    assert imp.not_imputed[0].n_cells == int(due.sum()) - 1
    gone = ["HHI_month_4", "WAISRGL_month_4", "WAISR_month_4", "WAISRMN_month_4"]
    for i in (1, 2):
        done = imp.completed(i)
        for col in gone:
            assert done.loc[treated, col].isna().sum() == data.loc[treated, col].isna().sum()
            assert done.loc[~treated, col].isna().sum() == (~frame.eligible.loc[~treated, col]).sum()
    summary = missing_summary(imp).set_index(["column", "arm"])
    row = summary.loc[("HHI_month_4", TREATED)]
    assert (row["n_imputed"], row["n_not_imputed"]) == (0, int(due.sum()) - 1)
    assert row["not_imputed_reason"] == "1 observed value, at least 2 needed"
    assert summary.loc[("HHI_month_4", CONTROL), "n_not_imputed"] == 0
    assert summary.loc[("HHI_month_4", CONTROL), "not_imputed_reason"] == ""
    # the treated arm without the two columns (and what is built from them)
    keep = [c for c in frame.score_columns if c not in gone]
    without = ImputationFrame(**{**frame.__dict__, "data": data.drop(columns=gone),
                                 "eligible": frame.eligible[keep], "score_columns": tuple(keep),
                                 "passive": tuple(p for p in frame.passive if p[0] not in gone)})
    ref = impute(without, _settings(), 1)
    for i in (1, 2):
        a, b = imp.completed(i).loc[treated, keep], ref.completed(i).loc[treated, keep]
        pd.testing.assert_frame_equal(a, b)


def test_cells_not_imputed_are_told_from_not_due_ones(frame):
    data = frame.data.copy()
    data.loc[data["ARM"] == CONTROL, "GSE_month_12"] = np.nan
    gap = ImputationFrame(**{**frame.__dict__, "data": data})
    cells = not_imputed_cells(gap, _settings())
    assert list(cells.columns) == ["USUBJID", *frame.score_columns]
    lost = cells["GSE_month_12"] != ""
    control = (data["ARM"] == CONTROL).to_numpy()
    assert (lost == (control & frame.eligible["GSE_month_12"].to_numpy())).all()
    assert set(cells.loc[lost, "GSE_month_12"]) == {
        f"GSE_month_12 could not be imputed in {CONTROL} (0 observed values, at least 2 needed)"}
    assert (cells.drop(columns=["USUBJID", "GSE_month_12"]) == "").all().all()
    both = not_imputed_cells(gap, _settings(by_arm=False))
    assert (both["GSE_month_12"] == "").all()  # both arms together: enough observed values


def test_remove_lindep_drops_constant_and_dependent_predictors():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 100))
    y = a + rng.normal(size=100)
    x = np.column_stack([a, b, np.ones(100), a + b, y * 1.0])
    keep = remove_lindep(x, y)
    assert not keep[2] and not keep[4]  # constant; correlation 1 with y
    assert keep.sum() == 2 and not (keep[0] and keep[1] and keep[3])


def test_pmm_match_takes_one_of_the_nearest_donors():
    rng = np.random.default_rng(0)
    obs = rng.permutation(np.arange(100.0))
    mis = np.array([0.2, 50.4, 99.9, 30.0])
    picks = np.array([pmm_match(obs, mis, 5, rng) for _ in range(400)])
    for j, target in enumerate(mis):
        chosen = obs[picks[:, j]]
        nearest = np.sort(np.argsort(np.abs(np.arange(100.0) - target), kind="stable")[:5])
        assert set(chosen) == set(nearest.astype(float))


def test_cli_impute_writes_the_summary_and_the_long_data_reproducibly(derived, tmp_path, capsys):
    from outcomes.adam import write_adam
    from outcomes.cli import main

    ds, _ = derived
    write_adam(ds, tmp_path / "derived")
    plan = tmp_path / "plan.yaml"
    plan.write_text("missing_data: {m: 2, iterations: 2}\n")
    args = ["impute", "--derived", str(tmp_path / "derived"), "--plan", str(plan)]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert not (tmp_path / "a" / "imputed_long.parquet").exists()
    summary = pd.read_csv(tmp_path / "a" / "imputation_summary.tsv", sep="\t")
    row = summary.set_index(["column", "arm"]).loc[("WEMWBS_month_12", TREATED)]
    assert row["n"] == 300 and row["n_observed"] + row["n_not_due"] + row["n_imputed"] == 300
    assert row["missing_rate"] == pytest.approx(1 - row["n_observed"] / 300)
    for out in ("b", "c"):
        assert main([*args, "--out", str(tmp_path / out), "--write-imputed"]) == 0
    long = [(tmp_path / o / "imputed_long.parquet").read_bytes() for o in ("b", "c")]
    assert long[0] == long[1]
    back = pd.read_parquet(tmp_path / "b" / "imputed_long.parquet")
    assert back[".imp"].max() == 2 and len(back) == 3 * 600
    assert "impute: " in capsys.readouterr().out
    plan.write_text("missing_data: {auxiliaries: [NOPE]}\n")
    assert main([*args, "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "missing_data.auxiliaries" in err and "Traceback" not in err


def test_cli_questionnaires_pools_the_imputed_file_and_refuses_a_stale_one(derived, tmp_path,
                                                                           capsys, monkeypatch):
    """The command pools the completed data sets of 'outcomes impute' beside the complete
    cases, reading that file with ADQS and ADTTE freed, ADSL only held (decisions PN6);
    a missing, foreign, stale or unreadable file is one line of error."""
    from outcomes.adam import write_adam
    from outcomes.cli import main

    ds, _ = derived
    write_adam(ds, tmp_path / "derived")
    plan = tmp_path / "plan.yaml"
    plan.write_text("missing_data: {method: mi, m: 2, iterations: 2}\n")
    common = ["--derived", str(tmp_path / "derived"), "--plan", str(plan)]
    assert main(["impute", *common, "--out", str(tmp_path / "imp"), "--write-imputed"]) == 0
    long = tmp_path / "imp" / "imputed_long.parquet"
    q = ["questionnaires", *common, "--out", str(tmp_path / "q.tsv")]
    held = watch_derived_at_reading(monkeypatch, ("outcomes.imputation.run",))
    assert main([*q, "--imputed", str(long)]) == 0
    assert held == [["adsl"]]
    tab = pd.read_csv(tmp_path / "q.tsv", sep="\t")
    assert list(tab["analysis"][:8]) == ["questionnaire_ancova_mi"] * 4 + ["questionnaire_ancova"] * 4
    # naive MI and complete cases, then the same by the partially nested model
    # (each a block of four rows: the difference, the adjusted means, Hedges' g)
    assert len(tab) == 16 * 32 and set(tab.loc[tab.analysis == "questionnaire_ancova_mi", "m"]) == {2}
    w = tab.loc[(tab.outcome == "WEMWBS month_12") & (tab.clustering == "none")
                & (tab.estimate_type == "adjusted_mean_difference")].set_index("analysis")
    assert w.at["questionnaire_ancova_mi", "n"] > w.at["questionnaire_ancova", "n"]
    capsys.readouterr()

    def error(*args: str) -> str:
        assert main([*q, *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        return err

    assert "give --imputed" in error()
    plan.write_text("missing_data: {method: mi, m: 3, iterations: 2}\n")  # another plan
    assert f"{long}: data sets .imp = 0..2" in error("--imputed", str(long))
    plan.write_text("missing_data: {method: complete_case}\n")
    assert "method is complete_case" in error("--imputed", str(long))
    plan.write_text("missing_data: {method: mi, m: 2, iterations: 2}\n")
    adqs = ds["adqs"].copy()  # another extract: one observed score differs
    k = adqs.index[(adqs.PARAMCD == "WEMWBS") & (adqs.AVISIT == "baseline") & adqs.AVAL.notna()][0]
    adqs.loc[k, "AVAL"] += 1
    write_adam({**ds, "adqs": adqs}, tmp_path / "derived")
    err = error("--imputed", str(long))
    assert f"WEMWBS_baseline of participant {adqs.at[k, 'USUBJID']}" in err and "rerun" in err
    long.write_text("not parquet")
    assert "cannot read" in error("--imputed", str(long))


def test_the_long_file_is_read_back_one_column_at_a_time_to_the_bit(imputed, tmp_path):
    """write_long writes one row group per data set; read_completed's data sets (built on
    access from data set 0 and the imputed cells) equal ImputedData.completed(i) exactly,
    also when narrowed to the columns of one analysis; a text column that differs between
    data sets is refused."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from outcomes.imputation.run import ImputedFileError, read_completed, select_columns, write_long

    path = write_long(imputed, tmp_path / "long.parquet")
    assert pq.ParquetFile(path).metadata.num_row_groups == imputed.m + 1
    sets = read_completed(path, imputed.frame, imputed.m)
    assert len(sets) == imputed.m and len(sets[:]) == imputed.m
    long, n = pq.read_table(path).to_pandas(), len(imputed.frame.data)  # the whole file
    for i in range(1, imputed.m + 1):
        pd.testing.assert_frame_equal(sets[i - 1], imputed.completed(i), check_exact=True)
        rows = long.iloc[i * n:(i + 1) * n].reset_index(drop=True).drop(columns=".imp")
        pd.testing.assert_frame_equal(sets[i - 1], rows, check_exact=True)
    cols = ["ARM", "WEMWBS_month_12", "NOPE"]
    only = select_columns(sets, cols)
    pd.testing.assert_frame_equal(only[-1], imputed.completed(imputed.m)[cols[:2]],
                                  check_exact=True)
    assert select_columns(list(sets), cols)[0].shape[1] == sets[0].shape[1]
    with pytest.raises(IndexError):
        sets[imputed.m]
    table = pq.read_table(path)
    arm = table["ARM"].to_pylist()
    arm[-1] = "another arm"
    bad = table.set_column(table.schema.get_field_index("ARM"), "ARM",
                           pa.array(arm, table["ARM"].type))
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(ImputedFileError, match=f"ARM of data set {imputed.m} is not that of"):
        read_completed(tmp_path / "bad.parquet", imputed.frame, imputed.m)


def test_compact_sets_give_back_every_data_set_to_the_bit():
    """CompactSets holds data sets as the first and the cells that differ; each item equals
    its data set exactly (NaN bits, text and integer columns, a set whose columns differ);
    map_sets is a plain list comprehension on a list and compact on anything else."""
    from outcomes.imputation.run import CompactSets, map_sets

    rng = np.random.default_rng(3)
    n = 40
    base = pd.DataFrame({"ID": [f"P{i:03d}" for i in range(n)], "K": np.arange(n),
                         "X": rng.normal(size=n), "Y": np.where(rng.random(n) < 0.3, np.nan, 1.0)})
    sets = []
    for k in range(5):
        d = base.copy()
        d.loc[rng.random(n) < 0.2, "X"] = rng.normal(size=1)[0]
        d["Y"] = d["Y"].where(rng.random(n) < 0.5, -0.0 if k % 2 else 0.0)
        sets.append(d)
    sets[2] = sets[2].assign(ID=sets[2]["ID"].str.lower())  # a text column that differs
    sets[3] = sets[3].assign(K=sets[3]["K"].astype(float))  # another dtype: held whole
    held = CompactSets.of(iter(sets))
    assert len(held) == 5 and isinstance(held.diffs[3], pd.DataFrame)
    for k, d in enumerate(sets):
        pd.testing.assert_frame_equal(held[k], d, check_exact=True)
        for col in ("X", "Y"):  # -0.0 and 0.0 told apart
            assert (held[k][col].to_numpy().view(np.int64) == d[col].to_numpy().view(np.int64)).all()
    assert len(held[1:3]) == 2
    with pytest.raises(IndexError):
        held[5]
    twice = map_sets(held, lambda d: d.assign(X=2 * d["X"]))
    assert isinstance(twice, CompactSets)
    pd.testing.assert_frame_equal(twice[4], sets[4].assign(X=2 * sets[4]["X"]), check_exact=True)
    assert isinstance(map_sets(sets, lambda d: d), list)


def test_the_draw_calls_lapack_as_scipy_does_and_lindep_decides_as_mice():
    """norm_draw's direct LAPACK calls give scipy's cho_solve and solve_triangular to the
    bit; remove_lindep_gram keeps the predictors remove_lindep keeps, also next to each
    threshold (constant, almost collinear, almost perfectly correlated predictors)."""
    from scipy.linalg import cho_solve, solve_triangular

    from outcomes.imputation.lindep import EPS, remove_lindep_gram
    from outcomes.imputation.mice import _cho_solve, _solve_lt

    rng = np.random.default_rng(11)
    for p in (1, 2, 7):
        a = rng.normal(size=(30, p))
        chol, b = np.linalg.cholesky(a.T @ a), rng.normal(size=p)
        assert np.array_equal(_cho_solve(chol, b), cho_solve((chol, True), b, check_finite=False))
        assert np.array_equal(_solve_lt(chol, b), solve_triangular(chol, b, lower=True, trans="T",
                                                                  check_finite=False))
    n = 400
    base = rng.normal(size=(n, 5)) * 10 + 50
    y = base[:, 0] + rng.normal(size=n) * 5
    cases = [base,
             np.column_stack([base, np.full(n, 3.0)]),                       # constant
             np.column_stack([base, base[:, 1] + base[:, 2]]),               # dependent
             np.column_stack([base, base[:, 1] + 1e-3 * rng.normal(size=n)]),  # almost
             np.column_stack([base, y + 1e-6 * rng.normal(size=n)]),          # r ~ 1
             np.column_stack([base, np.r_[np.zeros(n - 2), 0.15, -0.15]]),    # var ~ EPS
             np.column_stack([base, 0.01 * np.sqrt(EPS) * rng.normal(size=n)])]
    for k, x in enumerate(cases):
        x1 = np.column_stack([np.ones(n), x])
        got = remove_lindep_gram(x1, y, x1.T @ x1, x1.T @ y)
        assert np.array_equal(got, remove_lindep(x, y)), k
    assert not remove_lindep_gram(x1, np.ones(n), x1.T @ x1, x1.T @ np.ones(n)).any()


def test_wide_scores_are_the_pivot_of_first_observed_values():
    """_wide_scores equals pivot_table(aggfunc="first") reindexed to the participants:
    the first non-missing AVAL of each score and visit, NaN for a participant or cell
    without one; rows of other visits and participants are ignored."""
    from outcomes.imputation.frame import _wide_scores

    rng = np.random.default_rng(5)
    k = 300
    adqs = pd.DataFrame({"USUBJID": rng.choice([f"S{i}" for i in range(12)], k),
                         "PARAMCD": rng.choice(["HHI", "GSE", "WEMWBS"], k),
                         "AVISIT": rng.choice(["baseline", "month_4", "month_12", "week_2"], k),
                         "AVAL": np.where(rng.random(k) < 0.3, np.nan, rng.integers(0, 60, k))})
    ids = pd.Series([f"S{i}" for i in range(14)])  # two without any row
    visits = ("baseline", "month_4", "month_12")
    rows = adqs.loc[adqs["AVISIT"].isin(visits)]
    ref = rows.pivot_table(index="USUBJID", columns=["PARAMCD", "AVISIT"], values="AVAL",
                           aggfunc="first", dropna=False)
    ref.columns = [f"{p}_{v}" for p, v in ref.columns]
    cols = [f"{p}_{v}" for p in ("GSE", "HHI", "WEMWBS") for v in visits]
    ref = ref.reindex(index=ids.to_numpy(), columns=cols).astype(float).reset_index(drop=True)
    pd.testing.assert_frame_equal(_wide_scores(adqs, ids, visits), ref, check_exact=True)
