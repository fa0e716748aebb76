"""Multiplicity in the report (issue 15 point 7; docs/report.md): the plan's rule in words,
the hierarchy with raw and adjusted p-values as in tables/multiplicity.tsv, the adjusted
p-value under the raw one of every primary and key secondary effect shown, and a notice
when the table is absent (tests/report_run.py: the full run has it, the bare one not)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from test_report import check_shown, parse

from outcomes.plan import AnalysisPlan
from outcomes.report.multiplicity import rule_text


@pytest.fixture(scope="module")
def run(report_run):
    return report_run


def _table(run, name):
    return pd.read_csv(run["full"] / "tables" / f"{name}.tsv", sep="\t", dtype=str,
                       keep_default_na=False)


def test_every_p_value_of_the_hierarchy_is_shown_as_written(run):
    m = _table(run, "multiplicity")
    assert list(m["family"]) == ["primary", "key_secondary", "key_secondary", "other", "other",
                                 "other"]
    values = parse(run["html"]).values
    for i, row in m.iterrows():
        for col in ("p_value", "adjusted_p_value"):
            shown = values[("multiplicity", i, col)]
            assert shown, (i, col)
            for attrs, text in shown:
                check_shown(row[col], attrs, text, "p_value")
    assert "Multiplicity: the hierarchy of hypotheses" in run["html"]
    assert "by Holm&#39;s step-down procedure (serial gatekeeping)" in run["html"]


def test_the_adjusted_p_value_is_under_the_raw_one_of_each_gated_effect(run):
    m = _table(run, "multiplicity")
    html = run["html"]
    for k, row in m.iterrows():
        src = _table(run, row["table"])
        key = ["analysis", "clustering", "outcome", "contrast", "estimate_type"]
        j = src.index[(src[key] == row[key]).all(axis=1)]
        assert len(j) == 1
        pattern = (rf'data-src="{row["table"]}" data-row="{j[0]}" data-col="p_value"[^>]*>[^<]*'
                   r'</span><br><span class="sub adjusted"[^>]*>adjusted <span class="v" '
                   rf'data-src="multiplicity" data-row="{k}" data-col="adjusted_p_value"')
        found = len(re.findall(pattern, html))
        if row["family"] == "other":  # nominal: no adjusted p-value beside it
            assert found == 0
        else:  # the effects table of its section, and the intention-to-treat column of
            assert found >= 1, row["outcome"]  # the engagement section


def test_without_the_table_the_rule_is_stated_and_its_absence_said(run):
    bare = run["bare_html"]
    assert "Multiplicity: the hierarchy of hypotheses" in bare
    assert "tables/multiplicity.tsv is absent" in bare
    assert 'class="sub adjusted"' not in bare


def test_the_rule_in_words_follows_the_plan():
    plan = AnalysisPlan.from_config({"multiplicity": {"alpha": 0.025, "key_secondary": {
        "method": "fixed_sequence"}}})
    text = rule_text(plan)
    assert "controlled at 0.025" in text and "are the 2 key secondary hypotheses tested" in text
    assert "until the first one not rejected; the hypotheses after it are not tested" in text
    one = AnalysisPlan.from_config({"multiplicity": {"key_secondary": {
        "method": "bonferroni", "hypotheses": [{"table": "survival", "analysis": "primary",
                                                "estimate_type": "odds_ratio"}]}}})
    assert "Only if it is rejected is the key secondary hypothesis tested" in rule_text(one)
    assert "Bonferroni" in rule_text(one)
