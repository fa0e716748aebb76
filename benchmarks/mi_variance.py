"""Why multiple imputation over-covers WEMWBS month 12 in the selective-engagement truth
recovery (not run in CI; issue 14 point 6, docs/cace.md §9).

On the replicate trials of ``cace_recovery.py`` (trial seeds ``[seed, r]``, the parameters
of ``--params-seed``, n = ``--n``), validated and derived through the package as there, the
ITT (ANCOVA on arm, baseline score and site, HC1) and the CACE
(:func:`outcomes.cace.fit_cace`, the same covariates) of WEMWBS at month 12, by complete
cases and by the package's MI (``norm`` by arm, ``--iterations`` sweeps, seeded
``SeedSequence([seed, r])``: imputation i is the one ``cace_recovery.py`` draws) under four
imputation models, each pooled by Rubin's rules over the first 5 and over all ``--m``
imputations (imputation i does not depend on m):

- ``plan``: the package's model (every score of every instrument at every visit, strata,
  age, prior admissions, readmission before each visit: 51 predictors per arm);
- ``analysis``: the analysis model's variables only (WEMWBS at baseline and month 12, site);
- ``analysis+SWEMRAW``: and the SWEMWBS raw score at baseline and month 12 (7 of WEMWBS's
  14 items: an item-missing WEMWBS may be imputed from an observed SWEMWBS);
- ``analysis+WEMWBS_month_4``: and month-4 WEMWBS.

Per replicate and model it records the mean within- and between-imputation variances
(``ubar``, ``b``) and ``resid_ratio``: the residual variance (given arm, baseline, site) of
the imputed month-12 values over that of the observed ones, averaged over the imputations;
and per replicate how many due month-12 WEMWBS are missing and, of those, how many have an
observed SWEMWBS raw score (``n_swemraw_observed``) or month-4 WEMWBS.

    .venv/bin/python benchmarks/mi_variance.py [--reps 200] [--first-rep 0] [--n 600]
        [--engagement selective|default] [--m 20] [--iterations 10] [--models plan,analysis,...]
        [--estimators itt,cace] [--truth FILE] [--jobs 1] [--replicates-tsv FILE]
    .venv/bin/python benchmarks/mi_variance.py --summarise REPLICATES_TSV [--truth FILE]

``--truth``: the truth.json of ``outcomes simulate --seed PARAMS_SEED --engagement E``
(its ``engagement`` block for selective, ``scores`` for default; computed when absent).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cace_recovery import (  # noqa: E402
    PARAMS_SEED,
    _dummies,
    _registry,
    analysis_plan,
    participant_data,
    replicate_tables,
    validate_and_derive,
)
from missingness_bias import run, summarise  # noqa: E402

from outcomes.cace import fit_cace, two_stage_least_squares  # noqa: E402
from outcomes.imputation.frame import ImputationFrame, imputation_frame  # noqa: E402
from outcomes.imputation.mice import impute  # noqa: E402
from outcomes.imputation.pool import rubin  # noqa: E402
from outcomes.imputation.settings import ImputationSettings  # noqa: E402
from outcomes.simulate import simulate  # noqa: E402

Y, BASE = "WEMWBS_month_12", "WEMWBS_baseline"
MODELS = ("plan", "analysis", "analysis+SWEMRAW", "analysis+WEMWBS_month_4")


def restricted(frame: ImputationFrame, scores: list[str], predictors: list[str]) -> ImputationFrame:
    """``frame`` with only ``scores`` imputed (no passive score) and only ``predictors``
    (ADSL columns) beside them."""
    data = frame.data[["USUBJID", "ARM", "TRT01PN", *predictors, *scores]]
    return dataclasses.replace(
        frame, data=data, eligible=frame.eligible[list(scores)], score_columns=tuple(scores),
        predictor_columns=("TRT01PN", *predictors), passive=(),
        categorical=tuple(c for c in frame.categorical if c in predictors))


def model_frames(frame: ImputationFrame) -> dict[str, ImputationFrame]:
    return {
        "plan": frame,
        "analysis": restricted(frame, [BASE, Y], ["SITEID"]),
        "analysis+SWEMRAW": restricted(frame, [BASE, Y, "SWEMRAW_baseline", "SWEMRAW_month_12"],
                                       ["SITEID"]),
        "analysis+WEMWBS_month_4": restricted(frame, [BASE, "WEMWBS_month_4", Y], ["SITEID"]),
    }


def fits(y: np.ndarray, base: np.ndarray, people: pd.DataFrame) -> dict[str, tuple]:
    """(estimate, SE, df) of the ITT and the CACE on one (completed) data set."""
    keep = np.isfinite(y) & np.isfinite(base)
    a = pd.Series(people["A"].to_numpy()[keep], name="ARM")
    rec = pd.Series(people["RECEIPT"].to_numpy()[keep], name="RECEIPT")
    w = pd.concat([pd.DataFrame({"BASE": base}), _dummies(people["SITEID"], "SITEID")],
                  axis=1)[keep].reset_index(drop=True)
    itt = two_stage_least_squares(y[keep], a, w, a, what="WEMWBS month 12")
    cace = fit_cace(y[keep], rec, a, w, what="WEMWBS month 12")
    return {"itt": (itt.estimate("ARM"), itt.std_error("ARM"), itt.df),
            "cace": (cace.estimate("RECEIPT"), cace.std_error("RECEIPT"), cace.df)}


def residual_variance(y: np.ndarray, base: np.ndarray, people: pd.DataFrame,
                      imputed: np.ndarray) -> tuple[float, float]:
    """Variance of the OLS residuals (y on arm, baseline, site) of the observed and of the
    imputed values."""
    x = np.column_stack([np.ones(len(y)), people["A"], base,
                         _dummies(people["SITEID"], "S").to_numpy(float)])
    ok = np.isfinite(y) & np.isfinite(base)
    e = y - x @ np.linalg.lstsq(x[ok], y[ok], rcond=None)[0]
    return float(np.var(e[ok & ~imputed])), float(np.var(e[ok & imputed]))


def variance_replicate(r: int, _seed_plus_r=None, *, seed: int, n: int, engagement: str,
                       truth: dict, m: int, iterations: int, models: tuple[str, ...],
                       params_seed: int = PARAMS_SEED) -> list[dict]:
    """Replicate ``r``: one row per estimator × (complete cases, model × {5, m})."""
    t0 = time.process_time()
    plan = analysis_plan()
    tables = replicate_tables(n, [seed, r], params_seed=params_seed, engagement=engagement)
    derived = validate_and_derive(tables, plan)
    people = participant_data(derived["adsl"], plan)
    frame = imputation_frame(derived["adsl"], derived["adqs"], derived["adtte"], plan,
                             registry=_registry())
    d = frame.data
    miss = (d[Y].isna() & frame.eligible[Y]).to_numpy()
    ids = dict(rep=r, seed=f"{seed},{r}", engagement=engagement, n_missing=int(miss.sum()),
               n_swemraw_observed=int((miss & d["SWEMRAW_month_12"].notna()).sum()),
               n_wemwbs4_observed=int((miss & d["WEMWBS_month_4"].notna()).sum()))
    rows = []
    for est, (q, se, df) in fits(d[Y].to_numpy(float), d[BASE].to_numpy(float), people).items():
        rows.append(dict(ids, estimator=est, model="complete_case", m=0, estimate=q,
                         std_error=se, ci_low=q - 1.96 * se, ci_high=q + 1.96 * se, df=df,
                         truth=truth[est]))
    frames = model_frames(frame)
    for name in models:
        imp = impute(frames[name], ImputationSettings(method="norm", m=m, iterations=iterations),
                     np.random.SeedSequence([seed, r]))
        per, ratio = {"itt": [], "cace": []}, []
        for i in range(1, m + 1):
            c = imp.completed(i)
            y, b = c[Y].to_numpy(float), c[BASE].to_numpy(float)
            for est, f in fits(y, b, people).items():
                per[est].append(f)
            vo, vi = residual_variance(y, b, people, miss)
            ratio.append(vi / vo)
        for est, fl in per.items():
            for k in sorted({min(5, m), m}):
                p = rubin([f[0] for f in fl[:k]], [f[1] ** 2 for f in fl[:k]],
                          df_complete=float(np.mean([f[2] for f in fl[:k]])))
                rows.append(dict(ids, estimator=est, model=name, m=k, estimate=p.estimate,
                                 std_error=p.std_error, ci_low=p.ci_low, ci_high=p.ci_high,
                                 df=p.df, ubar=p.ubar, b=p.b, fmi=p.fmi,
                                 resid_ratio=float(np.mean(ratio[:k])), truth=truth[est]))
    cpu = time.process_time() - t0
    return [dict(row, cpu_seconds=cpu) for row in rows]


def truths(path: str | None, engagement: str, params_seed: int) -> dict[str, float]:
    """The ITT and CACE of WEMWBS month 12 (the CACE only under selective engagement)."""
    if path:
        t = json.loads(Path(path).read_text(encoding="utf-8"))
        if t["meta"]["seed"] != params_seed or (engagement == "selective") != ("engagement" in t):
            raise SystemExit(f"{path}: not the {engagement} truth of seed {params_seed}")
    else:
        t = simulate(600, params_seed, engagement=engagement)[1]
    if engagement == "selective":
        block = t["engagement"]["scores"]["month_12"]["WEMWBS"]
        return {"itt": block["itt"], "cace": block["cace"]}
    return {"itt": t["scores"]["month_12"]["WEMWBS"]["difference"], "cace": np.nan}


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """``missingness_bias.summarise`` per engagement, estimator, model and m, with the ratio
    of the root mean squared SE to the empirical SD."""
    df = df.loc[np.isfinite(df["truth"])]
    keep = [c for c in df.columns if c not in ("seed", "cpu_seconds", "n_missing",
                                               "n_swemraw_observed", "n_wemwbs4_observed")]
    summ = summarise(df[keep], by=("engagement", "estimator", "model", "m"))
    rms = df.groupby(["engagement", "estimator", "model", "m"], sort=False)["std_error"].apply(
        lambda s: float(np.sqrt((s ** 2).mean()))).to_numpy()
    summ["rms_se/sd"] = rms / summ["empirical_sd"].to_numpy()
    return summ


def print_summary(df: pd.DataFrame) -> None:
    per_rep = df.groupby("rep")[["n_missing", "n_swemraw_observed", "n_wemwbs4_observed"]].first()
    print(f"{len(per_rep)} replicates; due month-12 WEMWBS missing: {per_rep['n_missing'].sum()} "
          f"(mean {per_rep['n_missing'].mean():.1f} per trial), of which SWEMWBS raw score "
          f"observed {per_rep['n_swemraw_observed'].sum()}, month-4 WEMWBS observed "
          f"{per_rep['n_wemwbs4_observed'].sum()}\n")
    cols = ["engagement", "estimator", "model", "m", "reps", "truth", "bias", "bias_mc_se",
            "empirical_sd", "mean_model_se", "rms_se/sd", "coverage_%", "coverage_mc_se_%",
            "df", "ubar", "b", "fmi", "resid_ratio"]
    summ = summary_table(df)
    print(summ[[c for c in cols if c in summ.columns]].to_markdown(index=False, floatfmt=".4g"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--first-rep", type=int, default=0)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--params-seed", type=int, default=PARAMS_SEED)
    ap.add_argument("--engagement", default="selective", choices=("selective", "default"))
    ap.add_argument("--truth", default=None)
    ap.add_argument("--m", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--replicates-tsv", default=None)
    ap.add_argument("--summarise", default=None, metavar="FILE")
    args = ap.parse_args()
    if args.summarise:
        print_summary(pd.read_csv(args.summarise, sep="\t", keep_default_na=False,
                                  na_values=["NA", "", "nan"]))
        return
    models = tuple(args.models.split(","))
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise SystemExit(f"--models: unknown {unknown[0]} (known: {', '.join(MODELS)})")
    truth = truths(args.truth, args.engagement, args.params_seed)
    replicate = functools.partial(
        variance_replicate, seed=args.seed, n=args.n, engagement=args.engagement, truth=truth,
        m=args.m, iterations=args.iterations, models=models, params_seed=args.params_seed)
    df = run(replicate, args.reps, args.seed, jobs=args.jobs,
             replicates_tsv=args.replicates_tsv, first=args.first_rep)
    print_summary(df)


if __name__ == "__main__":
    main()
