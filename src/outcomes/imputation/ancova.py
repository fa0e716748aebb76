"""The questionnaire ANCOVA over multiply imputed data, pooled by Rubin's rules.

Each completed dataset (wide: one row per ITT participant, a column ``<PARAMCD>_<visit>``
per score and visit) is analysed with the complete-case ANCOVA of
:mod:`outcomes.questionnaires` (score at the visit ~ arm + baseline score + the
stratifiers); the m arm coefficients and their variances are pooled with
:func:`outcomes.imputation.pool.rubin`, the residual df of the fit as the complete-data df
(docs/questionnaires.md, Pooling over imputations), and so are each arm's adjusted mean
and Hedges' g. A value that is not due (a visit after death or after the data cut) stays
missing in every completed dataset and its participant is left out, as in the complete-case
analysis (the while-alive estimand). A due value that could not be imputed (too few observed
values in its arm, :class:`~outcomes.imputation.mice.NotImputed`) makes the analysis not
estimable: leaving its participants out would be a complete-case result, not MI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from outcomes.ancova_effects import ArmMean, HedgesG, not_estimable_g
from outcomes.clustering import NONE, PEER_WORKER, cluster_ids, peer_worker_codes
from outcomes.clustering.ancova import fit_nested_ancova
from outcomes.contract import VISITS
from outcomes.errors import NotEstimable
from outcomes.estimands.rows import QUESTIONNAIRES, with_estimands
from outcomes.imputation.frame import ImputationFrame
from outcomes.imputation.gaps import not_imputed_cells, not_imputed_reason
from outcomes.imputation.pool import PooledEstimate, rubin
from outcomes.imputation.run import select_columns
from outcomes.imputation.settings import ImputationSettings
from outcomes.plan import AnalysisPlan
from outcomes.questionnaires import (
    ROW_TYPES,
    AncovaDesign,
    AncovaResult,
    ancova_design,
    check_ancova_design,
    fit_ancova,
    not_estimable_ancova,
    questionnaire_ancova,
)
from outcomes.tables import ESTIMATED

ANALYSIS = "questionnaire_ancova_mi"
#: the visit whose score is the covariate
BASELINE = VISITS[0]
#: what the MI rows add to the complete-case columns (before status and reason)
MI_COLUMNS = ("riv", "fmi", "m")


@dataclass(frozen=True)
class AncovaMIResult:
    """The pooled adjusted mean difference of one score at one visit.

    ``ancova`` holds the pooled numbers in the complete-case shape: estimate, standard
    error, CI and p-value by Rubin's rules, ``df`` the Barnard–Rubin df, counts of the
    participants analysed (the same in every imputation), the arm means averaged over the
    imputations, status and reason. ``pooled`` is the detail of Rubin's rules (None when
    not estimable); ``fits`` the analysis of each completed dataset.
    """

    ancova: AncovaResult
    pooled: PooledEstimate | None
    m: int
    fits: tuple[AncovaResult, ...] = ()
    #: Rubin's rules of the treated and control arms' adjusted means and of Hedges' g
    pooled_others: tuple[PooledEstimate | None, ...] = (None, None, None)

    def to_frame(self) -> pd.DataFrame:
        """The complete-case rows (``analysis = questionnaire_ancova_mi``), each with its
        own ``riv``, ``fmi`` and ``m`` after ``df``."""
        out = self.ancova.to_frame()
        out["analysis"] = ANALYSIS
        at = out.columns.get_loc("df") + 1
        pooled = (self.pooled, *self.pooled_others)
        for k, name in enumerate(MI_COLUMNS):
            value = [self.m if name == "m" else getattr(p, name, float("nan")) for p in pooled]
            out.insert(at + k, name, value)
        return out


def _score_data(completed: pd.DataFrame, paramcd: str, visit: str,
                clusters: pd.Series | None = None,
                stratifiers: Sequence[str] = ()) -> pd.DataFrame:
    """The ANCOVA's input (``ARM``, the ``stratifiers``, ``AVAL``, ``BASE``, and
    ``CLUSTER`` from ``clusters`` by ``USUBJID`` when given) from one wide completed
    dataset (the imputation frame carries every stratifier of the plan)."""
    cols = [f"{paramcd}_{visit}", f"{paramcd}_{BASELINE}"]
    need = ("ARM", *stratifiers, *cols, *(("USUBJID",) if clusters is not None else ()))
    absent = [c for c in need if c not in completed.columns]
    if absent:
        raise ValueError(f"ancova_mi: no column {', '.join(absent)} in the completed data")
    out = pd.DataFrame({"ARM": completed["ARM"].to_numpy(),
                        **{c: completed[c].to_numpy() for c in stratifiers},
                        "AVAL": completed[cols[0]].to_numpy(dtype=float),
                        "BASE": completed[cols[1]].to_numpy(dtype=float)})
    if clusters is not None:
        cl = completed["USUBJID"].astype(str).map(clusters)
        if cl.isna().any():
            raise ValueError(f"ancova_mi: participant {completed['USUBJID'][cl.isna()].iat[0]} "
                             "of the completed data has no cluster")
        out["CLUSTER"] = cl.to_numpy(dtype=str)
    return out


def _which(imps: list[int]) -> str:
    return f"imputation {imps[0]}" if len(imps) == 1 else \
        f"imputations {', '.join(map(str, imps))}"


@dataclass(frozen=True)
class ScoreSets:
    """The m completed data sets of one score at one visit as the ANCOVA reads them:
    ``first``, the input of data set 1 (:func:`_score_data`), and the score (``aval``) and
    baseline (``base``) of every data set, full length; ``own`` the data sets whose other
    columns (arm, stratifiers, cluster) are not those of data set 1 (their input, by
    index), ``lost`` why the analysis is not MI (values that could not be imputed, "" when
    none). ``designs`` keeps what each data set's design needs beyond data set 1's (its
    baselines where they differ, its check), made once; with ``keep_ols`` also each design
    matrix's OLS pieces (:func:`outcomes.questionnaires.ols`: p × n numbers per data set),
    for the points of a tipping-point grid, which differ in the score only (:meth:`shifted`)."""

    first: pd.DataFrame
    aval: tuple[np.ndarray, ...]
    base: tuple[np.ndarray, ...]
    own: dict[int, pd.DataFrame]
    lost: str
    designs: dict = field(default_factory=dict, repr=False, compare=False)
    keep_ols: bool = False

    def shifted(self, shift: np.ndarray) -> ScoreSets:
        """The same data sets with ``shift`` added to every score (NaN stays NaN), their
        designs shared."""
        return ScoreSets(self.first, tuple(a + shift for a in self.aval), self.base,
                         {k: d.assign(AVAL=self.aval[k] + shift) for k, d in self.own.items()},
                         self.lost, self.designs, self.keep_ols)

    def data(self, k: int) -> pd.DataFrame:
        """The ANCOVA's input of data set ``k + 1`` (as :func:`_score_data` makes it)."""
        if k in self.own:
            return self.own[k]
        return self.first.assign(AVAL=self.aval[k], BASE=self.base[k])


