"""SAS transport (XPT v5) files and define.xml (docs/adam.md, "Submission files")."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from define_xsd import define_errors
from lxml import etree

from outcomes.adam import derive_all, write_adam
from outcomes.adam._inputs import DerivationError
from outcomes.adam.define import DEF, ODM, XLINK
from outcomes.adam.io import in_file_order, read_adam, transport_from_dir
from outcomes.adam.models import columns, dataset_label, labels
from outcomes.adam.xpt import _STAMP, XPT_DATASETS, write_xpt, xpt_frame
from outcomes.cli import main
from outcomes.plan import AnalysisPlan, write_plan
from tests.test_adam_io import extract

PLAN = AnalysisPlan(data_cut=dt.date(2025, 6, 30), study_id="PEER-01")
NS = {"odm": ODM, "def": DEF, "xlink": XLINK}


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    out = tmp_path_factory.mktemp("derived")
    write_adam(derive_all(extract(), PLAN), out)
    written = transport_from_dir(out, PLAN)
    return out, written


def test_xpt_files_read_back_with_values_labels_and_names(submission):
    out, written = submission
    assert [p.name for p in written] == ["adsl.xpt", "adqs.xpt", "adtte.xpt", "define.xml"]
    derived = read_adam(out)
    for name in XPT_DATASETS:
        back, meta = pyreadstat.read_xport(out / f"{name}.xpt")
        assert meta.table_name == name.upper()
        assert meta.file_label == dataset_label(name)
        assert meta.column_names == columns(name)
        assert meta.column_names_to_labels == labels(name)
        assert all(len(c) <= 8 for c in meta.column_names)
        frame = in_file_order(name, derived[name])
        assert len(back) == len(frame)
        for col in frame.columns:
            want, got = frame[col], back[col]
            if pd.api.types.is_datetime64_any_dtype(want.dtype):
                # the format as written (DATE9.); pyreadstat 1.3.7 reported it without
                # the period, 1.3.8 with it
                assert meta.original_variable_types[col] in ("DATE9", "DATE9."), col
                got = pd.to_datetime(got).astype("datetime64[s]")
                assert (want.isna() == got.isna()).all() and (want.dropna() == got.dropna()).all(), col
            elif pd.api.types.is_numeric_dtype(want.dtype):
                np.testing.assert_allclose(want.astype(float).to_numpy(na_value=np.nan),
                                           got.to_numpy(dtype=float), rtol=0, atol=0,
                                           err_msg=col)
            else:
                # SAS pads character values with blanks: "" reads back as ""
                assert want.astype(str).tolist() == got.astype(str).str.rstrip().tolist(), col
    adsl, _ = pyreadstat.read_xport(out / "adsl.xpt")
    assert set(adsl["STUDYID"]) == {"PEER-01"}
    assert set(adsl["TRT01P"]) == {"Peer support", "Usual care"}
    assert (adsl["TRT01A"] == adsl["TRT01P"]).all()
    for name in ("adqs", "adtte"):  # the actual treatment in the BDS files
        bds, _ = pyreadstat.read_xport(out / f"{name}.xpt")
        assert (bds["TRTA"] == bds["USUBJID"].map(adsl.set_index("USUBJID")["TRT01A"])).all()


def test_xpt_bytes_do_not_depend_on_the_day_they_are_written(submission, tmp_path):
    out, _ = submission
    adsl = read_adam(out, ["adsl"])["adsl"]
    write_xpt("adsl", adsl, tmp_path / "adsl.xpt", dt.date(2025, 6, 30))
    data = (tmp_path / "adsl.xpt").read_bytes()
    assert data == (out / "adsl.xpt").read_bytes()
    assert data.count(b"30JUN25:00:00:00") == 4  # library and member headers: created, modified


def test_xpt_written_in_chunks_is_pyreadstat_s_file_of_the_whole_dataset(submission, tmp_path):
    out, _ = submission
    adtte = read_adam(out, ["adtte"])["adtte"]
    write_xpt("adtte", adtte, tmp_path / "chunks.xpt", None, chunk_rows=7)  # 120 rows
    data, formats = xpt_frame("adtte", adtte)
    pyreadstat.write_xport(data, str(tmp_path / "whole.xpt"), file_label=dataset_label("adtte"),
                           column_labels=list(labels("adtte").values()), table_name="ADTTE",
                           file_format_version=5, variable_format=formats)
    whole = _STAMP.sub(b"01JAN60:00:00:00", (tmp_path / "whole.xpt").read_bytes(), count=4)
    assert (tmp_path / "chunks.xpt").read_bytes() == whole
    # and the command's file (one chunk from the Parquet file) too
    assert (out / "adtte.xpt").read_bytes() == _STAMP.sub(b"30JUN25:00:00:00", whole, count=4)
    empty = adtte.iloc[:0]
    write_xpt("adtte", empty, tmp_path / "empty.xpt", None)
    assert len(pyreadstat.read_xport(tmp_path / "empty.xpt")[0]) == 0


def test_xpt_refuses_what_version_5_cannot_hold(submission, tmp_path):
    out, _ = submission
    adsl = read_adam(out, ["adsl"])["adsl"]
    bad = adsl.assign(SEX=adsl["SEX"].where(adsl.index > 0, "x" * 201))
    with pytest.raises(DerivationError, match="SEX has values longer than 200 bytes"):
        write_xpt("adsl", bad, tmp_path / "bad.xpt", None)
    bad = adsl.assign(DIAGGR=adsl["DIAGGR"].where(adsl.index > 0, "psychose\u0301"))
    with pytest.raises(DerivationError, match="DIAGGR has a value that is not ASCII"):
        write_xpt("adsl", bad, tmp_path / "bad.xpt", None)
    assert not (tmp_path / "bad.xpt").exists()


def test_define_xml_describes_every_xpt_variable(submission):
    out, _ = submission
    root = ET.parse(out / "define.xml").getroot()  # well-formed
    assert root.tag == f"{{{ODM}}}ODM"
    for attr in ("FileType", "FileOID", "ODMVersion", "CreationDateTime"):
        assert root.get(attr), attr
    assert root.get("ODMVersion") == "1.3.2"
    mdv = root.find("odm:Study/odm:MetaDataVersion", NS)
    assert mdv.get(f"{{{DEF}}}DefineVersion") == "2.1.0"
    assert root.find("odm:Study", NS).get("OID") == "STUDY.PEER-01"
    item_defs = {i.get("OID"): i for i in mdv.findall("odm:ItemDef", NS)}
    code_lists = {c.get("OID"): c for c in mdv.findall("odm:CodeList", NS)}
    methods = {m.get("OID") for m in mdv.findall("odm:MethodDef", NS)}
    groups = mdv.findall("odm:ItemGroupDef", NS)
    assert [g.get("Name") for g in groups] == ["ADSL", "ADQS", "ADTTE"]
    for group in groups:
        name = group.get("Name").lower()
        for attr in ("OID", "Name", "Repeating", "IsReferenceData", "SASDatasetName",
                     "Purpose", f"{{{DEF}}}Structure", f"{{{DEF}}}ArchiveLocationID"):
            assert group.get(attr), (name, attr)
        assert group.find("odm:Description/odm:TranslatedText", NS).text == dataset_label(name)
        assert group.find("def:Class", NS).get("Name")
        leaf = group.find("def:leaf", NS)
        assert leaf.get("ID") == group.get(f"{{{DEF}}}ArchiveLocationID")
        assert (out / leaf.get(f"{{{XLINK}}}href")).is_file()
        _, meta = pyreadstat.read_xport(out / leaf.get(f"{{{XLINK}}}href"), metadataonly=True)
        refs = group.findall("odm:ItemRef", NS)
        names = []
        for ref in refs:
            item = item_defs[ref.get("ItemOID")]  # every ItemRef has its ItemDef
            names.append(item.get("Name"))
            for attr in ("OID", "Name", "DataType", "Length"):
                assert item.get(attr), (item.get("OID"), attr)
            assert item.get("DataType") in {"text", "integer", "float"}
            if item.get("DataType") == "float":
                assert item.get("SignificantDigits")
            label = item.find("odm:Description/odm:TranslatedText", NS).text
            assert label == meta.column_names_to_labels[item.get("Name")]
            origin = item.find("def:Origin", NS)
            assert origin.get("Type") in {"Derived", "Assigned", "Predecessor"}
            if origin.get("Type") == "Derived":
                assert ref.get("MethodOID") in methods
            if origin.get("Type") == "Predecessor":
                assert origin.find("odm:Description/odm:TranslatedText", NS).text
            cl = item.find("odm:CodeListRef", NS)
            if cl is not None:
                assert cl.get("CodeListOID") in code_lists
            if item.get("DataType") == "text":  # Length = the longest value, in bytes
                assert int(item.get("Length")) == max(
                    1, meta.variable_storage_width[item.get("Name")])
        assert names == meta.column_names  # every XPT variable, in order
    # coded values: flags, treatment and the parameters with their decodes
    assert item_defs["IT.ADSL.ITTFL"].find("odm:CodeListRef", NS).get("CodeListOID") == "CL.NY"
    params = code_lists["CL.ADTTE.PARAMCD"]
    assert [i.get("CodedValue") for i in params.findall("odm:CodeListItem", NS)] == [
        "DEATH", "READMDET", "READMIT"]
    # the BDS treatment variables come from ADSL's
    for ds in ("ADQS", "ADTTE"):
        for var, pred in (("TRTP", "ADSL.TRT01P"), ("TRTA", "ADSL.TRT01A")):
            origin = item_defs[f"IT.{ds}.{var}"].find("def:Origin", NS)
            assert origin.get("Type") == "Predecessor", (ds, var)
            assert origin.find("odm:Description/odm:TranslatedText", NS).text == pred
    assert {i.get("CodedValue") for i in code_lists["CL.TRTA"].findall("odm:EnumeratedItem", NS)
            } == {"Peer support", "Usual care"}
    trt = code_lists["CL.TRT01PN"].findall("odm:CodeListItem", NS)
    assert [(i.get("CodedValue"), i.find("odm:Decode/odm:TranslatedText", NS).text)
            for i in trt] == [("0", "Usual care"), ("1", "Peer support")]


def test_define_xml_is_valid_against_the_define_xml_2_1_schema(submission):
    out, _ = submission
    assert define_errors(etree.parse(out / "define.xml")) == []


def _broken(path, change) -> list[str]:
    """The schema's errors of a copy of the define.xml at ``path`` changed by ``change``
    (called with the root and the namespace map)."""
    doc = etree.parse(path)
    change(doc.getroot(), NS)
    return define_errors(doc)


def test_define_xml_schema_catches_what_define_xml_2_1_forbids(submission):
    out, _ = submission
    path = out / "define.xml"

    def no_item_oid(root, ns):
        del root.find(".//odm:ItemRef", ns).attrib["ItemOID"]

    def class_first(root, ns):  # def:Class comes after the ItemRefs, not first
        group = root.find(".//odm:ItemGroupDef", ns)
        group.insert(0, group.find("def:Class", ns))

    def no_structure(root, ns):
        del root.find(".//odm:ItemGroupDef", ns).attrib[f"{{{DEF}}}Structure"]

    def unknown_origin(root, ns):
        root.find(".//def:Origin", ns).set("Type", "Copied")

    def leaf_without_href(root, ns):
        del root.find(".//def:leaf", ns).attrib[f"{{{XLINK}}}href"]

    assert any("'ItemOID' is required but missing" in e for e in _broken(path, no_item_oid))
    assert any("Description': This element is not expected" in e
               for e in _broken(path, class_first))
    assert any("Structure' is required but missing" in e for e in _broken(path, no_structure))
    assert any("'Copied' is not an element of the set" in e
               for e in _broken(path, unknown_origin))
    assert any("href' is required but missing" in e for e in _broken(path, leaf_without_href))


def test_transport_command(submission, tmp_path, capsys):
    out, _ = submission
    plan = tmp_path / "plan.json"
    write_plan({"data_cut": "2025-06-30", "study_id": "PEER-01"}, plan)
    assert main(["transport", "--derived", str(out), "--plan", str(plan),
                 "--out", str(tmp_path / "sub")]) == 0
    for name in ("adsl.xpt", "adqs.xpt", "adtte.xpt", "define.xml"):
        assert (tmp_path / "sub" / name).read_bytes() == (out / name).read_bytes(), name
    assert "transport: wrote" in capsys.readouterr().out
    assert main(["transport", "--derived", str(tmp_path / "none"), "--plan", str(plan)]) == 2
    assert "run outcomes derive first" in capsys.readouterr().err
    # files of another version (a variable more or less): a one-line error, exit 2
    old = tmp_path / "old"
    old.mkdir()
    frames = read_adam(out)
    frames["adtte"] = frames["adtte"].drop(columns="TRTA")  # written before session 11
    for name, frame in frames.items():
        frame.to_parquet(old / f"{name}.parquet")
    assert main(["transport", "--derived", str(old), "--plan", str(plan)]) == 2
    err = capsys.readouterr().err
    assert "adtte.parquet: its variables are not those of ADTTE (differ at ['TRTA']" in err
    assert "Traceback" not in err and not (old / "adsl.xpt").exists()
