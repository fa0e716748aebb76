"""Questionnaire outcomes: ANCOVA of each score at each follow-up visit (docs/questionnaires.md).

Each score at a follow-up visit is regressed on arm, its own baseline value and the
randomisation stratifiers of the plan (key ``stratifiers``; fixed effects, each as
indicators of its levels), by ordinary least squares (statsmodels' computation: :func:`ols`). The arm coefficient is
the adjusted mean difference (treated − control); complete cases for outcome and baseline,
the excluded participants counted. Reference: Vickers & Altman, BMJ 2001;323:1123
(analysing controlled trials with baseline and follow-up measurements); Kahan & Morris,
Stat Med 2012;31:328 (adjust for the stratifiers of the randomisation). Beside it: the
adjusted mean of each arm, the raw SD of each arm and Hedges' g
(:mod:`outcomes.ancova_effects`).

A score at a visit that cannot be analysed (fewer than 2 complete cases in an arm, no
residual degree of freedom, a rank-deficient design) gives a row with ``status = not
estimable`` and the reason (docs/survival.md lists the rules), never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from outcomes.ancova_effects import ArmMean, HedgesG, adjusted_means, arm_sds, standardised
from outcomes.clustering import NONE, cluster_ids
from outcomes.errors import ConfigError, NotEstimable
from outcomes.linalg import check_full_rank
from outcomes.plan import STRATIFIERS
from outcomes.survival._common import design

#: The ``analysis`` of the complete-case rows.
ANALYSIS = "questionnaire_ancova"
#: Complete cases (outcome and baseline) needed in each arm.
MIN_PER_ARM = 2
#: What the partially nested rows fill in (NA on the naive rows), after ``df``.
CLUSTER_COLUMNS = ("icc", "icc_ci_low", "icc_ci_high", "n_clusters")
#: The ``estimate_type`` of each row of one score at one visit, in the table's order: the
#: effect, the adjusted mean of the treated then the control arm, Hedges' g.
DIFFERENCE, ADJUSTED_MEAN, HEDGES_G = "adjusted_mean_difference", "adjusted_mean", "hedges_g"
ROW_TYPES = (DIFFERENCE, ADJUSTED_MEAN, ADJUSTED_MEAN, HEDGES_G)


@dataclass(frozen=True)
class AncovaResult:
    """Adjusted mean difference of one score at one visit."""

    paramcd: str
    param: str
    avisit: str
    treated_arm: str
    control_arm: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    n_treated: int
    n_control: int
    n_excluded: int
    mean_treated: float
    mean_control: float
    status: str = "estimated"
    reason: str = ""
    #: degrees of freedom of the t distribution of the CI and p-value (residual df; the
    #: Satterthwaite df of the partially nested model)
    df: float = float("nan")
    #: ``none``: everyone independent (this module's OLS); ``peer_worker``: the partially
    #: nested model (:mod:`outcomes.clustering.ancova`), with the treated arm's ICC, its
    #: CI and the peer-worker clusters analysed (None where not computed: NA in the table,
    #: and results without them compare equal)
    clustering: str = NONE
    icc: float | None = None
    icc_ci_low: float | None = None
    icc_ci_high: float | None = None
    n_clusters: int | None = None
    #: the raw SD of the score at the visit in each arm (participants analysed)
    sd_treated: float = float("nan")
    sd_control: float = float("nan")
    #: the adjusted mean of the treated and of the control arm (None: not estimable)
    adjusted: tuple[ArmMean, ArmMean] | None = None
    #: Hedges' g of the difference (None: not estimable for the difference's reason)
    hedges: HedgesG | None = None

    def to_frame(self) -> pd.DataFrame:
        """Four rows: the adjusted mean difference, the adjusted mean of the treated and
        of the control arm (``contrast`` = the arm, ``n`` its participants, no p-value),
        and Hedges' g (no p-value: the difference's is the test). The ICC columns are on
        the difference's row only; ``df`` is each row's own."""
        row = asdict(self)
        nan = float("nan")
        first = {
            "analysis": ANALYSIS,
            "clustering": self.clustering,
            "outcome": f"{self.paramcd} {self.avisit}",
            "contrast": f"{self.treated_arm} vs {self.control_arm}",
            "estimate_type": DIFFERENCE,
            "estimate": self.estimate,
            "std_error": self.std_error,
            **{k: row[k] for k in ("ci_low", "ci_high", "p_value", "n")},
            "paramcd": self.paramcd,
            "param": self.param,
            "avisit": self.avisit,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "n_excluded": self.n_excluded,
            "mean_treated": self.mean_treated,
            "mean_control": self.mean_control,
            "sd_treated": self.sd_treated,
            "sd_control": self.sd_control,
            "df": self.df,
            **{k: nan if row[k] is None else float(row[k]) for k in CLUSTER_COLUMNS},
            "status": self.status,
            "reason": self.reason,
        }
        no_icc = {k: nan for k in CLUSTER_COLUMNS}
        rows = [first]
        for k, arm in enumerate((self.treated_arm, self.control_arm)):
            m = None if self.adjusted is None else self.adjusted[k]
            rows.append({**first, "contrast": arm, "estimate_type": ADJUSTED_MEAN,
                         **_numbers(m), "p_value": nan,
                         "n": self.n_treated if k == 0 else self.n_control, **no_icc})
        g = self.hedges
        rows.append({**first, "estimate_type": HEDGES_G, **_numbers(g), "p_value": nan,
                     **no_icc,
                     **({} if g is None else {"status": g.status, "reason": g.reason})})
        return pd.DataFrame(rows)


def _numbers(x: ArmMean | HedgesG | None) -> dict[str, float]:
    keys = ("estimate", "ci_low", "ci_high", "std_error", "df")
    return {k: float("nan") if x is None else float(getattr(x, k)) for k in keys}


def fit_ancova(
    data: pd.DataFrame | AncovaDesign,
    *,
    treated_arm: str,
    control_arm: str,
    paramcd: str = "",
    param: str = "",
    avisit: str = "",
    alpha: float = 0.05,
    stratifiers: Sequence[str] = STRATIFIERS,
) -> AncovaResult:
    """ANCOVA on one score: ``AVAL ~ arm + BASE + stratifiers`` (each stratifier as
    indicators of its levels), with the adjusted means and Hedges' g.

    ``data`` has one row per randomised participant with ``ARM``, the ``stratifiers``,
    ``AVAL`` (follow-up value, NaN when missing) and ``BASE`` (baseline value, NaN when
    missing); or it is the design :func:`ancova_design` made of such data (checked).

    Raises :class:`NotEstimable` when an arm has fewer than :data:`MIN_PER_ARM` complete
    cases, when no residual degree of freedom is left, or when the design is rank-deficient
    (e.g. a constant baseline, a site holding one arm only): see :func:`check_ancova_design`.
    """
    design = data if isinstance(data, AncovaDesign) else ancova_design(
        data, treated_arm=treated_arm, control_arm=control_arm,
        what=f"{paramcd} {avisit}".strip() or "the score", stratifiers=stratifiers)
    y, exog, treated = design.y, design.exog, design.treated
    fit = ols(y, exog, alpha, design.basis)
    n_t, n_c = int(treated.sum()), int(len(y) - treated.sum())
    sds = arm_sds(y, treated)
    return AncovaResult(
        paramcd=paramcd,
        param=param,
        avisit=avisit,
        treated_arm=treated_arm,
        control_arm=control_arm,
        estimate=float(fit.params[1]),
        std_error=float(fit.bse[1]),
        ci_low=float(fit.ci_low[1]),
        ci_high=float(fit.ci_high[1]),
        p_value=float(fit.pvalues[1]),
        n=int(len(y)),
        n_treated=n_t,
        n_control=n_c,
        n_excluded=design.n_excluded,
        mean_treated=float(y[treated == 1].mean()) if treated.any() else float("nan"),
        mean_control=float(y[treated == 0].mean()) if (treated == 0).any() else float("nan"),
        df=fit.df_resid,
        sd_treated=sds[0], sd_control=sds[1],
        adjusted=adjusted_means(fit.params, fit.cov, exog, (treated_arm, control_arm),
                                (n_t, n_c), (fit.df_resid, fit.df_resid), alpha=alpha),
        hedges=standardised(float(fit.params[1]), float(fit.bse[1]), fit.df_resid, sds,
                            (n_t, n_c), alpha),
    )


@dataclass(frozen=True)
class OlsFit:
    """An ordinary least-squares fit: what :func:`ols` gives."""

    params: np.ndarray
    bse: np.ndarray
    cov: np.ndarray
    df_resid: float
    pvalues: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray


def ols(y: np.ndarray, exog: np.ndarray, alpha: float = 0.05,
        basis: dict | None = None) -> OlsFit:
    """``statsmodels.OLS(y, exog).fit()`` (its default, the pseudo-inverse of ``exog`` by
    SVD) with its t CIs and p-values, the same operations bit for bit
    (tests/test_questionnaires.py compares them), without the library's overhead; the
    pseudo-inverse, ``(XᵀX)⁻¹`` and the rank are kept in ``basis`` (a dict held with
    ``exog``) for the next ``y`` on the same design: the m completed data sets and the
    tipping-point grid differ in the outcome only."""
    basis = {} if basis is None else basis
    if not basis:
        u, s, vt = np.linalg.svd(exog, False)
        s_orig = np.copy(s)
        cutoff = 1e-15 * np.maximum.reduce(s)
        for i in range(min(exog.shape)):
            s[i] = 1.0 / s[i] if s[i] > cutoff else 0.0
        pinv = np.dot(np.transpose(vt), np.multiply(s[:, np.newaxis], np.transpose(u)))
        basis.update(pinv=pinv, normalized=np.dot(pinv, np.transpose(pinv)),
                     df_resid=float(exog.shape[0]) - np.linalg.matrix_rank(np.diag(s_orig)))
    params = np.dot(basis["pinv"], y)
    df_resid = basis["df_resid"]
    resid = y - np.dot(exog, params)
    cov = basis["normalized"] * (np.dot(resid, resid) / df_resid)
    bse = np.sqrt(np.diag(cov))
    q = stats.t.ppf(1 - alpha / 2, df_resid)
    return OlsFit(params, bse, cov, float(df_resid),
                  stats.t.sf(np.abs(params / bse), df_resid) * 2,
                  params - q * bse, params + q * bse)


@dataclass(frozen=True)
class AncovaDesign:
    """The complete cases of one score at one visit and the ANCOVA's design on them."""

    use: pd.Series  # over the input rows: in either arm, with the value and the baseline
    data: pd.DataFrame  # the rows used
    y: np.ndarray
    exog: np.ndarray  # intercept, arm (1 = treated), baseline, stratifier indicators
    names: list[str]
    treated: np.ndarray  # 1.0 for the treated arm
    #: participants of either arm left out (no value or no baseline)
    n_excluded: int = 0
    #: the ``CLUSTER`` labels of the rows used (None without the column), or their
    #: :func:`outcomes.clustering.peer_worker_codes`
    clusters: np.ndarray | None = None
    #: what :func:`ols` keeps of ``exog`` (shared by the designs with the same ``exog``)
    basis: dict = field(default_factory=dict, repr=False, compare=False)


