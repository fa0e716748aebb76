"""Adjusted p-values of one family of hypotheses, and of a serial gatekeeper before it.

Holm, Hochberg and Bonferroni are those of ``statsmodels.stats.multitest.multipletests``
(``holm``, ``simes-hochberg``, ``bonferroni``; equal to R's ``p.adjust`` to 1e-12, tested).
The fixed sequence and the serial gate are not in statsmodels, so they are written here;
both are closed forms of closed testing (Marcus, Peritz & Gabriel 1976), checked in the
tests against the closure itself:

- fixed sequence (Maurer, Hothorn & Lehmacher 1995; Westfall & Krishen 2001): the
  hypotheses are tested in their pre-specified order, each at the full alpha, until the
  first one not rejected; the adjusted p-value of the i-th is max(p_1, ..., p_i);
- serial gatekeeping (Dmitrienko, Tamhane & Bretz 2010, §5.3): the family after the
  gatekeeper is tested only when the gatekeeper is rejected, with the full alpha; the
  adjusted p-value of its i-th hypothesis is max(p_gate, p̃_i), p̃_i the family's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Methods of a family of key secondary hypotheses (the plan's ``multiplicity`` key).
METHODS = ("fixed_sequence", "holm", "hochberg", "bonferroni")
_STATSMODELS = {"holm": "holm", "hochberg": "simes-hochberg", "bonferroni": "bonferroni"}


def fixed_sequence(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Adjusted p-values of a fixed sequence: the running maximum in the given order."""
    return np.minimum(np.maximum.accumulate(np.asarray(p, dtype=float)), 1.0)


def adjust(p: Sequence[float] | np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values of one family, in the order of ``p`` (``method`` of :data:`METHODS`).

    Every p-value must be a number in [0, 1] (a hypothesis without one is given 1 by the
    caller: it stays in the family and cannot be rejected)."""
    p = np.asarray(p, dtype=float)
    if p.size == 0:
        return p.copy()
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"p-values must be in [0, 1]: {p.tolist()}")
    if method == "fixed_sequence":
        return fixed_sequence(p)
    if method not in _STATSMODELS:
        raise ValueError(f"unknown multiplicity method {method!r}; one of {', '.join(METHODS)}")
    from statsmodels.stats.multitest import multipletests

    return np.minimum(multipletests(p, method=_STATSMODELS[method])[1], 1.0)


def gated(p_gate: float, adjusted: Sequence[float] | np.ndarray) -> np.ndarray:
    """A family's adjusted p-values behind a serial gatekeeper whose own is ``p_gate``."""
    return np.minimum(np.maximum(np.asarray(adjusted, dtype=float), p_gate), 1.0)
