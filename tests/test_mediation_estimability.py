"""Degenerate designs and small samples (issue 10, points 3 and 4): a clear error naming the
column, or a failed replicate, never a silently wrong number."""

import numpy as np
import pandas as pd
import pytest

from outcomes.errors import NotEstimable, SingularDesign
from outcomes.mediation import MediationDataError, bootstrap_counts, fit_mediation
from outcomes.mediation.checks import interval_failure


def trial(n=400, seed=7, treated=None):
    """Linear mediator and outcome: a = 0.5, b = 0.4, c' = 0.2, one covariate x."""
    rng = np.random.default_rng(seed)
    arm = np.zeros(n, dtype=int)
    arm[rng.permutation(n)[: n // 2 if treated is None else treated]] = 1
    x = rng.normal(size=n)
    m = 0.5 * arm + 0.3 * x + rng.normal(size=n)
    y = 0.2 * arm + 0.4 * m + 0.3 * x + rng.normal(size=n)
    time = np.ceil(rng.exponential(300 * np.exp(0.3 * arm), n))
    return pd.DataFrame({"arm": arm, "x": x, "M": m, "y": y, "yb": (y > 0.3).astype(int),
                         "time": np.minimum(time, 365), "event": (time <= 365).astype(int)})


def fit(d, **kw):
    args = dict(exposure="arm", mediators=["M"], outcome="y", outcome_type="linear",
                covariates=["x"], n_boot=0, rng=np.random.default_rng(1))
    return fit_mediation(d, **{**args, **kw})


def test_constant_mediator_is_a_singular_design_naming_it():
    """Before: ACME 0 and ADE = total = the arm coefficient of y ~ arm + x, reported as a
    mediation analysis of a mediator that does not vary."""
    d = trial()
    d["M"] = 3.0
    with pytest.raises(SingularDesign, match=r"outcome model for M: .*\(M is constant\)") as e:
        fit(d)
    assert e.value.aliased == ("M",)


def test_covariate_identical_to_exposure_is_a_singular_design_naming_it():
    """Before: the minimum-norm solution split the arm effect between arm and X, so every
    effect came out exactly half the true one."""
    d = trial()
    d["X"] = d["arm"]
    with pytest.raises(SingularDesign, match=r"mediator model for M: .*X is a linear "
                                             r"combination of arm"):
        fit(d, covariates=["x", "X"])


def test_mediator_equal_to_a_covariate_names_the_mediator():
    d = trial()
    d["M"] = 2 * d["x"] + 1
    with pytest.raises(SingularDesign, match=r"M is a linear combination of Intercept, x|"
                                             r"x is a linear combination of .*M"):
        fit(d)


@pytest.mark.parametrize("role,column,kw", [
    ("mediator", "M", {}),
    ("outcome", "y", {}),
    ("exposure", "arm", {}),
    ("time", "time", dict(outcome_type="weibull", outcome=None, time="time", event="event")),
    ("event", "event", dict(outcome_type="weibull", outcome=None, time="time", event="event")),
])
def test_text_in_a_model_column_names_the_column(role, column, kw):
    d = trial()
    d[column] = d[column].astype(object)
    d.loc[5, column] = "n/a"
    with pytest.raises(MediationDataError, match=rf"{role} column '{column}' .*'n/a'"):
        fit(d, **kw)


def test_exposure_coded_as_text_names_the_codes():
    d = trial()
    d["arm"] = np.where(d["arm"] == 1, "peer", "usual")
    with pytest.raises(MediationDataError, match=r"exposure column 'arm' must be coded 0/1; "
                                                 r"found \['peer', 'usual'\]"):
        fit(d)


def test_a_resample_without_one_arm_is_a_failed_replicate():
    """2 treated of 20: about (18/20)^20 = 12% of resamples have no treated participant, so
    the exposure coefficient is not identified there (before, the minimum-norm solution gave
    a finite, meaningless replicate)."""
    d = trial(n=20, treated=2)
    res = fit(d, n_boot=300, ci_level=0.5)
    counts = np.vstack(list(bootstrap_counts(np.random.default_rng(1), 20, 300)))
    no_treated = counts[:, d["arm"].to_numpy() == 1].sum(axis=1) == 0
    reps = res.replicates[("M", "mean_difference")]
    assert no_treated.sum() > 20
    np.testing.assert_array_equal(~np.isfinite(reps).all(axis=1), no_treated)
    assert res.n_boot_failed["M"] == no_treated.sum()
    assert any(f"no participant with arm = 0 or 1 in the resample: {no_treated.sum()}" in note
               for note in res.notes)
    # 12% failed > 2.5%: the 95% intervals are not estimable
    tab = fit(d, n_boot=300).to_frame()
    assert (tab["status"] == "not estimable").all()
    assert tab["reason"].str.contains("no participant with arm = 0 or 1").all()


def test_a_resample_in_which_the_mediator_does_not_vary_is_a_failed_replicate():
    d = trial(n=60)
    d["M"] = 0.0
    d.loc[[3, 40], "M"] = 1.0  # M varies only through two participants
    # declared continuous: 0/1 data would otherwise be a binary mediator (docs/mediation.md 4a)
    res = fit(d, n_boot=200, ci_level=0.2, mediator_types={"M": "continuous"})
    counts = np.vstack(list(bootstrap_counts(np.random.default_rng(1), 60, 200)))
    flat = counts[:, [3, 40]].sum(axis=1) == 0
    assert flat.sum() > 10
    reps = res.replicates[("M", "mean_difference")]
    np.testing.assert_array_equal(~np.isfinite(reps).all(axis=1), flat)


def test_interaction_needs_the_mediator_to_vary_within_each_arm():
    d = trial(n=60)
    d.loc[d["arm"] == 0, "M"] = 1.0  # constant among controls: arm:M is aliased with arm
    with pytest.raises(SingularDesign, match=r"arm:M is a linear combination of"):
        fit(d, interaction=True)


@pytest.mark.parametrize("n_treated,match", [(1, r"only 1 complete case\(s\) with arm = 1"),
                                             (0, r"only 0 complete case\(s\) with arm = 1")])
def test_fewer_than_two_per_arm_is_not_estimable(n_treated, match):
    d = trial(n=12, treated=n_treated)
    with pytest.raises(NotEstimable, match=match):
        fit(d)


def test_two_per_arm_is_estimated_when_the_models_have_residual_degrees_of_freedom():
    """Before: any analysis of fewer than 10 complete cases was refused."""
    d = trial(n=6, treated=3)
    res = fit(d, covariates=[])
    assert res.to_frame()["estimate"].notna().all()
    assert (res.to_frame()["status"] == "estimated").all()
    d4 = pd.concat([d[d["arm"] == 1].iloc[:2], d[d["arm"] == 0].iloc[:2]])
    with pytest.raises(NotEstimable, match=r"outcome model for M: 4 complete cases for 4 "
                                           r"parameters \(no residual degree of freedom\)"):
        fit(d4)


def test_logistic_outcome_with_one_value_is_not_estimable():
    d = trial()
    d["yb"] = 0
    with pytest.raises(NotEstimable, match=r"outcome yb is 0 for all 400 complete cases"):
        fit(d, outcome="yb", outcome_type="logistic")


def test_separated_logistic_outcome_is_not_estimable_naming_separation():
    d = trial()
    d["yb"] = (d["M"] > 0.3).astype(int)
    with pytest.raises(NotEstimable, match=r"logistic outcome model for M has no finite "
                                           r"maximum-likelihood estimate .*separation of yb"):
        fit(d, outcome="yb", outcome_type="logistic")


def test_weibull_without_events_is_not_estimable():
    d = trial()
    d["event"] = 0
    with pytest.raises(NotEstimable, match=r"no events \(event = 1\) among the 400 complete "
                                           r"cases"):
        fit(d, outcome_type="weibull", outcome=None, time="time", event="event")


def test_logistic_outcome_constant_in_one_arm_is_not_estimable():
    d = trial()
    d.loc[d["arm"] == 0, "yb"] = 1
    with pytest.raises(NotEstimable, match=r"outcome yb is 1 for every complete case with "
                                           r"arm = 0: \(quasi-\)complete separation"):
        fit(d, outcome="yb", outcome_type="logistic")


def test_weibull_with_events_in_one_arm_only_is_not_estimable():
    """Monotone likelihood: with every event in the control arm the arm coefficient's MLE is
    infinite; before, Newton stopped at coefficients of ~1e10 and reported effects."""
    d = trial(n=60)
    d.loc[d["arm"] == 1, "event"] = 0
    d.loc[d["arm"] == 1, "time"] = 365
    with pytest.raises(NotEstimable, match=r"no events \(event = 1\) among the complete cases "
                                           r"with arm = 1: monotone likelihood"):
        fit(d, outcome_type="weibull", outcome=None, time="time", event="event")


def test_failed_replicate_threshold_is_half_of_one_minus_the_ci_level():
    assert interval_failure({"a": 25}, 1000, 0.95) is None
    why = interval_failure({"a": 20, "b": 6}, 1000, 0.95)
    assert why.startswith("26 of 1000 bootstrap replicates failed (a: 20; b: 6)")
    assert interval_failure({"a": 100}, 1000, 0.8) is None
    assert interval_failure({"a": 5}, 0, 0.95) is None


def test_a_resample_with_no_more_participants_than_parameters_is_a_failed_replicate():
    """n = 8, outcome model y ~ 1 + arm + M + x: a resample of at most 4 distinct
    participants fits it exactly (no residual variance); before, such replicates were kept."""
    d = trial(n=8, treated=4, seed=11)
    res = fit(d, n_boot=400, ci_level=0.01)
    counts = np.vstack(list(bootstrap_counts(np.random.default_rng(1), 8, 400)))
    treated = d["arm"].to_numpy() == 1
    n1 = counts[:, treated].sum(axis=1)
    expected = (n1 == 0) | (n1 == 8) | ((counts > 0).sum(axis=1) <= 4)
    assert 5 < expected.sum() < 400
    reps = res.replicates[("M", "mean_difference")]
    np.testing.assert_array_equal(~np.isfinite(reps).all(axis=1), expected)
    assert any("at most 4 distinct participants" in note for note in res.notes)
