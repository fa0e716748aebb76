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
from outcomes.mediation import interventional as ivx
from outcomes.mediation.engine import MONOTONE_OUTCOME, SEPARATED_MEDIATOR, SEPARATED_OUTCOME
from outcomes.mediation.fitting import (
    ETA_SCREEN,
    fit_logistic,
    fit_weibull,
    monotone_likelihood,
    separated,
)
from outcomes.mediation.interventional import OUTCOME_RIDGE
from outcomes.mediation.mi import fit_mediation_mi
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
    # the truth checked again by the linear program per resample (the one the survival checks share)
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


# -- a separated natural-effect model keeps the interventional effects (decisions IS1) --------

def _one_member_site(n=N):
    """A site of one participant: the natural logistic outcome model of the complete cases
    is separated (its maximum likelihood estimate does not exist); the interventional
    outcome model, ridge-penalised, has a finite maximum. ``l``: a 0/1 consequence of the
    arm (the exposure-induced confounder)."""
    d = trial(n=n)
    d.loc[:0, "site"] = "tiny"
    rng = np.random.default_rng(11)
    d["l"] = (rng.random(n) < 0.3 + 0.3 * d["arm"]).astype(int)
    return d


def _iv(tab):
    return tab["effect"].str.startswith("interventional_")


def test_a_separated_natural_model_keeps_the_interventional_rows(monkeypatch):
    d = _one_member_site()
    kw = dict(exposure="arm", mediators=["m"], outcome="yb", outcome_type="logistic",
              covariates=["x", "site"], n_boot=B)
    with pytest.raises(NotEstimable) as alone:  # without interventional effects: as before
        fit_mediation(d, rng=np.random.default_rng(SEED), **kw)
    assert "separation of yb" in alone.value.reason
    res = fit_mediation(d, rng=np.random.default_rng(SEED), exposure_induced_confounders=["l"],
                        **kw)
    tab = res.to_frame()
    iv = _iv(tab)
    assert (~iv).sum() == 8 and iv.sum() == 3
    assert (tab.loc[~iv, "status"] == "not estimable").all()
    assert (tab.loc[~iv, "reason"] == alone.value.reason).all()
    assert tab.loc[~iv, ["estimate", "ci_low", "ci_high", "p_value"]].isna().all().all()
    assert (tab.loc[iv, "status"] == "estimated").all() and (tab.loc[iv, "reason"] == "").all()
    assert np.isfinite(tab.loc[iv, ["estimate", "ci_low", "ci_high"]].to_numpy(float)).all()
    assert ("m", "risk_difference") not in res.point_effects and "m" not in res.failed_by
    assert any(n.startswith("m: natural effects not estimable") for n in res.notes)

    # The same interventional rows as when Newton "converged" at its stall on the separated
    # complete cases (the checks switched off: the engine before decisions SP1): the same
    # point estimates, resamples (random stream) and failed replicates. The replicates
    # differ only by the quadrature (IS1: nodes chosen from the interventional fit, not from
    # the stalled natural one); with the old run's nodes they are identical.
    with monkeypatch.context() as mp:
        mp.setattr(fitting, "_separated_replicates",
                   lambda X, y, W, Xs, g, converged: np.zeros(W.shape[0], dtype=bool))
        old = fit_mediation(d, rng=np.random.default_rng(SEED),
                            exposure_induced_confounders=["l"], **kw)
    assert ("m", "risk_difference") in old.point_effects  # the stall: natural effects reported
    key = ("m (interventional)", "risk_difference")
    np.testing.assert_array_equal(res.point_effects[key], old.point_effects[key])
    assert res.failed_by[key[0]] == old.failed_by[key[0]]
    new_r, old_r = res.replicates[key], old.replicates[key]
    np.testing.assert_array_equal(np.isfinite(new_r), np.isfinite(old_r))
    assert np.nanmax(np.abs(new_r - old_r)) < 1e-4
    k_old = old.quadrature_nodes["m"]["bootstrap"]
    monkeypatch.setattr(ivx.InterventionalAnalysis, "nodes", lambda self, label, qtol: k_old)
    same = fit_mediation(d, rng=np.random.default_rng(SEED), exposure_induced_confounders=["l"],
                         **kw)
    np.testing.assert_array_equal(same.replicates[key], old_r)
    pd.testing.assert_frame_equal(same.to_frame().loc[iv], old.to_frame().loc[iv])


