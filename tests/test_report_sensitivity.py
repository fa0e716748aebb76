"""The report's sensitivity analyses of the primary outcome (section 3): one row per
strategy, the primary first, and a forest plot of the risk differences with the primary
highlighted, from the ``primary`` and ``primary_sensitivity`` rows of survival.tsv of the
bundled run (tests/report_run.py). That every number of those rows is shown as written is
tests/test_report.py's check of every row of survival.tsv."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from outcomes.report import figures, readmission, sensitivity
from outcomes.report.inputs import Table, load_inputs
from outcomes.survival import STRATEGIES, STRATEGY_LABELS
from outcomes.survival.plots import forest


@pytest.fixture(scope="module")
def inp(report_run):
    return load_inputs(report_run["full"])


def _section_html(html: str) -> str:
    start = html.index('id="primary-sensitivity"')
    return html[start:html.index("</div>", start)]


def test_one_row_per_strategy_the_primary_first(inp, report_run):
    sec = sensitivity.sensitivity_section(inp)
    assert [r.strategy for r in sec.rows] == list(STRATEGIES)  # the plan's defaults
    assert [r.primary for r in sec.rows] == [True] + [False] * 4
    assert sec.rows[0].label == STRATEGY_LABELS["while_alive"] + ": primary"
    km = sec.rows[-1]
    assert km.conditional_odds_ratio is None  # unadjusted: no model coefficient
    assert km.risks[1].other is None and km.risks[0].other is not None
    for r in sec.rows[:-1]:
        assert r.conditional_odds_ratio is not None and r.risk_difference.other is not None
    html = _section_html(report_run["html"])
    assert html.count("<tr") == 1 + len(STRATEGIES) and html.count("<svg") == 1
    assert '<tr class="used"><td><strong>While alive' in html
    # each strategy names its estimand, linked to its entry in the Estimands section
    assert [r.estimand for r in sec.rows] == [
        "readmit_while_alive", "readmit_composite", "readmit_complete_followup",
        "readmit_hypothetical", "readmit_hypothetical"]
    for r in sec.rows:
        assert f'<a href="#estimand-{r.estimand}">' in html
        assert f'id="estimand-{r.estimand}"' in report_run["html"]


def test_the_rows_leave_the_other_sections_and_the_all_effects_forest(inp):
    blocks = readmission.survival_blocks(inp)
    assert all(b.key != "primary_sensitivity" for bs in blocks.values() for b in bs)
    assert "primary_sensitivity" not in set(figures.all_effects_table(inp)["analysis"])
    rd = sensitivity.risk_difference_rows(inp)
    assert list(rd["strategy"]) == list(STRATEGIES) and rd["primary"].tolist()[0]
    assert set(rd["clustering"]) == {inp.plan.clustering}


def test_no_section_without_sensitivity_rows_and_a_not_estimable_strategy_is_listed(inp):
    raw, num = inp.survival.raw, inp.survival.num
    keep = raw["analysis"] != "primary_sensitivity"
    bare = replace(inp, survival=Table(inp.survival.path, raw.loc[keep], num.loc[keep]))
    assert sensitivity.sensitivity_section(bare) is None
    raw, num = raw.copy(), num.copy()
    i = raw.index[(raw["strategy"] == "composite") & (raw["estimate_type"] == "risk_difference")
                  & (raw["clustering"] == inp.plan.clustering)][0]
    raw.loc[i, ["estimate", "ci_low", "ci_high", "status", "reason"]] = [
        "NA", "NA", "NA", "not estimable", "made up: no death"]
    num.loc[i, ["estimate", "ci_low", "ci_high"]] = np.nan
    num.loc[i, ["status", "reason"]] = ["not estimable", "made up: no death"]
    alt = replace(inp, survival=Table(inp.survival.path, raw, num))
    assert sensitivity.excluded(alt) == [(STRATEGY_LABELS["composite"], "made up: no death")]
    assert sensitivity.sensitivity_forest(alt).startswith("<?xml")
    # none estimated (e.g. no readmission at all): no figure, the section lists the reasons
    rd = raw.index[raw["estimate_type"] == "risk_difference"]
    num.loc[rd, "status"] = raw.loc[rd, "status"] = "not estimable"
    num.loc[rd, "reason"] = raw.loc[rd, "reason"] = "made up: nothing"
    none = replace(inp, survival=Table(inp.survival.path, raw, num))
    assert sensitivity.sensitivity_forest(none) is None
    assert len(sensitivity.excluded(none)) == len(STRATEGIES)


def test_forest_highlight_is_drawn_and_deterministic(tmp_path):
    tab = pd.DataFrame({
        "analysis": ["a", "b"], "outcome": ["x", "y"], "contrast": ["t vs c"] * 2,
        "estimate_type": ["risk_difference"] * 2, "estimate": [-0.1, -0.12],
        "ci_low": [-0.18, -0.2], "ci_high": [-0.02, -0.04], "p_value": [0.01, 0.003],
        "label": ["primary", "other"], "panel": ["rd"] * 2, "primary": [True, False]})
    plain = forest(tab, tmp_path / "a.svg", panel="panel", label="label").read_bytes()
    lit = forest(tab, tmp_path / "b.svg", panel="panel", label="label",
                 highlight="primary").read_bytes()
    again = forest(tab, tmp_path / "c.svg", panel="panel", label="label",
                   highlight="primary").read_bytes()
    assert lit == again and lit != plain
    assert b"#0072b2" in lit.lower() and b"#0072b2" not in plain.lower()
