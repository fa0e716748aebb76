"""Every row of every results table of the bundled pipeline run (config/test.yaml, the
session's ``bundled_run``; no run of its own) names an estimand of the plan's registry,
and the report lists each estimand used, once, in words (docs/estimands.md)."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

import pandas as pd

from outcomes.estimands.rows import STRATEGY_ESTIMANDS
from outcomes.plan import AnalysisPlan

#: The estimates tables (and grids) that carry ``estimand``; engagement.tsv is a
#: descriptive distribution by arm, without estimates (decisions ET).
TABLES = ("survival.tsv", "questionnaires.tsv", "mediation.tsv", "mediation_sensitivity.tsv",
          "cace.tsv", "tipping_point.tsv")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def check_estimands(results: Path) -> dict[str, set[str]]:
    """The assertions, on a results directory; returns the ids used by each table."""
    plan = AnalysisPlan.load(results / "plan.json")
    paths = [results / "tables" / t for t in TABLES]
    paths += sorted((results / "mediation").glob("*.tsv"))  # each job's table and grid
    used: dict[str, set[str]] = {}
    for path in paths:
        table = _read(path)
        if table.empty and path.name.endswith(".sensitivity.tsv"):
            continue  # a job without a sensitivity grid
        assert "estimand" in table.columns, path
        anchor = "clustering" if "clustering" in table.columns else "analysis"
        assert table.columns.get_loc("estimand") == table.columns.get_loc(anchor) + 1, path
        assert len(table) and (table["estimand"] != "").all(), path
        unknown = set(table["estimand"]) - set(plan.estimands)
        assert not unknown, (path, unknown)
        used[path.name] = set(table["estimand"])
    assert "engagement.tsv" not in used
    # the report: each estimand used, once, with its label and the tables estimating it
    page = (results / "report" / "index.html").read_text(encoding="utf-8")
    section = page[page.index('<section id="estimands"'):page.index('<section id="flow"')]
    for eid in set().union(*used.values()):
        assert page.count(f'id="estimand-{eid}"') == 1, eid
        block = section[section.index(f'id="estimand-{eid}"'):]
        block = htmllib.unescape(block[:block.index("</div>")])
        assert plan.estimands[eid].label in block, eid
        tables = {t for t, ids in used.items() if eid in ids and t in TABLES}
        for t in tables:
            assert f"<code>{t}</code>: " in block, (eid, t)  # a file name in code type
    shown = set(re.findall(r'id="estimand-([a-z0-9_]+)"', section))
    assert shown == set().union(*used.values())  # no estimand that no row estimates
    return used


def test_every_row_has_a_registered_estimand_listed_in_the_report(bundled_run):
    results = bundled_run.work / "results"
    used = check_estimands(results)
    # the default plan's analyses: death three ways, three estimands
    survival = used["survival.tsv"]
    assert {"readmit_while_alive", "readmit_cause_specific_hr",
            "readmit_tenure_hypothetical"} <= survival
    plan = AnalysisPlan.load(results / "plan.json")
    primary = _read(results / "tables" / "survival.tsv").query("analysis == 'primary'")
    assert set(primary["estimand"]) == {STRATEGY_ESTIMANDS[plan.survival["primary_strategy"]]}
