"""Sections of the docs generated from what the code declares.

A generated section is the text between a BEGIN and an END marker line of a Markdown file.
A generator module (``outcomes.validation.catalogue``, ``outcomes.instruments.catalogue``,
``outcomes.contract_doc``) renders it; ``python -m <module> --write FILE`` rewrites it in
place (atomically), without ``--write`` it is printed; a test checks that the committed
file is current.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from outcomes.atomic import write_text


def replace_between(text: str, begin: str, end: str, body: str) -> str:
    """``text`` with everything between the ``begin`` and ``end`` markers replaced by ``body``."""
    for marker in (begin, end):
        if text.count(marker) != 1:
            raise ValueError(f"marker {marker!r} must occur exactly once, found {text.count(marker)}")
    start = text.index(begin) + len(begin)
    stop = text.index(end)
    if stop < start:
        raise ValueError(f"marker {end!r} comes before {begin!r}")
    return text[:start] + "\n" + body + text[stop:]


def main(argv: list[str] | None, *, description: str, begin: str, end: str,
         render: Callable[[], str]) -> int:
    """The command line of a generator of one section: print it, or ``--write FILE``."""
    return main_sections(argv, description=description, sections=lambda: {(begin, end): render()})


def main_sections(argv: list[str] | None, *, description: str,
                  sections: Callable[[], dict[tuple[str, str], str]]) -> int:
    """The command line of a generator of several sections, ``(begin, end) -> body``: print
    them, or ``--write FILE`` rewrites each between its markers."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--write", metavar="FILE", help="regenerate the section(s) in FILE")
    args = parser.parse_args(argv)
    if args.write:
        path = Path(args.write)
        text = path.read_text(encoding="utf-8")
        for (begin, end), body in sections().items():
            text = replace_between(text, begin, end, body)
        write_text(path, text)
    else:
        print("\n".join(sections().values()), end="")
    return 0
