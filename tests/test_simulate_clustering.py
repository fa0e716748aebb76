"""The simulator's peer workers: ``--icc``, unequal caseloads, worker effects, truth.json
→ clustering (docs/synthetic-trial.md §10a)."""

import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import polygamma

from outcomes import cli
from outcomes.adam.adsl import _peer_summary
from outcomes.instruments import load_registry
from outcomes.simulate import SimulationError, simulate, write_simulated_trial
from outcomes.simulate.parameters import CONTROL, TREATED

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "synthetic_data"
BUNDLED_SEED = 20261122  # docs/synthetic-trial.md §2
N, SEED, ICC = 2400, 7, 0.2


@pytest.fixture(scope="module")
def pair():
    """The same trial (n = 2400) at ICC 0.2 and at ICC 0 (small truth populations)."""
    clustered = simulate(N, seed=SEED, truth_n=1_000, icc=ICC)
    flat = simulate(N, seed=SEED, truth_n=1_000)
    return clustered, flat


def _frames(tables) -> dict[str, pd.DataFrame]:
    return {name: t.to_frame() for name, t in tables.items()}


@pytest.mark.parametrize("icc", [-0.1, 1.0, 1.5, math.nan, math.inf, "0.1", True, None])
def test_icc_is_validated(icc):
    with pytest.raises(SimulationError, match=r"--icc must be"):
        simulate(20, seed=1, truth_n=1_000, icc=icc)


def test_cli_rejects_bad_icc(tmp_path, capsys):
    assert cli.main(["simulate", "--n", "20", "--seed", "1", "--out", str(tmp_path), "--icc", "1"]) == 2
    assert "--icc must be in [0, 1)" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_icc_zero_gives_the_bundled_extract(tmp_path):
    """ICC 0 (explicit) writes the bundled files byte for byte; the trial does not depend
    on truth_n, so a small truth population suffices here (truth.json itself, at the
    default truth_n, is checked by test_bundled_data.py)."""
    write_simulated_trial(n=600, seed=BUNDLED_SEED, out_dir=tmp_path, truth_n=1_000, icc=0.0)
    for name in ("participants.csv", "questionnaires.csv", "admissions.csv", "peer_contacts.csv",
                 "datapackage.json"):
        assert hashlib.sha256((tmp_path / name).read_bytes()).digest() == \
            hashlib.sha256((BUNDLED / name).read_bytes()).digest(), name


def test_truth_records_the_clustering_block(pair):
    (_, truth), (_, flat_truth) = pair
    assert "clustering" not in flat_truth
    block = truth["clustering"]
    assert block["icc"] == ICC
    assert block["n_workers"] == len(block["workers"]) == sum(truth["parameters"]["peer_workers"])
    ratio = ICC / (1 - ICC)
    dist = block["disturbance_variance"]
    # closed forms: the equations' noise SDs, and for the hazard pi^2/6 + trigamma(1/theta)
    assert dist["month_12:wemwbs"] == pytest.approx(0.75**2, rel=1e-12)
    assert dist["month_4:wai_sr"] == pytest.approx(0.90**2, rel=1e-12)
    theta = truth["parameters"]["readmission"]["frailty_var"]
    assert dist["readmission"] == pytest.approx(math.pi**2 / 6 + float(polygamma(1, 1 / theta)), rel=1e-12)
    for name, v in block["worker_effect_variance"].items():
        assert v == pytest.approx(ratio * dist[name], rel=1e-12), name
    assert sum(w["caseload"] for w in block["workers"].values()) == len(block["main_worker"])
    for site in truth["parameters"]["sites"]:
        weights = [w["caseload_weight"] for w in block["workers"].values() if w["site"] == site]
        assert sum(weights) == pytest.approx(1.0, abs=1e-12)
    scores = block["score_scale"]["month_12:WEMWBS"]
    assert 0 < scores["icc"] < 1 and scores["mc_se_between"] < 0.1 * scores["between_worker_variance"]


def test_caseloads_are_unequal(pair):
    """Within each site the realised caseloads reject equal allocation (chi-square, the
    Dirichlet(2) weights are far from equal at this n), and overall they span a factor > 3."""
    block = pair[0][1]["clustering"]
    loads = pd.DataFrame(block["workers"].values())
    assert loads["caseload"].max() > 3 * loads["caseload"].min()
    p_values = [stats.chisquare(g["caseload"]).pvalue for _, g in loads.groupby("site")]
    assert np.median(p_values) < 1e-3


def test_usual_care_is_unaffected(pair):
    """Usual care has no peer worker: at the same seed every usual-care questionnaire row,
    every baseline row and the whole participants table are those of ICC 0, while the
    treated arm's month-12 answers change."""
    (tables, _), (flat, _) = pair
    c, f = _frames(tables), _frames(flat)
    assert c["participants"].equals(f["participants"])
    arm = c["participants"].set_index("participant_id")["arm"]
    for frame in (c, f):
        frame["questionnaires"]["arm"] = frame["questionnaires"]["participant_id"].map(arm)
    qc, qf = c["questionnaires"], f["questionnaires"]
    for sel in (lambda q: q["arm"] == CONTROL, lambda q: q["visit"] == "baseline"):
        assert qc.loc[sel(qc)].reset_index(drop=True).equals(qf.loc[sel(qf)].reset_index(drop=True))
    assert set(c["peer_contacts"]["participant_id"].map(arm)) == {TREATED}
    t12 = lambda q: q.loc[(q["arm"] == TREATED) & (q["visit"] == "month_12")]  # noqa: E731
    assert not t12(qc).reset_index(drop=True).equals(t12(qf).reset_index(drop=True))


