"""A simulation study through the SLURM profile on the test suite's real one-node cluster
(scripts/slurm-local.sh up; CI starts it) gives the same bytes as the same study computed
in one process: every batch, the truths, replicates.tsv and performance.tsv."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from outcomes.simstudy.files import write_batch, write_performance, write_truth
from outcomes.simstudy.study import load_study

ROOT = Path(__file__).resolve().parents[1]


def _slurm_available() -> bool:
    return shutil.which("sbatch") is not None and subprocess.run(
        ["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0


@pytest.mark.slow
def test_a_study_through_slurm_equals_the_study_in_one_process(tmp_path):
    if not _slurm_available():
        if os.environ.get("CI"):
            pytest.fail("CI must run the SLURM test: start the cluster with scripts/slurm-local.sh up")
        pytest.skip("no SLURM cluster here (scripts/slurm-local.sh up starts one, as root)")
    work = tmp_path / "study"
    (work / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "test.yaml", work / "config" / "test.yaml")
    shutil.copytree(ROOT / "studies", work / "studies")
    # the smoke study cut to one scenario and two batches of one replicate: four SLURM jobs
    cfg = yaml.safe_load((work / "studies" / "smoke.yaml").read_text())
    cfg.update(replicates=2, batch_size=1, scenarios={"n": [100], "effect_scale": [1]})
    (work / "studies" / "smoke.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    res = subprocess.run(
        ["timeout", "-k", "10", "600", sys.executable, "-m", "outcomes.snakemake_local",
         "--workflow-profile", str(ROOT / "workflow" / "profiles" / "slurm"),
         "--snakefile", str(ROOT / "workflow" / "study" / "Snakefile"),
         "--config", "study=studies/smoke.yaml"],
        cwd=work, capture_output=True, text=True, timeout=660, env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    logs = re.findall(r"submitted with SLURM jobid \d+ \(log: (\S+)\)", out)
    rules = {part for log in logs for part in Path(log).parts if part.startswith("rule_")}
    assert {"rule_study_truth", "rule_study_batch", "rule_study_performance"} <= rules, sorted(rules)

    study = load_study(work / "studies" / "smoke.yaml")
    here = tmp_path / "here"
    batches, truths = [], []
    for sc in study.scenarios:
        truths.append(here / "truth" / f"{sc.id}.json")
        write_truth(study, sc.id, truths[-1])
        for b in range(study.n_batches):
            batches.append(here / "batches" / sc.id / f"batch_{b}.tsv")
            write_batch(study, sc.id, b, batches[-1])
    write_performance(study, batches, truths, here)
    there = work / "results" / "study" / "smoke"
    for path in [*batches, *truths, here / "replicates.tsv", here / "performance.tsv", here / "scenarios.tsv"]:
        rel = path.relative_to(here)
        assert filecmp.cmp(path, there / rel, shallow=False), rel
