"""The admed files (issue 18 point 5): every column of ``admed.parquet`` and
``admed_imputed.parquet`` has a name of at most 8 characters and a label in its Parquet
field metadata, as the ADaM datasets have; the mediation code gets its in-memory names
back (outcomes.mediation.admedvars, docs/change-model.md)."""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from outcomes.adam import derive_all
from outcomes.adam.io import read_adam
from outcomes.labels import param_label
from outcomes.mediation.admed import (
    mediation_data,
    read_completed_mediation,
    read_mediation_data,
    write_mediation_data,
)
from outcomes.mediation.admedvars import AdmedNameError, file_names, memory_names, rename_texts
from outcomes.plan import AnalysisPlan
from outcomes.validation.engine import validate_extract

SAS_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,7}")


def _checked(path) -> pa.Schema:
    """The schema of ``path``, after checking every name and label."""
    schema = pq.read_schema(path)
    assert schema.metadata[b"label"].decode().startswith("Change-Model Analysis Dataset")
    for f in schema:
        assert SAS_NAME.fullmatch(f.name), f"{path.name}: {f.name} is not a name of 8 characters"
        label = (f.metadata or {}).get(b"label", b"").decode()
        assert 0 < len(label) <= 40 and label != f.name, f"{path.name}: {f.name} label {label!r}"
    return schema


def test_every_column_of_both_admed_files_has_8_characters_and_a_label(bundled_run):
    """The files of the pipeline's mediation_data rule (Snakemake, config/test.yaml: MI)."""
    assert bundled_run.process.returncode == 0, bundled_run.process.stderr[-2000:]
    res = bundled_run.work / "results"
    admed, imputed = res / "derived" / "admed.parquet", res / "derived" / "admed_imputed.parquet"
    one, sets = _checked(admed), _checked(imputed)
    assert sets.names == ["IMPNUM", *one.names]
    meta = {f.name: {k.decode(): v.decode() for k, v in f.metadata.items()} for f in one}
    assert meta["WEMWBS12"]["label"] == "WEMWBS total score, month 12"
    scores = [n for n in one.names if "paramcd" in meta[n]]
    assert {n[:2] for n in scores} == {"MV", "BL"} and len(scores) > 20
    for n in scores:  # the code list: each score's PARAMCD and visit, in words in the label
        m = meta[n]
        assert m["avisit"] == ("baseline" if n.startswith("BL") else "month_4")
        assert m["label"] == f"{param_label(m['paramcd'])}, {m['avisit'].replace('_', ' ')}"
        twin = ("BL" if n.startswith("MV") else "MV") + n[2:]
        assert twin not in meta or meta[twin]["paramcd"] == m["paramcd"]
    # read back: the analysis data set of the derived datasets, under its in-memory names
    plan = AnalysisPlan.load(res / "plan.json")
    d = read_adam(res / "derived", ("adsl", "adqs", "adtte"))
    data = read_mediation_data(admed)
    pd.testing.assert_frame_equal(data, mediation_data(d["adsl"], d["adqs"], d["adtte"], plan),
                                  check_exact=True)
    assert {"WEMWBS_M12", "HHI_M", "HHI_BL", "TTE_READMIT", "READM_PRE_M"} <= set(data.columns)
    completed = read_completed_mediation(imputed)
    assert len(completed) == plan.missing_data.m
    assert list(completed[0].columns) == list(data.columns)


