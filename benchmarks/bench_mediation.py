"""Benchmark: the mediation bootstrap against statsmodels' Mediation on the same data.

n = 600 participants, 5,000 bootstrap replicates, one core (thread pools pinned to 1
before numpy is imported). Two analyses, each run by ``outcomes.mediation.fit_mediation``
(timed best of ``--repeat``) and by ``statsmodels.stats.mediation.Mediation(...).fit(
method="bootstrap", n_rep=5000)`` built with statsmodels' array API (timed once):

- linear mediator, linear outcome;
- linear mediator, logistic outcome (risk-difference scale).

Prints times (CPU seconds of this process and wall seconds), the speed ratio, and for
every effect both point estimates and 95% CIs with z = difference / Monte Carlo SE of the
difference (percentile endpoints: sqrt(2 p (1 - p) / B) / phi(z_p) x bootstrap SD; point
estimates: statsmodels reports the mean of its replicates, SE = SD / sqrt(B)). A third
column set ("ref") is an independent slow reference bootstrap (Python loop, statsmodels
fits, one shared resample per replicate, exact integration over the mediator) with its
own seed: it shows what "equal within Monte Carlo error" looks like, and that statsmodels'
wider ACME intervals come from its design (a separate resample per model and independent
mediator draws for the two mediator worlds, which add noise to every replicate's ACME),
not from the engine.

    .venv/bin/python benchmarks/bench_mediation.py [--n 600] [--boot 5000] [--repeat 3]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
           "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from importlib.metadata import version  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import statsmodels.api as sm  # noqa: E402
from scipy.stats import norm  # noqa: E402
from statsmodels.stats.mediation import Mediation  # noqa: E402

from outcomes.mediation import fit_mediation  # noqa: E402

SM_ROWS = {  # statsmodels summary row -> our effect name
    "ACME (control)": "acme_control",
    "ACME (treated)": "acme_treated",
    "ACME (average)": "acme_average",
    "ADE (control)": "ade_control",
    "ADE (treated)": "ade_treated",
    "ADE (average)": "ade_average",
    "Total effect": "total",
}


def make_trial(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A two-arm trial: baseline score, age, 4 sites; month-4 mediator; two outcomes."""
    site = rng.choice(["S1", "S2", "S3", "S4"], size=n)
    site_eff = pd.Series({"S1": 0.0, "S2": 0.2, "S3": -0.2, "S4": 0.1})[site].to_numpy()
    arm = rng.permutation(np.arange(n) % 2)
    base = rng.normal(0, 1, n)
    age = rng.normal(40, 12, n)
    med = 0.4 * arm + 0.5 * base + site_eff + rng.normal(0, 1, n)
    y = 0.25 * arm + 0.5 * med + 0.3 * base + 0.01 * (age - 40) + site_eff + rng.normal(0, 1, n)
    lin = -0.6 + 0.3 * arm + 0.4 * med + 0.2 * base + site_eff
    yb = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    return pd.DataFrame({"arm": arm, "base": base, "age": age, "site": site, "med": med,
                         "y": y, "yb": yb})


def designs(df: pd.DataFrame):
    dummies = pd.get_dummies(df["site"], prefix="site", drop_first=True, dtype=float)
    covs = np.column_stack([df[["base", "age"]].to_numpy(float), dummies.to_numpy()])
    one = np.ones((len(df), 1))
    arm = df[["arm"]].to_numpy(float)
    med = df[["med"]].to_numpy(float)
    xm = np.hstack([one, arm, covs])  # exposure at column 1
    xo = np.hstack([one, arm, med, covs])  # exposure at 1, mediator at 2
    return xm, xo


def statsmodels_run(df: pd.DataFrame, outcome: str, family, n_rep: int, seed: int):
    """statsmodels' Mediation with the array API on the same design as ours."""
    xm, xo = designs(df)
    mediator_model = sm.OLS(df["med"].to_numpy(float), xm)
    if family is None:
        outcome_model = sm.OLS(df[outcome].to_numpy(float), xo)
    else:
        outcome_model = sm.GLM(df[outcome].to_numpy(float), xo, family=family)
    med_obj = Mediation(outcome_model, mediator_model, (1, 1), 2)
    c0, w0 = time.process_time(), time.perf_counter()
    res = med_obj.fit(method="bootstrap", n_rep=n_rep, rng=np.random.default_rng(seed))
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return res, cpu, wall


