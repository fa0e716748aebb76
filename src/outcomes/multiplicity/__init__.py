"""Multiplicity: the plan's hierarchy of hypotheses and their adjusted p-values
(docs/multiplicity.md).

``adjust``: adjusted p-values of one family (fixed sequence, Holm, Hochberg, Bonferroni)
and of a family behind a serial gatekeeper. ``hierarchy``: the plan's primary, key
secondary and other hypotheses, each a row of a results table, tested in one step after
the analyses (``outcomes multiplicity``, ``results/tables/multiplicity.tsv``).
"""

from .adjust import METHODS, adjust, fixed_sequence, gated
from .hierarchy import (
    KEY_SECONDARY,
    NOMINAL,
    OTHER,
    PRIMARY,
    SINGLE,
    Hypothesis,
    MultiplicityResult,
    evaluate_hierarchy,
    hierarchy_selectors,
    read_estimates,
    run_multiplicity,
    select_row,
)

__all__ = [
    "KEY_SECONDARY",
    "METHODS",
    "NOMINAL",
    "OTHER",
    "PRIMARY",
    "SINGLE",
    "Hypothesis",
    "MultiplicityResult",
    "adjust",
    "evaluate_hierarchy",
    "fixed_sequence",
    "gated",
    "hierarchy_selectors",
    "read_estimates",
    "run_multiplicity",
    "select_row",
]
