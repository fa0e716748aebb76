"""The registry of estimands (outcomes.estimands) and the mapping of results rows to it
(outcomes.estimands.rows): docs/estimands.md."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from outcomes.errors import ConfigError
from outcomes.estimands.rows import (
    CACE,
    MEDIATION,
    QUESTIONNAIRES,
    RULES,
    STRATEGY_ESTIMANDS,
    SURVIVAL,
    estimand_of,
    with_estimands,
)
from outcomes.plan import AnalysisPlan
from outcomes.survival import STRATEGIES

PLAN = AnalysisPlan.from_config({})
ATTRIBUTES = ("label", "population", "variable", "treatment", "summary_measure")


def test_every_default_entry_is_complete_and_filled_from_the_plan():
    assert len(PLAN.estimands) >= 15
    for eid, e in PLAN.estimands.items():
        assert e.id == eid and re.fullmatch(r"[a-z][a-z0-9_]*", eid)
        for text in [getattr(e, a) for a in ATTRIBUTES] + [
                t for i in e.intercurrent_events for t in (i.event, i.strategy, i.handling)]:
            assert text and "{" not in text and "}" not in text, (eid, text)
        assert e.intercurrent_events, eid
    labels = [e.label for e in PLAN.estimands.values()]
    assert len(set(labels)) == len(labels)  # each estimand says which one it is
    assert "within 365 days" in PLAN.estimands["readmit_while_alive"].label
    other = AnalysisPlan.from_config({"followup_days": 180, "arms": {"treated": "ps"}})
    assert "within 180 days" in other.estimands["readmit_while_alive"].label
    assert "(ps)" in other.estimands["readmit_while_alive"].treatment
    assert AnalysisPlan().estimands == PLAN.estimands  # a plan built by hand has them too


def test_every_id_the_mapping_gives_is_registered_and_every_strategy_has_one():
    ids = {r.estimand for r in RULES} | set(STRATEGY_ESTIMANDS.values())
    assert ids <= set(PLAN.estimands)
    assert set(STRATEGY_ESTIMANDS) == set(STRATEGIES)


def test_death_handled_three_ways_is_three_estimands_with_their_own_labels():
    def row(analysis, estimate_type, outcome="READMIT", strategy=None):
        return {"analysis": analysis, "estimate_type": estimate_type, "outcome": outcome,
                "strategy": strategy}

    ids = [estimand_of(SURVIVAL, row("primary", "risk_difference", strategy="while_alive")),
           estimand_of(SURVIVAL, row("community_tenure", "hazard_ratio")),
           estimand_of(SURVIVAL, row("primary", "risk_difference", strategy="composite"))]
    assert ids == ["readmit_while_alive", "readmit_cause_specific_hr", "readmit_composite"]
    strategies = [PLAN.estimands[i].strategy("death") for i in ids]
    assert strategies == ["while alive", "hypothetical", "composite"]
    assert len({PLAN.estimands[i].label for i in ids}) == 3
    # the same death strategy whatever the estimator: the CIF at the horizon is while alive
    assert estimand_of(SURVIVAL, row("competing_risks", "cif_difference")) == ids[0]
    assert estimand_of(SURVIVAL, row("competing_risks", "hazard_ratio",
                                     "death before READMIT (cause-specific)")) \
        == "death_cause_specific_hr"


def test_the_primary_rows_follow_the_plans_strategy():
    for strategy in STRATEGIES:
        plan = AnalysisPlan.from_config({"survival": {"primary_strategy": strategy}})
        table = pd.DataFrame({"analysis": ["primary"], "clustering": ["none"],
                              "outcome": ["READMIT within 365 days"], "contrast": ["a vs b"],
                              "estimate_type": ["risk_difference"], "strategy": [strategy]})
        out = with_estimands(table, SURVIVAL, plan.estimands)
        assert list(out.columns[:3]) == ["analysis", "clustering", "estimand"]
        assert out["estimand"].iloc[0] == STRATEGY_ESTIMANDS[strategy]


def test_a_row_without_a_rule_or_with_an_unknown_id_is_an_error_naming_it():
    table = pd.DataFrame({"analysis": ["new_analysis"], "outcome": ["x"],
                          "estimate_type": ["odds_ratio"]})
    with pytest.raises(ValueError, match="new_analysis.*no rule.*RULES"):
        with_estimands(table, SURVIVAL, PLAN.estimands)
    given = table.assign(estimand="readmit_composite")  # an analysis that knows its estimand
    out = with_estimands(given, SURVIVAL, PLAN.estimands)
    assert list(out.columns[:2]) == ["analysis", "estimand"]
    assert out["estimand"].tolist() == ["readmit_composite"]
    with pytest.raises(ValueError, match="'nope' not in the registry"):
        with_estimands(table.assign(estimand="nope"), SURVIVAL, PLAN.estimands)
    empty = with_estimands(table.iloc[0:0], QUESTIONNAIRES, PLAN.estimands)
    assert "estimand" in empty.columns and empty.empty


def test_tables_other_than_survival_map_by_analysis_and_outcome():
    assert estimand_of(CACE, {"analysis": "cace", "outcome": "READMIT within 365 days",
                              "strategy": "composite"}) == "readmit_cace"
    assert estimand_of(CACE, {"analysis": "per_protocol", "outcome": "WEMWBS month_12"}) \
        == "score_cace"
    assert estimand_of(CACE, {"analysis": "dose_response", "outcome": "HHI month_4"}) \
        == "score_per_contact"
    assert estimand_of(MEDIATION, {"analysis": "mediation", "outcome": "readmit_time"}) \
        == "mediation_readmit_time"
    assert estimand_of(QUESTIONNAIRES, {"analysis": "questionnaire_ancova_mi"}) \
        == "score_while_alive"


def test_a_plan_adds_and_replaces_entries():
    entry = {"label": "Readmission, hypothetical without the pandemic",
             "population": "ITT", "variable": "readmission within {horizon} days",
             "treatment": "{treated} vs {control}",
             "intercurrent_events": [{"event": "pandemic lockdown", "strategy": "hypothetical",
                                      "handling": "as if no lockdown"}],
             "summary_measure": "risk difference"}
    plan = AnalysisPlan.from_config({"estimands": {"readmit_lockdown": entry,
                                                   "readmit_composite": entry}})
    assert plan.estimands["readmit_lockdown"].variable == "readmission within 365 days"
    assert plan.estimands["readmit_lockdown"].treatment == "peer_support vs usual_care"
    assert plan.estimands["readmit_composite"].label == entry["label"]
    assert list(plan.estimands)[-1] == "readmit_lockdown"
    assert set(PLAN.estimands) < set(plan.estimands)
    with pytest.raises(ConfigError, match="summary_measure"):
        AnalysisPlan.from_config({"estimands": {"x": {k: v for k, v in entry.items()
                                                      if k != "summary_measure"}}})
    with pytest.raises(ConfigError):
        AnalysisPlan.from_config({"estimands": {"Bad-Id": entry}})
