"""Issue 17, points 2 and 5: every rule declares mem_mb and runtime from one calibrated
table (outcomes.resources), every job's BLAS/OpenMP threads equal its declared threads, the
extract's checksums are not recomputed for unchanged files, and an up-to-date run
schedules no job. The first group runs without Snakemake; the second reads the shared
bundled run (tests/bundled_run.py) and adds one dry run."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bundled_run import CONFIG, USAGE

from outcomes import resources
from outcomes.provenance import sha256_file
from outcomes.resources import (
    COMMAND_RULE,
    MEM_MARGIN,
    STAGE_COSTS,
    cached_sha256,
    job_mem_mb,
    job_runtime_min,
    mediation_batches,
    plan_work_factor,
)

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
DEFAULT_PLAN = {"missing_data": {"method": "mi", "m": 50}, "mediation": {"n_boot": 1000},
                "survival": {"hospital_days_n_boot": 2000}}


def _rules() -> dict[str, str]:
    """Every rule of the workflow and its text (the Snakefile's `all` aside); the rules a
    loop defines (the mediation batches: ``rule:`` with ``name:``) under the stage whose
    cost they declare, with their directives unindented to a named rule's."""
    found = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule |    rule:)", path.read_text())[1:]:
            named = re.match(r"rule (\w+):", block)
            if named:
                found[named.group(1)] = block
            else:
                stage = re.search(r'stage_mem_mb\("(\w+)"\)', block).group(1)
                found[stage] = re.sub(r"(?m)^    ", "", block)
    return found


def test_every_rule_declares_its_resources_and_benchmark_from_the_one_table():
    rules = _rules()
    assert set(rules) == set(STAGE_COSTS)
    assert set(COMMAND_RULE.values()) == set(STAGE_COSTS) - {"validation_gate"}
    for name, text in rules.items():
        assert f'mem_mb=stage_mem_mb("{name}")' in text, name
        assert re.search(rf'runtime=stage_runtime\("{name}"(, jobs=len\(_jobs\))?\)', text), name
        assert "    benchmark:\n" in text, name
        assert "    run:\n" not in text, name  # shell jobs: Snakemake sets their threads


def test_declarations_cover_the_measured_cost_with_the_margin_and_grow_with_size():
    for stage, c in STAGE_COSTS.items():
        for size, peak, seconds in ((c.small_mb, c.rss_small, c.seconds_small),
                                    (c.large_mb, c.rss_large, c.seconds_large)):
            assert job_mem_mb(stage, size, DEFAULT_PLAN) >= MEM_MARGIN * peak, stage
            assert job_runtime_min(stage, size, DEFAULT_PLAN) * 60 >= 2 * seconds, stage
        sizes = [0.05, c.small_mb, 10, c.large_mb, 2 * c.large_mb, 10 * c.large_mb]
        mems = [job_mem_mb(stage, s, DEFAULT_PLAN) for s in sizes]
        runtimes = [job_runtime_min(stage, s, DEFAULT_PLAN) for s in sizes]
        assert mems == sorted(mems) and runtimes == sorted(runtimes), stage
        # beyond the calibration: at least linear growth in the extract's size
        assert job_mem_mb(stage, 10 * c.large_mb, DEFAULT_PLAN) >= MEM_MARGIN * 10 * c.rss_large
        # a retry asks for twice as much
        assert job_mem_mb(stage, c.large_mb, DEFAULT_PLAN, attempt=2) == 2 * mems[3]


def test_a_larger_plan_raises_the_declaration_and_a_smaller_one_never_lowers_it():
    big = {"missing_data": {"method": "mi", "m": 200}, "mediation": {"n_boot": 5000},
           "survival": {"hospital_days_n_boot": 2000}}
    small = {"missing_data": {"method": "complete_case", "m": 5}, "mediation": {"n_boot": 50},
             "survival": {"hospital_days_n_boot": 100}}
    assert plan_work_factor("mediation_job", big) == 4 * 5
    assert plan_work_factor("impute", big) == 4
    assert plan_work_factor("survival", big) == 1
    for stage in STAGE_COSTS:
        assert plan_work_factor(stage, small) == 1
        assert job_runtime_min(stage, 83.0, big) >= job_runtime_min(stage, 83.0, DEFAULT_PLAN)


