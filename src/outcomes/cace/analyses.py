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

import itertools
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

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
from outcomes.memory import keep_large_blocks, release_memory
from outcomes.plan import AnalysisPlan
from outcomes.survival._common import NotEstimableResult, ident

from .comparisons import EngagementResults, biased_comparisons, run_engagement
from .dose import dose_model
from .iv import WEAK_F, Clusters, IVFit, IVModel, cace_model
from .ivdata import (
    DOSE,
    RECEIPT,
    IVData,
    engagement_columns,
    iter_completed_score_data,
    observed_scores,
    readmission_data,
    score_data,
)

CACE, DOSE_RESPONSE = "cace", "dose_response"
ANALYSES = (CACE, DOSE_RESPONSE)
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
    return _Designs(data, analysis).fit(clustering)


class _Designs:
    """The fits of one analysis of one outcome's data in both designs (``none``,
    ``peer_worker``), as :func:`fit_iv` makes them one at a time: the checks in the same
    order and the same numbers, but the 2SLS fit up to its variance
    (:class:`outcomes.cace.iv.IVModel`) made once for both, and the peer-worker check
    and cluster codes once per cluster labels (``clusters``: shared by the outcome's
    completed data sets)."""

    def __init__(self, data: IVData, analysis: str, clusters: _ClusterCache | None = None):
        self.data, self.analysis = data, analysis
        self.what = data.labels["outcome"]
        self.clusters = clusters if clusters is not None else _ClusterCache()
        self._model: IVModel | NotEstimable | None = None
        self._keep: np.ndarray | None = None

    def _make(self) -> IVModel:
        data, what = self.data, self.what
        arm = pd.Series(data.arm, name="ARM")
        if self.analysis == CACE:
            return cace_model(data.y, pd.Series(data.receipt, name=RECEIPT), arm,
                              data.covariates, weights=data.weights, what=what)
        cov, keep = data.dose_design()
        if not keep.any():
            raise NotEstimable(f"dose–response of {what}: no participant with every dose "
                               f"modifier ({', '.join(data.modifiers)}) known")
        self._keep = keep
        return dose_model(
            data.y[keep], pd.Series(data.dose[keep], name=DOSE), arm[keep], cov,
            data.modifiers, weights=None if data.weights is None else data.weights[keep],
            what=what)

    def model(self) -> IVModel:
        if self._model is None:
            try:
                self._model = self._make()
            except NotEstimable as exc:
                self._model = exc
        if isinstance(self._model, NotEstimable):
            raise self._model
        return self._model

    def fit(self, clustering: str) -> IVFit:
        """The fit of one design; raises :class:`NotEstimable`."""
        if self.data.n == 0:
            raise NotEstimable(f"no participant of either arm has {self.what} (and its "
                               "baseline)")
        if clustering != PEER_WORKER:
            return self.model().fit(None)
        self.clusters.check(self.data.clusters, self.what)
        model = self.model()
        return model.fit(self.clusters.coded(self.data.clusters, self._keep))

    def fits(self) -> dict[str, IVFit | NotEstimable]:
        """Each design's fit, or the :class:`NotEstimable` that stopped it."""
        out: dict[str, IVFit | NotEstimable] = {}
        for clustering in (NONE, PEER_WORKER):
            try:
                out[clustering] = self.fit(clustering)
            except NotEstimable as exc:
                out[clustering] = exc
        return out


class _ClusterCache:
    """:func:`check_peer_workers` and the :class:`Clusters` of cluster labels (the rows
    ``keep`` of them), once per labels array: the completed data sets of one outcome share
    it. Each entry holds its array, so its ``id`` is not reused while cached."""

    def __init__(self) -> None:
        self._checked: dict[int, tuple[np.ndarray, NotEstimable | None]] = {}
        self._coded: dict[tuple[int, bytes | None], tuple[np.ndarray, Clusters]] = {}

    def check(self, labels: np.ndarray, what: str) -> None:
        hit = self._checked.get(id(labels))
        if hit is None or hit[0] is not labels:
            try:
                check_peer_workers(labels, what=f"the peer-worker (CR1) variance of {what}")
                hit = (labels, None)
            except NotEstimable as exc:
                hit = (labels, exc)
            self._checked[id(labels)] = hit
        if hit[1] is not None:
            raise NotEstimable(hit[1].reason)

    def coded(self, labels: np.ndarray, keep: np.ndarray | None) -> Clusters:
        key = (id(labels), None if keep is None else np.packbits(keep).tobytes())
        hit = self._coded.get(key)
        if hit is None or hit[0] is not labels:
            hit = (labels, Clusters.of(labels if keep is None else labels[keep]))
            self._coded[key] = hit
        return hit[1]


