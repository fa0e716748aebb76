"""The report's engagement section (issue 14, docs/report.md §9): contacts by arm from
engagement.tsv, the CACE beside the intention-to-treat effect with the first stage and the
biased comparisons from cace.tsv, the dose–response figure, and "not computed" when
cace.tsv has no CACE rows.

The results are tests/report_run.py's (no engagement stage there: its report shows the
section as not computed). This module adds engagement.tsv (the stage's own function) and a
cace.tsv of the agreed schema (docs/results.md): the CACE and dose–response rows of WEMWBS
made by the package's IV engine on the bundled trial, made-up rows for the primary outcome
(one with a weak first stage), a not-estimable row and per-protocol rows.
"""

from __future__ import annotations

import re
import shutil
from html import unescape

import numpy as np
import pandas as pd
import pytest
from test_report import check_shown, parse

from outcomes.cace.comparisons import BIASED, cace_table
from outcomes.cace.dose import fit_dose_response
from outcomes.cace.engagement import engagement_by_arm
from outcomes.cace.iv import fit_cace
from outcomes.clustering import NONE, PEER_WORKER, cluster_ids
from outcomes.labels import param_label
from outcomes.plan import AnalysisPlan, ReceiptDefinition
from outcomes.report import load_inputs
from outcomes.report.engagement import (
    CACE,
    DOSE_RESPONSE,
    engagement_section,
    receipt_in_words,
)
from outcomes.report.inputs import Table
from outcomes.report.render import write_report
from outcomes.tables import write_tsv

CONTRAST = "peer_support vs usual_care"
NOT_ESTIMABLE = "made up for the test: <no complier>"


def _iv_rows(adsl: pd.DataFrame, adqs: pd.DataFrame, pc: str, visit: str) -> list[pd.DataFrame]:
    """The CACE and dose-response rows of one score and visit (complete cases), both
    designs, from the package's engine."""
    q = adqs.loc[(adqs.PARAMCD == pc) & (adqs.AVISIT == visit)
                 & adqs.AVAL.notna() & adqs.BASE.notna(), ["USUBJID", "AVAL", "BASE"]]
    d = adsl.merge(q, on="USUBJID")
    arm = (d.ARM == "peer_support").astype(float).rename("ARM")
    receipt = (d.ENGFL == "Y").astype(float).rename("ENGFL")
    cl = cluster_ids(d, "peer_support").to_numpy()
    out = []
    for analysis, et, fit in (
            (CACE, "adjusted_mean_difference",
             lambda c: fit_cace(d.AVAL, receipt, arm, d[["BASE"]], clusters=c)),
            (DOSE_RESPONSE, "effect_per_contact",
             lambda c: fit_dose_response(d.AVAL, d.NCONTACT, arm, d[["BASE"]], ("BASE",),
                                         clusters=c))):
        for design, c in ((NONE, None), (PEER_WORKER, cl)):
            f = fit(c).to_frame().assign(clustering=design)
            out.append(f.assign(analysis=analysis, outcome=f"{pc} {visit}", contrast=CONTRAST,
                                estimate_type=et, paramcd=pc, avisit=visit, events=np.nan,
                                status="estimated", reason=""))
    return out


def _made_up(survival: pd.DataFrame) -> list[pd.DataFrame]:
    """Rows of the primary outcome (made up from its ITT risk difference, one weak first
    stage), a not-estimable CACE of SWEMWBS at month 12, per-protocol rows."""
    rd = survival.loc[(survival.analysis == "primary") & (survival.estimate_type == "risk_difference")]
    outcome = rd.outcome.iloc[0]
    rows = []
    for design in (NONE, PEER_WORKER):
        itt = rd.loc[rd.clustering == design].iloc[0]
        base = dict(clustering=design, outcome=outcome, contrast=CONTRAST, n=600, events=np.nan,
                    status="estimated", reason="")
        rows += [dict(base, analysis=CACE, estimate_type="risk_difference",
                      estimate=itt.estimate / 0.86, ci_low=itt.ci_low / 0.86,
                      ci_high=itt.ci_high / 0.86, p_value=itt.p_value,
                      first_stage_estimate=0.86, first_stage_f=1234.5,
                      first_stage_robust_f=1200.25 if design == NONE else 310.75,
                      partial_r2=0.67, weak_instruments=False),
                 dict(base, analysis=DOSE_RESPONSE, estimate_type="effect_per_contact",
                      estimate=itt.estimate / 7.1, ci_low=itt.ci_low / 7.1,
                      ci_high=itt.ci_high / 7.1, p_value=itt.p_value, term="NCONTACT",
                      first_stage_estimate=7.1, first_stage_f=8.5, first_stage_robust_f=6.25,
                      partial_r2=0.02, weak_instruments=True, instruments="ARM",
                      overid_df=np.nan, hansen_j=np.nan, hansen_j_p_value=np.nan),
                 dict(base, analysis=CACE, outcome="SWEMWBS month_12",
                      estimate_type="adjusted_mean_difference", paramcd="SWEMWBS",
                      avisit="month_12", estimate=np.nan, ci_low=np.nan, ci_high=np.nan,
                      p_value=np.nan, status="not estimable", reason=NOT_ESTIMABLE),
                 dict(base, analysis="per_protocol", estimate_type="risk_difference",
                      estimate=itt.estimate * 1.5, ci_low=itt.ci_low * 1.5,
                      ci_high=itt.ci_high * 1.5, p_value=0.0004)]
    return [pd.DataFrame(rows)]


