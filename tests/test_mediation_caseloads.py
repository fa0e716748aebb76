"""The peer_worker rows of a mediation job come from a bootstrap of peer-worker caseloads
(issue 16, point 7; docs/clustering.md): for every outcome type, complete cases and MI.

The resample counts every bootstrap replicate actually fits are recorded (a wrapper of
``Engine.fit_set``) with the analysis sample they belong to (a wrapper of the engine's
``count_missing``), and checked against caseloads computed here from PEERWID and ARM (not
from the engine's CLUSTER column): in a peer_worker replicate every member of a treated
caseload has the same count and the caseloads' counts add up to the number of treated
units (caseloads and treated participants without a peer worker), usual-care counts add
up to the usual-care sample; the naive replicates resample participants (totals n, counts
varying within caseloads). A bootstrap of participants for the peer_worker rows fails it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from outcomes.mediation import engine
from outcomes.mediation.admed import EXPOSURE, read_completed_mediation, read_mediation_data
from outcomes.mediation.changemodel import run_job
from outcomes.mediation.models import Engine
from outcomes.plan import AnalysisPlan

N_BOOT = 50


@pytest.fixture(scope="module")
def bundled(report_run):
    """The bundled trial's analysis data set and its completed versions (the report run's
    mediation stage made them)."""
    res = report_run["full"]
    data = read_mediation_data(res / "derived" / "admed.parquet")
    completed = read_completed_mediation(res / "derived" / "admed_imputed.parquet")
    return data, completed


def _record(monkeypatch) -> list[tuple[str, object]]:
    events: list[tuple[str, object]] = []
    fit_set, count_missing = Engine.fit_set, engine.count_missing

    def fit_set_rec(self, sm, W, *, point):
        if not point:
            events.append(("W", W.copy()))
        return fit_set(self, sm, W, point=point)

    def count_rec(data, roles):
        report, complete = count_missing(data, roles)
        events.append(("sample", data.loc[complete].reset_index(drop=True)))
        return report, complete

    monkeypatch.setattr(Engine, "fit_set", fit_set_rec)
    monkeypatch.setattr(engine, "count_missing", count_rec)
    return events


def _caseloads(sample: pd.DataFrame, treated: str) -> tuple[list[np.ndarray], np.ndarray, int]:
    """Positions of each treated caseload, of the usual-care participants, and the number
    of treated units (caseloads + treated participants without a peer worker)."""
    worker = sample["PEERWID"].astype("string").fillna("").str.strip()
    arm = sample["ARM"].astype(str) == treated
    loads = [np.flatnonzero((arm & (worker == w)).to_numpy()) for w in sorted(set(worker[arm]) - {""})]
    alone = int((arm & (worker == "")).sum())
    return loads, np.flatnonzero(~arm.to_numpy()), len(loads) + alone


def _check(events, each: int, m: int, treated: str) -> None:
    starts = [i for i, (kind, _) in enumerate(events) if kind == "sample"]
    assert len(starts) == m
    for k, s in enumerate(starts):
        sample = events[s][1]
        stop = starts[k + 1] if k + 1 < len(starts) else len(events)
        W = np.vstack([w for kind, w in events[s + 1 : stop] if kind == "W"])
        assert W.shape == (2 * each, len(sample))  # the naive design's, then peer_worker's
        naive, nested = W[:each], W[each:]
        loads, control, units = _caseloads(sample, treated)
        assert sum(len(c) > 1 for c in loads) >= 5
        assert (sample[EXPOSURE].to_numpy()[control] == 0).all()
        # peer_worker: caseloads drawn whole, as many units drawn as there are, per arm
        for c in loads:
            assert (nested[:, c] == nested[:, c[:1]]).all()
        drawn = sum(nested[:, c[0]] for c in loads) + nested[:, np.setdiff1d(
            np.flatnonzero(sample["ARM"].astype(str) == treated), np.concatenate(loads))].sum(axis=1)
        np.testing.assert_array_equal(drawn, units)
        np.testing.assert_array_equal(nested[:, control].sum(axis=1), len(control))
        assert nested.std(axis=0).max() > 0  # it did resample
        # naive: participants, not caseloads
        np.testing.assert_array_equal(naive.sum(axis=1), len(sample))
        assert any((naive[:, c] != naive[:, c[:1]]).any() for c in loads if len(c) > 1)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("outcome", ["wemwbs_m12", "readmit_12m", "readmit_time"])
@pytest.mark.parametrize("method", ["complete_case", "mi"])
def test_peer_worker_rows_resample_caseloads(bundled, monkeypatch, outcome, method):
    data, completed = bundled
    m = len(completed)
    plan = AnalysisPlan.from_config({"mediation": {"n_boot": N_BOOT},
                                     "missing_data": {"method": method, "m": m}})
    events = _record(monkeypatch)
    job = run_job(data, plan, "HHI", outcome, completed if method == "mi" else None)
    e = job.estimates
    assert set(e["clustering"]) == {"none", "peer_worker"}
    # the natural effects (the interventional rows have models of their own, whose
    # estimability is tested in test_mediation_interventional.py)
    natural = ~e["effect"].str.startswith("interventional_") & (e["effect"] != "prop_mediated")
    assert (e.loc[natural, "status"] == "estimated").all()
    each = N_BOOT if method == "complete_case" else -(-N_BOOT // m)
    _check(events, each, 1 if method == "complete_case" else m, plan.treated_arm)