def _identity(data: IVData, analysis: str, clustering: str, contrast: str) -> dict:
    labels: dict[str, Any] = dict(data.labels)
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


def _estimated_row(fit: IVFit | NotEstimable, identity: dict) -> dict:
    """:func:`fit_row` of ``fit``; raises it when it is the reason there is no fit."""
    if isinstance(fit, NotEstimable):
        raise fit
    return fit_row(fit, identity)


def outcome_rows(data: IVData, contrast: str, imputed: Iterable[IVData] | None = None
                 ) -> dict[str, list[pd.DataFrame]]:
    """The ``none`` then ``peer_worker`` rows of each analysis (``cace``,
    ``dose_response``) of one outcome: fitted on ``data``, or pooled over ``imputed`` (the
    outcome in each completed data set, made and fitted one at a time; ``data`` is its
    first and gives the identification) when given."""
    out: dict[str, list[pd.DataFrame]] = {}
    if imputed is None:
        for analysis in ANALYSES:
            by_design = _Designs(data, analysis).fits()
            out[analysis] = []
            for c in (NONE, PEER_WORKER):
                identity = _identity(data, analysis, c, contrast)
                out[analysis].append(_attempt(partial(_estimated_row, by_design[c], identity),
                                              identity))
        return out
    fits, failed, sizes, m = _fits_or_reasons(imputed)
    for analysis in ANALYSES:
        out[analysis] = []
        for c in (NONE, PEER_WORKER):
            identity = _identity(data, analysis, c, contrast)
            out[analysis].append(_attempt(partial(
                _pooled, fits[analysis, c], failed[analysis, c], sizes, m, identity),
                identity))
    return out


def _fits_or_reasons(imputed: Iterable[IVData]) -> tuple[dict, dict, set[int], int]:
    """The fits of both analyses and designs on every completed data set (made one at a
    time), the reasons of those that could not be fitted (reason: imputation numbers),
    the numbers of participants analysed and m."""
    keys = [(a, c) for a in ANALYSES for c in (NONE, PEER_WORKER)]
    fits: dict = {k: [] for k in keys}
    failed: dict = {k: {} for k in keys}
    sizes: set[int] = set()
    clusters = _ClusterCache()
    m = 0
    for i, d in enumerate(imputed, start=1):
        m = i
        sizes.add(d.n)
        for analysis in ANALYSES:
            for c, fit in _Designs(d, analysis, clusters).fits().items():
                if isinstance(fit, NotEstimable):
                    failed[analysis, c].setdefault(fit.reason, []).append(str(i))
                else:
                    fits[analysis, c].append(fit)
    return fits, failed, sizes, m


