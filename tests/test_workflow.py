"""The Snakemake workflow: lint, formatting, config validation, and a run on the bundled trial."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from bundled_run import CONFIG, workflow_copy
from define_xsd import define_errors
from lxml import etree

from outcomes.pipeline_end import unexplained_errors

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = str(BIN / "snakemake")


def _run(args, cwd, timeout=600):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _end_lines(res) -> list[str]:
    """The run's own closing lines (outcomes.pipeline_end), on stderr with Snakemake's."""
    return [line for line in res.stderr.splitlines() if line.startswith(("Pipeline ", "Results of the earlier run"))]


#: The one lint the workflow does not follow: its software is the virtualenv of
#: scripts/setup.sh, not a conda environment or container (docs/pipeline.md, "Software
#: environment"; decisions HY4).
NO_CONDA_LINT = "Specify a conda environment or container for each rule."


def other_lints(out: str) -> list[str]:
    """Snakemake's lints in ``out`` (``    * <lint>:`` lines) other than ``NO_CONDA_LINT``."""
    lints = [line.strip()[2:].rstrip(":") for line in out.splitlines() if line.startswith("    * ")]
    return [lint for lint in lints if lint != NO_CONDA_LINT]


def test_snakemake_lint_is_clean():
    res = _run([SNAKEMAKE, "--lint"], cwd=ROOT)
    out = res.stdout + res.stderr
    assert "Traceback" not in out and "Error" not in out, out
    assert out.count("Lints for") == out.count(NO_CONDA_LINT), out
    assert other_lints(out) == [], out


def test_other_lints_are_still_caught():
    out = ("Lints for rule a (line 1, x.smk):\n    * Specify a conda environment or container "
           "for each rule.:\n      why\nLints for rule b (line 9, x.smk):\n"
           "    * No log directive defined.:\n      why\n")
    assert other_lints(out) == ["No log directive defined."]


