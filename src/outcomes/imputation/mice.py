"""Multiple imputation by chained equations, as R ``mice`` does it (docs/imputation.md).

Every incomplete score column is imputed in turn from all the other columns of the model
(van Buuren 2018, FIMD 2nd ed., §4.5), ``iterations`` sweeps per imputed data set, each
started from random draws of the observed values (``mice.impute.sample``). Per column and
sweep the parameters are drawn from their posterior (FIMD algorithm 3.1, ``.norm.draw``):
σ̂² from the least-squares residuals, σ*² = RSS / χ²(n − p), β* = β̂ + σ* L⁻ᵀz with
LLᵀ = XᵀX. ``norm`` imputes Xβ* + σ*ε; ``pmm`` matches Xβ* of each missing case to the
X β̂ of the observed ones and takes the value of one of the ``donors`` nearest at random
(type-1 matching, FIMD §3.4, ``mice.impute.pmm``). Predictors that are constant, almost
perfectly correlated with the imputed column, or linearly dependent are left out of that
step as ``mice``'s ``remove.lindep`` does. A column with cells to impute but fewer than 2
observed values in a group cannot be imputed there: its cells stay missing in every data set,
it is no predictor of the other columns in that group, and :class:`NotImputed` records it
(docs/imputation.md, *A column that cannot be imputed*).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.linalg.lapack import dpotrs, dtrtrs

from outcomes.errors import OutcomesError
from outcomes.imputation.frame import ImputationFrame
from outcomes.imputation.lindep import remove_lindep_gram
from outcomes.imputation.predictors import include_columns, quickpred, same_score_columns
from outcomes.imputation.settings import ImputationSettings
from outcomes.plan import stream_seed

#: mice's ridge penalty (its default).
RIDGE = 1e-5
#: The named stream of the plan's seed that the imputations draw from.
STREAM = "imputation"


#: The fewest observed values of a column in a group that it can be imputed from.
MIN_OBSERVED = 2


class ImputationError(OutcomesError):
    """The imputation cannot be made as asked (a δ for a column or arm the model lacks)."""


@dataclass(frozen=True)
class NotImputed:
    """Cells of ``column`` in the imputation group ``group`` (an arm, or ``both arms``)
    that are due but left missing in every completed data set, and why."""

    column: str
    group: str
    n_cells: int
    reason: str

    def describe(self) -> str:
        return f"{self.column} could not be imputed in {self.group} ({self.reason})"


@dataclass(frozen=True)
class Design:
    """The numeric matrix of one imputation model and what to do with each column."""

    names: list[str]
    values: np.ndarray          # n x q, NaN where missing (to impute, or not due)
    groups: list[tuple[str, np.ndarray]]  # (label, row indices)
    targets: list[int]          # columns with cells to impute, in visiting order
    todo: np.ndarray            # n x q, True where a cell is imputed
    row_arm: np.ndarray
    #: group label -> the columns that cannot be imputed in that group (todo False there)
    dropped: dict[str, tuple[int, ...]]
    gaps: tuple[NotImputed, ...]
    #: columns that always predict under ``quickpred`` (the plan's include list)
    include: tuple[int, ...] = ()
    #: q x q, True where two columns are one PARAMCD at different visits
    same_score: np.ndarray | None = None

    def group_matrix(self, label: str) -> pd.DataFrame:
        """One group's model matrix as the chained equations start from it: NaN in the cells
        to impute, not-due cells filled (for running the same model elsewhere, e.g. R mice)."""
        rows = dict(self.groups)[label]
        z = self.values[rows].copy()
        _fill_not_due(z, self.todo[rows])
        return pd.DataFrame(z, columns=self.names)


@dataclass(frozen=True)
class ImputedData:
    """The ``m`` completed data sets of an :class:`ImputationFrame`.

    ``imputed``: True in the cells of ``frame.data`` that were imputed (the same cells in
    every data set); ``values[column]``: m × (imputed rows of that column) array;
    ``not_imputed``: the due cells left missing (:class:`NotImputed`).
    """

    frame: ImputationFrame
    settings: ImputationSettings
    imputed: pd.DataFrame
    values: dict[str, np.ndarray]
    not_imputed: tuple[NotImputed, ...] = ()
    #: (group, column) -> the columns that predict it in that group's chained equations
    predictors: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    @property
    def m(self) -> int:
        return self.settings.m

    def completed(self, i: int) -> pd.DataFrame:
        """Completed data set ``i`` (1..m), columns as ``frame.data``."""
        if not 1 <= i <= self.m:
            raise IndexError(f"imputation {i} is not in 1..{self.m}")
        out = self.frame.data.copy()
        for col, vals in self.values.items():
            rows = self.imputed[col].to_numpy()
            arr = out[col].to_numpy(dtype=float, copy=True)
            arr[rows] = vals[i - 1]
            out[col] = arr
        return out

    def long(self) -> pd.DataFrame:
        """All data sets stacked, ``.imp`` first (0 = incomplete data), as R
        ``mice::complete(imp, "long", include = TRUE)``."""
        frames = [self.frame.data, *(self.completed(i) for i in range(1, self.m + 1))]
        out = pd.concat(frames, ignore_index=True)
        out.insert(0, ".imp", np.repeat(np.arange(self.m + 1, dtype="int64"), len(self.frame.data)))
        return out


def imputation_rng(seed: int | np.random.SeedSequence, i: int) -> np.random.Generator:
    """The generator of imputation ``i`` (1..m): child ``i`` of the ``imputation`` stream of
    ``seed`` (a plan seed), or of ``seed`` itself when it is a SeedSequence. It does not
    depend on m, so imputation i is the same whatever the number of imputations."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else stream_seed(int(seed), STREAM)
    return np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, i)))


