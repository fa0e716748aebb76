"""Multiplicity (issue 15 point 7; docs/multiplicity.md): adjusted p-values of one family
against R's ``p.adjust`` and against closed testing itself, their properties, and the
plan's hierarchy tested on results tables (selectors, gatekeeping, fixed sequence, rows
that are not estimable, config errors naming the key).

Tolerances: 1e-12 absolute against ``p.adjust`` (both sides do the same few products and
running maxima/minima in double precision; R prints 17 significant digits); exact
(1e-15) against the closure, computed here by enumerating every intersection hypothesis.
"""

from __future__ import annotations

import itertools
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rscript import require_r

from outcomes import cli
from outcomes.errors import ConfigError
from outcomes.multiplicity import adjust, evaluate_hierarchy, fixed_sequence, gated
from outcomes.multiplicity.hierarchy import read_estimates
from outcomes.plan import AnalysisPlan

R_METHODS = ("holm", "hochberg", "bonferroni")


@pytest.fixture(scope="module", autouse=True)
def _no_collection_per_holm_call():
    """statsmodels' Holm runs a full garbage collection on every call (0.1-0.2 s with this
    suite's heap): harmless once per pipeline run, slow over the hundreds of calls here.
    It imports ``gc`` inside the function, so ``gc.collect`` itself is replaced, for this
    module's tests only; a collection does not change a number."""
    import gc

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gc, "collect", lambda *a, **k: 0)
        yield

# ----------------------------------------------------------------------------- one family


def _vectors() -> list[np.ndarray]:
    rng = np.random.default_rng(20261130)
    out = [np.array([0.01]), np.array([0.0, 1.0]), np.array([0.02, 0.02, 0.02]),
           np.array([0.01, 0.04, 0.03, 0.005]), np.array([0.3, 0.01, 0.3, 0.01, 0.9]),
           np.array([0.049, 0.051, 0.025, 0.0125, 1.0, 0.0])]
    for m in (2, 3, 4, 5, 8, 12):
        out.append(rng.uniform(size=m))
        out.append(rng.uniform(size=m) ** 4)  # small p-values, where the methods differ
        out.append(np.round(rng.uniform(0, 0.1, size=m), 2))  # ties
    return out


def test_holm_hochberg_bonferroni_equal_r_p_adjust(tmp_path):
    require_r(())  # base R's stats::p.adjust
    vectors = _vectors()
    src = tmp_path / "p.tsv"
    pd.DataFrame({"v": np.repeat(np.arange(len(vectors)), [len(v) for v in vectors]),
                  "p": np.concatenate(vectors)}).to_csv(src, sep="\t", index=False,
                                                        float_format="%.17g")
    script = (
        f'd <- read.delim("{src}"); out <- d\n'
        'for (m in c("holm", "hochberg", "bonferroni")) '
        "out[[m]] <- unlist(lapply(split(d$p, d$v), p.adjust, method = m))\n"
        'write.table(format(out, digits = 17), sep = "\\t", quote = FALSE, row.names = FALSE)\n')
    r = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    ref = pd.read_csv(pd.io.common.StringIO(r.stdout), sep="\t")
    assert len(ref) == sum(len(v) for v in vectors)
    for method in R_METHODS:
        ours = np.concatenate([adjust(v, method) for v in vectors])
        np.testing.assert_allclose(ours, ref[method].to_numpy(), rtol=0, atol=1e-12,
                                   err_msg=method)


def _closure(p: np.ndarray, local) -> np.ndarray:
    """Adjusted p-values by closed testing: for each hypothesis, the largest local p-value
    of the intersection hypotheses that contain it (Marcus, Peritz & Gabriel 1976)."""
    m = len(p)
    adj = np.zeros(m)
    for size in range(1, m + 1):
        for subset in itertools.combinations(range(m), size):
            p_local = min(local(p, subset), 1.0)
            for i in subset:
                adj[i] = max(adj[i], p_local)
    return adj


def _bonferroni_local(p, subset):
    return len(subset) * min(p[j] for j in subset)


def _gated_local(family_local):
    """Local tests of a primary hypothesis (index 0) gating a family (indices 1..m): an
    intersection with the primary is tested by the primary alone (all of alpha on it)."""
    def local(p, subset):
        if 0 in subset:
            return p[0]
        return family_local(p, subset)
    return local


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=6))
def test_fixed_sequence_and_holm_are_their_closures(ps):
    p = np.array(ps)
    # fixed sequence: an intersection is tested by its first hypothesis in the order, at alpha
    np.testing.assert_allclose(fixed_sequence(p), _closure(p, lambda q, s: q[min(s)]),
                               rtol=0, atol=1e-15)
    # Holm: the closure of Bonferroni tests
    np.testing.assert_allclose(adjust(p, "holm"), _closure(p, _bonferroni_local), rtol=0,
                               atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1), st.lists(st.floats(0, 1), min_size=1, max_size=5))
