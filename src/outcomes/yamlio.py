"""Reading YAML: libyaml's C parser where PyYAML was built with it, PyYAML's own otherwise.

The analysis plan's schema, the estimand registry and the instrument definitions are read
every time a plan is built (every stage of every pipeline job, and most tests): with
PyYAML's pure-Python parser that was about a tenth of a small trial's CPU time, and a plan
with the instrument registry took 0.083 s of CPU to read, 0.019 s with libyaml (decisions
CU4). ``yaml.CSafeLoader`` parses with libyaml and builds the objects with the same
``SafeConstructor`` and resolver as ``yaml.SafeLoader`` (PyYAML documentation, "LibYAML
bindings"), so a document gives the same objects. A document libyaml rejects is parsed
again by PyYAML's own parser, so that the error raised, and the message the user reads,
are PyYAML's as before.
"""

from __future__ import annotations

from typing import Any

import yaml

#: libyaml's parser with PyYAML's safe constructor (PyYAML without libyaml: its own).
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` of ``text``, parsed by libyaml where available."""
    try:
        return yaml.load(text, Loader=LOADER)
    except yaml.YAMLError:
        return yaml.safe_load(text)  # raises PyYAML's own error, with its message