def _dummies(s: pd.Series, name: str) -> tuple[np.ndarray, list[str]]:
    levels = sorted(s.unique().tolist())
    return (np.column_stack([(s == v).to_numpy(dtype=float) for v in levels[1:]])
            if len(levels) > 1 else np.empty((len(s), 0)),
            [f"{name}[{v}]" for v in levels[1:]])


def design(frame: ImputationFrame, settings: ImputationSettings) -> Design:
    data, elig = frame.data, frame.eligible
    passive = {c for c, _ in frame.passive}
    active = [c for c in frame.score_columns if c not in passive]
    cols: list[np.ndarray] = []
    names: list[str] = []
    todo: list[np.ndarray] = []
    for c in active:
        v = data[c].to_numpy(dtype=float, copy=True)
        miss, ok = np.isnan(v), elig[c].to_numpy()
        cols.append(v)
        names.append(c)
        todo.append(miss & ok)
    for v in frame.visits:
        na = ~elig[[c for c in elig.columns if c.endswith(f"_{v}")]].all(axis=1).to_numpy()
        if na.any():
            cols.append(na.astype(float))
            names.append(f"NOTDUE_{v}")
            todo.append(np.zeros(len(data), dtype=bool))
    for c in frame.predictor_columns:
        if c == "TRT01PN" and settings.by_arm:
            continue
        if c in frame.categorical:
            x, nm = _dummies(data[c], c)
            cols += list(x.T)
            names += nm
            todo += [np.zeros(len(data), dtype=bool)] * len(nm)
        else:
            v = data[c].to_numpy(dtype=float, copy=True)
            cols.append(v)
            names.append(c)
            todo.append(np.isnan(v))
    values = np.column_stack(cols)
    mask = np.column_stack(todo)
    arm = data["ARM"].to_numpy()
    if settings.by_arm:
        groups = [(a, np.flatnonzero(arm == a)) for a in frame.arms]
    else:
        groups = [("both arms", np.flatnonzero(np.isin(arm, frame.arms)))]
    dropped, gaps = {}, []
    for label, rows in groups:
        n_obs = (~np.isnan(values[rows])).sum(axis=0)
        wy = mask[rows].sum(axis=0)
        bad = tuple(int(j) for j in np.flatnonzero((wy > 0) & (n_obs < MIN_OBSERVED)))
        dropped[label] = bad
        for j in bad:
            gaps.append(NotImputed(names[j], label, int(wy[j]),
                                   f"{n_obs[j]} observed value{'s' if n_obs[j] != 1 else ''}, "
                                   f"at least {MIN_OBSERVED} needed"))
            mask[rows, j] = False
    targets = [j for j in range(len(names)) if mask[:, j].any()]
    _check_deltas(frame, settings)
    sel = settings.predictors
    include = (tuple(include_columns(names, sel.include, frame.visits))
               if sel.select == "quickpred" else ())
    return Design(names, values, groups, targets, mask, arm, dropped, tuple(gaps),
                  include=include, same_score=same_score_columns(names, frame.visits))


