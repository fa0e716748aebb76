"""The complier average causal effect and the effect per contact of every outcome of the
plan: the ``cace`` and ``dose_response`` rows of ``cace.tsv`` (docs/cace.md, "In the
pipeline"; docs/results.md).

For each outcome (readmission within the horizon, then every questionnaire score at
every visit) and each design (``clustering = none``: HC1 on t(n − k); ``peer_worker``:
CR1 by peer worker on t(G − 1)):

- ``cace``: :func:`outcomes.cace.fit_cace`, receipt ``ENGFL`` instrumented by the arm,
  with the covariates of the outcome's intention-to-treat analysis
  (:mod:`outcomes.cace.ivdata`);
- ``dose_response``: :func:`outcomes.cace.fit_dose_response`, the contacts in the receipt
  window ``NCONTWIN`` instrumented by the arm and arm × the plan's
  ``engagement.dose_modifiers``, whose main effects join the covariates.

Under ``missing_data.method: mi`` each questionnaire row is the fit on every completed
data set of the impute rule pooled by Rubin's rules with the Barnard–Rubin df (the
complete-data df: n − k for HC1, G − 1 for CR1; :func:`outcomes.imputation.pool.rubin`).
The first-stage diagnostics of a pooled row are their means over the imputations (the
first stage does not involve the imputed outcome; it changes only through an imputed
baseline score); the overidentification statistics are the median over the imputations
with the median p-value (the median-P rule of Eekhout, van de Wiel & Heymans 2017, BMC Med
Res Methodol 17:129): a pooled χ² test (Li et al. 1991's D2) is not needed for a
diagnostic. Readmission has no imputed value: its rows are the same under both methods.

A fit that cannot be made (no one engaged, no first stage, a rank-deficient design,
fewer than two peer workers for CR1, an imputation that was not possible) gives the row
with ``status = not estimable`` and the reason (:class:`outcomes.errors.NotEstimable`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import pandas as pd

from outcomes.clustering import NONE, PEER_WORKER
from outcomes.clustering.robust import check_peer_workers
from outcomes.errors import NotEstimable
from outcomes.imputation.ancova import BASELINE
from outcomes.imputation.frame import ImputationFrame
from outcomes.imputation.gaps import not_imputed_cells, not_imputed_reason
from outcomes.imputation.pool import rubin
from outcomes.imputation.run import select_columns
from outcomes.imputation.settings import ImputationSettings
from outcomes.plan import AnalysisPlan
from outcomes.survival._common import NotEstimableResult, ident

from .comparisons import EngagementResults, run_engagement
from .dose import fit_dose_response
from .iv import WEAK_F, IVFit, fit_cace
from .ivdata import (
    DOSE,
    RECEIPT,
    IVData,
    completed_score_data,
    engagement_columns,
    observed_scores,
    readmission_data,
    score_data,
)

CACE, DOSE_RESPONSE = "cace", "dose_response"
ESTIMATE_TYPE = {DOSE_RESPONSE: "effect_per_contact"}
#: The columns of :meth:`IVFit.row` a row keeps (after the identification).
FIT_COLUMNS = (
    "std_error", "df", "variance", "instruments", "first_stage_estimate",
    "first_stage_std_error", "first_stage_f", "first_stage_robust_f", "partial_r2",
    "weak_instruments", "overid_df", "sargan", "sargan_p_value", "hansen_j",
    "hansen_j_p_value", "n_clusters",
)
#: First-stage columns averaged over the imputations.
FIRST_STAGE_MEANS = ("first_stage_estimate", "first_stage_std_error", "first_stage_f",
                     "first_stage_robust_f", "partial_r2")
#: Overidentification statistics: the median over the imputations.
OVERID_MEDIANS = ("sargan", "sargan_p_value", "hansen_j", "hansen_j_p_value")


def fit_iv(data: IVData, analysis: str, clustering: str) -> IVFit:
    """The CACE (``analysis = cace``) or effect-per-contact fit of one outcome's data,
    HC1 (``clustering = none``) or CR1 by peer worker. Raises :class:`NotEstimable`."""
    what = data.labels["outcome"]
    if data.n == 0:
        raise NotEstimable(f"no participant of either arm has {what} (and its baseline)")
    clusters = None
    if clustering == PEER_WORKER:
        check_peer_workers(data.clusters, what=f"the peer-worker (CR1) variance of {what}")
        clusters = data.clusters
    arm = pd.Series(data.arm, name="ARM")
    if analysis == CACE:
        return fit_cace(data.y, pd.Series(data.receipt, name=RECEIPT), arm, data.covariates,
                        clusters=clusters, weights=data.weights, what=what)
    cov, keep = data.dose_design()
    if not keep.any():
        raise NotEstimable(f"dose–response of {what}: no participant with every dose "
                           f"modifier ({', '.join(data.modifiers)}) known")
    return fit_dose_response(
        data.y[keep], pd.Series(data.dose[keep], name=DOSE), arm[keep], cov, data.modifiers,
        clusters=None if clusters is None else clusters[keep],
        weights=None if data.weights is None else data.weights[keep], what=what)


def _identity(data: IVData, analysis: str, clustering: str, contrast: str) -> dict:
    labels = dict(data.labels)
    outcome, estimate_type = labels.pop("outcome"), labels.pop("estimate_type")
    return ident(analysis, outcome, contrast, ESTIMATE_TYPE.get(analysis, estimate_type),
                 data.n, data.events, clustering=clustering, **labels)


def fit_row(fit: IVFit, identity: dict) -> dict:
    """One estimated row: the identification, then the fit's effect and diagnostics."""
    f = fit.row(fit.endogenous[0])
    return {**identity, "estimate": f["estimate"], "ci_low": f["ci_low"],
            "ci_high": f["ci_high"], "p_value": f["p_value"], "n": fit.n,
            **{c: f[c] for c in FIT_COLUMNS}}


