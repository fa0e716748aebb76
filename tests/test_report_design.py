"""The partially nested design in the report (issue 13 point 5; docs/report.md): the design
and its clusters in the methods, the ICC and design-effect tables equal to the results
tables, the plan's main design shown first with the other design beside every estimate,
the roles swapped under ``clustering: none``, and a results directory from before the
``clustering`` column still rendered (all naive). Rendered from the session's results of
the bundled trial (tests/report_run.py); the other plans re-render the same tables.
"""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
from test_report import parse

from outcomes.clustering import cluster_ids
from outcomes.report import write_report


@pytest.fixture(scope="module")
def run(report_run):
    return report_run


def _section(html: str, start: str, end: str) -> str:
    a = html.index(start)
    return html[a:html.index(end, a)]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&ndash;", "\u2013")


def _table(name: str, root) -> pd.DataFrame:
    return pd.read_csv(root / "tables" / f"{name}.tsv", sep="\t", dtype=str, keep_default_na=False)


def _pairs(tab: pd.DataFrame, key: list[str]) -> list[tuple[int, int]]:
    """(peer_worker row, its none twin) of every key that has both."""
    pw = tab.loc[tab.clustering == "peer_worker"]
    none = {tuple(r): i for i, r in zip(tab.index[tab.clustering == "none"],
                                         tab.loc[tab.clustering == "none", key].to_numpy(), strict=True)}
    return [(int(i), none[tuple(r)]) for i, r in zip(pw.index, pw[key].to_numpy(), strict=True)
            if tuple(r) in none]


def _first_then_beside(html: str, src: str, first: int, beside: int) -> None:
    """Row ``first``'s estimate is shown, and row ``beside``'s after it in the same table row."""
    a = html.index(f'data-src="{src}" data-row="{first}" data-col="estimate"')
    b = html.index(f'data-src="{src}" data-row="{beside}" data-col="estimate"', a)
    assert "</tr>" not in html[a:b], (src, first, beside)


KEYS = {"survival": ["analysis", "outcome", "contrast", "estimate_type"],
        "questionnaires": ["analysis", "paramcd", "avisit", "estimate_type", "contrast"],
        "mediation": ["analysis", "outcome", "contrast", "estimate_type", "mediator", "effect"]}


def test_the_design_and_its_clusters_are_in_the_methods(run):
    html = run["html"]
    adsl = pd.read_parquet(run["full"] / "derived" / "adsl.parquet")
    itt = adsl.loc[adsl.ITTFL == "Y"]
    treated = itt.loc[itt.ARM == "peer_support"]
    caseload = treated.loc[treated.PEERWID.astype(str).str.strip() != ""].groupby("PEERWID").size()
    assert len(caseload) >= 10
    text = _text(_section(html, 'id="design"', "<h3>Random numbers"))
    for expected in (
            f"Peer workers (clusters of the peer support arm) {len(caseload)} ",
            f"minimum / median / maximum {caseload.min()} / {caseload.median():g} / {caseload.max()} ",
            f"participants in a peer worker's caseload {caseload.sum()} ",
            f"never met a peer worker (unclustered) {len(treated) - caseload.sum()} ",
            f"Usual care participants (unclustered) {len(itt) - len(treated)} ",
            f"Units of the design (peer workers plus unclustered participants) "
            f"{cluster_ids(itt, 'peer_support').nunique()} ",
            "usual care participants, and peer support participants who never met a peer worker, "
            "are unclustered",
            "partially nested linear mixed model", "cluster-robust (sandwich) variance",
            "robust variance clustered by peer worker", "cluster bootstrap",
            "clustering: peer_worker makes the partially nested one the main analysis"):
        assert expected in text, expected
    rows = _section(html, 'id="design-analyses"', "</table>").count("<tr><td>")
    # questionnaires, primary, Cox, log-rank/RMST/CIF, recurrent, days in hospital, mediation,
    # engagement (CACE and dose-response)
    assert rows == 8
    assert "Main analysis: the partially nested design" in _text(_section(html, "<header>", "</header>"))
    # the participants analysed are listed once per score and visit, not once per design
    # (the table of participants in each analysis follows the baseline characteristics)
    flow = _text(_section(html, '<h3 id="analysed"', '<section id="primary"'))
    assert flow.count("Questionnaire ANCOVA (multiple imputation): WEMWBS total score at month 12 ") == 1


