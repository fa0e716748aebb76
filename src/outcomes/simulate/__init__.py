"""Synthetic peer-support trial following the change model (docs/synthetic-trial.md).

Public API
----------
``write_simulated_trial(n, seed, out_dir, truth_n=None, missingness="default", mnar_delta=None, icc=0.0, engagement="default")``
    Write ``participants.csv``, ``questionnaires.csv``, ``admissions.csv``,
    ``peer_contacts.csv`` (docs/data-contract.md), their Frictionless descriptor
    ``datapackage.json`` and ``truth.json`` into ``out_dir``.
``simulate(n, seed, truth_n=None)``
    The same in memory: ``(tables, truth)`` with tables as :class:`Table` objects.

All randomness comes from one ``numpy.random.default_rng(seed)``, split with
``rng.spawn(3)`` into a parameter stream (site effects, peer workers), a trial stream and
a truth-population stream (``spawn(6)`` in fact: a fourth child for the MNAR truth
population's follow-up, a fifth for peer-worker clustering when ``icc > 0``, a sixth for
selective engagement, leaving the first three as they were); nothing uses global random
state. The same ``(n, seed)`` gives
byte-identical files whatever ``truth_n`` is; ``truth_n`` only changes truth.json.
The model is documented in ``docs/synthetic-trial.md``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from outcomes import __version__, contract
from outcomes.simulate.dgp import MIN_TRUTH_N, SimulationError, SimulatorSettings, TrialDGP
from outcomes.simulate.engagement import engagement_block
from outcomes.simulate.parameters import (
    CONTROL,
    DATA_CUT,
    FOLLOWUP_DAYS,
    RECRUITMENT_END,
    RECRUITMENT_START,
    TREATED,
    Parameters,
)
from outcomes.simulate.peer_workers import clustering_block, score_scale
from outcomes.simulate.trial import Table

__all__ = [
    "DEFAULT_TRUTH_N",
    "MIN_TRUTH_N",
    "Parameters",
    "SimulationError",
    "SimulatorSettings",
    "Table",
    "TrialDGP",
    "simulate",
    "truth_to_json",
    "write_simulated_trial",
]

DEFAULT_TRUTH_N = 200_000
SIGNIFICANT_DIGITS = 6


def _round(obj):
    """Round every float to 6 significant digits (recursively) for a stable truth.json."""
    if isinstance(obj, dict):
        return {str(k): _round(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_round(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        x = float(obj)
        if not math.isfinite(x):
            raise ValueError(f"non-finite value in truth: {x}")
        return float(f"{x:.{SIGNIFICANT_DIGITS}g}") + 0.0  # + 0.0 turns -0.0 into 0.0
    return obj


def truth_to_json(truth: dict) -> str:
    """The canonical text of truth.json: rounded floats, sorted keys, 2-space indent, final newline."""
    return json.dumps(_round(truth), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def table_to_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return buf.getvalue()


SCORE_SCALE_MIN_PAIRS = 20_000


def _check(n: int, seed: int, truth_n: int) -> None:
    if not isinstance(n, int | np.integer) or n < 1:
        raise SimulationError(f"--n must be a positive integer, got {n!r}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise SimulationError(f"--seed must be a non-negative integer, got {seed!r}")
    if not isinstance(truth_n, int | np.integer) or truth_n < MIN_TRUTH_N:
        raise SimulationError(f"--truth-n must be an integer >= {MIN_TRUTH_N}, got {truth_n!r}")


def simulate(
    n: int, seed: int, truth_n: int | None = None, missingness: str = "default",
    mnar_delta: float | tuple[float, float] | None = None, icc: float = 0.0,
    engagement: str = "default", routine_data_after_withdrawal: bool = False,
    exposure_induced_confounding: bool = False,
) -> tuple[dict[str, Table], dict]:
    """Simulate a trial of ``n`` participants and its truth; nothing is written.

    ``missingness`` names the scenario of follow-up non-response (``default``, ``mcar``,
    ``mar``, ``mnar``; docs/synthetic-trial.md §9) and ``mnar_delta`` the MNAR shift in
    WEMWBS points (one value, or (peer support, usual care)). At the same seed the
    scenarios share every draw: only which questionnaires are missing changes.

    ``icc`` (0 <= icc < 1) is the intracluster correlation of the peer-worker effects on
    the latent scale (docs/synthetic-trial.md §10a); 0, the default, is the unclustered
    trial of before, draw for draw. With ``icc > 0`` truth.json gets a ``clustering`` block.

    ``engagement`` is ``default`` (today's trial, draw for draw) or ``selective``: a latent
    compliance type and a contact dose drawn before the outcomes, only compliers' contacts
    carrying the effect (docs/synthetic-trial.md §10b); truth.json gets an ``engagement``
    block (CACE, ITT, per-protocol, effect per contact from potential outcomes).

    ``routine_data_after_withdrawal``: every admission after a withdrawal is recorded (a
    consent model in which withdrawal ends the questionnaires only; the plan key
    ``survival.withdrawal_ends_routine_data: false``). The default records them for a
    share ``FollowUpSpec.keep_admissions_after_withdrawal`` (0.4) of those who withdraw,
    as before; the draws and the truth are the same either way.

    ``exposure_induced_confounding``: engagement with peer support is drawn before the
    outcomes and affects the month-4 mediators and the outcomes (arm -> engagement -> M and
    -> Y; ConfounderSpec, docs/synthetic-trial.md §10c), from a seventh child stream;
    truth.json gets ``mediation_interventional`` (interventional effects from potential
    outcomes) and ``exposure_induced_confounder``. Not combined with ``icc > 0`` or
    selective engagement. Off, every draw is as before.
    """
    truth_n = DEFAULT_TRUTH_N if truth_n is None else truth_n
    _check(n, seed, truth_n)
    dgp = TrialDGP(SimulatorSettings(
        missingness=missingness, mnar_delta=mnar_delta, icc=icc, engagement=engagement,
        routine_data_after_withdrawal=routine_data_after_withdrawal,
        exposure_induced_confounding=exposure_induced_confounding), seed)
    params, workers = dgp.params, dgp.workers
    tables, record = dgp.trial(int(n), seed)
    truth = dgp.truth(int(truth_n))
    truth["meta"] = {
        "generator": "outcomes.simulate",
        "version": __version__,
        "seed": int(seed),
        "rng": (
            "numpy.random.default_rng(seed).spawn(3) -> [parameters, trial, truth population]; "
            "numpy " + np.__version__
        ),
        "n": int(n),
        "truth_n": int(truth_n),
        "data_cut": DATA_CUT.isoformat(),
        "followup_days": FOLLOWUP_DAYS,
        "recruitment_start": RECRUITMENT_START.isoformat(),
        "recruitment_end": RECRUITMENT_END.isoformat(),
        "arms": {"treated": TREATED, "control": CONTROL},
        "significant_digits": SIGNIFICANT_DIGITS,
    }
    truth["parameters"] = params.to_dict()
    truth["missingness"] = _missingness_block(dgp.spec, record, truth.pop("mnar_population", None))
    if workers is not None:
        from outcomes.simulate.model import Model

        pid = [row[0] for row in tables["participants"].rows]
        scores = score_scale(Model(params, dgp.registry), workers, dgp.score_scale_pairs(),
                             max(int(truth_n) // 2, SCORE_SCALE_MIN_PAIRS))
        truth["clustering"] = clustering_block(params, workers, record["main_worker"], pid, scores)
    if dgp.engagement_spec is not None:
        truth["engagement"] = engagement_block(dgp.engagement_spec, params, truth.pop("engagement_population"),
                                               record["engagement"])
    return tables, truth


def _missingness_block(spec, record: dict, population: dict | None) -> dict:
    """truth.json → missingness: the scenario, its parameters, δ and what it did."""
    block = {
        "scenario": spec.name,
        "parameters": spec.to_dict(),
        "mnar_delta": {TREATED: spec.mnar_delta[0], CONTROL: spec.mnar_delta[1]},
        "realised": record["realised"],
        "rng": (
            "no draws of its own in the trial (the default's dropout uniforms); the truth "
            "population's follow-up under MNAR: numpy.random.default_rng(seed).spawn(4)[3]"
        ),
    }
    if "mnar_trial" in record:
        block["mnar_trial"] = record["mnar_trial"]
    if population is not None:
        block["mnar_truth_population"] = population
    return block


def write_simulated_trial(
    n: int, seed: int, out_dir: Path, truth_n: int | None = None, missingness: str = "default",
    mnar_delta: float | tuple[float, float] | None = None, icc: float = 0.0,
    engagement: str = "default", exposure_induced_confounding: bool = False,
) -> dict[str, Path]:
    """Write the extract (docs/data-contract.md), datapackage.json and truth.json into
    ``out_dir``; returns the paths. ``missingness``, ``mnar_delta``, ``icc``,
    ``engagement``, ``exposure_induced_confounding``: as :func:`simulate`."""
    from outcomes.datapackage import DESCRIPTOR_FILE, datapackage_json

    tables, truth = simulate(n, seed, truth_n, missingness, mnar_delta, icc, engagement,
                             exposure_induced_confounding=exposure_induced_confounding)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, file_name in contract.TABLE_FILES.items():
        path = out_dir / file_name
        path.write_bytes(table_to_csv(tables[name]).encode("utf-8"))
        paths[name] = path
    path = out_dir / DESCRIPTOR_FILE
    path.write_bytes(datapackage_json(arms=(TREATED, CONTROL)).encode("utf-8"))
    paths["datapackage"] = path
    path = out_dir / "truth.json"
    path.write_bytes(truth_to_json(truth).encode("utf-8"))
    paths["truth"] = path
    return paths