def score_sets(completed: Sequence[pd.DataFrame], paramcd: str, visit: str,
               plan: AnalysisPlan, clusters: pd.Series | None = None,
               not_imputed: pd.DataFrame | None = None, keep_ols: bool = False) -> ScoreSets:
    """The :class:`ScoreSets` of ``paramcd`` at ``visit`` of the ``completed`` data sets
    (arguments as :func:`ancova_mi`), read one data set at a time; ``ValueError`` when a
    column is absent."""
    arms = (plan.treated_arm, plan.control_arm)
    cols = [f"{paramcd}_{visit}", f"{paramcd}_{BASELINE}"]
    completed = select_columns(completed, ("USUBJID", "ARM", *plan.stratifiers, *cols))
    fixed = ["ARM", *plan.stratifiers, *(("USUBJID",) if clusters is not None else ())]
    zero = completed[0]
    first = _score_data(zero, paramcd, visit, clusters, plan.stratifiers)
    lost = "" if not_imputed is None else not_imputed_reason(
        zero, not_imputed, cols, zero["ARM"].astype(str).isin(arms).to_numpy())
    aval: list[Any] = []
    base: list[Any] = []
    own: dict[int, Any] = {}
    for k in range(len(completed)):
        d = completed[k]
        if k and not all(d[c].equals(zero[c]) for c in fixed):
            own[k] = _score_data(d, paramcd, visit, clusters, plan.stratifiers)
        aval.append(d[cols[0]].to_numpy(dtype=float))
        b = d[cols[1]].to_numpy(dtype=float)
        base.append(base[0] if k and np.array_equal(b.view(np.int64), base[0].view(np.int64))
                    else b)
    return ScoreSets(first, tuple(aval), tuple(base), own, lost, keep_ols=keep_ols)


