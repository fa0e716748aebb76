"""Which columns predict each incomplete score (the plan's ``missing_data.predictors``).

``quickpred`` is R ``mice::quickpred`` (van Buuren & Groothuis-Oudshoorn 2011, JSS 45(3)
§3.3; van Buuren 2018, FIMD 2nd ed., §6.3.2): column j predicts column i when
max(|r(x_i, x_j)|, |r(R_i, x_j)|) > ``mincor`` — r over the pairwise-complete rows,
R_i the response indicator of x_i — and its proportion of usable cases (rows where x_i is
missing and x_j observed, among those where x_i is missing) is at least ``minpuc``; the
``include`` columns always predict, no column predicts itself and a complete column has no
predictors. Pairwise-complete correlations are computed for all pairs at once from masked
cross-products (no loop over pairs), so that the selection costs O(n q²) for n rows and q
columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from outcomes.errors import ConfigError

#: A variance below this share of n·max|x|² is a constant column's rounding error (its
#: correlations are undefined: NaN, as R's ``cor`` gives NA with "the standard deviation is zero").
ZERO_VARIANCE = 1e-20


def _centred(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns less their observed mean (correlations unchanged; fewer rounding errors in
    the one-pass sums below), and each column's max|x|² (the scale of its rounding)."""
    seen = ~np.isnan(x)
    cnt = seen.sum(axis=0)
    x0 = np.where(seen, x, 0.0)
    mean = np.where(cnt > 0, x0.sum(axis=0) / np.maximum(cnt, 1), 0.0)
    return x - mean, np.abs(x0).max(axis=0, initial=0.0) ** 2 + 1e-300


def pairwise_cor(x: np.ndarray) -> np.ndarray:
    """Pearson correlations of the columns of ``x`` (NaN = missing) over pairwise-complete
    rows, as R ``cor(x, use = "pairwise.complete.obs")``; NaN where undefined."""
    x, scale = _centred(x)
    obs = ~np.isnan(x)
    m = obs.astype(float)
    x0 = np.where(obs, x, 0.0)
    n = m.T @ m                         # rows where both observed
    s = x0.T @ m                        # s[i, j]: sum of x_i where both observed
    ss = (x0 * x0).T @ m                # sum of x_i² where both observed
    sxy = x0.T @ x0
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - s * s.T / n
        var = ss - s * s / n            # var[i, j]: of x_i over rows with x_j observed
        var = np.where(var > ZERO_VARIANCE * n * scale[:, None], var, np.nan)
        r = cov / np.sqrt(var * var.T)
    return r


def response_cor(x: np.ndarray) -> np.ndarray:
    """u[i, j]: correlation of the response indicator of column i with column j over the
    rows where column j is observed, as R ``cor(y = x, x = !is.na(x), use =
    "pairwise.complete.obs")`` (NaN where undefined: a constant indicator or column)."""
    x, scale = _centred(x)
    obs = ~np.isnan(x)
    resp = obs.astype(float)
    x0 = np.where(obs, x, 0.0)
    n = resp.sum(axis=0)                # rows where column j is observed
    sr = resp.T @ resp                  # sr[i, j]: sum of R_i over rows with x_j observed
    sx = x0.sum(axis=0)
    sxx = (x0 * x0).sum(axis=0)
    srx = resp.T @ x0
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = srx - sr * sx / n
        var_r = sr - sr * sr / n        # a 0/1 column: at least (n − 1)/n unless constant
        var_r = np.where(var_r > 0.5, var_r, np.nan)
        var_x = sxx - sx * sx / n
        var_x = np.where(var_x > ZERO_VARIANCE * n * scale, var_x, np.nan)
        u = cov / np.sqrt(var_r * var_x)
    return u


def quickpred(x: np.ndarray, *, mincor: float = 0.1, minpuc: float = 0.0,
              include: Sequence[int] = ()) -> np.ndarray:
    """R ``mice::quickpred``'s predictor matrix of ``x`` (rows = columns to impute, True =
    the column predicts it); ``include``: indices of columns that always predict."""
    q = x.shape[1]
    v = np.nan_to_num(np.abs(pairwise_cor(x)), nan=0.0)
    u = np.nan_to_num(np.abs(response_cor(x)), nan=0.0)
    pred = np.maximum(v, u) > mincor
    if minpuc > 0:
        obs = ~np.isnan(x)
        mis = (~obs).astype(float)
        mr = mis.T @ obs.astype(float)  # mr[i, j]: x_i missing and x_j observed
        mm = mis.T @ mis
        with np.errstate(invalid="ignore", divide="ignore"):
            puc = mr / (mr + mm)
        pred &= ~(np.nan_to_num(puc, nan=0.0) < minpuc)
    pred[:, list(include)] = True
    pred[np.arange(q), np.arange(q)] = False
    pred[~np.isnan(x).any(axis=0)] = False
    return pred


def include_columns(names: Sequence[str], include: Sequence[str],
                    visits: Sequence[str]) -> list[int]:
    """Indices of the model columns named by ``include``: a column's name, a text column's
    dummies (``NAME[level]``), or a PARAMCD's score at every visit (``PARAMCD_<visit>``).
    An entry that names no column is a config error."""
    out: list[int] = []
    for entry in include:
        hit = [j for j, c in enumerate(names)
               if c == entry or c.startswith(f"{entry}[")
               or any(c == f"{entry}_{v}" for v in visits)]
        if not hit:
            raise ConfigError(f"config key 'missing_data.predictors.include': '{entry}' is no "
                              "column of the imputation model (an ADSL predictor or auxiliary, "
                              "or a PARAMCD)")
        out += hit
    return sorted(set(out))


def same_score_columns(names: Sequence[str], visits: Sequence[str]) -> np.ndarray:
    """q × q: True where two score columns are the same PARAMCD at different visits."""
    stem = [next((c[: -len(v) - 1] for v in visits if c.endswith(f"_{v}")), None)
            for c in names]
    q = len(names)
    same = np.zeros((q, q), dtype=bool)
    for i in range(q):
        if stem[i] is None:
            continue
        for j in range(q):
            same[i, j] = i != j and stem[j] == stem[i]
    return same
