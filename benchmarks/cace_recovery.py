"""Truth recovery of the CACE, ITT, per-protocol, as-treated and dose–response estimates in
the selective-engagement scenario (not run in CI; issue 14 point 6).

Each replicate trial r is ``outcomes simulate --engagement selective`` of ``--n``
participants (default 600, the bundled trial's size) whose trial streams come from
``numpy.random.default_rng([seed, r])`` and whose *parameters* (site effects, peer workers
per site: the parameter stream) are those of ``--params-seed`` (default 20261122, the
bundled seed). A truth depends on its seed through the parameters and the truth
population's own stream, never through the trial streams, so every replicate has the same
truth: one
``truth.json → engagement`` computed once from a 200,000-person truth population at
``--params-seed`` (``--truth``: a truth.json to reuse; without it, ``simulate`` computes it).
:func:`replicate_tables` with the trial seed equal to ``--params-seed`` is exactly
``simulate(n, params_seed, engagement="selective")`` (tested).

Each replicate goes through the package as the pipeline does (``outcomes validate`` →
``outcomes derive``: :func:`outcomes.validation.validate_extract` on the written CSVs,
:func:`outcomes.adam.derive_all` on its clean tables, questionnaires scored in ADQS).
Receipt is ``NCONTACT ≥ 1`` (at least one contact up to the data cut: every simulated
contact lies within 4 months of discharge, so this is "at least one contact in the
follow-up", the plan's default definition of ENGFL). Per outcome:

- ``cace``: :func:`outcomes.cace.fit_cace`, receipt instrumented by the arm;
- ``itt``: OLS on the arm; ``as_treated``: OLS on receipt (everyone); ``per_protocol``: OLS
  on receipt among the engaged treated and all controls (biased comparisons);
- ``dose_response``: :func:`outcomes.cace.fit_dose_response`, contacts instrumented by the
  arm and arm × (AGE, PRIORADM, diagnosis group) (centred), these covariates added;

all by the same 2SLS engine (OLS = 2SLS with the regressor as its own instrument), HC1
and, with ``--icc``, CR1 by peer worker (:func:`outcomes.clustering.cluster_ids`).
Covariates: questionnaire scores as the questionnaire ANCOVA (baseline score + site);
readmission as the primary analysis (site + diagnosis group). Missing questionnaire scores
as ``--missing-data`` says: ``mi`` (default, the project config's method) imputes with the
package (``outcomes.imputation``: norm by arm, ``--m`` sets of ``--iterations`` sweeps,
seeded ``SeedSequence([seed, r])``) and pools each estimator by Rubin's rules
(:func:`outcomes.imputation.pool.rubin`, complete-data df = the fit's); ``complete_case``
drops them. Readmission (``cuminc_365_death_competing``: readmitted within 365 days of
discharge, death without readmission = 0) is complete: participants withdrawn before day
365 without a readmission (status unknown) are left out.

    .venv/bin/python benchmarks/cace_recovery.py [--reps 200] [--n 600] [--seed 20261130]
        [--params-seed 20261122] [--truth FILE] [--missing-data mi|complete_case] [--m 5]
        [--iterations 10] [--icc 0] [--paramcds WEMWBS,...] [--instruments wemwbs,...]
        [--first-rep 0] [--jobs 1]
        [--tsv FILE] [--replicates-tsv FILE]
    .venv/bin/python benchmarks/cace_recovery.py --summarise REPLICATES_TSV

Prints, per outcome and estimator, ``missingness_bias.summarise``'s table against the
estimand each estimator is meant to estimate (``truth``: the CACE for cace, per_protocol
and as_treated; the ITT; the Wald effect per contact for dose_response) with each
estimator's own expected value (``own_truth``: per_protocol(_adjusted), as_treated,
marginal effect per contact) as an extra column.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from missingness_bias import run, summarise  # noqa: E402

from outcomes import contract  # noqa: E402
from outcomes.adam import derive_all  # noqa: E402
from outcomes.cace import fit_cace, fit_dose_response, two_stage_least_squares  # noqa: E402
from outcomes.clustering import cluster_ids  # noqa: E402
from outcomes.errors import NotEstimable  # noqa: E402
from outcomes.imputation.frame import imputation_frame  # noqa: E402
from outcomes.imputation.mice import impute  # noqa: E402
from outcomes.imputation.pool import rubin  # noqa: E402
from outcomes.imputation.settings import ImputationSettings  # noqa: E402
from outcomes.instruments import load_registry  # noqa: E402
from outcomes.plan import AnalysisPlan, PredictorSelection, validate_config  # noqa: E402
from outcomes.simulate import simulate, table_to_csv  # noqa: E402
from outcomes.simulate.missingness import scenario  # noqa: E402
from outcomes.simulate.parameters import (  # noqa: E402
    CONTROL,
    DATA_CUT,
    TREATED,
    EngagementSpec,
    draw_parameters,
)
from outcomes.simulate.peer_workers import draw_workers  # noqa: E402
from outcomes.simulate.trial import simulate_trial  # noqa: E402
from outcomes.survival.binary import outcome_status  # noqa: E402
from outcomes.tables import write_tsv  # noqa: E402
from outcomes.validation import validate_extract  # noqa: E402

PARAMS_SEED = 20261122
#: the primary outcome's truth block (while alive: death without readmission is "not readmitted")
READMISSION = "cuminc_365_death_competing"
HORIZON = 365.0
ESTIMATORS = ("cace", "itt", "per_protocol", "as_treated", "dose_response")
#: covariates whose interactions with the arm instrument the dose (they predict it, §10b)
DOSE_MODIFIERS = ("AGE", "PRIORADM")
ID = ["USUBJID", "ARM", "SITEID", "DIAGGR", "AGE", "PRIORADM"]


# -- data ------------------------------------------------------------------------------

def replicate_tables(n: int, trial_seed, *, params_seed: int = PARAMS_SEED, icc: float = 0.0,
                     engagement: str = "selective"):
    """The four tables of ``simulate(n, ·, icc=icc, engagement=engagement)`` with the
    parameter stream of ``params_seed`` and every trial stream (trial, peer-worker draws and
    assignment, engagement) of ``default_rng(trial_seed)`` (an int or a sequence such as
    ``[seed, r]``); the spawn order is ``simulate``'s, so ``trial_seed == params_seed``
    gives its tables exactly. ``engagement="default"``: the default trial (no engagement
    stream) on the same trial stream."""
    params = draw_parameters(np.random.default_rng(params_seed).spawn(6)[0])
    _, r_trial, _, _, r_workers, r_engagement = np.random.default_rng(trial_seed).spawn(6)
    workers = r_assign = None
    if icc > 0:
        r_draw, r_assign, _, _ = r_workers.spawn(4)
        workers = draw_workers(r_draw, params, icc)
    eng = (EngagementSpec(), r_engagement.spawn(2)[0]) if engagement == "selective" else None
    tables, _ = simulate_trial(int(n), r_trial, params, _registry(), scenario("default", None),
                               workers, r_assign, eng)
    return tables


@functools.cache
def _registry():
    return load_registry()


def analysis_plan(instruments: tuple[str, ...] | None = None) -> AnalysisPlan:
    """The default plan at the simulator's data cut, scoring every instrument or
    ``instruments`` (which also makes the imputation model smaller)."""
    cfg = {"data_cut": DATA_CUT.isoformat()}
    if instruments:
        cfg["instruments"] = list(instruments)
    return AnalysisPlan.from_config(validate_config(cfg))


def validate_and_derive(tables, plan: AnalysisPlan) -> dict[str, pd.DataFrame]:
    """``outcomes validate`` then ``outcomes derive`` on one extract: the CSVs are written,
    validated (any unexplained error stops the benchmark, as the gate stops the pipeline)
    and ADaM is derived from the clean tables."""
    with tempfile.TemporaryDirectory(prefix="cace_recovery_") as tmp:
        for name, file_name in contract.TABLE_FILES.items():
            (Path(tmp) / file_name).write_text(table_to_csv(tables[name]), encoding="utf-8")
        result = validate_extract(tmp, arms=(TREATED, CONTROL), data_cut=DATA_CUT)
    if result.n_errors:
        raise RuntimeError(f"validation found {result.n_errors} errors in a simulated extract")
    return derive_all(result.clean, plan)


def participant_data(adsl: pd.DataFrame, plan: AnalysisPlan) -> pd.DataFrame:
    """One row per ITT participant (USUBJID order): arm (0/1), contacts, receipt
    (``NCONTACT ≥ 1``), the peer-worker cluster and the baseline covariates."""
    itt = adsl.loc[adsl["ITTFL"] == "Y"].sort_values("USUBJID", kind="mergesort")
    cl = cluster_ids(itt, plan.treated_arm)
    return pd.DataFrame({
        "USUBJID": itt["USUBJID"].astype(str).to_numpy(),
        "A": (itt["ARM"] == plan.treated_arm).astype(float).to_numpy(),
        "NCONTACT": itt["NCONTACT"].astype(float).to_numpy(),
        "RECEIPT": (itt["NCONTACT"] >= 1).astype(float).to_numpy(),
        "CLUSTER": cl.astype(str).to_numpy(),
        "SITEID": itt["SITEID"].astype(str).to_numpy(),
        "DIAGGR": itt["DIAGGR"].fillna("").astype(str).to_numpy(),
        "AGE": pd.to_numeric(itt["AGE"]).astype(float).to_numpy(),
        "PRIORADM": pd.to_numeric(itt["PRIORADM"]).astype(float).to_numpy(),
    })


def readmission_outcome(adtte: pd.DataFrame, people: pd.DataFrame) -> np.ndarray:
    """Readmitted within 365 days (1), not (0, death without readmission included), or
    unknown (NaN: withdrawn before day 365 without a readmission), in ``people``'s order."""
    st = outcome_status(adtte.loc[adtte["PARAMCD"] == "READMIT"], HORIZON).set_axis(
        adtte.loc[adtte["PARAMCD"] == "READMIT", "USUBJID"].astype(str).to_numpy())
    st = st.reindex(people["USUBJID"])
    y = st["event"].astype(float).to_numpy(copy=True)
    y[st["lost"].astype(bool).to_numpy()] = np.nan
    return y


