"""The repository stands alone: no file cites a document outside it, and every link lands.

Files are those git tracks plus untracked files it does not ignore (so a new file is
checked before it is committed); binary files (a NUL byte, or not UTF-8) are skipped.
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: How a document outside the repository has been, or could be, cited. The patterns are
#: written so that this file does not match them itself.
OUTSIDE_REFERENCES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bDESIGN\b"), "the project's former design document"),
    (re.compile(r"\bdesign\.md\b", re.IGNORECASE), "a design document outside the repository"),
    (re.compile(r"\bdesign\s*(§|sections?\s*\d)", re.IGNORECASE), "a section of a design document"),
    (re.compile(r"(?<![\w-])(\.\./)*shared[/\\]|\.\./shared(?![\w-])"), "a shared folder outside the repository"),
    (re.compile(r"(?<![\w-])seeds[/\\]"), "origin documents outside the repository"),
    (re.compile(r"(?<![\w-])instruments\.md\b", re.IGNORECASE),
     "an instrument specification outside the repository (the registry is docs/questionnaires.md)"),
)

_MD_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_MD_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_DOC_MENTION = re.compile(r"(?<![\w/.-])docs/([\w.-]+\.md)(#[\w-]+)?")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


# ----------------------------------------------------------------------------- helpers


@cache
def repository_files() -> tuple[Path, ...]:
    """Tracked and untracked-but-not-ignored files, relative to the repository root."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True, check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:  # pragma: no cover
        pytest.skip(f"not a git checkout: {exc}")
    return tuple(sorted({Path(p) for p in out.decode("utf-8").split("\0") if p}))


@cache
def text_of(rel: Path) -> str | None:
    """The file's text, or None for a binary (NUL byte, not UTF-8) or vanished file."""
    try:
        data = (ROOT / rel).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def outside_references(text: str) -> list[tuple[int, str, str]]:
    """(line, matched text, what it cites) of every reference to a document outside."""
    found = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for pattern, what in OUTSIDE_REFERENCES:
            for m in pattern.finditer(line):
                found.append((lineno, m.group(0), what))
    return found


def _prose_lines(text: str):
    """(line number, line without code spans) outside fenced code blocks."""
    fence = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = _FENCE.match(line)
        if m:
            fence = None if fence == m.group(1) else (fence or m.group(1))
            continue
        if fence is None:
            yield lineno, _CODE_SPAN.sub("", line)


