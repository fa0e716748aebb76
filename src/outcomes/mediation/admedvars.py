"""The variables of the admed files: names of at most 8 characters and a label on each
(docs/results.md, "The change model's analysis data set (admed)").

The mediation code works with readable names in memory (``WEMWBS_M12``, ``<PARAMCD>_M``,
``<PARAMCD>_BL``, ``TTE_READMIT``, ``.imp``, ...). ``admed.parquet`` and
``admed_imputed.parquet`` carry other names, valid SAS version 5 names of at most 8
characters, and a label on every variable (Parquet field metadata, key ``label``, as the
ADaM datasets carry theirs: :func:`outcomes.adam.io.with_labels`). This module is the one
declared mapping between the two; names change only where a file is written
(:func:`file_table`) or read (:func:`memory_names`), so the analyses, their result tables
and the in-memory users of admed (:mod:`outcomes.replicate`, :mod:`outcomes.simstudy`) see
the names they always saw.

- :data:`RENAMED`: the fixed columns whose name is too long or not a SAS name
  (``WEMWBS_M12`` → ``WEMWBS12``, ``.imp`` → ``IMPNUM``, ...);
- the scores: ``<PARAMCD>_M`` → ``MV<nn>`` (mediator visit) and ``<PARAMCD>_BL`` →
  ``BL<nn>`` (baseline), ``nn`` the score's place (01, 02, ...) in the sorted PARAMCDs that
  have either column in this data set, so ``MV03`` and ``BL03`` are the same score. A
  PARAMCD may have 8 characters (``LSNS6FAM``, ``LSNS6FRI``), so no name built from it
  fits; numbered names cannot collide. Each score's field metadata also holds ``paramcd``
  and ``avisit``: the file documents its own code list, and the reader maps it back;
- every other column keeps its name: the ADSL variables (with their ADSL label) and
  admed's own (:data:`LABELS`). A column that is none of these, or a name that would be
  given twice, is an :class:`AdmedNameError` naming it.

The texts of ``NOT_IMPUTED`` (``NOTIMP``: "<column>: <why>; ...",
:mod:`outcomes.imputation.gaps`) name the file's columns in the file and the in-memory
columns in memory (:func:`rename_texts`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from outcomes.errors import OutcomesError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ADMED_LABEL", "ADMED_IMPUTED_LABEL", "LABELS", "RENAMED", "SCORE_PREFIXES",
           "AdmedNameError", "file_names", "file_table", "memory_names", "rename_texts"]

#: In-memory name -> name in the admed files, for the fixed columns that need another one.
RENAMED = {
    ".imp": "IMPNUM",  # outcomes.imputation.run.IMP: a dot is not in a SAS name
    "WEMWBS_M12": "WEMWBS12",
    "TTE_READMIT": "READMTTE",
    "EVT_READMIT": "READMEVT",
    "READM_PRE_M": "READMPRE",
    "NOT_IMPUTED": "NOTIMP",  # outcomes.imputation.gaps.NOT_IMPUTED
}
#: In-memory suffix of a score column -> the prefix of its name in the files.
SCORE_PREFIXES = {"_M": "MV", "_BL": "BL"}

#: The labels of admed's own columns (in-memory names); ``{visit}`` is the mediator visit
#: in words ("month 4"). The ADSL variables keep their ADSL labels; the scores are labelled
#: "<the score's label in the instrument registry>, <visit>".
LABELS = {
    ".imp": "Imputation number (completed data set)",
    "TRTA01": "Randomised to the treated arm (1/0)",
    "ENGAGED": "Engaged with peer support (ENGFL Y, 1/0)",
    "READM_PRE_M": "Readmitted before {visit} (1/0)",
    "LMDAY": "Landmark day (from index discharge)",
    "LMEXCL": "Why not in the landmark risk set",
    "TTE_READMIT": "Days from landmark to readmission/censor",
    "EVT_READMIT": "Readmitted after the landmark (1/0)",
    "READM12": "Readmitted, landmark to horizon (1/0)",
    "READMU": "Days followed from landmark to horizon",
    "READMCNS": "Censored before the horizon (1/0)",
    "NOT_IMPUTED": "Due values that could not be imputed",
}
#: The label of each file (schema metadata, key ``label``).
ADMED_LABEL = "Change-Model Analysis Dataset"
ADMED_IMPUTED_LABEL = "Change-Model Analysis Dataset, MI Sets"

#: A SAS version 5 name: a letter, then letters, digits or underscores, 8 at most.
_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")


class AdmedNameError(OutcomesError):
    """A column of admed has no name of 8 characters or no label in the files."""


def _visit_words(visit: str) -> str:
    return visit.replace("_", " ")


def _score(column: str) -> tuple[str, str] | None:
    """(PARAMCD, in-memory suffix) of a score column, None for any other."""
    for suffix in SCORE_PREFIXES:
        if column.endswith(suffix) and len(column) > len(suffix):
            return column[: -len(suffix)], suffix
    return None


def file_names(columns: Sequence[str], mediator_visit: str
               ) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, str]]]:
    """The file name, the label and the further field metadata of each column of an admed
    frame (in-memory names): ``(memory -> file name, file name -> label, file name ->
    {"paramcd", "avisit"} of the scores)``."""
    from outcomes.adam.models import labels as adam_labels
    from outcomes.labels import param_label

    adsl = adam_labels("adsl")
    visit = {"_M": mediator_visit, "_BL": "baseline"}
    scores = {c: s for c in columns if c not in RENAMED and c not in adsl and c not in LABELS
              and (s := _score(str(c))) is not None}
    codes = sorted({p for p, _ in scores.values()})
    width = max(2, len(str(len(codes))))
    place = {p: str(k).zfill(width) for k, p in enumerate(codes, start=1)}
    names: dict[str, str] = {}
    labels: dict[str, str] = {}
    extra: dict[str, dict[str, str]] = {}
    for c in columns:
        if c in scores:
            p, suffix = scores[c]
            name = SCORE_PREFIXES[suffix] + place[p]
            label = f"{param_label(p)}, {_visit_words(visit[suffix])}"
            extra[name] = {"paramcd": p, "avisit": visit[suffix]}
        elif c == "WEMWBS_M12":
            name, label = RENAMED[c], f"{param_label('WEMWBS')}, month 12"
        elif c in LABELS:
            name = RENAMED.get(c, c)
            label = LABELS[c].format(visit=_visit_words(mediator_visit))
        elif c in adsl:
            name, label = c, adsl[c]
        else:
            raise AdmedNameError(
                f"admed: column {c!r} has no name and label for the admed files (not an ADSL "
                "variable, a score or a column of outcomes.mediation.admedvars)")
        if not _NAME.match(name):
            raise AdmedNameError(f"admed: column {c!r} would be named {name!r} in the files, "
                                 "not a name of at most 8 letters, digits or underscores")
        if name in labels:
            other = next(k for k, v in names.items() if v == name)
            raise AdmedNameError(f"admed: columns {other!r} and {c!r} would both be named "
                                 f"{name!r} in the files")
        names[c], labels[name] = name, label
    return names, labels, extra


def file_table(table: pa.Table, mediator_visit: str, label: str) -> pa.Table:
    """``table`` (an admed frame's Arrow table, in-memory names) with the files' names, a
    label on every variable and the file's ``label`` (:func:`file_names`)."""
    import pyarrow as pa

    from outcomes.adam.io import with_labels

    names, labels, extra = file_names(table.column_names, mediator_visit)
    renamed = table.rename_columns([names[c] for c in table.column_names])
    metadata = dict(renamed.schema.metadata or {})
    if b"pandas" in metadata:  # pandas' own record of the columns, with the files' names
        pandas = json.loads(metadata[b"pandas"])
        for col in pandas["columns"]:
            for key in ("name", "field_name"):
                col[key] = names.get(col[key], col[key])
        metadata[b"pandas"] = json.dumps(pandas).encode()
    schema = with_labels(renamed.schema.with_metadata(metadata), labels, label)
    schema = pa.schema([f.with_metadata({**f.metadata, **extra[f.name]}) if f.name in extra
                        else f for f in schema], metadata=schema.metadata)
    return pa.Table.from_arrays(renamed.columns, schema=schema)


def memory_names(schema: pa.Schema) -> list[str]:
    """The in-memory name of each field of an admed file's ``schema`` (inverse of
    :func:`file_names`; a name it does not know, e.g. of a file written before names had 8
    characters, stays as it is)."""
    back = {v: k for k, v in RENAMED.items()}
    prefixes = {v: k for k, v in SCORE_PREFIXES.items()}
    out = []
    for f in schema:
        paramcd = (f.metadata or {}).get(b"paramcd")
        if paramcd is not None and f.name[:2] in prefixes:
            out.append(paramcd.decode() + prefixes[f.name[:2]])
        else:
            out.append(back.get(f.name, f.name))
    return out


def rename_texts(texts: Iterable[str], names: Mapping[str, str]) -> list[str]:
    """``NOT_IMPUTED`` texts ("<column>: <why>" entries joined by "; ",
    :func:`outcomes.imputation.gaps.encode`) with each column renamed by ``names`` (a
    column it does not name stays); each distinct text is rewritten once."""
    done: dict[str, str] = {}
    out = []
    for text in texts:
        if text not in done:
            entries = (e.split(": ", 1) for e in text.split("; ") if e)
            done[text] = "; ".join(f"{names.get(c, c)}: {w}" for c, w in entries)
        out.append(done[text])
    return out
