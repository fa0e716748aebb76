"""Analysis sample, missing-data accounting and design matrices for the mediation engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from outcomes.errors import OutcomesError

__all__ = ["MediationDataError", "MissingReport", "Roles", "binary_array", "count_missing",
           "covariate_matrix", "numeric_array"]


class MediationDataError(OutcomesError, ValueError):
    """The data cannot be analysed as asked (names the variable and the problem)."""


@dataclass(frozen=True)
class Roles:
    """Which column plays which part. ``outcome_vars`` is (outcome,) or (time, event)."""

    exposure: str
    mediators: tuple[str, ...]
    outcome_vars: tuple[str, ...]
    covariates: tuple[str, ...] = ()
    mediator_covariates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def covariates_for(self, mediators: Sequence[str]) -> tuple[str, ...]:
        """Covariates of the models of a mediator set: the common ones, then each mediator's own."""
        out = list(self.covariates)
        for m in mediators:
            for c in self.mediator_covariates.get(m, ()):
                if c not in out:
                    out.append(c)
        return tuple(out)

    def all_columns(self) -> list[str]:
        cols = [self.exposure, *self.covariates_for(self.mediators), *self.mediators]
        cols += list(self.outcome_vars)
        return list(dict.fromkeys(cols))


@dataclass
class MissingReport:
    """Who is analysed and who is not, and why (complete-case analysis, nobody dropped silently).

    - ``by_variable``: participants missing each variable (a participant may count under
      several variables).
    - ``by_reason``: each excluded participant once, under the roles of the variables they
      miss joined by ``+`` (e.g. ``mediator+outcome``).
    - ``by_model``: for the mediator model of each mediator and for the outcome model, how
      many participants have every variable of that model (``n_complete``) and how many do
      not (``n_missing``). Both models are fitted on the same participants (those complete
      for all of them, ``n_used``) because one bootstrap resample feeds both.
    """

    n_total: int
    n_used: int
    by_variable: dict[str, int]
    by_reason: dict[str, int]
    by_model: dict[str, dict[str, int]]

    @property
    def n_excluded(self) -> int:
        return self.n_total - self.n_used

    def to_frame(self) -> pd.DataFrame:
        rows = [{"kind": "total", "name": "participants", "n": self.n_total},
                {"kind": "used", "name": "complete cases", "n": self.n_used},
                {"kind": "excluded", "name": "any missing", "n": self.n_excluded}]
        rows += [{"kind": "excluded_by_reason", "name": k, "n": v}
                 for k, v in self.by_reason.items()]
        rows += [{"kind": "missing_by_variable", "name": k, "n": v}
                 for k, v in self.by_variable.items()]
        for model, d in self.by_model.items():
            rows += [{"kind": f"model_{k}", "name": model, "n": v} for k, v in d.items()]
        return pd.DataFrame(rows)


def _is_missing(s: pd.Series) -> np.ndarray:
    miss = s.isna().to_numpy().copy()
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        miss |= ~np.isfinite(vals)
    return miss


def count_missing(data: pd.DataFrame, roles: Roles) -> tuple[MissingReport, np.ndarray]:
    """Count participants missing each variable; return the report and the complete-case mask."""
    missing_cols = [c for c in roles.all_columns() if c not in data.columns]
    if missing_cols:
        raise MediationDataError(f"column(s) not in the data: {', '.join(missing_cols)}")
    role_of: dict[str, str] = {}
    for c in roles.outcome_vars:
        role_of[c] = "outcome"
    for c in roles.mediators:
        role_of[c] = "mediator"
    for c in roles.covariates_for(roles.mediators):
        role_of.setdefault(c, "covariate")
    role_of[roles.exposure] = "exposure"
    miss = {c: _is_missing(data[c]) for c in roles.all_columns()}
    n = len(data)
    any_miss = np.zeros(n, dtype=bool)
    for m in miss.values():
        any_miss |= m
    order = ["exposure", "covariate", "mediator", "outcome"]
    labels = np.full(n, "", dtype=object)
    for role in order:
        has = np.zeros(n, dtype=bool)
        for c, m in miss.items():
            if role_of[c] == role:
                has |= m
        labels = np.where(has, np.where(labels == "", role, labels + "+" + role), labels)
    reasons = pd.Series(labels[any_miss]).value_counts()
    by_reason = {str(k): int(v) for k, v in reasons.sort_index().items()}

    def complete(cols):
        ok = np.ones(n, dtype=bool)
        for c in cols:
            ok &= ~miss[c]
        return ok

    by_model = {}
    for med in roles.mediators:
        ok = complete([roles.exposure, *roles.covariates_for([med]), med])
        by_model[f"mediator model: {med}"] = {"n_complete": int(ok.sum()),
                                              "n_missing": int(n - ok.sum())}
    ok = complete(roles.all_columns())
    by_model["outcome model"] = {"n_complete": int(ok.sum()), "n_missing": int(n - ok.sum())}
    report = MissingReport(
        n_total=n,
        n_used=int((~any_miss).sum()),
        by_variable={c: int(m.sum()) for c, m in miss.items()},
        by_reason=by_reason,
        by_model=by_model,
    )
    return report, ~any_miss


