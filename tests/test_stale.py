"""outcomes.stale: after a failed run no earlier result stays where a current one belongs."""

from __future__ import annotations

import json
import os

from outcomes.stale import RUN_RECORD, begin_run, retire_stale_results


def _earlier_results(results):
    for rel, text in {
        "report/index.html": "<h1>earlier</h1>",
        "tables/survival.tsv": "earlier",
        "derived/adsl.parquet": "earlier",
        "validation/issues_detail.tsv": "listing",
        "validation/exit_status.txt": "1\n",
        "validation/PASSED": "",
        "logs/validate.log": "log",
    }.items():
        (results / rel).parent.mkdir(parents=True, exist_ok=True)
        (results / rel).write_text(text)
    (results / "provenance.json").write_text(json.dumps({
        "timestamp_utc": "2026-11-29T10:00:00+00:00",
        "inputs": {"data/participants.csv": {"sha256": "ab" * 32, "bytes": 3}},
    }))
    old = 1_700_000_000
    for p in results.rglob("*"):
        os.utime(p, (old, old))


def test_failed_run_moves_what_it_did_not_rewrite(tmp_path):
    results = tmp_path / "results"
    _earlier_results(results)
    begin_run(results)
    (results / "tables").mkdir(exist_ok=True)
    (results / "tables" / "questionnaires.tsv").write_text("this run")  # written by the failed run
    dest = retire_stale_results(results)
    assert dest == results / "stale" / "run-2026-11-29T10-00-00+00-00"
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == [
        "README.txt", "derived/adsl.parquet", "provenance.json", "report/index.html", "tables/survival.tsv",
    ]
    assert (dest / "report" / "index.html").read_text() == "<h1>earlier</h1>"
    note = (dest / "README.txt").read_text().splitlines()
    assert note[0].startswith("STALE: these results belong to an earlier run")
    assert f"  {'ab' * 32}  data/participants.csv" in note
    # this run's own files stay; nothing earlier is left where a current result belongs
    assert (results / "tables" / "questionnaires.tsv").read_text() == "this run"
    assert not (results / "report").exists() and not (results / "derived").exists()
    assert not (results / "provenance.json").exists()
    # the validation listing is current; the gate's mark goes with a non-zero status
    assert (results / "validation" / "issues_detail.tsv").read_text() == "listing"
    assert not (results / "validation" / "PASSED").exists()
    assert (results / "logs" / "validate.log").exists() and (results / RUN_RECORD).exists()


def test_passed_stays_when_the_validation_passed(tmp_path):
    results = tmp_path / "results"
    _earlier_results(results)
    (results / "validation" / "exit_status.txt").write_text("0\n")
    begin_run(results)
    retire_stale_results(results)
    assert (results / "validation" / "PASSED").exists()


def test_a_second_failure_keeps_both_earlier_sets(tmp_path):
    results = tmp_path / "results"
    _earlier_results(results)
    begin_run(results)
    first = retire_stale_results(results)
    (results / "report").mkdir()
    (results / "report" / "index.html").write_text("second")
    os.utime(results / "report" / "index.html", (1_700_000_000, 1_700_000_000))
    begin_run(results)
    second = retire_stale_results(results)
    assert first != second and (second / "report" / "index.html").read_text() == "second"
    assert (first / "report" / "index.html").read_text() == "<h1>earlier</h1>"


def test_nothing_to_retire(tmp_path):
    assert retire_stale_results(tmp_path / "absent") is None
    results = tmp_path / "results"
    begin_run(results)
    assert retire_stale_results(results) is None
