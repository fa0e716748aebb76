"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest
from report_run import make_report_run


@pytest.fixture(scope="session")
def report_run(tmp_path_factory):
    """A results directory of the bundled trial and its rendered reports (tests/report_run.py),
    made once for the report tests of every module."""
    return make_report_run(tmp_path_factory.mktemp("report"))
