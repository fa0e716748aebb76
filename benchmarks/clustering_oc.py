"""Operating characteristics of the naive and the partially nested ANCOVA (not run in CI).

Each replicate trial has ``--workers`` peer workers with ``--caseload`` participants each
in the treated arm and ``--controls`` usual-care participants (default 30 × 10 and 300),
a baseline score x ~ N(0, 1) and the outcome

    y = effect · arm + 0.5 x + u_k + e,  u_k ~ N(0, ICC) in the treated arm,
    e ~ N(0, 1 − ICC) in the treated arm and N(0, 1) in usual care,

so the outcome's variance given x is 1 in both arms and the treated arm's ICC is ICC (the
setting of the theoretical type I errors: with the design effect 1 + (m − 1) ICC of the
treated arm's mean, a naive test at 5% rejects with probability
2 Φ(−1.96 / sqrt((1 + DE) / 2)), 7.7% at ICC 0.05 and 10.4% at ICC 0.10). Each replicate
is analysed by

- ``naive``: OLS of y on arm + x (everyone independent, the t test on the residual df);
- ``peer_worker``: the partially nested model (``outcomes.clustering.pnlmm.fit_pnlmm``:
  a peer-worker random effect in the treated arm, a residual variance per arm, REML,
  Satterthwaite df);
- ``known_variance``: the reference test, the GLS estimate with the true variance
  components (τ² = ICC, σ²_T = 1 − ICC, σ²_C = 1) and its exact SE, on the normal: its
  test is exact (its rejection rate under H0 is 5% up to Monte Carlo error), so its row
  shows how far the Monte Carlo draws themselves sit from 5%, and the paired difference
  (``--replicates-tsv``) separates a method's size from the draws' luck.

    .venv/bin/python benchmarks/clustering_oc.py [--reps 5000] [--iccs 0.05,0.10]
        [--effects 0,0.3] [--seed 20261130] [--jobs 1] [--replicates-tsv FILE]

Replicate r of the scenario (ICC, effect) at index s draws from
``np.random.default_rng([seed, s, r])``. Prints, per scenario and analysis, the rejection
rate of H0: effect = 0 at 5% (the type I error when the effect is 0, the power
otherwise), the coverage of the 95% CI of the true effect, each with its binomial Monte
Carlo SE, the mean model SE and the empirical SD of the estimates.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from outcomes.clustering.pnlmm import _Reml, fit_pnlmm  # noqa: E402
from outcomes.errors import NotEstimable  # noqa: E402


@dataclass(frozen=True)
class Design:
    workers: int = 30
    caseload: int = 10
    controls: int = 300


def simulate_trial(rng: np.random.Generator, icc: float, effect: float,
                   design: Design = Design()):
    """One partially nested trial: (y, X = [1, arm, x], arm, cluster labels)."""
    n_t = design.workers * design.caseload
    n = n_t + design.controls
    arm = np.r_[np.ones(n_t), np.zeros(design.controls)]
    worker = np.repeat(np.arange(design.workers), design.caseload)
    x = rng.standard_normal(n)
    u = rng.normal(0.0, np.sqrt(icc), design.workers)
    e = rng.standard_normal(n) * np.where(arm == 1, np.sqrt(1 - icc), 1.0)
    y = effect * arm + 0.5 * x + np.r_[u[worker], np.zeros(design.controls)] + e
    clusters = np.r_[np.char.add("PW:", worker.astype(str)),
                     np.char.add("ID:", np.arange(design.controls).astype(str))]
    return y, np.column_stack([np.ones(n), arm, x]), arm, clusters


def naive(y: np.ndarray, X: np.ndarray) -> tuple[float, float, float]:
    """OLS estimate of the arm coefficient, its SE and the residual df."""
    xtx_inv = np.linalg.inv(X.T @ X)
    beta = xtx_inv @ X.T @ y
    df = len(y) - X.shape[1]
    s2 = float(((y - X @ beta) ** 2).sum()) / df
    return float(beta[1]), float(np.sqrt(s2 * xtx_inv[1, 1])), float(df)


def replicate(args: tuple[int, int, float, float, int, Design]) -> list[dict]:
    """Both analyses of replicate ``r`` of scenario ``s`` (ICC, effect)."""
    seed, s, icc, effect, r, design = args
    rng = np.random.default_rng([seed, s, r])
    y, X, arm, clusters = simulate_trial(rng, icc, effect, design)
    rows = []
    est, se, df = naive(y, X)
    rows.append(dict(analysis="naive", estimate=est, std_error=se, df=df, status="estimated"))
    try:
        fit = fit_pnlmm(y, X, arm, clusters, ("(Intercept)", "ARM", "BASE"), icc_ci=False)
        rows.append(dict(analysis="peer_worker", estimate=fit.estimate,
                         std_error=fit.std_error, df=fit.df, status="estimated",
                         icc_hat=fit.icc))
    except NotEstimable as exc:
        rows.append(dict(analysis="peer_worker", estimate=np.nan, std_error=np.nan,
                         df=np.nan, status=f"not estimable: {exc.reason}"))
    # The GLS at the true variance components (the model's own cross-products, _Reml).
    gls = _Reml(y, X, arm, clusters).parts(icc, 1.0 - icc, 1.0)
    rows.append(dict(analysis="known_variance", estimate=float(gls.beta[1]),
                     std_error=float(np.sqrt(np.linalg.inv(gls.xvx)[1, 1])), df=np.inf,
                     status="estimated"))
    for row in rows:
        row.update(icc=icc, effect=effect, replicate=r)
    return rows


def score(df: pd.DataFrame) -> pd.DataFrame:
    """Rejection of H0: 0 and coverage of the true effect by the 95% t CI of each row."""
    q = stats.t.ppf(0.975, df["df"])
    t = df["estimate"] / df["std_error"]
    out = df.copy()
    out["reject"] = (np.abs(t) > q).astype(float)
    out["covered"] = (np.abs(df["estimate"] - df["effect"]) <= q * df["std_error"]).astype(float)
    return out


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    def one(g: pd.DataFrame) -> pd.Series:
        ok = g[g["status"] == "estimated"]
        k = len(ok)
        rej, cov = ok["reject"].mean(), ok["covered"].mean()
        return pd.Series({
            "reps": len(g), "not_estimable": len(g) - k,
            "reject": rej, "reject_mc_se": np.sqrt(rej * (1 - rej) / k),
            "coverage": cov, "coverage_mc_se": np.sqrt(cov * (1 - cov) / k),
            "mean_se": ok["std_error"].mean(), "sd_estimate": ok["estimate"].std(ddof=1),
            "mean_df": ok["df"].mean(),
            "mean_icc_hat": ok["icc_hat"].mean() if "icc_hat" in ok else np.nan,
        })
    return df.groupby(["icc", "effect", "analysis"]).apply(one, include_groups=False).reset_index()


def paired(df: pd.DataFrame, reference: str = "known_variance") -> pd.DataFrame:
    """Each analysis's rejection rate minus the reference test's on the same replicates,
    with the Monte Carlo SE of the paired difference (the draws' luck cancels)."""
    wide = df.pivot_table(index=["icc", "effect", "replicate"], columns="analysis",
                          values="reject")
    rows = []
    for (icc, effect), g in wide.groupby(level=["icc", "effect"]):
        for name in g.columns.drop(reference):
            d = (g[name] - g[reference]).dropna()
            rows.append({"icc": icc, "effect": effect, "analysis": name,
                         "reject_minus_reference": d.mean(),
                         "mc_se": d.std(ddof=1) / np.sqrt(len(d))})
    return pd.DataFrame(rows)


def run(reps: int, iccs: list[float], effects: list[float], seed: int, jobs: int = 1,
        design: Design = Design()) -> pd.DataFrame:
    tasks = [(seed, s, icc, eff, r, design)
             for s, (icc, eff) in enumerate((i, e) for i in iccs for e in effects)
             for r in range(reps)]
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.map(replicate, tasks, chunksize=50)
    else:
        results = [replicate(t) for t in tasks]
    return score(pd.DataFrame([row for rows in results for row in rows]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5000)
    ap.add_argument("--iccs", default="0.05,0.10")
    ap.add_argument("--effects", default="0,0.3")
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--jobs", type=int, default=1, help="processes (replicates in parallel)")
    ap.add_argument("--replicates-tsv", help="write every replicate's rows here")
    args = ap.parse_args()
    start = time.time()
    df = run(args.reps, [float(v) for v in args.iccs.split(",")],
             [float(v) for v in args.effects.split(",")], args.seed, args.jobs)
    if args.replicates_tsv:
        df.to_csv(args.replicates_tsv, sep="\t", index=False)
    print(summarise(df).to_markdown(index=False, floatfmt=".4f"))
    print()
    print(paired(df).to_markdown(index=False, floatfmt=".4f"))
    print(f"\n{args.reps} replicates per scenario, seed {args.seed}, {args.jobs} job(s): "
          f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