def _pooled(fits: list[IVFit], failed: dict[str, list[str]], sizes: set[int], m: int,
            identity: dict) -> dict:
    """The pooled row (:func:`pooled_row`); :class:`NotEstimable` naming the imputations
    that could not be fitted, or when they do not analyse the same participants."""
    if len(sizes) > 1:
        raise NotEstimable(f"the completed data sets analyse different numbers of "
                           f"participants ({', '.join(map(str, sorted(sizes)))})")
    if failed:
        why = "; ".join(f"imputation(s) {', '.join(k)}: {r}" for r, k in failed.items())
        raise NotEstimable(f"not estimable in {sum(map(len, failed.values()))} of "
                           f"{m} imputations ({why})")
    return pooled_row(fits, identity)


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
    could not be imputed). One outcome at a time, both analyses, its completed data sets
    made one at a time (memory: one outcome's data, not every outcome's m copies)."""
    contrast = f"{plan.treated_arm} vs {plan.control_arm}"
    base = engagement_columns(adsl, plan)
    rows: dict[str, list[pd.DataFrame]] = {a: [] for a in ANALYSES}

    def add(frames: dict[str, list[pd.DataFrame]]) -> None:
        for analysis in ANALYSES:
            rows[analysis] += frames[analysis]

    add(outcome_rows(readmission_data(adtte, base, plan), contrast))
    cells = (None if completed is None or frame is None
             else not_imputed_cells(frame, ImputationSettings.from_plan(plan)))
    params = adqs[["PARAMCD", "PARAM"]].drop_duplicates("PARAMCD").sort_values("PARAMCD")
    for paramcd, label in params.itertuples(index=False):
        scores = adqs.loc[adqs["PARAMCD"] == paramcd]
        for visit in plan.visits:
            ids = dict(paramcd=paramcd, param_label=label, visit=visit)
            data = score_data(observed_scores(scores, paramcd, visit), base, plan, **ids)
            if completed is None:
                add(outcome_rows(data, contrast))
                continue
            sets = select_columns(completed, ("USUBJID", "ARM", f"{paramcd}_{visit}",
                                      f"{paramcd}_{BASELINE}"))
            why = "" if cells is None else not_imputed_reason(
                sets[0], cells, [f"{paramcd}_{visit}", f"{paramcd}_{BASELINE}"],
                sets[0]["ARM"].astype(str).isin(plan.arms).to_numpy())
            if why:
                add({a: _not_estimable(data, a, contrast, why) for a in ANALYSES})
                continue
            imputed = iter_completed_score_data(sets, base, plan, **ids)
            first = next(imputed)
            add(outcome_rows(first, contrast, itertools.chain([first], imputed)))
    return [f for analysis in ANALYSES for f in rows[analysis]]


def engagement_analyses(adsl: pd.DataFrame, adtte: pd.DataFrame, adqs: pd.DataFrame,
                        plan: AnalysisPlan, completed: Sequence[pd.DataFrame] | None = None,
                        frame: ImputationFrame | None = None) -> EngagementResults:
    """The engagement stage (``outcomes engagement``): engagement by arm and ``cace.tsv``,
    the rows of :func:`iv_analyses` first, then the per-protocol and as-treated ones."""
    return run_engagement(adsl, adtte, adqs, plan,
                          extra=iv_analyses(adsl, adtte, adqs, plan, completed, frame))


#: ADQS columns of text that only select rows or label them once the biased comparisons
#: are made: held as categories from then on (:func:`engagement_stage`).
LABEL_COLUMNS = ("PARAMCD", "PARAM", "ABLFL", "AVISIT")


#: Free heap the IV fits keep for the next one: one completed data set's fits at
#: n = 100,000 allocate and free about 100 MB (with glibc's default of twice the largest
#: block, 2 × 8 MB, the heap's top was unmapped and faulted in again per fit: 115 s of
#: system time in the stage; docs/decisions.md, session 9, EG5).
FITS_KEEP_FREE = 256 * 2**20


def engagement_stage(data: dict[str, pd.DataFrame], plan: AnalysisPlan,
                     completed_data: Callable[[dict[str, pd.DataFrame]], tuple]
                     ) -> EngagementResults:
    """:func:`engagement_analyses` of ``data`` (``adsl``, ``adtte``, ``adqs``) in the order
    that holds the least at once, as the command runs it: the biased comparisons first;
    then ADQS's :data:`LABEL_COLUMNS` as categories (a fifth of the bytes, the same
    values; ``data["adqs"]`` is replaced); then ``completed_data(data)`` (the completed
    data sets and the imputation frame, or ``(None, None)``) and the IV rows; the completed
    data sets are dropped before the rows are put together. Freed memory is given back
    between the steps (:func:`outcomes.memory.release_memory`) and the IV fits keep their
    large blocks on the heap (:func:`outcomes.memory.keep_large_blocks`: no page-by-page
    zero-filling of blocks unmapped and mapped again per fit, the system time of the stage
    at n = 100,000). Same rows, same bits."""
    adsl, adtte = data["adsl"], data["adtte"]
    comparisons = biased_comparisons(adsl, adtte, data["adqs"], plan)
    adqs = data["adqs"]
    data["adqs"] = adqs.astype({c: "category" for c in LABEL_COLUMNS if c in adqs.columns})
    del adqs
    release_memory()
    completed, frame = completed_data(data)
    keep_large_blocks(keep_free=FITS_KEEP_FREE)
    rows = iv_analyses(adsl, adtte, data["adqs"], plan, completed, frame)
    del completed, frame
    release_memory()
    return run_engagement(adsl, adtte, data["adqs"], plan, extra=rows,
                          comparisons=comparisons)
