#!/usr/bin/env python
"""Open a rendered trial report in headless Chromium and check its layout, section by section.

    python scripts/report_screenshots.py [results/report/index.html] [--save [DIR]]

At desktop width (1366 px, screen media) and in print preview (print media emulated through
the DevTools protocol, ``Emulation.setEmulatedMedia``, at the width of the A4 page's
printable area, 186 mm = 703 px), every ``<section>`` of the report must be displayed with
a size, and:

- desktop: the page does not scroll sideways (no element wider than the window), and no
  table caption runs past the window (a caption of a table in a sideways-scrolling box
  wraps at the window's width);
- print: no figure, and no table, is wider than the printable width.

Each problem is one line on stderr and the exit status is 1 (0 when there is none).
With ``--save`` a PNG of every section in both modes is written to DIR (default: a
``screenshots/`` directory beside the report): ``desktop_<section>.png`` and
``print_<section>.png``. The pipeline never runs this (docs/report.md, "Screenshots").

Needs the Debian packages ``chromium`` and ``chromium-driver`` (scripts/browser-test-deps.sh)
and selenium (the ``dev`` extra of pyproject.toml).
"""

from __future__ import annotations

import argparse
import base64
import io
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: Desktop width of the checks (the report is designed for 1366 px and up).
DESKTOP_WIDTH = 1366
#: Printable width of an A4 page with the report's @page margins (210 - 2 x 12 mm) in CSS px.
PRINT_WIDTH = round((210 - 2 * 12) / 25.4 * 96)
HEIGHT = 900

_SECTIONS = """
return Array.from(document.querySelectorAll('section')).map(s => {
  const r = s.getBoundingClientRect(), st = getComputedStyle(s);
  return {id: s.id || '', width: r.width, height: r.height,
          shown: st.display !== 'none' && st.visibility !== 'hidden' && r.width > 0 && r.height > 0,
          heading: (s.querySelector('h2') || {}).textContent || ''};
});
"""
#: Where each section is on the page (document coordinates), for its screenshot.
_RECTS = """
return Array.from(document.querySelectorAll('section')).map(s => {
  const r = s.getBoundingClientRect();
  return {id: s.id || '', x: r.left + window.scrollX, y: r.top + window.scrollY,
          width: r.width, height: r.height};
});
"""
_PAGE = """
const d = document.documentElement;
return {scroll: d.scrollWidth, client: d.clientWidth, inner: window.innerWidth};
"""
#: Elements whose right edge passes the page's width (those inside a horizontally
#: scrolling box are the box's business and are left out on screen, not in print).
_WIDE = """
const kind = arguments[0], limit = arguments[1], print = arguments[2];
const out = [];
for (const el of document.querySelectorAll(kind)) {
  const r = el.getBoundingClientRect();
  if (r.width === 0) continue;
  if (!print && el.closest('.scroll')) continue;
  if (r.right > limit + 0.5 || r.left < -0.5) {
    const fig = el.closest('figure'), tab = el.closest('table');
    const cap = fig ? fig.querySelector('figcaption') : (tab ? tab.querySelector('caption') : null);
    out.push({what: (cap ? cap.textContent : el.tagName).trim().slice(0, 70),
              section: (el.closest('section') || {}).id || '', left: r.left, right: r.right});
  }
}
return out;
"""

#: Table captions whose right edge passes the window (also those of a table in a
#: sideways-scrolling box: its caption is read without scrolling).
_WIDE_CAPTIONS = """
const limit = arguments[0], out = [];
for (const c of document.querySelectorAll('caption')) {
  const r = c.getBoundingClientRect();
  if (r.width > 0 && r.right > limit + 0.5)
    out.push({what: c.textContent.trim().slice(0, 70),
              section: (c.closest('section') || {}).id || '', right: r.right});
}
return out;
"""


@dataclass
class Outcome:
    problems: list[str] = field(default_factory=list)
    sections: dict[str, list[str]] = field(default_factory=dict)  # mode -> section ids seen
    saved: list[Path] = field(default_factory=list)


def start_chromium(width: int = DESKTOP_WIDTH, height: int = HEIGHT, profile: str | None = None):
    """Headless Chromium (Debian's packages) driven by selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-extensions",
                "--hide-scrollbars", "--force-device-scale-factor=1",
                f"--window-size={width},{height}",
                f"--user-data-dir={profile or tempfile.mkdtemp(prefix='report-shots-')}"):
        opts.add_argument(arg)
    return webdriver.Chrome(options=opts, service=Service(str(CHROMEDRIVER)))


def _viewport(driver, width: int) -> None:
    """Make the layout viewport exactly ``width`` CSS px wide (the window adds its frame)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": HEIGHT, "deviceScaleFactor": 1,
                            "mobile": False})


