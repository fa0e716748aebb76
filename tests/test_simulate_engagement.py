"""The simulator's selective-engagement scenario (issue 14 point 1; docs/synthetic-trial.md
§10b): the flag, the default's bytes, the exclusion restriction, ITT = share x CACE, the
contacts showing the dose, covariate-dependent compliance and dose, truth.json → engagement."""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from outcomes.cli import main
from outcomes.instruments import load_registry
from outcomes.simulate import SimulationError, simulate, write_simulated_trial
from outcomes.simulate.engagement import _adjusted_per_protocol, draw_engagement, exposure
from outcomes.simulate.model import Model, draw_units
from outcomes.simulate.parameters import CONTROL, TREATED, EngagementSpec, draw_parameters

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "synthetic_data"
BUNDLED_SEED = 20261122  # docs/synthetic-trial.md §2
N, SEED = 4000, 11


@pytest.fixture(scope="module")
def run():
    """A selective-engagement trial of 4,000 with a truth population of 10,000 (~6 s)."""
    tables, truth = simulate(N, seed=SEED, truth_n=10_000, engagement="selective")
    return {name: t.to_frame() for name, t in tables.items()}, truth


@pytest.mark.parametrize("bad", ["selectve", "", None, 1])
def test_engagement_is_validated(bad):
    with pytest.raises(SimulationError, match=r"--engagement must be one of default, selective, got"):
        simulate(20, seed=1, truth_n=1_000, engagement=bad)


def test_cli_flag(tmp_path, capsys):
    out = tmp_path / "x"
    assert main(["simulate", "--n", "30", "--seed", "2", "--truth-n", "1000", "--out", str(out),
                 "--engagement", "selective"]) == 0
    assert "selective engagement" in capsys.readouterr().out
    assert "engagement" in (out / "truth.json").read_text()
    with pytest.raises(SystemExit):
        main(["simulate", "--n", "30", "--seed", "2", "--out", str(tmp_path / "y"), "--engagement", "some"])


def test_default_gives_the_bundled_extract(tmp_path):
    """``engagement="default"`` (explicit) writes the bundled CSVs byte for byte; the trial
    does not depend on truth_n (truth.json at the default truth_n: test_bundled_data.py)."""
    write_simulated_trial(n=600, seed=BUNDLED_SEED, out_dir=tmp_path, truth_n=1_000, engagement="default")
    for name in ("participants.csv", "questionnaires.csv", "admissions.csv", "peer_contacts.csv",
                 "datapackage.json"):
        assert hashlib.sha256((tmp_path / name).read_bytes()).digest() == \
            hashlib.sha256((BUNDLED / name).read_bytes()).digest(), name
    assert '"engagement"' not in (tmp_path / "truth.json").read_text()


def test_never_takers_have_exactly_their_control_outcomes():
    """The model itself, outside the truth code: a never-taker's potential outcomes under
    peer support are those under usual care, to the last bit, on every questionnaire score
    at both visits and on the readmission hazard; a complier's are not."""
    params = draw_parameters(np.random.default_rng(1))
    model = Model(params, load_registry())
    u = draw_units(np.random.default_rng(2), 3_000, params, model.keys)
    eng = draw_engagement(np.random.default_rng(3), EngagementSpec(), params, u)
    u.exposure = exposure(EngagementSpec(), eng.dose)
    base = model.baseline(u)
    res = {}
    for t in (0.0, 1.0):
        m4 = model.month4(u, base, t)
        m12 = model.month12(u, base, m4, t)
        res[t] = (m4.scores, m12.scores, model.readmission_lp(u, t, model.mediator_scores(m4)))
    never = ~eng.complier
    for k in range(2):
        for p, y0 in res[0.0][k].items():
            assert np.array_equal(res[1.0][k][p][never], y0[never]), p
    assert np.array_equal(res[1.0][2][never], res[0.0][2][never])
    # compliers do receive the effect: WAI-SR at month 4 rises by ~0.5 latent SD x dose / 5.5
    gain = res[1.0][0]["WAISR"][eng.complier] - res[0.0][0]["WAISR"][eng.complier]
    assert gain.mean() > 3.0
    assert np.all(res[1.0][2][eng.complier] < res[0.0][2][eng.complier])


