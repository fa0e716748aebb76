"""CDISC's Define-XML 2.1 schema for the tests of define.xml (tests/test_adam_transport.py,
tests/test_workflow.py).

The XSD files are not copied into this repository: they are the package data of odmlib
(pyproject.toml's dev extra), read from the installed package. ``define2-1-0.xsd``
includes ``define-extension.xsd``, which imports ``define-ns.xsd`` (with
``define-enumerations.xsd`` and ``xlink.xsd`` beside it); these import the ODM 1.3.2
foundation as ``../../odm/1.3.2/ODM1-3-2-foundation.xsd``, which imports ``xml.xsd`` and
``xmldsig-core-schema.xsd`` from its own folder. libxml2 resolves every one of them
relative to the file that names it, so the package's folders must be real files on disk
(a normal install; ``as_file`` of a zipped package would extract only the one file and
the imports would fail to load, loudly). lxml's parser does not use the network.
"""

from __future__ import annotations

import functools
from importlib.resources import as_file, files

from lxml import etree


@functools.cache
def define_schema() -> etree.XMLSchema:
    """The Define-XML 2.1.0 schema (``odmlib/schemas/define/2.1/define2-1-0.xsd``)."""
    xsd = files("odmlib") / "schemas" / "define" / "2.1" / "define2-1-0.xsd"
    with as_file(xsd) as path:
        return etree.XMLSchema(etree.parse(str(path)))


def define_errors(doc: etree._ElementTree) -> list[str]:
    """Every error of the schema's validation of ``doc`` (``line N: message``); empty when
    the document is valid."""
    schema = define_schema()
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
