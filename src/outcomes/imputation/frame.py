"""The data set to impute: one row per ITT participant, one column per score × visit.

Besides the scores, the frame holds the predictors of the imputation model (randomisation
strata, age, prior admissions, readmission before each follow-up visit, the plan's
auxiliaries) and says which missing scores must never be imputed: a visit whose nominal
day falls after death (the while-alive estimand) or after the data cut (docs/imputation.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from outcomes.errors import ConfigError, OutcomesError
from outcomes.instruments import Instrument, load_registry
from outcomes.plan import AnalysisPlan

#: Nominal day of each visit after the index discharge (INDEXDT), as the trial schedules
#: them (the simulator's visit targets); a visit is due when this day is reached alive
#: and before the data cut.
VISIT_DAYS: dict[str, int] = {"baseline": 0, "month_4": 122, "month_12": 365}
#: ADSL columns of every imputation model (strata, age, prior admissions).
ADSL_PREDICTORS: tuple[str, ...] = ("SITEID", "DIAGGR", "AGE", "PRIORADM")
ID_COLUMNS: tuple[str, ...] = ("USUBJID", "ARM", "TRT01PN")
#: The ADQS columns :func:`imputation_frame` reads (the impute command reads no others:
#: 0.3 of the 0.95 GB of ADQS at n = 100,000).
ADQS_COLUMNS: tuple[str, ...] = ("USUBJID", "PARAMCD", "AVISIT", "AVAL")
#: The ADTTE columns :func:`imputation_frame` reads (the first readmission, READMIT).
ADTTE_COLUMNS: tuple[str, ...] = ("USUBJID", "PARAMCD", "AVAL", "CNSR")


class ImputationFrameError(OutcomesError):
    """The derived datasets cannot be turned into an imputation data set."""


@dataclass(frozen=True)
class Passive:
    """A score computed from other scores of the same instrument at the same visit, never
    imputed on its own (mice's passive imputation): ``kind`` ``sum`` of ``sources``,
    ``mean`` (= sources[0] / ``n_items``) or ``table`` (the score's conversion table
    applied to sources[0], linearly interpolated between whole raw scores)."""

    paramcd: str
    kind: str
    sources: tuple[str, ...]
    n_items: int = 1
    table: tuple[tuple[float, float], ...] = ()

    def compute(self, values: list[np.ndarray]) -> np.ndarray:
        if self.kind == "sum":
            return np.sum(values, axis=0)
        if self.kind == "mean":
            return values[0] / self.n_items
        raw, conv = np.array(self.table).T
        return np.interp(values[0], raw, conv)


@dataclass(frozen=True)
class ImputationFrame:
    """``data``: one row per ITT participant (docs/imputation.md lists the columns);
    ``eligible``: the score columns, False where a missing value must stay missing;
    ``passive``: scores computed from others (:class:`Passive`), in computing order."""

    data: pd.DataFrame
    eligible: pd.DataFrame
    score_columns: tuple[str, ...]
    predictor_columns: tuple[str, ...]
    categorical: tuple[str, ...]
    passive: tuple[tuple[str, Passive], ...]
    visits: tuple[str, ...]
    treated_arm: str
    control_arm: str

    @property
    def arms(self) -> tuple[str, str]:
        return (self.treated_arm, self.control_arm)


def passive_scores(registry: dict[str, Instrument]) -> dict[str, Passive]:
    """The scores that are exact functions of other scores of their instrument: a sum whose
    items are split by other sum scores, a mean or a conversion table over a sum score's items."""
    out: dict[str, Passive] = {}
    for inst in registry.values():
        sums = [s for s in inst.scores if s.method == "sum"]
        for s in inst.scores:
            same = next((t for t in sums if t is not s and set(t.items) == set(s.items)), None)
            if s.method == "mean" and same is not None:
                out[s.paramcd] = Passive(s.paramcd, "mean", (same.paramcd,), len(s.items))
            elif s.method == "table" and same is not None and s.table:
                out[s.paramcd] = Passive(s.paramcd, "table", (same.paramcd,),
                                         table=tuple(sorted(s.table.items())))
            elif s.method == "sum":
                parts = [t for t in sums if t is not s and set(t.items) < set(s.items)]
                items = sorted(i for t in parts for i in t.items)
                if len(parts) > 1 and items == sorted(s.items):
                    out[s.paramcd] = Passive(s.paramcd, "sum", tuple(t.paramcd for t in parts))
    return out


def _wide_scores(adqs: pd.DataFrame, ids: pd.Series, visits: tuple[str, ...]) -> pd.DataFrame:
    """One row per participant of ``ids``, one column ``<PARAMCD>_<visit>`` per score and
    visit (PARAMCDs sorted): the first non-missing AVAL of its ADQS rows, as
    ``pivot_table(..., aggfunc="first")`` gives it, without the pivot's copies (a fifth
    of the stage's peak at n = 20,000)."""
    paramcds = sorted(adqs["PARAMCD"].unique())
    columns = [f"{p}_{v}" for p in paramcds for v in visits]
    person = pd.Index(ids.to_numpy()).get_indexer(adqs["USUBJID"])
    score = pd.Index(paramcds).get_indexer(adqs["PARAMCD"])
    visit = pd.Index(list(visits)).get_indexer(adqs["AVISIT"])
    aval = adqs["AVAL"].to_numpy(dtype=float, na_value=np.nan)
    ok = np.flatnonzero((person >= 0) & (visit >= 0) & ~np.isnan(aval))
    cell = person[ok] * len(columns) + score[ok] * len(visits) + visit[ok]
    cell, first = np.unique(cell, return_index=True)  # the first row of each cell
    wide = np.full(len(ids) * len(columns), np.nan)
    wide[cell] = aval[ok[first]]
    return pd.DataFrame(wide.reshape(len(ids), len(columns)), columns=columns)


def _readmission(adtte: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """The ADTTE READMIT record (``CNSR``, ``AVAL``) of each participant of ``ids``, in
    their order; an :class:`ImputationFrameError` when one has none."""
    tte = adtte.loc[adtte["PARAMCD"] == "READMIT", ["USUBJID", "CNSR", "AVAL"]]
    tte = tte.set_index("USUBJID")
    people = pd.Index(ids.to_numpy())
    missing = people[~people.isin(tte.index)]
    if len(missing):
        raise ImputationFrameError(f"ADTTE: no READMIT record for participant {min(missing)}")
    return tte.reindex(people)


def _event_before(tte: pd.DataFrame, visit: str) -> np.ndarray:
    """1 when the first readmission (``tte``: :func:`_readmission`) came before the visit's
    nominal day."""
    event = (tte["CNSR"].to_numpy() == 0) & (tte["AVAL"].to_numpy() < VISIT_DAYS[visit])
    return event.astype(float)


def _readmitted_before(adtte: pd.DataFrame, ids: pd.Series, visit: str) -> np.ndarray:
    """1 when the first readmission (ADTTE READMIT) came before the visit's nominal day."""
    return _event_before(_readmission(adtte, ids), visit)


def not_due(adsl: pd.DataFrame, visit: str) -> np.ndarray:
    """Why the visit is not due for each ADSL row: ``"died"`` when its nominal day falls
    after death, else ``"data cut"`` when after the data cut, else ``""`` (due)."""
    nominal = adsl["INDEXDT"] + pd.Timedelta(days=VISIT_DAYS[visit])
    dead = (adsl["DTHDT"].notna() & (adsl["DTHDT"] < nominal)).to_numpy()
    cut = (adsl["DCUTDT"].notna() & (adsl["DCUTDT"] < nominal)).to_numpy()
    return np.where(dead, "died", np.where(cut, "data cut", ""))


def _due(adsl: pd.DataFrame, visit: str) -> np.ndarray:
    """False where the visit's nominal day falls after death or after the data cut."""
    return not_due(adsl, visit) == ""


def imputation_frame(adsl: pd.DataFrame, adqs: pd.DataFrame, adtte: pd.DataFrame,
                     plan: AnalysisPlan, *, auxiliaries: tuple[str, ...] | None = None,
                     registry: dict[str, Instrument] | None = None) -> ImputationFrame:
    """The wide data set of the ITT participants (ADSL ``ITTFL == "Y"``) to impute.

    Score columns are ``f"{PARAMCD}_{AVISIT}"`` for every ADQS score at baseline and the
    plan's visits; ``auxiliaries`` defaults to the plan's ``missing_data.auxiliaries``. A
    randomisation stratifier of the plan that is not a predictor already joins them (the
    imputation model holds every variable of the analysis model: van Buuren 2018, §6.2).
    """
    aux = plan.missing_data.auxiliaries if auxiliaries is None else tuple(auxiliaries)
    aux += tuple(c for c in plan.stratifiers if c not in (*ID_COLUMNS, *ADSL_PREDICTORS, *aux))
    unknown = [c for c in (*ADSL_PREDICTORS, *aux) if c not in adsl.columns]
    if unknown:
        raise ConfigError(f"config key 'missing_data.auxiliaries': '{unknown[0]}' is not an ADSL "
                          f"column (ADSL has {', '.join(adsl.columns)})")
    clash = [c for c in aux if c in (*ID_COLUMNS, *ADSL_PREDICTORS)]
    if clash:
        raise ConfigError(f"config key 'missing_data.auxiliaries': '{clash[0]}' is already a "
                          "predictor of every imputation model")
    itt = adsl.loc[adsl["ITTFL"] == "Y"].sort_values("USUBJID", kind="mergesort")
    itt = itt.reset_index(drop=True)
    if itt.empty:
        raise ImputationFrameError("ADSL: no ITT participant (ITTFL = Y) to impute")
    visits = ("baseline", *(v for v in plan.visits if v != "baseline"))
    data = pd.DataFrame({
        "USUBJID": itt["USUBJID"].astype(str),
        "ARM": itt["ARM"].astype(str),
        "TRT01PN": itt["TRT01PN"].astype("Int64").astype(float),
        "SITEID": itt["SITEID"].astype(str),
        "DIAGGR": itt["DIAGGR"].fillna("").astype(str),
        "AGE": pd.to_numeric(itt["AGE"]).astype(float),
        "PRIORADM": pd.to_numeric(itt["PRIORADM"]).astype(float),
    })
    follow = [v for v in visits if v != "baseline"]
    readmit = _readmission(adtte, itt["USUBJID"])
    for v in follow:
        data[f"READM_{v}"] = _event_before(readmit, v)
    categorical = ["SITEID", "DIAGGR"]
    for c in aux:
        s = itt[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            data[c] = pd.to_numeric(s).astype(float).to_numpy()
        else:
            data[c] = s.astype("object").fillna("").astype(str).to_numpy()
            categorical.append(c)
    scores = _wide_scores(adqs, itt["USUBJID"], visits)
    data = pd.concat([data, scores], axis=1)
    eligible = pd.DataFrame(True, index=data.index, columns=scores.columns)
    for v in follow:
        due = _due(itt, v)
        cols = [c for c in scores.columns if c.endswith(f"_{v}")]
        # an observed value stays (it was collected); only missing ones can be ineligible
        eligible.loc[:, cols] = scores[cols].notna().to_numpy() | due[:, None]
    reg = load_registry() if registry is None else registry
    paramcds = set(adqs["PARAMCD"].unique().tolist())  # not row by row (12 s at 100,000)
    passive = []
    for pc, rule in passive_scores(reg).items():
        if pc in paramcds and set(rule.sources) <= paramcds:
            passive += [(f"{pc}_{v}", Passive(rule.paramcd, rule.kind,
                                              tuple(f"{s}_{v}" for s in rule.sources),
                                              rule.n_items, rule.table)) for v in visits]
    predictors = ("TRT01PN", "SITEID", "DIAGGR", "AGE", "PRIORADM",
                  *(f"READM_{v}" for v in follow), *aux)
    return ImputationFrame(
        data=data, eligible=eligible, score_columns=tuple(scores.columns),
        predictor_columns=predictors, categorical=tuple(categorical),
        passive=tuple(_dependency_order(passive)), visits=visits,
        treated_arm=plan.treated_arm, control_arm=plan.control_arm,
    )


def _dependency_order(passive: list[tuple[str, Passive]]) -> list[tuple[str, Passive]]:
    """Passive scores ordered so that each comes after the passive scores it is built from."""
    todo = dict(passive)
    out: list[tuple[str, Passive]] = []
    while todo:
        ready = [c for c, p in todo.items() if not set(p.sources) & set(todo)]
        if not ready:  # pragma: no cover - the registry's score definitions cannot loop
            raise ImputationFrameError(f"passive scores built from each other: {sorted(todo)}")
        out += [(c, todo.pop(c)) for c in sorted(ready)]
    return out