def test_snakefmt_check_is_clean():
    res = _run([str(BIN / "snakefmt"), "--check", "Snakefile", "workflow"], cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr


def _workdir(tmp_path: Path) -> Path:
    return workflow_copy(tmp_path / "wf")


def test_unknown_config_key_stops_the_run_in_one_paragraph(tmp_path):
    work = _workdir(tmp_path)
    (work / "config" / "bad.yaml").write_text("survival:\n  hospital_days_n_bot: 200\n")
    res = _run([SNAKEMAKE, "-n", "--configfile", "config/bad.yaml"], cwd=work)
    assert res.returncode != 0
    # stdout: Snakemake's note that config/bad.yaml extends config/config.yaml; stderr: the paragraph
    assert "Traceback" not in res.stderr + res.stdout
    assert res.stderr.splitlines() == [(
        "config key 'survival.hospital_days_n_bot' is unknown (did you mean 'hospital_days_n_boot'?). "
        "Keys allowed under 'survival': cox_covariates, hospital_days_n_boot, landmarks_days, "
        "primary_covariates, primary_strategy, rmst_tau_days, sensitivity_strategies, strata, "
        "withdrawal_ends_routine_data. Every key is described, with its default, in "
        "workflow/schemas/config.schema.yaml."
    )]


def test_wrong_type_stops_the_run_naming_the_key_and_value(tmp_path):
    work = _workdir(tmp_path)
    (work / "config" / "bad.yaml").write_text("arms: peer_support\n")
    res = _run([SNAKEMAKE, "-n", "--configfile", "config/bad.yaml"], cwd=work)
    assert res.returncode != 0
    assert res.stderr.startswith(
        "config key 'arms' has the value \"peer_support\" (text), which is not allowed: allowed is a mapping "
        "with the keys control, treated")


@pytest.mark.slow
def test_pipeline_validates_the_bundled_trial(bundled_run):
    # the run of the default profile with config/test.yaml (tests/bundled_run.py: its
    # config/bundled.yaml reads the extract from a directory with shell syntax in its name)
    work, res = bundled_run.work, bundled_run.process
    assert res.returncode == 0, res.stdout + res.stderr
    # the default profile's terminal: progress, no job's shell command, inputs or outputs,
    # and the run's last line says where the report is
    out = res.stdout + res.stderr
    # 18 mediation jobs in 4 batches (mediation.batches), impute and tipping_point under
    # MI, engagement, multiplicity, adam_transport (the XPT files and define.xml)
    assert "of 20 steps (100%) done" in out
    for verbose in ("Shell command:", "\n    input: ", "\n    output: ", "\nrule validate:", "\nlocalrule "):
        assert verbose not in out, verbose
    assert _end_lines(res) == ["Pipeline finished. Open results/report/index.html"]
    val = work / "results" / "validation"
    assert (val / "PASSED").exists()
    assert (val / "exit_status.txt").read_text().strip() == "0"
    for name in ("issues_detail.tsv", "issues_summary.tsv", "validation.html", "row_accounting.tsv"):
        assert (val / name).stat().st_size > 0
    # the validator's summary is in its log
    assert (work / "results" / "logs" / "validate.log").read_text().splitlines()[-2:] == [
        "Gate passed: no unexplained errors (exit status 0).", "Listing: results/validation/validation.html"]
    for table in ("survival.tsv", "questionnaires.tsv", "mediation.tsv", "engagement.tsv",
                  "cace.tsv", "multiplicity.tsv"):
        assert (work / "results" / "tables" / table).stat().st_size > 0
    # multiple imputation is on in config/test.yaml: each questionnaire block (difference,
    # adjusted means, Hedges' g) pooled over the imputations (the main analysis) before its
    # complete-case block; the completed data sets
    # passed between the rules were deleted (write_imputed is false), the summary is kept
    q = (work / "results" / "tables" / "questionnaires.tsv").read_text().splitlines()
    analyses = [line.split("\t", 1)[0] for line in q[1:]]
    assert analyses == (["questionnaire_ancova_mi"] * 4 + ["questionnaire_ancova"] * 4) * (
        len(analyses) // 8)
    imp = work / "results" / "imputation"
    assert not (imp / "imputed_long.parquet").exists()
    assert (imp / "imputation_summary.tsv").stat().st_size > 0
    # Snakemake's own report holds the key figures and tables with their captions.
    rep = _run([SNAKEMAKE, "--configfile", CONFIG, "--report", "report.zip"], cwd=work)
    assert rep.returncode == 0, rep.stdout + rep.stderr
    names = zipfile.ZipFile(work / "report.zip").namelist()
    for name in ("km_readmit.svg", "forest_survival.svg", "survival.tsv", "mediation.tsv",
                 "questionnaires.tsv", "mediation_wemwbs_m12.svg", "multiplicity.tsv"):
        assert any(n.endswith("/" + name) for n in names), name


def test_bundled_run_s_submission_files_are_valid(bundled_run):
    # define.xml of the bundled trial against CDISC's Define-XML 2.1 XSD (tests/define_xsd.py)
    derived = bundled_run.work / "results" / "derived"
    assert define_errors(etree.parse(derived / "define.xml")) == []
    # names of at most 8 characters (SAS transport version 5) in every derived dataset,
    # the change model's admed*.parquet included (decisions AM1-AM3)
    datasets = sorted(derived.glob("*.parquet"))
    assert {p.stem for p in datasets} >= {"adsl", "adqs", "adtte", "adre", "admed"}
    long = {p.name: [c for c in pq.read_schema(p).names if len(c) > 8] for p in datasets}
    assert not any(long.values()), long


#: Estimate types whose CI has no standard error: the median's Brookmeyer–Crowley
#: inversion of the KM band and Searle's F-based interval of the ICC.
NO_SE_TYPES = ("median_time", "icc")


def test_every_estimates_table_has_the_standard_error_of_its_ci(bundled_run):
    """``std_error`` right after ``estimate`` in every estimates table, filled wherever the
    CI is (and NA where it is not); where the CI is a Wald interval, estimate ± q·SE on the
    CI's scale (``wald_scale`` of the estimate type) gives the CI to 1e-8 relative (the
    table's 10 significant digits): q the t quantile of the row's ``df`` where it has one
    (the ANCOVAs, pooled or not, and the IV fits), the normal quantile otherwise (every
    row of survival.tsv, the risk rows of cace.tsv). mediation.tsv's
    percentile CIs have the bootstrap SE, checked in test_mediation_bootstrap.py."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    from outcomes.survival.tables import wald_scale

    tables = bundled_run.work / "results" / "tables"
    checked = 0
    for name in ("survival", "questionnaires", "mediation", "cace", "tipping_point"):
        t = pd.read_csv(tables / f"{name}.tsv", sep="\t", keep_default_na=False,
                        na_values=["NA"])
        cols = list(t.columns)
        assert cols[cols.index("estimate") + 1] == "std_error", name
        with_ci = t["ci_low"].notna() & t["ci_high"].notna()
        assert t.loc[with_ci & ~t["estimate_type"].isin(NO_SE_TYPES), "std_error"].notna().all(), name
        assert t.loc[~with_ci, "std_error"].isna().all(), name
        if name == "mediation":
            continue
        wald = with_ci & t["std_error"].notna()
        if name == "survival":
            wald &= t["analysis"] != "days_in_hospital"  # bootstrap percentile CIs
        for _, r in t.loc[wald].iterrows():
            f = wald_scale(r["estimate_type"])
            df = r.get("df", np.nan)
            q = stats.norm.ppf(0.975) if pd.isna(df) else stats.t.ppf(0.975, df)
            half = q * r["std_error"]
            # the table's numbers have 10 significant digits: a limit near 0 (a tipping
            # point's) is the difference of two rounded numbers of the size of the estimate
            scale = abs(f(r["estimate"])) + abs(half)
            np.testing.assert_allclose([f(r["ci_low"]), f(r["ci_high"])],
                                       [f(r["estimate"]) - half, f(r["estimate"]) + half],
                                       rtol=1e-8, atol=1e-8 * scale,
                                       err_msg=f"{name}: {r.iloc[:6].to_dict()}")
            checked += 1
    assert checked > 100


@pytest.mark.slow
def test_pipeline_stops_on_errors_and_keeps_the_listing(tmp_path):
    work = _workdir(tmp_path)
    part = work / "synthetic_data" / "participants.csv"
    lines = part.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("arm")] = "placebo"
    lines[1] = ",".join(cells)
    part.write_text("\n".join(lines) + "\n")
    res = _run([SNAKEMAKE, "--cores", "2", "--configfile", "config/test.yaml"], cwd=work)
    assert res.returncode != 0
    val = work / "results" / "validation"
    assert not (val / "PASSED").exists()
    assert (val / "exit_status.txt").read_text().strip() == "1"
    detail = (val / "issues_detail.tsv").read_text()
    assert "placebo" in detail
    (line,) = _end_lines(res)  # no earlier results to move aside
    assert re.fullmatch(r"Pipeline stopped at the validation gate: \d+ unexplained errors? in the extract\. "
                        r"Open results/validation/validation\.html", line), line
    assert int(re.search(r"(\d+) unexplained", line).group(1)) == unexplained_errors(work / "results") > 0
    assert "Gate FAILED" in (work / "results" / "logs" / "validate.log").read_text()