# -- estimators ------------------------------------------------------------------------

def _dummies(s: pd.Series, prefix: str) -> pd.DataFrame:
    return pd.get_dummies(s, prefix=prefix, drop_first=True, dtype=float).reset_index(drop=True)


def fit_estimators(y: np.ndarray, data: pd.DataFrame, covariates: pd.DataFrame | None, *,
                   clustered: bool = False, what: str = "the outcome") -> dict:
    """The five estimators on one complete dataset (``y`` and ``data`` rows aligned, no
    missing value): ``{estimator: IVFit or NotEstimable}``. ``covariates`` None: unadjusted
    (the Wald identity CACE = ITT / compliance then holds exactly)."""
    a = pd.Series(data["A"].to_numpy(), name="ARM")
    rec = pd.Series(data["RECEIPT"].to_numpy(), name="RECEIPT")
    cl = data["CLUSTER"].to_numpy() if clustered else None
    W = None if covariates is None else covariates.reset_index(drop=True)
    pp = ((a == 0) | (rec == 1)).to_numpy()

    def ols(yy, x, w, c):
        return two_stage_least_squares(yy, x, w, x, clusters=c, what=what)

    def dose():
        base = pd.DataFrame({m: data[m].to_numpy() for m in DOSE_MODIFIERS})
        dg = _dummies(data["DIAGGR"], "DIAGGR")
        w = pd.concat([x for x in (W, base, dg) if x is not None], axis=1)
        w = w.loc[:, ~w.columns.duplicated()]
        return fit_dose_response(y, data["NCONTACT"].rename("NCONTACT"), a, w,
                                 (*DOSE_MODIFIERS, *dg.columns), clusters=cl, what=what)

    jobs = {
        "cace": lambda: fit_cace(y, rec, a, W, clusters=cl, what=what),
        "itt": lambda: ols(y, a, W, cl),
        "per_protocol": lambda: ols(y[pp], rec[pp].reset_index(drop=True),
                                    None if W is None else W[pp].reset_index(drop=True),
                                    None if cl is None else cl[pp]),
        "as_treated": lambda: ols(y, rec, W, cl),
        "dose_response": dose,
    }
    out = {}
    for name, job in jobs.items():
        try:
            out[name] = job()
        except NotEstimable as exc:
            out[name] = exc
    return out


