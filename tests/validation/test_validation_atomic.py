"""The validator's outputs are replaced as a whole: a kill, a full disk or an internal error
leaves either the earlier complete outputs or this run's, never a mix; exit status 2."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from extract_factory import write_extract

import outcomes.validation.report as vreport
from outcomes.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _checksums(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture
def earlier(tables, tmp_path):
    """An extract validated once (the earlier run) and the checksums of its outputs."""
    d = write_extract(tables, tmp_path / "x")
    out = tmp_path / "out"
    assert main(["validate", str(d), "--out", str(out)]) == 0
    assert (out / "exit_status.txt").read_text() == "0\n"
    return d, out, _checksums(out)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _break_participants(d: Path) -> None:
    p = d / "participants.csv"
    p.write_text(p.read_text().replace("peer_support", "placebo", 1))


def test_full_disk_exits_2_and_leaves_the_earlier_outputs(earlier, monkeypatch, capsys):
    d, out, before = earlier
    _break_participants(d)  # this run's outputs would differ from the earlier ones
    calls = []
    write_table = vreport.pq.write_table

    def full_disk(table, where, *a, **k):
        calls.append(where)
        if len(calls) == 3:  # some files of this run are already written
            raise OSError(errno.ENOSPC, "No space left on device", str(where))
        return write_table(table, where, *a, **k)

    monkeypatch.setattr(vreport.pq, "write_table", full_disk)
    capsys.readouterr()
    assert main(["validate", str(d), "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("outcomes validate: cannot write to ") and "No space left on device" in line
    assert _checksums(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["out", "x"]  # no temporary left


def test_full_disk_on_a_first_run_leaves_nothing(tables, tmp_path, monkeypatch, capsys):
    d = write_extract(tables, tmp_path / "x")

    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(vreport.pq, "write_table", full_disk)
    assert main(["validate", str(d), "--out", str(tmp_path / "out")]) == 2
    assert "No space left on device" in _one_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]


def test_internal_error_while_writing_exits_2_not_1(earlier, monkeypatch, capsys):
    d, out, before = earlier
    _break_participants(d)  # would be exit 1 (errors listed) if the write succeeded
    monkeypatch.delenv("OUTCOMES_DEBUG")

    def broken(*a, **k):
        raise KeyError("severity")

    monkeypatch.setattr(vreport, "_render_html", broken)
    capsys.readouterr()
    assert main(["validate", str(d), "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "internal error while writing (KeyError" in line
    assert _checksums(out) == before


def test_internal_error_while_validating_exits_2_not_1(earlier, monkeypatch, capsys):
    d, out, before = earlier
    monkeypatch.delenv("OUTCOMES_DEBUG")

    def broken(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(vreport, "validate_extract", broken)
    capsys.readouterr()
    assert main(["validate", str(d), "--out", str(out)]) == 2
    assert "internal error while validating (ZeroDivisionError" in _one_line(capsys.readouterr().err)
    assert _checksums(out) == before


def test_unexpected_exception_in_any_command_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    import outcomes.provenance

    monkeypatch.delenv("OUTCOMES_DEBUG")

    def broken(*a, **k):
        raise ValueError("boom")

    monkeypatch.setattr(outcomes.provenance, "build_provenance", broken)
    plan = tmp_path / "plan.json"
    plan.write_text("{}")
    status = main(["provenance", "--plan", str(ROOT / "config" / "test.yaml"), "--inputs", str(plan),
                   "--out", str(tmp_path / "p.json")])
    assert status == 2
    assert _one_line(capsys.readouterr().err) == (
        "outcomes provenance: internal error (ValueError: boom); "
        "set OUTCOMES_DEBUG=1 for a traceback and please report it"
    )


def test_full_disk_in_any_command_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    import outcomes.atomic

    def full_disk(path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(outcomes.atomic, "_fsync", full_disk)
    out = tmp_path / "provenance.json"
    status = main(["provenance", "--plan", str(ROOT / "config" / "test.yaml"),
                   "--inputs", str(ROOT / "synthetic_data" / "participants.csv"), "--out", str(out)])
    assert status == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("outcomes provenance: ") and line.endswith(": No space left on device")
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_a_directory_with_other_files_is_refused_not_replaced(tables, tmp_path, capsys):
    d = write_extract(tables, tmp_path / "x")
    assert main(["validate", str(d), "--out", str(tmp_path)]) == 2  # the extract's parent
    line = _one_line(capsys.readouterr().err)
    assert str(tmp_path) in line and "not validation outputs (x)" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]


def test_unreadable_extract_replaces_the_earlier_outputs_as_a_whole(earlier, capsys):
    d, out, _ = earlier
    (d / "participants.csv").write_bytes(b"")
    assert main(["validate", str(d), "--out", str(out)]) == 2
    assert sorted(_checksums(out)) == ["exit_status.txt", "issues_detail.tsv", "issues_explained.tsv",
                                       "issues_summary.tsv", "validation.html"]
    assert (out / "exit_status.txt").read_text() == "2\n"


def _writing(parent: Path, out: Path, since: float) -> bool:
    """Has the validator begun to write (a temporary sibling, or any file of ``out`` touched)?"""
    if any(p.name.startswith(".out.") for p in parent.iterdir()):
        return True
    try:
        return any(p.stat().st_mtime > since for p in out.rglob("*"))
    except FileNotFoundError:
        return True


@pytest.fixture(scope="module")
def big_extract(tmp_path_factory):
    d = tmp_path_factory.mktemp("big") / "extract"
    subprocess.run([sys.executable, "-m", "outcomes", "simulate", "--n", "20000", "--seed", "7", "--out", str(d)],
                   check=True, capture_output=True)
    return d


@pytest.mark.slow
def test_sigkill_during_the_write_never_mixes_runs(big_extract, tmp_path):
    """Kill the validator at several moments of its write; after each kill the output
    directory is the earlier run's, byte for byte, or this run's complete outputs."""
    cmd = [sys.executable, "-m", "outcomes", "validate"]
    out = tmp_path / "out"
    subprocess.run(cmd + [str(ROOT / "synthetic_data"), "--out", str(out)], check=True, capture_output=True)
    earlier = _checksums(out)
    reference = tmp_path / "reference"
    subprocess.run(cmd + [str(big_extract), "--out", str(reference)], check=True, capture_output=True)
    this_run = _checksums(reference)
    differing = [k for k in earlier if earlier[k] != this_run.get(k)]
    assert {"validation.html", "row_accounting.tsv", "clean/participants.parquet"} <= set(differing)

    killed_while_writing = 0
    for delay in (0.0, 0.01, 0.03, 0.06, 0.1, 0.2, 0.4):
        started = time.time()
        proc = subprocess.Popen(cmd + [str(big_extract), "--out", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not _writing(tmp_path, out, started) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed_while_writing += 1
        proc.wait(timeout=60)
        now = _checksums(out) if out.exists() else {}
        assert now in (earlier, this_run), f"mixed outputs after a kill {delay} s into the write"
        if now == this_run:  # the swap happened: restore the earlier run for the next kill
            subprocess.run(cmd + [str(ROOT / "synthetic_data"), "--out", str(out)], check=True,
                           capture_output=True)
    assert killed_while_writing >= 3
    # a later complete run removes what the killed writers left next to the directory
    subprocess.run(cmd + [str(big_extract), "--out", str(out)], check=True, capture_output=True)
    assert _checksums(out) == this_run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "reference"]