def stratifier_levels(data: pd.DataFrame, stratifiers: Sequence[str]) -> pd.DataFrame:
    """The ``stratifiers`` of ``data`` as text categories, a missing value its own level
    ``""`` (the missing-indicator method, valid for a baseline covariate of a randomised
    comparison: White & Thompson, Stat Med 2005;24:993)."""
    absent = [c for c in stratifiers if c not in data.columns]
    if absent:
        raise ConfigError(f"config key 'stratifiers': '{absent[0]}' is not a column of ADSL "
                          f"(the data have {', '.join(map(str, data.columns))})")
    return pd.DataFrame({c: data[c].astype(object).where(data[c].notna(), "").astype(str)
                         for c in stratifiers}, index=data.index)


def ancova_design(data: pd.DataFrame, *, treated_arm: str, control_arm: str,
                  what: str, stratifiers: Sequence[str] = STRATIFIERS,
                  check: bool = True) -> AncovaDesign:
    """The design of ``AVAL ~ arm + BASE + stratifiers`` on the complete cases of ``data``
    (a stratifier's indicators for every level but the first in sorted order:
    :func:`outcomes.survival._common.design`), checked by :func:`check_ancova_design`
    (:class:`NotEstimable` when it fails; not checked with ``check=False``)."""
    arm = data["ARM"].astype(str)
    use = arm.isin([treated_arm, control_arm]) & data["AVAL"].notna() & data["BASE"].notna()
    d = data.loc[use]
    treated = (d["ARM"].astype(str) == treated_arm).to_numpy(dtype=float)
    strata = design(stratifier_levels(d, stratifiers), stratifiers)
    exog = np.column_stack(
        [np.ones(len(d)), treated, d["BASE"].to_numpy(dtype=float), strata.to_numpy(dtype=float)]
    )
    names = ["(Intercept)", "ARM", "BASE", *strata.columns]
    if check:
        check_ancova_design(exog, names, treated, treated_arm=treated_arm,
                            control_arm=control_arm, what=what)
    clusters = d["CLUSTER"].astype(str).to_numpy() if "CLUSTER" in d.columns else None
    return AncovaDesign(use, d, d["AVAL"].to_numpy(dtype=float), exog, names, treated,
                        int((arm.isin([treated_arm, control_arm]) & ~use).sum()), clusters)