def _term(fit) -> str:
    return fit.endogenous[0]


def fit_row(fits: list, **ids) -> dict:
    """One estimator's row from its fit on each imputed dataset (pooled by Rubin's rules
    when more than one) or on the complete data."""
    bad = [f for f in fits if isinstance(f, NotEstimable)]
    if bad:
        return {**ids, "status": "not estimable", "reason": str(bad[0])}
    t = _term(fits[0])
    fs = fits[0].first_stage[0]
    row = {**ids, "status": "estimated", "reason": "", "n_analysed": fits[0].n,
           "first_stage": float(np.mean([f.first_stage[0].estimate for f in fits])),
           "first_stage_f": float(np.mean([f.first_stage[0].f for f in fits])),
           "first_stage_robust_f": float(np.mean([f.first_stage[0].robust_f for f in fits]))}
    if len(fits) == 1:
        lo, hi = fits[0].conf_int(t)
        row.update(estimate=fits[0].estimate(t), std_error=fits[0].std_error(t), ci_low=lo,
                   ci_high=hi, fmi=0.0)
    else:
        p = rubin([f.estimate(t) for f in fits], [f.std_error(t) ** 2 for f in fits],
                  df_complete=float(np.mean([f.df for f in fits])))
        row.update(estimate=p.estimate, std_error=p.std_error, ci_low=p.ci_low,
                   ci_high=p.ci_high, fmi=p.fmi)
    if not np.isfinite(fs.f):
        row["first_stage_f"] = row["first_stage_robust_f"] = np.nan  # OLS: no first stage
    return row