def _design(sets: ScoreSets, k: int, plan: AnalysisPlan, what: str) -> AncovaDesign:
    """The ANCOVA design of data set ``k + 1`` (:func:`outcomes.questionnaires.ancova_design`,
    checked: :class:`NotEstimable`), made from data set 1's: the same complete cases
    (:func:`ancova_mi` checked), its own baselines (the design matrix copied in its memory
    layout, which decides BLAS's rounding) and outcome. The check is made once per data
    set; the data sets with data set 1's baselines share its design matrix and OLS pieces."""
    ids: dict[str, Any] = dict(treated_arm=plan.treated_arm, control_arm=plan.control_arm,
                               what=what, stratifiers=plan.stratifiers)
    if k in sets.own:
        if k not in sets.designs:
            sets.designs[k] = _checked(ancova_design, sets.own[k], **ids)
        made = sets.designs[k]
        if isinstance(made, NotEstimable):
            raise NotEstimable(made.reason)
        return replace(made, y=sets.own[k]["AVAL"].to_numpy(dtype=float)[made.use.to_numpy()])
    if "first" not in sets.designs:
        first = ancova_design(sets.first, check=False, **ids)
        use = first.use.to_numpy()
        sets.designs.update(first=first, use=use, codes=None if first.clusters is None else
                            peer_worker_codes(first.clusters))
    first, use = sets.designs["first"], sets.designs["use"]
    if k not in sets.designs:
        base = sets.base[k][use]
        same = np.array_equal(base.view(np.int64), first.exog[:, 2].view(np.int64))
        exog = first.exog if same else _with_base(first.exog, base)
        if not same or "shared" not in sets.designs:
            verdict = _checked(check_ancova_design, exog, first.names, first.treated,
                               treated_arm=plan.treated_arm, control_arm=plan.control_arm,
                               what=what)
            if same:
                sets.designs["shared"] = (None, verdict, first.basis)
        sets.designs[k] = sets.designs["shared"] if same else (base, verdict, {})
    base, verdict, basis = sets.designs[k]
    if isinstance(verdict, NotEstimable):
        raise NotEstimable(verdict.reason)
    return replace(first, y=sets.aval[k][use], clusters=sets.designs["codes"],
                   exog=first.exog if base is None else _with_base(first.exog, base),
                   basis=basis if base is None or sets.keep_ols else {})


def _with_base(exog: np.ndarray, base: np.ndarray) -> np.ndarray:
    """``exog`` with ``base`` as its baseline column, in ``exog``'s memory layout."""
    out = exog.copy(order="K")
    out[:, 2] = base
    return out


def _checked(f, *args, **kwargs):
    """``f(*args, **kwargs)``, or the :class:`NotEstimable` it raised."""
    try:
        out = f(*args, **kwargs)
    except NotEstimable as exc:
        return exc
    return out