def group_predictors(model: Design, label: str,
                     settings: ImputationSettings) -> dict[int, np.ndarray]:
    """The predictors (column indices) of each column imputed in group ``label``: every
    other column (``select: all``, mice's default) or R ``mice::quickpred``'s selection on
    the group's data as the chained equations start from it, with the plan's ``include``
    columns and the same score's other visits (:mod:`outcomes.imputation.predictors`).
    The group's columns that cannot be imputed (``model.dropped``) never predict."""
    rows = dict(model.groups)[label]
    todo = model.todo[rows]
    q = len(model.names)
    dropped = model.dropped.get(label, ())
    sel = settings.predictors
    if sel.select == "quickpred":
        chosen = quickpred(model.group_matrix(label).to_numpy(), mincor=sel.mincor,
                           minpuc=sel.minpuc, include=model.include)
        chosen |= model.same_score
    else:
        chosen = ~np.eye(q, dtype=bool)
    chosen[:, list(dropped)] = False
    return {j: np.flatnonzero(chosen[j]) for j in model.targets if todo[:, j].any()}


def delta_of(delta: Mapping[tuple[str, str], float], column: str,
             arms: np.ndarray) -> np.ndarray:
    """The shift of ``column`` for each of the rows whose arms are ``arms`` (0 where the
    mapping ``(column, arm) -> δ`` has no entry)."""
    out = np.zeros(len(arms))
    arms = np.asarray(arms, dtype=object)
    for (col, arm), d in delta.items():
        if col == column:
            out[arms == arm] = d
    return out


def _fill_not_due(z: np.ndarray, todo: np.ndarray) -> None:
    """Cells missing but not to impute (not due: after death or the data cut) become the
    column's observed mean in the group: a constant as a predictor, beside the NOTDUE
    indicator of its visit; never a value to fit or impute."""
    gone = np.isnan(z) & ~todo
    for j in np.flatnonzero(gone.any(axis=0)):
        seen = ~np.isnan(z[:, j])
        z[gone[:, j], j] = z[seen, j].mean() if seen.any() else 0.0


def _check_deltas(frame: ImputationFrame, settings: ImputationSettings) -> None:
    for col, arm in settings.delta:
        if col not in frame.score_columns:
            raise ImputationError(f"delta for '{col}': not a score column of the imputation")
        if arm not in frame.arms:
            raise ImputationError(f"delta for '{col}' in arm '{arm}': not one of {frame.arms}")


def norm_draw(x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
              xtx: np.ndarray | None = None, xty: np.ndarray | None = None):
    """``.norm.draw``: least-squares β̂, σ* and β* drawn from their posterior (x has the
    intercept column; ``xtx`` = xᵀx and ``xty`` = xᵀy when already computed). Returns
    (β̂, β*, σ*)."""
    n, p = x.shape
    if xtx is None:
        xtx = x.T @ x
    try:
        chol = np.linalg.cholesky(xtx)
    except np.linalg.LinAlgError:  # mice: ridge penalty when XᵀX is singular
        chol = np.linalg.cholesky(xtx + np.diag(np.diag(xtx) * RIDGE))
    coef = _cho_solve(chol, x.T @ y if xty is None else xty)
    resid = y - x @ coef
    sigma = np.sqrt(resid @ resid / rng.chisquare(max(n - p, 1)))
    beta = coef + sigma * _solve_lt(chol, rng.standard_normal(int(p)))
    return coef, beta, sigma


