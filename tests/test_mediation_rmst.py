"""Restricted mean time to readmission up to the horizon under each potential outcome of the
Weibull outcome model (outcomes.mediation.rmst), and the flag of Weibull effects that
extrapolate beyond the follow-up (outcomes.mediation.summaries; issue 16, point 5)."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
from rscript import R_DIR, require_r
from scipy import integrate, stats
from test_mediation_survival import trial

from outcomes.mediation import fit_mediation
from outcomes.mediation.effects import LinearPredictor
from outcomes.mediation.fitting import fit_weibull
from outcomes.mediation.models import K_REF
from outcomes.mediation.rmst import (
    SERIES_TERMS,
    SERIES_X,
    po_weibull_rmst,
    weibull_rmst_ratio,
)
from outcomes.mediation.summaries import NOT_MEANINGFUL


def _surv(u, eta, sigma):
    return np.exp(-np.power(u * np.exp(-eta), 1.0 / sigma))


@pytest.mark.parametrize("sigma", [0.3, 0.9, 2.5])
def test_the_ratio_is_the_integral_of_the_weibull_survival(sigma):
    """r(sigma, x) = (1/h) int_0^h S(u) du by scipy.integrate.quad, from x = 1e-12 (nobody
    has the event by h) to 50 (everybody has), on both sides of the switch from the series
    to gammainc at 4: relative tolerance 1e-9 (quad's own error is below 1e-12 here;
    gammainc is accurate to ~1e-14)."""
    h = 365.0
    for x in (1e-12, 1e-4, 0.05, 0.7, 3.0, 3.999999, 4.000001, 9.0, 50.0):
        eta = np.log(h) - sigma * np.log(x)  # the linear predictor with cumulative hazard x
        ref = integrate.quad(_surv, 0, h, args=(eta, sigma), epsabs=0, epsrel=1e-13,
                             limit=500)[0] / h
        assert weibull_rmst_ratio(sigma, np.array(x)) == pytest.approx(ref, rel=1e-9), x
    assert weibull_rmst_ratio(sigma, np.array(0.0)) == 1.0  # the limit, not 0/0
    assert weibull_rmst_ratio(sigma, np.array(np.inf)) == 0.0
    # vectorised over replicates (sigma per row) as the engine calls it
    xs = np.array([[0.5, 5.0], [0.01, 30.0]])
    sg = np.array([[sigma], [sigma + 0.5]])
    each = [[float(weibull_rmst_ratio(sg[i, 0], np.array(xs[i, j]))) for j in range(2)]
            for i in range(2)]
    np.testing.assert_array_equal(weibull_rmst_ratio(sg, xs), each)


def _full_series(sigma, x):
    """The series of weibull_rmst_ratio with every one of its SERIES_TERMS terms."""
    xs = np.where(x <= SERIES_X, x, 0.0)
    term = np.ones(np.broadcast_shapes(sigma.shape, x.shape))
    total = term.copy()
    for n in range(1, SERIES_TERMS + 1):
        term *= xs
        term /= sigma + n
        total += term
    return np.exp(-xs) * total


def test_the_series_stops_without_changing_a_bit():
    """The early stop (terms below half an ulp of the total) and the compaction of the
    elements still changing give the bits of all SERIES_TERMS terms: x spread over 1e-9 to
    4 (the switch) and beyond, sigma per row, one row NaN, arrays as the engine passes them
    (nodes, replicates, participants)."""
    rng = np.random.default_rng(11)
    for spread in (0.3, 1.0, 3.0):
        sg = np.exp(rng.normal(0.0, 0.7, (1, 6, 1)))
        sg[0, 2, 0] = np.nan
        x = np.exp(rng.normal(-1.0, spread, (5, 6, 300)))
        x[0, 0, :3] = [4.0, np.nextafter(4.0, 0.0), 0.0]
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            got = weibull_rmst_ratio(sg, x)
            small = x <= SERIES_X
            np.testing.assert_array_equal(got[small], _full_series(sg, x)[small])
    sigma = np.array(0.02)  # small sigma: x <= (sigma + n + 1) / 2 decides late
    x = np.linspace(0.0, 4.0, 2001)
    np.testing.assert_array_equal(weibull_rmst_ratio(sigma, x), _full_series(sigma, x))


def test_potential_outcome_rmst_is_the_double_integral():
    """mean_i int E_Z[RMST(h | eta_i + s Z + t' Delta)] phi(z) dz by quad over the normal
    noise Z (each RMST the closed form checked against quad over time above), against the
    Gauss-Hermite computation with the point estimate's 96 nodes: relative tolerance 1e-9."""
    rng = np.random.default_rng(3)
    n, h = 4, 300.0
    C = np.column_stack([np.ones(n), rng.normal(size=n)])
    lp = LinearPredictor(coef_c=(np.array([[5.6, 0.3]]), np.array([[5.8, 0.2]])),
                         beta_t=np.array([0.25]), delta=(np.array([0.4]), np.array([0.5])),
                         s=(np.array([0.6]), np.array([0.8])), C=C,
                         weight=np.full((1, n), 1.0 / n))
    sigma = 1.3
    got = po_weibull_rmst(lp, np.array([sigma]), h, K_REF)[0]
    for t in (0, 1):
        for tp in (0, 1):
            ref = 0.0
            for i in range(n):
                eta0 = float(C[i] @ lp.coef_c[t][0]) + lp.beta_t[0] * t + tp * lp.delta[t][0]
                s = float(lp.s[t][0])

                def rmst(z, eta0=eta0, s=s):
                    x = np.exp((np.log(h) - eta0 - s * z) / sigma)
                    return h * float(weibull_rmst_ratio(sigma, np.array(x))) * stats.norm.pdf(z)

                ref += integrate.quad(rmst, -14, 14, epsabs=0, epsrel=1e-12, limit=200)[0] / n
            assert got[t, tp] == pytest.approx(ref, rel=1e-9), (t, tp)


@pytest.fixture(scope="module")
def weibull_trial():
    rng = np.random.default_rng(11)
    n = 300
    d = pd.DataFrame({"arm": rng.permutation(np.arange(n) % 2), "x": rng.normal(size=n)})
    t_event = np.exp(5.7 + 0.35 * d.arm - 0.3 * d.x + 0.8 * np.log(rng.exponential(size=n)))
    t_cens = rng.uniform(150, 600, n)
    d["time"] = np.maximum(np.minimum(t_event, t_cens), 1.0)
    d["event"] = (t_event <= t_cens).astype(int)
    return d


def test_rmst_without_mediator_matches_r_survreg_and_integrate(weibull_trial, tmp_path):
    """No mediator: the RMST to 365 days of each arm standardised over the sample (R:
    survreg Weibull, then integrate() of each participant's survival function, averaged)
    against fit_weibull + po_weibull_rmst with s = 0, Delta = 0. Tolerances: coefficients
    1e-6 (both fits to ~1e-10 relative change), RMST 1e-7 relative (integrate's rel.tol
    1e-11; the fits' differences propagate at ~1e-8)."""
    require_r(("survival",))
    d = weibull_trial
    d.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "r.tsv"
    r = subprocess.run(["Rscript", str(R_DIR / "rmst_weibull.R"), str(tmp_path / "d.csv"),
                        str(out), "365"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ref = pd.read_csv(out, sep="\t").set_index("name")["value"]
    X = np.column_stack([np.ones(len(d)), d.arm, d.x])
    wf = fit_weibull(X, d.time.to_numpy(), d.event.to_numpy(), np.ones((1, len(d))))
    coef, sigma = wf.coef[0], wf.sigma
    np.testing.assert_allclose(coef, ref[["intercept", "arm", "x"]], rtol=0, atol=1e-6)
    assert sigma[0] == pytest.approx(ref["scale"], abs=1e-6)
    C = np.column_stack([np.ones(len(d)), d.x])
    zero = np.zeros(1)
    lp = LinearPredictor((coef[[0, 2]][None], coef[[0, 2]][None]), coef[1:2], (zero, zero),
                         (zero, zero), C, np.full((1, len(d)), 1.0 / len(d)))
    mu = po_weibull_rmst(lp, sigma, 365.0, 2)[0]
    assert mu[0, 0] == pytest.approx(ref["rmst0"], rel=1e-7)
    assert mu[1, 1] == pytest.approx(ref["rmst1"], rel=1e-7)
    assert mu[1, 1] - mu[0, 0] == pytest.approx(ref["rmst1"] - ref["rmst0"], rel=1e-6)


def test_rmst_effects_match_simulated_counterfactual_times():
    """With a mediator: the RMST effects against E[min(T(t, M(t')), h)] of mediator values
    and event times simulated from the engine's fitted models (this checks the integration;
    tests/test_mediation_survival.py checks the fits against statsmodels and lifelines).
    Tolerance 4 Monte Carlo SE."""
    d = trial(n=300, seed=8)
    h = 365.0
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome_type="weibull",
                        time="days", event="event", covariates=["x"], horizon=h, n_boot=0,
                        rng=np.random.default_rng(0))
    prm = res.params["m"]
    a, cov = prm["mediator"]["m"], prm["mediator_cov"].to_numpy()[0, 0]
    b, sig = prm["outcome"], prm["weibull_sigma"]
    rng = np.random.default_rng(5)
    R = 300
    sims = {}
    for t in (0, 1):
        for tp in (0, 1):
            m = (a.iloc[0] + a["arm"] * tp + a["x"] * d.x.to_numpy())[None] + np.sqrt(cov) * (
                rng.standard_normal((R, len(d))))
            eta = b.iloc[0] + b["arm"] * t + b["m"] * m + b["x"] * d.x.to_numpy()[None]
            times = np.exp(eta + sig * np.log(rng.exponential(size=eta.shape)))
            sims[(t, tp)] = np.minimum(times, h).ravel()
    tab = res.to_frame().set_index(["estimate_type", "effect"])["estimate"]
    pairs = {"acme_control": ((0, 1), (0, 0)), "acme_treated": ((1, 1), (1, 0)),
             "ade_control": ((1, 0), (0, 0)), "total": ((1, 1), (0, 0))}
    N = R * len(d)
    for name, (p, q) in pairs.items():
        se = np.hypot(sims[p].std(), sims[q].std()) / np.sqrt(N)
        diff = sims[p].mean() - sims[q].mean()
        assert abs(tab[("rmst_difference", name)] - diff) < 4 * se, name
    po = res.potential_outcomes[("m", "rmst_difference")]
    assert ((po > 0) & (po <= h)).all()


def test_medians_beyond_the_follow_up_are_flagged(weibull_trial):
    """Follow-up cut at 120 days: every potential-outcome median (~300 days) is beyond it,
    so every median-time effect is flagged, and the risks and RMSTs to a 100-day horizon
    are not; with a 200-day horizon they are."""
    d = weibull_trial.copy()
    cut = d.time > 120
    d.loc[cut, "time"], d.loc[cut, "event"] = 120.0, 0
    d["m"] = 0.5 * d.arm + np.random.default_rng(2).normal(size=len(d))
    kw = dict(exposure="arm", mediators=["m"], outcome_type="weibull", time="time",
              event="event", covariates=["x"], n_boot=0, rng=np.random.default_rng(0))
    tab = fit_mediation(d, horizon=100.0, **kw).to_frame()
    assert (tab.loc[tab.estimate_type == "median_difference", "extrapolated"] == "yes").all()
    assert (tab.loc[tab.estimate_type != "median_difference", "extrapolated"] == "no").all()
    tab = fit_mediation(d, horizon=200.0, **kw).to_frame()
    assert (tab["extrapolated"] == "yes").all()
    full = weibull_trial.assign(m=d["m"])  # follow-up to ~600 days, medians within it
    res = fit_mediation(full, horizon=100.0, **kw)
    assert (res.to_frame()["extrapolated"] == "no").all()
    assert res.potential_outcomes[("m", "median_difference")].max() < full.time.max()
    assert any(f"longest follow-up ({full.time.max():g})" in note for note in res.notes)


def test_the_report_marks_extrapolated_medians(weibull_trial, tmp_path):
    """The report's mediation section: every median-time effect beyond a 120-day follow-up
    is marked, with a note under its table pointing to the RMST rows; the RMST table to a
    100-day horizon has neither."""
    from outcomes.plan import AnalysisPlan
    from outcomes.report.inputs import ReportInputs, Table, read_table
    from outcomes.report.mediation import mediation_section
    from outcomes.tables import write_tsv

    d = weibull_trial.copy()
    cut = d.time > 120
    d.loc[cut, "time"], d.loc[cut, "event"] = 120.0, 0
    d["m"] = 0.5 * d.arm + np.random.default_rng(2).normal(size=len(d))
    tab = fit_mediation(d, exposure="arm", mediators=["m"], outcome_type="weibull", time="time",
                        event="event", covariates=["x"], horizon=100.0, n_boot=50,
                        rng=np.random.default_rng(0)).to_frame()
    write_tsv(tab.assign(outcome="readmit_time", mediator="HHI", mechanism="M2"),
              tmp_path / "mediation.tsv")
    unused = Table(tmp_path, pd.DataFrame(), pd.DataFrame())
    inp = ReportInputs(tmp_path, AnalysisPlan(), tmp_path / "plan.json", pd.DataFrame(),
                       pd.DataFrame(), unused, unused,
                       mediation=read_table(tmp_path / "mediation.tsv"))
    groups = {g.estimate_type: g for g in mediation_section(inp).groups}
    assert list(groups) == ["risk_difference", "median_difference", "rmst_difference"]
    med = groups["median_difference"]
    assert "RMST" in med.note and "beyond the longest follow-up" in med.note
    cells = [c for r in med.rows for c in r.cells.values() if c.est.text != NOT_MEANINGFUL]
    assert cells and all(c.note == "extrapolated beyond the follow-up" for c in cells)
    rm = groups["rmst_difference"]
    assert rm.note == "" and all(c.note == "" for r in rm.rows for c in r.cells.values())
