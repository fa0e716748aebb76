"""Recovery study of the interventional effects (not run in CI): bias, coverage and
bootstrap SE of ``fit_mediation(..., exposure_induced_confounders=[...])`` over replicate
data sets with an exposure-induced mediator-outcome confounder L, and the bias of the
natural-effect (ACME/ADE) estimator there (issue 16 point 2; docs/mediation.md §10b).

Data-generating processes (n participants, arm 1:1, x ~ N(0, 1), w ~ Bernoulli(0.4)):

- L (0/1, caused by the arm): ``both``: P(L = 1) = expit(-1 + 1.2 A + 0.4 x - 0.3 w) (an
  early crisis, possible in both arms); ``treated``: L = A x Bernoulli(expit(0.3 + 0.4 x
  - 0.3 w)) (engagement: nobody in usual care engages); ``engaged``: L = A x
  Bernoulli(expit(1.5 + 0.4 x - 0.3 w)) (most of the treated engage, so the treated
  non-engagers are a small cell, as in the trial: decisions L63).
- M = 0.3 A + 0.8 L + 0.5 x + 0.2 w + N(0, 1).
- ``linear``: Y = 0.25 A + 0.5 M + 0.8 L + 0.3 x + 0.2 w + N(0, 1);
  ``logistic``: P(Y = 1) = expit(-0.5 + 0.3 A + 0.5 M + 0.8 L + 0.2 x + 0.2 w).
- The change model's readmission outcomes from the landmark (days s from the mediator
  visit to the horizon h = 243, the 365-day follow-up minus the month-4 landmark), with
  censoring before h by arm (Exponential, about 15% of usual care and 25% of peer support
  censored before h) that the analysis must handle as the pipeline does:
  ``ipcw``: readmitted by h with P = expit(-0.8 - 0.4 A - 0.3 M - 0.6 L + 0.2 x + 0.2 w),
  the day uniform on (0, h]; analysed as ``readmit_12m`` is (logistic outcome model with
  inverse probability of censoring weights by arm, re-estimated in each resample:
  ``censoring=``); ``weibull``: log T = 6.2 + 0.3 A + 0.3 M + 0.5 L - 0.2 x - 0.2 w + 0.8 G,
  G ~ Gumbel(min), follow-up ending at h (``readmit_time``: Weibull AFT outcome model,
  effects on the risk by h).

Truths from potential outcomes of a population of 2,000,000 (fixed seed 99):
interventional E[Y(t, G_t')] with G_t' the mediator under t' drawn with an L' of its own
(independent of the L under t of the outcome), summed exactly over L and L' and Monte
Carlo over (x, w, mediator noise); natural E[Y(t, M(t'))] with L(t) and L(t') of the same
person (one uniform per person: common random numbers).

Seeds fixed in advance: replicate r's data from ``default_rng([seed, r])``, its bootstrap
from ``default_rng([seed, r, 1])`` (seed 20261130).

    .venv/bin/python benchmarks/interventional_recovery.py [--reps 500] [--start 0]
        [--n 600] [--boot 1000] [--csv FILE]

``--start s --reps k`` runs replicates s..s+k-1 (the same data and bootstraps as in one
run); ``--dgp engaged/ipcw ...`` only some DGPs; ``--summarise FILE...`` prints the summary
of replicate CSVs written by ``--csv``; ``--ridge-shift --reps 100`` compares the logistic
DGPs' point estimates with and without the outcome model's ridge penalty.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from outcomes.mediation import fit_mediation  # noqa: E402

DGPS = (("both", "linear"), ("both", "logistic"), ("treated", "linear"), ("treated", "logistic"),
        ("engaged", "ipcw"), ("engaged", "weibull"))
HORIZON = 243.0  # days from the month-4 landmark to the end of the 365-day follow-up
CENSORING_RATE = {0: -np.log(0.85) / HORIZON, 1: -np.log(0.75) / HORIZON}  # per day, by arm
SHOWN = ("interventional_indirect", "interventional_direct", "interventional_overall",
         "acme_average", "ade_average", "total")


def _expit(x):
    return 1 / (1 + np.exp(-x))


def p_l(kind: str, t, x, w):
    """P(L = 1 | arm t, x, w)."""
    if kind == "both":
        return _expit(-1.0 + 1.2 * t + 0.4 * x - 0.3 * w)
    if kind == "engaged":
        return t * _expit(1.5 + 0.4 * x - 0.3 * w)
    return t * _expit(0.3 + 0.4 * x - 0.3 * w)


def mediator(t, L, x, w, e):
    return 0.3 * t + 0.8 * L + 0.5 * x + 0.2 * w + e


def weibull_lp(t, m, L, x, w):
    """Linear predictor of log T (days from the landmark) of the ``weibull`` outcome."""
    return 6.2 + 0.3 * t + 0.3 * m + 0.5 * L - 0.2 * x - 0.2 * w


WEIBULL_SIGMA = 0.8


def outcome_mean(outcome: str, t, m, L, x, w):
    """E[Y | t, m, L, x, w]: the mean, or the risk of readmission by HORIZON."""
    if outcome == "linear":
        return 0.25 * t + 0.5 * m + 0.8 * L + 0.3 * x + 0.2 * w
    if outcome == "ipcw":
        return _expit(-0.8 - 0.4 * t - 0.3 * m - 0.6 * L + 0.2 * x + 0.2 * w)
    if outcome == "weibull":
        return -np.expm1(-np.exp((np.log(HORIZON) - weibull_lp(t, m, L, x, w)) / WEIBULL_SIGMA))
    return _expit(-0.5 + 0.3 * t + 0.5 * m + 0.8 * L + 0.2 * x + 0.2 * w)


def data(lkind: str, outcome: str, n: int, rng: np.random.Generator) -> pd.DataFrame:
    a = rng.permutation(np.arange(n) % 2).astype(float)
    x = rng.normal(size=n)
    w = (rng.random(n) < 0.4).astype(float)
    L = (rng.random(n) < p_l(lkind, a, x, w)).astype(float)
    m = mediator(a, L, x, w, rng.normal(size=n))
    d = pd.DataFrame({"arm": a, "x": x, "w": w, "L": L, "m": m})
    if outcome in ("linear", "logistic"):
        mean = outcome_mean(outcome, a, m, L, x, w)
        d["y"] = mean + rng.normal(size=n) if outcome == "linear" else (rng.random(n) < mean).astype(float)
        return d
    if outcome == "ipcw":
        event = rng.random(n) < outcome_mean(outcome, a, m, L, x, w)
        t_event = np.where(event, HORIZON * (1.0 - rng.random(n)), np.inf)  # uniform on (0, h]
    else:
        t_event = np.exp(weibull_lp(a, m, L, x, w)
                         + WEIBULL_SIGMA * np.log(rng.exponential(size=n)))
    rate = np.where(a == 1, CENSORING_RATE[1], CENSORING_RATE[0])
    t_cens = rng.exponential(size=n) / rate
    end = np.minimum(np.minimum(t_event, t_cens), HORIZON)
    d["days"] = end  # follow-up from the landmark, to the horizon at the latest
    d["event"] = (t_event <= np.minimum(t_cens, HORIZON)).astype(float)
    d["cens"] = (t_cens < np.minimum(t_event, HORIZON)).astype(float)  # status at h unknown
    # the outcome of those censored before h is unknown; the analysis ignores it (IPCW
    # weight 0), and the pipeline's analysis data set sets it to 0 (mediation/sample.py)
    d["y"] = np.where(d["cens"] == 1, 0.0, d["event"])
    return d


def fit_options(outcome: str) -> dict:
    """How the analysis treats each outcome (as the change-model jobs do)."""
    if outcome == "ipcw":
        return {"outcome": "y", "outcome_type": "logistic", "censoring": ("days", "cens")}
    if outcome == "weibull":
        return {"outcome_type": "weibull", "time": "days", "event": "event", "horizon": HORIZON}
    return {"outcome": "y", "outcome_type": outcome}


def truth(lkind: str, outcome: str, N: int = 2_000_000) -> dict[str, float]:
    rng = np.random.default_rng(99)
    x = rng.normal(size=N)
    w = (rng.random(N) < 0.4).astype(float)
    e = rng.normal(size=N)
    u = rng.random(N)
    p = {t: p_l(lkind, t, x, w) for t in (0, 1)}
    iv = {}
    for t in (0, 1):
        for tp in (0, 1):
            acc = 0.0
            for lo in (0, 1):
                for lm in (0, 1):
                    pr = (p[t] if lo else 1 - p[t]) * (p[tp] if lm else 1 - p[tp])
                    acc += (pr * outcome_mean(outcome, t, mediator(tp, lm, x, w, e), lo, x, w)).mean()
            iv[(t, tp)] = acc
    nat = {}
    for t in (0, 1):
        for tp in (0, 1):
            Lt, Ltp = (u < p[t]).astype(float), (u < p[tp]).astype(float)
            nat[(t, tp)] = outcome_mean(outcome, t, mediator(tp, Ltp, x, w, e), Lt, x, w).mean()
    return {
        "interventional_indirect": iv[(1, 1)] - iv[(1, 0)],
        "interventional_direct": iv[(1, 0)] - iv[(0, 0)],
        "interventional_overall": iv[(1, 1)] - iv[(0, 0)],
        "acme_average": 0.5 * (nat[(1, 1)] - nat[(1, 0)] + nat[(0, 1)] - nat[(0, 0)]),
        "ade_average": 0.5 * (nat[(1, 0)] - nat[(0, 0)] + nat[(1, 1)] - nat[(0, 1)]),
        "total": nat[(1, 1)] - nat[(0, 0)],
    }


def run(lkind: str, outcome: str, reps: range, n: int, boot: int, seed: int, tr: dict,
        sink: list[dict]) -> None:
    for r in reps:
        d = data(lkind, outcome, n, np.random.default_rng([seed, r]))
        res = fit_mediation(d, exposure="arm", mediators=["m"], **fit_options(outcome),
                            covariates=["x", "w"], n_boot=boot,
                            rng=np.random.default_rng([seed, r, 1]),
                            exposure_induced_confounders=["L"])
        tab = res.to_frame()
        shown = tab.effect.isin(SHOWN) & tab.estimate_type.isin(["mean_difference", "risk_difference"])
        for _, row in tab.loc[shown].iterrows():
            sink.append({"dgp": f"{lkind}/{outcome}", "rep": r, "effect": row.effect,
                         "estimate": row.estimate, "ci_low": row.ci_low, "ci_high": row.ci_high,
                         "std_error": row.std_error, "truth": tr[row.effect],
                         "status": row.status})


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    def one(g):
        failed = int(g.estimate.isna().sum())  # not estimable (status and reason in the CSV)
        g = g.dropna(subset=["estimate"])
        sd = g.estimate.std(ddof=1)
        return pd.Series({
            "reps": len(g), "not_estimable": failed, "truth": g.truth.mean(),
            "mean_estimate": g.estimate.mean(),
            "coverage_%": 100 * ((g.ci_low <= g.truth) & (g.truth <= g.ci_high)).mean(),
            "bias_%_of_sd": 100 * (g.estimate - g.truth).mean() / sd,
            "boot_se/sd": g.std_error.mean() / sd,
        })

    keys = ["dgp", "effect"]
    return df.groupby(keys, sort=False)[["estimate", "ci_low", "ci_high", "std_error", "truth"]
                                        ].apply(one).reset_index()


def ridge_shift(reps: int, n: int, seed: int) -> pd.DataFrame:
    """How far the outcome model's ridge penalty (``interventional.OUTCOME_RIDGE``) moves
    the interventional point estimates of the logistic DGPs: each data set fitted with the
    penalty and with it set to 0, the shift against the SD of the estimates (decisions L67)."""
    import outcomes.mediation.interventional as ivm

    penalty = ivm.OUTCOME_RIDGE
    rows = []
    for lkind in ("both", "treated"):
        for r in range(reps):
            d = data(lkind, "logistic", n, np.random.default_rng([seed, r]))
            est = {}
            for ridge in (0.0, penalty):
                ivm.OUTCOME_RIDGE = ridge
                t = fit_mediation(d, exposure="arm", mediators=["m"], **fit_options("logistic"),
                                  covariates=["x", "w"], n_boot=0, rng=np.random.default_rng(1),
                                  exposure_induced_confounders=["L"]).to_frame()
                est[ridge] = t.loc[t.effect.str.startswith("interventional")
                                   & (t.estimate_type == "risk_difference")].set_index("effect").estimate
            ivm.OUTCOME_RIDGE = penalty
            for e in est[0.0].index:
                rows.append({"dgp": f"{lkind}/logistic", "effect": e, "plain": est[0.0][e],
                             "ridge": est[penalty][e]})
    df = pd.DataFrame(rows)
    df["shift"] = df["ridge"] - df["plain"]
    g = df.groupby(["dgp", "effect"], sort=False)
    sd = g["plain"].std()
    return pd.DataFrame({"sd_of_estimates": sd,
                         "max_abs_shift_%_of_sd": 100 * g["shift"].apply(lambda x: x.abs().max()) / sd,
                         "mean_shift_%_of_sd": 100 * g["shift"].mean() / sd}).reset_index()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--start", type=int, default=0, help="first replicate index (to run in chunks)")
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--csv", default=None, help="write every replicate's estimates here")
    ap.add_argument("--dgp", nargs="+", default=None, metavar="L/OUTCOME",
                    help="only these data-generating processes (e.g. engaged/ipcw)")
    ap.add_argument("--summarise", nargs="+", default=None, metavar="CSV",
                    help="only summarise these replicate files (no fitting)")
    ap.add_argument("--ridge-shift", action="store_true",
                    help="only compare the logistic DGPs' point estimates with and without the "
                         "outcome model's ridge penalty over --reps data sets")
    args = ap.parse_args()
    if args.ridge_shift:
        print(ridge_shift(args.reps, args.n, args.seed).to_markdown(index=False, floatfmt=".3g"))
        return
    if args.summarise:
        df = pd.concat([pd.read_csv(f) for f in args.summarise], ignore_index=True)
        reps = df.groupby("dgp")["rep"].nunique().min()
        print(f"{reps} data sets per DGP; Monte Carlo SE of a coverage "
              f"{100 * np.sqrt(0.95 * 0.05 / reps):.1f} points, of bias % of SD "
              f"{100 / np.sqrt(reps):.1f} points\n")
        print(summarise(df).to_markdown(index=False, floatfmt=".4g"))
        return
    rows: list[dict] = []
    t0 = time.perf_counter()
    for lkind, outcome in DGPS:
        if args.dgp and f"{lkind}/{outcome}" not in args.dgp:
            continue
        tr = truth(lkind, outcome)
        run(lkind, outcome, range(args.start, args.start + args.reps), args.n, args.boot,
            args.seed, tr, rows)
        print(f"[{time.perf_counter() - t0:.0f} s] {lkind}/{outcome} done", flush=True)
        if args.csv:
            pd.DataFrame(rows).to_csv(args.csv, index=False)
    df = pd.DataFrame(rows)
    print(f"\nn = {args.n}, {args.boot} bootstrap replicates, {args.reps} data sets per DGP; "
          f"Monte Carlo SE of a coverage {100 * np.sqrt(0.95 * 0.05 / args.reps):.1f} points, "
          f"of bias % of SD {100 / np.sqrt(args.reps):.1f} points\n")
    print(summarise(df).to_markdown(index=False, floatfmt=".4g"))


if __name__ == "__main__":
    main()
