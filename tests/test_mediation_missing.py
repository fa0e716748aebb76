"""Missing data: counted per variable, per reason and per model; never silently dropped."""

import warnings

import numpy as np
import pandas as pd
import pytest

from outcomes.mediation import MissingDataWarning, Roles, count_missing, fit_mediation


def data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"arm": rng.permutation(np.arange(n) % 2).astype(float),
                      "x": rng.normal(size=n), "site": rng.choice(["a", "b"], n)})
    d["m"] = 0.5 * d.arm + rng.normal(size=n)
    d["m2"] = 0.2 * d.arm + rng.normal(size=n)
    d["y"] = 0.3 * d.arm + 0.5 * d.m + rng.normal(size=n)
    d.loc[0:4, "m"] = np.nan  # 5 missing the mediator only
    d.loc[5:7, "y"] = np.nan  # 3 missing the outcome only
    d.loc[8:9, ["m", "y"]] = np.nan  # 2 missing both
    d.loc[10, "site"] = None  # 1 missing a covariate
    d.loc[11, "arm"] = np.nan  # 1 missing the exposure
    d.loc[12, "m2"] = np.inf  # non-finite counts as missing
    return d


def test_counts_by_variable_reason_and_model():
    d = data()
    roles = Roles("arm", ("m", "m2"), ("y",), ("x", "site"))
    rep, mask = count_missing(d, roles)
    assert rep.n_total == 120 and rep.n_used == 120 - 13 == mask.sum()
    assert rep.by_variable == {"arm": 1, "x": 0, "site": 1, "m": 7, "m2": 1, "y": 5}
    assert rep.by_reason == {"covariate": 1, "exposure": 1, "mediator": 6, "mediator+outcome": 2,
                             "outcome": 3}
    assert rep.by_model["mediator model: m"] == {"n_complete": 120 - 9, "n_missing": 9}
    assert rep.by_model["mediator model: m2"] == {"n_complete": 120 - 3, "n_missing": 3}
    assert rep.by_model["outcome model"]["n_complete"] == 107
    tab = rep.to_frame()
    assert tab.set_index(["kind", "name"]).loc[("excluded", "any missing"), "n"] == 13


def test_fit_warns_reports_and_equals_the_complete_case_fit():
    d = data()
    kw = dict(exposure="arm", mediators=["m", "m2"], outcome="y", outcome_type="linear",
              covariates=["x", "site"], n_boot=30)
    with pytest.warns(MissingDataWarning, match="13 of 120"):
        res = fit_mediation(d, rng=np.random.default_rng(1), **kw)
    assert res.n == 107 and (res.to_frame()["n"] == 107).all()
    assert res.missing.by_reason["mediator+outcome"] == 2
    assert res.report()["missing"]["n_used"] == 107
    cc = d[np.isfinite(d[["arm", "x", "m", "m2", "y"]]).all(axis=1) & d.site.notna()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no exclusions, no warning
        ref = fit_mediation(cc, rng=np.random.default_rng(1), **kw)
    pd.testing.assert_frame_equal(res.to_frame(), ref.to_frame())
    miss = res.missing_frame()
    assert {"excluded_by_reason", "missing_by_variable"} <= set(miss["kind"])
