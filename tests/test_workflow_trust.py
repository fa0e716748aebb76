"""Issue 10 (points 1 and 2): no stale result presents itself as current, and config values
reach shell commands as one argument each.

The good pipeline run is the session's shared bundled run (tests/bundled_run.py: the
extract's directory name holds a space, a quote and ``; touch pwned``, and an explanations
file is given); each test that runs Snakemake works on a copy of it (results and
Snakemake's metadata included, modification times preserved), never on the shared run.
Until decisions CU2 this module made its own full run of the same plan in the same layout
(93 s of wall time in the idle 861 s suite of Z5; one such run is 103 s of CPU). Its eight
tests now take 37.5 s of CPU on top of the shared run (measured with the whole bundled-run
unit, 19 tests, CI=true and the SLURM cluster up: all passed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bundled_run import CONFIG as BUNDLED_CONFIG
from bundled_run import EXTRACT

from outcomes.pipeline_end import unexplained_errors

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
CONFIG = ["--configfile", BUNDLED_CONFIG]

pytestmark = pytest.mark.slow


def _run(args, cwd, timeout=900):
    return subprocess.run([SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _checksums(results: Path) -> dict[str, str]:
    return {str(p.relative_to(results)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(results.rglob("*")) if p.is_file() and "logs" not in p.relative_to(results).parts}


def _pwned(work: Path) -> list[Path]:
    return [p for p in work.rglob("*") if p.name.startswith("pwned")]


@pytest.fixture(scope="module")
def good_run(bundled_run):
    """The shared bundled run's working directory (read only: tests change copies)."""
    res = bundled_run.process
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return bundled_run.work


@pytest.fixture
def work(good_run, tmp_path):
    dest = tmp_path / "wf"
    shutil.copytree(good_run, dest, symlinks=True)
    return dest


def test_a_data_dir_with_shell_syntax_is_one_argument(good_run):
    assert _pwned(good_run) == []
    results = good_run / "results"
    prov = json.loads((results / "provenance.json").read_text())
    assert sorted(prov["inputs"]) == sorted([f"{EXTRACT}/{t}.csv" for t in
                                             ("participants", "questionnaires", "admissions", "peer_contacts")]
                                            + ["explanations.tsv"])
    assert (results / "validation" / "exit_status.txt").read_text() == "0\n"
    assert (results / "report" / "index.html").stat().st_size > 0
    assert not (results / "stale").exists()


def test_an_arm_code_with_shell_syntax_is_one_argument(work):
    cfg = work / BUNDLED_CONFIG
    cfg.write_text(cfg.read_text().replace("  treated: peer_support\n", '  treated: "peer_support; touch pwned"\n'))
    res = _run(["results/validation/exit_status.txt", "--cores", "1", *CONFIG], work)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert _pwned(work) == []
    # the whole value reached the validator as the treated arm's code: no participant has it
    assert (work / "results" / "validation" / "exit_status.txt").read_text() == "1\n"
    assert "PAR-004" in (work / "results" / "validation" / "issues_summary.tsv").read_text()


def test_missing_data_dir_after_a_good_run_stops_in_one_line(work):
    before = _checksums(work / "results")
    res = _run(["--cores", "2", *CONFIG, "--config", "data_dir=/does/not/exist"], work)
    assert res.returncode != 0
    assert _lines(res) == ["config data_dir: /does/not/exist: directory not found"]
    assert _checksums(work / "results") == before  # nothing ran; the report still names its own extract
    assert f"Extract: <code>{EXTRACT}".replace("'", "&#39;") in (work / "results" / "report" / "index.html").read_text()


def test_missing_input_file_or_explanations_stops_in_one_line(work):
    (work / EXTRACT / "admissions.csv").unlink()
    res = _run(["-n", *CONFIG], work)
    assert res.returncode != 0
    assert _lines(res) == [f"config data_dir: {EXTRACT}: no admissions.csv in the extract"]
    res = _run(["-n", *CONFIG, "--config", "data_dir=synthetic", "explanations=gone.tsv"], work)
    assert res.returncode != 0
    assert "config data_dir: synthetic: directory not found" in res.stdout + res.stderr
    shutil.copytree(ROOT / "synthetic_data", work / "synthetic")
    res = _run(["-n", *CONFIG, "--config", "data_dir=synthetic", "explanations=gone.tsv"], work)
    assert _lines(res) == ["config explanations: gone.tsv: file not found"]


def _lines(res) -> list[str]:
    """What the run printed, without Snakemake's note that --config extends the config file."""
    return [line for line in (res.stdout + res.stderr).strip().splitlines()
            if not line.startswith("Config file config/config.yaml is extended")]


