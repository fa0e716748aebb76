"""The report's tables and figures as files (outcomes.report.export) and the report in
headless Chromium at desktop width and in print preview (scripts/report_screenshots.py),
on the shared bundled run's report (``bundled_run``; no run of its own)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import re
import sys
from pathlib import Path

import docx
import lxml.html
import pandas as pd
import pytest
from PIL import Image
from test_report import chrome

from outcomes.report import export
from outcomes.report.export import (
    CONTENTS,
    DOCX,
    PNG_DPI,
    number_captions,
    read_figures,
    read_tables,
    svg_to_png,
    write_exports,
)

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location(
        "report_screenshots", ROOT / "scripts" / "report_screenshots.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report(bundled_run):
    assert bundled_run.process.returncode == 0, bundled_run.process.stderr[-2000:]
    out = bundled_run.work / "results" / "report"
    return out, (out / "index.html").read_text(encoding="utf-8")


def test_number_captions_numbers_in_document_order_and_is_idempotent():
    html = ("<table><caption>Table 7. A</caption></table><figure><svg/><figcaption>B"
            "</figcaption></figure><table><caption>C</caption></table>"
            "<figure><svg/><figcaption>Figure 3. D</figcaption></figure>")
    got = number_captions(html)
    assert re.findall(r"<(?:fig)?caption>([^<]*)<", got) == [
        "Table 1. A", "Figure 1. B", "Table 2. C", "Figure 2. D"]
    assert number_captions(got) == got


def test_read_tables_repeats_spanning_cells_and_keeps_lines():
    html = number_captions(
        "<h2>1. S</h2><table><caption>T</caption><thead><tr><th>a</th><th>b</th><th>c</th>"
        "</tr></thead><tbody><tr><td rowspan='2'>x<br><span>sub</span></td><td>1</td>"
        "<td>=2</td></tr><tr><td>3</td><td>4</td></tr></tbody></table>")
    (t,) = read_tables(html)
    assert (t.number, t.title, t.section, t.slug) == (1, "T", "1. S", "table_01_t")
    assert [[c.lines for c in r] for r in t.body] == [[["x", "sub"], ["1"], ["=2"]],
                                                      [["x", "sub"], ["3"], ["4"]]]
    assert [c.origin for c in t.body[1]] == [False, True, True]
    f = t.frame()
    assert list(f.columns) == ["a", "b", "c"] and f.iloc[1, 0] == "x; sub"


def test_every_table_and_figure_of_the_report_is_exported_with_its_number(report):
    out, html = report
    root = lxml.html.fromstring(html)
    captions = [" ".join(c.text_content().split()) for c in root.iter("caption")]
    figcaps = [" ".join(c.text_content().split()) for c in root.iter("figcaption")]
    # the page is numbered 1..N in document order, tables and figures separately
    assert [int(re.match(r"Table (\d+)\. ", c).group(1)) for c in captions] == \
        list(range(1, len(captions) + 1))
    assert [int(re.match(r"Figure (\d+)\. ", c).group(1)) for c in figcaps] == \
        list(range(1, len(figcaps) + 1))
    assert len(captions) > 30 and len(figcaps) > 8
    contents = pd.read_csv(out / CONTENTS, sep="\t", dtype=str, keep_default_na=False)
    tables = contents[contents["kind"] == "table"]
    assert [f"Table {n}. {t}" for n, t in zip(tables["number"], tables["title"], strict=True)] \
        == captions
    figures = contents[contents["kind"] == "figure"]
    assert [f"Figure {n}. {t}" for n, t in zip(figures["number"], figures["title"], strict=True)] \
        == figcaps
    assert "CONSORT flow" in figures["title"].iloc[0]
    # CSV: one row per body row of the HTML table, the report's text in the cells
    html_tables = [t for t in root.iter("table") if t.find("caption") is not None]
    for (_, row), el in zip(tables.iterrows(), html_tables, strict=True):
        csv = pd.read_csv(out / row["files"], dtype=str, keep_default_na=False)
        assert len(csv) == len(el.xpath("./tbody/tr")), row["files"]
        first = el.xpath("./tbody/tr")[0].xpath("./td|./th")[0].text_content()
        assert re.sub(r"\s|; ", "", csv.iloc[0, 0].lstrip("'")) == re.sub(r"\s", "", first), \
            row["files"]
    # Word: a caption paragraph per table, then the table with the same rows
    doc = docx.Document(str(out / DOCX))
    caps = [p.text for p in doc.paragraphs if p.style.name == "Caption"]
    assert caps == captions
    assert len(doc.tables) == len(captions)
    for t, el in zip(doc.tables, html_tables, strict=True):
        assert len(t.rows) == len(el.xpath("./thead/tr|./tbody/tr"))
    # figures: a standalone SVG and a PNG at PNG_DPI of its natural size
    for files in figures["files"]:
        svg, png = (out / f for f in files.split())
        text = svg.read_text(encoding="utf-8")
        assert text.startswith("<?xml") and 'xmlns="http://www.w3.org/2000/svg"' in text
        width_pt = float(re.search(r'<svg\b[^>]*\swidth="([0-9.]+)pt"', text).group(1))
        img = Image.open(png)
        assert abs(img.size[0] - width_pt / 72 * PNG_DPI) <= 2, (png.name, img.size, width_pt)
        assert round(img.info["dpi"][0]) == PNG_DPI
    # the flow diagram keeps its style sheet (its boxes are drawn by CSS classes)
    assert "<style>" in (out / figures["files"].iloc[0].split()[0]).read_text(encoding="utf-8")


def test_exports_are_the_same_bytes_from_the_same_page(report, tmp_path, monkeypatch):
    out, html = report
    prov = json.loads((out.parent / "provenance.json").read_text())
    when = dt.datetime.fromisoformat(prov["timestamp_utc"].replace("Z", "+00:00"))
    # the PNGs of the run, except the smallest figure's, which is rendered again (resvg
    # takes seconds for the large forest plots)
    pngs = {p.read_bytes(): p for p in (out / "figures").glob("*.svg")}
    smallest = min(pngs, key=len)
    monkeypatch.setattr(export, "svg_to_png", lambda svg: (
        svg_to_png(svg) if svg.encode() == smallest
        else pngs[svg.encode()].with_suffix(".png").read_bytes()))
    write_exports(html, tmp_path, when=when)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert made == sorted(p.relative_to(out) for p in out.rglob("*")  # Snakemake's marks
                          if p.is_file() and p.name != "index.html" and p.name[0] != ".")
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (out / rel).read_bytes(), rel
    assert docx.Document(io.BytesIO((out / DOCX).read_bytes())).core_properties.modified \
        == when


def test_figures_and_tables_read_back_match_the_page(report):
    _, html = report
    assert len(read_figures(html)) == html.count("<figcaption>")
    assert len(read_tables(html)) == html.count("<caption>")


def test_sections_in_headless_chromium_desktop_and_print(report, tmp_path):
    out, html = report
    shots = _script()
    ids = lxml.html.fromstring(html).xpath("//section/@id")
    driver = chrome(tmp_path, width=shots.DESKTOP_WIDTH)
    try:
        got = shots.check_report(driver, out / "index.html", save=tmp_path / "shots", scale=0.5,
                                 max_height=shots.HEIGHT)  # the first screen of each
        assert got.problems == []
        assert got.sections == {"desktop": ids, "print": ids}
        assert sorted(p.name for p in got.saved) == sorted(
            f"{m}_{i}.png" for m in ("desktop", "print") for i in ids)
        for p in got.saved:
            w, h = Image.open(p).size
            assert 10 < h <= shots.HEIGHT / 2 + 1 and w <= (
                shots.DESKTOP_WIDTH if p.name.startswith("desktop") else shots.PRINT_WIDTH) / 2 + 1, \
                (p.name, w, h)
        # the checks can fail: a figure and a table wider than the page, a page wider than
        # the window
        wide = (html.replace('class="figure-svg"', 'class="figure-svg" style="min-width:2000px"', 1)
                .replace("<table", '<table style="min-width:2000px"', 1)
                .replace("<body>", '<body><div style="width:2000px;height:1px"></div>', 1))
        (tmp_path / "wide.html").write_text(wide, encoding="utf-8")
        bad = shots.check_report(driver, tmp_path / "wide.html")
        # a table in a sideways-scrolling box whose caption is not held to the window
        # (the report's rule for such captions taken out)
        assert ".scroll caption {" in html
        loose = html.replace(".scroll caption {", ".scroll caption-off {").replace(
            '<div class="scroll">\n<table', '<div class="scroll">\n<table style="min-width:2000px"', 1)
        (tmp_path / "loose.html").write_text(loose, encoding="utf-8")
        captions = shots.check_report(driver, tmp_path / "loose.html")
    finally:
        driver.quit()
    assert [p for p in captions.problems if p.startswith("desktop: caption")], captions.problems
    assert any(p.startswith("desktop: the page is") for p in bad.problems), bad.problems
    assert any(p.startswith("print: svg") for p in bad.problems), bad.problems
    assert any(p.startswith("print: table") for p in bad.problems), bad.problems
