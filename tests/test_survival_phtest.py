"""Proportional-hazards test against R ``survival::cox.zph`` (survival 3.5-3, terms = TRUE).

The R outputs are stored in tests/r/fixtures/zph_<case>.tsv (statistic, df, p per term and
GLOBAL, transforms km and rank) with the data they were computed on (zph_<case>.csv) and
R's coefficients (.tsv.coef); ``python tests/test_survival_phtest.py`` regenerates them
with tests/r/cox_zph.R. Tolerances: with R's coefficients plugged in, the statistics are
the same algebra (1e-9 relative); through the package's own Cox fit, both fits stop within
~1e-9 of the maximum, which moves the statistics by < 1e-6 relative.

The stratified cases are where the old lifelines-based test went wrong: its ``rank``
transform was a running count of events in lifelines' row order, restarting in each
stratum, whereas cox.zph ranks the follow-up times of the pooled data.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_rossi

from outcomes.errors import NotEstimable
from outcomes.survival import cox
from outcomes.survival.cox import fit_efron
from outcomes.survival.phtest import cox_zph, zph_time_transform

FIX = Path(__file__).parent / "r" / "fixtures"
CASES = ("rossi", "rossi_strata_wexp", "tenure_ties_site_strata")


def _case(name: str) -> pd.DataFrame:
    """The data of each case: columns time, event, [strata], covariates."""
    if name.startswith("rossi"):
        r = load_rossi().rename(columns={"week": "time", "arrest": "event"})
        if name == "rossi_strata_wexp":
            r = r.rename(columns={"wexp": "strata"})
        return r
    rng = np.random.default_rng(2026)
    n = 500
    arm = rng.integers(0, 2, n)
    prior = rng.poisson(1.2, n)
    det = (rng.random(n) < 0.4).astype(int)
    diag = rng.choice(["bipolar", "psychosis", "schizophrenia"], n)
    site = rng.choice(["S1", "S2", "S3", "S4"], n)
    # arm effect that fades over time: non-proportional hazards for the test to see
    lp = -0.35 * arm + 0.2 * prior + 0.3 * det + 0.4 * (diag == "psychosis")
    t = rng.weibull(np.where(arm == 1, 0.6, 1.2)) / (0.004 * np.exp(lp)
                                                     * (1 + (site == "S2")))
    c = rng.uniform(60, 600, n)
    time = np.floor(np.minimum(np.minimum(t, c), 365))
    ev = ((t <= c) & (t < 365)).astype(int)
    return pd.DataFrame({"time": time, "event": ev, "strata": site, "ARM": arm,
                         "PRIORADM": prior, "DETINDFL": det, "DIAGGR": diag})


def _design(d: pd.DataFrame):
    from outcomes.survival._common import design

    covs = [c for c in d.columns if c not in ("time", "event", "strata")]
    X = design(d, covs)
    terms = {}
    for col in X.columns:
        terms.setdefault(col.split("[", 1)[0], []).append(col)
    st = d["strata"].to_numpy() if "strata" in d else None
    return X, st, terms


def _r(name):
    tab = pd.read_csv(FIX / f"zph_{name}.tsv", sep="\t")
    coef = pd.read_csv(FIX / f"zph_{name}.tsv.coef", sep="\t")
    return tab, coef["coef"].to_numpy()


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("transform", ["km", "rank"])
def test_cox_zph_equals_r(name, transform):
    d = pd.read_csv(FIX / f"zph_{name}.csv")
    X, st, terms = _design(d)
    tab, r_coef = _r(name)
    want = tab[tab["transform"] == transform].reset_index(drop=True)
    # same coefficients: same algebra
    got = cox_zph(X, d.time, d.event, r_coef, st, transform, terms)
    assert list(got.term) == list(want.term)
    assert list(got.df) == list(want.df)
    np.testing.assert_allclose(got.statistic, want.statistic, rtol=1e-9)
    np.testing.assert_allclose(got.p_value, want.p_value, rtol=1e-8, atol=1e-300)
    # the package's own fit
    beta = fit_efron(X.to_numpy(float), d.time.to_numpy(float), d.event.to_numpy(float),
                     strata=st)[0]
    np.testing.assert_allclose(beta, r_coef, rtol=1e-6, atol=1e-9)
    own = cox_zph(X, d.time, d.event, beta, st, transform, terms)
    np.testing.assert_allclose(own.statistic, want.statistic, rtol=1e-6)
    np.testing.assert_allclose(own.p_value, want.p_value, rtol=1e-6)


def test_tenure_cox_rows_equal_r_on_stratified_tied_data():
    """Through ``cox`` (the pipeline's path): site strata, a factor term with 2 df."""
    d = pd.read_csv(FIX / "zph_tenure_ties_site_strata.csv")
    dd = d.assign(AVAL=d.time, CNSR=1 - d.event, SITEID=d.strata,
                  ARM=np.where(d.ARM == 1, "peer_support", "usual_care"))
    tab, _ = _r("tenure_ties_site_strata")
    for transform in ("km", "rank"):
        res = cox(dd, covariates=("PRIORADM", "DETINDFL", "DIAGGR"), strata=("SITEID",),
                  ph=True, ph_transform=transform)
        want = tab[tab["transform"] == transform].reset_index(drop=True)
        np.testing.assert_allclose(res.ph_test.statistic, want.statistic, rtol=1e-6)
        rows = res.to_frame()
        ph = rows[rows.estimate_type == "ph_test_chisq"]
        assert list(ph.contrast) == [f"PH test ({transform} transform): {t}"
                                     for t in want.term]
        np.testing.assert_allclose(ph.p_value, want.p_value, rtol=1e-6)
    # the fading arm effect is detected
    assert want.set_index("term").loc["ARM", "p_value"] < 0.05


def test_transforms_are_pooled_over_strata():
    """km: 1 - KM(t-) of the pooled data; rank: ranks of all times (ties averaged)."""
    t = np.array([3.0, 1.0, 2.0, 2.0, 5.0])
    e = np.array([1, 1, 0, 1, 1])
    np.testing.assert_allclose(zph_time_transform(t, e, "rank"), [4, 1, 2.5, 2.5, 5])
    # KM: S(1)=4/5, S(2)=4/5*3/4=3/5, S(3)=3/5*1/2=3/10
    np.testing.assert_allclose(zph_time_transform(t, e, "km"),
                               [1 - 3 / 5, 0, 1 - 4 / 5, 1 - 4 / 5, 1 - 3 / 10])


def test_no_event_and_singular_information_are_not_estimable():
    X = pd.DataFrame({"ARM": [0.0, 1.0, 0.0, 1.0]})
    with pytest.raises(NotEstimable, match="at least one event"):
        cox_zph(X, [1, 2, 3, 4], [0, 0, 0, 0], [0.0])
    # a single event time: g(t) is 0 at every event, the augmented information is 0
    with pytest.raises(NotEstimable, match="singular"):
        cox_zph(X, [1, 1, 3, 4], [1, 1, 0, 0], [0.0])


def _regenerate():  # pragma: no cover - run by hand with R installed
    FIX.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        csv = FIX / f"zph_{name}.csv"
        _case(name).to_csv(csv, index=False)
        subprocess.run(["Rscript", str(Path(__file__).parent / "r" / "cox_zph.R"), str(csv),
                        str(FIX / f"zph_{name}.tsv")], check=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_regenerate())


def test_cox_keeps_its_hazard_ratio_when_the_ph_test_is_not_estimable():
    """All events on one day: the Cox model is estimable, the PH test is not; its rows say
    why instead of failing the analysis."""
    n = 40
    arm = np.tile(["peer_support", "usual_care"], n // 2)
    ev = np.r_[np.ones(6), np.zeros(n - 6)].astype(int)
    rng = np.random.default_rng(0)
    rng.shuffle(ev)
    d = pd.DataFrame({"AVAL": np.where(ev == 1, 30.0, 365.0), "CNSR": 1 - ev, "ARM": arm,
                      "PRIORADM": rng.poisson(1, n)})
    res = cox(d, covariates=("PRIORADM",), ph=True)
    f = res.to_frame()
    hr = f[f.estimate_type == "hazard_ratio"]
    assert np.isfinite(hr.estimate).all() and (hr.status == "estimated").all()
    ph = f[f.estimate_type == "ph_test_chisq"]
    assert list(ph.contrast) == ["PH test (km transform): ARM",
                                 "PH test (km transform): PRIORADM",
                                 "PH test (km transform): GLOBAL"]
    assert ph.estimate.isna().all() and ph.p_value.isna().all()
    assert (ph.status == "not estimable").all()
    assert ph.reason.str.contains("singular information").all()
