"""The report's missing-data section (issue 12): the pattern of missing questionnaires by
arm and visit, the methods and estimands, multiple imputation beside complete cases, the
tipping point when its files exist; and the report of a complete-case plan or of results
without MI rows. Rendered from the session's bundled-trial results (tests/report_run.py).
"""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
from report_run import M, _cli

from outcomes.plan import write_plan


def _section(html: str, start: str, end: str) -> str:
    return html[html.index(f'<section id="{start}"'):html.index(f'<section id="{end}"')]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def _rerender(report_run, tmp_path, plan=None, table=None):
    """The session's results with another plan and/or questionnaires table, rendered."""
    alt = tmp_path / "results"
    shutil.copytree(report_run["bare"], alt, ignore=shutil.ignore_patterns("report"))
    if plan is not None:
        write_plan({"data_dir": "synthetic_data", "results_dir": str(alt), **plan},
                   alt / "plan.json")
    if table is not None:
        table(alt / "tables" / "questionnaires.tsv")
    _cli("report", "--results", str(alt))
    return (alt / "report" / "index.html").read_text(encoding="utf-8")


def test_pattern_by_arm_and_visit_counts_each_participant_once(report_run):
    res = report_run["full"]
    adsl = pd.read_parquet(res / "derived" / "adsl.parquet")
    adqs = pd.read_parquet(res / "derived" / "adqs.parquet")
    sec = _section(report_run["html"], "missing", "mediation")
    rows = re.findall(r"<tr><td>(Month \d+)</td><td>([^<]+)</td>(.*?)</tr>", sec)
    assert len(rows) == 4
    for visit, arm, cells in rows:
        counts = [int(c.split(" (")[0]) for c in re.findall(r'<td class="num">([^<]+)</td>', cells)]
        code = arm.lower().replace(" ", "_")
        a = adsl.loc[adsl.ARM == code]
        day = {"Month 4": 122, "Month 12": 365}[visit]
        avisit = visit.lower().replace(" ", "_")
        returned = a.USUBJID.isin(adqs.loc[adqs.AVISIT == avisit, "USUBJID"])
        due = a.INDEXDT + pd.Timedelta(days=day)
        died = ~returned & (a.DTHDT < due)
        assert counts[0] == len(a) == sum(counts[1:])
        assert counts[1] == int(returned.sum()) and counts[2] == int(died.sum())
        assert counts[5] == int((~returned & ~died & (a.DCUTDT >= due) & ~(a.WDDT < due)).sum())


def test_methods_estimands_and_mi_beside_complete_cases(report_run):
    html = report_run["html"]
    sec = _section(html, "missing", "mediation")
    text = _text(sec)
    assert f"m = {M} imputed data sets of 5 sweeps each, Bayesian normal linear regression" in text
    assert "a separate imputation model in each arm" in text
    assert "child i of the 'imputation' stream of the plan seed 20261122" in text
    assert "missing at random" in text and "While alive" in text
    assert "No score is imputed for a visit whose nominal day falls after the participant's death" in text
    q = pd.read_csv(report_run["full"] / "tables" / "questionnaires.tsv", sep="\t")
    table = sec[sec.index('id="mi-vs-cc"'):]
    table = table[:table.index("</table>")]
    # the rows of the plan's main design (clustering = peer_worker), each with the naive
    # twin under it (tests/test_report_design.py checks the order)
    main_mi = ((q.analysis == "questionnaire_ancova_mi") & (q.clustering == "peer_worker")
               & (q.estimate_type == "adjusted_mean_difference"))
    assert table.count("<tr><td>") == main_mi.sum() == 32
    # every MI row's fmi, and the complete-case row beside it, from the table's rows (each
    # analysis a block of four: the difference, two adjusted means, Hedges' g)
    for i in q.index[main_mi]:
        assert f'data-row="{i}" data-col="fmi" data-value=' in table
        assert f'data-row="{i + 4}" data-col="estimate"' in table
        assert q.at[i + 4, "analysis"] == "questionnaire_ancova"
        assert q.at[i + 4, "clustering"] == "peer_worker"
        naive = i - 8  # the naive MI row, beside
        assert q.loc[naive, ["analysis", "clustering", "paramcd", "avisit"]].tolist() == [
            "questionnaire_ancova_mi", "none", q.at[i, "paramcd"], q.at[i, "avisit"]]
        assert f'data-row="{naive}" data-col="estimate"' in table
    # section 6 and the forest plot: MI is the main analysis, the label says so
    six = _section(html, "questionnaires", "missing")
    assert "main analysis by multiple imputation, complete cases beside it" in six
    assert "complete cases below" in six
    w = q.index[(q.paramcd == "WEMWBS") & (q.avisit == "month_12")]
    first = six.index(f'data-row="{w[0]}" data-col="estimate"')
    assert first < six.index(f'data-row="{w[1]}" data-col="estimate"')
    forest = _section(html, "forest", "validation")
    assert "adjusted mean difference, points, multiple imputation -->" in forest
    assert forest.count("<!-- WEMWBS total score, month 12 -->") == 1  # the MI row only
    assert "WEMWBS at month 12 (ANCOVA, multiple imputation)" in _section(html, "flow", "baseline")


