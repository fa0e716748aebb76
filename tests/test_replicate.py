"""The in-process replicate API (outcomes.replicate, docs/api.md) gives the pipeline's
tables: byte-identical, written with outcomes.tables.write_tsv, to those of the session's
Snakemake run of the bundled trial (``bundled_run``, config/test.yaml; no run of its
own), and the command line starts without the modules its sub-command does not need."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from bundled_run import EXTRACT
from threadpoolctl import threadpool_limits

from outcomes.contract import TABLE_FILES
from outcomes.errors import OutcomesError
from outcomes.replicate import ValidationFailed, extract_texts, run_replicate
from outcomes.tables import write_tsv

ROOT = Path(__file__).resolve().parents[1]

#: What the test runs in process (about 10 s at n = 600): the stages whose in-memory
#: hand-over differs from the pipeline's files (clean tables, ADaM datasets, imputations,
#: the mediation jobs gathered without their files). The engagement stage calls the same
#: functions on the same data as its command (cace.analyses.engagement_analyses).
ANALYSES = ("survival", "questionnaires", "mediation")


def test_tables_equal_the_pipelines(bundled_run, tmp_path):
    assert bundled_run.process.returncode == 0, bundled_run.process.stderr[-3000:]
    work, res = bundled_run.work, bundled_run.work / "results"
    # the extract as DataFrames of its text, as a user would hold it
    extract = {t: pd.read_csv(work / EXTRACT / f, dtype=str, keep_default_na=False)
               for t, f in TABLE_FILES.items()}
    rep = run_replicate(extract, res / "plan.json", explanations=work / "explanations.tsv",
                        analyses=ANALYSES)
    expected = {"survival": res / "tables", "questionnaires": res / "tables",
                "mediation": res / "tables", "mediation_sensitivity": res / "tables",
                "imputation_summary": res / "imputation"}
    assert set(rep.tables) == set(expected)
    for name, directory in expected.items():
        write_tsv(rep.tables[name], tmp_path / f"{name}.tsv")
        assert filecmp.cmp(tmp_path / f"{name}.tsv", directory / f"{name}.tsv", shallow=False), name
    models = json.dumps(rep.mediation_models, indent=2, sort_keys=True, default=str) + "\n"
    assert models == (res / "tables" / "mediation_models.json").read_text(encoding="utf-8")
    # the derived datasets are those the pipeline's stages read back from Parquet
    from outcomes.adam import read_adam

    for name, frame in read_adam(res / "derived").items():
        pd.testing.assert_frame_equal(rep.adam[name], frame, check_exact=True)
    stacked = rep.to_frame()
    assert list(stacked["table"].unique()) == ["survival", "questionnaires", "mediation"]
    assert len(stacked) == sum(len(rep.tables[t]) for t in ("survival", "questionnaires", "mediation"))
    assert set(rep.cpu_seconds) == {"validate", "derive", "impute", *ANALYSES}
    # the primary analysis alone gives survival.tsv's primary rows, the same values
    primary = run_replicate(extract, res / "plan.json", explanations=work / "explanations.tsv",
                            analyses=("primary",)).tables["primary"]
    survival = rep.tables["survival"]
    rows = survival.loc[survival["analysis"] == "primary"].reset_index(drop=True)
    # the same rows and values; the columns only other analyses fill are left out
    assert list(primary.columns) == [c for c in survival.columns if c in primary.columns]
    assert rows.drop(columns=list(primary.columns)).isna().all().all()
    pd.testing.assert_frame_equal(primary, rows[list(primary.columns)], check_exact=True)


def test_several_jobs_in_one_process(bundled_run, tmp_path, capsys):
    """``outcomes mediation`` with several mediator sets and outcomes writes each job's
    files as its own process does (the process start-up paid once; docs/api.md)."""
    from outcomes import cli

    res = bundled_run.work / "results"
    args = ["mediation", "--data", str(res / "derived" / "admed.parquet"),
            "--plan", str(res / "plan.json"), "--mediator", "HHI", "GSE",
            "--outcome", "wemwbs_m12", "readmit_12m",
            "--imputed", str(res / "derived" / "admed_imputed.parquet")]
    assert cli.main([*args, "--out", str(tmp_path / "x")]) == 2
    assert "4 jobs need --out-dir" in capsys.readouterr().err
    with threadpool_limits(limits=1):  # the job's one thread in the pipeline (docs/api.md)
        assert cli.main([*args, "--out-dir", str(tmp_path)]) == 0
    for m in ("HHI", "GSE"):
        for o in ("wemwbs_m12", "readmit_12m"):
            for suffix in (".tsv", ".sensitivity.tsv", ".json"):
                name = f"{m}__{o}{suffix}"
                assert filecmp.cmp(tmp_path / name, res / "mediation" / name, shallow=False), name


def test_a_batch_of_any_jobs_in_one_process(bundled_run, tmp_path, capsys):
    """``outcomes mediation --job M O --job ...`` (the pipeline's mediation batches): any
    pairs, in the order given, each written as its own process writes it."""
    from outcomes import cli

    res = bundled_run.work / "results"
    args = ["mediation", "--data", str(res / "derived" / "admed.parquet"),
            "--plan", str(res / "plan.json"), "--out-dir", str(tmp_path),
            "--imputed", str(res / "derived" / "admed_imputed.parquet")]
    assert cli.main([*args, "--job", "M2", "readmit_12m", "--mediator", "HHI"]) == 2
    assert "not both" in capsys.readouterr().err
    assert cli.main([*args, "--mediator", "HHI"]) == 2  # --mediator without --outcome
    capsys.readouterr()
    with threadpool_limits(limits=1):
        assert cli.main([*args, "--job", "M2", "readmit_12m", "--job", "WAISR", "wemwbs_m12"]) == 0
    assert [line.split(":")[1].strip() for line in capsys.readouterr().out.splitlines()] == [
        "M2 x readmit_12m", "WAISR x wemwbs_m12"]
    for name in ("M2__readmit_12m", "WAISR__wemwbs_m12"):
        for suffix in (".tsv", ".sensitivity.tsv", ".json"):
            assert filecmp.cmp(tmp_path / f"{name}{suffix}", res / "mediation" / f"{name}{suffix}",
                               shallow=False), name + suffix


def test_validation_gate_and_bad_arguments():
    from outcomes.simulate.trial import Table

    participants = Table(("participant_id",), [("P1",)])
    texts = extract_texts({"participants": participants, "questionnaires": "a,b\n",
                           "admissions": b"x\n", "peer_contacts": pd.DataFrame({"c": ["1"]})})
    assert texts == {"participants": "participant_id\nP1\n", "questionnaires": "a,b\n",
                     "admissions": b"x\n", "peer_contacts": "c\n1\n"}
    with pytest.raises(OutcomesError, match="a DataFrame, a simulated Table or the CSV text"):
        extract_texts({"participants": [("P1",)]})
    plan = {"data_dir": ".", "results_dir": "."}
    with pytest.raises(OutcomesError, match="'cox' is not one of survival"):
        run_replicate({}, plan, analyses=("cox",))


def test_unexplained_errors_stop_the_replicate():
    """As the pipeline's validation gate: an extract with an unexplained error (an arm
    that is not the plan's) raises, with the findings."""
    text = {t: (ROOT / "synthetic_data" / f).read_text(encoding="utf-8")
            for t, f in TABLE_FILES.items()}
    text["participants"] = text["participants"].replace("usual_care", "usual", 1)
    with pytest.raises(ValidationFailed, match=r"validation found \d+ unexplained errors") as err:
        run_replicate(text, {"data_dir": ".", "results_dir": "."}, analyses=())
    findings = err.value.validation.findings
    assert ((findings["severity"] == "error") & (findings["value"] == "usual")).sum() == 1


def test_command_line_starts_lean():
    """A sub-command imports only what it needs: building the parser does not import the
    simulator, and a mediation job does not import lifelines (0.5 s and 0.3 s of CPU of a
    1.5 s start-up; docs/api.md)."""
    code = ("import sys; from outcomes import cli; cli.build_parser(); "
            "from outcomes.mediation.changemodel import run_job; "
            "print(sorted(m for m in ('outcomes.simulate', 'lifelines', 'matplotlib', "
            "'statsmodels') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
