"""A small valid raw extract (docs/data-contract.md) for tests: tables as text DataFrames, and a writer.

    from extract_factory import valid_extract, write_extract
    tables = valid_extract()                 # dict table -> DataFrame of str
    tables["participants"].loc[0, "age"] = "150"
    data_dir = write_extract(tables, tmp_path / "extract")

Line numbers: data row ``i`` (0-based) of a table is on line ``i + 2`` of its file
(:func:`line_of`). Every value is text; an empty string is an empty cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from outcomes.contract import (
    ADMISSION_COLUMNS,
    PARTICIPANT_COLUMNS,
    PEER_CONTACT_COLUMNS,
    QUESTIONNAIRE_KEY_COLUMNS,
    TABLE_FILES,
)
from outcomes.instruments import load_registry

TREATED, CONTROL = "peer_support", "usual_care"


def item_codes() -> dict[str, tuple[int, int]]:
    """Item column -> (code_min, code_max) of every instrument with columns of its own."""
    out = {}
    for inst in load_registry().values():
        if inst.has_own_columns:
            for c in inst.item_columns():
                out[c] = (inst.code_min, inst.code_max)
    return out


def _day(start: str, offset: int) -> str:
    return str(np.datetime64(start) + np.timedelta64(offset, "D"))


def valid_extract(n: int = 6) -> dict[str, pd.DataFrame]:
    """A valid extract of ``n`` (>= 4) participants, alternating arms.

    Participant 3 (index 2) withdrew on 2024-06-01 and participant 4 (index 3) died on
    2024-09-01; every other record lies before those dates. Participant 1 has an admission
    still open at the data cut.
    """
    if n < 4:
        raise ValueError("n >= 4")
    ids = [f"P{i + 1:03d}" for i in range(n)]
    arms = [TREATED if i % 2 == 0 else CONTROL for i in range(n)]
    sexes = ["female", "male", "other", "not_stated"]
    diags = ["psychosis", "bipolar", "depression_anxiety", "personality", "other"]
    part = pd.DataFrame(
        {
            "participant_id": ids,
            "site": [f"S{i % 2 + 1}" for i in range(n)],
            "arm": arms,
            "randomisation_date": [_day("2024-01-10", i % 20) for i in range(n)],
            "index_discharge_date": [_day("2024-02-01", i % 20) for i in range(n)],
            "age": [str(20 + (7 * i) % 80) for i in range(n)],
            "sex": [sexes[i % 4] for i in range(n)],
            "diagnosis_group": [diags[i % 5] for i in range(n)],
            "prior_admissions": [str(i % 3) for i in range(n)],
            "detained_at_index": ["true" if i % 2 else "false" for i in range(n)],
            "withdrawal_date": ["2024-06-01" if i == 2 else "" for i in range(n)],
            "death_date": ["2024-09-01" if i == 3 else "" for i in range(n)],
        },
        columns=list(PARTICIPANT_COLUMNS),
    )
    items = item_codes()
    q_rows = []
    for i, pid in enumerate(ids):
        for v, (visit, date) in enumerate((("baseline", _day("2024-01-10", i % 20)), ("month_4", "2024-05-20"))):
            row = {"participant_id": pid, "visit": visit, "completion_date": date}
            for k, (col, (lo, hi)) in enumerate(items.items()):
                row[col] = str(lo + (i + v + k) % (hi - lo + 1))
            q_rows.append(row)
    # a month-12 visit that was not attended: no items, no completion date
    q_rows.append({"participant_id": ids[0], "visit": "month_12", "completion_date": ""} | dict.fromkeys(items, ""))
    quest = pd.DataFrame(q_rows, columns=[*QUESTIONNAIRE_KEY_COLUMNS, *items])
    adm = pd.DataFrame(
        [
            (ids[0], "A001", "2024-03-01", "2024-03-10", "informal"),
            (ids[0], "A002", "2024-03-10", "2024-04-01", "detained"),
            (ids[0], "A003", "2024-08-01", "", "informal"),
            (ids[1], "A004", "2024-04-15", "2024-05-01", "detained"),
            (ids[3], "A005", "2024-02-01", "2024-02-20", "informal"),
        ],
        columns=list(ADMISSION_COLUMNS),
    )
    pct_rows = []
    for i, pid in enumerate(ids):
        if arms[i] != TREATED:
            continue
        for k, mode in enumerate(("face_to_face", "telephone", "group")):
            pct_rows.append((pid, _day("2024-02-10", k + i % 15), f"W{i % 2 + 1}", str(30 + 15 * k), mode))
    pct = pd.DataFrame(pct_rows, columns=list(PEER_CONTACT_COLUMNS))
    return {"participants": part, "questionnaires": quest, "admissions": adm, "peer_contacts": pct}


def line_of(index: int) -> int:
    """Line number in the file of data row ``index`` (0-based), header on line 1."""
    return index + 2


def write_extract(tables: dict[str, pd.DataFrame], directory: Path | str) -> Path:
    """Write the tables as the CSV files of an extract; returns ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for table, df in tables.items():
        df.to_csv(directory / TABLE_FILES[table], index=False, lineterminator="\n")
    return directory
