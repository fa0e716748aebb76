"""R ``mice::pool()`` as the oracle of Rubin's rules and of the ANCOVA under MI.

The bundled trial (validated and derived in-process) is put in the wide format of
``outcomes.imputation`` (one row per ITT participant, a column per score and visit; a
visit after death or after the data cut is never imputed). R ``mice`` imputes it (m = 5,
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
from test_r_oracle import R_DIR, require_r

from outcomes.adam import derive_all
from outcomes.adam.adqs import AVISITN
from outcomes.contract import VISITS
from outcomes.imputation.ancova import ancova_mi
from outcomes.plan import AnalysisPlan
from outcomes.validation import validate_extract

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "config" / "test.yaml"
M, MAXIT, SEED = 5, 5, 20261130
TOL = 1e-8
COVARIATES = ["USUBJID", "ARM", "SITEID", "TRT01PN", "AGE", "PRIORADM"]
COMPARED = ["estimate", "std_error", "df", "p_value", "ci_low", "ci_high", "riv", "fmi"]
DAYS_PER_MONTH = 365.25 / 12


def wide_frame(adsl: pd.DataFrame, adqs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test-only stand-in for ``imputation_frame``: the wide data and the cells to impute
    (missing, and the visit neither after death nor after the data cut)."""
    itt = adsl.loc[adsl["ITTFL"] == "Y"].reset_index(drop=True)
    scores = adqs.pivot_table(index="USUBJID", columns=["PARAMCD", "AVISIT"], values="AVAL",
                              aggfunc="first", dropna=False)
    scores.columns = [f"{p}_{v}" for p, v in scores.columns]
    visit_of = {f"{p}_{v}": v for p in sorted(adqs["PARAMCD"].unique()) for v in VISITS}
    cols = list(visit_of)
    data = itt[COVARIATES].merge(scores.reindex(columns=cols), left_on="USUBJID",
                                 right_index=True, how="left")
    rand = pd.to_datetime(itt["RANDDT"])
    end = pd.concat([pd.to_datetime(itt["DTHDT"]), pd.to_datetime(itt["DCUTDT"])],
                    axis=1).min(axis=1)
    impute = pd.DataFrame(index=data.index)
    for c in cols:
        due = rand + pd.to_timedelta(AVISITN[visit_of[c]] * DAYS_PER_MONTH, unit="D")
        impute[c] = (data[c].isna() & ~(end < due)).astype(int)
    return data, impute


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    require_r(("mice",), "r-base-core r-cran-mice")
    out = tmp_path_factory.mktemp("oracle_mi")
    plan = AnalysisPlan.load(PLAN)
    clean = validate_extract(ROOT / "synthetic_data", arms=plan.arms,
                             data_cut=plan.data_cut).clean
    ds = derive_all(clean, plan)
    data, impute = wide_frame(ds["adsl"], ds["adqs"])
    data.to_csv(out / "incomplete.csv", index=False, float_format="%.17g")
    impute.to_csv(out / "impute.csv", index=False)
    paramcds = sorted(ds["adqs"]["PARAMCD"].unique())
    params = {"treated": plan.treated_arm, "control": plan.control_arm, "m": M,
              "maxit": MAXIT, "seed": SEED, "paramcds": ",".join(paramcds),
              "visits": ",".join(plan.visits), "frame_visits": ",".join(VISITS)}
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
