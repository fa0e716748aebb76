"""The ``outcomes`` command line: thin wrappers around the package's functions.

Every sub-command parses its arguments, calls one library function and maps the result to
an exit status. Bad input never produces a traceback: library errors derived from
:class:`outcomes.errors.OutcomesError` are printed as one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from outcomes import __version__
from outcomes.errors import OutcomesError


def _cmd_simulate(args: argparse.Namespace) -> int:
    from outcomes.simulate import write_simulated_trial

    write_simulated_trial(n=args.n, seed=args.seed, out_dir=Path(args.out), truth_n=args.truth_n)
    print(f"simulate: wrote a trial of {args.n} participants (seed {args.seed}) to {args.out}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from outcomes.validation import run_validation

    return run_validation(
        data_dir=Path(args.data_dir),
        out_dir=Path(args.out),
        explanations=Path(args.explanations) if args.explanations else None,
        arms=tuple(args.arms) if args.arms else None,
    )


def _cmd_derive(args: argparse.Namespace) -> int:
    from outcomes.adam import derive_from_dir
    from outcomes.plan import AnalysisPlan

    plan = AnalysisPlan.load(args.plan)
    datasets = derive_from_dir(Path(args.clean), plan, Path(args.out))
    counts = ", ".join(f"{name} {len(frame)} rows" for name, frame in datasets.items())
    print(f"derive: wrote {counts} to {args.out}")
    return 0


def _read_derived(directory: str, names: tuple[str, ...]):
    from outcomes.adam import read_adam

    derived = read_adam(Path(directory))
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


def _cmd_questionnaires(args: argparse.Namespace) -> int:
    from outcomes.plan import AnalysisPlan
    from outcomes.questionnaires import questionnaire_ancova
    from outcomes.survival.tables import write_tsv

    plan = AnalysisPlan.load(args.plan)
    d = _read_derived(args.derived, ("adsl", "adqs"))
    table = questionnaire_ancova(d["adqs"], d["adsl"], treated_arm=plan.treated_arm, control_arm=plan.control_arm)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_tsv(table, args.out)
    print(f"questionnaires: {len(table)} effects; wrote {args.out}")
    return 0


def _cmd_provenance(args: argparse.Namespace) -> int:
    from outcomes.plan import AnalysisPlan
    from outcomes.provenance import build_provenance, write_provenance

    plan = AnalysisPlan.load(args.plan)
    record = build_provenance(args.inputs, plan.raw, {"analysis_seed": plan.seed})
    write_provenance(record, args.out)
    print(f"provenance: {len(record['inputs'])} input files; wrote {args.out}")
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
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("validate", help="validate a data extract (DESIGN §5)")
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
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("derive", help="derive the ADaM datasets adsl/adqs/adtte/adre (DESIGN §6)")
    p.add_argument("--clean", required=True, help="directory of the validator's clean/<table>.parquet")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json or a config YAML)")
    p.add_argument("--out", required=True, help="output directory (e.g. results/derived)")
    p.set_defaults(func=_cmd_derive)
    p = sub.add_parser("survival", help="time-to-event analyses of readmission (DESIGN §8)")
    p.add_argument("--derived", required=True, help="directory of the ADaM datasets")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json)")
    p.add_argument("--tables", required=True, help="directory for survival.tsv")
    p.add_argument("--figures", required=True, help="directory for the figures")
    p.set_defaults(func=_cmd_survival)

    p = sub.add_parser("questionnaires", help="ANCOVA of every score at every follow-up visit")
    p.add_argument("--derived", required=True, help="directory of the ADaM datasets")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json)")
    p.add_argument("--out", required=True, help="output TSV (questionnaires.tsv)")
    p.set_defaults(func=_cmd_questionnaires)
    p = sub.add_parser("provenance", help="write provenance.json (checksums, plan, seeds, versions)")
    p.add_argument("--plan", required=True, help="analysis plan (plan.json)")
    p.add_argument("--inputs", nargs="+", required=True, help="input files to checksum")
    p.add_argument("--out", required=True, help="output JSON file")
    p.set_defaults(func=_cmd_provenance)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except OutcomesError as exc:
        print(f"outcomes {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
