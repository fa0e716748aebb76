"""A valid extract passes: exit 0, no findings, every row used, typed clean tables."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq

from outcomes.validation import read_clean
from outcomes.validation.engine import ACCOUNTING_COLUMNS, DETAIL_COLUMNS, SUMMARY_COLUMNS


def test_valid_extract_has_no_findings(tables, run):
    r = run(tables)
    assert r.exit_code == 0
    assert r.findings.empty
    assert list(r.findings.columns) == list(DETAIL_COLUMNS)
    acc = r.row_accounting.set_index("table")
    for name, df in tables.items():
        assert acc.loc[name, "rows_in"] == len(df) == acc.loc[name, "rows_used"]
        assert acc.loc[name, "rows_quarantined"] == 0


def test_clean_types(tables, run, tmp_path):
    r = run(tables)
    out = tmp_path / "out"
    r.write(out)
    part = pq.read_table(out / "clean" / "participants.parquet").schema
    assert str(part.field("randomisation_date").type) == "date32[day]"
    assert str(part.field("age").type) == "int64"
    assert str(part.field("arm").type) == "string"
    assert str(part.field("source_row").type) == "int64"
    q = pq.read_table(out / "clean" / "questionnaires.parquet").schema
    assert str(q.field("wemwbs_01").type) == "int64"
    df = read_clean(out, "participants")
    assert str(df["randomisation_date"].dtype) == "datetime64[s]"
    assert str(df["age"].dtype) == "Int64"
    assert df["source_row"].tolist() == list(range(2, 2 + len(tables["participants"])))
    adm = read_clean(out, "admissions")
    assert adm["discharge_date"].isna().sum() == 1  # the admission still open
    mem = r.clean["participants"]
    assert str(mem["death_date"].dtype) == "datetime64[s]"
    assert str(mem["prior_admissions"].dtype) == "Int64"
    assert pd.api.types.is_string_dtype(mem["sex"])


def test_outputs_written(tables, run, tmp_path):
    r = run(tables)
    out = tmp_path / "out"
    r.write(out)
    for name in ("issues_detail.tsv", "issues_summary.tsv", "row_accounting.tsv", "validation.html"):
        assert (out / name).is_file()
    detail = pd.read_csv(out / "issues_detail.tsv", sep="\t")
    assert list(detail.columns) == list(DETAIL_COLUMNS)
    summary = pd.read_csv(out / "issues_summary.tsv", sep="\t")
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    acc = pd.read_csv(out / "row_accounting.tsv", sep="\t")
    assert list(acc.columns) == list(ACCOUNTING_COLUMNS)
    for t in tables:
        q = pd.read_csv(out / "quarantine" / f"{t}.csv", dtype=str)
        assert q.empty
        assert list(q.columns)[-2:] == ["source_row", "rule_ids"]