@pytest.fixture(scope="module")
def eng(report_run, tmp_path_factory):
    """report_run's results with engagement.tsv and cace.tsv, and its report."""
    res = tmp_path_factory.mktemp("engagement") / "results"
    shutil.copytree(report_run["full"], res,
                    ignore=shutil.ignore_patterns("report", "imputation", "mediation"))
    plan = AnalysisPlan.load(res / "plan.json")
    adsl = pd.read_parquet(res / "derived" / "adsl.parquet")
    adqs = pd.read_parquet(res / "derived" / "adqs.parquet")
    survival = pd.read_csv(res / "tables" / "survival.tsv", sep="\t")
    write_tsv(engagement_by_arm(adsl, plan.arms).to_frame(), res / "tables" / "engagement.tsv")
    frames = [*_iv_rows(adsl, adqs, "WEMWBS", "month_4"), *_iv_rows(adsl, adqs, "WEMWBS", "month_12")]
    table = cace_table([*_made_up(survival), *frames])
    write_tsv(table, res / "tables" / "cace.tsv")
    html = write_report(res).read_text(encoding="utf-8")
    start = html.index('<section id="engagement"')
    return {"res": res, "html": html, "sec": html[start:html.index("</section>", start)],
            "cace": pd.read_csv(res / "tables" / "cace.tsv", sep="\t", dtype=str,
                                keep_default_na=False)}


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))).replace("\u2212", "-")


def test_contacts_by_arm_are_engagement_tsv(eng):
    eng_tsv = pd.read_csv(eng["res"] / "tables" / "engagement.tsv", sep="\t", dtype=str,
                          keep_default_na=False)
    values = parse(eng["sec"]).values
    assert len(eng_tsv) == 2 * (3 + 4 * 7)
    for i, row in eng_tsv.iterrows():  # every row: n, receipt n and %, 7 statistics of 4
        shown = values[("engagement", i, "value")]
        assert shown, (i, row.to_dict())
        for attrs, text in shown:
            check_shown(row.value, attrs, text, "value")
    text = _text(eng["sec"])
    assert "Received peer support (the plan's definition), n (%)" in text
    assert ("receipt of peer support as at least 1 contact with a peer worker, from "
            "randomisation to the end of follow-up (365 days after the index discharge)") in text
    for var in ("NCONTWIN", "NCONTACT", "CONTMWIN", "CONTMIN"):  # in words, not codes
        what = eng_tsv.loc[eng_tsv.variable == var, "description"].iloc[0]
        assert f"{what[:1].upper()}{what[1:]}" in text and var not in text


def test_every_cace_dose_and_biased_row_is_shown_equal_to_the_file(eng):
    tab = eng["cace"]
    values = parse(eng["sec"]).values
    shown_rows = tab.index[tab.analysis.isin([CACE, DOSE_RESPONSE])
                           | (tab.contrast == CONTRAST)]
    # both designs of: the primary's CACE, dose and per-protocol rows, SWEMWBS's CACE,
    # WEMWBS's CACE and dose at two visits
    assert len(shown_rows) == 2 * (3 + 1 + 4)
    for i in shown_rows:
        row = tab.loc[i]
        if row.status == "not estimable":
            assert [t for _, t in values[("cace", i, "estimate")]] == ["not estimable"]
            assert ("cace", i, "ci_low") not in values
            continue
        for col in ("estimate", "ci_low", "ci_high", "p_value"):
            assert ("cace", i, col) in values, (i, col)
            for attrs, text in values[("cace", i, col)]:
                check_shown(row[col], attrs, text, col)
        if row.analysis in (CACE, DOSE_RESPONSE):  # the first stage of the main design;
            # the other design's robust F beside it (the same difference and partial F)
            cols = ("first_stage_robust_f",) if row.clustering == NONE else (
                "first_stage_estimate", "first_stage_f", "first_stage_robust_f")
            for col in cols:
                assert ("cace", i, col) in values, (i, col)
                for attrs, text in values[("cace", i, col)]:
                    check_shown(row[col], attrs, text, col)
    # the primary's CACE and compliance difference in percentage points, per contact too
    prim = tab.loc[(tab.analysis == CACE) & (tab.estimate_type == "risk_difference")
                   & (tab.clustering == PEER_WORKER)].index[0]
    assert [t for _, t in values[("cace", prim, "first_stage_estimate")]] == ["86.0"]
    est = float(tab.at[prim, "estimate"])
    assert [t for _, t in values[("cace", prim, "estimate")]] == [f"{100 * est:.1f}".replace("-", "\u2212")]
    dose = tab.loc[(tab.analysis == DOSE_RESPONSE) & (tab.clustering == PEER_WORKER)
                   & tab.outcome.str.startswith("READMIT")].index[0]
    per = float(tab.at[dose, "estimate"])
    assert [t for _, t in values[("cace", dose, "estimate")]] == [f"{100 * per:.2f}".replace("-", "\u2212")]


