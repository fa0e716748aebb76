"""The proportion mediated is reported only when the total effect's CI excludes 0
(outcomes.mediation.summaries; issue 16, point 5): complete cases, multiple imputation,
both bootstrap designs, and the report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from outcomes.mediation import fit_mediation, fit_mediation_designs
from outcomes.mediation.mi import fit_mediation_mi
from outcomes.mediation.summaries import NOT_MEANINGFUL, meaningful_proportions
from outcomes.plan import AnalysisPlan
from outcomes.tables import write_tsv


def _trial(direct: float, n: int = 240, seed: int = 4) -> pd.DataFrame:
    """Indirect effect 0.5 x 0.5 = 0.25 through m; ``direct`` -0.25 cancels it (total 0)."""
    rng = np.random.default_rng(seed)
    arm = rng.permutation(np.arange(n) % 2)
    x = rng.normal(size=n)
    m = 0.5 * arm + 0.3 * x + rng.normal(size=n)
    y = direct * arm + 0.5 * m + 0.2 * x + rng.normal(size=n)
    # caseloads of 8 in the treated arm, usual care unclustered
    cl = np.where(arm == 1, "PW:" + (np.cumsum(arm) // 8).astype(str), "ID:" + np.arange(n).astype(str))
    return pd.DataFrame({"arm": arm, "x": x, "m": m, "y": y, "CLUSTER": cl})


KW = dict(exposure="arm", mediators=["m"], outcome="y", outcome_type="linear", covariates=["x"],
          n_boot=200)


def _row(tab: pd.DataFrame, effect: str) -> pd.Series:
    return tab.set_index("effect").loc[effect]


def test_a_total_effect_near_zero_gives_no_proportion():
    """Total effect ~0: the ratio ACME / total is a wild number (the report showed
    -22309.9%); the row keeps its place with no number and the reason, under both designs.
    The other effects are untouched."""
    d = _trial(direct=-0.25)
    fits = fit_mediation_designs(d, designs={"none": (np.random.default_rng(1), None),
                                             "peer_worker": (np.random.default_rng(2), "CLUSTER")},
                                 **KW)
    for res in fits.values():
        tab = res.to_frame()
        total, prop = _row(tab, "total"), _row(tab, "prop_mediated")
        assert total.ci_low < 0 < total.ci_high and total.status == "estimated"
        assert prop.status == "not estimable" and prop.reason == NOT_MEANINGFUL
        assert prop[["estimate", "std_error", "ci_low", "ci_high", "p_value"]].isna().all()
        assert abs(res.point_effects[("m", "mean_difference")][-1]) > 1  # what it would say
        others = tab.loc[tab.effect != "prop_mediated"]
        assert (others.status == "estimated").all() and others.estimate.notna().all()


def test_a_clear_total_effect_keeps_the_proportion():
    tab = fit_mediation(d := _trial(direct=0.5), rng=np.random.default_rng(1), **KW).to_frame()
    total, prop = _row(tab, "total"), _row(tab, "prop_mediated")
    assert total.ci_low > 0 and prop.status == "estimated" and prop.reason == ""
    assert prop.ci_low < prop.estimate < prop.ci_high
    assert len(d) == tab.n.iloc[0]


def test_mi_pooled_rows_follow_the_pooled_total():
    """MI Boot pooled: the rule is applied to the pooled total effect's CI (not to each
    imputation's)."""
    d = _trial(direct=-0.25)
    rng = np.random.default_rng(9)
    completed = [d.assign(m=d.m + 0.05 * rng.normal(size=len(d))) for _ in range(3)]
    res = fit_mediation_mi(completed, seed=np.random.SeedSequence(7), **KW)
    tab = res.to_frame()
    prop = _row(tab, "prop_mediated")
    assert prop.status == "not estimable" and prop.reason == NOT_MEANINGFUL and np.isnan(prop.fmi)
    assert _row(tab, "total").status == "estimated"
    d = _trial(direct=0.5)
    completed = [d.assign(m=d.m + 0.05 * rng.normal(size=len(d))) for _ in range(3)]
    prop = _row(fit_mediation_mi(completed, seed=np.random.SeedSequence(7), **KW).to_frame(),
                "prop_mediated")
    assert prop.status == "estimated" and np.isfinite(prop.estimate)


def test_the_rule_at_its_edges():
    """A CI touching 0 includes it; no CI (no bootstrap asked for) or a total that is itself
    not estimable leaves the row as it is; rows are matched by mediator and scale."""
    rows = []
    for med, (lo, hi, status) in {"a": (0.0, 1.0, "estimated"), "b": (1e-9, 1.0, "estimated"),
                                  "c": (np.nan, np.nan, "estimated"),
                                  "d": (np.nan, np.nan, "not estimable")}.items():
        for et in ("risk_difference", "median_difference"):
            rows += [{"mediator": med, "estimate_type": et, "effect": "total", "estimate": 0.5,
                      "std_error": 0.2, "ci_low": lo, "ci_high": hi, "p_value": 0.1,
                      "status": status, "reason": "" if status == "estimated" else "why"},
                     {"mediator": med, "estimate_type": et, "effect": "prop_mediated",
                      "estimate": 0.3, "std_error": 0.1, "ci_low": 0.1, "ci_high": 0.5,
                      "p_value": 0.1, "status": status,
                      "reason": "" if status == "estimated" else "why"}]
    out = meaningful_proportions(pd.DataFrame(rows)).set_index(["mediator", "effect"])
    prop = out.xs("prop_mediated", level="effect")
    assert (prop.loc["a", "reason"] == NOT_MEANINGFUL).all() and prop.loc["a", "estimate"].isna().all()
    assert (prop.loc["b", "status"] == "estimated").all() and (prop.loc["b", "estimate"] == 0.3).all()
    assert (prop.loc["c", "status"] == "estimated").all()
    assert (prop.loc["d", "reason"] == "why").all()
    assert (out.xs("total", level="effect")["estimate"] == 0.5).all()


def test_the_report_says_not_meaningful(tmp_path):
    """The report's mediation section: "not meaningful" with the reason in the
    proportion's cell (no percentage), the other cells of the row estimated."""
    from outcomes.report.inputs import ReportInputs, Table, read_table
    from outcomes.report.mediation import mediation_section

    tab = fit_mediation(_trial(direct=-0.25), rng=np.random.default_rng(1), **KW).to_frame()
    tab = tab.assign(outcome="wemwbs_m12", mediator="HHI", mechanism="M2")
    write_tsv(tab, tmp_path / "mediation.tsv")
    med = read_table(tmp_path / "mediation.tsv")
    unused = Table(tmp_path, pd.DataFrame(), pd.DataFrame())
    inp = ReportInputs(tmp_path, AnalysisPlan(), tmp_path / "plan.json", pd.DataFrame(),
                       pd.DataFrame(), unused, unused, mediation=med)
    (group,) = mediation_section(inp).groups
    (row,) = group.rows
    assert row.reason == ""  # the analysis is estimated
    cell = row.cells["prop_mediated"]
    assert cell.est.text == NOT_MEANINGFUL and not cell.has_ci and cell.reason == ""
    assert row.cells["total"].est.text not in ("not estimable", NOT_MEANINGFUL)