def ancova_mi(completed: Sequence[pd.DataFrame] | ScoreSets, paramcd: str, visit: str,
              plan: AnalysisPlan, *, param: str = "", alpha: float = 0.05,
              not_imputed: pd.DataFrame | None = None,
              fit: Callable[..., AncovaResult] = fit_ancova,
              clusters: pd.Series | None = None, clustering: str = NONE) -> AncovaMIResult:
    """The ANCOVA of ``paramcd`` at ``visit`` on each completed dataset, pooled.

    ``fit``: the complete-data estimator (:func:`outcomes.questionnaires.fit_ancova`, or
    the partially nested ANCOVA with ``clusters``, the cluster of each ``USUBJID``, and
    ``clustering = "peer_worker"``), given each data set's design
    (:func:`outcomes.questionnaires.ancova_design`, made once per data set). The complete-data df of Rubin's rules is the mean of
    the m fits' df (the residual df, the same in every fit, for OLS; the Satterthwaite df,
    which varies a little between imputations, for the mixed model). The partially nested
    row's ICC is the mean of the m fits' ICCs, without a CI (docs/clustering.md). Each
    arm's adjusted mean and Hedges' g are pooled by the same rules (complete-data df: the
    mean's own df, the difference's for g); the raw means and SDs are the means of the m
    datasets' (descriptions of the completed data, not pooled estimates).
    ``completed`` may be the data sets' :func:`score_sets` (``clusters`` and
    ``not_imputed`` then given to it).

    Never raises for data that cannot be analysed: a row with ``status = not
    estimable`` says why. That is when a due value of the score or of its baseline could
    not be imputed (``not_imputed``: :func:`~outcomes.imputation.gaps.not_imputed_cells`
    of the frame the datasets were imputed from, rows in the same order), when an imputation's fit is not estimable (the
    imputations and the reason are named), when the completed datasets do not analyse
    the same participants (a value imputed in some and missing in others), or when
    Rubin's rules cannot pool (a single imputation). ``ValueError`` when a column of the
    wide format is absent or no dataset is given.
    """
    if len(completed) == 0 if not isinstance(completed, ScoreSets) else not completed.aval:
        raise ValueError("ancova_mi: no completed datasets")
    ids = dict(treated_arm=plan.treated_arm, control_arm=plan.control_arm, paramcd=paramcd,
               param=param, avisit=visit)
    arms = (plan.treated_arm, plan.control_arm)
    sets = completed if isinstance(completed, ScoreSets) else \
        score_sets(completed, paramcd, visit, plan, clusters, not_imputed)
    m = len(sets.aval)

    def not_estimable(reason: str, fits=()) -> AncovaMIResult:
        return AncovaMIResult(replace(not_estimable_ancova(sets.data(0), reason, **ids),
                                      clustering=clustering), None, m, tuple(fits))

    if sets.lost:
        return not_estimable(sets.lost)
    if np.isnan(sets.aval[0]).all():
        return not_estimable(f"no {visit} value of {paramcd}")
    in_arms = sets.first["ARM"].astype(str).isin(arms).to_numpy()
    used = [(sets.own[k]["ARM"].astype(str).isin(arms).to_numpy() if k in sets.own else in_arms)
            & ~np.isnan(sets.aval[k]) & ~np.isnan(sets.base[k]) for k in range(m)]
    differ = [i + 1 for i, u in enumerate(used) if not np.array_equal(u, used[0])]
    if differ:
        return not_estimable(
            f"the completed datasets analyse different participants ({int(used[0].sum())} in "
            f"imputation 1, {int(used[differ[0] - 1].sum())} in imputation {differ[0]}): a "
            "value left missing in some imputations only")
    what = f"{paramcd} {visit}".strip() or "the score"
    fits: list[AncovaResult] = []
    failed: dict[str, list[int]] = {}
    for i in range(1, m + 1):
        try:
            fits.append(fit(_design(sets, i - 1, plan, what), alpha=alpha,
                            stratifiers=plan.stratifiers, **ids))
        except NotEstimable as exc:
            failed.setdefault(exc.reason, []).append(i)
    if failed:
        why = "; ".join(f"{_which(imps)}: {reason}" for reason, imps in failed.items())
        n_failed = sum(len(v) for v in failed.values())
        return not_estimable(f"not estimable in {n_failed} of {m} imputations ({why})", fits)
    try:
        pooled = rubin([f.estimate for f in fits], [f.std_error**2 for f in fits],
                       df_complete=float(np.mean([f.df for f in fits])), alpha=alpha)
    except NotEstimable as exc:
        return not_estimable(exc.reason, fits)
    means, pooled_means = _pooled_means(fits, alpha)
    g, pooled_g = _pooled_g(fits, alpha)
    row = replace(
        fits[0], estimate=pooled.estimate, std_error=pooled.std_error, ci_low=pooled.ci_low,
        ci_high=pooled.ci_high, p_value=pooled.p_value, df=pooled.df,
        mean_treated=float(np.mean([f.mean_treated for f in fits])),
        mean_control=float(np.mean([f.mean_control for f in fits])),
        sd_treated=float(np.mean([f.sd_treated for f in fits])),
        sd_control=float(np.mean([f.sd_control for f in fits])),
        icc=None if fits[0].icc is None else float(np.mean([f.icc for f in fits])),
        icc_ci_low=None, icc_ci_high=None, adjusted=means, hedges=g)
    return AncovaMIResult(row, pooled, m, tuple(fits), (*pooled_means, pooled_g))


def _pooled_means(fits: Sequence[AncovaResult], alpha: float
                  ) -> tuple[tuple[ArmMean, ArmMean], tuple[PooledEstimate, PooledEstimate]]:
    """Each arm's adjusted mean pooled by Rubin's rules over the fits."""
    means, pools = [], []
    for k in (0, 1):
        arm = [f.adjusted[k] for f in fits]  # type: ignore[index]
        p = rubin([a.estimate for a in arm], [a.std_error**2 for a in arm],
                  df_complete=float(np.mean([a.df for a in arm])), alpha=alpha)
        means.append(ArmMean(arm[0].arm, p.estimate, p.std_error, p.ci_low, p.ci_high, p.df,
                             arm[0].n))
        pools.append(p)
    return (means[0], means[1]), (pools[0], pools[1])


