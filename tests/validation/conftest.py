"""Fixtures of the validator's tests: a valid extract to break, and helpers to validate it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (extract_factory)

from extract_factory import valid_extract, write_extract

from outcomes.validation import validate_extract


@pytest.fixture(autouse=True)
def _debug(monkeypatch):
    # programming errors surface as tracebacks in tests instead of exit status 2
    monkeypatch.setenv("OUTCOMES_DEBUG", "1")


@pytest.fixture
def tables():
    return valid_extract()


DATA_CUT = "2024-12-31"
"""Data cut the tests validate with (as the pipeline does); every date of the factory's
valid extract lies before it."""


@pytest.fixture
def run(tmp_path):
    """run(tables, post=None, explanations=None, data_cut=DATA_CUT) -> ValidationResult."""
    counter = iter(range(10_000))

    def _run(tables, post=None, explanations=None, **kw):
        kw.setdefault("data_cut", DATA_CUT)
        d = write_extract(tables, tmp_path / f"extract{next(counter)}")
        if post is not None:
            post(d)
        expl = None
        if explanations is not None:
            expl = d / "explanations.tsv"
            expl.write_text(explanations, encoding="utf-8")
        return validate_extract(d, explanations=expl, **kw)

    return _run
