"""Recovery study of ``fit_mediation`` (not run in CI): coverage of the 95% percentile
bootstrap CIs and bias relative to the standard error, over replicate data sets.

Part "own": data-generating processes written here, with the truth from the DGP itself:
- ``linear``: M = 0.4 A + 0.5 x + u[site] + N(0, 1); Y = 0.25 A + 0.5 M + 0.3 x + u[site]
  + N(0, 1). Truth: ACME = 0.4 * 0.5 = 0.2, ADE = 0.25, total 0.45.
- ``linear_interaction``: as linear plus 0.3 A M in Y. Truth: ACME(t) = 0.4 (0.5 + 0.3 t),
  ADE(t) = 0.25 + 0.3 E[M(t)], E[M(t)] = 0.4 t (x and u[site] have mean 0).
- ``logistic``: P(Y = 1) = expit(-0.5 + 0.3 A + 0.5 M + 0.2 x + u[site]). Truth: potential
  outcome means over a population of 2,000,000 (expit evaluated exactly, M drawn).
- ``weibull``: log T = 5.6 + 0.3 A + 0.3 M - 0.2 x + 0.8 W (W standard minimum extreme
  value), censored at min(365, Uniform(100, 1000)) days, times floored to whole days (day-0
  events occur). Truth: risk by 365 days and median of the marginal counterfactual
  distributions over a population of 2,000,000 (continuous time).
Part "trial": ``outcomes.simulate.simulate`` (the synthetic ENRICH-like trial), ADaM
derivation as in the pipeline, WEMWBS at month 12 on arm through each month-4 score and
each mechanism (M2, M3) and all six jointly, adjusted as the plan's mediation analyses are
(docs/mediation.md: baseline of the mediator(s) and of WEMWBS, site, prior admissions;
complete cases); the truth is each
seed's ``truth.json`` (potential outcomes of a population of ``--truth-n`` people).

    .venv/bin/python benchmarks/mediation_coverage.py [--parts own,trial] [--reps 200]
        [--n 600] [--boot 1000] [--truth-n 20000] [--csv FILE]

Prints a Markdown table: coverage (%, with its binomial Monte Carlo SE), bias (mean
estimate - truth) as a share of the empirical SD of the estimates (with its Monte Carlo
SE, 100 / sqrt(reps) %), and the ratio of the mean bootstrap SE to that SD.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from outcomes.mediation import MissingDataWarning, fit_mediation  # noqa: E402

SITE_U = np.array([0.0, 0.2, -0.2, 0.1])
EFFECTS = ("acme_control", "acme_treated", "acme_average", "ade_control", "ade_treated",
           "ade_average", "total")


def _expit(x):
    return 1 / (1 + np.exp(-x))


def own_data(kind: str, n: int, rng: np.random.Generator) -> pd.DataFrame:
    arm = rng.permutation(np.arange(n) % 2)
    x = rng.normal(size=n)
    site = rng.integers(0, 4, n)
    u = SITE_U[site] - SITE_U.mean()
    m = 0.4 * arm + 0.5 * x + u + rng.normal(size=n)
    d = pd.DataFrame({"arm": arm, "x": x, "site": np.array(["a", "b", "c", "d"])[site], "m": m})
    if kind in ("linear", "linear_interaction"):
        inter = 0.3 * arm * m if kind == "linear_interaction" else 0.0
        d["y"] = 0.25 * arm + 0.5 * m + inter + 0.3 * x + u + rng.normal(size=n)
    elif kind == "logistic":
        d["y"] = (rng.random(n) < _expit(-0.5 + 0.3 * arm + 0.5 * m + 0.2 * x + u)).astype(int)
    else:
        t = np.exp(5.6 + 0.3 * arm + 0.3 * m - 0.2 * x + 0.8 * np.log(rng.exponential(size=n)))
        c = np.minimum(365.0, rng.uniform(100, 1000, n))
        d["days"] = np.floor(np.minimum(t, c))
        d["event"] = (t <= c).astype(int)
    return d


def own_truth(kind: str) -> dict[tuple[str, str], float]:
    """True effects of the DGP: closed forms (linear) or a 2,000,000-person population."""
    if kind == "linear":
        out = {("mean_difference", e): v for e, v in
               {"acme_control": 0.2, "acme_treated": 0.2, "acme_average": 0.2,
                "ade_control": 0.25, "ade_treated": 0.25, "ade_average": 0.25,
                "total": 0.45}.items()}
        return out
    if kind == "linear_interaction":
        a, b, c, g = 0.4, 0.5, 0.25, 0.3
        acme = {0: a * b, 1: a * (b + g)}
        ade = {0: c + g * 0.0, 1: c + g * a}
        return {("mean_difference", "acme_control"): acme[0],
                ("mean_difference", "acme_treated"): acme[1],
                ("mean_difference", "acme_average"): (acme[0] + acme[1]) / 2,
                ("mean_difference", "ade_control"): ade[0],
                ("mean_difference", "ade_treated"): ade[1],
                ("mean_difference", "ade_average"): (ade[0] + ade[1]) / 2,
                ("mean_difference", "total"): ade[0] + acme[1]}
    rng = np.random.default_rng(99)
    N = 2_000_000
    x = rng.normal(size=N)
    u = SITE_U[rng.integers(0, 4, N)] - SITE_U.mean()
    e = rng.normal(size=N)
    po: dict[str, dict[tuple[int, int], float]] = {}
    for t in (0, 1):
        for tp in (0, 1):
            m = 0.4 * tp + 0.5 * x + u + e
            if kind == "logistic":
                po.setdefault("risk_difference", {})[(t, tp)] = float(
                    _expit(-0.5 + 0.3 * t + 0.5 * m + 0.2 * x + u).mean())
            else:
                eta = 5.6 + 0.3 * t + 0.3 * m - 0.2 * x

                def surv(tau, eta=eta):
                    return np.exp(-np.exp((np.log(tau) - eta) / 0.8)).mean()

                po.setdefault("risk_difference", {})[(t, tp)] = 1 - float(surv(365.0))
                lo, hi = 1.0, 1e5
                for _ in range(60):  # bisection on log time for S(tau) = 1/2
                    mid = np.sqrt(lo * hi)
                    lo, hi = (mid, hi) if surv(mid) > 0.5 else (lo, mid)
                po.setdefault("median_difference", {})[(t, tp)] = float(np.sqrt(lo * hi))
    out = {}
    for et, mu in po.items():
        vals = {"acme_control": mu[(0, 1)] - mu[(0, 0)], "acme_treated": mu[(1, 1)] - mu[(1, 0)],
                "ade_control": mu[(1, 0)] - mu[(0, 0)], "ade_treated": mu[(1, 1)] - mu[(0, 1)],
                "total": mu[(1, 1)] - mu[(0, 0)]}
        vals["acme_average"] = (vals["acme_control"] + vals["acme_treated"]) / 2
        vals["ade_average"] = (vals["ade_control"] + vals["ade_treated"]) / 2
        out.update({(et, k): v for k, v in vals.items()})
    return out


def run_own(kind: str, reps: int, n: int, boot: int, seed: int) -> pd.DataFrame:
    truth = own_truth(kind)
    rows = []
    for r in range(reps):
        rng = np.random.default_rng([seed, r])
        d = own_data(kind, n, rng)
        kw = (dict(outcome_type="weibull", time="days", event="event") if kind == "weibull"
              else dict(outcome="y", outcome_type="logistic" if kind == "logistic"
                        else "linear"))
        res = fit_mediation(d, exposure="arm", mediators=["m"], covariates=["x", "site"],
                            interaction=kind == "linear_interaction", n_boot=boot,
                            rng=np.random.default_rng([seed, r, 1]), **kw)
        for _, row in res.to_frame().iterrows():
            key = (row.estimate_type, row.effect)
            if key in truth:
                rows.append({"dgp": kind, "rep": r, "mediator": "m", "estimate_type": key[0],
                             "effect": key[1], "estimate": row.estimate, "ci_low": row.ci_low,
                             "ci_high": row.ci_high, "std_error": row.std_error,
                             "truth": truth[key]})
    return pd.DataFrame(rows)


MEDIATORS = ("WAISR", "HHI", "GSE", "ISMI10", "LSNS6", "UCLA3")
SETS = {"WAISR": ("WAISR",), "M2": ("HHI", "GSE", "ISMI10"), "M3": ("LSNS6", "UCLA3"),
        "all": MEDIATORS}


def trial_frame(tables) -> pd.DataFrame:
    """One row per participant: arm, site, prior admissions, baseline and month-4 scores
    of the mediators, WEMWBS at baseline and month 12 (from the pipeline's ADaM)."""
    from outcomes.adam import derive_all
    from outcomes.plan import AnalysisPlan, validate_config

    plan = AnalysisPlan.from_config(validate_config({}))
    ds = derive_all({k: v.to_frame() for k, v in tables.items()}, plan)
    adsl, adqs = ds["adsl"], ds["adqs"]
    wide = adqs.pivot_table(index="USUBJID", columns=["PARAMCD", "AVISITN"], values="AVAL",
                            aggfunc="first")
    out = pd.DataFrame({
        "arm": (adsl.set_index("USUBJID")["TRT01PN"]).astype(int),
        "site": adsl.set_index("USUBJID")["SITEID"].astype(str),
        "prior": adsl.set_index("USUBJID")["PRIORADM"].astype(float),
    })
    for m in (*MEDIATORS, "WEMWBS"):
        for v, lab in ((0, "b"), (4, "4"), (12, "12")):
            col = (m, v)
            out[f"{m}_{lab}"] = wide[col].reindex(out.index) if col in wide.columns else np.nan
    return out.reset_index(drop=True)


def run_trial(reps: int, n: int, boot: int, seed: int, truth_n: int) -> pd.DataFrame:
    """Each process score alone (one call each, as the pipeline does) and each mechanism
    jointly (joint rows of a call with the mechanism's scores)."""
    from outcomes.simulate import simulate

    analyses = [(m, (m,)) for m in MEDIATORS] + [(k, v) for k, v in SETS.items() if len(v) > 1]
    rows = []
    for r in range(reps):
        tables, truth = simulate(n, seed + r, truth_n=truth_n)
        d = trial_frame(tables)
        tw = truth["mediation"]["WEMWBS_month_12"]
        for name, meds in analyses:
            cols = [f"{m}_4" for m in meds]
            res = fit_mediation(
                d, exposure="arm", mediators=cols, outcome="WEMWBS_12", outcome_type="linear",
                covariates=["WEMWBS_b", "site", "prior"],
                mediator_covariates={f"{m}_4": [f"{m}_b"] for m in meds}, n_boot=boot,
                rng=np.random.default_rng([seed, r]))
            tab = res.to_frame()
            tab = tab[(tab.mediator == "+".join(cols)) & tab.effect.isin(EFFECTS)]
            for _, row in tab.iterrows():
                rows.append({"dgp": "trial", "rep": r, "mediator": name,
                             "estimate_type": row.estimate_type, "effect": row.effect,
                             "estimate": row.estimate, "ci_low": row.ci_low,
                             "ci_high": row.ci_high, "std_error": row.std_error,
                             "truth": tw[name][row.effect], "n": row.n})
        if (r + 1) % 20 == 0:
            print(f"  trial data set {r + 1}/{reps}", flush=True)
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    def one(g):
        cover = ((g.ci_low <= g.truth) & (g.truth <= g.ci_high)).mean()
        sd = g.estimate.std(ddof=1)
        return pd.Series({
            "reps": len(g),
            "truth": g.truth.mean(),
            "mean_estimate": g.estimate.mean(),
            "coverage_%": 100 * cover,
            "coverage_mc_se_%": 100 * np.sqrt(0.95 * 0.05 / len(g)),
            "bias_%_of_sd": 100 * (g.estimate - g.truth).mean() / sd,
            "bias_mc_se_%": 100 / np.sqrt(len(g)),
            "boot_se/sd": g.std_error.mean() / sd,
        })

    keys = ["dgp", "mediator", "estimate_type", "effect"]
    return df.groupby(keys, sort=False)[list(df.columns.difference(keys))].apply(one).reset_index()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="own,trial")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--truth-n", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--csv", default=None, help="write every replicate's estimates here")
    ap.add_argument("--summary-csv", default=None, help="write the full summary table here")
    args = ap.parse_args()
    warnings.simplefilter("ignore", MissingDataWarning)
    parts = args.parts.split(",")
    frames = []
    t0 = time.perf_counter()
    if "own" in parts:
        for kind in ("linear", "linear_interaction", "logistic", "weibull"):
            frames.append(run_own(kind, args.reps, args.n, args.boot, args.seed))
            print(f"[{time.perf_counter() - t0:.0f} s] {kind} done", flush=True)
    if "trial" in parts:
        frames.append(run_trial(args.reps, args.n, args.boot, args.seed, args.truth_n))
        print(f"[{time.perf_counter() - t0:.0f} s] trial done", flush=True)
    df = pd.concat(frames, ignore_index=True)
    if args.csv:
        df.to_csv(args.csv, index=False)
    summ = summarise(df)
    if args.summary_csv:
        summ.to_csv(args.summary_csv, index=False)
    print(f"\nn = {args.n}, {args.boot} bootstrap replicates, {args.reps} data sets per DGP\n")
    # compact: averages for the trial (control/treated coincide without interaction)
    keep = (summ.dgp != "trial") | summ.effect.isin(["acme_average", "ade_average", "total"])
    print(summ[keep].to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