def test_peer_contacts_show_the_assigned_worker(pair):
    """PEERWID as ADSL derives it (most contacts) is the worker whose effects the
    participant got for the large majority (85% of contacts are with the main worker;
    the rule misses only when few contacts happen to favour another worker)."""
    tables, truth = pair[0]
    contacts = tables["peer_contacts"].to_frame()
    contacts["contact_date"] = pd.to_datetime(contacts["contact_date"])
    contacts["duration_minutes"] = contacts["duration_minutes"].astype(int)
    derived = _peer_summary(contacts, pd.Timestamp("2025-12-31"))["PEERWID"]
    assigned = pd.Series(truth["clustering"]["main_worker"])
    assert derived.index.isin(assigned.index).all()  # contacts only for engaged participants
    agree = (derived == assigned.reindex(derived.index)).mean()
    assert agree > 0.9, agree
    assert derived.index.size > 0.9 * assigned.size  # engaged without any contact are few


def _between_worker_variance(resid: pd.Series, cluster: pd.Series) -> float:
    """ANOVA (method of moments) between-cluster variance for unequal cluster sizes."""
    g = pd.DataFrame({"r": resid, "c": cluster}).groupby("c")["r"]
    n_i, means = g.size(), g.mean()
    big_n, k = n_i.sum(), n_i.size
    msb = float((n_i * (means - resid.mean()) ** 2).sum() / (k - 1))
    msw = float(g.var(ddof=1).mul(n_i - 1).sum() / (big_n - k))
    n0 = (big_n - (n_i**2).sum() / big_n) / (k - 1)
    return (msb - msw) / n0


def _wemwbs_residual(tables) -> pd.DataFrame:
    """Month-12 WEMWBS total (complete items) regressed on its baseline and site."""
    frames = _frames(tables)
    cols = load_registry()["wemwbs"].item_columns()
    q = frames["questionnaires"]
    q = q.loc[(q[cols] != "").all(axis=1)]
    total = q[cols].astype(int).sum(axis=1)
    wide = pd.DataFrame({"pid": q["participant_id"], "visit": q["visit"], "w": total}) \
        .pivot(index="pid", columns="visit", values="w").dropna(subset=["baseline", "month_12"])
    par = frames["participants"].set_index("participant_id").reindex(wide.index)
    x = pd.get_dummies(par["site"], drop_first=True, dtype=float)
    x.insert(0, "baseline", wide["baseline"])
    x.insert(0, "const", 1.0)
    beta = np.linalg.lstsq(x.to_numpy(), wide["month_12"].to_numpy(), rcond=None)[0]
    return pd.DataFrame({"resid": wide["month_12"] - x.to_numpy() @ beta, "arm": par["arm"], "site": par["site"]})


def test_between_worker_variance_matches_the_truth(pair):
    """Empirical between-worker variance of the month-12 WEMWBS residual (treated, by
    assigned worker) against truth.json's score-scale value; none in usual care.

    Tolerance: with G = 30 workers the ANOVA estimator has a relative SE of about
    sqrt(2 / (G - 1)) * (1 + (1 - rho) / (n0 rho)) = 0.26 * 1.2 = 0.3 (rho ~ 0.16,
    n0 ~ 30 completers a worker), so a factor of 3 either way is about 3.7 SE of the log
    ratio; the truth's own MC error is < 10% (asserted above). Without an effect (usual
    care with pseudo-workers, or the same treated participants and workers at ICC 0) the
    estimate has SD about 0.26 * sigma_w^2 / n0 ~ 5% of the truth, so < 25% is about 5 SD.
    """
    (tables, truth), (flat, _) = pair
    block = truth["clustering"]
    target = block["score_scale"]["month_12:WEMWBS"]["between_worker_variance"]
    main = pd.Series(block["main_worker"])
    res = _wemwbs_residual(tables)
    treated = res.loc[res.index.isin(main.index)]
    est = _between_worker_variance(treated["resid"], main.reindex(treated.index))
    assert target / 3 < est < 3 * target, (est, target)

    flat_res = _wemwbs_residual(flat)
    flat_treated = flat_res.loc[flat_res.index.isin(main.index)]
    assert abs(_between_worker_variance(flat_treated["resid"], main.reindex(flat_treated.index))) < 0.25 * target
    # usual care: pseudo-workers drawn with the same caseload weights, within site
    rng = np.random.default_rng(1)
    uc = res.loc[res["arm"] == CONTROL]
    workers = pd.DataFrame(block["workers"].values(), index=list(block["workers"]))
    pseudo = pd.Series(
        [rng.choice(workers.index[workers["site"] == s], p=workers.loc[workers["site"] == s, "caseload_weight"])
         for s in uc["site"]], index=uc.index,
    )
    assert abs(_between_worker_variance(uc["resid"], pseudo)) < 0.25 * target


def test_clustering_combines_with_missingness_scenarios():
    tables, truth = simulate(300, seed=3, truth_n=1_000, icc=0.1, missingness="mnar")
    assert truth["missingness"]["scenario"] == "mnar" and "mnar_trial" in truth["missingness"]
    assert "mnar_truth_population" in truth["missingness"]
    assert truth["clustering"]["icc"] == 0.1 and truth["clustering"]["main_worker"]
    flat, _ = simulate(300, seed=3, truth_n=1_000, missingness="mnar")
    assert tables["participants"].rows == flat["participants"].rows