def test_mediation_batches_hold_every_job_once_in_plan_order_with_balanced_cost():
    sets = ["WAISR", "HHI", "GSE", "ISMI10", "LSNS6", "UCLA3", "M2", "M3", "ALL"]
    pairs = [(m, o) for m in sets for o in ("wemwbs_m12", "readmit_12m", "readmit_time")]
    batches = mediation_batches(pairs, 4)
    assert len(batches) == 4 and all(batches)
    assert sorted(j for b in batches for j in b) == sorted(pairs)
    for b in batches:  # each batch in the plan's order
        assert b == sorted(b, key=pairs.index)
    cost = [sum(resources.MEDIATION_OUTCOME_COST.get(o, 1.0) for _, o in b) for b in batches]
    # the greedy split is within one readmit_time job of the even share (40.5 / 4)
    assert max(cost) - min(cost) <= max(resources.MEDIATION_OUTCOME_COST.values())
    assert mediation_batches(pairs, 4) == batches  # the same groups at every DAG build
    assert mediation_batches(pairs, 1) == [pairs]
    assert sorted(mediation_batches(pairs[:3], 10)) == sorted([p] for p in pairs[:3])  # none empty
    with pytest.raises(ValueError):
        mediation_batches(pairs, 0)


def test_a_batch_declares_the_runtime_of_its_jobs_and_the_memory_of_one():
    size = 80.0  # n = 100,000: one job above the 5-minute floor
    one = job_runtime_min("mediation_job", size, DEFAULT_PLAN)
    seven = job_runtime_min("mediation_job", size, DEFAULT_PLAN, jobs=7)
    assert seven >= 7 * one - 7  # each job's minutes, rounded up once instead of seven times
    assert job_runtime_min("mediation_job", size, DEFAULT_PLAN, attempt=2, jobs=7) == 2 * seven
    assert seven > one


def test_checksums_are_cached_by_file_stamp_and_a_changed_file_is_hashed_again(tmp_path, monkeypatch):
    data = tmp_path / "participants.csv"
    data.write_text("id,arm\n1,a\n")
    cache = tmp_path / "results" / "logs" / "input_checksums.json"
    calls = []
    real = sha256_file

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr("outcomes.provenance.sha256_file", counting)
    first = cached_sha256([data], cache)
    assert first == {str(data): hashlib.sha256(data.read_bytes()).hexdigest()}
    assert cached_sha256([data], cache) == first and len(calls) == 1  # unchanged: not read
    # same size, mtime set back: the ctime still moves, so the file is hashed again
    st = data.stat()
    data.write_text("id,arm\n1,b\n")
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = cached_sha256([data], cache)
    assert len(calls) == 2 and second[str(data)] == real(data) != first[str(data)]
    assert json.loads(cache.read_text())[str(data)]["sha256"] == second[str(data)]


