"""Property: every corrupted cell of a valid extract is reported, and no row is lost."""

from __future__ import annotations

import tempfile
from pathlib import Path

from extract_factory import item_codes, valid_extract, write_extract
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outcomes.validation import validate_extract

BAD_DATES = ["31/02/2024", "2024-02-31", "2024-13-01", "2024-1-5", "yesterday", "20240101", "2024-02-30"]
ITEMS = list(item_codes())

BAD: dict[str, dict[str, list[str]]] = {
    "participants": {
        "participant_id": [""],
        "site": [""],
        "arm": ["", "control", "PEER_SUPPORT"],
        "randomisation_date": [*BAD_DATES, ""],
        "index_discharge_date": [*BAD_DATES, ""],
        "age": ["", "15", "101", "-3", "abc", "30.5"],
        "sex": ["", "f", "unknown"],
        "diagnosis_group": ["", "schizophrenia"],
        "prior_admissions": ["", "-1", "1.5", "many"],
        "detained_at_index": ["", "yes", "1", "True"],
        "withdrawal_date": BAD_DATES,
        "death_date": BAD_DATES,
    },
    "questionnaires": {
        "participant_id": ["", "P999"],
        "visit": ["", "month_6", "Baseline"],
        "completion_date": BAD_DATES,
        "*item": ["x", "2.5", "99", "-7", "3,0"],
    },
    "admissions": {
        "participant_id": ["", "P999"],
        "admission_id": [""],
        "admission_date": [*BAD_DATES, ""],
        "discharge_date": BAD_DATES,
        "legal_status": ["", "section_3"],
    },
    "peer_contacts": {
        "participant_id": ["", "P999"],
        "contact_date": [*BAD_DATES, ""],
        "peer_worker_id": [""],
        "duration_minutes": ["", "0", "601", "ten", "-5"],
        "mode": ["", "fax"],
    },
}

BASE = valid_extract()


@st.composite
def corruption(draw):
    table = draw(st.sampled_from(sorted(BAD)))
    row = draw(st.integers(0, len(BASE[table]) - 1))
    column = draw(st.sampled_from(sorted(BAD[table])))
    values = BAD[table][column]
    if column == "*item":
        column = draw(st.sampled_from(ITEMS))
    return table, row, column, draw(st.sampled_from(values))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(corruption(), min_size=1, max_size=8))
def test_every_corrupted_cell_is_reported(corruptions):
    tables = {k: v.copy() for k, v in BASE.items()}
    cells = {}
    for table, row, column, value in corruptions:
        tables[table].loc[row, column] = value
        cells[(table, row + 2, column)] = value
    with tempfile.TemporaryDirectory() as tmp:
        d = write_extract(tables, Path(tmp) / "x")
        r = validate_extract(d)
    f = r.findings
    reported = set(zip(f["table"], f["row"].astype(int), f["column"], strict=True))
    missing = [c for c in cells if c not in reported]
    assert not missing, f"not reported: {missing}\n{f.to_string()}"
    acc = r.row_accounting
    assert (acc["rows_in"] == acc["rows_used"] + acc["rows_quarantined"]).all()
    for table, df in tables.items():
        assert acc.set_index("table").loc[table, "rows_in"] == len(df)
    assert r.exit_code in (0, 1)