def test_cace_is_beside_the_itt_effect_main_design_first(eng):
    """Each outcome's table row: the ITT estimate (survival.tsv's primary row, the
    questionnaire table's MI rows, main design), the CACE, the first stage, the
    per-protocol and as-treated estimates, labelled biased; the naive twin under each."""
    tab = eng["cace"]
    surv = pd.read_csv(eng["res"] / "tables" / "survival.tsv", sep="\t", dtype=str, keep_default_na=False)
    q = pd.read_csv(eng["res"] / "tables" / "questionnaires.tsv", sep="\t", dtype=str, keep_default_na=False)
    table = eng["sec"][eng["sec"].index('id="engagement-cace"'):]
    table = table[:table.index("</table>")]
    body = table[table.index("<tbody>"):]
    trs = body.split("<tr>")[1:]
    assert "Primary outcome: readmission" in trs[0]
    assert "biased comparison" in _text(table[:table.index("</thead>")])

    def order(tr):  # (src, row) of the estimates in the row, in order
        return [(a["data-src"], int(a["data-row"])) for (_, _, c), vs in parse(tr).values.items()
                if c == "estimate" for a, _ in vs]

    def first_pos(tr, src, row):
        return tr.index(f'data-src="{src}" data-row="{row}" data-col="estimate"')

    for tr in trs:
        label = _text(tr.split("</td>")[0]).strip()
        if label.startswith("Primary outcome"):
            itt = surv.index[(surv.analysis == "primary") & (surv.estimate_type == "risk_difference")]
            src, rows = "survival", surv.loc[itt]
            key = rows.outcome.iloc[0]
        else:
            name, visit = re.search(r"^(.*), month (\d+)$", label).groups()
            pc = {param_label(p): p for p in q.paramcd.unique()}[name]  # labels, not codes
            src = "questionnaires"
            rows = q.loc[(q.paramcd == pc) & (q.avisit == f"month_{visit}")
                         & (q.analysis == "questionnaire_ancova_mi")]
            key = f"{pc} month_{visit}"
        main, other = (int(rows.index[rows.clustering == d][0]) for d in (PEER_WORKER, NONE))
        assert first_pos(tr, src, main) < first_pos(tr, src, other)
        c = tab.loc[(tab.analysis == CACE) & (tab.outcome == key)]
        if len(c):
            cm, co = (int(c.index[c.clustering == d][0]) for d in (PEER_WORKER, NONE))
            if c.status.iloc[0] == "not estimable":
                assert NOT_ESTIMABLE.replace("<", "&lt;").replace(">", "&gt;") in tr
            else:
                assert first_pos(tr, src, main) < first_pos(tr, "cace", cm) < first_pos(tr, "cace", co)
        else:
            assert "not computed" in tr  # the CACE of a score without rows
        assert order(tr)  # numbers, not only text
    assert len(trs) == len(q.loc[q.analysis == "questionnaire_ancova_mi", "outcome"].unique()) + 1
    # the methods name the model, and the design table its two variances
    assert "Engagement (complier average causal effect" in eng["html"]
    assert "cluster-robust (CR1) variance by peer worker" in eng["html"]
    pp = tab.loc[(tab.analysis == "per_protocol")]
    assert set(pp.comparison_bias) == {BIASED}
    assert f'data-src="cace" data-row="{pp.index[0]}" data-col="estimate"' in trs[0]


