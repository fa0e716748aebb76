"""Fixtures shared by several test modules, and how the suite is spread over processes."""

from __future__ import annotations

import pytest
from bundled_run import make_bundled_run
from report_run import make_report_run

#: The session-scoped fixtures shared by several modules: the modules using one of them are
#: one xdist group, so one process runs them all and the fixture is made once.
SHARED_FIXTURES = ("report_run", "bundled_run")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``-n 2 --dist loadgroup``, scripts/test.sh) every module is one
    group, so its module-scoped fixtures (a pipeline run, an R session) are made once;
    the modules using one of the :data:`SHARED_FIXTURES` share its group. Without xdist
    the mark is inert."""
    def module(item) -> str:
        return item.nodeid.split("::", 1)[0]

    group_of = {}
    for item in items:
        for name in SHARED_FIXTURES:
            if name in getattr(item, "fixturenames", ()):
                group_of.setdefault(module(item), name)
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group_of.get(module(item), module(item))))


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
