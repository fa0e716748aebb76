"""Fixtures shared by several test modules, and how the suite is spread over processes."""

from __future__ import annotations

import pytest
from report_run import make_report_run

#: The test modules that share the session-scoped ``report_run`` fixture: one process
#: runs them all, so the bundled trial's results are made once.
REPORT_RUN_GROUP = "report_run"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``-n 2 --dist loadgroup``, scripts/test.sh) every module is one
    group, so its module-scoped fixtures (a pipeline run, an R session) are made once;
    the modules using ``report_run`` share one group. Without xdist the mark is inert."""
    def module(item) -> str:
        return item.nodeid.split("::", 1)[0]

    shared = {module(i) for i in items if "report_run" in getattr(i, "fixturenames", ())}
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            group = REPORT_RUN_GROUP if module(item) in shared else module(item)
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def report_run(tmp_path_factory):
    """A results directory of the bundled trial and its rendered reports (tests/report_run.py),
    made once for the report tests of every module."""
    return make_report_run(tmp_path_factory.mktemp("report"))
