"""The imputation's fast paths (issue 17) give what the plain computations give, to the bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from outcomes.imputation.frame import ImputationFrameError, _readmitted_before
from outcomes.imputation.mice import COLUMNWISE_ROWS, _gather


@pytest.mark.parametrize("n", [1500, COLUMNWISE_ROWS])
@pytest.mark.parametrize("n_rows, n_cols", [(0, 3), (7, 0), (1, 1), (250, 5), (1000, 12)])
def test_gather_is_the_column_stack_of_the_rows_and_columns(n, n_rows, n_cols):
    """_gather gives [1, w[rows][:, cols]] to the bit, C-ordered as np.column_stack (so
    every product of it takes the same BLAS path), NaN and -0.0 included, for a small
    group and for a large one (taken column by column)."""
    rng = np.random.default_rng(n_rows + n_cols)
    z = rng.normal(size=(n, 15))
    z[rng.random(z.shape) < 0.05] = np.nan
    z[0, :] = -0.0
    w = np.asfortranarray(z)
    rows = np.sort(rng.choice(n, n_rows, replace=False))
    rows[:1] = 0
    cols = np.sort(rng.choice(15, n_cols, replace=False))
    got = _gather(w, rows, cols)
    ref = np.column_stack([np.ones(n_rows), z[rows][:, cols]])
    assert got.flags.c_contiguous and got.shape == ref.shape
    assert np.array_equal(got.view(np.int64), ref.view(np.int64))


def test_readmission_before_a_visit_and_the_participant_without_a_record():
    """READM_<visit> is 1 for a readmission (CNSR 0) before the visit's nominal day, in the
    order of the participants asked for; the first participant (sorted) without a READMIT
    record is named."""
    adtte = pd.DataFrame({"USUBJID": ["B", "A", "C", "A"],
                          "PARAMCD": ["READMIT", "READMIT", "READMIT", "DEATH"],
                          "CNSR": [0, 0, 1, 0], "AVAL": [100.0, 200.0, 50.0, 10.0]})
    ids = pd.Series(["A", "B", "C"], dtype="string[pyarrow]")
    assert _readmitted_before(adtte, ids, "month_4").tolist() == [0.0, 1.0, 0.0]
    assert _readmitted_before(adtte, ids, "month_12").tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ImputationFrameError, match="no READMIT record for participant D$"):
        _readmitted_before(adtte, pd.Series(["Z", "A", "D", "E"]).iloc[1:], "month_4")