def test_truth_block(run):
    _, truth = run
    e = truth["engagement"]
    assert e["scenario"] == "selective"
    assert 0.66 < e["complier_share"] < 0.74  # about 70% (population of 10,000)
    assert 6.5 < e["mean_dose_compliers"] < 9.0
    assert sum(e["dose_distribution_compliers"].values()) == pytest.approx(1.0, abs=1e-12)
    for visit in ("month_4", "month_12"):
        assert set(e["scores"][visit]) == set(truth["scores"][visit])  # every score of the truth block
        for p, r in e["scores"][visit].items():
            assert r["never_taker_effect"] == 0.0, (visit, p)
            # ITT = share x CACE, both from the potential outcomes; and the ITT is the
            # scores block's difference (the same arrays)
            assert r["itt"] == pytest.approx(e["complier_share"] * r["cace"], rel=1e-9, abs=1e-12)
            assert r["itt"] == pytest.approx(truth["scores"][visit][p]["difference"], rel=1e-12, abs=1e-12)
            assert r["effect_per_contact"] == pytest.approx(r["cace"] / e["mean_dose_compliers"], rel=1e-12)
    for label, r in e["readmission"].items():
        assert r["never_taker_effect"] == 0.0
        assert r["itt"] == pytest.approx(truth["readmission"][label]["risk_difference"], rel=1e-12)
        assert r["cace"] < -0.08  # fewer readmissions among compliers
    w = e["scores"]["month_12"]["WEMWBS"]
    # the scenario is what it is for: per-protocol is biased, even adjusted; the linear dose
    assert w["per_protocol_bias"] > 0.5 and w["per_protocol_adjusted_bias"] > 0.4
    assert w["marginal_effect_per_contact"] == pytest.approx(w["effect_per_contact"], rel=0.05)
    assert 2.0 < w["cace"] < 4.0
    assert e["latent_effect_per_contact"]["month_4:wai_sr"] == pytest.approx(0.5 / 5.5, rel=1e-12)


def test_adjusted_per_protocol_is_ols():
    """The normal-equation OLS of the adjusted per-protocol truth equals statsmodels OLS."""
    rng = np.random.default_rng(5)
    n = 500
    complier = rng.random(n) < 0.7
    baseline = rng.normal(40, 10, n)
    site = rng.integers(0, 4, n)
    adjust = (site[:, None] == np.arange(1, 4)[None, :]).astype(float)
    y0 = 10 + 0.5 * baseline + site + rng.normal(0, 5, n) + 2 * complier
    y1 = y0 + 3 * complier
    got = _adjusted_per_protocol(y1, y0, complier, baseline, adjust)
    y = np.concatenate([y1[complier], y0])
    x = np.column_stack([np.r_[np.ones(complier.sum()), np.zeros(n)], np.r_[baseline[complier], baseline],
                         np.vstack([adjust[complier], adjust])])
    assert got == pytest.approx(sm.OLS(y, sm.add_constant(x)).fit().params[1], rel=1e-10)


def test_contacts_reproduce_the_dose(run):
    frames, truth = run
    trial = truth["engagement"]["trial"]
    part = frames["participants"].set_index("participant_id")
    contacts = frames["peer_contacts"]
    count = contacts.groupby("participant_id").size()
    treated = part.index[part["arm"] == TREATED]
    compliers = set(trial["compliers"])
    treated_compliers = [p for p in treated if p in compliers]
    assert set(count.index) <= set(treated_compliers)  # no contact for never-takers or usual care
    received = pd.Series(trial["received_dose"])
    assert set(received.index) == set(treated_compliers)
    assert count.reindex(received.index, fill_value=0).equals(received.astype(count.dtype))
    # one contact a day, all in the window from randomisation to discharge + 122 days
    assert not contacts.duplicated(["participant_id", "contact_date"]).any()
    day = pd.to_datetime(contacts["contact_date"])
    pid = contacts["participant_id"]
    assert (day >= pd.to_datetime(part.loc[pid, "randomisation_date"]).to_numpy()).all()
    end = pd.to_datetime(part.loc[pid, "index_discharge_date"]) + pd.Timedelta(days=122)
    assert (day <= end.to_numpy()).all()
    # the planned dose is received unless death or withdrawal came first
    planned = pd.Series({p: trial["compliers"][p] for p in treated_compliers})
    short = received < planned
    assert short.sum() == trial[TREATED]["compliers_dose_truncated"]
    stopped = part.loc[short[short].index, ["death_date", "withdrawal_date"]]
    assert (stopped != "").any(axis=1).all()
    assert trial[TREATED]["compliers"] == len(treated_compliers)