def test_a_separated_binary_mediator_leaves_both_kinds_not_estimable():
    """The mediator model is shared by the natural and the interventional effects (and the
    interventional ones are for normal mediators only): the analysis is not estimable."""
    d = _one_member_site()
    d["mb"] = (d["m"] > 0).astype(int)
    d.loc[0, "mb"] = 1
    with pytest.raises(NotEstimable, match="logistic mediator model for mb has no finite"):
        fit_mediation(d, exposure="arm", mediators=["mb"], outcome="y", outcome_type="linear",
                      covariates=["x", "site"], n_boot=20, mediator_types={"mb": "binary"},
                      exposure_induced_confounders=["l"], rng=np.random.default_rng(SEED))


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


def test_a_monotone_natural_weibull_model_keeps_the_interventional_rows():
    """IS1 for the Weibull outcome: the interventional outcome model is ridge-penalised (a
    finite maximum); its bootstrap quadrature is chosen from its own full-sample fit."""
    d = _silent_site(200, 5)
    d["l"] = (np.random.default_rng(11).random(len(d)) < 0.3 + 0.3 * d["arm"]).astype(int)
    res = fit_mediation(d, exposure="arm", mediators=["m"], outcome_type="weibull",
                        time="days", event="event", covariates=["x", "site"], n_boot=50,
                        exposure_induced_confounders=["l"], rng=np.random.default_rng(SEED))
    tab = res.to_frame()
    iv = _iv(tab)
    assert (tab.loc[~iv, "status"] == "not estimable").all() and (~iv).sum() == 24
    assert tab.loc[~iv, "reason"].str.contains("monotone likelihood").all()
    assert (tab.loc[iv, "status"] == "estimated").all()
    assert np.isfinite(tab.loc[iv, ["estimate", "ci_low", "ci_high"]].to_numpy(float)).all()
    assert set(tab.loc[iv, "extrapolated"]) <= {"yes", "no"}


def test_multiple_imputation_pools_the_interventional_rows_of_a_separated_imputation():
    """IS1 under MI: the natural outcome model is separated in imputation 1 only (the
    two-person site has two non-events there, one of each in imputation 2). The natural rows
    are not estimable, naming the imputation and its reason; the interventional rows are
    pooled over both. Without interventional effects the analysis is not estimable as
    before."""
    d2 = _tiny()
    d2["l"] = (np.random.default_rng(11).random(N) < 0.3 + 0.3 * d2["arm"]).astype(int)
    d1 = d2.copy()
    d1.loc[1, "yb"] = 0
    kw = dict(exposure="arm", mediators=["m"], outcome="yb", outcome_type="logistic",
              covariates=["x", "site"], n_boot=40)
    with pytest.raises(NotEstimable, match=r"not estimable in 1 of 2 imputations \(imputation "
                                           r"1: .*separation of yb\)"):
        fit_mediation_mi([d1, d2], seed=np.random.SeedSequence(5), **kw)
    res = fit_mediation_mi([d1, d2], seed=np.random.SeedSequence(5),
                           exposure_induced_confounders=["l"], **kw)
    tab = res.to_frame()
    iv = _iv(tab)
    assert (tab.loc[~iv, "status"] == "not estimable").all()
    assert tab.loc[~iv, "reason"].str.match(
        r"not estimable in imputation\(s\) 1 \(the logistic outcome model for m has no "
        r"finite maximum-likelihood estimate .*separation of yb\)\)$").all()
    assert (tab.loc[iv, "status"] == "estimated").all()
    assert np.isfinite(tab.loc[iv, ["estimate", "ci_low", "ci_high"]].to_numpy(float)).all()
    # the pooled point estimate: the mean of the two imputations' interventional estimates
    key = ("m (interventional)", "risk_difference")
    mean = np.mean([f.point_effects[key] for f in res.fits], axis=0)
    np.testing.assert_allclose(tab.loc[iv, "estimate"].to_numpy(float), mean, rtol=0, atol=1e-15)
    # imputation 2 alone has its natural effects (its E-values and sensitivity grid are not
    # pooled with a fit that has none)
    assert ("m", "risk_difference") in res.fits[1].point_effects
    assert ("m", "risk_difference") not in res.fits[0].point_effects