def test_serial_gatekeeping_is_the_closure_of_the_gated_tests(p_gate, family):
    """max(p_primary, p̃_i) is closed testing with the primary as the serial gatekeeper:
    for Holm and for a fixed sequence exactly, and Bonferroni is no smaller (it is not a
    closed procedure, only bounded by one)."""
    p = np.array([p_gate, *family])
    holm = _closure(p, _gated_local(lambda q, s: _bonferroni_local(q, s)))
    np.testing.assert_allclose(gated(p_gate, adjust(family, "holm")), holm[1:], atol=1e-15,
                               rtol=0)
    seq = _closure(p, _gated_local(lambda q, s: q[min(s)]))
    np.testing.assert_allclose(gated(p_gate, adjust(family, "fixed_sequence")), seq[1:],
                               atol=1e-15, rtol=0)
    assert (gated(p_gate, adjust(family, "bonferroni")) >= holm[1:] - 1e-15).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=10))
def test_adjusted_p_values_are_at_least_raw_at_most_one_and_monotone(ps):
    p = np.array(ps)
    order = np.argsort(p, kind="stable")
    adj = {m: adjust(p, m) for m in (*R_METHODS, "fixed_sequence")}
    for method in R_METHODS:
        a = adj[method]
        assert (a >= p - 1e-15).all() and (a <= 1).all(), method
        assert (np.diff(a[order]) >= -1e-15).all(), method  # a smaller p, no larger adjusted p
    seq = adj["fixed_sequence"]
    assert (seq >= p).all() and (seq <= 1).all() and (np.diff(seq) >= 0).all()
    # Hochberg <= Holm <= Bonferroni
    assert (adj["hochberg"] <= adj["holm"] + 1e-15).all()
    assert (adj["holm"] <= adj["bonferroni"] + 1e-15).all()


def test_a_p_value_outside_0_1_or_missing_is_refused():
    for bad in ([0.1, math.nan], [1.2], [-0.1]):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            adjust(bad, "holm")
    with pytest.raises(ValueError, match="unknown multiplicity method"):
        adjust([0.1], "hommel")


# ----------------------------------------------------------------------------- the hierarchy

C = "peer_support vs usual_care"


def _row(analysis, outcome, et, p, clustering="peer_worker", status="estimated", reason=""):
    return {"analysis": analysis, "clustering": clustering, "outcome": outcome,
            "contrast": C, "estimate_type": et, "estimate": "0.5",
            "p_value": "NA" if p is None else repr(p), "n": "600", "status": status,
            "reason": reason}


def _tables(p_primary=0.01, p_tenure=0.02, p_detained=0.3, p_wemwbs=0.04,
            tenure_status="estimated"):
    surv = pd.DataFrame([
        _row("primary", "READMIT within 365 days", "risk_difference", 0.5, "none"),
        _row("primary", "READMIT within 365 days", "risk_difference", p_primary),
        _row("community_tenure", "READMIT", "hazard_ratio", 0.5, "none"),
        _row("community_tenure", "READMIT", "hazard_ratio", p_tenure, status=tenure_status,
             reason="no events in either arm" if tenure_status != "estimated" else ""),
        _row("community_tenure", "READMIT", "rmst_difference", 0.2, "none"),  # written once
        _row("detained_readmission", "READMDET", "hazard_ratio", 0.5, "none"),
        _row("detained_readmission", "READMDET", "hazard_ratio", p_detained),
        _row("competing_risks", "READMIT (cause-specific)", "hazard_ratio", 0.1),
        _row("competing_risks", "death before READMIT (cause-specific)", "hazard_ratio", 0.2),
    ])
    ques = pd.DataFrame([
        _row(a, f"WEMWBS {v}", "adjusted_mean_difference", p, cl)
        for v in ("month_4", "month_12")
        for cl in ("none", "peer_worker")
        for a, p in (("questionnaire_ancova_mi", p_wemwbs), ("questionnaire_ancova", 0.9))])
    return {"survival": surv.astype(str), "questionnaires": ques.astype(str)}


