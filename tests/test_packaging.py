"""Package hygiene: typed (py.typed), one version."""

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
