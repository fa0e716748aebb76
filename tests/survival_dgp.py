"""A small data-generating process with known truth for testing the survival analyses.

This is *not* the project's synthetic trial (``outcomes simulate``): ADTTE and ADRE are
generated independently here, each from a model whose true effects are known in closed
form or by one-dimensional numerical integration, so that estimators can be checked for
recovery of the truth.

ADTTE (READMIT): Weibull readmission hazard
h(t | x) = lambda_site * k t^(k-1) exp(b_arm arm + b_prior PRIORADM + b_det DETIND), death and
withdrawal as independent exponential times, administrative end at ``followup`` days.
Which event comes first is decided in continuous time; AVAL is the floor of the continuous
time in days (so a readmission in the first 24 hours has AVAL 0 and ties are frequent),
and AVAL = followup for those followed to the end.

ADRE: readmission counts from a gamma-frailty Poisson process (so the counts are NB2 with
dispersion ``alpha``) with rate ``rate`` per day at risk times exp(b_rec arm), on the
at-risk time scale (TSTART/TSTOP are days at risk, gaps in hospital removed), with
RISKDAYS the length of follow-up out of hospital and BEDDAYS the sum of
geometric stays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import integrate, stats

SITES = ("S1", "S2", "S3", "S4")
SITE_FACTOR = (0.8, 1.0, 1.2, 1.4)
DIAG = ("bipolar", "depression_anxiety", "other", "personality", "psychosis")
DIAG_P = (0.15, 0.25, 0.1, 0.15, 0.35)


def _patterns(prior_mean: float, p_det: float, max_prior: int = 25):
    """Covariate patterns (site, prior, det) and their probabilities."""
    prior = np.arange(max_prior + 1)
    pp = stats.poisson.pmf(prior, prior_mean)
    pp[-1] += 1 - pp.sum()
    rows = []
    for s, f in enumerate(SITE_FACTOR):
        for det in (0, 1):
            for k in prior:
                prob = (1 / len(SITES)) * (p_det if det else 1 - p_det) * pp[k]
                rows.append((s, f, k, det, prob))
    return pd.DataFrame(rows, columns=["site", "factor", "prior", "det", "prob"])


def truth(*, lam=0.0035, shape=0.8, log_hr=-0.3, b_prior=0.15, b_det=0.3, death_rate=0.1 / 365,
          followup=365, prior_mean=1.0, p_det=0.4, rate=2.0 / 365, log_rr=-0.25,
          alpha=0.8) -> dict:
    """True values of the estimands of :func:`simulate_trial` (per arm where relevant)."""
    pat = _patterns(prior_mean, p_det)
    out = {"hazard_ratio": float(np.exp(log_hr)), "rate_ratio": float(np.exp(log_rr)),
           "nb_alpha": alpha}
    for arm, name in ((1, "treated"), (0, "control")):
        scale = lam * pat["factor"].to_numpy() * np.exp(
            log_hr * arm + b_prior * pat["prior"].to_numpy() + b_det * pat["det"].to_numpy())
        w = pat["prob"].to_numpy()
        S = lambda t, scale=scale: np.exp(-scale * t**shape)  # noqa: E731
        risk_hyp = float(w @ (1 - S(followup)))
        # P(T < followup, T < D): integral of f_T(t) exp(-mu t); substitution u = t^shape
        # removes the singularity of the Weibull density at 0.
        cif = 0.0
        for sc, wi in zip(scale, w, strict=True):
            val = integrate.quad(
                lambda u, sc=sc: sc * np.exp(-sc * u - death_rate * u ** (1 / shape)),
                0, followup**shape, epsabs=1e-12, epsrel=1e-10)[0]
            cif += wi * val
        composite = float(w @ (1 - S(followup) * np.exp(-death_rate * followup)))
        # discrete RMST of floor(min(T, followup)) = sum_{k=1}^{followup} S(k)
        ks = np.arange(1, followup + 1)
        rmst = float(w @ np.exp(-np.outer(scale, ks**shape)).sum(axis=1))
        out[name] = {"risk_hypothetical": risk_hyp, "cif": float(cif),
                     "risk_composite": composite, "rmst": rmst}
    for key in ("risk_hypothetical", "cif", "risk_composite", "rmst"):
        out[f"{key}_difference"] = out["treated"][key] - out["control"][key]
    r1, r0 = out["treated"]["risk_hypothetical"], out["control"]["risk_hypothetical"]
    out["odds_ratio_hypothetical"] = r1 / (1 - r1) / (r0 / (1 - r0))
    r1, r0 = out["treated"]["cif"], out["control"]["cif"]
    out["odds_ratio_while_alive"] = r1 / (1 - r1) / (r0 / (1 - r0))
    return out


def simulate_trial(n: int = 600, seed: int = 1, *, lam=0.0035, shape=0.8, log_hr=-0.3,
                   b_prior=0.15, b_det=0.3, death_rate=0.1 / 365, withdraw_rate=0.1 / 365,
                   followup=365, prior_mean=1.0, p_det=0.4, rate=2.0 / 365, log_rr=-0.25,
                   alpha=0.8, mean_stay=14.0, treated="peer_support", control="usual_care"):
    """Simulate (adsl, adtte, adre, truth) with the DGP in the module docstring."""
    rng = np.random.default_rng(seed)
    arm = rng.permutation(np.arange(n) % 2)
    site = rng.integers(0, len(SITES), n)
    prior = rng.poisson(prior_mean, n)
    det = (rng.random(n) < p_det).astype(int)
    diag = rng.choice(len(DIAG), size=n, p=DIAG_P)
    ids = np.array([f"P{i:05d}" for i in range(n)])
    armc = np.where(arm == 1, treated, control)
    adsl = pd.DataFrame({
        "USUBJID": ids, "SITEID": np.array(SITES)[site], "ARM": armc,
        "DIAGGR": np.array(DIAG)[diag], "PRIORADM": prior,
        "DETINDFL": np.where(det == 1, "Y", "N"),
    })
    scale = lam * np.array(SITE_FACTOR)[site] * np.exp(log_hr * arm + b_prior * prior + b_det * det)
    T = (rng.exponential(1.0, n) / scale) ** (1 / shape)
    D = rng.exponential(1 / death_rate, n)
    W = rng.exponential(1 / withdraw_rate, n)
    end = np.minimum.reduce([T, D, W, np.full(n, float(followup))])
    cnsr = np.where(end == T, 0, 1)
    cmp = np.where((end == D) & (D < T), "Y", "N")
    aval = np.where(end >= followup, followup, np.floor(end)).astype(float)
    adtte = pd.DataFrame({"USUBJID": ids, "PARAMCD": "READMIT", "AVAL": aval, "CNSR": cnsr,
                          "CMPEVFL": cmp, "ARM": armc, "SITEID": adsl["SITEID"]})
    # recurrent readmissions on the at-risk time scale
    follow = np.minimum.reduce([D, W, np.full(n, float(followup))])
    Z = rng.gamma(1 / alpha, alpha, n)
    N = rng.poisson(Z * rate * np.exp(log_rr * arm) * follow)
    rows = []
    beddays = np.zeros(n)
    for i in range(n):
        u = np.sort(rng.uniform(0, follow[i], N[i]))
        stays = rng.geometric(1 / mean_stay, N[i])
        beddays[i] = stays.sum()
        starts = np.r_[0.0, u]
        stops = np.r_[u, follow[i]]
        ev = np.r_[np.ones(N[i], int), 0]
        keep = stops > starts
        for s0, s1, e in zip(starts[keep], stops[keep], ev[keep], strict=True):
            rows.append((ids[i], s0, s1, e))
    adre = pd.DataFrame(rows, columns=["USUBJID", "TSTART", "TSTOP", "EVENT"])
    per = pd.DataFrame({"USUBJID": ids, "NREADM": N, "BEDDAYS": beddays, "RISKDAYS": follow})
    adre = adre.merge(per, on="USUBJID", how="left")
    tr = truth(lam=lam, shape=shape, log_hr=log_hr, b_prior=b_prior, b_det=b_det,
               death_rate=death_rate, followup=followup, prior_mean=prior_mean, p_det=p_det,
               rate=rate, log_rr=log_rr, alpha=alpha)
    return adsl, adtte, adre, tr
