"""Synthetic trial generator: format (docs/data-contract.md), determinism, realism and truth sanity.

Sizes are kept small so the module runs in well under a minute; the realism rates use
n = 5,000 with a small truth population (the truth does not influence the trial data).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from outcomes import contract
from outcomes.cli import main
from outcomes.instruments import load_registry
from outcomes.simulate import simulate, table_to_csv, write_simulated_trial
from outcomes.simulate.parameters import DATA_CUT, MECHANISMS, MEDIATORS, PROCESS

REG = load_registry()
FILES = [*contract.TABLE_FILES.values(), "truth.json"]
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INT = re.compile(r"^-?\d+$")
PRIMARY = {k: REG[k].scores[0].paramcd for k in MEDIATORS}


def _read(directory: Path) -> dict[str, pd.DataFrame]:
    return {
        name: pd.read_csv(directory / f, dtype=str, keep_default_na=False)
        for name, f in contract.TABLE_FILES.items()
    }


def _frames(tables) -> dict[str, pd.DataFrame]:
    return {name: t.to_frame() for name, t in tables.items()}


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s.where(s != ""), format="%Y-%m-%d")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    out = tmp_path_factory.mktemp("sim_small")
    write_simulated_trial(n=400, seed=11, out_dir=out, truth_n=5_000)
    return out, _read(out)


@pytest.fixture(scope="module")
def big() -> dict[str, pd.DataFrame]:
    tables, _ = simulate(5_000, seed=2024, truth_n=2_000)
    return _frames(tables)


@pytest.fixture(scope="module")
def truth() -> dict:
    _, t = simulate(20, seed=5, truth_n=50_000)
    return t


# --- format ---------------------------------------------------------------------------------


def expected_questionnaire_columns() -> list[str]:
    cols = list(contract.QUESTIONNAIRE_KEY_COLUMNS)
    for inst in REG.values():
        if inst.has_own_columns:
            cols.extend(inst.item_columns())
    return cols


def check_extract(fr: dict[str, pd.DataFrame]) -> None:
    par, qst, adm, pct = fr["participants"], fr["questionnaires"], fr["admissions"], fr["peer_contacts"]
    assert list(par.columns) == list(contract.PARTICIPANT_COLUMNS)
    assert list(qst.columns) == expected_questionnaire_columns()
    assert list(adm.columns) == list(contract.ADMISSION_COLUMNS)
    assert list(pct.columns) == list(contract.PEER_CONTACT_COLUMNS)

    # participants
    assert par.participant_id.is_unique and par.participant_id.str.match(r"^P\d{4,}$").all()
    assert set(par.arm) <= set(contract.ARMS)
    assert set(par.sex) <= set(contract.SEX_CODES)
    assert set(par.diagnosis_group) <= set(contract.DIAGNOSIS_GROUPS)
    assert set(par.detained_at_index) <= set(contract.BOOLEAN_CODES)
    assert (par.site != "").all()
    for col in ("age", "prior_admissions"):
        assert par[col].str.match(INT).all(), col
    age = par.age.astype(int)
    assert age.between(*contract.AGE_RANGE).all()
    assert (par.prior_admissions.astype(int) >= 0).all()
    for col in ("randomisation_date", "index_discharge_date"):
        assert par[col].str.match(ISO).all()
    for col in ("withdrawal_date", "death_date"):
        assert par[col].map(lambda v: v == "" or bool(ISO.match(v))).all()
    rand, dis = _dates(par.randomisation_date), _dates(par.index_discharge_date)
    wd, dd = _dates(par.withdrawal_date), _dates(par.death_date)
    assert (rand >= pd.Timestamp("2023-01-09")).all()
    assert ((dis - rand).dt.days.between(0, 60)).all()
    assert (wd.dropna() > rand[wd.notna()]).all()
    assert (dd.dropna() >= rand[dd.notna()]).all()
    cut = pd.Timestamp(DATA_CUT)
    assert (wd.dropna() <= cut).all() and (dd.dropna() <= cut).all()
    pinfo = par.set_index("participant_id").assign(rand=rand.values, dis=dis.values, wd=wd.values, dd=dd.values)

    # questionnaires
    assert set(qst.visit) <= set(contract.VISITS)
    assert not qst.duplicated(["participant_id", "visit"]).any()
    assert qst.participant_id.isin(par.participant_id).all()
    done = qst.completion_date != ""
    assert qst.completion_date[done].str.match(ISO).all()
    items = qst.iloc[:, 3:]
    assert (items[~done] == "").all().all(), "a row without completion date has answers"
    assert (items[done] != "").any(axis=1).all()
    for inst in REG.values():
        if not inst.has_own_columns:
            continue
        vals = items[inst.item_columns()].to_numpy().ravel()
        vals = vals[vals != ""]
        assert all(INT.match(v) for v in vals), inst.key
        codes = vals.astype(int)
        assert codes.min() >= inst.code_min and codes.max() <= inst.code_max, inst.key
    q = qst[done].join(pinfo, on="participant_id")
    qd = _dates(q.completion_date)
    assert not (qd >= q.dd).any(), "questionnaire on or after death"
    assert not (qd >= q.wd).any(), "questionnaire on or after withdrawal"
    assert (qd <= cut).all()
    base = q.visit == "baseline"
    assert (qd[base] <= q.rand[base]).all(), "baseline completed after randomisation"
    assert (qd[~base] > q.dis[~base]).all()

    # admissions
    assert adm.admission_id.is_unique and adm.admission_id.str.match(r"^A\d{6,}$").all()
    assert adm.participant_id.isin(par.participant_id).all()
    assert set(adm.legal_status) <= set(contract.LEGAL_STATUS_CODES)
    assert adm.admission_date.str.match(ISO).all()
    assert adm.discharge_date.map(lambda v: v == "" or bool(ISO.match(v))).all()
    a = adm.join(pinfo, on="participant_id")
    a["ad"], a["dc"] = _dates(a.admission_date), _dates(a.discharge_date)
    assert (a.dc.dropna() >= a.ad[a.dc.notna()]).all()
    assert not (a.ad > cut).any() and not (a.dc > cut).any()
    assert not (a.ad > a.dd).any() and not (a.dc > a.dd).any(), "admission after death"
    a = a.sort_values(["participant_id", "ad"])
    prev_end = a.groupby("participant_id").dc.shift()
    same = a.participant_id.eq(a.participant_id.shift())
    assert not (same & prev_end.isna()).any(), "an open admission is followed by another"
    assert not (same & (a.ad <= prev_end)).any(), "admissions overlap"
    index_rows = a[a.ad <= a.dis]
    assert (index_rows.dc == index_rows.dis).all(), "index admission must end at index discharge"
    assert (index_rows.ad <= index_rows.rand).all()

    # peer contacts
    arm = par.set_index("participant_id").arm
    assert (pct.participant_id.map(arm) == contract.ARMS[0]).all(), "contact in usual care"
    assert pct.contact_date.str.match(ISO).all()
    assert set(pct["mode"]) <= set(contract.CONTACT_MODES)
    assert pct.duration_minutes.str.match(INT).all()
    assert pct.duration_minutes.astype(int).between(*contract.DURATION_MINUTES_RANGE).all()
    c = pct.join(pinfo, on="participant_id")
    cdate = _dates(c.contact_date)
    assert (cdate >= c.rand).all() and ((cdate - c.dis).dt.days <= 122).all()
    assert not (cdate >= c.dd).any() and not (cdate >= c.wd).any()
    site_of = c.peer_worker_id.str.extract(r"^PW-(S\d+)-\d{2}$")[0]
    assert (site_of == c.site).all(), "peer worker from another site"
    assert not pct.duplicated(["participant_id", "contact_date"]).any()


def test_small_extract_follows_the_contract(small):
    out, frames = small
    check_extract(frames)
    for f in FILES:
        raw = (out / f).read_bytes()
        assert b"\r" not in raw and raw.endswith(b"\n")
        if f.endswith(".csv"):
            assert b".0," not in raw and b".0\n" not in raw, f"{f}: float-formatted integer"


def test_big_extract_follows_the_contract(big):
    check_extract(big)


def test_truth_json_is_canonical(small):
    out, _ = small
    text = (out / "truth.json").read_text("utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    meta = data["meta"]
    assert meta["seed"] == 11 and meta["n"] == 400 and meta["truth_n"] == 5_000
    assert meta["data_cut"] == DATA_CUT.isoformat() and meta["followup_days"] == 365
    assert meta["version"]
    assert "parameters" in data and "site_effects" in data["parameters"]


# --- determinism ------------------------------------------------------------------------


def test_same_seed_same_bytes_different_seed_different_files(tmp_path):
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_simulated_trial(n=150, seed=seed, out_dir=tmp_path / name, truth_n=2_000)
        runs[name] = {f: (tmp_path / name / f).read_bytes() for f in FILES}
    assert runs["a"] == runs["b"]
    for f in FILES:
        assert runs["a"][f] != runs["c"][f], f


def test_trial_files_do_not_depend_on_truth_n():
    t1, _ = simulate(120, seed=9, truth_n=1_000)
    t2, _ = simulate(120, seed=9, truth_n=1_500)
    for name in contract.TABLE_FILES:
        assert table_to_csv(t1[name]) == table_to_csv(t2[name])


# --- realism (n = 5,000) --------------------------------------------------------------------


def test_realistic_rates_on_5000(big):
    par, qst, adm = big["participants"], big["questionnaires"], big["admissions"]
    n = len(par)
    rand, dis = _dates(par.randomisation_date), _dates(par.index_discharge_date)
    dd = _dates(par.death_date)
    # deaths within the 365-day follow-up: designed ~2% (binomial SE 0.2%)
    assert 0.010 <= ((dd - dis).dt.days <= 365).mean() <= 0.035
    assert (par.death_date != "").mean() <= 0.06  # all deaths to the data cut
    # withdrawals: designed ~5% (SE 0.3%)
    assert 0.035 <= (par.withdrawal_date != "").mean() <= 0.065
    # questionnaire missingness: month 12 in 20-30%, month 4 fewer
    def missing(visit):
        got = qst[(qst.visit == visit) & (qst.completion_date != "")].participant_id.nunique()
        return 1 - got / n

    assert missing("baseline") == 0
    assert 0.20 <= missing("month_12") <= 0.30
    assert 0.05 <= missing("month_4") < missing("month_12")
    items = qst[qst.completion_date != ""].iloc[:, 3:].to_numpy()
    assert 0.005 <= (items == "").mean() <= 0.025
    # 12-month readmission: usual care 40-55% (designed ~48%), peer support lower
    a = adm.merge(par[["participant_id", "index_discharge_date"]], on="participant_id")
    gap = (_dates(a.admission_date) - _dates(a.index_discharge_date)).dt.days
    readm = set(a.participant_id[(gap > 0) & (gap <= 365)])
    risk = par.assign(r=par.participant_id.isin(readm)).groupby("arm").r.mean()
    assert 0.40 <= risk["usual_care"] <= 0.55
    assert risk["peer_support"] < risk["usual_care"] - 0.03
    # other design features are present
    assert 0.85 <= (gap <= 0).sum() / n <= 0.98  # index admission listed for most
    assert (adm.discharge_date == "").sum() > 0  # open admissions at the cut
    assert (par.detained_at_index == "true").mean() == pytest.approx(0.40, abs=0.04)
    assert 0.01 <= (par.prior_admissions == "0").mean() <= 0.06
    wd = _dates(par.withdrawal_date)
    after = a.join(par.set_index("participant_id").assign(wd=wd.values).wd, on="participant_id")
    assert (_dates(after.admission_date) > after.wd).sum() > 0  # some routine data after withdrawal
    assert (rand.max() - rand.min()).days > 500  # ~18 months of recruitment


def test_items_coherent_with_latents(big):
    """Reversed items are answered in reverse; scores correlate as the general factor implies."""
    qst = big["questionnaires"]
    b = qst[(qst.visit == "baseline")].replace("", np.nan)
    num = b.iloc[:, 3:].astype(float)
    for key in ("hhi", "ismi10"):
        inst = REG[key]
        rev = [f"{key}_{i:02d}" for i in inst.reversed]
        fwd = [c for c in inst.item_columns() if c not in rev]
        assert num[rev[0]].corr(num[fwd[0]]) < -0.2, key
        assert num[fwd[0]].corr(num[fwd[1]]) > 0.2, key
    from outcomes.scoring import item_matrix, score_items

    score = {}
    for key in ("wemwbs", "hhi", "ismi10", "ucla3"):
        score[key] = score_items(item_matrix(b, REG[key]), REG[key])[0].value
    frame = pd.DataFrame(score)
    assert frame.wemwbs.corr(frame.hhi) > 0.3
    assert frame.wemwbs.corr(frame.ismi10) < -0.2
    assert frame.wemwbs.corr(frame.ucla3) < -0.2


# --- truth sanity ---------------------------------------------------------------------------


def test_natural_effects_add_up_to_total(truth):
    for outcome, by_set in truth["mediation"].items():
        for name, eff in by_set.items():
            tol = 1e-5 * max(1.0, abs(eff["total"]))
            assert eff["acme_treated"] + eff["ade_control"] == pytest.approx(eff["total"], abs=tol), (outcome, name)
            assert eff["acme_control"] + eff["ade_treated"] == pytest.approx(eff["total"], abs=tol), (outcome, name)


def test_designed_signs(truth):
    for key, spec in PROCESS.items():
        diff = truth["scores"]["month_4"][PRIMARY[key]]["difference"]
        assert np.sign(diff) == np.sign(spec.arm), key
    assert truth["mediation"]["WEMWBS_month_12"]["all"]["total"] > 0
    for key in MEDIATORS:  # every process score mediates in the beneficial direction
        assert truth["mediation"]["WEMWBS_month_12"][PRIMARY[key]]["acme_average"] > 0
        assert truth["mediation"]["readmission_time_365"][PRIMARY[key]]["acme_average"] < 0
    r = truth["readmission"]
    assert 0.45 <= r["risk_365_no_death"]["usual_care"] <= 0.52
    assert 0.62 <= r["risk_365_no_death"]["odds_ratio"] <= 0.78
    assert r["cuminc_365_death_competing"]["usual_care"] < r["risk_365_no_death"]["usual_care"]
    assert r["cox_unadjusted"]["hr"] < 1 and r["cox_site_strata_adjusted"]["hr"] < 1
    assert r["rmst_365_days"]["difference"] > 0
    pm = truth["mediation"]["readmission_time_365"]["all"]["prop_mediated"]
    assert 0.2 < pm < 0.8  # partly mediated


def test_joint_mechanism_effect_is_sum_of_single_effects_for_wemwbs(truth):
    """Linear latent outcome model without interactions: additive up to Monte Carlo error
    (and the small curvature of the ordinal measurement). Not expected on the risk scale."""
    w = truth["mediation"]["WEMWBS_month_12"]
    sets = truth["mediator_sets"]
    for mech in [*MECHANISMS, "all"]:
        keys = sets[mech]
        for eff in ("acme_treated", "acme_control"):
            total = sum(w[k][eff] for k in keys)
            se = np.sqrt(sum(w[k]["mc_se"][eff] ** 2 for k in keys) + w[mech]["mc_se"][eff] ** 2)
            assert abs(w[mech][eff] - total) <= 3 * se + 1e-9, (mech, eff)


# --- CLI ------------------------------------------------------------------------------------


def test_cli_simulate(tmp_path, capsys, monkeypatch):
    # the exact command; a smaller default truth population keeps the test fast
    monkeypatch.setattr("outcomes.simulate.DEFAULT_TRUTH_N", 2_000)
    out = tmp_path / "cli"
    assert main(["simulate", "--n", "50", "--seed", "1", "--out", str(out)]) == 0
    for f in FILES:
        assert (out / f).is_file(), f
    par = pd.read_csv(out / "participants.csv", dtype=str)
    assert len(par) == 50
    assert "wrote a trial of 50 participants" in capsys.readouterr().out


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    assert main(["simulate", "--n", "0", "--seed", "1", "--out", str(tmp_path)]) == 2
    assert "--n" in capsys.readouterr().err
    assert main(["simulate", "--n", "5", "--seed", "1", "--out", str(tmp_path), "--truth-n", "10"]) == 2