def _section_png(driver, rect: dict, scale: float, max_height: float | None) -> bytes:
    """A PNG of the page region ``rect`` (document CSS px; its top ``max_height`` px), in
    window-high tiles: scrolled into view and captured one by one (capturing beyond the
    viewport lays the whole page out again for every capture, seconds each), then joined."""
    from PIL import Image

    height = rect["height"] if max_height is None else min(rect["height"], max_height)
    tiles, y = [], rect["y"]
    while y < rect["y"] + height - 0.5:
        h = min(HEIGHT, rect["y"] + height - y)
        driver.execute_script("window.scrollTo(0, arguments[0])", y)
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "clip": {"x": rect["x"], "y": y, "width": rect["width"],
                                      "height": h, "scale": scale}})
        tiles.append(Image.open(io.BytesIO(base64.b64decode(shot["data"]))))
        y += h
    if not tiles:
        return b""
    page = Image.new("RGB", (tiles[0].width, sum(t.height for t in tiles)), "white")
    top = 0
    for t in tiles:
        page.paste(t, (0, top))
        top += t.height
    buf = io.BytesIO()
    page.save(buf, format="PNG")
    return buf.getvalue()


def check_report(driver, html: Path, save: Path | None = None, scale: float = 1.0,
                 max_height: float | None = None) -> Outcome:
    """Load ``html`` in ``driver`` and check it at desktop width and in print preview;
    with ``save``, a PNG of every section in both modes there (``scale`` x CSS px; the
    whole section, or its top ``max_height`` CSS px)."""
    out = Outcome()
    driver.get(html.resolve().as_uri())
    for mode, width, media in (("desktop", DESKTOP_WIDTH, "screen"),
                               ("print", PRINT_WIDTH, "print")):
        _viewport(driver, width)
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": media})
        sections = driver.execute_script(_SECTIONS)
        if not sections:
            out.problems.append(f"{mode}: no <section> in the report")
        out.sections[mode] = [s["id"] for s in sections]
        for s in sections:
            if not s["shown"]:
                out.problems.append(f"{mode}: section {s['id'] or s['heading']!r} not displayed")
        if mode == "desktop":
            page = driver.execute_script(_PAGE)
            if page["scroll"] > page["client"] + 1:
                out.problems.append(f"desktop: the page is {page['scroll']} px wide in a "
                                    f"{page['client']} px window (scrolls sideways)")
            kinds = ("figure svg", "table", "pre", "img")
            for w in driver.execute_script(_WIDE_CAPTIONS, width):
                out.problems.append(
                    f"desktop: caption in section {w['section']!r} ({w['what']!r}) ends at "
                    f"{w['right']:.0f} px, past the {width} px window")
        else:
            kinds = ("figure svg", "table")
        for kind in kinds:
            for w in driver.execute_script(_WIDE, kind, width, mode == "print"):
                out.problems.append(
                    f"{mode}: {kind.split()[-1]} in section {w['section']!r} ({w['what']!r}) spans "
                    f"{w['left']:.0f} to {w['right']:.0f} px, wider than the {width} px "
                    f"{'page' if mode == 'print' else 'window'}")
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            for k, rect in enumerate(driver.execute_script(_RECTS)):
                path = save / f"{mode}_{rect['id'] or f'section_{k + 1}'}.png"
                path.write_bytes(_section_png(driver, rect, scale, max_height))
                out.saved.append(path)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", nargs="?", default="results/report/index.html",
                    help="the rendered report (default: results/report/index.html)")
    ap.add_argument("--save", nargs="?", const="", default=None, metavar="DIR",
                    help="write a PNG of every section in both modes to DIR "
                         "(default: screenshots/ beside the report)")
    args = ap.parse_args(argv)
    html = Path(args.html)
    if not html.is_file():
        print(f"report_screenshots: {html}: not found", file=sys.stderr)
        return 2
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        print(f"report_screenshots: {CHROMIUM} or {CHROMEDRIVER} missing: "
              "bash scripts/browser-test-deps.sh", file=sys.stderr)
        return 2
    save = None if args.save is None else Path(args.save or html.parent / "screenshots")
    driver = start_chromium()
    try:
        out = check_report(driver, html, save)
    finally:
        driver.quit()
    for mode, ids in out.sections.items():
        print(f"{mode}: {len(ids)} sections: {' '.join(ids)}")
    if out.saved:
        print(f"wrote {len(out.saved)} screenshots to {save}")
    for p in out.problems:
        print(p, file=sys.stderr)
    return 1 if out.problems else 0


if __name__ == "__main__":
    sys.exit(main())