def _adsl_like(frames, truth) -> pd.DataFrame:
    part = frames["participants"].set_index("participant_id")
    q = frames["questionnaires"]
    base = q[q["visit"] == "baseline"].set_index("participant_id")
    items = [f"wemwbs_{i:02d}" for i in range(1, 15)]
    df = pd.DataFrame({
        "complier": [p in truth["engagement"]["trial"]["compliers"] for p in part.index],
        "treated": (part["arm"] == TREATED).astype(float).to_numpy(),
        "age": part["age"].astype(float).to_numpy(),
        "diagnosis": part["diagnosis_group"].to_numpy(),
        "site": part["site"].to_numpy(),
        "prior": part["prior_admissions"].astype(float).to_numpy(),
    }, index=part.index)
    df["w0"] = base[items].apply(pd.to_numeric).sum(axis=1, min_count=14).reindex(df.index)
    m12 = q[q["visit"] == "month_12"].set_index("participant_id")
    df["w12"] = m12[items].apply(pd.to_numeric).sum(axis=1, min_count=14).reindex(df.index)
    return df


def test_compliance_and_dose_depend_on_covariates(run):
    frames, truth = run
    everyone = _adsl_like(frames, truth)
    df = everyone.dropna(subset=["w0"])
    x = pd.get_dummies(df[["age", "w0", "prior", "diagnosis"]], columns=["diagnosis"], drop_first=True,
                       dtype=float)
    full = sm.Logit(df["complier"].astype(float), sm.add_constant(x)).fit(disp=0)
    null = sm.Logit(df["complier"].astype(float), np.ones((len(df), 1))).fit(disp=0)
    assert stats.chi2.sf(2 * (full.llf - null.llf), x.shape[1]) < 1e-10
    assert full.params["w0"] > 0 and full.pvalues["w0"] < 1e-6  # better wellbeing, more engagement
    # the dose of treated compliers depends on site (peer-worker capacity) and age
    received = pd.Series(truth["engagement"]["trial"]["received_dose"], dtype=float)
    sub = everyone.loc[received.index]
    xd = pd.get_dummies(sub[["age", "site"]], columns=["site"], drop_first=True, dtype=float)
    fit = sm.GLM(received, sm.add_constant(xd), family=sm.families.Poisson()).fit()
    null = sm.GLM(received, np.ones((len(sub), 1)), family=sm.families.Poisson()).fit()
    assert stats.chi2.sf(null.deviance - fit.deviance, xd.shape[1]) < 1e-6


def test_never_takers_in_the_trial_look_like_controls(run):
    """Observed data, n = 4,000: among never-takers (both arms: the type is in truth.json)
    randomisation changes nothing (month-12 WEMWBS, ANCOVA on baseline WEMWBS and site);
    among compliers it does (≈ CACE ≈ 3 points)."""
    frames, truth = run
    df = _adsl_like(frames, truth).dropna(subset=["w0", "w12"])
    est = {}
    for stratum, sel in (("never", ~df["complier"]), ("complier", df["complier"])):
        sub = df[sel]
        x = pd.get_dummies(sub[["treated", "w0", "site"]], columns=["site"], drop_first=True, dtype=float)
        fit = sm.OLS(sub["w12"], sm.add_constant(x)).fit()
        est[stratum] = (fit.params["treated"], fit.bse["treated"])
    b, se = est["never"]
    assert abs(b) < 2.6 * se, est  # no effect (about 1 point SE here; a leak of the ITT would be ~2 points)
    b, se = est["complier"]
    assert b > 3 * se, est


def test_combines_with_icc_and_missingness():
    tables, truth = simulate(400, seed=3, truth_n=2_000, icc=0.2, missingness="mnar", engagement="selective")
    e, c = truth["engagement"], truth["clustering"]
    trial = e["trial"]
    part = tables["participants"].to_frame().set_index("participant_id")
    treated_compliers = {p for p in trial["compliers"] if part.loc[p, "arm"] == TREATED}
    assert set(c["main_worker"]) == treated_compliers  # compliers are the ones given a worker
    for visit in ("month_4", "month_12"):
        for r in e["scores"][visit].values():
            assert r["never_taker_effect"] == 0.0  # worker effects reach compliers only
    assert truth["missingness"]["scenario"] == "mnar"
    assert trial[CONTROL]["n"] + trial[TREATED]["n"] == 400


def test_reproducible():
    a = simulate(150, seed=4, truth_n=1_000, engagement="selective")
    b = simulate(150, seed=4, truth_n=1_000, engagement="selective")
    assert a[0]["peer_contacts"].rows == b[0]["peer_contacts"].rows
    assert a[1]["engagement"] == b[1]["engagement"]