def test_complete_case_plan_and_results_without_mi_rows(report_run, tmp_path):
    def cc_only(path):
        t = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        t.loc[t.analysis == "questionnaire_ancova"].to_csv(path, sep="\t", index=False)

    html = _rerender(report_run, tmp_path / "cc", plan={"mediation": {"n_boot": 50}},
                     table=cc_only)
    sec = _text(_section(html, "missing", "mediation"))
    assert "Complete cases only: the plan imputes no missing score" in sec
    assert "missing_data.method complete_case" in sec and "Multiple imputation" not in sec
    six = _section(html, "questionnaires", "missing")
    assert "below" not in six and "multiple imputation" not in six
    assert 'id="mi-vs-cc"' not in html and "Not due: died" in html
    # the plan says mi, the table has complete cases only: said, and the report renders
    html = _rerender(report_run, tmp_path / "mi", table=cc_only,
                     plan={"mediation": {"n_boot": 50}, "missing_data": {"method": "mi"}})
    assert "has no rows pooled over imputations" in html
    # a complete-case plan with MI rows in the table: complete cases main, MI beside
    html = _rerender(report_run, tmp_path / "cc_mi", plan={"mediation": {"n_boot": 50}})
    six = _section(html, "questionnaires", "missing")
    assert "main analysis by complete cases, multiple imputation beside it" in six


@pytest.mark.parametrize("tipping", [True, False])
def test_tipping_point_shown_when_its_files_exist(report_run, tmp_path, tipping):
    def add(path):
        res = path.parents[1]
        grid = [(dt, dc) for dt in (-4.0, -2.0, 0.0) for dc in (0.0, 2.0)]
        rows = [{"paramcd": "WEMWBS", "avisit": "month_12", "delta_treated": dt,
                 "delta_control": dc, "estimate": 1.3 + dt / 2 - dc / 2, "ci_low": -0.9 + dt,
                 "ci_high": 3.5, "p_value": 0.2 if dt > -4 else 0.04,
                 "tipping": "yes" if tipping and dt == -4.0 and dc == 0.0 else ""}
                for dt, dc in grid]
        pd.DataFrame(rows).to_csv(res / "tables" / "tipping_point.tsv", sep="\t", index=False)
        (res / "figures" / "tipping_point_WEMWBS_month_12.svg").write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
            '<rect id="cell" width="5" height="5"/></svg>')

    html = _rerender(report_run, tmp_path, table=add)
    sec = _section(html, "missing", "mediation")
    assert "Tipping point: missing not at random" in sec and "<h4>WEMWBS at month 12</h4>" in sec
    assert sec.count("<svg") == 1 and "tables/tipping_point.tsv" in html  # in the files read
    text = _text(sec)
    if tipping:
        assert "Shifts at which the conclusion changes" in text
        assert re.search(r"\u22124\.00 0\.00 \u22120\.70 \( \u22124\.90 to 3\.50 \) 0\.040", text), text
    else:
        assert "The conclusion does not change over the grid (δ treated from −4.00 to 0.00" in text
    assert "Tipping point" not in report_run["html"]