def test_a_process_records_its_peak_memory_and_thread_variables(tmp_path):
    env = dict(os.environ, OUTCOMES_USAGE_DIR=str(tmp_path), OMP_NUM_THREADS="3",
               OPENBLAS_NUM_THREADS="3", MKL_NUM_THREADS="3")
    res = subprocess.run([sys.executable, "-m", "outcomes", "--version"], env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    (rec,) = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert rec["argv"] == ["--version"] and rec["max_rss_mb"] > 10
    assert rec["threads"] == {v: "3" for v in resources.THREAD_VARS}


def _declared_threads(rules: dict[str, str]) -> dict[str, int]:
    return {name: int(re.search(r"(?m)^    threads: (\d+)$", text).group(1))
            for name, text in rules.items()}


@pytest.mark.slow
def test_every_job_of_the_bundled_run_saw_its_threads_and_stayed_within_its_memory(bundled_run):
    work = bundled_run.work
    assert bundled_run.process.returncode == 0, bundled_run.process.stderr[-3000:]
    threads = _declared_threads(_rules())
    plan = json.loads((work / "results" / "plan.json").read_text())
    extract = Path(plan["data_dir"])
    extract = extract if extract.is_absolute() else work / extract
    size = resources.extract_size_mb(
        [extract / f"{t}.csv" for t in ("participants", "questionnaires", "admissions", "peer_contacts")]
        + [work / plan["explanations"]])
    seen = set()
    for path in sorted((work / USAGE).glob("*.json")):
        rec = json.loads(path.read_text())
        stage = COMMAND_RULE[rec["argv"][0]]
        seen.add(stage)
        assert rec["threads"] == {v: str(threads[stage]) for v in resources.THREAD_VARS}, stage
        assert rec["max_rss_mb"] < job_mem_mb(stage, size, plan), (stage, rec["max_rss_mb"])
    # every rule that runs the package (validation_gate is a shell test) and every job
    # benchmarked
    assert seen == set(COMMAND_RULE.values())
    bench = work / "results" / "logs" / "benchmarks"
    assert {p.stem for p in bench.glob("*.tsv")} | {"mediation_job"} == set(STAGE_COSTS)
    # one benchmark per mediation batch (config/test.yaml: 18 jobs in the default 4 batches)
    assert sorted(p.name for p in (bench / "mediation").glob("*.tsv")) == [
        f"batch_{b}.tsv" for b in range(1, resources.DEFAULT_MEDIATION_BATCHES + 1)]
    assert len(list((work / "results" / "mediation").glob("*.sensitivity.tsv"))) == 18
    # the extract's checksums were cached for the next DAG build
    cached = json.loads((work / "results" / "logs" / "input_checksums.json").read_text())
    assert len(cached) == 5


@pytest.mark.slow
def test_an_up_to_date_run_schedules_no_job(bundled_run):
    # as scripts/pipeline.sh runs Snakemake (outcomes.snakemake_local)
    res = subprocess.run([sys.executable, "-m", "outcomes.snakemake_local", "--workflow-profile",
                          "workflow/profiles/default", "--configfile", CONFIG, "--dry-run"],
                         cwd=bundled_run.work, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "Nothing to be done" in out, out


def test_a_local_run_leaves_the_slurm_plugin_out_unless_an_executor_may_be_named(tmp_path, monkeypatch):
    from outcomes.snakemake_local import SLURM_PLUGIN, may_use_another_executor

    monkeypatch.delenv("SNAKEMAKE_PROFILE", raising=False)
    local = ROOT / "workflow" / "profiles" / "default"
    assert not may_use_another_executor(["--workflow-profile", str(local), "--cores", "2", "-n"])
    assert not may_use_another_executor([f"--workflow-profile={local}"])
    for args in (["--executor", "slurm"], ["-e=slurm"], ["--profile", str(local)],
                 ["--workflow-profile", str(ROOT / "workflow" / "profiles" / "slurm")]):
        assert may_use_another_executor(args), args
    monkeypatch.setenv("SNAKEMAKE_PROFILE", "slurm")
    assert may_use_another_executor([])
    # what Snakemake's plugin discovery finds, without and with the module hidden
    code = ("import sys; from outcomes import snakemake_local as s\n"
            "if sys.argv[1] == 'hide': s._hide(s.SLURM_PLUGIN)\n"
            "import pkgutil; print(sorted(m.name for m in pkgutil.iter_modules()"
            " if m.name.startswith('snakemake_executor_plugin_')))")
    seen = {how: subprocess.run([sys.executable, "-c", code, how], capture_output=True, text=True,
                                check=True).stdout for how in ("hide", "keep")}
    assert f"'{SLURM_PLUGIN}'" not in seen["hide"]
    if importlib.util.find_spec(SLURM_PLUGIN) is not None:  # installed (the slurm extra)
        assert f"'{SLURM_PLUGIN}'" in seen["keep"]


def _bench(path: Path, s: float, cpu: float, rss: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                    f"{s}\t0:00:01\t{rss}\t0\t0\t0\t0\t0\t0\t{cpu}\n")


def test_the_scale_benchmark_tabulates_stages_exponents_and_verdicts(tmp_path):
    """benchmarks/scale.py's tables from two levels of Snakemake benchmark files: sums over
    a rule's jobs, the larger peak of the samples and the process's own record, the CPU
    exponent log(t100k / t20k) / log 5 and its verdict."""
    from benchmark_module import load_benchmark

    scale = load_benchmark("scale")
    rows = []
    for n, mb, factor in ((20_000, 16.0, 1.0), (100_000, 80.0, 5.0 ** 1.2)):
        work = tmp_path / f"n{n}"
        bench = work / "results" / "logs" / "benchmarks"
        # Snakemake's sampled CPU (a quarter of the truth) and the process's own getrusage
        _bench(bench / "derive_adam.tsv", 2.0 * factor, 0.25 * factor, 100.0)
        _bench(bench / "mediation" / "M2__wemwbs_m12.tsv", 1.0, 0.5, 50.0)
        _bench(bench / "mediation" / "M3__wemwbs_m12.tsv", 3.0, 1.5, 60.0)
        (work / "usage").mkdir()
        (work / "usage" / "1.json").write_text(json.dumps(
            {"argv": ["derive"], "max_rss_mb": 2000.0, "cpu_s": 1.0 * factor, "threads": {}}))
        rows += scale.stage_rows(work, n, mb)
    by = {(r.n, r.stage): r for r in rows}
    med = by[100_000, "mediation_job"]
    assert (med.jobs, med.wall_s, med.cpu_s, med.peak_rss_mb, med.max_job_cpu_s) == (2, 4.0, 2.0, 60.0, 1.5)
    assert by[100_000, "derive_adam"].peak_rss_mb == 2000.0  # the process's own high-water mark
    assert by[20_000, "derive_adam"].cpu_s == 1.0  # the process's own CPU time, not the sample
    runs = [scale.RunRow(20_000, 16.0, 60.0, 1.0, 0.5, 0.5), scale.RunRow(100_000, 80.0, 400.0, 1.5, 0.5, 0.5)]
    text = scale.summary(runs, rows)
    derive = next(line for line in text.splitlines() if line.startswith("| derive_adam"))
    assert "| 1.20 (1.20) | FAIL | FAIL |" in derive  # exponent 1.2 > 1.1, 2000 MiB > 1.5 GiB
    assert "mediation_job" in text and "| 0.00 (0.00) | pass | pass |" in text
    assert "whole pipeline at n = 100,000: 400 s" in text
    assert '"derive_adam": StageCost(16.0, 80.0, 2000, 2000' in scale.calibration(rows)


def test_the_scale_benchmark_counts_the_jobs_of_a_mediation_batch(tmp_path):
    """A batch's benchmark covers several jobs (its log's 'mediation: ...' lines): the
    stage counts them, and its per-job figures are the batch's mean."""
    from benchmark_module import load_benchmark

    scale = load_benchmark("scale")
    bench = tmp_path / "results" / "logs" / "benchmarks"
    _bench(bench / "mediation" / "batch_1.tsv", 8.0, 6.0, 70.0)
    _bench(bench / "mediation" / "batch_2.tsv", 3.0, 2.0, 80.0)
    log = tmp_path / "results" / "logs" / "mediation" / "batch_1.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"mediation: M{i} x wemwbs_m12: 22 effects; wrote x\n" for i in range(4))
                   + "a warning\n")
    (row,) = scale.stage_rows(tmp_path, 600, 0.5)
    assert (row.stage, row.jobs, row.cpu_s, row.peak_rss_mb) == ("mediation_job", 5, 8.0, 80.0)
    assert (row.max_job_wall_s, row.max_job_cpu_s) == (3.0, 2.0)  # batch_2 (no log): one job
