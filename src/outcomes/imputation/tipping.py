"""The tipping-point analysis: δ-adjusted multiple imputation over a grid of shifts.

For each score × visit the plan names (``missing_data.tipping_point``), the unobserved
values of the treated arm are shifted by δ_treated and those of the control arm by
δ_control, for every pair of the grid, and the questionnaire ANCOVA is pooled over the
imputations at each pair (:func:`outcomes.imputation.ancova.ancova_mi`). Along every line
of the grid (δ_control fixed, δ_treated varying, and the other way round) the shifts at
which the conclusion changes are found by root-finding on the CI limits: the tipping
points (Ratitch, O'Kelly & Tosiello 2013; Cro et al. 2020). Definitions, cost and outputs:
docs/imputation.md, *Tipping-point analysis*.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from outcomes.errors import ConfigError
from outcomes.estimands.rows import TIPPING_POINT, with_estimands
from outcomes.imputation.ancova import BASELINE, AncovaMIResult, ScoreSets, ancova_mi, score_sets
from outcomes.imputation.frame import ImputationFrame, imputation_frame
from outcomes.imputation.gaps import not_imputed_cells
from outcomes.imputation.mice import ImputedData, delta_of, impute
from outcomes.imputation.run import read_completed, select_columns
from outcomes.imputation.settings import ImputationSettings
from outcomes.instruments import load_registry
from outcomes.plan import AnalysisPlan
from outcomes.questionnaires import DIFFERENCE
from outcomes.tables import ESTIMATED, STATUS_COLUMNS, write_tsv

ANALYSIS = "tipping_point"
#: the analysis of a boundary row, by the shift that varies along its path
BOUNDARY = {"delta_treated": "tipping_point_treated", "delta_control": "tipping_point_control"}
FAVOURS_TREATED, NO_DIFFERENCE, FAVOURS_CONTROL = "favours treated", "no difference", "favours control"
#: default grid: this many steps either side of 0, each a quarter of the observed SD rounded
#: to one of these mantissas times a power of 10
DEFAULT_STEPS = 4
NICE = (1.0, 2.0, 2.5, 5.0)
#: the tipping points are located to this fraction of the grid's smallest step
XTOL = 1e-4


def default_deltas(observed: np.ndarray) -> tuple[float, ...]:
    """−SD to +SD of the observed values in ``2 DEFAULT_STEPS`` steps of SD/4 rounded to a
    round number (1, 2, 2.5 or 5 × 10^k); steps of 1 when there is no SD."""
    obs = np.asarray(observed, dtype=float)
    obs = obs[~np.isnan(obs)]
    sd = float(np.std(obs, ddof=1)) if len(obs) > 1 else 0.0
    step = 1.0
    if sd > 0:
        target = sd / DEFAULT_STEPS
        power = math.floor(math.log10(target))
        cands = [c * 10.0**p for p in (power - 1, power, power + 1) for c in NICE]
        step = min(cands, key=lambda c: (abs(math.log(c / target)), c))
    return tuple(round(step * k, 10) + 0.0 for k in range(-DEFAULT_STEPS, DEFAULT_STEPS + 1))


def conclusion(res: AncovaMIResult, higher_is_better: bool) -> str:
    """``favours treated`` / ``favours control`` when the CI excludes 0 on that arm's side
    (the side is the score's direction), ``no difference`` when it includes 0, empty when
    not estimable."""
    a = res.ancova
    if a.status != ESTIMATED:
        return ""
    better, worse = (FAVOURS_TREATED, FAVOURS_CONTROL) if higher_is_better else \
        (FAVOURS_CONTROL, FAVOURS_TREATED)
    return better if a.ci_low > 0 else worse if a.ci_high < 0 else NO_DIFFERENCE


@dataclass(frozen=True)
class TippingRow:
    """One analysis at (δ_treated, δ_control): a grid point (``analysis = tipping_point``)
    or a boundary where a CI limit (``bound``) crosses 0 along a path of the grid."""

    analysis: str
    delta_treated: float
    delta_control: float
    result: AncovaMIResult
    conclusion: str
    bound: str = ""

    @property
    def headline(self) -> bool:
        """A tipping point with one arm shifted and the other at MAR (δ = 0): the shifts the
        report names."""
        fixed = self.delta_control if self.analysis == BOUNDARY["delta_treated"] else \
            self.delta_treated if self.analysis == BOUNDARY["delta_control"] else None
        return fixed == 0 and self.result.ancova.status == ESTIMATED


@dataclass(frozen=True)
class TippingPoint:
    """The tipping-point analysis of one score at one visit: ``grid`` (δ_control outer,
    δ_treated inner, both over ``deltas``) and ``boundaries`` (the tipping points)."""

    paramcd: str
    visit: str
    deltas: tuple[float, ...]
    delta_mode: str
    alpha: float
    higher_is_better: bool
    grid: tuple[TippingRow, ...]
    boundaries: tuple[TippingRow, ...]

    def to_frame(self) -> pd.DataFrame:
        """The grid rows then the boundary rows: the columns of the pooled ANCOVA
        (``questionnaire_ancova_mi``) with ``delta_treated, delta_control`` after
        ``avisit``, and ``tipping`` (``yes`` on the :attr:`TippingRow.headline` rows) and
        ``conclusion`` before ``status, reason``."""
        frames = []
        for row in (*self.grid, *self.boundaries):
            f = row.result.to_frame()
            f = f.loc[f["estimate_type"] == DIFFERENCE].reset_index(drop=True)
            f["analysis"] = row.analysis
            at = f.columns.get_loc("avisit") + 1
            f.insert(at, "delta_treated", row.delta_treated)
            f.insert(at + 1, "delta_control", row.delta_control)
            at = f.columns.get_loc(STATUS_COLUMNS[0])
            f.insert(at, "tipping", "yes" if row.headline else "")
            f.insert(at + 1, "conclusion", row.conclusion)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    def at(self, delta_treated: float, delta_control: float) -> TippingRow:
        """The grid row at (δ_treated, δ_control)."""
        for row in self.grid:
            if (row.delta_treated, row.delta_control) == (delta_treated, delta_control):
                return row
        raise KeyError(f"({delta_treated}, {delta_control}) is not a point of the grid")


def delta_analyser(frame: ImputationFrame, imp: ImputedData | Sequence[pd.DataFrame], seed,
                   plan: AnalysisPlan, paramcd: str, visit: str, mode: str, alpha: float,
                   param: str) -> Callable[[float, float], AncovaMIResult]:
    """(δ_treated, δ_control) -> the pooled ANCOVA, memoised. ``final``: the completed data
    sets of ``imp`` (δ = 0: an :class:`ImputedData`, or the data sets themselves as
    :func:`~outcomes.imputation.run.read_completed` gives them) with the shift added to the
    outcome's imputed values (the cells missing in ``frame`` and filled in the data sets),
    exactly what :func:`impute` gives with that δ; ``post``: imputed again with δ after
    every draw (with ``imp``'s settings, or the plan's when ``imp`` is data sets)."""
    col, base = f"{paramcd}_{visit}", f"{paramcd}_{BASELINE}"
    keep = ["ARM", *plan.stratifiers, col, base]
    arms = frame.data["ARM"].to_numpy()
    settings = imp.settings if isinstance(imp, ImputedData) else ImputationSettings.from_plan(plan)
    narrow = []
    if mode == "final":
        sets = ([imp.completed(i) for i in range(1, imp.m + 1)] if isinstance(imp, ImputedData)
                else list(select_columns(imp, keep)))
        narrow = [d[keep] for d in sets]
    rows = (imp.imputed[col].to_numpy() if isinstance(imp, ImputedData) else
            frame.data[col].isna().to_numpy() & narrow[0][col].notna().to_numpy() if narrow
            else np.zeros(len(arms), dtype=bool))
    cells = not_imputed_cells(frame, settings)
    memo: dict[tuple[float, float], AncovaMIResult] = {}
    at_zero = score_sets(narrow, paramcd, visit, plan, not_imputed=cells, keep_ols=True) \
        if narrow else None

    def completed(dt: float, dc: float) -> list[pd.DataFrame] | ScoreSets:
        delta = {(col, plan.treated_arm): dt, (col, plan.control_arm): dc}
        if at_zero is not None:  # final: the scores shifted, the designs made once
            return at_zero.shifted(np.where(rows, delta_of(delta, col, arms), 0.0))
        again = impute(frame, replace(settings, delta=delta, delta_mode="post"), seed)
        return [again.completed(i)[keep] for i in range(1, again.m + 1)]

    def analyse(dt: float, dc: float) -> AncovaMIResult:
        key = (float(dt), float(dc))
        if key not in memo:
            memo[key] = ancova_mi(completed(*key), paramcd, visit, plan, param=param,
                                  alpha=alpha, not_imputed=cells)
        return memo[key]

    return analyse


class _NotEstimable(Exception):
    def __init__(self, x: float, res: AncovaMIResult):
        super().__init__(res.ancova.reason)
        self.x, self.res = x, res


def _boundaries(path: str, fixed: float, points: Sequence[float],
                results: Sequence[AncovaMIResult], analyse, hib: bool,
                xtol: float) -> list[TippingRow]:
    """The tipping points along one line of the grid: between neighbours where a CI limit
    is on different sides of 0, the shift at which it is 0 (Brent's method)."""
    better, worse = (FAVOURS_TREATED, FAVOURS_CONTROL) if hib else (FAVOURS_CONTROL, FAVOURS_TREATED)
    labels = {"ci_low": better, "ci_high": worse}

    def at(x: float) -> tuple[float, float]:
        return (x, fixed) if path == "delta_treated" else (fixed, x)

    out = []
    for k in range(len(points) - 1):
        a, b = results[k].ancova, results[k + 1].ancova
        if a.status != ESTIMATED or b.status != ESTIMATED:
            continue
        for bound in ("ci_low", "ci_high"):
            va, vb = getattr(a, bound), getattr(b, bound)
            side_a = va > 0 if bound == "ci_low" else va < 0
            side_b = vb > 0 if bound == "ci_low" else vb < 0
            if side_a == side_b:
                continue

            def f(x, bound=bound):
                res = analyse(*at(x))
                if res.ancova.status != ESTIMATED:
                    raise _NotEstimable(x, res)
                return getattr(res.ancova, bound)

            change = (f"{labels[bound]} to {NO_DIFFERENCE}" if side_a
                      else f"{NO_DIFFERENCE} to {labels[bound]}")
            try:
                x = float(brentq(f, points[k], points[k + 1], xtol=xtol))
                res, text = analyse(*at(x)), change
            except _NotEstimable as exc:
                x, res, text = exc.x, exc.res, ""
            dt, dc = at(x)
            out.append(TippingRow(BOUNDARY[path], dt, dc, res, text, bound))
    return out


def _higher_is_better(paramcd: str) -> bool:
    for inst in load_registry().values():
        for s in inst.scores:
            if s.paramcd == paramcd:
                return bool(s.higher_is_better)
    raise ConfigError(f"missing_data.tipping_point.outcomes: '{paramcd}' is not a score of "
                      "the instrument registry")


def _check_outcomes(frame: ImputationFrame, plan: AnalysisPlan) -> None:
    for paramcd, visit in plan.missing_data.tipping_point.outcomes:
        name = f"'{paramcd} {visit}'"
        if visit not in plan.visits:
            raise ConfigError(f"missing_data.tipping_point.outcomes: {name}: {visit} is not one "
                              f"of the plan's visits ({', '.join(plan.visits)})")
        if f"{paramcd}_{visit}" not in frame.score_columns:
            scores = sorted({c.rsplit(f"_{BASELINE}", 1)[0] for c in frame.score_columns
                             if c.endswith(f"_{BASELINE}")})
            raise ConfigError(f"missing_data.tipping_point.outcomes: {name}: no score "
                              f"{paramcd} in ADQS (scores: {', '.join(scores)})")


def tipping_points(frame: ImputationFrame, plan: AnalysisPlan, *,
                   params: Mapping[str, str] | None = None,
                   imputed: ImputedData | Sequence[pd.DataFrame] | None = None
                   ) -> list[TippingPoint]:
    """The tipping-point analysis of every outcome of ``missing_data.tipping_point``.

    With ``delta_mode = final`` the grid shifts the imputations of ``frame`` with the
    plan's settings and seed (δ = 0): ``imputed`` (that imputation, or its completed data
    sets), else imputed here; with ``post`` every point is imputed again and ``imputed`` is
    not needed. ``params``: PARAMCD -> label. Raises :class:`ConfigError` for an outcome
    that is not a score × visit of the plan.
    """
    tp = plan.missing_data.tipping_point
    _check_outcomes(frame, plan)
    settings = ImputationSettings.from_plan(plan)
    if imputed is not None:
        imp = imputed
    elif tp.delta_mode == "final":
        imp = impute(frame, settings, plan.seed)
    else:  # post: every point is imputed again, with the plan's settings
        imp = ()
    out = []
    for paramcd, visit in tp.outcomes:
        col = f"{paramcd}_{visit}"
        deltas = tp.deltas or default_deltas(frame.data[col].to_numpy(dtype=float))
        hib = _higher_is_better(paramcd)
        analyse = delta_analyser(frame, imp, plan.seed, plan, paramcd, visit, tp.delta_mode,
                            tp.alpha, (params or {}).get(paramcd, ""))
        res = {(dt, dc): analyse(dt, dc) for dc in deltas for dt in deltas}
        grid = tuple(TippingRow(ANALYSIS, dt, dc, r, conclusion(r, hib))
                     for (dt, dc), r in res.items())
        xtol = XTOL * float(np.min(np.diff(deltas)))
        bounds = []
        for dc in deltas:
            bounds += _boundaries("delta_treated", dc, deltas, [res[dt, dc] for dt in deltas],
                                  analyse, hib, xtol)
        for dt in deltas:
            bounds += _boundaries("delta_control", dt, deltas, [res[dt, dc] for dc in deltas],
                                  analyse, hib, xtol)
        out.append(TippingPoint(paramcd, visit, tuple(deltas), tp.delta_mode, tp.alpha, hib,
                                grid, tuple(bounds)))
    return out


def tipping_table(results: Sequence[TippingPoint]) -> pd.DataFrame:
    """Every outcome's rows, in the plan's order."""
    return pd.concat([r.to_frame() for r in results], ignore_index=True)


def figure_name(res: TippingPoint) -> str:
    return f"tipping_point_{res.paramcd}_{res.visit}.svg"


def run_tipping(derived: dict[str, pd.DataFrame], plan: AnalysisPlan, table: str | Path,
                figures: str | Path, imputed: str | Path | None = None
                ) -> tuple[list[TippingPoint], list[Path]]:
    """Analyse the grid of every outcome, write the table and one heat map each. With
    ``delta_mode = final`` the δ = 0 data sets are read from ``imputed``
    (``imputed_long.parquet`` of ``outcomes impute``, checked against the derived data and
    the plan's m) when given, else imputed here; ``post`` imputes every grid point.
    :func:`tipping_inputs` then :func:`write_tipping`."""
    frame, params = tipping_inputs(derived, plan)
    return write_tipping(frame, params, plan, table, figures, imputed)


def tipping_inputs(derived: dict[str, pd.DataFrame], plan: AnalysisPlan
                   ) -> tuple[ImputationFrame, dict[str, str]]:
    """(the imputation frame, PARAMCD -> label): all that the derived data are read for,
    so a caller can free them before the completed data sets are read (issue 17)."""
    frame = imputation_frame(derived["adsl"], derived["adqs"], derived["adtte"], plan)
    params = dict(derived["adqs"][["PARAMCD", "PARAM"]].drop_duplicates("PARAMCD")
                  .itertuples(index=False))
    return frame, params


def write_tipping(frame: ImputationFrame, params: dict[str, str], plan: AnalysisPlan,
                  table: str | Path, figures: str | Path, imputed: str | Path | None = None
                  ) -> tuple[list[TippingPoint], list[Path]]:
    """:func:`run_tipping` from its :func:`tipping_inputs`. Of the completed data sets only
    the columns of the outcomes are kept (the scores of the other outcomes would hold 0.3
    GB at n = 100,000, decisions PN7)."""
    from outcomes.imputation.plots import tipping_heatmap

    completed = None
    if imputed is not None and plan.missing_data.tipping_point.delta_mode == "final":
        columns = ["USUBJID", "ARM", *plan.stratifiers]
        for paramcd, visit in plan.missing_data.tipping_point.outcomes:
            columns += [f"{paramcd}_{visit}", f"{paramcd}_{BASELINE}"]
        completed = select_columns(read_completed(imputed, frame, plan.missing_data.m),
                                   columns)
    results = tipping_points(frame, plan, params=params, imputed=completed)
    Path(table).parent.mkdir(parents=True, exist_ok=True)
    write_tsv(with_estimands(tipping_table(results), TIPPING_POINT, plan.estimands), table)
    paths = [Path(table)]
    for res in results:
        paths.append(tipping_heatmap(res, Path(figures) / figure_name(res)))
    return results, paths
