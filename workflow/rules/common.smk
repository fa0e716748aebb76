import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


validate(config, schema="../schemas/config.schema.yaml")

# The package CLI of the interpreter that runs Snakemake (the project's virtualenv); SLURM
# jobs inherit it, so rules never depend on what happens to be on PATH.
OUTCOMES = f"{sys.executable} -m outcomes"

RESULTS = config["results_dir"]
DATA_DIR = config["data_dir"]
INPUT_TABLES = ["participants", "questionnaires", "admissions", "peer_contacts"]
ADAM_DATASETS = ["adsl", "adqs", "adtte", "adre"]


def data_file(table):
    return str(Path(DATA_DIR) / f"{table}.csv")


def explanations_option():
    path = config.get("explanations")
    return f"--explanations {path}" if path else ""


def arms_option():
    arms = config["arms"]
    return f"--arms {arms['treated']} {arms['control']}"


def mediation_jobs():
    """(mediator set, outcome) pairs of the plan: one Snakemake job each."""
    from outcomes.mediation.changemodel import mediator_sets
    from outcomes.plan import AnalysisPlan

    plan = AnalysisPlan.from_config(config)
    return [(m, o) for m in mediator_sets(plan) for o in plan.mediation["outcomes"]]
