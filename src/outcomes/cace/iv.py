"""Two-stage least squares with robust variances and first-stage diagnostics (docs/cace.md).

The model is y = X β + ε with X = [W, D]: exogenous covariates W (intercept, baseline
score, stratifiers) and endogenous regressors D (receipt of peer support, or the number of
contacts); the instruments are Z = [W, Z_ex], the covariates and the excluded instruments
(the randomised arm; for the dose–response model also arm × baseline covariates). With
X̂ = P_Z X the fitted values of the first stage,

    β̂ = (X̂'X̂)⁻¹ X̂'y,    e = y − X β̂  (residuals with the observed D, not X̂),

and the sandwich variance

    V = c · (X̂'X̂)⁻¹ (Σ_g u_g u_g') (X̂'X̂)⁻¹,    u_g = Σ_{i∈g} x̂_i e_i,

HC1 with every participant a cluster (c = n/(n−k)) or CR1 with the peer-worker clusters
of :func:`outcomes.clustering.cluster_ids` (c = G/(G−1) · (n−1)/(n−k)): Stata's
``ivregress 2sls, vce(robust) small`` and ``vce(cluster) small``, R
``sandwich::vcovHC(ivreg fit, type = "HC1")`` and ``vcovCL(..., type = "HC1")``. The
reference distribution is t(n−k) for HC1 and t(G−1) for CR1 (Cameron & Miller 2015).

Why hand-written: statsmodels' only 2SLS is ``statsmodels.sandbox.regression.gmm.IV2SLS``
(sandbox, not the supported API, no cluster-robust variance); ``linearmodels.IV2SLS`` has
both but would add a compiled dependency (and formulaic, pyhdfe) for a few lines of linear
algebra, and its first-stage diagnostics differ from those wanted here (partial F with the
fit's own variance, singleton clusters). The numbers are checked against R ``AER::ivreg``
with ``sandwich`` and against ``linearmodels`` in tests/test_cace_iv.py.

References
----------
- Angrist JD, Imbens GW, Rubin DB. Identification of causal effects using instrumental
  variables. JASA 1996;91:444-455.
- Wooldridge JM. Econometric Analysis of Cross Section and Panel Data, 2nd ed. MIT Press
  2010, §5.2 (2SLS), §5.2.3 (robust variance), §6.3.3 (overidentification tests).
- Staiger D, Stock JH. Instrumental variables regression with weak instruments.
  Econometrica 1997;65:557-586 (the rule of thumb F < 10).
- Sargan JD. The estimation of economic relationships using instrumental variables.
  Econometrica 1958;26:393-415. Hansen LP. Large sample properties of generalized method
  of moments estimators. Econometrica 1982;50:1029-1054.
- Cameron AC, Miller DL. A practitioner's guide to cluster-robust inference. J Hum Resour
  2015;50:317-372.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from outcomes.clustering import NONE, PEER_WORKER, cluster_codes
from outcomes.clustering.robust import clustered_meat, coded_cluster_sums
from outcomes.errors import NotEstimable
from outcomes.linalg import aliased_columns, check_full_rank

#: Staiger & Stock's (1997) rule of thumb: a first-stage F below this flags weak instruments.
WEAK_F = 10.0
INTERCEPT = "(Intercept)"


@dataclass(frozen=True)
class FirstStage:
    """The first-stage regression of one endogenous regressor on all the instruments.

    ``estimate``/``std_error``: coefficient of the first excluded instrument (the arm: for
    a 0/1 receipt, the covariate-adjusted difference in the proportion who engage, the
    compliance rate difference), with the fit's variance (HC1 or CR1). ``f``: the partial
    F of the excluded instruments, ((RSS₀ − RSS₁)/q) / (RSS₁/(n − l)) on F(q, n − l)
    (R ``AER`` "Weak instruments"); ``robust_f``: the Wald statistic of the same hypothesis
    with the fit's variance, divided by q, on F(q, ``robust_f_df2``) (n − l for HC1, G − 1
    for CR1). ``partial_r2`` = (RSS₀ − RSS₁)/RSS₀. ``weak``: ``robust_f`` < 10.
    """

    endogenous: str
    estimate: float
    std_error: float
    f: float
    f_df1: int
    f_df2: int
    f_p_value: float
    robust_f: float
    robust_f_df2: int
    robust_f_p_value: float
    partial_r2: float
    weak: bool


@dataclass(frozen=True)
class Overidentification:
    """Tests of the overidentifying restrictions (q − p > 0 excluded instruments beyond the
    p endogenous regressors), both χ²(q − p).

    ``sargan``: n R² of the 2SLS residuals on the instruments (R ``AER`` "Sargan"), valid
    under homoskedasticity. ``hansen_j``: Hansen's J of the two-step efficient GMM fit whose
    weight is the inverse of the moments' variance from the 2SLS residuals, summed within
    clusters when there are clusters (robust to heteroskedasticity and to clustering).
    """

    df: int
    sargan: float
    sargan_p_value: float
    hansen_j: float
    hansen_j_p_value: float


@dataclass(frozen=True)
class IVFit:
    """A 2SLS fit: coefficients of ``names`` (covariates then endogenous regressors), the
    variance ``cov`` (``variance`` = HC1 or CR1), the t reference's ``df`` and a
    :class:`FirstStage` per endogenous regressor."""

    names: tuple[str, ...]
    endogenous: tuple[str, ...]
    instruments: tuple[str, ...]
    params: np.ndarray
    cov: np.ndarray
    n: int
    df_resid: int
    variance: str
    df: int
    n_clusters: int | None
    first_stage: tuple[FirstStage, ...]
    overidentification: Overidentification | None
    alpha: float = 0.05

    @property
    def clustering(self) -> str:
        """``peer_worker`` for the cluster-robust fit, ``none`` otherwise."""
        return PEER_WORKER if self.n_clusters is not None else NONE

    def _at(self, name: str) -> int:
        return self.names.index(name)

    def estimate(self, name: str) -> float:
        return float(self.params[self._at(name)])

    def std_error(self, name: str) -> float:
        j = self._at(name)
        return float(np.sqrt(self.cov[j, j]))

    def conf_int(self, name: str) -> tuple[float, float]:
        half = stats.t.ppf(1 - self.alpha / 2, self.df) * self.std_error(name)
        return self.estimate(name) - half, self.estimate(name) + half

    def p_value(self, name: str) -> float:
        return float(2 * stats.t.sf(abs(self.estimate(name) / self.std_error(name)), self.df))

    def row(self, name: str) -> dict:
        """The row of endogenous regressor ``name``: its effect with CI and p-value, its
        first stage and the overidentification tests (NA when just identified)."""
        ov = self.overidentification
        na = float("nan")
        fs = self.first_stage[self.endogenous.index(name)]
        lo, hi = self.conf_int(name)
        return {
            "term": name, "clustering": self.clustering,
            "estimate": self.estimate(name), "std_error": self.std_error(name),
            "ci_low": lo, "ci_high": hi, "p_value": self.p_value(name),
            "variance": self.variance, "df": self.df, "n": self.n,
            "n_clusters": na if self.n_clusters is None else self.n_clusters,
            "instruments": " + ".join(self.instruments),
            "first_stage_estimate": fs.estimate, "first_stage_std_error": fs.std_error,
            "first_stage_f": fs.f, "first_stage_f_df1": fs.f_df1,
            "first_stage_f_df2": fs.f_df2, "first_stage_f_p_value": fs.f_p_value,
            "first_stage_robust_f": fs.robust_f,
            "first_stage_robust_f_df2": fs.robust_f_df2,
            "first_stage_robust_f_p_value": fs.robust_f_p_value,
            "partial_r2": fs.partial_r2, "weak_instruments": fs.weak,
            "overid_df": na if ov is None else ov.df,
            "sargan": na if ov is None else ov.sargan,
            "sargan_p_value": na if ov is None else ov.sargan_p_value,
            "hansen_j": na if ov is None else ov.hansen_j,
            "hansen_j_p_value": na if ov is None else ov.hansen_j_p_value,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per endogenous regressor (:meth:`row`)."""
        return pd.DataFrame([self.row(name) for name in self.endogenous])