def pooled_row(fits: Sequence[IVFit], identity: dict, alpha: float = 0.05) -> dict:
    """Rubin's rules over the fits on the m completed data sets (:func:`rubin`, the
    Barnard–Rubin df with the fits' df as the complete-data df); the first stage's
    means and the overidentification tests' medians."""
    rows = [fit_row(f, identity) for f in fits]
    term = fits[0].first_stage[0].endogenous
    p = rubin([f.estimate(term) for f in fits], [f.std_error(term) ** 2 for f in fits],
              df_complete=float(np.mean([f.df for f in fits])), alpha=alpha)
    out = dict(rows[0])
    out.update(estimate=p.estimate, ci_low=p.ci_low, ci_high=p.ci_high, p_value=p.p_value,
               std_error=p.std_error, df=p.df, m=p.m, riv=p.riv, fmi=p.fmi)
    for c in FIRST_STAGE_MEANS:
        out[c] = float(np.mean([r[c] for r in rows]))
    out["weak_instruments"] = bool(not out["first_stage_robust_f"] >= WEAK_F)
    for c in OVERID_MEDIANS:
        out[c] = float(np.median([r[c] for r in rows]))
    return out


def _attempt(make: Callable[[], dict], identity: dict) -> pd.DataFrame:
    """``make()``'s row, or the not-estimable row with the reason."""
    try:
        return pd.DataFrame([make()])
    except NotEstimable as exc:
        return NotEstimableResult(exc.reason, (identity,)).to_frame()


def _row(data: IVData, analysis: str, clustering: str, identity: dict,
         imputed: Sequence[IVData] | None) -> dict:
    if imputed is None:
        return fit_row(fit_iv(data, analysis, clustering), identity)
    return pooled_row(_fits_or_reason(imputed, analysis, clustering), identity)


def outcome_rows(data: IVData, analysis: str, contrast: str,
                 imputed: Sequence[IVData] | None = None) -> list[pd.DataFrame]:
    """The ``none`` then ``peer_worker`` rows of one analysis of one outcome: fitted on
    ``data``, or pooled over ``imputed`` (the outcome in each completed data set; ``data``
    then gives the identification) when given."""
    frames = []
    for clustering in (NONE, PEER_WORKER):
        identity = _identity(data, analysis, clustering, contrast)
        frames.append(_attempt(partial(_row, data, analysis, clustering, identity, imputed),
                               identity))
    return frames