def reference_run(df: pd.DataFrame, outcome: str, family, n_rep: int, seed: int):
    """Reference bootstrap written independently: a Python loop over replicates, ONE row
    resample per replicate for both statsmodels fits, effects by the potential-outcome
    formulas averaged over the resample (logistic: 40-node Gauss-Hermite over the
    mediator's normal residual). Returns the (n_rep, 7) effect draws in SM_ROWS order."""
    xm, xo = designs(df)
    y = df[outcome].to_numpy(float)
    med = df["med"].to_numpy(float)
    n = len(df)
    gx, gw = np.polynomial.hermite_e.hermegauss(40)
    gw = gw / gw.sum()
    rng = np.random.default_rng(seed)
    out = np.empty((n_rep, 7))
    for b in range(n_rep):
        idx = rng.integers(0, n, n)
        fm = sm.OLS(med[idx], xm[idx]).fit()
        if family is None:
            fo = sm.OLS(y[idx], xo[idx]).fit()
        else:
            fo = sm.GLM(y[idx], xo[idx], family=family).fit()
        sd = np.sqrt(fm.scale)
        mu = np.empty((2, 2))
        for t in (0, 1):
            for tp in (0, 1):
                xmt = xm[idx].copy()
                xmt[:, 1] = tp
                mean_m = xmt @ fm.params
                xot = xo[idx].copy()
                xot[:, 1] = t
                xot[:, 2] = 0.0
                lin = xot @ fo.params
                if family is None:
                    mu[t, tp] = np.mean(lin + fo.params[2] * mean_m)
                else:
                    eta = lin[:, None] + fo.params[2] * (mean_m[:, None] + sd * gx[None, :])
                    mu[t, tp] = np.mean((1 / (1 + np.exp(-eta))) @ gw)
        a0, a1 = mu[0, 1] - mu[0, 0], mu[1, 1] - mu[1, 0]
        d0, d1 = mu[1, 0] - mu[0, 0], mu[1, 1] - mu[0, 1]
        out[b] = [a0, a1, (a0 + a1) / 2, d0, d1, (d0 + d1) / 2, mu[1, 1] - mu[0, 0]]
    return out


def ours_run(df, outcome, outcome_type, n_boot, seed, repeat):
    best = (np.inf, np.inf)
    res = None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        res = fit_mediation(df, exposure="arm", mediators=["med"], outcome=outcome,
                            outcome_type=outcome_type, covariates=["base", "age", "site"],
                            n_boot=n_boot, rng=np.random.default_rng(seed))
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        best = (min(best[0], cpu), min(best[1], wall))
    return res, best[0], best[1]


def compare(ours, smres, ref, n_boot: int) -> pd.DataFrame:
    tab = ours.to_frame().set_index("effect")
    reps = ours.replicates[(ours.mediators[0], tab["estimate_type"].iloc[0])]
    names = list(ours.effect_names[tab["estimate_type"].iloc[0]])
    summ = smres.summary()
    p = 0.025
    k = np.sqrt(2 * p * (1 - p) / n_boot) / norm.pdf(norm.ppf(p))
    rows = []
    for j, (sm_name, eff) in enumerate(SM_ROWS.items()):
        sd = np.nanstd(reps[:, names.index(eff)], ddof=1)
        rlo, rhi = np.quantile(ref[:, j], [p, 1 - p])
        se_q = np.sqrt(2) * k * sd
        r = tab.loc[eff]
        s = summ.loc[sm_name]
        rows.append({
            "effect": eff,
            "est_ours": r["estimate"], "est_sm": s["Estimate"],
            "z_est": (s["Estimate"] - r["estimate"]) / (sd / np.sqrt(n_boot)),
            "lo_ours": r["ci_low"], "lo_sm": s["Lower CI bound"],
            "z_lo": (s["Lower CI bound"] - r["ci_low"]) / se_q,
            "hi_ours": r["ci_high"], "hi_sm": s["Upper CI bound"],
            "z_hi": (s["Upper CI bound"] - r["ci_high"]) / se_q,
            "width_sm/ours": (s["Upper CI bound"] - s["Lower CI bound"])
            / (r["ci_high"] - r["ci_low"]),
            "lo_ref": rlo, "z_lo_ref": (rlo - r["ci_low"]) / se_q,
            "hi_ref": rhi, "z_hi_ref": (rhi - r["ci_high"]) / se_q,
        })
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--boot", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20261122)
    args = ap.parse_args()
    try:  # pin BLAS threads even if the environment variables came too late
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    df = make_trial(args.n, np.random.default_rng(args.seed))
    print(f"machine: {platform.machine()} {platform.processor() or ''} "
          f"{os.cpu_count()} logical CPUs, python {platform.python_version()}, "
          f"numpy {np.__version__}, scipy {version('scipy')}, pandas {pd.__version__}, "
          f"statsmodels {version('statsmodels')}; 1 thread")
    print(f"n = {args.n}, bootstrap replicates = {args.boot}\n")
    pd.set_option("display.width", 200)
    for label, outcome, otype, family in (
        ("linear-linear", "y", "linear", None),
        ("linear-logistic", "yb", "logistic", sm.families.Binomial()),
    ):
        ours, c_ours, w_ours = ours_run(df, outcome, otype, args.boot, args.seed, args.repeat)
        smres, c_sm, w_sm = statsmodels_run(df, outcome, family, args.boot, args.seed + 1)
        ref = reference_run(df, outcome, family, args.boot, args.seed + 2)
        print(f"== {label}: ours {c_ours:.3f} s CPU ({w_ours:.3f} s wall, best of "
              f"{args.repeat}); statsmodels {c_sm:.2f} s CPU ({w_sm:.2f} s wall); "
              f"ratio {c_sm / c_ours:.0f}x CPU, {w_sm / w_ours:.0f}x wall"
              f"; quadrature nodes {ours.quadrature_nodes}")
        print(compare(ours, smres, ref, args.boot).round(4).to_string(index=False))
        print()


if __name__ == "__main__":
    main()
