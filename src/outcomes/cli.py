"""The ``outcomes`` command line: thin wrappers around the package's functions.

Every sub-command parses its arguments, calls one library function and maps the result to
an exit status. Bad input never produces a traceback: library errors derived from
:class:`outcomes.errors.OutcomesError` are printed as one line on stderr. Any other
failure (a full disk, an internal error) is one line too, with exit status 2
(``OUTCOMES_DEBUG=1`` re-raises it with its traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from outcomes import __version__
from outcomes.atomic import write_text
from outcomes.errors import OutcomesError


def _cmd_simulate(args: argparse.Namespace) -> int:
    from outcomes.simulate import write_simulated_trial

    write_simulated_trial(n=args.n, seed=args.seed, out_dir=Path(args.out), truth_n=args.truth_n,
                          missingness=args.missingness, mnar_delta=args.mnar_delta, icc=args.icc,
                          engagement=args.engagement,
                          exposure_induced_confounding=args.exposure_induced_confounding)
    scenario = "" if args.missingness == "default" else f", missingness {args.missingness}"
    scenario += f", peer-worker ICC {args.icc:g}" if args.icc else ""
    scenario += "" if args.engagement == "default" else f", {args.engagement} engagement"
    scenario += ", exposure-induced confounding" if args.exposure_induced_confounding else ""
    print(f"simulate: wrote a trial of {args.n} participants (seed {args.seed}{scenario}) to {args.out}")
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    """The analysis_plan rule: a shell job, so that it costs no Snakemake start-up."""
    import json

    from outcomes.plan import write_plan

    write_plan(json.loads(args.config_json), args.out)
    print(f"wrote {args.out}")
    return 0


def _cmd_template(args: argparse.Namespace) -> int:
    from outcomes.template import write_template

    paths = write_template(Path(args.out_dir), instruments=args.instruments)
    print(f"template: wrote {', '.join(p.name for p in paths)} to {args.out_dir}")
    return 0


def _cmd_datapackage(args: argparse.Namespace) -> int:
    from outcomes.datapackage import datapackage_json, write_datapackage

    if args.out is None:
        print(datapackage_json(arms=args.arms, instruments=args.instruments), end="")
        return 0
    path = write_datapackage(args.out, arms=args.arms, instruments=args.instruments)
    print(f"datapackage: wrote {path}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from outcomes.validation import run_validation

    return run_validation(
        data_dir=Path(args.data_dir),
        out_dir=Path(args.out),
        explanations=Path(args.explanations) if args.explanations else None,
        arms=tuple(args.arms) if args.arms else None,
        data_cut=args.data_cut or None,
    )


def _cmd_derive(args: argparse.Namespace) -> int:
    from outcomes.adam import derive_from_dir
    from outcomes.plan import AnalysisPlan

    plan = AnalysisPlan.load(args.plan)
    datasets = derive_from_dir(Path(args.clean), plan, Path(args.out))
    counts = ", ".join(f"{name} {len(frame)} rows" for name, frame in datasets.items())
    print(f"derive: wrote {counts} to {args.out}")
    return 0


def _cmd_transport(args: argparse.Namespace) -> int:
    from outcomes.adam.io import transport_from_dir
    from outcomes.plan import AnalysisPlan

    written = transport_from_dir(Path(args.derived), AnalysisPlan.load(args.plan), args.out)
    print(f"transport: wrote {', '.join(p.name for p in written)} to {written[0].parent}")
    return 0


def _read_derived(directory: str, names: tuple[str, ...], columns=None):
    """The derived datasets ``names`` (only those; ``columns``: only these columns of some)."""
    from outcomes.adam import read_adam

    derived = read_adam(Path(directory), names, columns)
    missing = [n for n in names if n not in derived]
    if missing:
        raise OutcomesError(f"{directory}: missing derived datasets {', '.join(missing)} (run 'outcomes derive')")
    return derived


def _cmd_survival(args: argparse.Namespace) -> int:
    from outcomes.plan import AnalysisPlan
    from outcomes.survival.run import run_survival, write_survival

    plan = AnalysisPlan.load(args.plan)
    d = _read_derived(args.derived, ("adsl", "adtte", "adre"))
    res = run_survival(d["adsl"], d["adtte"], d["adre"], plan, plan.rng("survival"))
    paths = write_survival(res, args.tables, args.figures)
    print(f"survival: {len(res.table)} effects; wrote {', '.join(str(p) for p in paths)}")
    return 0


def _completed_data(args: argparse.Namespace, plan, d: dict, command: str,
                    check_only: bool = False):
    """(completed data sets, imputation frame) of ``--imputed`` under ``missing_data.method:
    mi``, (None, None) otherwise (and when ``check_only``); an :class:`OutcomesError` when
    ``--imputed`` and the plan's method disagree."""
    frame = _mi_frame(args, plan, d, command, check_only)
    if frame is None:
        return None, None
    from outcomes.imputation.run import read_completed

    return read_completed(args.imputed, frame, plan.missing_data.m), frame


