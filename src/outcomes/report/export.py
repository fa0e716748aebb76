"""The report's tables and figures as separate files (docs/report.md, "Export").

The rendered page is the one source: :func:`number_captions` numbers its tables ("Table N.")
and figures ("Figure N.") in document order as it is rendered, and :func:`write_exports`
reads the numbered page back, so the files carry the same numbers and titles as the HTML.
Each table becomes ``tables/table_NN_<slug>.csv`` and a table of ``report_tables.docx``;
each figure (the CONSORT flow, the change-model diagrams and every matplotlib figure)
``figures/figure_NN_<slug>.svg`` (the SVG the page shows, standalone) and ``.png`` (that
SVG rendered by resvg at :data:`PNG_DPI`); ``contents.tsv`` lists them.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html
import pandas as pd

from outcomes.atomic import atomic_directory, atomic_path
from outcomes.spreadsheet import neutralise
from outcomes.tables import write_tsv

from .svg import DIAGRAM_CSS

#: Resolution of the PNG files: pixels per inch of the figure's natural size.
PNG_DPI = 200
#: Joins the lines of a table cell (the report's line breaks) in the CSV files.
CSV_LINE_JOIN = "; "
#: File names under the report's directory.
TABLES_DIR, FIGURES_DIR, DOCX, CONTENTS = ("tables", "figures", "report_tables.docx",
                                           "contents.tsv")
#: Date and time of every member of the Word file (a ZIP archive), so that the same
#: tables give the same bytes.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

_CAPTION = re.compile(r"(<caption\b[^>]*>)\s*(?:Table \d+\.\s*)?")
_FIGCAPTION = re.compile(r"(<figcaption\b[^>]*>)\s*(?:Figure \d+\.\s*)?")
_FIGURE = re.compile(r"<figure\b[^>]*>(.*?)</figure>", re.S)
_SVG = re.compile(r"<svg\b.*</svg>", re.S)
_SVG_ROOT = re.compile(r"<svg\b[^>]*>", re.S)


def number_captions(html: str) -> str:
    """``html`` with every table caption starting "Table N." and every figure caption
    "Figure N.", numbered in document order (a number already there is replaced)."""
    def counter(word: str):
        n = iter(range(1, 10**6))
        return lambda m: f"{m.group(1)}{word} {next(n)}. "

    return _FIGCAPTION.sub(counter("Figure"), _CAPTION.sub(counter("Table"), html))


# ----------------------------------------------------------------------------- reading


@dataclass
class Cell:
    lines: list[str]
    rowspan: int = 1
    colspan: int = 1
    origin: bool = True  # False: a place covered by a spanning cell above or to the left


@dataclass
class ReportTable:
    number: int
    title: str          # the caption without "Table N."
    section: str        # the heading of the report section (h2)
    subsection: str     # the nearest h3 under it ("" if none)
    header: list[list[Cell]]
    body: list[list[Cell]]
    slug: str = ""

    @property
    def ncol(self) -> int:
        return max((len(r) for r in self.header + self.body), default=0)

    def frame(self) -> pd.DataFrame:
        """The table as text, spanning cells repeated, lines joined by :data:`CSV_LINE_JOIN`."""
        def text(row):
            return [CSV_LINE_JOIN.join(c.lines) for c in row] + [""] * (self.ncol - len(row))

        heads = [text(r) for r in self.header] or [[f"column {k + 1}" for k in range(self.ncol)]]
        columns = [" / ".join(dict.fromkeys(h[k] for h in heads if h[k])) for k in range(self.ncol)]
        return pd.DataFrame([text(r) for r in self.body], columns=columns, dtype=object)


@dataclass
class ReportFigure:
    number: int
    caption: str        # the figure caption without "Figure N."
    section: str
    svg: str            # standalone SVG document
    slug: str = ""
    files: list[str] = field(default_factory=list)


def _lines(el) -> list[str]:
    el = lxml.html.fromstring(lxml.html.tostring(el))  # a copy
    for br in el.iter("br"):
        br.tail = "\n" + (br.tail or "")
    return [" ".join(s.split()) for s in el.text_content().split("\n") if s.strip()]


def _text(el) -> str:
    return " ".join(el.text_content().split())


def _grid(rows) -> list[list[Cell]]:
    """Rows of ``<tr>`` elements as a grid, each spanning cell repeated where it spans."""
    grid: list[list[Cell | None]] = []
    for i, tr in enumerate(rows):
        while len(grid) <= i:
            grid.append([])
        row = grid[i]
        k = 0
        for td in tr.xpath("./td|./th"):
            while k < len(row) and row[k] is not None:
                k += 1
            rs, cs = int(td.get("rowspan", 1) or 1), int(td.get("colspan", 1) or 1)
            cell = Cell(_lines(td), rs, cs)
            for di in range(rs):
                while len(grid) <= i + di:
                    grid.append([])
                target = grid[i + di]
                for dk in range(cs):
                    while len(target) <= k + dk:
                        target.append(None)
                    target[k + dk] = cell if (di, dk) == (0, 0) else Cell(cell.lines, origin=False)
            k += cs
    return [[c if c is not None else Cell([]) for c in r] for r in grid[:len(rows)]]


def _strip_number(text: str, word: str) -> tuple[int, str]:
    m = re.match(rf"{word} (\d+)\.\s*(.*)", text, re.S)
    if m is None:
        raise ValueError(f"caption without its number: {text[:60]!r} (number_captions not run)")
    return int(m.group(1)), m.group(2)


def slugify(text: str, limit: int = 48) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if len(s) > limit:
        s = s[:limit].rsplit("_", 1)[0]
    return s or "untitled"


def read_tables(html: str) -> list[ReportTable]:
    """The numbered tables of a rendered report, in order, with their section headings."""
    root = lxml.html.fromstring(html)
    out: list[ReportTable] = []
    h2 = h3 = ""
    for el in root.iter("h2", "h3", "table"):
        if el.tag == "h2":
            h2, h3 = _text(el), ""
        elif el.tag == "h3":
            h3 = _text(el)
        else:
            cap = el.find("caption")
            if cap is None:
                continue
            number, title = _strip_number(_text(cap), "Table")
            head = el.xpath("./thead/tr")
            body = el.xpath("./tbody/tr") + el.xpath("./tr")
            out.append(ReportTable(number, title, h2, h3, _grid(head), _grid(body)))
    titles = pd.Series([t.title for t in out], dtype=object)
    repeated = set(titles[titles.duplicated(keep=False)])
    for t in out:  # a caption the report repeats ("By arm") is named after its subsection
        name = f"{t.subsection or t.section} {t.title}" if t.title in repeated else t.title
        t.slug = f"table_{t.number:02d}_{slugify(name)}"
    return out


def standalone_svg(inline: str) -> str:
    """An SVG file from the report's inline markup: namespace, size in points (from the
    natural width the page caps it at) and, for the diagrams, their style sheet."""
    root = _SVG_ROOT.search(inline)
    box = re.search(r'viewBox="([^"]+)"', root.group(0)) if root else None
    if root is None or box is None:
        raise ValueError("a figure of the report without an <svg viewBox=...> element")
    tag = root.group(0)
    vb = [float(x) for x in box.group(1).replace(",", " ").split()]
    mw = re.search(r"max-width:\s*([0-9.]+)px", tag)
    width_px = float(mw.group(1)) if mw else vb[2]
    height_px = width_px * vb[3] / vb[2]
    new = re.sub(r'\s(style|role|aria-label)="[^"]*"', "", tag)
    if "xmlns=" not in new:
        new = new.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    if "xlink:" in inline and "xmlns:xlink=" not in new:
        new = new.replace("<svg", '<svg xmlns:xlink="http://www.w3.org/1999/xlink"', 1)
    new = new[:-1].rstrip("/") + f' width="{width_px * 0.75:.2f}pt" height="{height_px * 0.75:.2f}pt">'
    if re.search(r'class="[^"]*\bdiagram\b', tag):
        new += f"<style>{DIAGRAM_CSS}</style>"
    body = inline[: root.start()] + new + inline[root.end():]
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body.strip() + "\n"


def read_figures(html: str) -> list[ReportFigure]:
    """The numbered figures of a rendered report (each ``<figure>`` holding an SVG)."""
    root = lxml.html.fromstring(html)
    sections, h2 = [], ""
    for el in root.iter("h2", "figure"):
        if el.tag == "h2":
            h2 = _text(el)
        else:
            cap = el.find("figcaption")
            sections.append((_text(cap) if cap is not None else "", h2))
    raw = [m.group(1) for m in _FIGURE.finditer(html)]
    if len(raw) != len(sections):
        raise ValueError(f"{len(raw)} <figure> elements found by text, {len(sections)} parsed")
    out = []
    for markup, (caption, section) in zip(raw, sections, strict=True):
        svg = _SVG.search(markup)
        if svg is None or not caption:
            continue
        number, text = _strip_number(caption, "Figure")
        first = re.split(r"(?<=[a-z)])[.:]\s", text, maxsplit=1)[0]
        out.append(ReportFigure(number, text, section, standalone_svg(svg.group(0)),
                                f"figure_{number:02d}_{slugify(first)}"))
    return out


# ----------------------------------------------------------------------------- writing


def write_csv(table: ReportTable, path: Path) -> None:
    """Table ``table`` as CSV, every cell a spreadsheet would run as a formula guarded
    (:func:`outcomes.spreadsheet.neutralise`); the header may repeat a name, as the page's."""
    frame = table.frame()
    header = [neutralise(str(c)) for c in frame.columns]
    body = pd.DataFrame([[neutralise(x) for x in row] for row in frame.itertuples(index=False)],
                        dtype=object)
    with atomic_path(path) as tmp:
        body.to_csv(tmp, index=False, header=header, lineterminator="\n", encoding="utf-8")


