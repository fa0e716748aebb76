"""Provenance of a run (``results/provenance.json``): what went in and what computed it.

Holds the SHA-256 of every input file, the analysis plan and its hash, the seeds, the
versions of Python and of every scientific dependency, the git commit when the working
directory is a git checkout, and the time stamp of the run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

SCIENTIFIC_PACKAGES = (
    "outcomes",
    "numpy",
    "pandas",
    "pandera",
    "pyarrow",
    "scipy",
    "statsmodels",
    "lifelines",
    "matplotlib",
    "jinja2",
    "pyyaml",
    "jsonschema",
    "snakemake",
    "snakemake-executor-plugin-slurm",
)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_versions(names=SCIENTIFIC_PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(directory: str | Path = ".") -> dict[str, Any] | None:
    """Commit and dirty flag of the checkout holding ``directory``; None outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def build_provenance(
    inputs: list[str | Path],
    plan: dict[str, Any],
    seeds: dict[str, int] | None = None,
    *,
    now: dt.datetime | None = None,
    repo_dir: str | Path = ".",
) -> dict[str, Any]:
    """Assemble the provenance record (a JSON-ready dict)."""
    plan_text = json.dumps(plan, sort_keys=True, separators=(",", ":"))
    stamp = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    return {
        "timestamp_utc": stamp.isoformat(),
        "inputs": {
            str(p): {"sha256": sha256_file(p), "bytes": Path(p).stat().st_size}
            for p in sorted(map(str, inputs))
        },
        "plan": plan,
        "plan_sha256": hashlib.sha256(plan_text.encode("utf-8")).hexdigest(),
        "seeds": dict(sorted((seeds or {}).items())),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": platform.platform(),
        "packages": package_versions(),
        "git": git_commit(repo_dir),
    }


def write_provenance(record: dict[str, Any], path: str | Path) -> None:
    from outcomes.atomic import write_text

    write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