def test_weak_instrument_is_flagged_and_just_identified_dose_says_so(eng):
    sec = eng["sec"]
    weak = sec[sec.index('id="weak-instruments"'):]
    weak = _text(weak[:weak.index("</p>")])
    assert "Weak instrument" in weak and "readmission" in weak and "dose" in weak
    assert "WEMWBS" not in weak  # the engine's WEMWBS first stages are strong
    dose = sec[sec.index('id="engagement-dose"'):]
    dose = dose[:dose.index("</table>")]
    assert '<strong class="weak">weak instrument</strong>' in dose
    assert "(just identified)" in _text(dose)  # the primary's made-up row: one instrument
    tab = eng["cace"]
    i = tab.index[(tab.analysis == DOSE_RESPONSE) & (tab.outcome == "WEMWBS month_12")
                  & (tab.clustering == PEER_WORKER)][0]
    assert tab.at[i, "instruments"] == "ARM + ARM:BASE"  # in words in the report
    assert "arm + arm \u00d7 baseline score" in dose
    vals = parse(dose).values
    for col in ("hansen_j", "hansen_j_p_value"):
        for attrs, text in vals[("cace", int(i), col)]:
            check_shown(tab.at[i, col], attrs, text, "p_value" if col.endswith("p_value") else col)


def test_dose_response_figure_is_the_slope_over_the_treated_arms_contacts(eng):
    sec = eng["sec"]
    assert sec.count("<svg") == 1 and 'aria-label="Estimated effect against the number' in sec
    assert "linear in the number of contacts" in _text(sec)
    inp = load_inputs(eng["res"])
    s = engagement_section(inp)
    tab = eng["cace"]
    assert [p.title for p in s.panels] == ["Primary outcome: readmission within 365 days",
                                          "WEMWBS total score, month 12"]
    adsl = inp.adsl
    treated = adsl.loc[adsl.ARM == "peer_support", "NCONTACT"].to_numpy(float)
    for p, key, scale in zip(s.panels, ("READMIT within 365 days", "WEMWBS month_12"), (100, 1),
                             strict=True):
        row = tab.loc[(tab.analysis == DOSE_RESPONSE) & (tab.outcome == key)
                      & (tab.clustering == PEER_WORKER)].iloc[0]
        assert (p.slope, p.ci_low, p.ci_high) == tuple(scale * float(row[c]) for c in
                                                       ("estimate", "ci_low", "ci_high"))
        assert np.array_equal(np.sort(p.doses), np.sort(treated))
    # a not-estimable main row is not drawn and says why
    raw = inp.cace.raw.copy()
    i = raw.index[(raw.analysis == DOSE_RESPONSE) & (raw.outcome == "WEMWBS month_12")
                  & (raw.clustering == PEER_WORKER)][0]
    raw.loc[i, ["estimate", "status", "reason"]] = ["NA", "not estimable", "made up"]
    inp.cace = Table(inp.cace.path, raw, inp.cace.num.assign(
        estimate=lambda f: f.estimate.where(f.index != i)))
    s = engagement_section(inp)
    assert [p.title for p in s.panels] == ["Primary outcome: readmission within 365 days"]
    assert s.not_drawn == [("WEMWBS total score, month 12", "made up")]


def test_without_cace_rows_the_section_says_not_computed(eng, report_run):
    # report_run has neither engagement.tsv nor cace.tsv
    html = report_run["html"]
    sec = html[html.index('<section id="engagement"'):html.index('<section id="forest"')]
    text = _text(sec)
    assert "Engagement by arm: not computed (no tables/engagement.tsv" in text
    assert "not computed (no tables/cace.tsv)" in text
    assert 'id="dose-not-computed"' in sec and "<svg" not in sec
    assert "Engagement (complier average causal effect" not in html  # no such model run
    # the ITT effects are still there, the CACE not computed beside each
    assert text.count("not computed") >= 10
    # a cace.tsv of the biased comparisons only (the engagement stage before the IV rows)
    inp = load_inputs(eng["res"])
    keep = inp.cace.raw.analysis.isin(["per_protocol", "as_treated"])
    inp.cace = Table(inp.cace.path, inp.cace.raw.loc[keep], inp.cace.num.loc[keep])
    s = engagement_section(inp)
    assert not s.has_cace and not s.has_dose and s.has_comparisons and not s.panels
    assert any("tables/cace.tsv has no rows with analysis = cace" in n for n in s.notices)
    assert all(r.cace is None for r in s.cace) and s.cace[0].per_protocol is not None
    assert s.cace[0].itt is not None


def test_receipt_in_words():
    r = ReceiptDefinition(min_contacts=3, min_minutes=60, window_start="discharge", window_days=90)
    assert receipt_in_words(r, 365) == (
        "at least 3 contacts with a peer worker totalling at least 60 minutes, from the index "
        "discharge (day 0) to day 90 after it, both included, not after the data cut")