def targets(truth: dict, estimator: str, block: dict) -> tuple[float, float]:
    """(the estimand the estimator is compared with, its own expected value)."""
    if estimator == "itt":
        return block["itt"], block["itt"]
    if estimator == "dose_response":
        return block["effect_per_contact"], block["marginal_effect_per_contact"]
    own = block.get(f"{estimator}_adjusted", block.get(estimator, block["cace"]))
    return block["cace"], own


# -- one replicate ---------------------------------------------------------------------

def cace_replicate(r: int, _seed_plus_r: int | None = None, *, seed: int, n: int, truth: dict,
                   plan: AnalysisPlan, params_seed: int = PARAMS_SEED, icc: float = 0.0,
                   missing_data: str = "mi", m: int = 5, iterations: int = 10,
                   paramcds: tuple[str, ...] | None = None, adjust: bool = True,
                   predictors: PredictorSelection | None = None) -> list[dict]:
    """Replicate ``r`` (trial seed ``[seed, r]``; the second positional argument, the
    runner's ``seed + r``, is not used): the five estimators of every score of
    ``truth → engagement → scores`` (``paramcds``: a subset) at month 4 and 12, and of the
    12-month readmission, one row each per variance (HC1; CR1 with ``icc > 0``).
    ``adjust`` False: no covariates (for the Wald identity check); ``predictors``: the
    imputation model's predictor selection (the plan's ``missing_data.predictors``)."""
    t0 = time.process_time()
    eng = truth["engagement"]
    tables = replicate_tables(n, [seed, r], params_seed=params_seed, icc=icc)
    derived = validate_and_derive(tables, plan)
    people = participant_data(derived["adsl"], plan)
    variances = (("HC1", False), ("CR1", True)) if icc > 0 else (("HC1", False),)
    frame = imputation_frame(derived["adsl"], derived["adqs"], derived["adtte"], plan,
                             registry=_registry())
    if (frame.data["USUBJID"].to_numpy() != people["USUBJID"].to_numpy()).any():
        raise RuntimeError("imputation frame and ADSL disagree on the ITT participants")
    if missing_data == "mi":
        imp = impute(frame, ImputationSettings(method="norm", m=m, iterations=iterations,
                                               predictors=predictors or PredictorSelection()),
                     np.random.SeedSequence([seed, r]))
        datasets = [imp.completed(i) for i in range(1, m + 1)]
    else:
        datasets = [frame.data]
    rows = []
    ids = dict(rep=r, seed=f"{seed},{r}")

    def record(outcome, visit, y_sets, covs, block):
        for variance, clustered in variances:
            fits = {e: [] for e in ESTIMATORS}
            for y, cov_frame in zip(y_sets, covs, strict=True):
                keep = np.isfinite(y)
                if cov_frame is not None:
                    keep &= np.isfinite(cov_frame.to_numpy(float)).all(axis=1)
                for e, f in fit_estimators(
                        y[keep], people.loc[keep].reset_index(drop=True),
                        None if cov_frame is None else cov_frame.loc[keep].reset_index(drop=True),
                        clustered=clustered, what=f"{outcome} {visit}").items():
                    fits[e].append(f)
            for e in ESTIMATORS:
                target, own = targets(truth, e, block)
                rows.append(fit_row(fits[e], **ids, outcome=outcome, visit=visit, estimator=e,
                                    variance=variance, truth=target, own_truth=own))

    site = _dummies(people["SITEID"], "SITEID")
    names = paramcds or tuple(eng["scores"]["month_12"])
    for visit in ("month_4", "month_12"):
        for pc in names:
            block = eng["scores"][visit].get(pc)
            if block is None or f"{pc}_{visit}" not in frame.data.columns:
                continue
            ys = [d[f"{pc}_{visit}"].to_numpy(float) for d in datasets]
            covs = [pd.concat([pd.DataFrame({"BASE": d[f"{pc}_baseline"].to_numpy(float)}), site],
                              axis=1) if adjust else None for d in datasets]
            record(pc, visit, ys, covs, block)
    y = readmission_outcome(derived["adtte"], people)
    covs = pd.concat([site, _dummies(people["DIAGGR"], "DIAGGR")], axis=1) if adjust else None
    record("READMIT", "365_days", [y], [covs], eng["readmission"][READMISSION])
    seconds = time.process_time() - t0
    for row in rows:
        row["cpu_seconds"] = seconds
    return rows


