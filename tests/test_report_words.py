"""Words, not codes (issue 18 point 1; docs/report.md): the bundled run's report
(``bundled_run``, tests/bundled_run.py) shows no arm code of the plan, no ADSL/ADTTE/ADRE
variable or parameter code and no questionnaire PARAMCD that is not its own label in its
prose, tables, legends, axis labels or forest-plot rows. Text inside ``<code>`` (file
names, plan keys the reader may need to type) is exempt; the figures' text is read from
the comments matplotlib writes beside every glyph path (``svg.fonttype: path``)."""

from __future__ import annotations

import re
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
    table1 = text[text.index("Table 1"):]
    assert not re.search(r"Missing\s+0 \(0\.0%\)\s+0 \(0\.0%\)", table1[:20000])
    assert 'aria-label="Mean cumulative function of readmissions' in html
