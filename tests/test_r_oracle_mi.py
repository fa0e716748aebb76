"""R ``mice::pool()`` as the oracle of Rubin's rules and of the ANCOVA under MI.

The bundled trial (validated and derived in-process) is put in the wide format of
``outcomes.imputation.frame.imputation_frame`` (one row per ITT participant, a column per
score and visit; a visit after death or after the data cut is never imputed). R ``mice`` imputes it (m = 5,
5 iterations, predictive mean matching; enough for an equality test, whose point is the
pooling, not the imputations) and writes the completed datasets; R fits the ANCOVA with
``lm`` on each and pools with ``mice::pool()``. ``ancova_mi`` refits and pools the SAME
completed datasets, for every score × visit the plan analyses.

Tolerance 1e-8 relative: both sides compute the same closed forms on the same doubles
(the completed data are written with 17 significant digits); what differs is the least
squares solver (R's Householder QR, statsmodels' pseudo-inverse), about 1e-13 relative on
a coefficient. The between-imputation variance b is a variance of estimates that differ
by 1e-2 or more, so it carries about 1e-11, and the df, riv and fmi built from it as
much; 1e-8 leaves three orders of magnitude and still catches any formula error (a
wrong factor (1 + 1/m), ddof, or the large-sample df for Barnard–Rubin's moves the
numbers by 1e-3 or more).

Needs Rscript with mice (Debian r-cran-mice; scripts/r-test-deps.sh installs it). Without
it the test is skipped with the reason, unless CI is set, where it fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rscript import R_DIR, require_r

from outcomes.adam import derive_all
from outcomes.imputation.ancova import ancova_mi
from outcomes.imputation.frame import ImputationFrame, imputation_frame
from outcomes.plan import AnalysisPlan
from outcomes.validation import validate_extract

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "config" / "test.yaml"
M, MAXIT, SEED = 5, 5, 20261130
TOL = 1e-8
COVARIATES = ["USUBJID", "ARM", "SITEID", "DIAGGR", "TRT01PN", "AGE", "PRIORADM"]
COMPARED = ["estimate", "std_error", "df", "p_value", "ci_low", "ci_high", "riv", "fmi"]


def wide_frame(frame: ImputationFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What R is given of the package's imputation frame: the covariates and scores, and
    the cells to impute (missing, and the visit neither after death nor after the data
    cut: ``frame.eligible``)."""
    scores = list(frame.score_columns)
    data = frame.data[[*COVARIATES, *scores]]
    impute = (data[scores].isna() & frame.eligible[scores]).astype(int)
    return data, impute


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    require_r(("mice",), "r-base-core r-cran-mice")
    out = tmp_path_factory.mktemp("oracle_mi")
    plan = AnalysisPlan.load(PLAN)
    clean = validate_extract(ROOT / "synthetic_data", arms=plan.arms,
                             data_cut=plan.data_cut).clean
    ds = derive_all(clean, plan)
    frame = imputation_frame(ds["adsl"], ds["adqs"], ds["adtte"], plan)
    data, impute = wide_frame(frame)
    data.to_csv(out / "incomplete.csv", index=False, float_format="%.17g")
    impute.to_csv(out / "impute.csv", index=False)
    paramcds = sorted(ds["adqs"]["PARAMCD"].unique())
    params = {"treated": plan.treated_arm, "control": plan.control_arm, "m": M,
              "maxit": MAXIT, "seed": SEED, "paramcds": ",".join(paramcds),
              "visits": ",".join(plan.visits), "frame_visits": ",".join(frame.visits),
              "stratifiers": ",".join(plan.stratifiers)}
    (out / "params.tsv").write_text("".join(f"{k}\t{v}\n" for k, v in params.items()))
    r = subprocess.run(["Rscript", str(R_DIR / "mice_pool.R"), str(out / "incomplete.csv"),
                        str(out / "impute.csv"), str(out / "params.tsv"),
                        str(out / "completed.csv"), str(out / "pooled.tsv")],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"mice_pool.R failed: {r.stderr}"
    long = pd.read_csv(out / "completed.csv", keep_default_na=False, na_values=[""])
    completed = [g.drop(columns=[".imp", ".id"]).reset_index(drop=True)
                 for _, g in long.groupby(".imp", sort=True)]
    pooled = pd.read_csv(out / "pooled.tsv", sep="\t")
    return completed, pooled, plan, data, impute, paramcds


def _mice_315_df_at_b0(m: int, dfcom: float) -> float:
    """mice 3.15's df when b = 0: lambda floored at 1e-4 in ``barnard.rubin``."""
    lam = 1e-4
    dfold, dfobs = (m - 1) / lam**2, (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    return dfold * dfobs / (dfold + dfobs)


@pytest.mark.slow
def test_ancova_mi_equals_mice_pool_for_every_score_and_visit(oracle):
    completed, pooled, plan, data, impute, paramcds = oracle
    assert len(completed) == M
    expected = {(p, v) for p in paramcds for v in plan.visits}
    assert set(zip(pooled["paramcd"], pooled["avisit"], strict=True)) == expected
    problems, b0 = [], []
    for r in pooled.itertuples(index=False):
        res = ancova_mi(completed, r.paramcd, r.avisit, plan)
        assert res.ancova.status == "estimated", (r.paramcd, r.avisit, res.ancova.reason)
        ours = {**res.pooled.to_dict(), "std_error": res.pooled.std_error}
        assert res.pooled.df_complete == r.dfcom and res.pooled.m == r.m == M
        compared = COMPARED
        if r.b == 0:
            # Nothing imputed moves the estimate (mice left the score unimputed: WAISRMN is
            # WAISR / 12, a collinear column). Ours is the complete-data analysis (df =
            # dfcom, fmi = 0); mice 3.15's df comes from its floor on lambda.
            b0.append(r.paramcd)
            fit = res.fits[0]
            assert (res.pooled.b, res.pooled.df, res.pooled.riv, res.pooled.fmi) == \
                (0.0, fit.df, 0.0, 0.0)
            assert (res.ancova.p_value, res.ancova.ci_low, res.ancova.ci_high) == \
                pytest.approx((fit.p_value, fit.ci_low, fit.ci_high), rel=1e-12)
            assert r.df == pytest.approx(_mice_315_df_at_b0(M, r.dfcom), rel=TOL)
            compared = ["estimate", "std_error", "riv"]
        for c in compared:
            if not np.isclose(ours[c], getattr(r, c), rtol=TOL, atol=0):
                problems.append(f"{r.paramcd} {r.avisit} {c}: ours {ours[c]!r}, "
                                f"mice {getattr(r, c)!r}")
    assert not problems, "\n".join(problems)
    assert len(b0) < len(pooled) // 4  # the comparison is mostly of imputed scores
    # the data were incomplete, imputed where allowed and nowhere else
    wemwbs = f"WEMWBS_{plan.visits[-1]}"
    assert data[wemwbs].isna().mean() > 0.2 and impute[wemwbs].sum() > 0
    never = data[wemwbs].isna() & (impute[wemwbs] == 0)
    assert never.any()  # the deaths before month 12 ...
    assert all(c.loc[never, wemwbs].isna().all() for c in completed)  # ... stay missing
    assert all(c[wemwbs].notna().sum() == (~never).sum() for c in completed)