def _cho_solve(chol: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``scipy.linalg.cho_solve((chol, True), b, check_finite=False)``: the LAPACK call it
    makes (``potrs``), without its checks (a tenth of a step at n = 600)."""
    x, info = dpotrs(chol, b, lower=1)
    if info:
        raise ValueError(f"potrs: illegal value in argument {-info}")
    return x


def _solve_lt(chol: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``scipy.linalg.solve_triangular(chol, b, lower=True, trans="T",
    check_finite=False)``: the LAPACK call it makes (``trtrs``, on the transposed system
    when ``chol`` is C-ordered, as it does)."""
    if chol.flags.f_contiguous:
        x, info = dtrtrs(chol, b, lower=1, trans=1)
    else:
        x, info = dtrtrs(chol.T, b, lower=0, trans=0)
    if info:
        raise np.linalg.LinAlgError(f"trtrs: singular or illegal argument ({info})")
    return x


def pmm_match(yhat_obs: np.ndarray, yhat_mis: np.ndarray, donors: int,
              rng: np.random.Generator) -> np.ndarray:
    """Index of the donor of each missing case: one of the ``donors`` observed cases
    nearest in predicted value, at random (mice's ``matchindex``)."""
    n = len(yhat_obs)
    k = min(donors, n)
    order = np.argsort(yhat_obs, kind="stable")
    ranked = yhat_obs[order]
    # the k nearest lie within k places either side of the insertion point
    start = np.clip(np.searchsorted(ranked, yhat_mis) - k, 0, max(n - 2 * k, 0))
    window = start[:, None] + np.arange(min(2 * k, n))
    dist = np.abs(ranked[window] - yhat_mis[:, None])
    near = np.take_along_axis(window, np.argsort(dist, axis=1, kind="stable")[:, :k], axis=1)
    return order[near[np.arange(len(yhat_mis)), rng.integers(k, size=len(yhat_mis))]]


#: From this many rows of a group on, :func:`_gather` takes the rows column by column.
COLUMNWISE_ROWS = 8192


def _gather(w: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``[1, w[rows][:, cols]]`` as a C-ordered array (the layout, hence the bits of every
    product, of ``np.column_stack``) from a Fortran-ordered ``w``, where the columns are
    contiguous. A large group's rows are taken column by column into a (cols × rows)
    buffer (contiguous reads and writes), then copied transposed once: ``w[:, cols][rows]``
    copies every row of the columns first, three passes over memory where one suffices (at
    n = 100,000 the gathers were half of the chained equations' CPU). A small group's
    columns stay in the caches, and there one call costs less than one per column."""
    out = np.empty((len(rows), len(cols) + 1))
    out[:, 0] = 1.0
    if w.shape[0] < COLUMNWISE_ROWS:
        out[:, 1:] = w[:, cols][rows]
        return out
    t = np.empty((len(cols), len(rows)))
    for k, c in enumerate(cols):
        np.take(w[:, c], rows, out=t[k], mode="clip")  # rows are in range: clip never acts
    out[:, 1:] = t.T
    return out


@dataclass(frozen=True)
class _Chain:
    """One group's chained equations as every imputation starts them: ``start`` the group's
    rows (Fortran-ordered, :func:`_gather`) with the not-due cells filled and the cells to
    impute NaN; ``steps`` per imputed column j, in visiting order: (j, observed rows, rows
    to impute, predictors, δ of those rows or None)."""

    start: np.ndarray
    steps: tuple[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None], ...]


def _chain_of(z: np.ndarray, todo: np.ndarray, arm: np.ndarray, model: Design,
              preds_of: dict[int, np.ndarray], settings: ImputationSettings) -> _Chain:
    """The :class:`_Chain` of one group's rows ``z`` (changed in place), column j predicted
    by ``preds_of[j]`` (:func:`group_predictors`), δ after every draw when
    ``settings.delta_mode`` is ``post``. It depends on the data only, so it is built once
    for all m imputations."""
    post = settings.delta if settings.delta_mode == "post" else {}
    observed = ~np.isnan(z)
    _fill_not_due(z, todo)
    steps = []
    for j in model.targets:
        wy = np.flatnonzero(todo[:, j])
        if not len(wy):
            continue
        ry = np.flatnonzero(observed[:, j])
        shift = delta_of(post, model.names[j], arm[wy])
        steps.append((j, ry, wy, preds_of[j], shift if shift.any() else None))
    return _Chain(np.asfortranarray(z), tuple(steps))


def _run_chain(chain: _Chain, settings: ImputationSettings,
               rng: np.random.Generator) -> np.ndarray:
    """One imputation of a group: its rows (Fortran-ordered) after ``settings.iterations``
    sweeps of the chained equations, started from draws of the observed values."""
    w = chain.start.copy(order="F")
    for j, ry, wy, _, delta in chain.steps:  # starting values: draws from the observed values
        w[wy, j] = rng.choice(w[ry, j], size=len(wy), replace=True)
        if delta is not None:
            w[wy, j] += delta
    for _ in range(settings.iterations):
        for j, ry, wy, preds, delta in chain.steps:
            yo = w[ry, j]
            xo = _gather(w, ry, preds)
            xtx, xty = xo.T @ xo, xo.T @ yo  # shared by remove_lindep and the draw
            keep = remove_lindep_gram(xo, yo, xtx, xty)
            if not keep.all():
                xo, xtx, xty = np.ascontiguousarray(xo[:, np.r_[True, keep]]), None, None
            xm = _gather(w, wy, preds[keep])
            coef, beta, sigma = norm_draw(xo, yo, rng, xtx, xty)
            if settings.method == "norm":
                new = xm @ beta + rng.standard_normal(len(wy)) * sigma
            else:
                new = yo[pmm_match(xo @ coef, xm @ beta, settings.donors, rng)]
            w[wy, j] = new if delta is None else new + delta
    return w


def imputed_cells(frame: ImputationFrame, model: Design
                   ) -> tuple[pd.DataFrame, list[NotImputed]]:
    """The cells of ``frame.data`` to impute and the due cells that cannot be: the model's
    gaps, then passive scores built from a cell that is not imputed."""
    data = frame.data
    imputed = pd.DataFrame(False, index=data.index, columns=data.columns)
    for j, name in enumerate(model.names):
        if name in imputed.columns:
            imputed[name] = model.todo[:, j]
    gaps = list(model.gaps)
    for col, rule in frame.passive:
        due = data[col].isna().to_numpy() & frame.eligible[col].to_numpy()
        lost = due & ~np.all([data[s].notna().to_numpy() | imputed[s].to_numpy()
                              for s in rule.sources], axis=0)
        imputed[col] = due & ~lost
        for label, rows in model.groups:
            if lost[rows].any():
                gaps.append(NotImputed(col, label, int(lost[rows].sum()),
                                       f"computed from {' and '.join(rule.sources)}, not all "
                                       "imputed"))
    return imputed, gaps


def impute(frame: ImputationFrame, settings: ImputationSettings,
           seed: int | np.random.SeedSequence) -> ImputedData:
    """Impute ``frame`` ``settings.m`` times (seeds: :func:`imputation_rng`).

    Cells where ``frame.eligible`` is False stay missing; observed values are never changed.
    ``settings.delta`` is added after every draw (``delta_mode = "post"``) or once to the
    values of the last sweep (``"final"``: the draws are those of δ = 0), before the passive
    scores are computed; a δ on a passive score is added to it once computed. Cells that
    cannot be imputed (too few observed values in their group, or a passive score built from
    such a cell) stay missing and are listed in ``ImputedData.not_imputed``.
    """
    model = design(frame, settings)
    data = frame.data
    imputed, gaps = imputed_cells(frame, model)
    out_cols = [c for c in imputed.columns if imputed[c].any()]
    values = {c: np.empty((settings.m, int(imputed[c].sum()))) for c in out_cols}
    col_of = {name: j for j, name in enumerate(model.names)}
    preds = {label: group_predictors(model, label, settings) for label, _ in model.groups}
    chains = [(rows, _chain_of(model.values[rows], model.todo[rows], model.row_arm[rows], model,
                               preds[label], settings)) for label, rows in model.groups]
    for i in range(1, settings.m + 1):
        rng = imputation_rng(seed, i)
        z = model.values.copy()
        for rows, chain in chains:
            z[rows] = _run_chain(chain, settings, rng)
        if settings.delta_mode == "final":
            for col in sorted({c for c, _ in settings.delta if c in col_of}):
                todo = model.todo[:, col_of[col]]
                z[todo, col_of[col]] += delta_of(settings.delta, col, model.row_arm[todo])
        full = {c: (z[:, col_of[c]] if c in col_of else data[c].to_numpy(dtype=float, copy=True))
                for c in (*frame.score_columns, *out_cols)}
        for col, rule in frame.passive:
            rows = imputed[col].to_numpy()
            derived = rule.compute([full[s][rows] for s in rule.sources])
            full[col][rows] = derived + delta_of(settings.delta, col, model.row_arm[rows])
        for c in out_cols:
            values[c][i - 1] = full[c][imputed[c].to_numpy()]
    predictors = {(label, model.names[j]): tuple(model.names[k] for k in p)
                  for label, of in preds.items() for j, p in of.items()}
    return ImputedData(frame=frame, settings=settings, imputed=imputed, values=values,
                       not_imputed=tuple(gaps), predictors=predictors)