def markdown_links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every inline, image and reference link outside code."""
    out = []
    for lineno, line in _prose_lines(text):
        out += [(lineno, m.group(1)) for m in _MD_LINK.finditer(line)]
        out += [(lineno, m.group(1)) for m in _MD_REFERENCE.finditer(line)]
    return out


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup dropped, lower case, punctuation removed,
    spaces to hyphens (github-slugger)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").strip().lower()
    text = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return text.replace(" ", "-")


def heading_anchors(text: str) -> set[str]:
    """Anchors of every ATX heading, duplicates numbered ``-1``, ``-2`` as GitHub does."""
    seen: dict[str, int] = {}
    anchors = set()
    fence = None
    for line in text.splitlines():
        m = _FENCE.match(line)
        if m:
            fence = None if fence == m.group(1) else (fence or m.group(1))
            continue
        h = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fence is None and h:
            slug = github_slug(h.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def broken_target(source: Path, target: str) -> str | None:
    """Why ``target`` (a link in ``source``, relative to it) does not land, or None."""
    if _SCHEME.match(target) or target.startswith("//"):
        return None
    path_part, _, anchor = target.partition("#")
    dest = (ROOT / source).parent / path_part if path_part else ROOT / source
    dest = dest.resolve()
    if not dest.is_relative_to(ROOT):
        return f"{target}: outside the repository"
    if not dest.exists():
        return f"{target}: no such file"
    if anchor and dest.suffix == ".md":
        text = dest.read_text(encoding="utf-8")
        if anchor not in heading_anchors(text):
            return f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}"
    return None


# ----------------------------------------------------------------------------- the checks


def test_no_file_refers_to_a_document_outside_the_repository():
    problems = []
    for rel in repository_files():
        text = text_of(rel)
        if text is None:
            continue
        problems += [f"{rel}:{line}: {hit!r} cites {what}"
                     for line, hit, what in outside_references(text)]
    assert not problems, "\n".join(problems)


def test_every_link_of_the_docs_lands():
    problems = []
    for rel in repository_files():
        if rel.suffix != ".md" or text_of(rel) is None:
            continue
        for line, target in markdown_links(text_of(rel)):
            why = broken_target(rel, target)
            if why:
                problems.append(f"{rel}:{line}: {why}")
    assert not problems, "\n".join(problems)


def test_every_docs_path_named_in_the_repository_exists():
    """`docs/<name>.md` (and `docs/<name>.md#<anchor>`) named in code, config, docstrings or prose."""
    problems = []
    for rel in repository_files():
        text = text_of(rel)
        if text is None:
            continue
        for lineno, line in enumerate(text.splitlines(), start=1):
            for m in _DOC_MENTION.finditer(line):
                why = broken_target(Path("README.md"), f"docs/{m.group(1)}{m.group(2) or ''}")
                if why:
                    problems.append(f"{rel}:{lineno}: {why}")
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- the checkers fail


@pytest.mark.parametrize(
    "cited",
    [
        "see " + "DESI" + "GN §4",
        "(" + "DESI" + "GN.md, section 9)",
        "as in the " + "Design" + " §8 of the plan",
        "design" + ".md",
        "../" + "shared",
        "../" + "shar" + "ed/" + "slurm-on-localhost.md",
        "Recipe: " + "shar" + "ed/" + "x.md",
        "origin: " + "see" + "ds/" + "000.txt",
        "Specification: " + "instruments" + ".md §4",
    ],
)
def test_an_outside_reference_coming_back_is_caught(cited):
    assert outside_references(f"first line\nsome text, {cited}, more\n")[0][0] == 2


@pytest.mark.parametrize("fine", ["the design of the trial", "docs/questionnaires.md",
                                  "src/outcomes/instruments/wemwbs.yaml", "random seeds",
                                  "shared_helpers/", "a re-designed form"])
def test_ordinary_words_are_not_outside_references(fine):
    assert outside_references(fine) == []


def test_a_broken_link_or_anchor_is_caught(tmp_path, monkeypatch):
    doc = "# Top\n\n## Results (`results/`)\n\n## Results (`results/`)\n"
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text(doc, encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    src = Path("docs") / "a.md"
    assert broken_target(src, "a.md#results-results-1") is None
    assert broken_target(src, "#top") is None
    assert broken_target(src, "https://example.org/x.md#y") is None
    assert broken_target(src, "b.md") == "b.md: no such file"
    assert broken_target(src, "a.md#results-2") == f"a.md#results-2: no heading #results-2 in {src}"
    assert broken_target(src, "../../etc/passwd") == "../../etc/passwd: outside the repository"


def test_links_in_code_are_not_links():
    text = "[a](x.md) `[b](y.md)`\n```\n[c](z.md)\n```\n[d]: w.md\n![i](img.svg \"t\")\n"
    assert markdown_links(text) == [(1, "x.md"), (5, "w.md"), (6, "img.svg")]


@pytest.mark.parametrize("heading, slug", [
    ("8. R as an independent oracle (`tests/test_r_oracle.py`)",
     "8-r-as-an-independent-oracle-teststest_r_oraclepy"),
    ("5b. Not estimable: small and sparse trials", "5b-not-estimable-small-and-sparse-trials"),
    ("Sensitivity analysis (mediator–outcome confounding)",
     "sensitivity-analysis-mediatoroutcome-confounding"),
    ("The [results](results.md) contract", "the-results-contract"),
])
def test_github_slugs(heading, slug):
    assert github_slug(heading) == slug


def test_readme_indexes_every_doc():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    index = readme.split("\n## Documentation\n")[1].split("\n## ")[0]
    linked = {target for _, target in markdown_links(index)}
    docs = {f"docs/{p.name}" for p in repository_files() if p.parent == Path("docs") and p.suffix == ".md"}
    assert docs - linked == set(), "docs missing from the README's Documentation index"
    assert "docs/data-contract.md" in linked
