"""R as an independent oracle: every row of survival.tsv and questionnaires.tsv, recomputed
in R (tests/r/oracle.R: glm + sandwich, survfit, survdiff, coxph, cox.zph, cmprsk::cuminc,
MASS::glm.nb, lm) from the pipeline's own derived datasets, for the bundled trial and for
one other simulated trial (``outcomes simulate --n 1500 --seed 7``).

The pipeline runs through the CLI (validate, derive, survival, questionnaires) with
config/config.yaml; R reads the CSV copies of the derived datasets. Rows are matched on
(analysis, clustering, outcome, contrast, estimate_type); a row of either side without a
counterpart fails the test. R recomputes the peer_worker rows of survival.tsv (cluster-robust
variances); of questionnaires.tsv the naive rows only (``clustering = none``): its partially
nested rows are checked against R nlme in tests/test_clustering_pnlmm.py. Tolerance: 1e-6
relative (``ATOL`` absolute below it) on estimate, ci_low,
ci_high, p_value and std_error of every row (R computes each row's standard error on the
scale of its CI itself), and n and events equal. There is no looser tolerance:
the days-in-hospital bootstrap rows are recomputed in R from the pipeline's own resample
indices (drawn here from the plan's "survival" stream exactly as ``hospital_days`` draws
them, exported as int32 files; for the cluster bootstrap of the treated arm the drawn
peer-worker units, which R maps to participants from ADSL PEERWID itself), so they are
deterministic too; R's iterative fits run at
tight tolerances (coxph eps 1e-12, glm epsilon 1e-14, glm.nb epsilon 1e-12).

Needs Rscript with survival, cmprsk, MASS and sandwich (Debian r-base-core r-cran-survival
r-cran-cmprsk r-cran-mass r-cran-sandwich; scripts/test.sh installs them when run as root).
Without them the test is skipped with the reason, unless CI is set, where it fails
(:func:`rscript.require_r`, shared with the other R tests).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from rscript import R_DIR, require_r

from outcomes.clustering.bootstrap import block_rows
from outcomes.plan import AnalysisPlan
from outcomes.survival.landmarks import landmark_times

ROOT = Path(__file__).resolve().parents[1]
def _complete_case_plan() -> Path:
    """The bundled plan with missing_data.method complete_case: R recomputes the
    complete-case estimators (the MI rows have their own oracle, test_r_oracle_mi.py)."""
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    cfg["missing_data"] = {**cfg.get("missing_data", {}), "method": "complete_case"}
    path = Path(tempfile.mkdtemp(prefix="r-oracle-plan-")) / "config.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


CONFIG = _complete_case_plan()
KEY = ["analysis", "clustering", "outcome", "contrast", "estimate_type"]
NUM = ["estimate", "std_error", "ci_low", "ci_high", "p_value"]
RTOL = 1e-6
ATOL = 1e-12  # values that are 0 (a median of 0 days, a CI limit at 0)
# rows of the pipeline that R does not recompute, with the reason (none today)
NOT_COMPARED: dict[tuple[str, str, str, str, str], str] = {}


@pytest.fixture(scope="module")
def r_available():
    require_r()


def _outcomes(*args: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "outcomes", *args], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0, f"outcomes {args[0]} failed: {r.stderr}"


def _run_pipeline(data_dir: Path, out: Path) -> None:
    _outcomes("validate", str(data_dir), "--out", str(out / "validation"))
    _outcomes("derive", "--clean", str(out / "validation" / "clean"), "--plan", str(CONFIG),
              "--out", str(out / "derived"))
    _outcomes("survival", "--derived", str(out / "derived"), "--plan", str(CONFIG),
              "--tables", str(out / "tables"), "--figures", str(out / "figures"))
    _outcomes("questionnaires", "--derived", str(out / "derived"), "--plan", str(CONFIG),
              "--out", str(out / "tables" / "questionnaires.tsv"))


def _export_bootstrap(plan: AnalysisPlan, derived: Path, out: Path) -> None:
    """The resample indices of ``hospital_days``: the plan's "survival" stream (its only
    consumer in ``run_survival``), n_boot x n per arm, treated first, participants in the
    order of their first ADRE row; then the units drawn by the cluster bootstrap of the
    treated arm (n_boot x G, units in sorted label order; outcomes.clustering.bootstrap)."""
    adre = pd.read_csv(derived / "adre.csv").drop_duplicates("USUBJID")
    arm = adre[["USUBJID"]].merge(pd.read_csv(derived / "adsl.csv")[["USUBJID", "ARM"]],
                                  on="USUBJID", how="left")["ARM"]
    rng = plan.rng("survival")
    n_boot = int(plan.survival["hospital_days_n_boot"])
    for name, code in (("treated", plan.treated_arm), ("control", plan.control_arm)):
        n = int((arm == code).sum())
        idx = rng.integers(0, n, size=(n_boot, n))
        idx.astype("<i4").tofile(out / f"boot_{name}.bin")
    adsl = pd.read_csv(derived / "adsl.csv", keep_default_na=False, dtype={"PEERWID": str})
    treated = adre[["USUBJID"]].merge(adsl[["USUBJID", "ARM", "PEERWID"]], on="USUBJID")
    treated = treated.loc[treated["ARM"] == plan.treated_arm]
    units = np.where(treated["PEERWID"].astype(str) != "", "PW:" + treated["PEERWID"].astype(str),
                     "ID:" + treated["USUBJID"].astype(str))
    g, n_treated = len(set(units)), len(units)
    rows = block_rows(n_treated)
    idx = np.vstack([rng.integers(0, g, size=(min(rows, n_boot - lo), g))
                     for lo in range(0, n_boot, rows)])
    idx.astype("<i4").tofile(out / "boot_treated_units.bin")


def _params(plan: AnalysisPlan) -> str:
    s = plan.survival
    kv = {
        "treated": plan.treated_arm, "control": plan.control_arm,
        "horizon": plan.followup_days, "tau": s["rmst_tau_days"] or plan.followup_days,
        "strata": ",".join(s["strata"]), "cox_covariates": ",".join(s["cox_covariates"]),
        "primary_covariates": ",".join(s["primary_covariates"]),
        "primary_strategy": s["primary_strategy"],
        "sensitivity_strategies": ",".join(s["sensitivity_strategies"]),
        "n_boot": s["hospital_days_n_boot"],
        "visits": ",".join(plan.visits),
        "landmarks": ",".join(f"{t:g}" for t in landmark_times(s["landmarks_days"],
                                                                plan.followup_days)),
        "stratifiers": ",".join(plan.stratifiers),
    }
    return "".join(f"{k}\t{v}\n" for k, v in kv.items())


def _oracle(data_dir: Path, out: Path) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    _run_pipeline(data_dir, out)
    plan = AnalysisPlan.load(CONFIG)
    _export_bootstrap(plan, out / "derived", out)
    (out / "params.tsv").write_text(_params(plan))
    r = subprocess.run(["Rscript", str(R_DIR / "oracle.R"), str(out / "derived"),
                        str(out / "params.tsv"), str(out), str(out / "r_survival.tsv"),
                        str(out / "r_questionnaires.tsv")], capture_output=True, text=True)
    assert r.returncode == 0, f"oracle.R failed: {r.stderr}"
    read = lambda p: pd.read_csv(p, sep="\t", keep_default_na=False,  # noqa: E731
                                 na_values=["NA"])
    tables = {name: (read(out / "tables" / f"{name}.tsv"), read(out / f"r_{name}.tsv"))
              for name in ("survival", "questionnaires")}
    # the partially nested rows of questionnaires.tsv (clustering = peer_worker) have
    # their own R reference (nlme, lmerTest: tests/test_clustering_pnlmm.py)
    q = tables["questionnaires"][0]
    tables["questionnaires"] = (q.loc[q["clustering"] == "none"].reset_index(drop=True),
                                tables["questionnaires"][1])
    return tables


def _compare(py: pd.DataFrame, r: pd.DataFrame) -> list[str]:
    """Every mismatch as one line (empty when all rows agree). A table without the
    ``clustering`` column (docs/clustering.md) has the naive rows only (``none``)."""
    problems = []
    py, r = (df if "clustering" in df else df.assign(clustering="none") for df in (py, r))
    if "status" in py:  # not-estimable rows carry no numbers to compare
        py = py.loc[py["status"].fillna("estimated") == "estimated"]
    for df, side in ((py, "pipeline"), (r, "R")):
        dup = df.duplicated(KEY, keep=False)
        if dup.any():
            problems.append(f"duplicate keys in {side}: {df.loc[dup, KEY].values.tolist()}")
    m = py.merge(r, on=KEY, how="outer", suffixes=("_py", "_r"), indicator=True)
    for _, row in m.iterrows():
        key = tuple(row[k] for k in KEY)
        if row["_merge"] != "both":
            if key not in NOT_COMPARED:
                side = "pipeline" if row["_merge"] == "left_only" else "R"
                problems.append(f"{key}: only in {side}")
            continue
        for c in NUM:
            a, b = row[f"{c}_py"], row[f"{c}_r"]
            if pd.isna(a) and pd.isna(b):
                continue
            if pd.isna(a) or pd.isna(b) or not np.isclose(a, b, rtol=RTOL, atol=ATOL):
                problems.append(f"{key} {c}: pipeline {a!r}, R {b!r}")
        for c in ("n", "events"):
            if f"{c}_py" in row and f"{c}_r" in row:
                a, b = row[f"{c}_py"], row[f"{c}_r"]
                if not (pd.isna(a) and pd.isna(b)) and a != b:
                    problems.append(f"{key} {c}: pipeline {a!r}, R {b!r}")
    return problems


@pytest.fixture(scope="module")
def bundled(r_available, tmp_path_factory):
    return _oracle(ROOT / "synthetic_data", tmp_path_factory.mktemp("oracle_bundled"))


@pytest.fixture(scope="module")
def simulated(r_available, tmp_path_factory):
    out = tmp_path_factory.mktemp("oracle_sim7")
    # truth.json is not read; the extract is the same bytes with the default truth_n (CU1)
    _outcomes("simulate", "--n", "1500", "--seed", "7", "--truth-n", "1000",
              "--out", str(out / "data"))
    return _oracle(out / "data", out)


@pytest.mark.slow
@pytest.mark.parametrize("table", ["survival", "questionnaires"])
def test_bundled_trial_equals_r(bundled, table):
    py, r = bundled[table]
    assert len(py) > 0
    problems = _compare(py, r)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("table", ["survival", "questionnaires"])
def test_simulated_trial_equals_r(simulated, table):
    py, r = simulated[table]
    assert len(py) > 0
    problems = _compare(py, r)
    assert not problems, "\n".join(problems)


def test_compare_catches_a_wrong_number_and_a_missing_row():
    """The comparison itself can fail: a 2e-6 relative change and an unmatched row."""
    py = pd.DataFrame({"analysis": ["a", "a"], "outcome": ["o", "o"], "contrast": ["c", "d"],
                       "estimate_type": ["e", "e"], "estimate": [1.0, 2.0],
                       "std_error": [0.35, 0.2], "ci_low": [0.5, 1.0], "ci_high": [2.0, 3.0], "p_value": [0.1, 0.2],
                       "n": [10, 10], "events": [3, 3]})
    assert _compare(py, py.copy()) == []
    r = py.copy()
    r.loc[0, "ci_high"] = 2.0 * (1 + 2e-6)
    problems = _compare(py, r)
    assert len(problems) == 1 and "ci_high" in problems[0]
    r.loc[0, "ci_high"] = 2.0 * (1 + 2e-7)
    assert _compare(py, r) == []
    assert _compare(py, r.iloc[:1]) == ["('a', 'none', 'o', 'd', 'e'): only in pipeline"]
    r.loc[1, "events"] = 4
    assert _compare(py, r) == ["('a', 'none', 'o', 'd', 'e') events: pipeline 3, R 4"]
    # a peer-worker row is matched on its clustering, not on the naive twin
    nested = py.assign(clustering=["none", "peer_worker"])
    assert sorted(_compare(nested, py)) == ["('a', 'none', 'o', 'd', 'e'): only in R",
                                            "('a', 'peer_worker', 'o', 'd', 'e'): only in "
                                            "pipeline"]