def _plan(method="holm", key=None, other=None, **extra) -> AnalysisPlan:
    key = key if key is not None else [
        {"table": "survival", "analysis": "community_tenure", "estimate_type": "hazard_ratio"},
        {"table": "survival", "analysis": "detained_readmission", "estimate_type": "hazard_ratio"},
        {"table": "questionnaires", "outcome": "WEMWBS month_12",
         "estimate_type": "adjusted_mean_difference"}]
    mult = {"key_secondary": {"method": method, "hypotheses": key},
            "other": other if other is not None else
            [{"table": "survival", "analysis": "community_tenure",
              "estimate_type": "rmst_difference"}]}
    return AnalysisPlan.from_config({"multiplicity": mult, "missing_data": {"method": "mi"},
                                     **extra})


def _frame(tables, plan) -> pd.DataFrame:
    return evaluate_hierarchy(tables, plan).to_frame()


def test_primary_gates_the_key_secondary_family_by_holm():
    f = _frame(_tables(), _plan("holm"))
    assert list(f["family"]) == ["primary", "key_secondary", "key_secondary", "key_secondary",
                                 "other"]
    assert list(f["order"]) == [1, 1, 2, 3, 1]
    # the rows of the plan's main design (peer_worker); the RMST difference is written once
    assert list(f["clustering"]) == ["peer_worker"] * 4 + ["none"]
    assert list(f["analysis"])[3] == "questionnaire_ancova_mi"  # the plan's main analysis
    holm = adjust([0.02, 0.3, 0.04], "holm")  # 0.06, 0.3, 0.06
    np.testing.assert_allclose(f["adjusted_p_value"], [0.01, *np.maximum(holm, 0.01), 0.2])
    assert list(f["rejected"]) == [True, False, False, False, False]
    assert f["tested"].all() and (f["status"] == "estimated").all()
    assert list(f["method"]) == ["single", "holm", "holm", "holm", "nominal"]
    assert list(f["gatekeeper"]) == ["", "primary", "primary", "primary", ""]


def test_a_primary_not_rejected_leaves_the_key_secondaries_untested():
    f = _frame(_tables(p_primary=0.2, p_tenure=0.001), _plan("hochberg"))
    key = f.loc[f["family"] == "key_secondary"]
    assert not key["tested"].any() and not key["rejected"].any()
    assert (key["adjusted_p_value"] >= 0.2).all()  # max(p_primary, Hochberg's)
    assert key["reason"].str.startswith("not tested: the primary hypothesis was not rejected "
                                        "(p = 0.2 > 0.05)").all()


def test_a_fixed_sequence_stops_at_the_first_hypothesis_not_rejected():
    f = _frame(_tables(p_tenure=0.03, p_detained=0.3, p_wemwbs=0.001), _plan("fixed_sequence"))
    key = f.loc[f["family"] == "key_secondary"]
    np.testing.assert_allclose(key["adjusted_p_value"], [0.03, 0.3, 0.3])
    assert list(key["tested"]) == [True, True, False]
    assert list(key["rejected"]) == [True, False, False]
    assert key["reason"].iloc[2] == ("not tested: the fixed sequence stopped at key secondary "
                                     "hypothesis 2 (not rejected, p = 0.3 > 0.05)")


def test_a_hypothesis_not_estimable_ends_a_fixed_sequence():
    f = _frame(_tables(tenure_status="not estimable", p_tenure=None, p_detained=0.001),
               _plan("fixed_sequence"))
    key = f.loc[f["family"] == "key_secondary"]
    assert list(key["status"]) == ["not estimable", "estimated", "estimated"]
    assert key["adjusted_p_value"].isna().all()
    assert not key["tested"].any() and not key["rejected"].any()
    assert key["reason"].iloc[0] == "no events in either arm"
    assert (key["reason"].iloc[1:] == "not tested: the fixed sequence stopped at key secondary "
                                      "hypothesis 1 (not estimable)").all()


def test_a_hypothesis_not_estimable_counts_as_p_1_in_holm():
    f = _frame(_tables(tenure_status="not estimable", p_tenure=None, p_detained=0.01,
                       p_wemwbs=0.04), _plan("holm"))
    key = f.loc[f["family"] == "key_secondary"]
    # Holm over three with the not-estimable one at 1: 3 x 0.01, max(0.03, 2 x 0.04)
    np.testing.assert_allclose(key["adjusted_p_value"], [np.nan, 0.03, 0.08])
    assert list(key["rejected"]) == [False, True, False]
    assert list(key["tested"]) == [False, True, True]


