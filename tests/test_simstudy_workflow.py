"""The simulation-study workflow (workflow/study/Snakefile) and its commands, without running
a study: the job graph of studies/smoke.yaml, resuming after a kill recomputes only the
missing batches, and the gather step refuses a missing batch. The batches themselves are
tested in tests/test_simstudy_run.py (one replicate through the whole analysis)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from outcomes.cli import main
from outcomes.simstudy import REPLICATE_COLUMNS, load_study
from outcomes.tables import write_tsv

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = str(ROOT / "workflow" / "study" / "Snakefile")


def _copy(tmp_path: Path) -> Path:
    work = tmp_path / "study"
    (work / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "test.yaml", work / "config" / "test.yaml")
    shutil.copytree(ROOT / "studies", work / "studies")
    return work


def _dry_run(work: Path) -> dict[str, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    res = subprocess.run([sys.executable, "-m", "outcomes.snakemake_local", "-n", "--snakefile", SNAKEFILE, "--config", "study=studies/smoke.yaml"],
                         cwd=work, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    if "Nothing to be done" in res.stdout + res.stderr:
        return {}
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^(study_\w+|all)\s+(\d+)$", res.stdout, re.MULTILINE)}


def _fake_batch(path: Path, scenario: str, replicates: range) -> None:
    rows = [{"scenario": scenario, "replicate": r, "estimand": e, "estimate": 0.1 * r, "se": 0.2,
             "lower": -0.3, "upper": 0.5, "p_value": 0.4, "status": "estimated", "reason": ""}
            for r in replicates for e in ("primary_or", "primary_rd")]
    write_tsv(pd.DataFrame(rows, columns=list(REPLICATE_COLUMNS)), path)


def test_job_graph_and_resuming_after_a_kill(tmp_path):
    work = _copy(tmp_path)
    study = load_study(work / "studies" / "smoke.yaml")
    assert (len(study.scenarios), study.n_batches) == (2, 2)
    assert _dry_run(work) == {"study_truth": 2, "study_batch": 4, "study_performance": 1, "all": 1}
    # killed after three batches and the truths: only the fourth batch and the gather remain
    out = work / "results" / "study" / "smoke"
    (out / "truth").mkdir(parents=True)
    for sc in ("s01", "s02"):
        (out / "truth" / f"{sc}.json").write_text("{}\n")
    time.sleep(1.1)
    for sc, b in (("s01", 0), ("s01", 1), ("s02", 1)):
        (out / "batches" / sc).mkdir(parents=True, exist_ok=True)
        _fake_batch(out / "batches" / sc / f"batch_{b}.tsv", sc, study.batch(b))
    assert _dry_run(work) == {"study_batch": 1, "study_performance": 1, "all": 1}


def test_gathering_refuses_a_missing_batch_and_a_missing_truth(tmp_path, capsys):
    work = _copy(tmp_path)
    study_file = str(work / "studies" / "smoke.yaml")
    b = work / "b"
    b.mkdir()
    _fake_batch(b / "s01_0.tsv", "s01", range(0, 2))
    _fake_batch(b / "s01_1.tsv", "s01", range(2, 4))
    _fake_batch(b / "s02_0.tsv", "s02", range(0, 2))
    truth = '{"readmission": {"cuminc_365_death_competing": {"odds_ratio": 0.7, "risk_difference": -0.1}}}\n'
    for sc in ("s01", "s02"):
        (b / f"{sc}.json").write_text(truth)
    args = ["study-performance", "--study", study_file, "--truths", str(b / "s01.json"),
            str(b / "s02.json"), "--out-dir", str(work / "out"), "--batches"]
    assert main([*args, *map(str, sorted(b.glob("*.tsv")))]) == 2
    err = capsys.readouterr().err
    assert "scenario s02, estimand primary_or: 2 replicates, the study has 4" in err
    assert "Traceback" not in err and not (work / "out" / "performance.tsv").exists()
    _fake_batch(b / "s02_1.tsv", "s02", range(2, 4))
    assert main([*args, *map(str, sorted(b.glob("*.tsv")))]) == 0
    perf = pd.read_csv(work / "out" / "performance.tsv", sep="\t")
    assert len(perf) == 2 * 2 * 8 and set(perf["n_estimable"]) == {4}
    page = (work / "out" / "study.html").read_text()
    for heading in ("Aims", "Data-generating mechanisms", "Estimands", "Methods", "Performance measures"):
        assert f"<h2>{heading}</h2>" in page
    assert page.count("<svg") == 2 and "s02: n = 100, effect_scale = 1" in page
    assert "nan" not in page.lower().replace("nans", "")
    assert main(["study-performance", "--study", study_file, "--truths", str(b / "s01.json"),
                 "--out-dir", str(work / "out"), "--batches", str(b / "s01_0.tsv")]) == 2
    assert "no truth file for scenarios s02" in capsys.readouterr().err


@pytest.mark.parametrize("scenario, message", [("s09", "has no scenario 's09'")])
def test_an_unknown_scenario_is_a_one_line_error(tmp_path, capsys, scenario, message):
    work = _copy(tmp_path)
    assert main(["study-truth", "--study", str(work / "studies" / "smoke.yaml"), "--scenario",
                 scenario, "--out", str(work / "t.json")]) == 2
    assert message in capsys.readouterr().err


def test_power_mode_writes_the_curve_the_size_and_its_section(tmp_path):
    import numpy as np
    import yaml
    from scipy import stats

    work = _copy(tmp_path)
    cfg = yaml.safe_load((work / "studies" / "smoke.yaml").read_text())
    cfg.update(name="power", replicates=400, batch_size=400,
               scenarios={"n": [100, 400, 900], "effect_scale": [1]},
               power={"estimand": "primary_or", "target": 0.8})
    (work / "studies" / "power.yaml").write_text(yaml.safe_dump(cfg))
    rng = np.random.default_rng(3)
    b = work / "b"
    b.mkdir()
    batches = []
    for sc, n in (("s01", 100), ("s02", 400), ("s03", 900)):
        reject = rng.random(400) < stats.norm.cdf(-1.5 + 0.08 * np.sqrt(n))
        rows = [{"scenario": sc, "replicate": r, "estimand": e, "estimate": -0.3, "se": 0.2,
                 "lower": -0.7, "upper": 0.1, "p_value": 0.01 if reject[r] else 0.5,
                 "status": "estimated", "reason": ""} for r in range(400) for e in ("primary_or", "primary_rd")]
        write_tsv(pd.DataFrame(rows, columns=list(REPLICATE_COLUMNS)), b / f"{sc}.tsv")
        batches.append(str(b / f"{sc}.tsv"))
        (b / f"{sc}.json").write_text('{"readmission": {"cuminc_365_death_competing": '
                                      '{"odds_ratio": 0.7, "risk_difference": -0.1}}}\n')
    assert main(["study-performance", "--study", str(work / "studies" / "power.yaml"), "--truths",
                 *[str(b / f"{sc}.json") for sc in ("s01", "s02", "s03")],
                 "--out-dir", str(work / "out"), "--batches", *batches]) == 0
    size = pd.read_csv(work / "out" / "power_size.tsv", sep="\t")
    truth = ((stats.norm.ppf(0.8) + 1.5) / 0.08) ** 2  # 857
    assert list(size["status"]) == ["estimated"] and size["ci_low"][0] < truth < size["ci_high"][0]
    curve = pd.read_csv(work / "out" / "power.tsv", sep="\t")
    assert curve["observed"].notna().sum() == 3 and curve["power"].is_monotonic_increasing
    page = (work / "out" / "study.html").read_text()
    assert "<h2>Power and sample size</h2>" in page and page.count("<svg") == 3
