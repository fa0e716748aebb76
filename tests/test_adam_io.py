"""Writing the ADaM datasets: byte-identical Parquet, CSV copies, the ``derive`` command."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from outcomes.adam import DATASETS, derive_all, read_adam, write_adam
from outcomes.adam.models import dataset_label, labels
from outcomes.cli import main
from outcomes.plan import AnalysisPlan, write_plan

PLAN = AnalysisPlan(data_cut=dt.date(2025, 6, 30))


def extract(n: int = 40, seed: int = 7) -> dict[str, pd.DataFrame]:
    """A small random extract in the contract's format (dates as ISO strings)."""
    rng = np.random.default_rng(seed)
    index = pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    pids = [f"P{i:03d}" for i in range(n)]
    iso = lambda ts: ts.strftime("%Y-%m-%d")  # noqa: E731
    participants = pd.DataFrame(
        {
            "participant_id": pids,
            "site": rng.choice(["S1", "S2", "S3"], n),
            "arm": rng.choice(["peer_support", "usual_care"], n),
            "randomisation_date": [iso(t - pd.Timedelta(days=20)) for t in index],
            "index_discharge_date": [iso(t) for t in index],
            "age": rng.integers(18, 80, n),
            "sex": rng.choice(["female", "male"], n),
            "diagnosis_group": rng.choice(["psychosis", "bipolar"], n),
            "prior_admissions": rng.integers(0, 5, n),
            "detained_at_index": rng.choice(["true", "false"], n),
            "withdrawal_date": [
                iso(t + pd.Timedelta(days=90)) if i % 9 == 0 else "" for i, t in enumerate(index)
            ],
            "death_date": [
                iso(t + pd.Timedelta(days=120)) if i % 13 == 0 else "" for i, t in enumerate(index)
            ],
        }
    )
    adm = []
    for i, (pid, t) in enumerate(zip(pids, index, strict=True)):
        adm.append((pid, f"{pid}-0", iso(t - pd.Timedelta(days=15)), iso(t), "detained"))
        for k in range(int(rng.integers(0, 3))):
            start = t + pd.Timedelta(days=int(rng.integers(0, 300)))
            stop = (
                ""
                if (i + k) % 11 == 0
                else iso(start + pd.Timedelta(days=int(rng.integers(0, 30))))
            )
            adm.append(
                (pid, f"{pid}-{k + 1}", iso(start), stop, rng.choice(["informal", "detained"]))
            )
    admissions = pd.DataFrame(
        adm,
        columns=[
            "participant_id",
            "admission_id",
            "admission_date",
            "discharge_date",
            "legal_status",
        ],
    )
    contacts = pd.DataFrame(
        {
            "participant_id": rng.choice(pids, 3 * n),
            "contact_date": [
                iso(index[0] + pd.Timedelta(days=int(d))) for d in rng.integers(0, 100, 3 * n)
            ],
            "peer_worker_id": rng.choice(["W1", "W2", "W3"], 3 * n),
            "duration_minutes": rng.integers(1, 120, 3 * n),
            "mode": "telephone",
        }
    )
    q_rows = []
    for pid, t in zip(pids, index, strict=True):
        for visit, days in (("baseline", -5), ("month_4", 120), ("month_12", 365)):
            if rng.random() < 0.2:
                continue
            row = {
                "participant_id": pid,
                "visit": visit,
                "completion_date": iso(t + pd.Timedelta(days=days)),
            }
            gse = rng.integers(1, 5, 10).astype(float)
            gse[rng.random(10) < 0.1] = np.nan
            row |= {f"gse_{i:02d}": v for i, v in enumerate(gse, start=1)}
            row |= {
                f"wemwbs_{i:02d}": int(v) for i, v in enumerate(rng.integers(1, 6, 14), start=1)
            }
            q_rows.append(row)
    questionnaires = pd.DataFrame(q_rows)
    for col in questionnaires.columns[3:]:
        questionnaires[col] = pd.array(questionnaires[col], dtype="Int64")
    return {
        "participants": participants,
        "questionnaires": questionnaires,
        "admissions": admissions,
        "peer_contacts": contacts,
    }


def _bytes(directory) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_same_input_gives_byte_identical_files_whatever_the_row_order(tmp_path):
    tables = extract()
    write_adam(derive_all(tables, PLAN), tmp_path / "a")
    write_adam(derive_all(tables, PLAN), tmp_path / "b")
    shuffled = {k: v.sample(frac=1.0, random_state=3) for k, v in tables.items()}
    write_adam(derive_all(shuffled, PLAN), tmp_path / "c")
    a, b, c = _bytes(tmp_path / "a"), _bytes(tmp_path / "b"), _bytes(tmp_path / "c")
    assert sorted(a) == sorted(f"{d}.{ext}" for d in DATASETS for ext in ("csv", "parquet"))
    assert a == b
    assert a == c