def test_a_primary_not_estimable_closes_the_gate():
    t = _tables()
    t["survival"].loc[1, ["p_value", "status", "reason"]] = ["NA", "not estimable",
                                                             "separation"]
    f = _frame(t, _plan("holm"))
    assert f.loc[0, "status"] == "not estimable" and not f.loc[0, "tested"]
    key = f.loc[f["family"] == "key_secondary"]
    assert key["adjusted_p_value"].isna().all() and not key["tested"].any()
    assert key["reason"].str.contains("the primary hypothesis is not estimable").all()
    assert f.iloc[-1]["tested"]  # the nominal ones do not depend on the primary


def test_the_naive_design_and_the_complete_case_analysis_when_the_plan_says_so():
    plan = AnalysisPlan.from_config({"clustering": "none",
                                     "multiplicity": _plan().raw["multiplicity"]})
    f = _frame(_tables(), plan)
    assert (f["clustering"] == "none").all()
    assert f.loc[3, "analysis"] == "questionnaire_ancova"  # complete_case is the default
    np.testing.assert_allclose(f.loc[3, "p_value"], 0.9)


@pytest.mark.parametrize(("selector", "message"), [
    ({"table": "survival", "analysis": "competing_risks", "estimate_type": "hazard_ratio"},
     r"matches 2 rows, not one; name the one meant by outcome \(outcome: READMIT "
     r"\(cause-specific\), death before READMIT \(cause-specific\)\)"),
    ({"table": "survival", "analysis": "community_tenure", "estimate_type": "hazard_rat"},
     r"has no row with estimate_type 'hazard_rat' among the rows with analysis "
     r"'community_tenure' \(did you mean 'hazard_ratio'\?\)"),
    ({"table": "questionnaires", "outcome": "WEMWBS month_13",
      "estimate_type": "adjusted_mean_difference"}, r"has no row with outcome 'WEMWBS month_13'"),
    ({"table": "survival", "estimand": "E1", "estimate_type": "hazard_ratio"},
     r"has no column 'estimand'"),
])
def test_a_selector_that_names_no_row_or_several_is_a_config_error(selector, message):
    with pytest.raises(ConfigError, match=message) as err:
        evaluate_hierarchy(_tables(), _plan(key=[selector]))
    assert str(err.value).startswith("config key 'multiplicity.key_secondary.hypotheses "
                                     f"(entry 1)': tables/{selector['table']}.tsv")


def test_the_bundled_plan_declares_the_hierarchy():
    plan = AnalysisPlan.load(Path(__file__).resolve().parents[1] / "config" / "config.yaml")
    mp = plan.multiplicity
    assert (mp.primary.table, mp.primary.analysis, mp.primary.estimate_type) == (
        "survival", "primary", "risk_difference")
    assert [s.estimate_type for s in mp.key_secondary] == ["hazard_ratio",
                                                           "adjusted_mean_difference"]
    assert mp.method == "holm" and mp.alpha == 0.05 and len(mp.other) == 3
    with pytest.raises(ConfigError, match="multiplicity.key_secondary.method"):
        AnalysisPlan.from_config({"multiplicity": {"key_secondary": {"method": "hommel"}}})


def test_cli_writes_multiplicity_tsv_reproducibly(tmp_path):
    from outcomes.plan import write_plan
    from outcomes.tables import write_tsv

    tables = tmp_path / "tables"
    for name, t in _tables().items():
        write_tsv(t, tables / f"{name}.tsv")
    plan = tmp_path / "plan.json"
    write_plan(_plan("fixed_sequence").raw, plan)
    out = tables / "multiplicity.tsv"
    assert cli.main(["multiplicity", "--plan", str(plan), "--tables", str(tables),
                     "--out", str(out)]) == 0
    first = out.read_bytes()
    assert cli.main(["multiplicity", "--plan", str(plan), "--tables", str(tables),
                     "--out", str(out)]) == 0
    assert out.read_bytes() == first
    f = read_estimates(out)
    assert list(f.columns[:8]) == ["family", "order", "table", "analysis", "clustering",
                                   "outcome", "contrast", "estimate_type"]
    assert list(f["adjusted_p_value"]) == ["0.01", "0.02", "0.3", "0.3", "0.2"]
    assert list(f["tested"]) == ["True", "True", "True", "False", "True"]
    (tables / "questionnaires.tsv").unlink()
    assert cli.main(["multiplicity", "--plan", str(plan), "--tables", str(tables),
                     "--out", str(out)]) == 2  # a table the hierarchy names is missing