def _is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype)


def covariate_matrix(
    data: pd.DataFrame, covariates: Sequence[str], categorical: Sequence[str] = ()
) -> tuple[np.ndarray, list[str], dict[str, list]]:
    """Numeric columns as they are; categorical ones (strings, categories, or listed in
    ``categorical``) dummy-coded against their first level (sorted, or the category order).

    Booleans become 0/1. Returns the matrix, column names (``var[level]`` for dummies) and
    the levels of each categorical covariate (reference first).
    """
    cols: list[np.ndarray] = []
    names: list[str] = []
    levels: dict[str, list] = {}
    for c in covariates:
        s = data[c]
        if pd.api.types.is_bool_dtype(s) and c not in categorical:
            cols.append(s.to_numpy(dtype=float))
            names.append(c)
        elif c in categorical or _is_categorical(s):
            if isinstance(s.dtype, pd.CategoricalDtype):
                present = set(s.dropna().unique())
                lv = [v for v in s.cat.categories if v in present]
            else:
                lv = sorted(s.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
            levels[c] = lv
            vals = s.to_numpy(dtype=object)
            for v in lv[1:]:
                cols.append((vals == v).astype(float))
                names.append(f"{c}[{v}]")
        else:
            cols.append(pd.to_numeric(s).to_numpy(dtype=float))
            names.append(c)
    n = len(data)
    X = np.column_stack(cols) if cols else np.empty((n, 0))
    return X, names, levels


def _not_numeric(s: pd.Series) -> np.ndarray:
    """Mask of values that are present but not numbers (strings such as "3,5" or "n/a")."""
    if pd.api.types.is_bool_dtype(s) or (pd.api.types.is_numeric_dtype(s)
                                         and not isinstance(s.dtype, pd.CategoricalDtype)):
        return np.zeros(len(s), dtype=bool)
    vals = pd.to_numeric(s.astype(object), errors="coerce")
    return (s.notna() & vals.isna()).to_numpy()


def numeric_array(s: pd.Series, name: str, role: str) -> np.ndarray:
    """A numeric model variable as float; text is an error naming the column and the values."""
    bad = _not_numeric(s)
    if bad.any():
        found = sorted({str(v) for v in s[bad].tolist()})
        raise MediationDataError(
            f"{role} column {name!r} must be numeric; found {len(found)} non-numeric value(s) "
            f"such as {found[:5]}"
        )
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    return pd.to_numeric(s.astype(object) if s.dtype == object else s).to_numpy(dtype=float)


def binary_array(s: pd.Series, name: str, role: str = "binary") -> np.ndarray:
    """0/1 (or boolean) column as float; anything else is an error naming the column."""
    text = _not_numeric(s)
    if text.any():
        found = sorted({str(v) for v in s[text].tolist()})
        raise MediationDataError(f"{role} column {name!r} must be coded 0/1; found {found[:5]}")
    vals = numeric_array(s, name, role)
    bad = ~np.isin(vals, (0.0, 1.0))
    if bad.any():
        raise MediationDataError(
            f"{role} column {name!r} must be coded 0/1; found {sorted(set(s[bad].tolist()))[:5]}"
        )
    return vals
