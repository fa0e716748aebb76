"""The result tables of the shared bundled run (config/test.yaml, tests/bundled_run.py)
are byte-identical to the recorded ones: a change meant only to make the pipeline faster
or leaner (issue 17) cannot change a result without this test failing.

The record, tests/golden/bundled_tables.sha256, holds the SHA-256 of every table and
listing of the run (results/tables, results/mediation, the validation listings). A change
that is meant to change results rewrites it on purpose, in its own commit with the reason:
``OUTCOMES_UPDATE_GOLDEN=1 pytest tests/test_golden_tables.py`` (decisions L68).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden" / "bundled_tables.sha256"
#: What is compared: result tables and listings, not logs, figures, HTML or provenance
#: (run times, paths and versions) nor Parquet files (their bytes hold the writer's version).
PATTERNS = ("tables/*.tsv", "tables/*.json", "mediation/*.tsv", "mediation/*.json",
            "validation/issues_*.tsv", "validation/row_accounting.tsv")


def table_digests(results: Path) -> dict[str, str]:
    out = {}
    for pattern in PATTERNS:
        for f in sorted(results.glob(pattern)):
            out[f.relative_to(results).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return dict(sorted(out.items()))


def test_result_tables_are_byte_identical_to_the_record(bundled_run):
    assert bundled_run.process.returncode == 0, bundled_run.process.stderr[-2000:]
    got = table_digests(bundled_run.work / "results")
    assert len(got) > 20, sorted(got)
    if os.environ.get("OUTCOMES_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text("".join(f"{h}  {name}\n" for name, h in got.items()))
    want = dict(reversed(line.split("  ", 1)) for line in GOLDEN.read_text().splitlines())
    assert sorted(got) == sorted(want), "tables added or missing: " + str(
        sorted(set(got) ^ set(want)))
    changed = [name for name in want if got[name] != want[name]]
    assert not changed, f"result tables changed: {changed}"