def test_paramcds_of_8_characters_get_distinct_names_and_labels():
    """LSNS6FAM and LSNS6FRI share their first 6 characters: numbered names cannot
    collide, whatever the PARAMCDs; the label says which score and visit."""
    cols = ["USUBJID", "TRTA01", "LSNS6FAM_M", "LSNS6FRI_M", "LSNS6FAM_BL", "LSNS6FRI_BL",
            "LSNS6_BL", "WEMWBS_M12", ".imp", "NOT_IMPUTED"]
    names, labels, extra = file_names(cols, "month_4")
    assert names == {"USUBJID": "USUBJID", "TRTA01": "TRTA01", "LSNS6FAM_M": "MV02",
                     "LSNS6FRI_M": "MV03", "LSNS6FAM_BL": "BL02", "LSNS6FRI_BL": "BL03",
                     "LSNS6_BL": "BL01", "WEMWBS_M12": "WEMWBS12", ".imp": "IMPNUM",
                     "NOT_IMPUTED": "NOTIMP"}
    assert labels["MV02"] == "LSNS-6 family subscale, month 4"
    assert labels["BL03"] == "LSNS-6 friends subscale, baseline"
    assert labels["USUBJID"] == "Unique Subject Identifier"  # an ADSL variable: ADSL's label
    assert extra["MV03"] == {"paramcd": "LSNS6FRI", "avisit": "month_4"}
    many = [f"P{k:07d}_M" for k in range(120)]  # 8-character codes, more than 99 of them
    names = file_names(many, "month_4")[0]
    assert len(set(names.values())) == 120 and max(map(len, names.values())) == 5
    assert names["P0000000_M"] == "MV001" and names["P0000119_M"] == "MV120"


def test_a_column_without_a_name_in_the_files_is_a_clear_error():
    with pytest.raises(AdmedNameError, match="column 'SCORE_M12' has no name and label"):
        file_names(["USUBJID", "SCORE_M12"], "month_4")


def test_not_imputed_texts_name_the_files_columns_on_disk():
    names = {"GSE_M": "MV01", "WEMWBS_M12": "WEMWBS12"}
    texts = ["", "GSE_M: after death", "GSE_M: no donor; WEMWBS_M12: after the data cut"]
    on_disk = rename_texts(texts, names)
    assert on_disk == ["", "MV01: after death", "MV01: no donor; WEMWBS12: after the data cut"]
    assert rename_texts(on_disk, {v: k for k, v in names.items()}) == texts


def test_admed_parquet_round_trip_and_a_reader_without_outcomes(tmp_path):
    """write_mediation_data / read_mediation_data give the frame back exactly; plain
    pandas reads the file with its own names (pandas' metadata follows the renaming)."""
    plan = AnalysisPlan.from_config({"mediation": {"n_boot": 50}})
    ds = derive_all(validate_extract("synthetic_data").clean, plan)
    data = mediation_data(ds["adsl"], ds["adqs"], ds["adtte"], plan)
    write_mediation_data(data, plan, tmp_path / "admed.parquet")
    pd.testing.assert_frame_equal(read_mediation_data(tmp_path / "admed.parquet"), data,
                                  check_exact=True)
    plain = pd.read_parquet(tmp_path / "admed.parquet")
    schema = pq.read_schema(tmp_path / "admed.parquet")
    assert list(plain.columns) == schema.names and max(map(len, schema.names)) <= 8
    assert memory_names(schema) == list(data.columns)
    pd.testing.assert_series_equal(plain["WEMWBS12"], data["WEMWBS_M12"], check_names=False)


def test_the_mapping_knows_every_column_mediation_data_makes():
    """The literals of admedvars are the constants of the modules that make the columns
    (admedvars does not import them: the jobs would pay for the imputation code)."""
    from outcomes.imputation.gaps import NOT_IMPUTED
    from outcomes.imputation.run import IMP
    from outcomes.mediation.admed import CONFOUNDERS, EXPOSURE
    from outcomes.mediation.admedvars import LABELS, RENAMED
    from outcomes.mediation.landmark import COLUMNS

    assert RENAMED[IMP] == "IMPNUM" and RENAMED[NOT_IMPUTED] == "NOTIMP"
    assert {IMP, NOT_IMPUTED, EXPOSURE, *CONFOUNDERS.values(), *COLUMNS} <= set(LABELS)
    assert set(RENAMED) - {"WEMWBS_M12"} <= set(LABELS)