def _mi_frame(args: argparse.Namespace, plan, d: dict, command: str, check_only: bool = False):
    """The imputation frame of the derived data ``d`` under ``missing_data.method: mi``,
    None otherwise (and when ``check_only``); an :class:`OutcomesError` when ``--imputed``
    and the plan's method disagree."""
    mi = plan.missing_data.method == "mi"
    if mi != bool(args.imputed):
        raise OutcomesError(
            f"{command}: the plan's missing_data.method is mi: give --imputed "
            "(imputed_long.parquet of 'outcomes impute --write-imputed')" if mi else
            f"{command} --imputed: the plan's missing_data.method is complete_case, so there "
            "are no imputations to pool (set it to mi, or leave out --imputed)")
    if not mi or check_only:
        return None
    from outcomes.imputation.frame import imputation_frame

    return imputation_frame(d["adsl"], d["adqs"], d["adtte"], plan)


def _cmd_engagement(args: argparse.Namespace) -> int:
    from outcomes.cace.analyses import engagement_stage
    from outcomes.cace.comparisons import write_engagement
    from outcomes.plan import AnalysisPlan
    from outcomes.questionnaires import ADQS_COLUMNS

    plan = AnalysisPlan.load(args.plan)
    d = _read_derived(args.derived, ("adsl", "adtte", "adqs"), {"adqs": ADQS_COLUMNS})
    _completed_data(args, plan, {}, "engagement", check_only=True)
    res = engagement_stage(d, plan, lambda data: _completed_data(args, plan, data, "engagement"))
    paths = write_engagement(res, args.tables)
    print(f"engagement: {len(res.estimates)} effects; wrote {', '.join(str(p) for p in paths)}")
    return 0


def _cmd_questionnaires(args: argparse.Namespace) -> int:
    from outcomes.imputation.ancova import complete_case_rows, questionnaire_table
    from outcomes.imputation.frame import ADTTE_COLUMNS as FRAME_ADTTE
    from outcomes.memory import release_memory
    from outcomes.plan import AnalysisPlan
    from outcomes.questionnaires import ADQS_COLUMNS
    from outcomes.tables import write_tsv

    plan = AnalysisPlan.load(args.plan)
    mi = plan.missing_data.method == "mi"
    d = _read_derived(args.derived, ("adsl", "adqs", "adtte") if mi else ("adsl", "adqs"),
                      {"adqs": ADQS_COLUMNS, "adtte": FRAME_ADTTE})
    frame = _mi_frame(args, plan, d, "questionnaires")
    # one phase at a time (decisions PN6): ADTTE serves the frame only and ADQS the frame
    # and the complete-case rows, so both are freed before the completed sets are read
    d.pop("adtte", None)
    cc = complete_case_rows(d.pop("adqs"), d["adsl"], plan)
    release_memory()
    completed = None
    if frame is not None:
        from outcomes.imputation.run import read_completed

        completed = read_completed(args.imputed, frame, plan.missing_data.m)
    table = questionnaire_table(cc, d["adsl"], plan, completed, frame)
    write_tsv(table, args.out)
    print(f"questionnaires: {len(table)} effects; wrote {args.out}")
    return 0


def _cmd_impute(args: argparse.Namespace) -> int:
    from outcomes.imputation.frame import ADQS_COLUMNS
    from outcomes.imputation.run import run_impute
    from outcomes.plan import AnalysisPlan

    plan = AnalysisPlan.load(args.plan)
    d = _read_derived(args.derived, ("adsl", "adqs", "adtte"), {"adqs": ADQS_COLUMNS})
    imp, paths = run_impute(d, plan, args.out, write_imputed=True if args.write_imputed else None)
    print(f"impute: {int(imp.imputed.to_numpy().sum())} values imputed {imp.m} times "
          f"({imp.settings.method}); wrote {', '.join(str(p) for p in paths)}")
    return 0