def check_ancova_design(exog: np.ndarray, names: list[str], treated: np.ndarray, *,
                        treated_arm: str, control_arm: str, what: str) -> None:
    """The not-estimable rules of the ANCOVA (docs/survival.md), checked before fitting:
    at least :data:`MIN_PER_ARM` complete cases per arm (a mean difference needs a
    within-arm variance), more complete cases than coefficients (a residual variance, so
    a standard error), and a design of full column rank."""
    for arm, k in ((treated_arm, int(treated.sum())), (control_arm, int((treated == 0).sum()))):
        if k < MIN_PER_ARM:
            raise NotEstimable(f"{k} participant(s) in the {arm} arm with both the {what} "
                               f"value and the baseline (at least {MIN_PER_ARM} needed)")
    n, p = exog.shape
    if n <= p:
        raise NotEstimable(f"{n} complete cases for {p} coefficients: no residual degree of "
                           "freedom")
    check_full_rank(exog, names, model=f"ANCOVA of {what}", intercept="(Intercept)")


def not_estimable_ancova(data: pd.DataFrame, reason: str, *, treated_arm: str,
                         control_arm: str, paramcd: str, param: str,
                         avisit: str) -> AncovaResult:
    """The row of a score at a visit that could not be analysed: counts kept, numbers NA."""
    arm = data["ARM"].astype(str)
    ok = arm.isin([treated_arm, control_arm]) & data["AVAL"].notna() & data["BASE"].notna()
    y = data["AVAL"].astype(float)
    nan = float("nan")
    n_t, n_c = int((ok & (arm == treated_arm)).sum()), int((ok & (arm == control_arm)).sum())
    sds = arm_sds(y[ok].to_numpy(), (arm[ok] == treated_arm).to_numpy(dtype=float))
    return AncovaResult(
        paramcd=paramcd, param=param, avisit=avisit, treated_arm=treated_arm,
        control_arm=control_arm, estimate=nan, std_error=nan, ci_low=nan, ci_high=nan,
        p_value=nan, n=n_t + n_c, n_treated=n_t, n_control=n_c,
        n_excluded=int((arm.isin([treated_arm, control_arm]) & ~ok).sum()),
        mean_treated=float(y[ok & (arm == treated_arm)].mean()) if n_t else nan,
        mean_control=float(y[ok & (arm == control_arm)].mean()) if n_c else nan,
        sd_treated=sds[0], sd_control=sds[1],
        status="not estimable", reason=reason,
    )


