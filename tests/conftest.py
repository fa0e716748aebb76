"""Fixtures shared by several test modules, and how the suite is spread over processes."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from bundled_run import make_bundled_run
from report_run import make_report_run

ROOT = Path(__file__).resolve().parents[1]
#: The session-scoped fixtures shared by several modules: under pytest-xdist the modules
#: naming one of them are one unit of work, so one process runs them all and the fixture
#: is made once.
SHARED_FIXTURES = ("bundled_run", "report_run")
#: Units of work handed out first, longest first (measured in CI, decisions Z3), so the
#: two processes do not wait at the end for a long one started last.
LONGEST_FIRST = ("bundled_run", "tests/test_small_trials.py", "report_run",
                 "tests/test_foreign_extract.py")


@functools.cache
def _unit_of_module(path: Path) -> str:
    """The unit of work of a test module: the first shared fixture its source names, or
    the module itself (so its module-scoped fixtures are made once)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    for name in SHARED_FIXTURES:
        if re.search(rf"\b{name}\b", text):
            return name
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def pytest_xdist_make_scheduler(config, log):
    """The suite's scheduler under pytest-xdist (``-n 2``, scripts/test.sh): whole modules
    (or the modules sharing a fixture) per process, the longest first. pytest 9 ignores
    xdist 3.8's ``xdist_group`` node-id suffix (``--dist loadgroup`` then spreads single
    tests), so the grouping is done here, in xdist's documented scheduler hook."""
    from xdist.scheduler import LoadScopeScheduling

    class ModulesLongestFirst(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit_of_module(ROOT / nodeid.split("::", 1)[0])

        def _assign_work_unit(self, node) -> None:
            for unit in reversed(LONGEST_FIRST):
                if unit in self.workqueue:
                    self.workqueue.move_to_end(unit, last=False)
            super()._assign_work_unit(node)

    return ModulesLongestFirst(config, log)


@pytest.fixture(scope="session")
def report_run(tmp_path_factory):
    """A results directory of the bundled trial and its rendered reports (tests/report_run.py),
    made once for the report tests of every module."""
    return make_report_run(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="session")
def bundled_run(tmp_path_factory):
    """The bundled trial through Snakemake with config/test.yaml and the default profile
    (tests/bundled_run.py), run once for the workflow and reproducibility tests."""
    return make_bundled_run(tmp_path_factory.mktemp("bundled"))
