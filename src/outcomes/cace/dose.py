"""Dose–response by instrumental variables: the effect of one more contact with a peer
worker (docs/cace.md, "Dose–response").

The number of contacts is the endogenous regressor; the instruments are the randomised
arm and its interactions with baseline covariates (Dunn & Emsley 2009; Emsley, Dunn &
White 2010). A covariate whose interaction with the arm is an instrument must predict how
many contacts the offered participants take up (a first stage that varies with it), and
must not modify the effect of a contact: the model is linear in the dose with a common
slope. Its main effect is in the model, so the interaction, not the covariate, is the
excluded instrument. The covariates are centred at their mean in the interactions, so the
first-stage coefficient of the arm is the difference in mean contacts between the arms
at the covariates' means (the 2SLS estimate is the same without centring: the instruments
span the same space).

References
----------
- Dunn G, Emsley R. Estimation of treatment effects in randomised trials with
  non-compliance. Stat Med 2009 (arm × covariate instruments for a dose).
- Emsley R, Dunn G, White IR. Mediation and moderation of treatment effects in randomised
  controlled trials of complex interventions. Stat Methods Med Res 2010;19:237-270.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from outcomes.errors import NotEstimable

from .iv import IVFit, IVModel, iv_model, zero_one


def dose_instruments(arm, covariates: pd.DataFrame | None,
                     modifiers: Sequence[str] = ()) -> pd.DataFrame:
    """The excluded instruments of the dose–response model: ``ARM`` (the arm's name) and
    ``ARM:<covariate>`` = arm × (covariate − its mean) for each of ``modifiers`` (numeric
    columns of ``covariates``)."""
    a = pd.Series(np.asarray(arm, float).ravel(), name=getattr(arm, "name", None) or "ARM")
    cols = {a.name: a.to_numpy()}
    for m in modifiers:
        if covariates is None or m not in covariates.columns:
            raise ValueError(f"modifier {m!r} is not one of the covariates: its main effect "
                             "must be in the model")
        x = np.asarray(covariates[m], float)
        cols[f"{a.name}:{m}"] = a.to_numpy() * (x - x.mean())
    return pd.DataFrame(cols)


def fit_dose_response(
    y,
    dose,
    arm,
    covariates: pd.DataFrame | None = None,
    modifiers: Sequence[str] = (),
    *,
    clusters: Sequence[str] | np.ndarray | None = None,
    weights=None,
    alpha: float = 0.05,
    what: str = "the outcome",
) -> IVFit:
    """The effect per contact: 2SLS of ``y`` on ``dose`` (e.g. ``NCONTACT``), instrumented
    by ``arm`` (0/1) and arm × centred ``modifiers`` (:func:`dose_instruments`), adjusted
    for ``covariates`` (``weights``: weighted 2SLS, as there). With no modifiers it is just identified (ITT on y / ITT on the
    dose). The fit's :class:`~outcomes.cace.iv.FirstStage` carries the weak-instrument
    diagnostics; with modifiers, its ``overidentification`` the Sargan and Hansen J tests.
    Raises :class:`NotEstimable` as :func:`~outcomes.cace.iv.two_stage_least_squares`
    does, and when no participant has a contact."""
    return dose_model(y, dose, arm, covariates, modifiers, weights=weights, alpha=alpha,
                      what=what).fit(clusters)


def dose_model(y, dose, arm, covariates: pd.DataFrame | None = None,
               modifiers: Sequence[str] = (), *, weights=None, alpha: float = 0.05,
               what: str = "the outcome") -> IVModel:
    """:func:`fit_dose_response` up to its variance (:class:`~outcomes.cace.iv.IVModel`)."""
    d = pd.Series(np.asarray(dose, float).ravel(),
                  name=getattr(dose, "name", None) or "dose")
    a = np.asarray(arm, float).ravel()
    if not zero_one(a):
        raise ValueError("arm must be 0/1 (1 = offered peer support)")
    if (d < 0).any():
        raise ValueError(f"{d.name} must be a non-negative dose")
    if d.size and (d == 0).all():
        raise NotEstimable(f"dose–response of {what}: no participant had a contact "
                           f"({d.name} is 0 for all)")
    Z = dose_instruments(arm, covariates, modifiers)
    return iv_model(y, d, covariates, Z, weights=weights, alpha=alpha, what=what)
