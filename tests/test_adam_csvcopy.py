"""The fast CSV copies are byte for byte what ``DataFrame.to_csv`` writes (issue 17)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from outcomes.adam import csvcopy
from outcomes.adam.csvcopy import write_csv


def _to_csv(frame: pd.DataFrame, path) -> bytes:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d", lineterminator="\n",
                 encoding="utf-8")
    return path.read_bytes()


def awkward(n: int = 40) -> pd.DataFrame:
    """Every dtype of the ADaM datasets, with the values that need quoting or care."""
    text = ["plain", "", "a,b", 'say "hi"', "two\nlines", "cr\rhere", " lead", "trail ",
            "é ünïcode", "x" * 50, "'single'", "semi;colon", "tab\there", '"', ","]
    floats = [0.0, -0.0, 1.0, 0.5, 1e-05, 1e16, 12.333333333333334, -3.25, np.nan,
              np.inf, -np.inf, 0.1 + 0.2, 123456789.125, 5e-324]
    rng = np.random.default_rng(3)
    dates = pd.to_datetime(["2024-03-01", "1999-12-31", None, "2025-02-28"]).astype(
        "datetime64[s]")
    return pd.DataFrame({
        "TXT": pd.Series([text[i % len(text)] for i in range(n)], dtype="str"),
        "TXTNA": pd.Series([None if i % 3 == 0 else text[i % 5] for i in range(n)],
                           dtype="str"),
        "INT": rng.integers(-5, 10**12, n),
        "NINT": pd.array([None if i % 4 == 0 else i - 20 for i in range(n)], dtype="Int64"),
        "FLT": [floats[i % len(floats)] for i in range(n)],
        "DT": [dates[i % len(dates)] for i in range(n)],
        "FL": [bool(i % 2) for i in range(n)],
        "with,comma": np.arange(n, dtype=float) / 8,
    })


@pytest.mark.parametrize("block", [7, csvcopy.BLOCK_ROWS])
def test_same_bytes_as_to_csv_on_awkward_values(tmp_path, monkeypatch, block):
    monkeypatch.setattr(csvcopy, "BLOCK_ROWS", block)
    frame = awkward()
    assert str(frame["DT"].dtype) == "datetime64[s]"
    write_csv(frame, tmp_path / "fast.csv")
    assert (tmp_path / "fast.csv").read_bytes() == _to_csv(frame, tmp_path / "pandas.csv")


def test_a_single_column_and_an_empty_frame(tmp_path):
    for frame in (pd.DataFrame({"A": pd.Series(["", "x", None], dtype="str")}),
                  awkward().iloc[:0], pd.DataFrame({"A": [np.nan, 1.5]})):
        write_csv(frame, tmp_path / "fast.csv")
        assert (tmp_path / "fast.csv").read_bytes() == _to_csv(frame, tmp_path / "p.csv")


def test_another_dtype_falls_back_to_to_csv(tmp_path):
    frame = pd.DataFrame({"A": [1, 2], "OBJ": [("t", 1), {"k": "v, w"}]})
    write_csv(frame, tmp_path / "fast.csv")
    assert (tmp_path / "fast.csv").read_bytes() == _to_csv(frame, tmp_path / "p.csv")
