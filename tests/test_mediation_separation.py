"""Separated bootstrap resamples of the unpenalised logistic models (decisions SP1-SP5):
every resample whose maximum-likelihood estimate does not exist is a failed replicate,
however the batched Newton iteration stopped; a non-separated trial and ridge-penalised fits
have none; glm in R agrees on which resamples are separated.

The example: site "tiny" has two participants, one with yb = 0 and one with yb = 1. A
resample holding exactly one of them is quasi-completely separated (the site's dummy has
an infinite coefficient), one holding both or neither is not: which resamples are
separated is known without fitting anything."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
from rscript import R_DIR, require_r
from test_mediation_bootstrap import trial
from test_mediation_survival import trial as survival_trial

from outcomes.errors import NotEstimable
from outcomes.mediation import bootstrap_counts, fit_mediation, fitting
from outcomes.mediation.engine import MONOTONE_OUTCOME, SEPARATED_MEDIATOR, SEPARATED_OUTCOME
from outcomes.mediation.fitting import (
    ETA_SCREEN,
    fit_logistic,
    fit_weibull,
    monotone_likelihood,
    separated,
)
from outcomes.mediation.interventional import OUTCOME_RIDGE
from outcomes.mediation.summaries import NOT_MEANINGFUL
from outcomes.survival.estimability import separated_terms

N, B, SEED = 200, 200, 3


def _tiny():
    d = trial(n=N)
    d.loc[:1, "site"] = "tiny"
    d.loc[0, "yb"], d.loc[1, "yb"] = 0, 1
    return d


def _outcome_design(d):
    site = pd.get_dummies(d["site"], drop_first=True, dtype=float)
    X = np.column_stack([np.ones(len(d)), d[["arm", "m", "x"]].to_numpy(float), site])
    return X, d["yb"].to_numpy(float)


def _counts():
    return np.vstack(list(bootstrap_counts(np.random.default_rng(SEED), N, B)))


def _truth(W):
    """Resamples holding exactly one of the two members of site tiny: separated."""
    return (W[:, :2] > 0).sum(axis=1) == 1


def test_every_separated_resample_is_flagged_however_newton_stops(monkeypatch):
    d = _tiny()
    X, y = _outcome_design(d)
    W = _counts()
    truth = _truth(W)
    assert truth.sum() == 90
    # an independent check of the truth: the survival module's linear program per resample
    lp = np.array([bool(separated_terms(X[w > 0], y[w > 0], list("abcdefg"))) for w in W])
    np.testing.assert_array_equal(lp, truth)

    fit = fit_logistic(X, y, W)
    np.testing.assert_array_equal(fit.separated, truth)
    assert not fit.converged[truth].any() and fit.diverged[truth].all()
    assert np.isnan(fit.coef[truth]).all() and np.isfinite(fit.coef[~truth]).all()
    assert fit.converged[~truth].all()

    # Newton alone (the check switched off) stops in all three ways on these resamples:
    # most "converge" with a fitted risk of exactly 0 or 1 (the defect of decisions L82)
    monkeypatch.setattr(fitting, "_separated_replicates",
                        lambda X, y, W, Xs, g, converged: np.zeros(W.shape[0], dtype=bool))
    raw = fit_logistic(X, y, W)
    stalled = raw.converged & truth
    assert stalled.sum() > 60
    eta = np.abs(raw.coef[stalled] @ X.T)
    eta[W[stalled] == 0] = 0
    assert (eta.max(axis=1) > ETA_SCREEN).all()
    assert (raw.diverged & truth).any() and (~raw.converged & ~raw.diverged & truth).any()
    assert raw.converged[~truth].all()


def test_the_engine_counts_them_all_and_the_effects_are_not_estimable():
    res = fit_mediation(_tiny(), exposure="arm", mediators=["m"], outcome="yb",
                        outcome_type="logistic", covariates=["x", "site"], n_boot=B,
                        ci_level=0.8, rng=np.random.default_rng(SEED))
    truth = _truth(_counts())
    failed = ~np.isfinite(res.replicates[("m", "risk_difference")][:, 0])
    np.testing.assert_array_equal(failed, truth)
    # the probit refit of the sensitivity analysis (same rows, design and weights: the same
    # separation) is discarded on exactly those replicates
    sens = res.sensitivity_draws["m"]
    assert np.isnan(sens[truth]).all() and np.isfinite(sens[~truth]).all()
    assert res.n_boot_failed["m"] == 90
    assert res.failed_by["m"][SEPARATED_OUTCOME] == 90
    tab = res.to_frame()
    assert (tab["status"] == "not estimable").all()
    assert tab["reason"].str.startswith(
        f"90 of 200 bootstrap replicates failed ({SEPARATED_OUTCOME}: 90)").all()


@pytest.mark.parametrize("n", [200, 300, 1000])
def test_the_point_estimate_of_separated_data_is_not_estimable_naming_separation(n):
    """The full-sample fit follows the bootstrap's rule. A site with one participant
    separates the complete cases; before (decisions L82, SP1) the reason depended on where
    Newton stopped: at n = 200 it "converged" with the site's coefficient at -35 and effects
    were reported, at n = 300 it hit the iteration limit ("did not converge"), at n = 1000
    the coefficients passed the divergence bound ("separation")."""
    d = trial(n=n)
    d.loc[:0, "site"] = "tiny"
    with pytest.raises(NotEstimable, match=r"logistic outcome model for m has no finite "
                                           r"maximum-likelihood estimate on the \d+ complete "
                                           r"cases \(\(quasi-\)complete separation of yb\)"):
        fit_mediation(d, exposure="arm", mediators=["m"], outcome="yb",
                      outcome_type="logistic", covariates=["x", "site"], n_boot=20,
                      rng=np.random.default_rng(SEED))
    X, y = _outcome_design(d)
    full = fit_logistic(X, y, np.ones((1, n)))
    assert full.separated[0] and not full.converged[0] and np.isnan(full.coef).all()


def test_a_trial_without_separation_flags_no_resample():
    d = trial(n=N)
    X, y = _outcome_design(d)
    W = _counts()
    fit = fit_logistic(X, y, W)
    assert fit.converged.all() and not fit.separated.any()
    eta = np.abs(fit.coef @ X.T)
    assert eta.max() < ETA_SCREEN / 2  # not even screened
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome="yb",
                        outcome_type="logistic", covariates=["x", "site"], n_boot=B,
                        rng=np.random.default_rng(SEED))
    assert res.n_boot_failed["m"] == 0
    tab = res.to_frame()
    assert (tab.loc[tab["reason"] != NOT_MEANINGFUL, "status"] == "estimated").all()


def test_ridge_penalised_fits_are_never_separated():
    """The interventional models' penalty (interventional.OUTCOME_RIDGE) has a finite
    maximum on every resample, separated or not: all converge, none is flagged, and the
    penalised fit of a separated resample keeps the tiny site's fitted risk away from 0/1."""
    d = _tiny()
    X, y = _outcome_design(d)
    W = _counts()
    fit = fit_logistic(X, y, W, ridge=OUTCOME_RIDGE)
    assert fit.converged.all() and not fit.separated.any() and not fit.diverged.any()
    assert np.isfinite(fit.coef).all()
    assert np.abs(fit.coef @ X.T).max() < ETA_SCREEN


