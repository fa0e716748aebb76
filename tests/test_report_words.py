"""Words, not codes (issue 18 point 1; docs/report.md): the bundled run's report
(``bundled_run``, tests/bundled_run.py) shows no arm code of the plan, no ADSL/ADTTE/ADRE
variable or parameter code and no questionnaire PARAMCD that is not its own label in its
prose, tables, legends, axis labels or forest-plot rows. Text inside ``<code>`` (file
names, plan keys the reader may need to type) is exempt; the figures' text is read from
the comments matplotlib writes beside every glyph path (``svg.fonttype: path``)."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

from outcomes.instruments import load_registry
from outcomes.labels import OUTCOME_WORDS, VARIABLE_WORDS
from outcomes.plan import AnalysisPlan


def shown_text(html: str) -> str:
    """What a reader sees: the text of the page and of its figures, without ``<code>``,
    CSS and attributes."""
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    html = re.sub(r"<!--(.*?)-->", r" \1 ", html, flags=re.S)  # matplotlib's text of a glyph run
    html = re.sub(r"<code>.*?</code>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def banned_codes(plan: AnalysisPlan) -> set[str]:
    """Arm codes, ADaM variable and parameter codes with words in outcomes.labels, and the
    PARAMCDs whose label does not itself contain the code (``WEMWBS`` is the instrument's
    name; ``WAISRMN`` is only a code)."""
    codes = set(plan.arms) | (set(VARIABLE_WORDS) - {"ARM", "AGE", "SEX", "GLOBAL"})
    codes |= set(OUTCOME_WORDS) - {"DEATH"}
    codes |= {s.paramcd for inst in load_registry().values() for s in inst.scores
              if not re.search(rf"\b{re.escape(s.paramcd)}\b", s.param)}
    return codes


def found_codes(html: str, codes: set[str]) -> dict[str, str]:
    """Each code of ``codes`` shown as a whole token, with the text around its first use."""
    text = shown_text(html)
    out: dict[str, str] = {}
    for m in re.finditer(r"[A-Za-z0-9_]+", text):
        if m.group(0) in codes and m.group(0) not in out:
            out[m.group(0)] = " ".join(text[max(0, m.start() - 60):m.end() + 20].split())
    return out


#: What a reader should not see besides codes (issue 18, found by looking at the rendered
#: report, decisions RG5): a snake_case name outside ``<code>`` (a file name, plan key,
#: estimand id or instrument key set in the prose's type), a name of a method lower-cased
#: at the start of a label ("gray's test", "andersen-gill"), a range from a number to
#: itself among the numbers of participants analysed ("581 to 581"), a visit capitalised
#: after a comma ("WEMWBS total score, Month 12"), "p = <0.001", the word "alpha" for the plan's level in a decision, and a row
#: of medians that are 0 in every arm ("Median days in hospital 0.0 (0.0 to 0.0)").
FLAWS = {
    "snake_case": re.compile(r"(?<![\w.-])[a-z][a-z0-9]*(?:[._][a-z0-9]+)*_[a-z0-9]+"
                             r"(?:[._][a-z0-9]+)*(?![\w-])"),
    "lower-cased name": re.compile(r"\b(?:gray's|andersen|kaplan|aalen|fine-gray)\b"),
    "alpha in a decision": re.compile(r"p [>\u2264] alpha"),
    "visit capitalised inside a label": re.compile(r", Month \d"),
    "p = <": re.compile(r"\bp = <"),
}
_SAME_RANGE = re.compile(r"(?<![\d.,])(\d+) to \1(?![\d.,])")
_ZERO_MEDIANS = re.compile(r"<tr><td>Median[^<]*</td>(?:<td[^>]*>(?:(?!</td>).)*?>0\.0</span>"
                           r"(?:(?!</td>).)*</td>)+</tr>", re.S)


def flaws(html: str) -> dict[str, str]:
    """Each kind of ``FLAWS`` found in the shown text (with its context), and
    "zero medians" for a table row of medians that are 0 in every arm."""
    text = " ".join(unescape(shown_text(html)).split())  # &nbsp; is a space here
    out = {}
    for kind, rx in FLAWS.items():
        m = rx.search(text)
        if m:
            out[kind] = text[max(0, m.start() - 60):m.end() + 20]
    analysed = text[text.find("Participants included in each analysis"):]
    m = _SAME_RANGE.search(analysed[:analysed.find(" Table ")])
    if m:
        out["range to itself"] = m.group(0)
    m = _ZERO_MEDIANS.search(html)
    if m:
        out["zero medians"] = re.sub(r"<[^>]+>", " ", m.group(0))[:120]
    return out


def test_flaws_are_found_in_the_old_forms_and_not_in_the_new():
    old = ("<p>estimating the estimand <a href='#e'>readmit_while_alive</a></p>"
           "<p>the plan's mediation.exposure_induced_confounders</p>"
           "<td>Readmission: gray's test of the cumulative incidence</td>"
           "<table><caption>Participants included in each analysis</caption>"
           "<td>Mediation: 9 analyses</td><td class='num'>581 to 581</td></table>"
           "<td>WEMWBS total score, Month 12</td><td>naive: 0.71, p&nbsp;=&nbsp;&lt;0.001</td><td>p > alpha (nominal)</td>"
           "<table><tr><td>Median days in hospital</td><td class=\"est\"><span class=\"est\">"
           "<span class=\"v\">0.0</span></span> (0.0 to 0.0)</td><td class=\"est\"><span>"
           "<span class=\"v\">0.0</span></span> (0.0 to 8.5)</td></tr></table>")
    assert set(flaws(old)) == {*FLAWS, "range to itself", "zero medians"}
    new = ("<p>estimating <a href='#e'>its estimand</a>; <code>readmit_while_alive</code>,"
           " survival.tsv, <code>mediation.exposure_induced_confounders</code>, "
           "Linux-6.18-x86_64-with-glibc</p><p>Range 0 to 0</p><td>Readmission: Gray's test</td><td>581</td><td>p > 0.05</td>"
           "<td>0.0 (0.0 to 8.5)</td><td>2 (1 to 2)</td><td>WEMWBS total score, month 12</td>"
           "<td>Month 12</td><td>p&nbsp;&lt;0.001</td>"
           "<tr><td>Median days in hospital</td><td><span>3.0</span></td><td><span>0.0</span>"
           "</td></tr>")
    assert flaws(new) == {}


def test_percent_ticks_are_the_tables_percentages():
    from outcomes.report.fmt import percent_tick

    assert [percent_tick(x) for x in (0, 0.1, 0.25, 0.025, 1.0, -0.05)] == [
        "0%", "10%", "25%", "2.5%", "100%", "\u22125%"]


def test_scanner_finds_codes_in_prose_and_figures_but_not_in_code():
    codes = {"peer_support", "SITEID", "WAISRMN"}
    html = ("<p>adjusted for SITEID</p><svg><!-- peer_support --><path d='M0'/></svg>"
            "<p><code>arms.treated: peer_support</code> WAISRMN_x</p><style>.SITEID{}</style>")
    assert set(found_codes(html, codes)) == {"SITEID", "peer_support"}


def test_report_of_the_bundled_run_shows_words_not_codes(bundled_run):
    results = Path(bundled_run.work) / "results"
    html = (results / "report" / "index.html").read_text(encoding="utf-8")
    plan = AnalysisPlan.load(results / "plan.json")
    codes = banned_codes(plan)
    assert {"peer_support", "usual_care", "SITEID", "DIAGGR", "READMIT", "NREADM",
            "WAISRMN"} <= codes
    assert not found_codes(html, codes), found_codes(html, codes)
    assert not flaws(html), flaws(html)
    # the figures say which side favours which arm, and name the arms in words
    text = shown_text(html)
    assert "favours peer support" in text and "favours usual care" in text
    assert "Peer support" in text and "Usual care" in text


def test_report_of_the_bundled_run_reports_what_a_paper_reports(bundled_run):
    """Reasons for exclusion that add up, observed means by visit, days in hospital as
    mean (SD) and any day, no empty "Missing 0 (0.0%)" line, the MCF figure."""
    results = Path(bundled_run.work) / "results"
    html = (results / "report" / "index.html").read_text(encoding="utf-8")
    flow = html[html.index('aria-label="Flow of participants'):]
    flow = flow[:flow.index("</svg>")]
    lines = [re.sub(r"<[^>]+>", "", x) for x in re.findall(r"<text[^>]*>.*?</text>", flow)]
    lines = [x.replace("&#x27;", "'") for x in lines]
    heads = [k for k, x in enumerate(lines) if x.startswith("not in the ")]
    assert len(heads) >= 2  # the primary and the complete-case analysis, in each arm
    checked = 0
    for k in heads:
        m = re.match(r"not in the .*?: (\d+) of (\d+)", lines[k])
        if m is None:  # "none"
            continue
        reasons = []
        for x in lines[k + 1:]:
            if not x.startswith("\u2013 "):
                break
            reasons.append(int(x.rsplit(": ", 1)[1]))
        assert reasons and sum(reasons) == int(m.group(1)), lines[k:k + 6]
        checked += 1
    assert checked >= 2  # the bundled trial has exclusions from the complete-case analysis
    assert 'id="outcome-means"' in html and "WEMWBS total score" in html
    text = shown_text(html)
    assert "Days in hospital, mean (SD)" in text and "Any day in hospital, n (%)" in text
    # Table 1 is the baseline characteristics (the flow diagram is Figure 1)
    table1 = text[text.index("Table 1. "):]
    assert table1.startswith("Table 1. Baseline characteristics")
    table1 = table1[:table1.index("Table 2. ")]
    assert "Missing" in table1
    assert not re.search(r"Missing\s+0 \(0\.0%\)\s+0 \(0\.0%\)", table1)
    # days in hospital: the median of those with any day; the medians of all, 0 in every
    # arm, in a sentence that says why (each with its CI: tests/test_report.py)
    assert "Days in hospital of those with any day, median (IQR)" in text
    assert 'id="in-words-days_in_hospital"' in html
    assert 'aria-label="Mean cumulative function of readmissions' in html
    # the cumulative-incidence and Kaplan–Meier axes in percent, as the tables
    for name, label in (("cif_readmit", "Cumulative incidence (%)"),
                        ("km_readmit", "Not readmitted (%)")):
        svg = (results / "figures" / f"{name}.svg").read_text(encoding="utf-8")
        figure_text = shown_text(svg)
        assert label in figure_text and re.search(r"\b[1-9]0%", figure_text), name
