"""The mean cumulative function of recurrent readmissions (outcomes.survival.mcf): a hand
computation, and R ``survfit(Surv(tstart, tstop, event) ~ arm, id = id)`` (cumulative hazard
and its robust standard error) on a simulated trial's ADRE (tests/r/mcf.R)."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
from rscript import R_DIR, require_r

from outcomes.survival.mcf import COLUMNS, mcf_curve, mean_cumulative_function


def test_mcf_by_hand():
    # A: (0,3] event, (3,10] censored; B: (0,5] event, gap in hospital, (7,8] event, (8,10];
    # C: (0,4] censored
    ids = ["A", "A", "B", "B", "B", "C"]
    start = [0, 3, 0, 7, 8, 0]
    stop = [3, 10, 5, 8, 10, 4]
    event = [1, 0, 1, 1, 0, 0]
    c = mcf_curve(ids, start, stop, event)
    assert c["time"].tolist() == [3, 5, 8]
    assert c["at_risk"].tolist() == [3, 2, 2]  # C left at 4; B out of risk on (5, 7]
    np.testing.assert_allclose(c["mcf"], np.cumsum([1 / 3, 1 / 2, 1 / 2]))
    # robust variance: sum over participants of their squared cumulative influence
    h = [1 / 3, 1 / 2, 1 / 2]
    y = [3, 2, 2]
    u_a = np.cumsum([(1 - h[0]) / y[0], -h[1] / y[1], -h[2] / y[2]])
    u_b = np.cumsum([-h[0] / y[0], (1 - h[1]) / y[1], (1 - h[2]) / y[2]])
    u_c = np.cumsum([-h[0] / y[0], 0.0, 0.0])
    np.testing.assert_allclose(c["std_err"], np.sqrt(u_a**2 + u_b**2 + u_c**2))
    assert (c["ci_low"] < c["mcf"]).all() and (c["mcf"] < c["ci_high"]).all()


def test_mcf_without_events_and_step_lookup():
    c = mcf_curve(["A"], [0], [5], [0])
    assert c.empty and list(c.columns) == list(COLUMNS[1:])
    adre = pd.DataFrame({"USUBJID": ["A", "A", "B"], "ARM": ["peer_support", "peer_support",
                                                           "usual_care"],
                         "TSTART": [0, 2, 0], "TSTOP": [2, 9, 9], "EVENT": [1, 0, 0]})
    m = mean_cumulative_function(adre)
    assert m.n == {"peer_support": 1, "usual_care": 1}
    assert m.events == {"peer_support": 1, "usual_care": 0}
    np.testing.assert_allclose(m.at("peer_support", [0, 1.9, 2, 9]), [0, 0, 1, 1])
    np.testing.assert_allclose(m.at("usual_care", [0, 9]), [0, 0])
    assert list(m.to_frame().columns) == list(COLUMNS)


def test_mcf_matches_r_survfit(tmp_path):
    require_r(("survival",))
    rng = np.random.default_rng(7)
    rows = []
    for i in range(300):
        arm = "peer_support" if i % 2 else "usual_care"
        rate = 0.004 if i % 2 else 0.006
        fu = float(rng.integers(100, 366))
        t = 0.0
        while True:
            gap = float(np.ceil(rng.exponential(1 / rate)))
            if t + gap >= fu:
                rows.append((f"P{i}", arm, t, fu, 0))
                break
            rows.append((f"P{i}", arm, t, t + gap, 1))
            t = min(t + gap + float(rng.integers(1, 20)), fu)  # days in hospital: a gap
            if t >= fu:
                break
    adre = pd.DataFrame(rows, columns=["USUBJID", "ARM", "TSTART", "TSTOP", "EVENT"])
    adre.to_csv(tmp_path / "adre.csv", index=False)
    subprocess.run(["Rscript", str(R_DIR / "mcf.R"), str(tmp_path / "adre.csv"),
                    str(tmp_path / "r.csv")], check=True, capture_output=True)
    r = pd.read_csv(tmp_path / "r.csv")
    got = mean_cumulative_function(adre).to_frame()
    assert len(got) == len(r) > 100
    for col in ("time", "at_risk", "events"):
        np.testing.assert_array_equal(got[col].to_numpy(float), r[col].to_numpy(float))
    np.testing.assert_allclose(got["mcf"], r["mcf"], rtol=1e-12)
    np.testing.assert_allclose(got["std_err"], r["std_err"], rtol=1e-10)
    assert got["arm"].tolist() == r["arm"].tolist()


@pytest.mark.parametrize("n", [60])
def test_mcf_small_trial(n):
    adre = pd.DataFrame({"USUBJID": [f"P{i}" for i in range(n)],
                         "ARM": ["peer_support", "usual_care"] * (n // 2),
                         "TSTART": 0.0, "TSTOP": 365.0, "EVENT": 0})
    m = mean_cumulative_function(adre)
    assert all(c.empty for c in m.curves.values())