def zero_one(x) -> bool:
    """Every value 0 or 1 (none missing); True when empty."""
    v = np.asarray(x, float)
    return bool(((v == 0.0) | (v == 1.0)).all())


def _frame(x, n: int, default: str) -> pd.DataFrame:
    if x is None:
        return pd.DataFrame(index=range(n))
    if isinstance(x, pd.Series):
        return x.rename(x.name if x.name is not None else default).to_frame().reset_index(drop=True)
    if isinstance(x, pd.DataFrame):
        return x.reset_index(drop=True)
    a = np.asarray(x, float).reshape(n, -1)
    return pd.DataFrame(a, columns=[default if a.shape[1] == 1 else f"{default}{j + 1}"
                                    for j in range(a.shape[1])])


@dataclass(frozen=True)
class Clusters:
    """Cluster labels coded once for every cluster-robust variance of the same rows (the
    CR1 fits of one outcome share them across designs and imputations).

    ``codes``: :func:`outcomes.clustering.cluster_codes` of the labels (G clusters);
    ``sums_at``: each row's place among the cluster sums of
    :func:`outcomes.clustering.robust.cluster_robust_cov`, which codes the codes again as
    text ("10" before "2"), so that the sums and the meat are added in its order and the
    variance is the same to the last bit (tests/test_cace_iv.py)."""

    codes: np.ndarray
    n_clusters: int
    sums_at: np.ndarray

    @classmethod
    def of(cls, labels) -> Clusters:
        """The labels of every row (text, as :func:`outcomes.clustering.cluster_ids`)."""
        codes, G = cluster_codes(np.asarray(labels, dtype=str))
        return cls(codes, G, cluster_codes(np.arange(G))[0][codes])

    def meat(self, contributions: np.ndarray, adjust: bool) -> np.ndarray:
        """Σ_g U_g U_g' (times G/(G−1) when ``adjust``), as ``cluster_robust_cov``
        without a bread; :class:`NotEstimable` (its reason) with fewer than 2 clusters."""
        return clustered_meat(coded_cluster_sums(contributions, self.sums_at, self.n_clusters),
                              adjust=adjust)


