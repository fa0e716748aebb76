"""Define-XML 2.1 of the SAS transport files (docs/adam.md, "Submission files").

One ``define.xml`` (CDISC ODM 1.3.2 with the Define-XML 2.1 extensions) describes the
datasets of :data:`outcomes.adam.xpt.XPT_DATASETS`: an ``ItemGroupDef`` per dataset (its
label, ``def:Structure``, ``def:Class``, keys and ``def:leaf`` pointing at the ``.xpt``), an
``ItemDef`` per variable (``DataType``, ``Length``, label, ``def:Origin``, a ``CodeListRef``
where the variable has coded values), the code lists and one ``MethodDef`` per derived
variable pointing at docs/adam.md. Written with :mod:`xml.etree.ElementTree`; the same data
give the same bytes (the creation time is the data cut). The tests validate the document
against CDISC's Define-XML 2.1 XSD (the schema files of the test dependency odmlib,
tests/define_xsd.py) and check the references the schema cannot (every ItemRef, CodeListRef,
MethodOID and def:leaf resolved): tests/test_adam_transport.py, tests/test_workflow.py.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from outcomes.adam.models import KEYS, columns, dataset_label, labels
from outcomes.adam.xpt import DATE_FORMAT, XPT_DATASETS
from outcomes.atomic import atomic_path
from outcomes.plan import AnalysisPlan

ODM = "http://www.cdisc.org/ns/odm/v1.3"
DEF = "http://www.cdisc.org/ns/def/v2.1"
XLINK = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("", ODM)
ET.register_namespace("def", DEF)
ET.register_namespace("xlink", XLINK)

#: (dataset, columns) -> those columns of the dataset, in file order.
Reader = Callable[[str, list[str]], pd.DataFrame]

STANDARD_OID = "STD.ADaMIG.1.3"
STRUCTURE = {
    "adsl": "One record per subject",
    "adqs": "One record per subject per parameter per analysis visit",
    "adtte": "One record per subject per parameter",
}
CLASS = {
    "adsl": ("SUBJECT LEVEL ANALYSIS DATASET", None),
    "adqs": ("BASIC DATA STRUCTURE", None),
    "adtte": ("BASIC DATA STRUCTURE", "TIME-TO-EVENT"),
}

#: Variables copied from the extract (contract table.column) or from ADSL: def:Origin
#: "Predecessor". ``STUDYID`` is "Assigned" (the plan's ``study_id``); the rest "Derived".
PREDECESSORS: dict[str, str] = {
    "USUBJID": "participants.participant_id", "SITEID": "participants.site",
    "ARM": "participants.arm", "RANDDT": "participants.randomisation_date",
    "INDEXDT": "participants.index_discharge_date", "AGE": "participants.age",
    "SEX": "participants.sex", "DIAGGR": "participants.diagnosis_group",
    "PRIORADM": "participants.prior_admissions", "WDDT": "participants.withdrawal_date",
    "DTHDT": "participants.death_date", "AVISIT": "questionnaires.visit",
    "ADT@adqs": "questionnaires.completion_date", "STARTDT": "ADSL.INDEXDT",
    "TRTP": "ADSL.TRT01P", "TRTA": "ADSL.TRT01A",
}
BDS_FROM_ADSL = ("STUDYID", "USUBJID", "SITEID", "ARM")

#: Decodes of the fixed code lists: variable -> [(coded value, decode)].
FIXED_CODES: dict[str, list[tuple[str, str]]] = {
    "NY": [("N", "No"), ("Y", "Yes")],
    "Y": [("Y", "Yes")],
    "DTYPE": [("PRORATED", "Score prorated from the answered items")],
    "CNSR": [("0", "Event"), ("1", "Censored")],
}
_FIXED_FOR = {"ITTFL": "NY", "ENGFL": "NY", "DETINDFL": "NY", "ABLFL": "Y",
              "ANL01FL": "Y", "CMPEVFL": "Y", "DTYPE": "DTYPE", "CNSR": "CNSR"}
#: Variables whose observed values form an enumerated code list (decode where known).
_ENUMERATED = ("ARM", "TRT01P", "TRT01A", "TRTP", "TRTA", "SEX", "DIAGGR", "AVISIT",
               "PARCAT1", "SRCDOM", "SRCVAR")


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    el = ET.SubElement(parent, tag)
    ET.SubElement(el, f"{{{ODM}}}TranslatedText", {XML_LANG: "en"}).text = text
    return el


def _data_type(s: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "integer"  # a SAS date (numeric) with def:DisplayFormat DATE9.
    if pd.api.types.is_integer_dtype(s.dtype):
        return "integer"
    if pd.api.types.is_float_dtype(s.dtype):
        return "float"
    return "text"


def _length(s: pd.Series, data_type: str) -> tuple[int, int | None]:
    """Length (and SignificantDigits of a float) of a variable from its values."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return 8, None
    if data_type == "text":
        values = s.astype("str").unique()  # in Arrow, not 4 million Python strings
        return max([1, *(len(v.encode("utf-8")) for v in values)]), None
    values = pd.unique(s.dropna().to_numpy(dtype=float))
    if data_type == "integer":
        return max([1, *(len(str(int(v))) for v in values)]), None
    decimals = [len(repr(float(v)).partition(".")[2].rstrip("0")) for v in values[:10_000]
                if np.isfinite(v)]
    return 8, min(max([1, *decimals]), 15)


