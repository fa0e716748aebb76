"""Package hygiene: typed (py.typed) and type-checked by mypy in CI, one version, a changelog by issue."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import outcomes

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_py_typed_is_in_the_package_and_its_data():
    assert (ROOT / "src/outcomes/py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["outcomes"]


def test_the_version_is_written_once():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "outcomes.__version__"}
    init = (ROOT / "src/outcomes/__init__.py").read_text(encoding="utf-8")
    assert re.findall(r'^__version__ = "([^"]+)"$', init, flags=re.MULTILINE) == [outcomes.__version__]
    # the installed (editable) package's metadata says the same
    assert metadata.version("outcomes") == outcomes.__version__


def test_mypy_is_configured_and_run_by_the_test_script():
    mypy = PYPROJECT["tool"]["mypy"]
    assert mypy["check_untyped_defs"] and mypy["warn_unused_ignores"]
    assert any(dep.startswith("mypy") for dep in PYPROJECT["project"]["optional-dependencies"]["dev"])
    script = (ROOT / "scripts/test.sh").read_text(encoding="utf-8")
    assert (script.index(".venv/bin/ruff check") < script.index(".venv/bin/mypy")
            < script.index(".venv/bin/python -m pytest"))


def test_the_changelog_has_every_issue_of_the_decisions():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    decisions = (ROOT / "docs/decisions.md").read_text(encoding="utf-8")
    headings = [line for line in decisions.splitlines() if line.startswith("## ")]
    issues = {int(n) for line in headings for n in re.findall(r"\bissues? (\d+)", line)}
    issues |= {int(n) for line in headings for m in re.findall(r"issues (\d+), (\d+)", line)
               for n in m}
    listed = {int(n) for n in re.findall(r"^### Issue (\d+)", changelog, flags=re.MULTILINE)}
    first = re.search(r"^### First edition \(([0-9-]+); issues (\d+) to (\d+)\)", changelog,
                      flags=re.MULTILINE)
    assert first, "the first edition's heading"
    listed |= set(range(int(first[2]), int(first[3]) + 1))
    assert issues - listed == set(), f"issues in docs/decisions.md without a CHANGELOG entry: {issues - listed}"
    assert changelog.index("## [Unreleased]") < changelog.index("### Issue ")