def svg_to_png(svg: str, dpi: int = PNG_DPI) -> bytes:
    """``svg`` (sizes in points) rendered by resvg at ``dpi`` on white, with matplotlib's
    DejaVu fonts only (the figures' own; the same pixels on every machine), the resolution
    recorded in the file (a ``pHYs`` chunk after the header)."""
    import matplotlib
    import resvg_py

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    png = resvg_py.svg_to_bytes(svg_string=svg, dpi=float(dpi), background="white",
                                skip_system_fonts=True, font_dirs=[str(fonts)],
                                font_family="DejaVu Sans", sans_serif_family="DejaVu Sans")
    return _with_dpi(png, dpi)


def _with_dpi(png: bytes, dpi: int) -> bytes:
    """``png`` with a ``pHYs`` chunk of ``dpi`` (pixels per metre) after its IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR" or b"pHYs" in png[:64]:
        raise ValueError("not a PNG with its header first, or a resolution already set")
    ppm = round(dpi / 0.0254)
    body = b"pHYs" + struct.pack(">IIB", ppm, ppm, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body))
    end = 8 + 8 + 13 + 4  # signature, IHDR's length and type, its data, its CRC
    return png[:end] + chunk + png[end:]


def _docx_bytes(tables: list[ReportTable], title: str, when: dt.datetime) -> bytes:
    import docx
    from docx.enum.section import WD_ORIENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = docx.Document()
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.LANDSCAPE
    sec.page_width, sec.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(sec, side, Cm(1.8))
    doc.styles["Normal"].font.size = Pt(9)
    props = doc.core_properties
    props.title, props.author, props.last_modified_by = title, "outcomes", "outcomes"
    props.created = props.modified = when
    props.revision = 1
    doc.add_heading(title, level=0)
    section = subsection = None
    for t in tables:
        if t.section != section:
            doc.add_heading(t.section, level=1)
            section, subsection = t.section, None
        if t.subsection and t.subsection != subsection:
            doc.add_heading(t.subsection, level=2)
            subsection = t.subsection
        doc.add_paragraph(f"Table {t.number}. {t.title}", style="Caption")
        rows = t.header + t.body
        grid = doc.add_table(rows=len(rows), cols=t.ncol)
        grid.style = "Table Grid"
        for i, row in enumerate(rows):
            cells = grid.rows[i].cells
            for k, c in enumerate(row):
                if not c.origin:
                    continue
                par = cells[k].paragraphs[0]
                for j, line in enumerate(c.lines):
                    run = par.add_run(line)
                    if i < len(t.header):
                        run.bold = True
                    if j < len(c.lines) - 1:
                        run.add_break()
            if i < len(t.header):  # repeated at the top of every page
                tr_pr = grid.rows[i]._tr.get_or_add_trPr()
                mark = OxmlElement("w:tblHeader")
                mark.set(qn("w:val"), "true")
                tr_pr.append(mark)
        for i, row in enumerate(rows):
            for k, c in enumerate(row):
                if c.origin and (c.rowspan > 1 or c.colspan > 1):
                    last = grid.cell(min(i + c.rowspan, len(rows)) - 1,
                                     min(k + c.colspan, t.ncol) - 1)
                    grid.cell(i, k).merge(last)
        doc.add_paragraph()
    buf = io.BytesIO()
    doc.save(buf)
    return _fixed_zip(buf.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The ZIP archive ``data`` with every member dated :data:`ZIP_TIME` (same bytes)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(zipfile.ZipInfo(info.filename, ZIP_TIME), src.read(info.filename),
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def write_exports(html: str, out_dir: str | Path, *, when: dt.datetime | None = None) -> Path:
    """Write the tables and figures of the rendered (numbered) report ``html`` under
    ``out_dir``: ``tables/``, ``figures/``, ``report_tables.docx`` and ``contents.tsv``.
    ``when`` dates the Word file (default 2000-01-01, so that its bytes do not change)."""
    out_dir = Path(out_dir)
    tables, figures = read_tables(html), read_figures(html)
    title_el = lxml.html.fromstring(html).find(".//title")
    title = _text(title_el) if title_el is not None else "Trial report"
    rows = []
    with atomic_directory(out_dir / TABLES_DIR) as tdir:
        for t in tables:
            write_csv(t, tdir / f"{t.slug}.csv")
            rows.append({"kind": "table", "number": t.number, "title": t.title,
                         "section": t.section, "subsection": t.subsection,
                         "files": f"{TABLES_DIR}/{t.slug}.csv"})
    with atomic_directory(out_dir / FIGURES_DIR) as fdir:
        for f in figures:
            (fdir / f"{f.slug}.svg").write_text(f.svg, encoding="utf-8")
            (fdir / f"{f.slug}.png").write_bytes(svg_to_png(f.svg))
            rows.append({"kind": "figure", "number": f.number, "title": f.caption,
                         "section": f.section, "subsection": "",
                         "files": f"{FIGURES_DIR}/{f.slug}.svg {FIGURES_DIR}/{f.slug}.png"})
    when = when or dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    with atomic_path(out_dir / DOCX) as tmp:
        tmp.write_bytes(_docx_bytes(tables, title, when.astimezone(dt.UTC).replace(tzinfo=None)))
    contents = pd.DataFrame(rows, columns=["kind", "number", "title", "section", "subsection",
                                           "files"])
    write_tsv(contents, out_dir / CONTENTS)
    return out_dir