def _origin(name: str, var: str) -> tuple[str, str | None]:
    """(def:Origin Type, the predecessor or None)."""
    if var == "STUDYID" and name == "adsl":
        return "Assigned", None
    if name != "adsl" and var in BDS_FROM_ADSL:
        return "Predecessor", f"ADSL.{var}"
    pred = PREDECESSORS.get(f"{var}@{name}") or (
        PREDECESSORS.get(var) if var != "ADT" else None)
    if pred is not None:
        return "Predecessor", pred
    return "Derived", None


def _codes(name: str, var: str, s: pd.Series,
           read: Reader) -> tuple[str, list[tuple[str, str | None]]] | None:
    """(code list OID, [(value, decode)]) of a coded variable, None for others."""
    if var in _FIXED_FOR:
        key = _FIXED_FOR[var]
        return f"CL.{key}", list(FIXED_CODES[key])
    if var in ("TRT01PN", "TRT01AN"):
        label = "TRT01P" if var == "TRT01PN" else "TRT01A"
        pairs = read("adsl", [var, label]).dropna().drop_duplicates().sort_values(var)
        return f"CL.{var}", [(str(int(n)), str(t)) for n, t in pairs.itertuples(index=False)]
    if var == "PARAMCD":
        pairs = read(name, ["PARAMCD", "PARAM"]).drop_duplicates().sort_values("PARAMCD")
        return f"CL.{name.upper()}.PARAMCD", [(c, p) for c, p in pairs.itertuples(index=False)]
    if var == "AVISITN":
        pairs = read(name, ["AVISITN", "AVISIT"]).drop_duplicates().sort_values("AVISITN")
        return "CL.AVISITN", [(str(int(n)), v) for n, v in pairs.itertuples(index=False)]
    if var in _ENUMERATED:
        values = sorted(v for v in s.astype("str").unique() if v != "")
        oid = f"CL.{name.upper()}.{var}" if var in ("SRCDOM", "SRCVAR") else f"CL.{var}"
        return oid, [(v, None) for v in values]
    return None


def frames_reader(frames: Mapping[str, pd.DataFrame]) -> Reader:
    """A :data:`Reader` of datasets held in memory."""
    return lambda name, cols: frames[name][cols]