def test_a_separated_binary_mediator_is_counted_by_its_cause():
    d = _tiny()
    d["mb"] = (d["m"] > 0).astype(int)
    d.loc[0, "mb"], d.loc[1, "mb"] = 0, 1
    res = fit_mediation(d, exposure="arm", mediators=["mb"], outcome="y",
                        outcome_type="linear", covariates=["x", "site"], n_boot=B,
                        mediator_types={"mb": "binary"}, rng=np.random.default_rng(SEED))
    assert res.failed_by["mb"][SEPARATED_MEDIATOR] == 90
    np.testing.assert_array_equal(
        ~np.isfinite(res.replicates[("mb", "mean_difference")][:, 0]), _truth(_counts()))


def test_the_linear_program():
    X = np.column_stack([np.ones(6), [-2.0, -1, 0, 1, 2, 3]])
    assert separated(X, [0, 0, 0, 1, 1, 1])  # complete
    assert separated(X, [0, 0, 1, 1, 1, 1])  # complete, another cut
    assert not separated(X, [0, 1, 0, 1, 0, 1])  # overlap
    g = np.column_stack([np.ones(6), [0, 0, 0, 0, 1, 1.0]])
    assert separated(g, [0, 1, 0, 1, 1, 1])  # quasi-complete: group 1 all events
    assert not separated(g, [0, 1, 0, 1, 0, 1])
    # only rows with positive weight count: dropping the non-event of group 1 separates
    assert separated(g, [0, 1, 0, 1, 0, 1], w=[1, 2, 1, 1, 0, 3])
    assert not separated(g, [0, 1, 0, 1, 0, 1], w=[1, 2, 1, 1, 1, 3])


