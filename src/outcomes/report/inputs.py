"""The result files a report is rendered from (docs/results.md), read once, never recomputed.

Required: the analysis plan (``plan.json``), ADSL and ADQS (``derived/``), ``tables/
survival.tsv`` and ``tables/questionnaires.tsv``. Optional, each with its own notice in the
report when absent: ADRE (the mean cumulative function), ADTTE (reasons for exclusion in
the participant flow), the validation outputs, the
figures, ``tables/mediation.tsv`` and ``tables/mediation_sensitivity.tsv``, ``provenance.json``, ``tables/engagement.tsv`` and
``tables/cace.tsv`` (the engagement section), ``tables/multiplicity.tsv`` (the adjusted
p-values); ``tables/tipping_point.tsv`` and its figures are shown when present.

Estimates tables are kept twice: as text exactly as written (``raw``: what the report's
``data-value`` attributes carry, so a test can compare them with the files) and parsed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from outcomes.errors import OutcomesError
from outcomes.plan import AnalysisPlan


class ReportInputError(OutcomesError):
    """A result file the report needs is missing or unreadable (names the file)."""

    exit_code = 2


@dataclass(frozen=True)
class Table:
    """An estimates TSV: ``raw`` (text, as written) and ``num`` (parsed), same rows."""

    path: Path
    raw: pd.DataFrame
    num: pd.DataFrame
    _columns: dict[str, dict[Any, Any]] = field(default_factory=dict, init=False, repr=False,
                                                compare=False)

    def __len__(self) -> int:
        return len(self.raw)

    def cell(self, i: Any, col: str) -> Any:
        """``raw.at[i, col]``, from the column as a dict built at its first use: pandas'
        scalar access costs about 0.1 ms, and the report reads some 20,000 cells."""
        column = self._columns.get(col)
        if column is None:
            column = self._columns[col] = dict(zip(self.raw.index, self.raw[col].tolist(), strict=True))
        return column[i]


@dataclass
class ReportInputs:
    results_dir: Path
    plan: AnalysisPlan
    plan_path: Path
    adsl: pd.DataFrame
    adqs: pd.DataFrame
    survival: Table
    questionnaires: Table
    adre: pd.DataFrame | None = None  # ADRE's counting-process rows (the MCF figure)
    adtte: pd.DataFrame | None = None  # ADTTE's READMIT rows (reasons in the CONSORT flow)
    mediation: Table | None = None  # the rows of the plan's main design (main_design)
    mediation_all: Table | None = None  # every row, both designs (the other one is shown beside)
    mediation_sensitivity: Table | None = None
    tipping_point: Table | None = None
    engagement: Table | None = None  # engagement.tsv: engagement by arm (long)
    cace: Table | None = None  # cace.tsv: CACE, dose-response, per-protocol, as-treated rows
    multiplicity: Table | None = None  # multiplicity.tsv: the hierarchy of hypotheses
    validation_summary: pd.DataFrame | None = None
    validation_explained: pd.DataFrame | None = None  # issues_explained.tsv: who accepted what, when
    row_accounting: pd.DataFrame | None = None
    validation_status: int | None = None
    figures: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None
    provenance_path: Path | None = None
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


ESTIMATE_COLUMNS = ("analysis", "outcome", "contrast", "estimate_type", "estimate")
SENSITIVITY_COLUMNS = ("outcome", "mediator", "rho", "estimate", "ci_low", "ci_high")
TIPPING_COLUMNS = ("paramcd", "avisit", "delta_treated", "delta_control", "estimate",
                   "ci_low", "ci_high", "p_value")
ENGAGEMENT_COLUMNS = ("arm", "variable", "statistic", "value")
MULTIPLICITY_COLUMNS = ("family", "order", "table", "analysis", "clustering", "outcome",
                        "contrast", "estimate_type", "p_value", "adjusted_p_value")


def read_table(path: Path, required: tuple[str, ...] = ESTIMATE_COLUMNS) -> Table:
    try:
        if not path.read_text(encoding="utf-8").strip():  # a stage with no estimates
            empty = pd.DataFrame(columns=list(required))
            return Table(path, empty, empty.copy())
        raw = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        num = pd.read_csv(path, sep="\t", na_values=["NA"], keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ReportInputError(f"{path}: cannot read the table: {exc}") from None
    for col in required:
        if col not in raw.columns:
            raise ReportInputError(f"{path}: column '{col}' missing")
    return Table(path, raw, num)


#: The identification of a mediation row apart from its design (``clustering``).
MEDIATION_KEY = ("analysis", "outcome", "contrast", "estimate_type", "mediator", "effect", "rho")


def main_design(table: Table | None, clustering: str) -> Table | None:
    """The rows of a mediation table the report shows: those of the plan's main design
    (every mediation row is written under both; docs/clustering.md). Row labels are kept
    (they name the table's row); the other design's twins are shown beside them
    (``ReportInputs.mediation_all``, outcomes.report.design)."""
    if table is None or "clustering" not in table.raw.columns:
        return table
    from outcomes.survival.tables import main_analysis_rows

    key = [c for c in MEDIATION_KEY if c in table.raw.columns]
    keep = main_analysis_rows(table.raw, clustering, key).index
    return Table(table.path, table.raw.loc[keep], table.num.loc[keep])


#: The ADQS columns the report reads (participants, missing data, the dates it names):
#: 0.58 of the 0.95 GB of ADQS in pandas at n = 100,000 (read peak 0.92 instead of 1.43 GB).
ADQS_COLUMNS = ("USUBJID", "ARM", "AVISIT", "ADT", "PARAMCD", "PARAM", "AVAL")


#: The ADTTE columns of the reasons for exclusion from the primary analysis (report.participants).
ADTTE_COLUMNS = ("USUBJID", "ARM", "PARAMCD", "AVAL", "CNSR", "CNSDTDSC")
#: The ADRE columns of the mean cumulative function (report.recurrent) and of the days in
#: hospital by arm (report.readmission).
ADRE_COLUMNS = ("USUBJID", "ARM", "TSTART", "TSTOP", "EVENT", "BEDDAYS")


def _parquet(path: Path, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The dataset at ``path``; only those of ``columns`` it has, when given."""
    if not path.exists():
        raise ReportInputError(f"{path}: not found (run 'outcomes derive')")
    try:
        if columns is not None:
            names = set(pq.read_schema(path).names)
            columns = tuple(c for c in columns if c in names)
        return pd.read_parquet(path, columns=None if columns is None else list(columns))
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ReportInputError(f"{path}: cannot read: {exc}") from None


def _tsv(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ReportInputError(f"{path}: cannot read: {exc}") from None


def load_inputs(results_dir: str | Path, *, plan: str | Path | None = None,
                provenance: str | Path | None = None) -> ReportInputs:
    """Read every result file the report uses from ``results_dir`` (docs/results.md layout)."""
    root = Path(results_dir)
    if not root.is_dir():
        raise ReportInputError(f"{root}: results directory not found")
    plan_path = Path(plan) if plan is not None else root / "plan.json"
    if not plan_path.exists():
        raise ReportInputError(f"{plan_path}: analysis plan not found")
    used: list[Path] = [plan_path]
    derived = root / "derived"
    adsl = _parquet(derived / "adsl.parquet")
    adqs = _parquet(derived / "adqs.parquet", ADQS_COLUMNS)
    used += [derived / "adsl.parquet", derived / "adqs.parquet"]
    adre = adtte = None
    if (derived / "adtte.parquet").exists():
        adtte = _parquet(derived / "adtte.parquet", ADTTE_COLUMNS)
        adtte = adtte.loc[adtte["PARAMCD"] == "READMIT"].reset_index(drop=True)
        used.append(derived / "adtte.parquet")
    if (derived / "adre.parquet").exists():
        adre = _parquet(derived / "adre.parquet", ADRE_COLUMNS)
        used.append(derived / "adre.parquet")
    tables = root / "tables"
    req = {}
    for name in ("survival", "questionnaires"):
        path = tables / f"{name}.tsv"
        if not path.exists():
            raise ReportInputError(f"{path}: not found (run 'outcomes {name}')")
        req[name] = read_table(path)
        used.append(path)
    opt = {}
    for name, cols in (("mediation", (*ESTIMATE_COLUMNS, "mediator", "effect")),
                       ("mediation_sensitivity", SENSITIVITY_COLUMNS),
                       ("tipping_point", TIPPING_COLUMNS),
                       ("engagement", ENGAGEMENT_COLUMNS),
                       ("cace", ESTIMATE_COLUMNS),
                       ("multiplicity", MULTIPLICITY_COLUMNS)):
        path = tables / f"{name}.tsv"
        opt[name] = read_table(path, cols) if path.exists() else None
        if path.exists():
            used.append(path)
    vdir = root / "validation"
    summary = _tsv(vdir / "issues_summary.tsv")
    explained = _tsv(vdir / "issues_explained.tsv")
    accounting = _tsv(vdir / "row_accounting.tsv")
    status = None
    if (vdir / "exit_status.txt").exists():
        text = (vdir / "exit_status.txt").read_text(encoding="utf-8").strip()
        status = int(text) if text.isdigit() else None
    for p in (vdir / "issues_summary.tsv", vdir / "issues_explained.tsv", vdir / "row_accounting.tsv",
              vdir / "exit_status.txt"):
        if p.exists():
            used.append(p)
    figures = {}
    fdir = root / "figures"
    tipping = sorted(p.stem for p in fdir.glob("tipping_point_*.svg"))
    for name in ("km_readmit", "km_readmdet", "cif_readmit", *tipping):
        p = fdir / f"{name}.svg"
        if p.exists():
            figures[name] = p.read_text(encoding="utf-8")
            used.append(p)
    prov_path = Path(provenance) if provenance is not None else root / "provenance.json"
    prov = None
    if prov_path.exists():
        try:
            prov = json.loads(prov_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReportInputError(f"{prov_path}: cannot read: {exc}") from None
        used.append(prov_path)
    files = {}
    for p in used:
        try:
            key = str(p.relative_to(root))
        except ValueError:
            key = str(p)
        files[key] = sha256(p)
    plan_obj = AnalysisPlan.load(plan_path)
    return ReportInputs(
        results_dir=root, plan=plan_obj, plan_path=plan_path,
        adsl=adsl, adqs=adqs, adre=adre, adtte=adtte, survival=req["survival"], questionnaires=req["questionnaires"],
        mediation=main_design(opt["mediation"], plan_obj.clustering),
        mediation_all=opt["mediation"],
        mediation_sensitivity=main_design(opt["mediation_sensitivity"], plan_obj.clustering),
        tipping_point=opt["tipping_point"],
        engagement=opt["engagement"], cace=opt["cace"], multiplicity=opt["multiplicity"],
        validation_summary=summary, validation_explained=explained, row_accounting=accounting, validation_status=status,
        figures=figures, provenance=prov, provenance_path=prov_path if prov else None,
        files=files,
    )
