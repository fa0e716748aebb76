"""benchmarks/study_speed.py reads a study run's Snakemake log and batch logs into the
figures of benchmarks/README.md ("Simulation study: 1,000 replicates")."""

from __future__ import annotations

import pytest

from tests.benchmark_module import load_benchmark

LOG = """Select jobs to execute...
Execute 2 jobs...
[Tue Dec  1 23:29:18 2026]
localrule study_batch:
    output: results/study/x/batches/s01/batch_1.tsv
    jobid: 3
    wildcards: scenario=s01, batch=1
[Tue Dec  1 23:29:18 2026]
localrule study_batch:
    output: results/study/x/batches/s01/batch_0.tsv
    jobid: 2
    wildcards: scenario=s01, batch=0
[Tue Dec  1 23:31:18 2026]
Finished jobid: 3 (Rule: study_batch)
[Tue Dec  1 23:31:19 2026]
localrule study_truth:
    jobid: 1
    wildcards: scenario=s01
[Tue Dec  1 23:32:18 2026]
Finished jobid: 2 (Rule: study_batch)
[Tue Dec  1 23:32:28 2026]
Finished jobid: 1 (Rule: study_truth)
"""


def test_the_summary_splits_set_up_from_replicates(tmp_path):
    speed = load_benchmark("study_speed")
    (tmp_path / "logs").mkdir()
    line = ("study-batch: 40 rows (0 not estimable) to x; CPU: set-up {s} s (interpreter, "
            "imports, DGP), 10 replicates {c} s (x s each)")
    (tmp_path / "logs" / "s01_batch_0.log").write_text(line.format(s=2.0, c=150.0))
    (tmp_path / "logs" / "s01_batch_1.log").write_text(line.format(s=3.0, c=100.0))
    log = tmp_path / "snakemake.log"
    log.write_text(LOG)
    jobs, summary = speed.summarise(tmp_path, log)
    assert {j["rule"] for j in jobs} == {"study_batch", "study_truth"}
    assert summary["wall_s"] == 190  # 23:29:18 to 23:32:28
    assert summary["batches"] == 2 and summary["replicates"] == 20
    assert summary["setup_share"] == pytest.approx(5 / 255, abs=1e-4)
    assert summary["cpu_per_replicate_mean"] == 12.5
    assert (summary["cpu_per_replicate_batch_min"], summary["cpu_per_replicate_batch_max"]) == (10.0, 15.0)
    assert summary["batch_busy_share_median"] == pytest.approx((150 / 180 + 100 / 120) / 2, abs=1e-3)


def test_a_batch_log_without_its_cpu_line_is_an_error(tmp_path):
    speed = load_benchmark("study_speed")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "s01_batch_0.log").write_text("Traceback ...")
    (tmp_path / "logs" / "s01_batch_1.log").write_text("Traceback ...")
    log = tmp_path / "snakemake.log"
    log.write_text(LOG)
    with pytest.raises(SystemExit, match="no CPU line"):
        speed.summarise(tmp_path, log)
