"""No result of an earlier run presents itself as current after a failed run.

The workflow calls :func:`begin_run` when a run starts (Snakemake ``onstart``) and
:func:`retire_stale_results` when it fails (``onerror``). Every result file older than
the run's start — one the failed run did not rewrite — is moved to
``<results>/stale/<earlier run>/`` next to a ``README.txt`` naming the earlier run's time
and input checksums (from its ``provenance.json``). The run's own validation listing
stays: it is current (Snakemake reran the validator when the extract or the explanations
changed); only the gate's ``PASSED`` mark goes when the current status is not 0.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from outcomes.atomic import write_text

RUN_RECORD = Path("logs") / "current_run.json"
STALE_DIR = "stale"
# Top-level entries of the results directory that are never retired.
KEEP = frozenset({"logs", STALE_DIR, "validation"})


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _earlier_run(results: Path) -> dict[str, Any]:
    """Time stamp and input checksums of the run that wrote ``provenance.json``."""
    try:
        prov = json.loads((results / "provenance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    inputs = {path: rec.get("sha256") for path, rec in (prov.get("inputs") or {}).items()}
    return {"timestamp_utc": prov.get("timestamp_utc"), "inputs": inputs}


def begin_run(results_dir: str | Path) -> Path:
    """Record the start of a run (its time stamp and what the earlier run was)."""
    results = Path(results_dir)
    record = {"started_utc": _now(), "earlier_run": _earlier_run(results)}
    return write_text(results / RUN_RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")


def _older_files(results: Path, since_ns: int) -> list[Path]:
    found = []
    for top in sorted(results.iterdir()):
        if top.name in KEEP or top.name.startswith("."):
            continue
        for path in sorted([top] if top.is_file() else top.rglob("*")):
            if path.is_file() and path.stat().st_mtime_ns < since_ns:
                found.append(path)
    return found


def _note(earlier: dict[str, Any], started: str, moved: list[str]) -> str:
    lines = [
        "STALE: these results belong to an earlier run, not to the run started "
        f"{started}, which failed.",
        f"Earlier run: {earlier.get('timestamp_utc') or 'time unknown (no provenance.json)'}.",
        "Its input files (SHA-256):" if earlier.get("inputs") else "Its input checksums are unknown.",
    ]
    lines += [f"  {sha}  {path}" for path, sha in sorted((earlier.get("inputs") or {}).items())]
    lines += ["Files moved here:"] + [f"  {m}" for m in moved]
    return "\n".join(lines) + "\n"


def retire_stale_results(results_dir: str | Path) -> Path | None:
    """After a failed run: move every result the run did not rewrite to ``stale/``.

    Returns the directory the files went to (None when there was nothing to move).
    Without a record of the run's start (:func:`begin_run`) every result is retired.
    """
    results = Path(results_dir)
    if not results.is_dir():
        return None
    record_path = results / RUN_RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        since_ns = record_path.stat().st_mtime_ns
    except (OSError, ValueError):
        record, since_ns = {"started_utc": "(unknown)", "earlier_run": _earlier_run(results)}, 2**63 - 1
    validation = results / "validation"
    status = validation / "exit_status.txt"
    if (validation / "PASSED").exists() and (not status.is_file() or status.read_text().strip() != "0"):
        (validation / "PASSED").unlink()
    stale = _older_files(results, since_ns)
    if not stale:
        return None
    earlier = record.get("earlier_run") or {}
    label = (earlier.get("timestamp_utc") or f"before-{record['started_utc']}").replace(":", "-")
    dest = results / STALE_DIR / f"run-{label}"
    n = 1
    while dest.exists():
        n += 1
        dest = results / STALE_DIR / f"run-{label}-{n}"
    moved = []
    for path in stale:
        rel = path.relative_to(results)
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest / rel)
        moved.append(str(rel))
    for top in {results / Path(m).parts[0] for m in moved}:
        if top.is_dir():
            for d in sorted((p for p in top.rglob("*") if p.is_dir()), reverse=True):
                if not any(d.iterdir()):
                    d.rmdir()
            if not any(top.iterdir()):
                top.rmdir()
    write_text(dest / "README.txt", _note(earlier, record.get("started_utc", "(unknown)"), moved))
    return dest


__all__ = ["begin_run", "retire_stale_results", "STALE_DIR"]