# -- driver ----------------------------------------------------------------------------

def load_truth(path: str | None, params_seed: int, icc: float) -> dict:
    """truth.json of ``outcomes simulate --seed params_seed --engagement selective`` (200,000
    in the truth population): read from ``path`` or computed once."""
    if path:
        truth = json.loads(Path(path).read_text(encoding="utf-8"))
        icc_of = truth.get("clustering", {}).get("icc", 0.0)
        if truth["meta"]["seed"] != params_seed or "engagement" not in truth or icc_of != icc:
            raise SystemExit(f"{path}: not the selective-engagement truth of seed {params_seed} "
                             f"and icc {icc}")
        return truth
    return simulate(600, params_seed, engagement="selective", icc=icc)[1]


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """``missingness_bias.summarise`` per outcome, visit, estimator and variance (estimated
    rows), the not-estimable count beside."""
    ok = df.loc[df["status"] == "estimated"].drop(columns=["status", "reason"])
    ok = ok.drop(columns=["cpu_seconds"])
    summ = summarise(ok, by=("outcome", "visit", "estimator", "variance"))
    bad = (df["status"] != "estimated").groupby(
        [df["outcome"], df["visit"], df["estimator"], df["variance"]], sort=False).sum()
    summ["not_estimable"] = [int(bad.get(tuple(k), 0)) for k in
                             summ[["outcome", "visit", "estimator", "variance"]].to_numpy()]
    return summ


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--first-rep", type=int, default=0, help="replicates first-rep .. first-rep + reps - 1")
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--params-seed", type=int, default=PARAMS_SEED)
    ap.add_argument("--truth", default=None, help="truth.json of the params seed (else computed)")
    ap.add_argument("--missing-data", default="mi", choices=("mi", "complete_case"))
    ap.add_argument("--m", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--icc", type=float, default=0.0)
    ap.add_argument("--predictors", default="all", choices=("all", "quickpred"),
                    help="imputation predictors: every column, or mice::quickpred's selection")
    ap.add_argument("--mincor", type=float, default=0.1, help="quickpred's mincor")
    ap.add_argument("--paramcds", default=None, help="comma-separated PARAMCDs (default all)")
    ap.add_argument("--instruments", default=None,
                    help="comma-separated instruments the plan scores (default all)")
    ap.add_argument("--jobs", type=int, default=1, help="processes (replicates in parallel)")
    ap.add_argument("--tsv", default=None, help="write the summary table here (TSV)")
    ap.add_argument("--replicates-tsv", default=None, help="every replicate's rows (TSV)")
    ap.add_argument("--summarise", default=None, metavar="FILE",
                    help="only print the summary of a --replicates-tsv file (e.g. of an interrupted run)")
    args = ap.parse_args()
    if args.summarise:
        df = pd.read_csv(args.summarise, sep="\t", keep_default_na=False, na_values=["NA"])
        print(f"{df['rep'].nunique()} replicates of {args.summarise}\n")
        print_summary(summary_table(df))
        return
    t0 = time.perf_counter()
    truth = load_truth(args.truth, args.params_seed, args.icc)
    print(f"truth ready ({time.perf_counter() - t0:.0f} s)", flush=True)
    replicate = functools.partial(
        cace_replicate, seed=args.seed, n=args.n, truth=truth,
        plan=analysis_plan(tuple(args.instruments.split(",")) if args.instruments else None),
        params_seed=args.params_seed, icc=args.icc, missing_data=args.missing_data, m=args.m,
        iterations=args.iterations,
        paramcds=tuple(args.paramcds.split(",")) if args.paramcds else None,
        predictors=PredictorSelection(select=args.predictors, mincor=args.mincor))
    df = run(replicate, args.reps, args.seed, jobs=args.jobs, replicates_tsv=args.replicates_tsv,
             first=args.first_rep)
    wall = time.perf_counter() - t0
    summ = summary_table(df)
    if args.tsv:
        write_tsv(summ, args.tsv)
    cpu = df.groupby("rep")["cpu_seconds"].first()
    print(f"\nselective engagement: n = {args.n}, {args.reps} replicates (trial seeds [{args.seed}, r], "
          f"r = {args.first_rep}..{args.first_rep + args.reps - 1}), parameters of seed "
          f"{args.params_seed}, {args.missing_data}"
          f"{f' (norm by arm, m = {args.m}, {args.iterations} sweeps, predictors {args.predictors}' if args.missing_data == 'mi' else ''}"
          f"{f' mincor {args.mincor})' if args.missing_data == 'mi' and args.predictors == 'quickpred' else ')' if args.missing_data == 'mi' else ''}"
          f", icc {args.icc}; {wall:.0f} s wall, {cpu.mean():.1f} s CPU per replicate, "
          f"{args.jobs} job(s)\n")
    print_summary(summ)


def print_summary(summ: pd.DataFrame) -> None:
    cols = ["outcome", "visit", "estimator", "variance", "reps", "truth", "own_truth", "bias",
            "bias_mc_se", "|bias|_%_of_sd", "empirical_sd", "mean_model_se", "coverage_%",
            "coverage_mc_se_%", "first_stage", "first_stage_robust_f", "not_estimable"]
    print(summ[cols].to_markdown(index=False, floatfmt=".4g"))


if __name__ == "__main__":
    main()