def _sandwich(contributions: np.ndarray, bread: np.ndarray, clusters: Clusters | None,
              k: int) -> np.ndarray:
    """HC1 (``clusters`` None: every row its own cluster) or CR1 with ``clusters``: the
    cluster-robust variance of :func:`outcomes.clustering.robust.cluster_robust_cov` (its
    G/(G−1)) times (n−1)/(n−k)."""
    n = contributions.shape[0]
    if clusters is None:  # every row its own cluster: G/(G−1) · (n−1)/(n−k) = n/(n−k)
        return bread @ (contributions.T @ contributions) @ bread.T * (n / (n - k))
    return bread @ clusters.meat(contributions, adjust=True) @ bread.T * ((n - 1) / (n - k))


def _root_weights(weights, n: int, what: str) -> np.ndarray:
    w = np.asarray(weights, float).ravel()
    if w.size != n:
        raise ValueError(f"IV model of {what}: {w.size} weights for {n} rows")
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise ValueError(f"IV model of {what}: weights must be finite and positive (leave "
                         "out the rows of weight 0)")
    return np.sqrt(w)


def _ols(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and residuals of the least-squares fit of ``b`` on ``A``."""
    coef = np.linalg.lstsq(A, b, rcond=None)[0]
    return coef, b - A @ coef


@dataclass(frozen=True)
class _FirstStageFit:
    """The part of a first stage that does not depend on the variance."""

    name: str
    pi: np.ndarray
    rss0: float
    rss1: float
    contributions: np.ndarray  # Z u₁


class IVModel:
    """A 2SLS fit up to its variance (:func:`iv_model`): the coefficients, residuals and
    first stages, which do not depend on the clusters. :meth:`fit` adds the HC1 or CR1
    variance and the diagnostics that use it, so the fits of both designs share the rest."""

    def __init__(self, names: list[str], endog: list[str], excl: list[str], y: np.ndarray,
                 X: np.ndarray, Z: np.ndarray, Xhat: np.ndarray, beta: np.ndarray,
                 e: np.ndarray, first: list[_FirstStageFit], centre: bool, alpha: float):
        self.names, self.endog, self.excl = names, endog, excl
        self.n, self.k, self.l = y.size, X.shape[1], Z.shape[1]
        self.beta, self.alpha = beta, alpha
        self.bread = np.linalg.inv(Xhat.T @ Xhat)
        self.contributions = Xhat * e[:, None]
        self.first = first
        self.Z_bread = np.linalg.inv(Z.T @ Z) if first else None
        self.overid = (_OveridFit(y, X, Z, e, len(excl) - len(endog), centre)
                       if len(excl) > len(endog) else None)

    def fit(self, clusters: Clusters | Sequence[str] | np.ndarray | None = None) -> IVFit:
        """The fit with the HC1 variance (``clusters`` None) or CR1 by ``clusters`` (labels
        per row, or :class:`Clusters`)."""
        if clusters is not None and not isinstance(clusters, Clusters):
            labels = np.asarray(clusters, dtype=str)
            if labels.size != self.n:
                raise ValueError(f"{labels.size} cluster labels for {self.n} rows")
            clusters = Clusters.of(labels)
        n, k, l_ = self.n, self.k, self.l
        cov = _sandwich(self.contributions, self.bread, clusters, k)
        df = n - k if clusters is None else clusters.n_clusters - 1
        q = len(self.excl)
        Z_bread = self.Z_bread  # None exactly when there are no first stages
        first = tuple(_first_stage(fs, Z_bread, n, l_, q, clusters,
                                   df if clusters is not None else n - l_)
                      for fs in self.first) if Z_bread is not None else ()
        return IVFit(names=tuple(self.names), endogenous=tuple(self.endog),
                     instruments=tuple(self.excl), params=self.beta, cov=cov, n=n,
                     df_resid=n - k, variance="HC1" if clusters is None else "CR1",
                     df=int(df), n_clusters=None if clusters is None
                     else int(clusters.n_clusters), first_stage=first,
                     overidentification=None if self.overid is None
                     else self.overid.test(clusters),
                     alpha=self.alpha)


def iv_model(
    y,
    endogenous,
    covariates,
    instruments,
    *,
    weights=None,
    intercept: bool = True,
    alpha: float = 0.05,
    what: str = "the outcome",
) -> IVModel:
    """The 2SLS fit of :func:`two_stage_least_squares` without its variance (same
    arguments but the clusters): ``iv_model(...).fit(clusters)`` is
    ``two_stage_least_squares(..., clusters=clusters)``. Raises :class:`NotEstimable` as
    that does, but for too few clusters (:meth:`IVModel.fit`)."""
    yv = np.asarray(y, float).ravel()
    n = yv.size
    D, W, Zx = (_frame(endogenous, n, "D"), _frame(covariates, n, "W"),
                _frame(instruments, n, "Z"))
    if intercept:
        W.insert(0, INTERCEPT, 1.0)
    if weights is not None:
        root = _root_weights(weights, n, what)
        yv, D, W, Zx = yv * root, D.mul(root, axis=0), W.mul(root, axis=0), Zx.mul(root, axis=0)
    endog, exog, excl = list(D.columns), list(W.columns), list(Zx.columns)
    if len(excl) < len(endog):
        raise NotEstimable(f"IV model of {what}: {len(excl)} excluded instrument(s) for "
                           f"{len(endog)} endogenous regressor(s)")
    Wv = W.to_numpy(float)
    X = np.column_stack([Wv, D.to_numpy(float)]) if exog else D.to_numpy(float)
    Z = np.column_stack([Wv, Zx.to_numpy(float)]) if exog else Zx.to_numpy(float)
    names = exog + endog
    if not (np.isfinite(yv).all() and np.isfinite(X).all() and np.isfinite(Z).all()):
        raise ValueError(f"IV model of {what}: missing or non-finite values (pass complete "
                         "cases or an imputed dataset)")
    l_ = Z.shape[1]
    if n <= l_:
        raise NotEstimable(f"IV model of {what}: {n} participants for {l_} instruments and "
                           "covariates: no residual degree of freedom")
    icpt = INTERCEPT if intercept else None
    check_full_rank(X, names, model=f"IV model of {what}", intercept=icpt)
    Q, R = np.linalg.qr(Z)  # its R is that of the rank check's own QR (the same bits)
    check_full_rank(Z, exog + excl, model=f"instruments of the IV model of {what}",
                    intercept=icpt, r=R)
    Xhat = Q @ (Q.T @ X)
    weak = [a for a, _ in aliased_columns(Xhat, names) if a in endog]
    if weak:
        raise NotEstimable(f"IV model of {what}: the instruments ({', '.join(excl)}) do not "
                           f"identify the effect of {', '.join(weak)} (its first-stage fit "
                           "is a linear combination of the covariates)")
    beta, _ = _ols(Xhat, yv)
    e = yv - X @ beta
    if not (np.abs(e) > 1e-12 * max(1.0, float(np.abs(yv).max()))).any():
        raise NotEstimable(f"IV model of {what}: the model fits every outcome exactly (e.g. "
                           "the outcome is the same for everyone analysed, such as no event "
                           "at all): no residual variance, no standard error")
    first = [_first_stage_fit(D[c].to_numpy(float), Wv, Z, c) for c in endog]
    return IVModel(names, endog, excl, yv, X, Z, Xhat, beta, e, first,
                   centre=weights is None, alpha=alpha)


def two_stage_least_squares(
    y,
    endogenous,
    covariates,
    instruments,
    *,
    clusters: Sequence[str] | np.ndarray | None = None,
    weights=None,
    intercept: bool = True,
    alpha: float = 0.05,
    what: str = "the outcome",
) -> IVFit:
    """2SLS of ``y`` on the ``endogenous`` regressors (Series or DataFrame, one column
    each) and the ``covariates`` (DataFrame, or None), instrumented by the excluded
    ``instruments`` (Series or DataFrame) and the covariates; an intercept is added first
    when ``intercept``. Column names name the coefficients. ``clusters``: labels per row
    (:func:`outcomes.clustering.cluster_ids`) for the CR1 variance; HC1 without.
    ``weights`` (positive, e.g. inverse probability of censoring weights): weighted 2SLS,
    every row of y, X and Z scaled by √w (the weights treated as known, as R ``ivreg(...,
    weights =)`` with ``sandwich``); the first stage and the diagnostics are weighted too.

    Every value must be present (complete cases or one imputed dataset: the missing-data
    method is the caller's). Raises :class:`NotEstimable` (with the reason) when the
    effect is not identified: fewer excluded instruments than endogenous regressors, a
    rank-deficient design or instrument set (no one engages, one arm only), a first stage
    in which the instruments explain nothing, no residual degree of freedom, fewer than
    two clusters.
    """
    return iv_model(y, endogenous, covariates, instruments, weights=weights,
                    intercept=intercept, alpha=alpha, what=what).fit(clusters)


def _first_stage_fit(d: np.ndarray, W: np.ndarray, Z: np.ndarray, name: str) -> _FirstStageFit:
    pi, u1 = _ols(Z, d)
    rss1 = float(u1 @ u1)
    rss0 = float(d @ d) if W.shape[1] == 0 else float(np.sum(_ols(W, d)[1] ** 2))
    return _FirstStageFit(name, pi, rss0, rss1, Z * u1[:, None])


def _first_stage(fs: _FirstStageFit, Z_bread: np.ndarray, n: int, l_: int, q: int,
                 clusters: Clusters | None, robust_df2: int) -> FirstStage:
    pi, rss0, rss1 = fs.pi, fs.rss0, fs.rss1
    V = _sandwich(fs.contributions, Z_bread, clusters, l_)
    ex = slice(l_ - q, l_)
    b, Vb = pi[ex], V[ex, ex]
    if rss1 <= 1e-12 * rss0:  # the instruments predict D exactly (e.g. full compliance)
        f = robust = float("inf")
    else:
        f = ((rss0 - rss1) / q) / (rss1 / (n - l_))
        try:
            robust = float(b @ np.linalg.solve(Vb, b)) / q
        except np.linalg.LinAlgError:
            robust = float("nan")
    return FirstStage(
        endogenous=fs.name, estimate=float(b[0]), std_error=float(np.sqrt(Vb[0, 0])),
        f=float(f), f_df1=q, f_df2=n - l_, f_p_value=float(stats.f.sf(f, q, n - l_)),
        robust_f=robust, robust_f_df2=int(robust_df2),
        robust_f_p_value=float(stats.f.sf(robust, q, robust_df2)),
        partial_r2=(rss0 - rss1) / rss0, weak=bool(not robust >= WEAK_F))


class _OveridFit:
    """The overidentification tests: Sargan's (no variance) at once, Hansen's J per
    variance (:meth:`test`)."""

    def __init__(self, y: np.ndarray, X: np.ndarray, Z: np.ndarray, e: np.ndarray, df: int,
                 centre: bool = True):
        n = y.size
        # weighted (rows scaled by √w): the total sum of squares about the weighted mean of
        # the residuals, which is 0 (they are orthogonal to the fitted intercept √w)
        ec = e - e.mean() if centre else e
        self.sargan = n * (1 - float(np.sum(_ols(Z, e)[1] ** 2)) / float(ec @ ec))
        self.df, self.n, self.y, self.X, self.Z = df, n, y, X, Z
        self.U = Z * e[:, None]
        self.ZX, self.Zy = Z.T @ X / n, Z.T @ y / n

    def test(self, clusters: Clusters | None) -> Overidentification:
        n, U, ZX, Zy = self.n, self.U, self.ZX, self.Zy
        S = (U.T @ U if clusters is None else clusters.meat(U, adjust=False)) / n
        Sinv = np.linalg.pinv(S)
        b_gmm = np.linalg.solve(ZX.T @ Sinv @ ZX, ZX.T @ Sinv @ Zy)
        g = self.Z.T @ (self.y - self.X @ b_gmm) / n
        j = float(n * g @ Sinv @ g)
        return Overidentification(df=self.df, sargan=float(self.sargan),
                                  sargan_p_value=float(stats.chi2.sf(self.sargan, self.df)),
                                  hansen_j=j, hansen_j_p_value=float(stats.chi2.sf(j, self.df)))


def fit_cace(
    y,
    receipt,
    arm,
    covariates: pd.DataFrame | None = None,
    *,
    clusters: Sequence[str] | np.ndarray | None = None,
    weights=None,
    alpha: float = 0.05,
    what: str = "the outcome",
) -> IVFit:
    """The complier average causal effect: 2SLS of ``y`` on ``receipt`` (0/1, e.g.
    ``ENGFL`` = Y), instrumented by the randomised ``arm`` (0/1, 1 = offered peer
    support), adjusted for ``covariates`` (Angrist, Imbens & Rubin 1996). For a 0/1
    ``y`` the effect is a risk difference among compliers. See
    :func:`two_stage_least_squares` for the variance, ``weights`` and
    :class:`NotEstimable`."""
    return cace_model(y, receipt, arm, covariates, weights=weights, alpha=alpha,
                      what=what).fit(clusters)


def cace_model(y, receipt, arm, covariates: pd.DataFrame | None = None, *, weights=None,
               alpha: float = 0.05, what: str = "the outcome") -> IVModel:
    """:func:`fit_cace` up to its variance (:class:`IVModel`)."""
    r = pd.Series(np.asarray(receipt, float).ravel(),
                  name=getattr(receipt, "name", None) or "receipt")
    a = pd.Series(np.asarray(arm, float).ravel(), name=getattr(arm, "name", None) or "ARM")
    if not zero_one(r):
        raise ValueError("receipt must be 0/1")
    if not zero_one(a):
        raise ValueError("arm must be 0/1 (1 = offered peer support)")
    if r.sum() == 0:
        raise NotEstimable(f"CACE of {what}: no participant received peer support "
                           f"({r.name} is 0 for all)")
    return iv_model(y, r, covariates, a, weights=weights, alpha=alpha, what=what)