def test_icc_and_design_effect_tables_equal_the_results_tables(run):
    html = run["html"]
    values = parse(_section(html, 'id="design-icc"', "</table>")).values
    q = _table("questionnaires", run["full"])
    pn = q.loc[(q.clustering == "peer_worker") & (q.estimate_type == "adjusted_mean_difference")]
    cc = pn.loc[pn.analysis == "questionnaire_ancova"]
    mi = pn.loc[pn.analysis == "questionnaire_ancova_mi"]
    assert len(cc) == len(mi) == 32
    checked = 0
    for rows, cols in ((cc, ("icc", "icc_ci_low", "icc_ci_high")), (mi, ("icc",))):
        for i in rows.index:
            for col in cols:
                (attrs, text), = values[("questionnaires", int(i), col)]
                assert attrs["data-value"] == q.at[i, col]
                assert abs(float(text.replace("\u2212", "-")) - float(q.at[i, col])) <= 5e-4
                checked += 1
    s = _table("survival", run["full"])
    icc = s.index[s.estimate_type == "icc"]
    # the primary outcome's, and that of each model-based sensitivity strategy's outcome
    assert list(s.loc[icc, "strategy"]) == ["while_alive", "composite", "exclude_incomplete",
                                           "hypothetical_ipcw"]
    for i in icc:
        for col in ("estimate", "ci_low", "ci_high", "n_clusters"):
            (attrs, _), = values[("survival", int(i), col)]
            assert attrs["data-value"] == s.at[i, col]
    assert checked == 32 * 4
    effects = parse(_section(html, 'id="design-effects"', "</table>")).values
    de = s.index[(s.clustering == "peer_worker") & (s.design_effect != "NA")]
    assert len(de) >= 10
    assert {k[1] for k in effects if k[2] == "design_effect"} == set(map(int, de))
    for i in de:
        (attrs, text), = effects[("survival", int(i), "design_effect")]
        assert abs(float(text) - float(s.at[i, "design_effect"])) <= 5e-3
    assert "How to read them" in html


@pytest.mark.parametrize("name", ["survival", "questionnaires", "mediation"])
def test_main_design_first_and_the_other_beside_it(run, name):
    html = run["html"]
    tab = _table(name, run["full"])
    pairs = _pairs(tab, KEYS[name])
    assert len(pairs) >= 10
    scope = {"survival": _section(html, '<section id="primary"', '<section id="questionnaires"'),
             "questionnaires": _section(html, '<section id="questionnaires"', '<section id="mediation"'),
             "mediation": _section(html, '<section id="mediation"', '<section id="forest"')
             + _section(html, '<section id="appendix"', "</footer>")}[name]
    for pw, naive in pairs:
        _first_then_beside(scope, name, pw, naive)
    assert "naive (independent): " in scope  # the label of the value beside
    if name == "survival":  # the clustered log-rank, RMST and CIF rows are shown, not "—"
        shown = {tab.at[pw, "estimate_type"] for pw, _ in pairs}
        assert {"logrank_hazard_ratio", "rmst", "rmst_difference", "cumulative_incidence",
                "cif_difference"} <= shown


def test_roles_swap_under_clustering_none(run, tmp_path):
    plan = json.loads((run["full"] / "plan.json").read_text())
    plan["clustering"] = "none"
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    out = write_report(run["full"], tmp_path / "none.html", plan=tmp_path / "plan.json")
    html = out.read_text(encoding="utf-8")
    assert "Main analysis: the naive (independent) design" in _text(html[:html.index("</header>")])
    surv = _section(html, '<section id="primary"', '<section id="questionnaires"')
    for pw, naive in _pairs(_table("survival", run["full"]), KEYS["survival"]):
        _first_then_beside(surv, "survival", naive, pw)
    six = _section(html, '<section id="questionnaires"', '<section id="missing"')
    seven = _section(html, '<section id="missing"', '<section id="mediation"')
    for pw, naive in _pairs(_table("questionnaires", run["full"]), KEYS["questionnaires"]):
        _first_then_beside(six, "questionnaires", naive, pw)
    mi = _table("questionnaires", run["full"])
    mi = mi.loc[(mi.analysis == "questionnaire_ancova_mi")
                & (mi.estimate_type == "adjusted_mean_difference")]  # section 7's rows
    for pw, naive in _pairs(mi, KEYS["questionnaires"]):
        _first_then_beside(seven, "questionnaires", naive, pw)
    assert "partially nested: " in surv and "naive (independent): " not in surv
    med = (_section(html, '<section id="mediation"', '<section id="forest"')
           + _section(html, '<section id="appendix"', "</footer>"))
    for pw, naive in _pairs(_table("mediation", run["full"]), KEYS["mediation"])[:50]:
        _first_then_beside(med, "mediation", naive, pw)
    # the figures show the main design; the ICCs are the same table
    forest = _section(html, '<section id="forest"', '<section id="validation"')
    assert "naive (independent) design" in forest
    assert "(the main analysis; the partially nested one is beside" in forest
    assert _section(html, 'id="design-icc"', "</table>") == _section(run["html"], 'id="design-icc"', "</table>")


def test_a_run_without_the_clustering_columns_renders_as_naive(run, tmp_path):
    old = tmp_path / "results"
    shutil.copytree(run["bare"], old, ignore=shutil.ignore_patterns("report"))
    for name in ("survival", "questionnaires"):
        tab = _table(name, old)
        tab = tab.loc[tab.clustering == "none"].drop(columns=[
            c for c in ("clustering", "design_effect", "n_clusters", "icc", "icc_ci_low",
                        "icc_ci_high") if c in tab.columns])
        tab.to_csv(old / "tables" / f"{name}.tsv", sep="\t", index=False)
    html = write_report(old).read_text(encoding="utf-8")
    text = _text(html)
    assert "the results tables have no rows of it" in text
    assert "every estimate shown is naive (independent)" in text
    assert "Main analysis: the naive (independent) design" in text
    assert "No ICC in the results tables" in text and 'id="design-effects"' not in html
    assert "Naive (independent) (95% CI)" not in html and "Partially nested (95% CI)" not in html
    values = parse(html).values
    for name in ("survival", "questionnaires"):
        tab = _table(name, old)
        for i in tab.index:
            assert (name, int(i), "estimate") in values, (name, i)