def _fits_or_reason(imputed: Sequence[IVData], analysis: str, clustering: str) -> list[IVFit]:
    """The fits on every completed data set; :class:`NotEstimable` naming the imputations
    that could not be fitted, or when they do not analyse the same participants."""
    sizes = {d.n for d in imputed}
    if len(sizes) > 1:
        raise NotEstimable(f"the completed data sets analyse different numbers of "
                           f"participants ({', '.join(map(str, sorted(sizes)))})")
    fits, failed = [], {}
    for i, d in enumerate(imputed, start=1):
        try:
            fits.append(fit_iv(d, analysis, clustering))
        except NotEstimable as exc:
            failed.setdefault(exc.reason, []).append(str(i))
    if failed:
        why = "; ".join(f"imputation(s) {', '.join(k)}: {r}" for r, k in failed.items())
        raise NotEstimable(f"not estimable in {sum(map(len, failed.values()))} of "
                           f"{len(imputed)} imputations ({why})")
    return fits


def _not_estimable(data: IVData, analysis: str, contrast: str, reason: str) -> list:
    return [NotEstimableResult(reason, (_identity(data, analysis, c, contrast),)).to_frame()
            for c in (NONE, PEER_WORKER)]


def iv_analyses(adsl: pd.DataFrame, adtte: pd.DataFrame, adqs: pd.DataFrame,
                plan: AnalysisPlan, completed: Sequence[pd.DataFrame] | None = None,
                frame: ImputationFrame | None = None) -> list[pd.DataFrame]:
    """The ``cace`` rows, then the ``dose_response`` rows: readmission, then every score
    (``PARAMCD`` order) at every visit of the plan, each ``none`` then ``peer_worker``.
    ``completed``: the completed data sets (1..m, wide) when the plan's method is ``mi``,
    with ``frame`` (the imputation frame they were made from, to name the values that
    could not be imputed)."""
    contrast = f"{plan.treated_arm} vs {plan.control_arm}"
    base = engagement_columns(adsl, plan)
    outcomes = [readmission_data(adtte, base, plan)]
    pooled: list[list[IVData] | None] = [None]
    lost: list[str] = [""]
    cells = (None if completed is None or frame is None
             else not_imputed_cells(frame, ImputationSettings.from_plan(plan)))
    params = adqs[["PARAMCD", "PARAM"]].drop_duplicates("PARAMCD").sort_values("PARAMCD")
    for paramcd, label in params.itertuples(index=False):
        rows = adqs.loc[adqs["PARAMCD"] == paramcd]
        for visit in plan.visits:
            ids = dict(paramcd=paramcd, param_label=label, visit=visit)
            outcomes.append(score_data(observed_scores(rows, paramcd, visit), base, plan,
                                       **ids))
            if completed is None:
                pooled.append(None)
                lost.append("")
                continue
            sets = select_columns(completed, ("USUBJID", "ARM", f"{paramcd}_{visit}",
                                      f"{paramcd}_{BASELINE}"))
            pooled.append(completed_score_data(sets, base, plan, **ids))
            lost.append("" if cells is None else not_imputed_reason(
                sets[0], cells, [f"{paramcd}_{visit}", f"{paramcd}_{BASELINE}"],
                sets[0]["ARM"].astype(str).isin(plan.arms).to_numpy()))
    frames: list[pd.DataFrame] = []
    for analysis in (CACE, DOSE_RESPONSE):
        for data, imputed, why in zip(outcomes, pooled, lost, strict=True):
            if why:
                frames += _not_estimable(data, analysis, contrast, why)
            else:
                frames += outcome_rows(imputed[0] if imputed else data, analysis, contrast,
                                       imputed)
    return frames


def engagement_analyses(adsl: pd.DataFrame, adtte: pd.DataFrame, adqs: pd.DataFrame,
                        plan: AnalysisPlan, completed: Sequence[pd.DataFrame] | None = None,
                        frame: ImputationFrame | None = None) -> EngagementResults:
    """The engagement stage (``outcomes engagement``): engagement by arm and ``cace.tsv``,
    the rows of :func:`iv_analyses` first, then the per-protocol and as-treated ones."""
    return run_engagement(adsl, adtte, adqs, plan,
                          extra=iv_analyses(adsl, adtte, adqs, plan, completed, frame))