def _pooled_g(fits: Sequence[AncovaResult], alpha: float
              ) -> tuple[HedgesG, PooledEstimate | None]:
    """Hedges' g pooled by Rubin's rules over the fits (each fit's g on its own data set's
    pooled SD); not estimable when it is not in some data set. The pooled SD and J shown
    are the means over the data sets."""
    gs = [f.hedges for f in fits]
    bad = [i + 1 for i, g in enumerate(gs) if g is None or g.status != ESTIMATED]
    if bad:
        first = gs[bad[0] - 1]
        why = first.reason if first is not None else "not estimable"
        return not_estimable_g(f"{_which(bad)}: {why}"), None
    try:
        p = rubin([g.estimate for g in gs], [g.std_error**2 for g in gs],  # type: ignore[union-attr]
                  df_complete=float(np.mean([g.df for g in gs])), alpha=alpha)  # type: ignore[union-attr]
    except NotEstimable as exc:
        return not_estimable_g(exc.reason), None
    return HedgesG(p.estimate, p.std_error, p.ci_low, p.ci_high, p.df,
                   float(np.mean([g.sd_pooled for g in gs])),  # type: ignore[union-attr]
                   float(np.mean([g.j for g in gs]))), p  # type: ignore[union-attr]


def questionnaire_results(adqs: pd.DataFrame, adsl: pd.DataFrame, plan: AnalysisPlan,
                          completed: Sequence[pd.DataFrame] | None = None,
                          frame: ImputationFrame | None = None) -> pd.DataFrame:
    """The questionnaires results table: for every score (``PARAMCD`` order) × visit of
    the plan, in blocks of four rows (:data:`outcomes.questionnaires.ROW_TYPES`), the naive
    rows (``clustering = none``: the ANCOVA pooled over the
    ``completed`` datasets, then the complete-case ANCOVA; ``analysis`` tells them apart,
    the complete-case rows have no ``riv``, ``fmi``, ``m``), then the same two by the
    partially nested model (``clustering = peer_worker``, with ``icc``, ``icc_ci_low``,
    ``icc_ci_high``, ``n_clusters``). Without ``completed``: the complete-case rows only.
    :func:`complete_case_rows` then :func:`questionnaire_table`.
    """
    return questionnaire_table(complete_case_rows(adqs, adsl, plan), adsl, plan, completed,
                               frame)


def complete_case_rows(adqs: pd.DataFrame, adsl: pd.DataFrame, plan: AnalysisPlan
                       ) -> dict[str, pd.DataFrame]:
    """The complete-case rows of both models (``clustering`` -> rows of
    :func:`outcomes.questionnaires.questionnaire_ancova`): all that ADQS is read for, so a
    caller can free ADQS before the completed data sets are read (issue 17)."""
    both: dict[str, dict[str, Any]] = {NONE: dict(fit=fit_ancova),
                                       PEER_WORKER: dict(fit=fit_nested_ancova,
                                                         clustering=PEER_WORKER)}
    return {k: questionnaire_ancova(adqs, adsl, treated_arm=plan.treated_arm,
                                    control_arm=plan.control_arm, visits=plan.visits,
                                    stratifiers=plan.stratifiers, **kw)
            for k, kw in both.items()}


def questionnaire_table(cc: dict[str, pd.DataFrame], adsl: pd.DataFrame, plan: AnalysisPlan,
                        completed: Sequence[pd.DataFrame] | None = None,
                        frame: ImputationFrame | None = None) -> pd.DataFrame:
    """:func:`questionnaire_results` from its complete-case rows ``cc``
    (:func:`complete_case_rows`)."""
    if cc[NONE].empty:
        return with_estimands(cc[NONE], QUESTIONNAIRES, plan.estimands)
    clusters = pd.Series(cluster_ids(adsl, plan.treated_arm).to_numpy(),
                         index=adsl["USUBJID"].astype(str))
    cells = None if frame is None else not_imputed_cells(frame, ImputationSettings.from_plan(plan))
    mi_fit: dict[str, Callable[..., AncovaResult]] = {
        NONE: fit_ancova, PEER_WORKER: partial(fit_nested_ancova, icc_ci=False)}
    frames = []
    size = len(ROW_TYPES)
    for k in range(0, len(cc[NONE]), size):
        row = cc[NONE].iloc[k]
        # one set of designs for both models (the clusters unused by OLS)
        sets = None if completed is None else score_sets(
            completed, row["paramcd"], row["avisit"], plan, clusters, cells)
        for kind in (NONE, PEER_WORKER):
            if sets is not None:
                mi = ancova_mi(sets, row["paramcd"], row["avisit"], plan, param=row["param"],
                               fit=mi_fit[kind], clustering=kind)
                frames.append(mi.to_frame())
            frames.append(cc[kind].iloc[k:k + size])
    columns = frames[0].columns if completed is not None else cc[NONE].columns
    return with_estimands(pd.concat(frames, ignore_index=True)[columns], QUESTIONNAIRES,
                          plan.estimands)
