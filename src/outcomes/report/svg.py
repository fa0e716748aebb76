"""SVG for the report: inlining figure files, and the diagrams drawn here as boxes and arrows.

``inline_svg`` turns an SVG file into markup that can sit inside the HTML: XML prologue,
DOCTYPE and metadata removed, every ``id`` prefixed (and every reference to it rewritten) so
that several figures can share one document, fixed sizes replaced by a ``viewBox`` scaled to
the page. ``flow_diagram`` draws the CONSORT participant flow and ``mechanism_diagram`` the
change model with its indirect and direct effects; both are plain SVG text (real text, not
pictures of text), deterministic for the same numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

_PROLOGUE = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_ROOT = re.compile(r"<svg\b[^>]*>", re.S)


def inline_svg(text: str, prefix: str, *, label: str) -> str:
    """``text`` (an SVG document) as inline markup with ids prefixed by ``prefix``."""
    text = _PROLOGUE.sub("", text)
    text = _METADATA.sub("", text)
    ids = set(_ID.findall(text))
    if ids:
        alt = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
        text = re.sub(rf'\bid="({alt})"', lambda m: f'id="{prefix}-{m.group(1)}"', text)
        text = re.sub(rf'(href=")#({alt})"', lambda m: f'{m.group(1)}#{prefix}-{m.group(2)}"',
                      text)
        text = re.sub(rf"url\(#({alt})\)", lambda m: f"url(#{prefix}-{m.group(1)})", text)
    root = _ROOT.search(text)
    if root is None:
        raise ValueError(f"{prefix}: not an SVG document")
    tag = root.group(0)
    vb = re.search(r'viewBox="([^"]+)"', tag)
    width = re.search(r'\bwidth="([0-9.]+)(pt|px)?"', tag)
    new = tag
    new = re.sub(r'\s(width|height)="[^"]*"', "", new)
    if vb is None and width is not None:  # pragma: no cover - matplotlib always writes one
        raise ValueError(f"{prefix}: SVG without viewBox")
    # natural width in CSS px (1pt = 4/3 px), so that figures are not blown up on wide screens
    style = ""
    if width is not None:
        w = float(width.group(1)) * (4 / 3 if width.group(2) == "pt" else 1)
        style = f' style="max-width:{w:.0f}px"'
    new = new[:-1].rstrip("/") + f' class="figure-svg" role="img" aria-label="{escape(label)}"{style}>'
    text = text[: root.start()] + new + text[root.end():]
    return text.strip()


# ----------------------------------------------------------------------------- drawing

FONT = 13.0
LINE = 18.0
PAD = 8.0
CHAR = 7.1  # average advance of a 13 px sans-serif character (generous), for layout only


@dataclass
class Box:
    x: float
    y: float
    w: float
    lines: list[str]
    cls: str = "box"
    bold_first: bool = True

    @property
    def h(self) -> float:
        return 2 * PAD + LINE * len(self.lines)

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def svg(self) -> str:
        out = [f'<rect class="{self.cls}" x="{self.x:.1f}" y="{self.y:.1f}" width="{self.w:.1f}" '
               f'height="{self.h:.1f}" rx="4"/>']
        for k, line in enumerate(self.lines):
            y = self.y + PAD + LINE * (k + 0.5) + FONT * 0.35
            weight = ' font-weight="bold"' if (k == 0 and self.bold_first) else ""
            out.append(f'<text x="{self.x + 10:.1f}" y="{y:.1f}"{weight}>{escape(line)}</text>')
        return "\n".join(out)


def _arrow(x1, y1, x2, y2, marker: str) -> str:
    return (f'<line class="arrow" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'marker-end="url(#{marker})"/>')


def _polyline(points, marker: str | None) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    end = f' marker-end="url(#{marker})"' if marker else ""
    return f'<polyline class="arrow" fill="none" points="{pts}"{end}/>'


def _defs(marker: str) -> str:
    return (f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            '<path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>')


#: CSS of the diagrams (in the report's stylesheet: a <style> inside an inline SVG would
#: apply to the whole HTML document)
DIAGRAM_CSS = (
    "svg.diagram text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',"
    f"sans-serif;font-size:{FONT:.0f}px;fill:#1a1a1a}}"
    "svg.diagram .box{fill:#fff;stroke:#4a5a6a;stroke-width:1.2}"
    "svg.diagram .box-main{fill:#eef3f8;stroke:#2f5d8a;stroke-width:1.4}"
    "svg.diagram .box-side{fill:#fafafa;stroke:#8a8a8a;stroke-width:1;stroke-dasharray:4 3}"
    "svg.diagram .stage{fill:#2f5d8a}svg.diagram text.stage-text{fill:#fff;font-weight:bold}"
    "svg.diagram .arrow{stroke:#444;stroke-width:1.4;fill:none}"
    "svg.diagram text.effect{font-size:12px}"
)


CHAR_BOLD = 8.8


def _width(lines: list[str], bold_first: bool = True) -> float:
    """Box width for ``lines`` (the first in bold), from average character advances."""
    if not lines:
        return 20.0
    first = len(lines[0]) * (CHAR_BOLD if bold_first else CHAR)
    return max([first] + [len(s) * CHAR for s in lines[1:]]) + 22


@dataclass(frozen=True)
class ArmFlow:
    label: str
    allocation: list[str]
    followup: list[str]
    questionnaires: list[str]
    analysis: list[str]


def flow_diagram(top: list[str], excluded: list[str], randomised: list[str],
                 arms: list[ArmFlow], *, prefix: str = "flow") -> str:
    """CONSORT flow: extract -> (excluded) -> randomised -> per arm allocation, follow-up,
    questionnaires, analysis; stage labels down the left side."""
    marker = f"{prefix}-arrow"
    gutter = 138.0
    gap = 40.0
    col_w = max([360.0] + [_width(getattr(a, k)) for a in arms
                           for k in ("allocation", "followup", "questionnaires", "analysis")])
    width = gutter + 10 + len(arms) * col_w + (len(arms) - 1) * gap + 10
    parts: list[str] = []
    centre = gutter + 10 + (width - gutter - 20) / 2
    tw = max(_width(top), 300.0)
    y = 10.0
    b_top = Box(centre - tw / 2, y, tw, top, "box-main")
    side_w = max(_width(excluded), 220.0)
    side_x = min(width - side_w - 10, b_top.x + tw + 30)
    y_side = b_top.bottom + 24
    b_side = Box(side_x, y_side, side_w, excluded, "box-side", bold_first=False)
    rw = max(_width(randomised), 300.0)
    b_rand = Box(centre - rw / 2, b_side.bottom + 24, rw, randomised, "box-main")
    parts += [b_top.svg(), b_side.svg(), b_rand.svg()]
    parts.append(_arrow(centre, b_top.bottom, centre, b_rand.y, marker))
    ymid = y_side + b_side.h / 2
    parts.append(_arrow(centre, ymid, b_side.x, ymid, marker))
    stages = [("Enrolment", 10.0, b_rand.bottom)]
    # arms
    y0 = b_rand.bottom + 40
    split_y = b_rand.bottom + 18
    col_x = [gutter + 10 + k * (col_w + gap) for k in range(len(arms))]
    cxs = [x + col_w / 2 for x in col_x]
    if arms:
        parts.append(_polyline([(centre, b_rand.bottom), (centre, split_y)], None))
        parts.append(_polyline([(cxs[0], split_y), (cxs[-1], split_y)], None))
    rows = ("allocation", "followup", "questionnaires", "analysis")
    names = {"allocation": "Allocation", "followup": "Follow-up",
             "questionnaires": "Questionnaires", "analysis": "Analysis"}
    y = y0
    for key in rows:
        h = max(Box(0, 0, 1, getattr(a, key)).h for a in arms) if arms else 0
        for a, x, cx in zip(arms, col_x, cxs, strict=True):
            lines = getattr(a, key)
            box = Box(x, y, col_w, lines, "box")
            # equal heights in a row: pad with blank space
            parts.append(box.svg().replace(f'height="{box.h:.1f}"', f'height="{h:.1f}"', 1))
            prev = split_y if key == "allocation" else y - 26
            parts.append(_arrow(cx, prev, cx, y, marker))
        stages.append((names[key], y, y + h))
        y += h + 26
    height = y - 26 + 10
    for name, s0, s1 in stages:
        mid = (s0 + s1) / 2
        parts.append(f'<rect class="stage" x="2" y="{s0:.1f}" width="{gutter - 10:.1f}" '
                     f'height="{s1 - s0:.1f}" rx="3"/>')
        parts.append(f'<text class="stage-text" x="{2 + (gutter - 10) / 2:.1f}" '
                     f'y="{mid + FONT * 0.35:.1f}" text-anchor="middle">{escape(name)}</text>')
    body = "\n".join(parts)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram" viewBox="0 0 {width:.0f} '
            f'{height:.0f}" style="max-width:{width:.0f}px" role="img" '
            f'aria-label="Flow of participants (CONSORT)">{_defs(marker)}\n{body}\n</svg>')


@dataclass(frozen=True)
class Mechanism:
    title: str          # e.g. "M1 Trusting relationship"
    measures: str       # e.g. "WAI-SR"
    indirect: str       # formatted "0.30 (−0.03 to 0.77)"
    direct: str


def mechanism_diagram(exposure: list[str], outcome: list[str], mechanisms: list[Mechanism],
                      footer: str, *, prefix: str) -> str:
    """Arm -> each mechanism -> outcome, with the indirect (ACME) and direct (ADE) effect of
    each mechanism in its box, and the direct path at the bottom."""
    marker = f"{prefix}-arrow"
    mech_lines = [[m.title, m.measures, f"Indirect (ACME): {m.indirect}",
                   f"Direct (ADE): {m.direct}"] for m in mechanisms]
    mw = max([300.0] + [_width(ls) for ls in mech_lines])
    ew = max(_width(exposure), 150.0)
    ow = max(_width(outcome), 150.0)
    x_e, x_m = 10.0, 10.0 + ew + 70
    x_o = x_m + mw + 70
    width = x_o + ow + 10
    boxes = []
    y = 10.0
    for ls in mech_lines:
        b = Box(x_m, y, mw, ls, "box")
        boxes.append(b)
        y = b.bottom + 14
    mech_bottom = boxes[-1].bottom if boxes else 10.0
    mid = (10.0 + mech_bottom) / 2
    be = Box(x_e, mid - Box(0, 0, 1, exposure).h / 2, ew, exposure, "box-main")
    bo = Box(x_o, mid - Box(0, 0, 1, outcome).h / 2, ow, outcome, "box-main")
    parts = [be.svg(), bo.svg()]
    for b in boxes:
        parts.append(b.svg())
        ym = b.y + b.h / 2
        parts.append(_arrow(be.x + ew, be.y + be.h / 2, b.x, ym, marker))
        parts.append(_arrow(b.x + mw, ym, bo.x, bo.y + bo.h / 2, marker))
    yb = mech_bottom + 30
    parts.append(_polyline([(be.cx, be.bottom), (be.cx, yb), (bo.cx, yb), (bo.cx, bo.bottom)],
                           marker))
    parts.append(f'<text class="effect" x="{(be.cx + bo.cx) / 2:.1f}" y="{yb + 18:.1f}" '
                 f'text-anchor="middle">{escape(footer)}</text>')
    height = yb + 30
    body = "\n".join(parts)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram" viewBox="0 0 {width:.0f} '
            f'{height:.0f}" style="max-width:{width:.0f}px" role="img" '
            f'aria-label="Change model: indirect and direct effects">{_defs(marker)}\n'
            f'{body}\n</svg>')