def _cmd_tipping(args: argparse.Namespace) -> int:
    from outcomes.imputation.frame import ADQS_COLUMNS, ADTTE_COLUMNS
    from outcomes.imputation.tipping import tipping_inputs, write_tipping
    from outcomes.memory import release_memory
    from outcomes.plan import AnalysisPlan

    plan = AnalysisPlan.load(args.plan)
    d = _read_derived(args.derived, ("adsl", "adqs", "adtte"),
                      {"adqs": (*ADQS_COLUMNS, "PARAM"), "adtte": ADTTE_COLUMNS})
    frame, params = tipping_inputs(d, plan)
    del d  # freed before the completed data sets are read (decisions PN6)
    release_memory()
    results, paths = write_tipping(frame, params, plan, args.table, args.figures, args.imputed)
    points = sum(len(r.grid) for r in results)
    print(f"tipping: {len(results)} outcome(s), {points} grid points; "
          f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def _cmd_multiplicity(args: argparse.Namespace) -> int:
    from outcomes.multiplicity import run_multiplicity
    from outcomes.plan import AnalysisPlan

    plan = AnalysisPlan.load(args.plan)
    res = run_multiplicity(plan, args.tables, args.out)
    rejected = sum(h.rejected for h in res.hypotheses)
    print(f"multiplicity: {len(res.hypotheses)} hypotheses ({res.method} for the key secondary "
          f"ones), {rejected} rejected at alpha {res.alpha:g}; wrote {args.out}")
    return 0


def _cmd_provenance(args: argparse.Namespace) -> int:
    from outcomes.plan import AnalysisPlan
    from outcomes.provenance import build_provenance, write_provenance

    plan = AnalysisPlan.load(args.plan)
    record = build_provenance(args.inputs, plan.raw, {"analysis_seed": plan.seed})
    write_provenance(record, args.out)
    print(f"provenance: {len(record['inputs'])} input files; wrote {args.out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from outcomes.report import write_report

    results = Path(args.results)
    out = Path(args.out) if args.out else results / "report" / "index.html"
    path = write_report(results, out, plan=args.plan, provenance=args.provenance,
                        export=args.export)
    print(f"report: wrote {path}")
    return 0


def _cmd_mediation_data(args: argparse.Namespace) -> int:
    from outcomes.mediation.admed import mediation_data, write_mediation_data
    from outcomes.plan import AnalysisPlan

    plan = AnalysisPlan.load(args.plan)
    # ADQS: only what admed and the imputation frame use (4 million rows at n = 100,000)
    d = _read_derived(args.derived, ("adsl", "adqs", "adtte"),
                      {"adqs": ["USUBJID", "AVISIT", "ADT", "PARAMCD", "AVAL"]})
    data = mediation_data(d["adsl"], d["adqs"], d["adtte"], plan)
    write_mediation_data(data, plan, args.out)
    print(f"mediation-data: {len(data)} participants, {data.shape[1]} columns; wrote {args.out}")
    if args.imputed_out:
        if plan.missing_data.method != "mi":
            raise OutcomesError("mediation-data --imputed-out: the plan's missing_data.method is "
                                f"{plan.missing_data.method}, not mi")
        from outcomes.mediation.admed import write_imputed_mediation_data

        m = write_imputed_mediation_data(d, data, plan, args.imputed_out, args.imputed)
        source = args.imputed or "imputed here with the plan's missing_data settings and seed"
        print(f"mediation-data: {m} completed data sets ({source}); wrote {args.imputed_out}")
    return 0


def _cmd_mediation(args: argparse.Namespace) -> int:
    from outcomes.mediation.admed import read_completed_mediation, read_mediation_data
    from outcomes.mediation.changemodel import job_name, run_job, write_job
    from outcomes.plan import AnalysisPlan

    if bool(args.mediator) != bool(args.outcome) or bool(args.mediator) == bool(args.job):
        raise OutcomesError("mediation: give --mediator and --outcome (every pair of them) "
                            "or --job MEDIATOR OUTCOME (one pair each), not both")
    jobs = [tuple(j) for j in args.job] if args.job else [
        (m, o) for m in args.mediator for o in args.outcome]
    if args.out and len(jobs) > 1:
        raise OutcomesError(f"{len(jobs)} jobs need --out-dir (--out is one job's prefix)")
    plan = AnalysisPlan.load(args.plan)
    data = read_mediation_data(args.data)
    completed = None
    if plan.missing_data.method == "mi":
        if not args.imputed:
            raise OutcomesError("mediation: the plan's missing_data.method is mi: pass --imputed "
                                "(the completed data sets from 'outcomes mediation-data --imputed-out')")
        completed = read_completed_mediation(args.imputed)
    for mediator, outcome in jobs:  # one process for several jobs: start-up paid once
        job = run_job(data, plan, mediator, outcome, completed)
        paths = write_job(job, args.out or Path(args.out_dir) / job_name(mediator, outcome))
        print(f"mediation: {mediator} x {outcome}: {len(job.estimates)} effects; wrote {paths[0]}")
    return 0


def _cmd_mediation_gather(args: argparse.Namespace) -> int:
    import json

    from outcomes.mediation.changemodel import OUTCOMES, gather
    from outcomes.mediation.plots import path_diagram
    from outcomes.plan import AnalysisPlan
    from outcomes.tables import write_tsv

    plan = AnalysisPlan.load(args.plan)
    table, sens, reports = gather(args.jobs)
    tables = Path(args.tables)
    tables.mkdir(parents=True, exist_ok=True)
    write_tsv(table, tables / "mediation.tsv")
    write_tsv(sens, tables / "mediation_sensitivity.tsv")
    write_text(tables / "mediation_models.json", json.dumps(reports, indent=2, sort_keys=True, default=str) + "\n")
    main = table.loc[table["clustering"] == plan.clustering] if "clustering" in table else table
    for outcome in plan.mediation["outcomes"]:
        path_diagram(main, outcome, plan.mediation["mechanisms"], Path(args.figures) / f"mediation_{outcome}.svg",
                     outcome_label=OUTCOMES[outcome]["label"])
    print(f"mediation-gather: {len(table)} effects from {len(reports)} jobs; wrote {tables / 'mediation.tsv'}")
    return 0


class _SimulatorChoices:
    """The names of a simulator scenario (``outcomes.simulate.parameters``), looked up only
    when ``outcomes simulate`` is parsed or its help printed: importing the simulator
    costs every other command 0.5 s of CPU at start-up (a mediation job is 1.5 s)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _names(self) -> tuple[str, ...]:
        from outcomes.simulate import parameters

        return tuple(getattr(parameters, self.name))

    def __contains__(self, value: object) -> bool:
        return value in self._names()

    def __iter__(self):
        return iter(self._names())


def _cmd_study_truth(args: argparse.Namespace) -> int:
    from outcomes.simstudy.files import write_truth
    from outcomes.simstudy.study import load_study

    write_truth(load_study(args.study), args.scenario, args.out)
    print(f"study-truth: wrote {args.out}")
    return 0


def _cmd_study_batch(args: argparse.Namespace) -> int:
    from outcomes.simstudy.files import write_batch
    from outcomes.simstudy.study import load_study

    study = load_study(args.study)
    cpu: dict[str, float] = {}
    rows = write_batch(study, args.scenario, args.batch, args.out, cpu)
    bad = int((rows["status"] != "estimated").sum())
    k = len(study.batch(args.batch))
    print(f"study-batch: {len(rows)} rows ({bad} not estimable) to {args.out}; CPU: set-up "
          f"{cpu['setup']:.2f} s (interpreter, imports, DGP), {k} replicates "
          f"{cpu['replicates']:.2f} s ({cpu['replicates'] / k:.3f} s each)")
    return 0


def _cmd_study_performance(args: argparse.Namespace) -> int:
    from outcomes.simstudy.files import write_performance
    from outcomes.simstudy.page import write_page
    from outcomes.simstudy.study import load_study

    study = load_study(args.study)
    perf = write_performance(study, args.batches, args.truths, args.out_dir)
    page = write_page(study, args.out_dir, args.truths)
    print(f"study-performance: {len(perf)} rows to {args.out_dir}/performance.tsv, the page {page}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outcomes",
        description="Outcomes of randomised trials of peer support in mental health services.",
    )
    parser.add_argument("--version", action="version", version=f"outcomes {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("simulate", help="write a synthetic trial extract with its truth.json")
    p.add_argument("--n", type=int, required=True, help="number of randomised participants")
    p.add_argument("--seed", type=int, required=True, help="seed of numpy.random.default_rng")
    p.add_argument("--out", required=True, help="output data directory")
    p.add_argument(
        "--truth-n",
        type=int,
        default=None,
        help="size of the potential-outcome population used for truth.json (default: package default)",
    )
    p.add_argument(
        "--missingness", default="default", choices=_SimulatorChoices("MISSINGNESS"), metavar="SCENARIO",
        help="scenario of missed follow-up questionnaires: %(choices)s (docs/synthetic-trial.md §9; "
             "default: default)",
    )
    p.add_argument(
        "--mnar-delta", type=float, nargs="+", default=None, metavar="D",
        help="with --missingness mnar: shift of the unobserved month-12 WEMWBS in points, one "
             "value for both arms or PEER_SUPPORT USUAL_CARE (default: -5)",
    )
    p.add_argument(
        "--icc", type=float, default=0.0,
        help="intracluster correlation of the peer-worker effects on the latent scale, 0 <= ICC < 1 "
             "(docs/synthetic-trial.md §10a; default 0: no peer-worker clustering)",
    )
    p.add_argument(
        "--engagement", default="default", choices=_SimulatorChoices("ENGAGEMENT_SCENARIOS"),
        metavar="SCENARIO",
        help="%(choices)s: who receives the effect: default (everyone randomised to peer support) or selective "
             "(a latent compliance type and a contact dose; docs/synthetic-trial.md §10b)",
    )
    p.add_argument(
        "--exposure-induced-confounding", action="store_true",
        help="engagement drawn before the outcomes affects the month-4 mediators and the "
             "outcomes (an exposure-induced confounder; docs/synthetic-trial.md §10c); "
             "truth.json gets the interventional effects",
    )
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser(
        "template", help="write an empty extract (four CSV headers) and an explanations template"
    )
    p.add_argument("out_dir", help="directory to write into (existing files are never overwritten)")
    p.add_argument(
        "--instruments",
        nargs="+",
        default=None,
        metavar="KEY",
        help="questionnaire item columns of these instruments only (default: every instrument)",
    )
    p.set_defaults(func=_cmd_template)

    p = sub.add_parser(
        "datapackage", help="write the Frictionless descriptor of an extract (docs/data-contract.md)"
    )
    p.add_argument("--out", default=None, metavar="FILE", help="output file (default: standard output)")
    p.add_argument("--arms", nargs=2, metavar=("TREATED", "CONTROL"), default=None,
                   help="arm codes when the plan renames them (default: peer_support usual_care)")
    p.add_argument("--instruments", nargs="+", default=None, metavar="KEY",
                   help="questionnaire item columns of these instruments only (default: every instrument)")
    p.set_defaults(func=_cmd_datapackage)

    p = sub.add_parser("plan", help="validate a config and write it, defaults filled, as plan.json")
    p.add_argument("--config-json", required=True, metavar="JSON",
                   help="the config as one JSON text (what Snakemake's config holds)")
    p.add_argument("--out", required=True, metavar="FILE", help="the plan.json to write")
    p.set_defaults(func=_cmd_plan)

    p = sub.add_parser("validate", help="validate a data extract (docs/validation.md)")
    p.add_argument("data_dir", help="directory holding the extract's CSV files")
    p.add_argument("--out", default="validation", help="output directory (default: ./validation)")
    p.add_argument("--explanations", default=None, help="TSV of accepted findings: rule_id, record_key, reason")
    p.add_argument(
        "--arms",
        nargs=2,
        metavar=("TREATED", "CONTROL"),
        default=None,
        help="arm codes when the plan renames them (default: peer_support usual_care)",
    )
    p.add_argument(
        "--data-cut",
        default=None,
        metavar="YYYY-MM-DD",
        help="data cut of the analysis (plan key data_cut): dates after it are findings; "
        "without it they are not checked",
    )
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("derive", help="derive the ADaM datasets adsl/adqs/adtte/adre (docs/adam.md)")
    p.add_argument("--clean", required=True, help="directory of the validator's clean/<table>.parquet")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json or a config YAML)")
    p.add_argument("--out", required=True, help="output directory (e.g. results/derived)")
    p.set_defaults(func=_cmd_derive)
    p = sub.add_parser("transport", help="SAS transport (XPT v5) files of adsl/adqs/adtte and "
                       "their define.xml (docs/adam.md)")
    p.add_argument("--derived", required=True, help="directory of the ADaM datasets")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json)")
    p.add_argument("--out", default=None, help="output directory (default: --derived)")
    p.set_defaults(func=_cmd_transport)
    p = sub.add_parser("survival", help="time-to-event analyses of readmission (docs/survival.md)")
    p.add_argument("--derived", required=True, help="directory of the ADaM datasets")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json)")
    p.add_argument("--tables", required=True, help="directory for survival.tsv")
    p.add_argument("--figures", required=True, help="directory for the figures")
    p.set_defaults(func=_cmd_survival)

    p = sub.add_parser("engagement", help="engagement by arm, the CACE and dose-response rows "
                                          "and the per-protocol and as-treated comparisons "
                                          "(docs/engagement.md, docs/cace.md)")
    p.add_argument("--derived", required=True, help="directory of the ADaM datasets")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json)")
    p.add_argument("--tables", required=True, help="directory for engagement.tsv and cace.tsv")
    p.add_argument("--imputed", default=None,
                   help="imputed_long.parquet of 'outcomes impute': the completed data sets the "
                        "questionnaire CACE and dose-response rows pool (required when the "
                        "plan's missing_data.method is mi)")
    p.set_defaults(func=_cmd_engagement)

    p = sub.add_parser("questionnaires", help="ANCOVA of every score at every follow-up visit (docs/questionnaires.md)")
    p.add_argument("--derived", required=True, help="directory of the ADaM datasets")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json)")
    p.add_argument("--out", required=True, help="output TSV (questionnaires.tsv)")
    p.add_argument("--imputed", default=None,
                   help="imputed_long.parquet of 'outcomes impute': the completed data sets to "
                        "pool (required when the plan's missing_data.method is mi)")
    p.set_defaults(func=_cmd_questionnaires)

    p = sub.add_parser("impute", help="multiple imputation of missing scores (docs/imputation.md)")
    p.add_argument("--derived", required=True, help="directory of the derived datasets")
    p.add_argument("--plan", required=True, help="analysis plan (results/plan.json)")
    p.add_argument("--out", required=True, help="directory for imputation_summary.tsv (and the data)")
    p.add_argument("--write-imputed", action="store_true",
                   help="also write imputed_long.parquet, every completed data set (.imp 0..m)")
    p.set_defaults(func=_cmd_impute)

    p = sub.add_parser("tipping", help="tipping-point analysis of δ-adjusted imputations (docs/imputation.md)")
    p.add_argument("--derived", required=True, help="directory of the derived datasets")
    p.add_argument("--plan", required=True, help="analysis plan (results/plan.json)")
    p.add_argument("--table", required=True, help="output TSV (tipping_point.tsv)")
    p.add_argument("--figures", required=True, help="directory for tipping_point_<PARAMCD>_<visit>.svg")
    p.add_argument("--imputed", default=None,
                   help="imputed_long.parquet of 'outcomes impute': with delta_mode final, the "
                        "grid shifts these data sets instead of imputing again")
    p.set_defaults(func=_cmd_tipping)

    p = sub.add_parser("multiplicity", help="adjusted p-values of the plan's hierarchy of "
                                            "hypotheses (docs/multiplicity.md)")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json)")
    p.add_argument("--tables", required=True, help="directory of the results tables the "
                                                   "hierarchy names (survival.tsv, ...)")
    p.add_argument("--out", required=True, help="output TSV (multiplicity.tsv)")
    p.set_defaults(func=_cmd_multiplicity)

    p = sub.add_parser("report", help="render the trial report from the result files (docs/report.md)")
    p.add_argument("--results", default="results", help="results directory (default: results)")
    p.add_argument("--out", default=None, help="output HTML (default: RESULTS/report/index.html)")
    p.add_argument("--plan", default=None, help="analysis plan (default: RESULTS/plan.json)")
    p.add_argument(
        "--provenance", default=None, help="provenance record (default: RESULTS/provenance.json if present)"
    )
    p.add_argument("--export", action="store_true",
                   help="also write the report's tables (CSV, Word) and figures (SVG, PNG) beside it")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("provenance", help="write provenance.json (checksums, plan, seeds, versions)")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json)")
    p.add_argument("--inputs", nargs="+", required=True, help="input files to checksum")
    p.add_argument("--out", required=True, help="output JSON file")
    p.set_defaults(func=_cmd_provenance)
    p = sub.add_parser("mediation-data", help="assemble the change-model analysis data set (admed)")
    p.add_argument("--derived", required=True, help="directory of the ADaM datasets")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json)")
    p.add_argument("--out", required=True, help="output Parquet file")
    p.add_argument("--imputed-out", help="with missing_data.method mi: also write the m completed "
                   "analysis data sets (.imp 1..m) to this Parquet file")
    p.add_argument("--imputed", help="imputed_long.parquet from 'outcomes impute' (default: impute "
                   "here with the plan's settings and seed)")
    p.set_defaults(func=_cmd_mediation_data)

    p = sub.add_parser("mediation", help="change-model mediation analyses (mediator set x outcome), "
                                         "one job or several in one process")
    p.add_argument("--data", required=True, help="admed.parquet from 'outcomes mediation-data'")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json)")
    p.add_argument("--mediator", nargs="+",
                   help="a PARAMCD, a mechanism (M2) or ALL; several: every one with every --outcome")
    p.add_argument("--outcome", nargs="+", help="wemwbs_m12, readmit_12m or readmit_time")
    p.add_argument("--job", nargs=2, action="append", metavar=("MEDIATOR", "OUTCOME"),
                   help="one (mediator set, outcome) job, instead of --mediator and --outcome; "
                   "repeated: several jobs in one process, in the order given (the pipeline's batches)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", help="one job's output prefix: PREFIX.tsv, PREFIX.sensitivity.tsv, PREFIX.json")
    out.add_argument("--out-dir", help="directory for every job's MEDIATOR__OUTCOME.tsv, "
                     ".sensitivity.tsv and .json (the names mediation-gather reads)")
    p.add_argument("--imputed", help="with missing_data.method mi: the completed data sets from "
                   "'outcomes mediation-data --imputed-out'")
    p.set_defaults(func=_cmd_mediation)

    p = sub.add_parser("mediation-gather", help="gather mediation jobs into mediation.tsv and path diagrams")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json)")
    p.add_argument("--jobs", nargs="+", required=True, help="the jobs' PREFIX.tsv files")
    p.add_argument("--tables", required=True, help="directory for mediation.tsv")
    p.add_argument("--figures", required=True, help="directory for the path diagrams")
    p.set_defaults(func=_cmd_mediation_gather)
    p = sub.add_parser("study-truth", help="a simulation study scenario's population truth "
                       "(docs/simulation-study.md)")
    p.add_argument("--study", required=True, help="the study file (YAML)")
    p.add_argument("--scenario", required=True, help="scenario id (s01, ...)")
    p.add_argument("--out", required=True, help="truth JSON file")
    p.set_defaults(func=_cmd_study_truth)

    p = sub.add_parser("study-batch", help="simulate and analyse one batch of a study's replicates")
    p.add_argument("--study", required=True, help="the study file (YAML)")
    p.add_argument("--scenario", required=True, help="scenario id (s01, ...)")
    p.add_argument("--batch", required=True, type=int, help="batch number (from 0)")
    p.add_argument("--out", required=True, help="the batch's TSV file")
    p.set_defaults(func=_cmd_study_batch)

    p = sub.add_parser("study-performance", help="gather a study's batches into its performance table")
    p.add_argument("--study", required=True, help="the study file (YAML)")
    p.add_argument("--batches", nargs="+", required=True, help="every batch TSV file")
    p.add_argument("--truths", nargs="+", required=True, help="every scenario's truth JSON file")
    p.add_argument("--out-dir", required=True, help="directory for performance.tsv, replicates.tsv, scenarios.tsv, study.html")
    p.set_defaults(func=_cmd_study_performance)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except OutcomesError as exc:
        print(f"outcomes {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a full disk, a read-only or missing directory
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"outcomes {args.command}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # an internal error: status 2 (never 1, which means "errors found")
        if os.environ.get("OUTCOMES_DEBUG"):
            raise
        print(
            f"outcomes {args.command}: internal error ({type(exc).__name__}: {exc}); "
            "set OUTCOMES_DEBUG=1 for a traceback and please report it",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