#: The ADQS columns the questionnaire analyses read (:func:`questionnaire_ancova`, and the
#: imputation frame's under MI): 6 of 17, 0.37 of 0.95 GB in pandas at n = 100,000.
ADQS_COLUMNS: tuple[str, ...] = ("USUBJID", "PARAMCD", "PARAM", "ABLFL", "AVISIT", "AVAL")


def questionnaire_ancova(
    adqs: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    treated_arm: str,
    control_arm: str,
    visits: tuple[str, ...] = ("month_4", "month_12"),
    fit: Callable[..., AncovaResult] = fit_ancova,
    clustering: str = NONE,
    stratifiers: Sequence[str] = STRATIFIERS,
) -> pd.DataFrame:
    """ANCOVA for every PARAMCD at every follow-up visit, adjusted for the ``stratifiers``
    (ADSL columns); four rows per score and visit (:meth:`AncovaResult.to_frame`).

    The denominator is every randomised participant in ADSL (ITT population): those
    without the follow-up or baseline value are counted in ``n_excluded``. A score at a
    visit that cannot be analysed (no value at that visit, too few complete cases, a
    singular design) gets a row with ``status = not estimable`` and the reason.

    ``fit``: the estimator (:func:`fit_ancova`, or the partially nested
    :func:`outcomes.clustering.ancova.fit_nested_ancova` with ``clustering =
    "peer_worker"``); its input has the participant's peer-worker cluster in ``CLUSTER``
    (:func:`outcomes.clustering.cluster_ids`).
    """
    frames = []
    base = pd.concat([adsl[["USUBJID", "ARM"]], stratifier_levels(adsl, stratifiers)], axis=1)
    base = base.assign(CLUSTER=cluster_ids(adsl, treated_arm))
    params = adqs[["PARAMCD", "PARAM"]].drop_duplicates().sort_values("PARAMCD")
    for paramcd, param in params.itertuples(index=False):
        rows = adqs[adqs["PARAMCD"] == paramcd]
        baseline = rows.loc[rows["ABLFL"] == "Y", ["USUBJID", "AVAL"]].rename(
            columns={"AVAL": "BASE"}
        )
        for visit in visits:
            follow = rows.loc[rows["AVISIT"] == visit, ["USUBJID", "AVAL"]]
            data = base.merge(follow, on="USUBJID", how="left").merge(
                baseline, on="USUBJID", how="left"
            )
            ids = dict(treated_arm=treated_arm, control_arm=control_arm, paramcd=paramcd,
                       param=param, avisit=visit)
            try:
                res = fit(data, stratifiers=stratifiers, **ids)
            except NotEstimable as exc:
                reason = exc.reason
                if follow["AVAL"].notna().sum() == 0:
                    reason = f"no {visit} value of {paramcd}"
                res = replace(not_estimable_ancova(data, reason, **ids), clustering=clustering)
            frames.append(res.to_frame())
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)