def define_xml(read: Reader, plan: AnalysisPlan, cut: dt.date | None,
               names: Sequence[str] = XPT_DATASETS) -> ET.ElementTree:
    """The Define-XML 2.1 document of the datasets ``names`` (each read a few columns at a
    time through ``read``: ADQS at n = 100,000 has 4 million rows)."""
    study = plan.study_id
    stamp = f"{(cut or dt.date(1960, 1, 1)).isoformat()}T00:00:00"
    odm = ET.Element(f"{{{ODM}}}ODM", {
        "FileType": "Snapshot", "FileOID": f"DEF.{study}.ADAM", "ODMVersion": "1.3.2",
        "CreationDateTime": stamp, "Originator": "outcomes", "SourceSystem": "outcomes",
        f"{{{DEF}}}Context": "Other",
    })
    st = ET.SubElement(odm, f"{{{ODM}}}Study", {"OID": f"STUDY.{study}"})
    gv = ET.SubElement(st, f"{{{ODM}}}GlobalVariables")
    ET.SubElement(gv, f"{{{ODM}}}StudyName").text = study
    ET.SubElement(gv, f"{{{ODM}}}StudyDescription").text = (
        f"{study}: {plan.arm_label(plan.treated_arm)} vs {plan.arm_label(plan.control_arm).lower()}")
    ET.SubElement(gv, f"{{{ODM}}}ProtocolName").text = study
    mdv = ET.SubElement(st, f"{{{ODM}}}MetaDataVersion", {
        "OID": f"MDV.{study}.ADAM", "Name": f"{study} ADaM datasets",
        "Description": "ADaM datasets derived by the outcomes pipeline (docs/adam.md)",
        f"{{{DEF}}}DefineVersion": "2.1.0",
    })
    stds = ET.SubElement(mdv, f"{{{DEF}}}Standards")
    ET.SubElement(stds, f"{{{DEF}}}Standard", {"OID": STANDARD_OID, "Name": "ADaMIG",
                                               "Type": "IG", "Version": "1.3",
                                               "Status": "Final"})
    item_defs: list[ET.Element] = []
    code_lists: dict[str, tuple[str, dict[str, str | None]]] = {}  # OID -> (type, items)
    methods: list[tuple[str, str]] = []
    for name in names:
        ds = name.upper()
        ig = ET.SubElement(mdv, f"{{{ODM}}}ItemGroupDef", {
            "OID": f"IG.{ds}", "Name": ds, "SASDatasetName": ds, "Repeating":
            "No" if name == "adsl" else "Yes", "IsReferenceData": "No", "Purpose": "Analysis",
            f"{{{DEF}}}Structure": STRUCTURE[name], f"{{{DEF}}}StandardOID": STANDARD_OID,
            f"{{{DEF}}}ArchiveLocationID": f"LF.{ds}",
        })
        _text(ig, f"{{{ODM}}}Description", dataset_label(name))
        keys = KEYS[name]
        var_labels = labels(name)
        for order, var in enumerate(columns(name), start=1):
            oid = f"IT.{ds}.{var}"
            origin, pred = _origin(name, var)
            ref = {"ItemOID": oid, "OrderNumber": str(order),
                   "Mandatory": "Yes" if var in ("STUDYID", "USUBJID", *keys) else "No"}
            if var in keys:
                ref["KeySequence"] = str(keys.index(var) + 1)
            if origin == "Derived":
                ref["MethodOID"] = f"MT.{ds}.{var}"
                methods.append((ref["MethodOID"],
                                f"Derived as docs/adam.md describes ({ds} {var}: "
                                f"{var_labels[var]})."))
            ET.SubElement(ig, f"{{{ODM}}}ItemRef", ref)
            s = read(name, [var])[var]
            data_type = _data_type(s)
            length, digits = _length(s, data_type)
            attrs = {"OID": oid, "Name": var, "SASFieldName": var, "DataType": data_type,
                     "Length": str(length)}
            if digits is not None:
                attrs["SignificantDigits"] = str(digits)
            if pd.api.types.is_datetime64_any_dtype(s.dtype):
                attrs[f"{{{DEF}}}DisplayFormat"] = DATE_FORMAT
            item = ET.Element(f"{{{ODM}}}ItemDef", attrs)
            _text(item, f"{{{ODM}}}Description", var_labels[var])
            coded = _codes(name, var, s, read)
            if coded is not None:
                ET.SubElement(item, f"{{{ODM}}}CodeListRef", {"CodeListOID": coded[0]})
                _, merged = code_lists.setdefault(coded[0], (data_type, {}))
                merged.update({k: v for k, v in coded[1] if v is not None or k not in merged})
            el = ET.SubElement(item, f"{{{DEF}}}Origin", {"Type": origin})
            if pred is not None:
                _text(el, f"{{{ODM}}}Description", pred)
            item_defs.append(item)
        cls, sub = CLASS[name]
        c = ET.SubElement(ig, f"{{{DEF}}}Class", {"Name": cls})
        if sub is not None:
            ET.SubElement(c, f"{{{DEF}}}SubClass", {"Name": sub})
        leaf = ET.SubElement(ig, f"{{{DEF}}}leaf", {"ID": f"LF.{ds}",
                                                     f"{{{XLINK}}}href": f"{name}.xpt"})
        ET.SubElement(leaf, f"{{{DEF}}}title").text = f"{name}.xpt"
    mdv.extend(item_defs)
    for oid in sorted(code_lists):
        data_type, items = code_lists[oid]
        cl = ET.SubElement(mdv, f"{{{ODM}}}CodeList", {
            "OID": oid, "Name": oid.removeprefix("CL.").replace(".", " "),
            "DataType": data_type})
        decoded = any(v is not None for v in items.values())
        ordered = sorted(items.items(), key=lambda kv: float(kv[0]) if data_type != "text"
                         else kv[0])
        for order, (value, decode) in enumerate(ordered, start=1):
            if decoded:
                it = ET.SubElement(cl, f"{{{ODM}}}CodeListItem",
                                   {"CodedValue": value, "OrderNumber": str(order)})
                _text(it, f"{{{ODM}}}Decode", decode if decode is not None else value)
            else:
                ET.SubElement(cl, f"{{{ODM}}}EnumeratedItem",
                              {"CodedValue": value, "OrderNumber": str(order)})
    for oid, text in methods:
        m = ET.SubElement(mdv, f"{{{ODM}}}MethodDef", {"OID": oid, "Name": oid.removeprefix("MT."),
                                                       "Type": "Computation"})
        _text(m, f"{{{ODM}}}Description", text)
    ET.indent(odm, space="  ")
    return ET.ElementTree(odm)


def write_define(read: Reader, plan: AnalysisPlan, cut: dt.date | None,
                 path: str | Path, names: Sequence[str] = XPT_DATASETS) -> Path:
    """Write :func:`define_xml` to ``path`` (UTF-8, with the XML declaration), atomically."""
    tree = define_xml(read, plan, cut, names)
    with atomic_path(Path(path)) as tmp:
        tree.write(tmp, encoding="UTF-8", xml_declaration=True)
    return Path(path)
