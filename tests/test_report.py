"""The trial report (issue 7): rendered from the result files of a pipeline run on the
bundled trial (tests/report_run.py), every number equal to the tables, no participant-level
data, mediation and provenance shown when present and announced when absent, and the report
opened in a real browser (headless Chromium) with its figures rendered, no console errors,
no requests. The missing-data section: tests/test_report_missing_data.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from report_run import DATA, N_BOOT, _cli, run_mediation_stage  # noqa: F401 (others import them from here)

from outcomes import cli
from outcomes.labels import mediator_words
from outcomes.mediation.summaries import NOT_MEANINGFUL
from outcomes.report.estimates import PRIMARY_SCORE_ORDER

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "results" / "report"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


# ----------------------------------------------------------------------------- pipeline


@pytest.fixture(scope="module")
def run(report_run):
    """The results directories and rendered reports of tests/report_run.py."""
    return report_run


# ----------------------------------------------------------------------------- HTML parsing


class _Values(HTMLParser):
    """Collects every element with ``data-src``: (src, row, col) -> (attributes, text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.values: dict[tuple[str, int, str], list[tuple[dict, str]]] = {}
        self._open: list[tuple[dict, list[str]]] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "span" and "data-src" in a:
            self._open.append((a, []))
        elif tag == "span":
            self._open.append(({}, []))

    def handle_endtag(self, tag):
        if tag == "span" and self._open:
            a, text = self._open.pop()
            if a:
                key = (a["data-src"], int(a["data-row"]), a["data-col"])
                self.values.setdefault(key, []).append((a, "".join(text)))

    def handle_data(self, data):
        for _, text in self._open:
            text.append(data)


def parse(html: str) -> _Values:
    p = _Values()
    p.feed(html)
    return p


def _na(raw: str) -> bool:
    return raw in ("", "NA", "NaN", "nan", "inf", "-inf")


def check_shown(raw: str, attrs: dict, text: str, col: str) -> None:
    """The text shown agrees with the full-precision TSV value to the digits shown."""
    assert attrs["data-value"] == raw
    if col == "p_value":
        if _na(raw):
            assert text == "\u2014"
        elif text == "<0.001":
            assert float(raw) < 0.001
        else:
            assert abs(float(text) - float(raw)) <= 0.0005 + 1e-12, (text, raw)
        return
    if _na(raw):
        assert text in ("\u2014", "not reached"), (text, raw)
        return
    shown = text.replace("\u2212", "-").rstrip("%")
    value = float(shown)
    scale = float(attrs["data-scale"])
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    assert abs(value / scale - float(raw)) <= 0.5 * 10 ** -decimals / scale + 1e-12, (text, raw)


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", ["survival", "questionnaires", "mediation"])
def test_every_estimate_and_ci_of_the_tables_is_in_the_report(run, name):
    raw = pd.read_csv(run["full"] / "tables" / f"{name}.tsv", sep="\t", dtype=str,
                      keep_default_na=False)
    values = parse(run["html"]).values
    assert len(raw) > 10
    # rows of both designs: the plan's main design shown first, the other beside it
    assert set(raw["clustering"]) == {"none", "peer_worker"}
    for i, row in raw.iterrows():
        not_estimable = row.get("status") == "not estimable"
        for col in ("estimate", "ci_low", "ci_high", "p_value", "n"):
            if col in ("ci_low", "ci_high") and _na(row["ci_low"]) and _na(row["ci_high"]) \
                    and (not _na(row["estimate"]) or not_estimable):
                continue  # e.g. a chi-squared test statistic: no CI to show
            if col == "estimate" and not_estimable:
                # a proportion mediated that is not meaningful says so, with the reason
                shown = row["reason"] if row.get("reason") == NOT_MEANINGFUL else "not estimable"
                assert [t for _, t in values[(name, i, col)]] == [shown] * len(
                    values[(name, i, col)]), f"{name}.tsv row {i + 2}"
                continue
            key = (name, i, col)
            if col == "n" or (col == "p_value" and _na(row[col])):
                if key not in values:  # shown where it belongs, not required everywhere
                    continue
            assert key in values, f"{name}.tsv row {i + 2} column {col} not in the report"
            for attrs, text in values[key]:
                if col == "n":
                    assert text == str(int(float(row[col])))
                else:
                    check_shown(row[col], attrs, text, col)


def test_report_numbers_are_what_a_reader_expects(run):
    html = run["html"]
    surv = pd.read_csv(run["full"] / "tables" / "survival.tsv", sep="\t")
    rd = surv.loc[(surv.analysis == "primary") & (surv.estimate_type == "risk_difference")].iloc[0]
    text = f"{100 * rd.estimate:.1f} ({100 * rd.ci_low:.1f} to {100 * rd.ci_high:.1f})"
    flat = re.sub(r"<[^>]+>", "", html).replace("\u2212", "-")
    assert text in flat
    hr = surv.loc[(surv.analysis == "community_tenure") & (surv.estimate_type == "hazard_ratio")].iloc[0]
    assert f"{hr.estimate:.2f} ({hr.ci_low:.2f} to {hr.ci_high:.2f})" in flat
    q = pd.read_csv(run["full"] / "tables" / "questionnaires.tsv", sep="\t")
    w = q.loc[(q.paramcd == "WEMWBS") & (q.avisit == "month_12")].iloc[0]
    assert f"{w.estimate:.2f} ({w.ci_low:.2f} to {w.ci_high:.2f})" in flat


def test_sections_are_in_consort_order(run):
    html = run["html"]
    order = ["flow", "baseline", "primary", "tenure", "competing", "questionnaires",
             "missing", "mediation", "engagement", "forest", "validation", "scoring", "methods"]
    pos = [html.index(f'<section id="{s}"') for s in order]
    assert pos == sorted(pos)
    for text in ("Table 1", "Randomised (intention to treat)", "Questionnaires returned",
                 "Missing", "Median (IQR)", "Mean (SD)", "Kaplan–Meier", "RMST difference",
                 "Cumulative incidence", "Rate ratio", "Andersen", "Row accounting",
                 "Scoring rules to verify", "UNVERIFIED", "PROJECT DEFAULT", "Estimand",
                 "Subdistribution hazard ratio (Fine–Gray)", "s test of the cumulative"):
        assert text in html, text
    # the competing-risks block opens with its cumulative-incidence figure (Gray's test)
    block = html[html.index('id="block-competing_risks"'):]
    block = block[:block.index('<div class="block"')]
    assert "<figure>" in block and "Aalen–Johansen cumulative incidence" in block


def test_flow_diagram_and_table_1_counts(run):
    adsl = pd.read_parquet(run["full"] / "derived" / "adsl.parquet")
    html = run["html"]
    flow = html[html.index('<section id="flow"'):html.index('<section id="baseline"')]
    assert "<svg" in flow and "<rect" in flow and "<line" in flow and "<text" in flow
    assert "<image" not in flow and "<img" not in flow  # drawn, not a picture of text
    for arm in ("peer_support", "usual_care"):
        d = adsl.loc[adsl.ARM == arm]
        assert f"withdrew from follow-up: {int(d.WDDT.notna().sum())}</text>" in flow
        assert f"died: {int(d.DTHDT.notna().sum())}</text>" in flow
    adqs = pd.read_parquet(run["full"] / "derived" / "adqs.parquet")
    m12 = adqs.loc[(adqs.AVISIT == "month_12") & (adqs.ARM == "peer_support"), "USUBJID"].nunique()
    assert f"month 12: {m12} (" in flow
    base = html[html.index('<section id="baseline"'):html.index('<section id="primary"')]
    n = {a: int((adsl.ARM == a).sum()) for a in ("peer_support", "usual_care")}
    assert f"Peer support (n = {n['peer_support']})" in base
    assert f"Total (n = {len(adsl)})" in base
    fem = int((adsl.SEX == "female").sum())
    assert f"{fem} ({100 * fem / len(adsl):.1f}%)" in base
    age = adsl.AGE.astype(float)
    assert f"{age.mean():.1f} ({age.std():.1f})" in base
    # a "Missing" line under each variable and baseline score with something missing only
    itt = adsl.loc[adsl.ITTFL == "Y"]
    blank = [bool((itt[c].isna() | (itt[c].astype(str).str.strip() == "")).any())
             for c in ("AGE", "SEX", "DIAGGR", "PRIORADM", "SITEID")]
    blank.append(bool((~itt.DETINDFL.isin(["Y", "N"])).any()))
    adqs_base = adqs.loc[(adqs.AVISIT == "baseline") & adqs.AVAL.notna()]
    for pc in PRIMARY_SCORE_ORDER:
        if pc in set(adqs.PARAMCD):
            blank.append(not set(itt.USUBJID) <= set(adqs_base.loc[adqs_base.PARAMCD == pc,
                                                                   "USUBJID"]))
    assert base.count(">Missing<") == sum(blank) > 0
    assert 'Missing</td><td class="num">0 (0.0%)</td><td class="num">0 (0.0%)' not in base


def test_mediation_section_from_the_tables(run):
    html = run["html"]
    sec = html[html.index('<section id="mediation"'):html.index('<section id="forest"')]
    assert "not run in this plan" not in sec
    for key, name in (("M1", "Trusting relationship"), ("M2", "Role-modelling recovery"),
                      ("M3", "Engagement")):
        assert f"{key} {name}</text>" in sec  # a box of the change-model diagram
    med = pd.read_csv(run["full"] / "tables" / "mediation.tsv", sep="\t")
    groups = med.groupby(["outcome", "estimate_type"]).ngroups
    assert groups >= 3 and sec.count('aria-label="Change model') == groups
    for effect in ("Indirect (ACME)", "Direct (ADE)", "Total", "Proportion mediated",
                   "All mechanisms jointly", "HHI + GSE + ISMI-10 (jointly)"):
        assert effect in sec, effect
    # the sensitivity analysis: one row per outcome and mediator, even when the stage lists
    # a mediator's grid more than once
    sens = pd.read_csv(run["full"] / "tables" / "mediation_sensitivity.tsv", sep="\t")
    table = sec[re.search(r"<caption>Table \d+\. Sensitivity analysis", sec).start():]
    table = table[:table.index("</table>")]
    for m in sens.mediator.unique():
        assert table.count(f"<td>{mediator_words(m)}</td>") == \
            sens.loc[sens.mediator == m, "outcome"].nunique()
    assert "\u03c1" in sec
    assert f"{N_BOOT} replicates, seed 20261122" in sec
    # the interventional effects beside the natural ones, with why (one table per outcome
    # and scale that has them: not the Weibull median)
    iv = med.loc[med["effect"].str.startswith("interventional_")]
    assert len(re.findall(r"<caption>Table \d+\. Interventional effects", sec)) == iv.groupby(
        ["outcome", "estimate_type"]).ngroups >= 3
    assert "Interventional indirect (IIE)" in sec and "not identified" in sec
    assert "engagement with peer support" in sec
    # what rho and the E-values mean, in words; the binary outcome's probit grid; the
    # E-values of the main design's rows, as in mediation.tsv
    assert 'id="mediation-rho"' in sec and "What &rho; means" in sec
    assert "refitted as a probit model" in sec
    assert (sens.loc[sens.outcome == "readmit_12m", "outcome_model"]
            == "probit (sensitivity analysis only)").all()
    assert "What an E-value means" in sec
    ev = sec[sec.index('id="mediation-evalues"'):]
    ev = ev[:ev.index("</table>")]

    def shown(design):  # the E-value table shows the rows of the plan's main design
        rows = med.loc[(med.clustering == design) & (med.effect == "acme_average")
                       & med.evalue.notna()]
        return len(rows) > 0 and ev.count("<tr><td>") == len(rows) and all(
            f"{r.evalue:.2f} (CI: {r.evalue_ci:.2f})" in ev for _, r in rows.iterrows())

    assert shown("none") or shown("peer_worker")
    # the effects under control and treatment in the appendix, one row per mediator (set)
    app = html[html.index('<section id="appendix"'):]
    assert app.count('<tr class="lvl">') == med.groupby(["outcome", "estimate_type",
                                                          "mediator"]).ngroups


def test_absent_mediation_and_provenance_are_announced(run):
    html = run["bare_html"]
    assert 'id="mediation-not-run"' in html and "not run in this plan" in html
    assert 'id="provenance-absent"' in html and "provenance.json is absent" in html
    assert 'id="appendix"' not in html
    full = run["html"]
    assert "provenance-absent" not in full
    assert "2030-01-02T03:04:05+00:00" in full
    rec = json.loads((run["full"] / "provenance.json").read_text())
    for path, v in rec["inputs"].items():
        assert path in full and v["sha256"] in full
    assert rec["plan_sha256"] in full
    assert f"numpy</td><td>{rec['packages']['numpy']}" in full
    assert "differs from the plan.json" not in full


def test_no_participant_identifiers_or_dates_in_the_report(run):
    ids, dates = set(), set()
    p = pd.read_csv(DATA / "participants.csv", dtype=str, keep_default_na=False)
    a = pd.read_csv(DATA / "admissions.csv", dtype=str, keep_default_na=False)
    c = pd.read_csv(DATA / "peer_contacts.csv", dtype=str, keep_default_na=False)
    q = pd.read_csv(DATA / "questionnaires.csv", dtype=str, keep_default_na=False,
                    usecols=["participant_id", "completion_date"])
    ids |= set(p.participant_id) | set(a.admission_id) | set(c.peer_worker_id)
    for frame, cols in ((p, ("randomisation_date", "index_discharge_date", "withdrawal_date",
                             "death_date")),
                        (a, ("admission_date", "discharge_date")), (c, ("contact_date",)),
                        (q, ("completion_date",))):
        for col in cols:
            dates |= set(frame[col])
    ids.discard("")
    dates.discard("")
    assert len(ids) > 1900 and len(dates) > 500
    for html in (run["html"], run["bare_html"]):
        found_ids = sorted(x for x in ids if x in html)
        found_dates = sorted(x for x in dates if x in html)
        assert not found_ids, found_ids[:10]
        assert not found_dates, found_dates[:10]
        assert "USUBJID" not in html and "participant_id" not in html


def test_privacy_guard_refuses_a_leaking_report(run):
    from outcomes.report import PrivacyError, check_privacy, load_inputs

    inp = load_inputs(run["full"])
    pid = str(inp.adsl.USUBJID.iloc[0])
    day = str(inp.adsl.RANDDT.iloc[0])
    check_privacy("<p>only aggregates 2030-01-02</p>", inp)
    for leak in (f"<td>{pid}</td>", f"<td>{day}</td>"):
        with pytest.raises(PrivacyError, match="participant-level"):
            check_privacy(leak, inp)


def test_self_contained_with_unique_ids(run):
    html = run["html"]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "@import" not in html and "@font-face" not in html and "url(http" not in html
    assert "<script" not in html and "<link" not in html and "<img" not in html
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    ids = parse(html).ids
    dup = sorted({i for i in ids if ids.count(i) > 1})
    assert not dup, dup[:10]
    refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', html))
    assert refs <= set(ids), sorted(refs - set(ids))[:5]
    assert html.count("<svg") >= 9  # flow, 2 KM, change-model diagrams, forests, curves


def test_report_is_deterministic_and_does_not_recompute(run, tmp_path):
    out = tmp_path / "again.html"
    res = subprocess.run([sys.executable, "-m", "outcomes", "report", "--results",
                          str(run["full"]), "--out", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert out.read_text(encoding="utf-8") == run["html"]
    # rendering reads the tables: a changed estimate changes the report and nothing else
    alt = tmp_path / "results"
    shutil.copytree(run["full"], alt, ignore=shutil.ignore_patterns("report"))
    tab = pd.read_csv(alt / "tables" / "survival.tsv", sep="\t", dtype=str, keep_default_na=False)
    i = tab.index[(tab.analysis == "community_tenure") & (tab.estimate_type == "hazard_ratio")][0]
    tab.loc[i, "estimate"] = "0.7012345678"
    tab.to_csv(alt / "tables" / "survival.tsv", sep="\t", index=False)
    _cli("report", "--results", str(alt))
    values = parse((alt / "report" / "index.html").read_text(encoding="utf-8")).values
    assert [t for _, t in values[("survival", int(i), "estimate")]] == ["0.70"]


def test_not_estimable_rows_show_their_reason_and_leave_the_forest_plot(run, tmp_path):
    alt = tmp_path / "results"
    shutil.copytree(run["bare"], alt, ignore=shutil.ignore_patterns("report"))
    reasons = {}
    # rows of the plan's main design (peer_worker): those are the forest plot's
    for name, pick in (("survival", lambda t: (t.analysis == "community_tenure")
                        & (t.estimate_type == "hazard_ratio") & (t.clustering == "peer_worker")),
                       ("questionnaires", lambda t: (t.outcome == "WEMWBS month_12")
                        & (t.clustering == "peer_worker"))):
        path = alt / "tables" / f"{name}.tsv"
        tab = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        i = int(tab.index[pick(tab)][0])
        for col in ("estimate", "ci_low", "ci_high", "p_value"):
            tab.loc[i, col] = "NA"
        reasons[name] = (i, f"made up for the test: {name} <not estimable>")
        tab.loc[i, ["status", "reason"]] = ["not estimable", reasons[name][1]]
        tab.to_csv(path, sep="\t", index=False)
    _cli("report", "--results", str(alt))
    html = (alt / "report" / "index.html").read_text(encoding="utf-8")
    values = parse(html).values
    for name, (i, reason) in reasons.items():
        shown = [t for _, t in values[(name, i, "estimate")]]  # an MI row: also in section 7
        assert shown == ["not estimable"] * len(shown) and shown
        assert (name, i, "ci_low") not in values
        escaped = reason.replace("<", "&lt;").replace(">", "&gt;")
        assert f'<span class="reason">({escaped})</span>' in html
    listed = html[html.index('id="forest-not-estimable"'):]
    listed = listed[:listed.index("</ul>")]
    assert "Community tenure: hazard ratio (Cox): made up for the test: survival" in listed
    assert "WEMWBS total score, month 12: made up for the test: questionnaires" in listed
    assert 'id="forest-not-estimable"' not in run["bare_html"]


def test_validation_section_says_who_explained_which_findings_and_when(run, tmp_path):
    alt = tmp_path / "results"
    shutil.copytree(run["bare"], alt, ignore=shutil.ignore_patterns("report"))
    day = str(pd.read_parquet(alt / "derived" / "adsl.parquet").RANDDT.iloc[0])[:10]  # also a participant's
    pd.DataFrame([["PAR-017", "error", "participants", "J. Data Manager", day, "3"],
                  ["XTB-002", "error", "questionnaires", "", "", "2"]],
                 columns=["rule_id", "severity", "table", "explained_by", "explained_on", "count"]
                 ).to_csv(alt / "validation" / "issues_explained.tsv", sep="\t", index=False)
    _cli("report", "--results", str(alt))
    html = (alt / "report" / "index.html").read_text(encoding="utf-8")
    table = html[html.index('id="validation-explained"'):]
    rows = [re.sub(r"<[^>]+>", "|", r).strip("|").replace("||", "|")
            for r in re.findall(r"<tr>(.*?)</tr>", table[:table.index("</table>")])]
    assert rows[1:] == [f"PAR-017|error|participants|J. Data Manager|{day}|3",
                        "XTB-002|error|questionnaires|not recorded|not recorded|2"]
    assert 'id="validation-explained"' not in run["bare_html"]  # nothing explained
    # validation outputs of an earlier version: the explained count, and that who/when is unknown
    (alt / "validation" / "issues_explained.tsv").unlink()
    summary = pd.read_csv(alt / "validation" / "issues_summary.tsv", sep="\t", dtype=str, keep_default_na=False)
    summary.loc[0, "explained"] = "1"
    summary.to_csv(alt / "validation" / "issues_summary.tsv", sep="\t", index=False)
    _cli("report", "--results", str(alt))
    html = (alt / "report" / "index.html").read_text(encoding="utf-8")
    assert "Who accepted the 1 explained findings, and when, is not recorded" in html


def test_missing_inputs_are_one_line_errors(tmp_path, capsys):
    assert cli.main(["report", "--results", str(tmp_path / "nowhere")]) == 2
    assert "results directory not found" in capsys.readouterr().err
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "plan.json").write_text("{}")
    assert cli.main(["report", "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "adsl.parquet: not found" in err


# ----------------------------------------------------------------------------- browser


def chrome(tmp: Path, width: int = 1280, height: int = 900):
    """Headless Chromium of the Debian packages driven by selenium.

    Skipped only when the browser itself (/usr/bin/chromium) is absent and the
    environment variable CI is unset; in CI a missing browser fails, and a browser without
    its driver or without selenium fails everywhere (half an installation is a mistake).
    """
    hint = "scripts/browser-test-deps.sh (apt-get install chromium chromium-driver)"
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI: {CHROMIUM} is missing; install it with {hint}")
        pytest.skip(f"{CHROMIUM} not installed (and CI unset): install it with {hint}")
    if not CHROMEDRIVER.exists():
        pytest.fail(f"{CHROMIUM} is installed but {CHROMEDRIVER} is not: {hint}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[dev]'")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-extensions",
                "--hide-scrollbars", f"--window-size={width},{height}",
                f"--user-data-dir={tempfile.mkdtemp(dir=tmp)}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(options=opts, service=Service(str(CHROMEDRIVER)))


def requested_urls(driver, page: str) -> list[str]:
    """URLs of every request made by the document ``page`` (DevTools Network events; the
    browser's own start-up page is left out)."""
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent" and \
                msg["params"].get("documentURL") == page:
            urls.append(msg["params"]["request"]["url"])
    return urls


def console_problems(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def full_page_screenshot(driver, path: Path, width: int = 1280) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, height + 200)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, height)
    assert driver.save_screenshot(str(path))


def test_browser_tests_skip_only_without_chromium_outside_ci(monkeypatch, tmp_path):
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        chrome(tmp_path)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI: .* is missing"):
        chrome(tmp_path)
    monkeypatch.delenv("CI")
    fake = tmp_path / "chromium"
    fake.write_text("")
    monkeypatch.setattr(module, "CHROMIUM", fake)
    monkeypatch.setattr(module, "CHROMEDRIVER", tmp_path / "no-driver")
    with pytest.raises(pytest.fail.Exception, match="is not"):
        chrome(tmp_path)


def test_report_in_a_real_browser(run, tmp_path):
    driver = chrome(tmp_path, 1366, 768)  # a laptop screen
    try:
        page = (run["full"] / "report" / "index.html").resolve()
        driver.get(page.as_uri())
        assert driver.execute_script("return document.readyState") == "complete"
        boxes = driver.execute_script(
            "return Array.from(document.querySelectorAll('svg, img')).map(function (e) {"
            " var r = e.getBoundingClientRect();"
            " return [e.tagName, e.getAttribute('aria-label'), r.width, r.height]; })")
        assert len(boxes) >= 8
        empty = [b for b in boxes if not (b[2] > 50 and b[3] > 50)]
        assert not empty, empty
        # readable on a laptop: nothing wider than the window
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth")
        assert driver.execute_script(
            "return performance.getEntriesByType('resource').length") == 0
        urls = requested_urls(driver, page.as_uri())
        assert urls == [page.as_uri()], urls  # the page itself and nothing else
        assert console_problems(driver) == []
        # print: sections start on a new page, tables and figures are not cut
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        styles = driver.execute_script(
            "var s = Array.from(document.querySelectorAll('section:not(.first)'));"
            "var t = Array.from(document.querySelectorAll('table:not(.long), figure'));"
            "return [s.map(e => getComputedStyle(e).breakBefore),"
            " t.map(e => getComputedStyle(e).breakInside),"
            " Array.from(document.querySelectorAll('tr')).map(e => getComputedStyle(e).breakInside)];")
        assert set(styles[0]) == {"page"} and set(styles[1]) == {"avoid"}
        assert set(styles[2]) == {"avoid"}
        # printed on A4 (186 mm = 703 CSS px between the margins) nothing is cut at the right
        driver.set_window_size(703, 900)
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"), \
            driver.execute_script("return Array.from(document.querySelectorAll('table, svg'))"
                                  ".filter(e => e.getBoundingClientRect().right > innerWidth + 1)"
                                  ".map(e => e.outerHTML.slice(0, 80))")
        pdf = driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": True,
                                                        "preferCSSPageSize": True})
        import base64

        data = base64.b64decode(pdf["data"])
        assert data.startswith(b"%PDF") and len(data) > 50_000
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "report.pdf").write_bytes(data)
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "screen"})
        # the first screen at laptop size: the whole page, section by section, at desktop
        # width and in print is tests/test_report_export.py's (a screenshot of the whole
        # page at once, 64,000 px high, took 85 of this test's 92 s; decisions RG6)
        driver.set_window_size(1366, 768)
        driver.execute_script("window.scrollTo(0, 0)")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(ARTIFACTS / "screenshot.png"))
        assert console_problems(driver) == []
        # control: the same checks see a request that leaves the file (port 9: refused)
        probe = tmp_path / "probe.html"
        probe.write_text('<!DOCTYPE html><img src="http://127.0.0.1:9/x.png" alt="">')
        driver.get(probe.as_uri())
        assert "http://127.0.0.1:9/x.png" in requested_urls(driver, probe.as_uri())
        from PIL import Image

        shot = Image.open(ARTIFACTS / "screenshot.png").convert("L")
        assert shot.size[0] >= 1280 and shot.getextrema()[0] < 100  # not blank: text on it
    finally:
        driver.quit()