def test_glm_in_r_agrees_on_the_separated_resamples(tmp_path):
    """R's glm, iterated to epsilon = 1e-15, warns "fitted probabilities numerically 0 or 1
    occurred" on exactly the resamples flagged here. With its default control it warns on
    none of them: it stops at |eta| of about 15, reports convergence and the coefficient it
    stopped at (R ``mediation`` would keep such a resample without a word; decisions SP1)."""
    require_r(("stats",))
    d = _tiny()
    W = _counts()[:40]
    rows = [d.iloc[np.repeat(np.arange(N), w.astype(int))].assign(rep=b)
            for b, w in enumerate(W)]
    pd.concat(rows).to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "r.tsv"
    r = subprocess.run(["Rscript", str(R_DIR / "glm_separation.R"), str(tmp_path / "rows.csv"),
                        str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ref = pd.read_csv(out, sep="\t").sort_values("rep")
    X, y = _outcome_design(d)
    flagged = fit_logistic(X, y, W).separated
    assert 10 < flagged.sum() < 30
    np.testing.assert_array_equal(ref["warn_long"].astype(bool).to_numpy(), flagged)
    assert not ref["warn_default"].astype(bool).any()
    assert ref["converged_default"].astype(bool).all()
    assert (ref.loc[flagged, "eta_default"] > 10).all()
    assert (ref.loc[~flagged, "eta_default"] < 10).all()


# -- monotone Weibull likelihood (decisions IS2) ---------------------------------------------

def _silent_site(n, k):
    """The survival trial with a site of ``k`` participants, none with an event: the
    site's log-time coefficient has no finite maximum-likelihood estimate."""
    d = survival_trial(n=n)
    d.loc[:k - 1, "site"] = "tiny"
    d.loc[:k - 1, "event"] = 0
    return d


def _weibull_design(d):
    site = pd.get_dummies(d["site"], drop_first=True, dtype=float)
    return np.column_stack([np.ones(len(d)), d[["arm", "m", "x"]].to_numpy(float), site])


def _no_monotone_check(monkeypatch):
    monkeypatch.setattr(fitting, "_monotone_replicates",
                        lambda X, time, kind, W, *a: np.zeros(W.shape[0], dtype=bool))


def test_the_monotone_likelihood_program():
    X = np.column_stack([np.ones(6), [0, 0, 0, 0, 1, 1.0]])
    t = np.array([5, 6, 7, 8, 9, 10.0])
    assert monotone_likelihood(X, t, [1, 0, 1, 0, 0, 0])  # group 1: no event
    assert not monotone_likelihood(X, t, [1, 0, 1, 0, 1, 0])  # an event in each group
    assert not monotone_likelihood(X, t, [1, 0, 1, 0, 1, 1])  # group 1: only events
    # events at day 0 (interval-censored in (0, 1]) pull the other way: a group of them alone
    t0 = np.array([5, 6, 7, 8, 0, 0.0])
    assert monotone_likelihood(X, t0, [1, 0, 1, 0, 1, 1])
    # censored at day 0: nothing to the likelihood (the group is then not identified at all,
    # which is rank deficiency, not a monotone likelihood)
    assert not monotone_likelihood(X, t0, [1, 0, 1, 0, 0, 0])
    # only rows with positive weight count
    assert monotone_likelihood(X, t, [1, 0, 1, 0, 1, 0], w=[1, 1, 1, 1, 0, 2])
    # a continuous covariate: events at two values pin the direction (unlike the Cox
    # model, whose monotone likelihood only needs them at the extreme); one event below
    # every censored value does not
    x = np.column_stack([np.ones(6), [1, 2, 3, 4, 5, 6.0]])
    assert not monotone_likelihood(x, t, [1, 1, 0, 0, 0, 0])
    assert monotone_likelihood(x, t, [1, 0, 0, 0, 0, 0])
    assert not monotone_likelihood(x, t, [0, 0, 1, 0, 0, 0])


@pytest.mark.parametrize("n,k", [(200, 5), (400, 5), (5000, 1)])
def test_a_weibull_fit_of_a_site_without_events_stops_falsely_without_the_check(monkeypatch,
                                                                                n, k):
    """Newton "converges" on the monotone likelihood at a coefficient where the site's
    cumulative hazards are lost to rounding (|z| > ETA_SCREEN), below the bound DIVERGED;
    with the check the fit is diverged (no estimate)."""
    d = _silent_site(n, k)
    X = _weibull_design(d)
    fit = fit_weibull(X, d.days.to_numpy(), d.event.to_numpy(), np.ones((1, n)))
    assert fit.monotone[0] and fit.diverged[0] and not fit.converged[0]
    assert np.isnan(fit.coef).all() and np.isnan(fit.sigma).all()
    _no_monotone_check(monkeypatch)
    raw = fit_weibull(X, d.days.to_numpy(), d.event.to_numpy(), np.ones((1, n)))
    assert raw.converged[0] and not raw.diverged[0]
    z = (np.log(d.days.to_numpy()[:k]) - X[:k] @ raw.coef[0]) / raw.sigma[0]
    assert (z < -ETA_SCREEN).all()  # the silent site's cumulative hazards: numerically 0


def test_the_full_sample_weibull_fit_of_a_site_without_events_is_not_estimable(monkeypatch):
    d = _silent_site(200, 5)
    kw = dict(exposure="arm", mediators=["m"], outcome_type="weibull", time="days",
              event="event", covariates=["x", "site"], n_boot=20)
    events = int(d.event.sum())
    with pytest.raises(NotEstimable, match=rf"weibull outcome model for m has no finite "
                                           rf"maximum-likelihood estimate on the 200 complete "
                                           rf"cases \(monotone likelihood with {events} event"):
        fit_mediation(d, rng=np.random.default_rng(SEED), **kw)
    _no_monotone_check(monkeypatch)  # before: effects of wherever Newton stopped
    res = fit_mediation(d, rng=np.random.default_rng(SEED), **kw)
    assert (res.to_frame()["status"] == "estimated").any()


def test_monotone_weibull_resamples_are_failed_replicates(monkeypatch):
    """A site of two, one event and one censored: a resample holding the censored member
    and not the other has a monotone likelihood (the truth, known without fitting)."""
    d = survival_trial(n=N)
    d.loc[:1, "site"] = "tiny"
    d.loc[0, "event"], d.loc[1, "event"] = 1, 0
    W = _counts()
    truth = (W[:, 1] > 0) & (W[:, 0] == 0)
    assert truth.sum() == 43
    X = _weibull_design(d)
    fit = fit_weibull(X, d.days.to_numpy(), d.event.to_numpy(), W)
    np.testing.assert_array_equal(fit.monotone, truth)
    kw = dict(exposure="arm", mediators=["m"], outcome_type="weibull", time="days",
              event="event", covariates=["x", "site"], n_boot=B, ci_level=0.8)
    res = fit_mediation(d, rng=np.random.default_rng(SEED), **kw)
    failed = ~np.isfinite(res.replicates[("m", "risk_difference")][:, 0])
    np.testing.assert_array_equal(failed, truth)
    assert res.failed_by["m"][MONOTONE_OUTCOME] == 43 and res.n_boot_failed["m"] == 43
    tab = res.to_frame()
    assert (tab["status"] == "not estimable").all()
    assert tab["reason"].str.startswith(
        f"43 of 200 bootstrap replicates failed ({MONOTONE_OUTCOME}: 43)").all()
    # without the check (before): 41 of the 43 "converged" where Newton stopped and were
    # kept, the effects reported
    _no_monotone_check(monkeypatch)
    raw = fit_weibull(X, d.days.to_numpy(), d.event.to_numpy(), W)
    assert (raw.converged & truth).sum() == 41
    old = fit_mediation(d, rng=np.random.default_rng(SEED), **kw)
    assert old.n_boot_failed["m"] == 0