def test_parquet_types_and_round_trip(tmp_path):
    datasets = derive_all(extract(), PLAN)
    write_adam(datasets, tmp_path)
    schema = pq.read_schema(tmp_path / "adtte.parquet")
    assert schema.field("STARTDT").type == pa.date32()
    assert schema.field("AVAL").type == pa.int64()
    assert schema.field("PARAMCD").type == pa.string()
    back = read_adam(tmp_path)
    for name in DATASETS:
        pd.testing.assert_frame_equal(back[name], datasets[name], check_dtype=False)
    some = read_adam(tmp_path, ("adtte", "adsl"))  # a stage reads only what it uses
    assert list(some) == ["adtte", "adsl"]
    pd.testing.assert_frame_equal(some["adtte"], back["adtte"])
    cols = read_adam(tmp_path, ("adtte",), {"adtte": ["USUBJID", "ADT"]})["adtte"]
    pd.testing.assert_frame_equal(cols, back["adtte"][["USUBJID", "ADT"]], check_exact=True)
    meta = pq.ParquetFile(tmp_path / "adsl.parquet").metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    csv = (tmp_path / "adtte.csv").read_text().splitlines()
    assert csv[0].startswith("STUDYID,USUBJID,SITEID,ARM,TRTP,TRTA,PARAMCD,PARAM,STARTDT,"
                             "ADT,AVAL,CNSR")
    # every variable has its label in the Parquet field metadata, the dataset in the schema's
    for name in DATASETS:
        schema = pq.read_schema(tmp_path / f"{name}.parquet")
        assert {f.name: f.metadata[b"label"].decode() for f in schema} == labels(name)
        assert schema.metadata[b"label"].decode() == dataset_label(name)
        assert all(len(f.name) <= 8 for f in schema)


def test_derive_command_reads_clean_parquet_and_writes_the_four_datasets(tmp_path, capsys):
    clean = tmp_path / "clean"
    clean.mkdir()
    for table, frame in extract().items():
        frame = frame.copy()
        frame.insert(0, "source_row", np.arange(2, len(frame) + 2))
        for col in frame.columns:
            if col.endswith("_date"):
                frame[col] = pd.to_datetime(frame[col].replace("", None)).dt.date  # date32
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False), clean / f"{table}.parquet"
        )
    plan = tmp_path / "plan.json"
    write_plan({"data_cut": "2025-06-30", "missing_items": {"wemwbs": 2}}, plan)
    out = tmp_path / "derived"
    assert main(["derive", "--clean", str(clean), "--plan", str(plan), "--out", str(out)]) == 0
    assert "adsl 40 rows" in capsys.readouterr().out
    for name in DATASETS:
        assert (out / f"{name}.parquet").is_file() and (out / f"{name}.csv").is_file()
    adsl = read_adam(out)["adsl"]
    assert (adsl["DCUTDT"] == pd.Timestamp("2025-06-30")).all()
    assert json.loads(plan.read_text())["missing_items"] == {"wemwbs": 2}


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_clean", "participants.parquet: no such file"),
        ("bad_plan", "followup_days"),
    ],
)
def test_derive_command_errors_are_one_line(tmp_path, capsys, setup, message):
    clean = tmp_path / "clean"
    clean.mkdir()
    plan = tmp_path / "plan.json"
    if setup == "bad_plan":
        for table, frame in extract(5).items():
            frame.to_parquet(clean / f"{table}.parquet")
        plan.write_text(json.dumps({"followup_days": "a year"}))
    else:
        write_plan({}, plan)
    code = main(
        ["derive", "--clean", str(clean), "--plan", str(plan), "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# --- bounded memory at scale (issue 17): blocks, row groups, frames already sorted --------


def test_large_frames_are_validated_in_blocks_with_the_same_verdicts(monkeypatch):
    from outcomes.adam import models

    ds = derive_all(extract(), PLAN)
    monkeypatch.setattr(models, "CHECK_ROWS", 150)
    assert len(models._blocks(ds["adqs"])) > 3
    for name in ("adqs", "adtte", "adre"):
        models.check(name, ds[name])

    def fails(name, frame):
        with pytest.raises(models.DerivationError, match=f"{name.upper()} fails"):
            models.check(name, frame.reset_index(drop=True))

    adqs = ds["adqs"].copy()
    block = models._blocks(adqs)[-2]  # the last block of rows (the pairs' rows come last)
    same = adqs.index.isin(block.index) & (adqs["PARAMCD"] == block["PARAMCD"].iloc[-1])
    adqs.loc[same, "PARAM"] = "another label"
    models.check("adqs", adqs.loc[same])  # consistent within the block ...
    fails("adqs", adqs)  # ... but not with the other blocks: PARAMCD/PARAM not 1:1
    adre = ds["adre"].copy()
    adre.loc[len(adre) - 1, "NREADM"] += 1
    fails("adre", adre)  # a participant's totals
    monkeypatch.setattr(models, "CHECK_ROWS", 30)
    adsl = ds["adsl"]
    models.check("adsl", adsl)
    fails("adsl", pd.concat([adsl.iloc[:30], adsl.iloc[29:]]))  # a repeated USUBJID
    models.check("adtte", ds["adtte"].sample(frac=1, random_state=1))  # unsorted: whole


def test_parquet_written_a_row_group_at_a_time_is_write_table_byte_for_byte(tmp_path,
                                                                            monkeypatch):
    from outcomes.adam import io

    monkeypatch.setattr(io, "ROW_GROUP_ROWS", 16)
    adsl = derive_all(extract(), PLAN)["adsl"]
    adsl.loc[:20, "DTHDT"] = pd.NaT  # no date in the first row group
    adsl.loc[:, "WDDT"] = pd.NaT  # nor anywhere
    io.write_parquet(adsl, tmp_path / "groups.parquet")
    pq.write_table(io._arrow_table(adsl), tmp_path / "whole.parquet", row_group_size=16,
                   compression=io.PARQUET_COMPRESSION,
                   compression_level=io.PARQUET_COMPRESSION_LEVEL, use_dictionary=True,
                   write_statistics=True)
    assert pq.ParquetFile(tmp_path / "groups.parquet").metadata.num_row_groups == 3
    assert (tmp_path / "groups.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def test_datasets_out_of_key_order_are_sorted_before_writing(tmp_path):
    ds = derive_all(extract(), PLAN)
    write_adam(ds, tmp_path / "a")
    write_adam({n: f.sample(frac=1, random_state=3) for n, f in ds.items()}, tmp_path / "b")
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
