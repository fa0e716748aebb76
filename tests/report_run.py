"""The results of the bundled trial that the report tests render, made once per session
(the ``report_run`` fixture of tests/conftest.py): the pipeline's stages through the CLI
(``outcomes.cli.main``, in process, to save interpreter start-ups) in a temporary
directory, questionnaires by multiple imputation with complete cases beside.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import warnings
from pathlib import Path

from outcomes import cli
from outcomes.provenance import build_provenance, write_provenance

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "synthetic_data"
RUN_TIME = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)  # outside the trial's dates
N_BOOT = 50  # the plan's minimum: the report renders, precision is not the point
M = 5  # imputations: the MI rows are there, precision is not the point


def _cli(*args: str) -> None:
    assert cli.main(list(args)) == 0, args


def run_mediation_stage(res: Path, plan: Path) -> None:
    """The pipeline's mediation stage through its CLI (every job calls
    ``outcomes.mediation.fit_mediation``): admed, one job per mediator set x outcome, and
    the gathered tables/mediation.tsv and tables/mediation_sensitivity.tsv."""
    from outcomes.mediation.changemodel import mediator_sets
    from outcomes.plan import AnalysisPlan

    p = AnalysisPlan.load(plan)
    admed = res / "derived" / "admed.parquet"
    # under missing_data.method mi, as the pipeline: the completed analysis data sets are
    # built from the impute stage's file and every job pools over them
    mi = p.missing_data.method == "mi"
    admed_imputed = res / "derived" / "admed_imputed.parquet"
    imputed = (["--imputed", str(res / "imputation" / "imputed_long.parquet"),
                "--imputed-out", str(admed_imputed)] if mi else [])
    _cli("mediation-data", "--derived", str(res / "derived"), "--plan", str(plan),
         "--out", str(admed), *imputed)
    jobs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # complete-case warnings
        for mediator in mediator_sets(p):
            for outcome in p.mediation["outcomes"]:
                prefix = res / "mediation" / f"{mediator}__{outcome}"
                _cli("mediation", "--data", str(admed), "--plan", str(plan),
                     "--mediator", mediator, "--outcome", outcome, "--out", str(prefix),
                     *(["--imputed", str(admed_imputed)] if mi else []))
                jobs.append(str(prefix) + ".tsv")
    _cli("mediation-gather", "--plan", str(plan), "--jobs", *jobs,
         "--tables", str(res / "tables"), "--figures", str(res / "figures"))


def make_report_run(root: Path) -> dict:
    """A results directory of the bundled trial: validation, derived datasets, survival and
    questionnaire tables and figures, plan.json (the stages' CLI), plus mediation tables,
    multiplicity.tsv and provenance.json."""
    res = root / "results"
    from outcomes.plan import write_plan

    plan = res / "plan.json"
    write_plan({"data_dir": str(DATA), "results_dir": str(res),
                "mediation": {"n_boot": N_BOOT},
                "missing_data": {"method": "mi", "m": M, "iterations": 5}}, plan)
    assert cli.main(["validate", str(DATA), "--out", str(res / "validation")]) == 0
    (res / "validation" / "exit_status.txt").write_text("0\n")
    _cli("derive", "--clean", str(res / "validation" / "clean"), "--plan", str(plan),
         "--out", str(res / "derived"))
    _cli("survival", "--derived", str(res / "derived"), "--plan", str(plan),
         "--tables", str(res / "tables"), "--figures", str(res / "figures"))
    _cli("impute", "--derived", str(res / "derived"), "--plan", str(plan),
         "--out", str(res / "imputation"), "--write-imputed")
    _cli("questionnaires", "--derived", str(res / "derived"), "--plan", str(plan),
         "--imputed", str(res / "imputation" / "imputed_long.parquet"),
         "--out", str(res / "tables" / "questionnaires.tsv"))
    # a copy without the optional inputs (no mediation, no multiplicity, no provenance)
    bare = root / "bare"
    shutil.copytree(res, bare)
    run_mediation_stage(res, plan)
    _cli("multiplicity", "--plan", str(plan), "--tables", str(res / "tables"),
         "--out", str(res / "tables" / "multiplicity.tsv"))
    record = build_provenance(sorted(DATA.glob("*.csv")), json.loads(plan.read_text()),
                              {"analysis_seed": 20261122}, now=RUN_TIME, repo_dir=ROOT)
    write_provenance(record, res / "provenance.json")
    _cli("report", "--results", str(res))
    _cli("report", "--results", str(bare), "--out", str(bare / "report" / "index.html"))
    return {"full": res, "bare": bare,
            "html": (res / "report" / "index.html").read_text(encoding="utf-8"),
            "bare_html": (bare / "report" / "index.html").read_text(encoding="utf-8")}