def _scheduled(res) -> str:
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


@pytest.mark.parametrize("edited", ["explanations.tsv", f"{EXTRACT}/peer_contacts.csv"])
def test_an_edited_input_reruns_everything_whatever_its_mtime(work, edited):
    assert "Nothing to be done" in _scheduled(_run(["-n", *CONFIG], work))
    path = work / edited
    stat = path.stat()
    path.write_text(path.read_text() + ("PAR-007\tP001\taccepted\n" if edited.endswith(".tsv") else ""))
    if not edited.endswith(".tsv"):  # same content, one row moved: only the bytes change
        lines = path.read_text().splitlines()
        path.write_text("\n".join([lines[0], *lines[2:], lines[1]]) + "\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # an older copy: mtime alone would miss it
    out = _scheduled(_run(["-n", *CONFIG], work))
    for rule in ("validate", "validation_gate", "derive_adam", "survival", "questionnaire_ancova",
                 "mediation_gather", "provenance", "report"):
        assert f"rule {rule}:" in out or f"\n{rule} " in out, rule


def test_gate_failure_after_a_good_run_retires_the_earlier_results(good_run, work):
    good = _checksums(good_run / "results")
    good_sha = hashlib.sha256((good_run / EXTRACT / "participants.csv").read_bytes()).hexdigest()
    part = work / EXTRACT / "participants.csv"
    part.write_text(part.read_text().replace("peer_support", "placebo", 1))
    res = _run(["--cores", "2", *CONFIG], work)
    assert res.returncode != 0
    results = work / "results"
    # nothing of the earlier run is left where this run's results belong
    for rel in ("report/index.html", "provenance.json", "tables/survival.tsv", "tables/questionnaires.tsv",
                "tables/mediation.tsv", "derived/adsl.parquet", "validation/PASSED"):
        assert not (results / rel).exists(), rel
    # ...it is under stale/, byte for byte, with a note naming the earlier run's inputs
    (stale,) = (results / "stale").iterdir()
    moved = _checksums(stale)
    assert moved.pop("README.txt")
    assert moved and all(good[rel] == sha for rel, sha in moved.items())
    assert {"report/index.html", "tables/survival.tsv", "provenance.json"} <= moved.keys()
    note = (stale / "README.txt").read_text()
    assert note.startswith("STALE: these results belong to an earlier run")
    assert f"{good_sha}  {EXTRACT}/participants.csv" in note
    # this run's own validation listing is current and stays
    val = results / "validation"
    assert (val / "exit_status.txt").read_text() == "1\n"
    assert "placebo" in (val / "issues_detail.tsv").read_text()
    # the run ends saying what failed, which file to open, and where the earlier results went
    n = unexplained_errors(results)
    assert n and _end_lines(res) == [
        f"Pipeline stopped at the validation gate: {n} unexplained error{'s' if n > 1 else ''} in the extract. "
        "Open results/validation/validation.html",
        f"Results of the earlier run were moved to results/stale/{stale.name} (see README.txt there).",
    ]


def test_a_failed_later_stage_names_the_stage_and_its_log(work):
    """A results table that the multiplicity stage (which reads it for the plan's key
    secondary hypothesis, WEMWBS month 12) and the report cannot read: only the stages
    after the table rerun, and the first of them, multiplicity, fails."""
    (work / "results" / "tables" / "questionnaires.tsv").write_text("garbage\n")
    end = work / "end_of_run.txt"  # as scripts/pipeline.sh asks, to print the lines last
    env = {**os.environ, "OUTCOMES_END_OF_RUN": str(end)}
    res = subprocess.run([SNAKEMAKE, "--cores", "2", *CONFIG], cwd=work, capture_output=True, text=True,
                         timeout=900, env=env)
    assert res.returncode != 0
    assert _end_lines(res) == []  # not printed: written for the caller
    (stale,) = (work / "results" / "stale").iterdir()
    assert end.read_text().splitlines() == [
        "Pipeline failed in stage multiplicity. Open results/logs/multiplicity.log",
        f"Results of the earlier run were moved to results/stale/{stale.name} (see README.txt there).",
    ]
    assert "questionnaires.tsv" in (work / "results" / "logs" / "multiplicity.log").read_text()


def _end_lines(res) -> list[str]:
    """The run's own closing lines (outcomes.pipeline_end), on stderr with Snakemake's."""
    return [line for line in res.stderr.splitlines() if line.startswith(("Pipeline ", "Results of the earlier run"))]
