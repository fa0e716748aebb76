"""Ordinal (graded-response) item model: latent trait -> item codes -> scores.

Item i of an instrument with codes ``c_min..c_max`` (K categories) is answered from the
latent ``theta`` through a logistic threshold model:

    y*_i = theta + e_i / a_i,   e_i ~ Logistic(0, 1)
    scored_i = c_min + #{k : y*_i > b_ik},   b_ik = loc_i + span / (K - 1) * (k - K / 2)

which is Samejima's graded response model, P(scored_i >= c_min + k) =
logistic(a_i (theta - b_ik)). ``scored`` is the value in the direction of the score;
a reversed item is *answered* in the opposite direction (raw code = c_min + c_max -
scored), so that after the scorer's reversal it agrees with the latent. Scores are always
computed by :func:`outcomes.scoring.score_items`.

Item parameters are fixed by formula, not drawn: discriminations
``a_i = a * (0.8 + 0.4 * frac(0.7548776662 * i))`` and locations
``loc_i = 0.35 * (2 * frac(0.6180339887 * i) - 1)`` (low-discrepancy sequences, so items
differ a little from each other in a reproducible way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from outcomes.instruments import Instrument
from outcomes.scoring import score_items
from outcomes.simulate.parameters import LatentSpec


@dataclass(frozen=True)
class ItemModel:
    instrument: Instrument
    discrimination: np.ndarray  # (p,)
    thresholds: np.ndarray  # (p, K - 1), increasing along axis 1

    @property
    def n_items(self) -> int:
        return self.instrument.n_items

    def draw(self, theta: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Raw item codes (int64, n x p) for latent ``theta`` and logistic ``noise``."""
        inst = self.instrument
        ystar = theta[:, None] + noise / self.discrimination[None, :]
        scored = np.full(ystar.shape, inst.code_min, dtype=np.int64)
        for k in range(self.thresholds.shape[1]):
            scored += ystar > self.thresholds[None, :, k]
        if inst.reversed:
            cols = [i - 1 for i in inst.reversed]
            scored[:, cols] = inst.code_min + inst.code_max - scored[:, cols]
        return scored


def _frac(x: np.ndarray) -> np.ndarray:
    return x - np.floor(x)


def item_model(instrument: Instrument, spec: LatentSpec) -> ItemModel:
    p = instrument.n_items
    k = instrument.code_max - instrument.code_min + 1
    i = np.arange(1, p + 1, dtype=float)
    a = spec.discrimination * (0.8 + 0.4 * _frac(0.7548776662 * i))
    loc = 0.35 * (2.0 * _frac(0.6180339887 * i) - 1.0)
    steps = spec.threshold_span / (k - 1) * (np.arange(1, k) - k / 2.0)
    thresholds = loc[:, None] + steps[None, :]
    return ItemModel(instrument=instrument, discrimination=a, thresholds=thresholds)


def score_all(registry: dict[str, Instrument], items: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every PARAMCD of every registered instrument from raw item matrices by instrument key.

    Instruments without own columns (SWEMWBS) are scored from their source instrument's
    items. ``items`` may hold NaN for missing items (float) or be complete (int).
    """
    out: dict[str, np.ndarray] = {}
    for inst in registry.values():
        if inst.has_own_columns:
            if inst.key not in items:
                continue
            mat = items[inst.key]
        else:
            src = items.get(inst.source_instrument or "")
            if src is None:
                continue
            assert inst.source_items is not None
            mat = src[:, [i - 1 for i in inst.source_items]]
        for sv in score_items(np.asarray(mat, dtype=float), inst):
            out[sv.paramcd] = sv.value
    return out


def primary_paramcd(instrument: Instrument) -> str:
    """The instrument's first declared score (its total), used as 'the' observed score."""
    return instrument.scores[0].paramcd
