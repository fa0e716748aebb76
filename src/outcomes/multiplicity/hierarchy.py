"""The plan's hierarchy of hypotheses tested on the results tables (docs/multiplicity.md).

Each hypothesis is one row of ``results/tables/<table>.tsv``, named in the plan by a
:class:`~outcomes.plan.RowSelector`. The primary hypothesis is tested at alpha; the key
secondary hypotheses are a family behind it (serial gatekeeping: tested only when the
primary is rejected, then with the full alpha, by the plan's method); the other
hypotheses keep their nominal p-values. Fit, then results: :func:`evaluate_hierarchy` gives a
:class:`MultiplicityResult` whose ``to_frame()`` is ``multiplicity.tsv``.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from outcomes.clustering import NONE
from outcomes.errors import ConfigError, OutcomesError
from outcomes.plan import SELECTOR_COLUMNS, AnalysisPlan, RowSelector
from outcomes.tables import ESTIMATED, NOT_ESTIMABLE

from .adjust import adjust, gated

PRIMARY, KEY_SECONDARY, OTHER = "primary", "key_secondary", "other"
#: ``method`` of the primary hypothesis (alone at alpha) and of the other hypotheses.
SINGLE, NOMINAL = "single", "nominal"
#: The identification of a row of an estimates table apart from its design.
ROW_KEY = ("analysis", "outcome", "contrast", "estimate_type")
COLUMNS = ("family", "order", "table", *ROW_KEY[:1], "clustering", *ROW_KEY[1:], "estimate",
           "method", "gatekeeper", "alpha", "p_value", "adjusted_p_value", "tested",
           "rejected", "status", "reason")


def read_estimates(path: str | Path) -> pd.DataFrame:
    """An estimates table as text (cells as written, ``NA`` kept): what selectors match."""
    path = Path(path)
    try:
        if not path.read_text(encoding="utf-8").strip():  # a stage with no estimates
            return pd.DataFrame(columns=list(ROW_KEY))
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise OutcomesError(f"{path}: cannot read the table: {exc}") from None


def main_questionnaire_analysis(plan: AnalysisPlan) -> str:
    """The questionnaire analysis a selector without ``analysis`` names: the ANCOVA pooled
    over imputations under ``missing_data.method: mi``, the complete-case ANCOVA otherwise."""
    from outcomes.imputation.ancova import ANALYSIS as MI_ANALYSIS
    from outcomes.questionnaires import ANALYSIS as CC_ANALYSIS

    return MI_ANALYSIS if plan.missing_data.method == "mi" else CC_ANALYSIS


def _conditions(sel: RowSelector, plan: AnalysisPlan) -> dict[str, str]:
    named = sel.named()
    if sel.table == "questionnaires" and sel.analysis is None:
        named = {"analysis": main_questionnaire_analysis(plan), **named}
    return {c: named[c] for c in SELECTOR_COLUMNS if c in named}


def _described(conditions: dict[str, str]) -> str:
    return ", ".join(f"{c} {v!r}" for c, v in conditions.items())


def select_row(table: pd.DataFrame, sel: RowSelector, plan: AnalysisPlan) -> int:
    """The index of the one row of ``table`` that ``sel`` names; a :class:`ConfigError`
    naming the config key when it names no row or several.

    Without ``clustering`` the rows are those of the plan's main design
    (``outcomes.survival.tables.main_analysis_rows``: a row written once, under ``none``,
    stands for both designs)."""
    from outcomes.survival.tables import main_analysis_rows

    where = f"config key '{sel.key}': tables/{sel.table}.tsv"
    conditions = _conditions(sel, plan)
    rows = table
    if sel.clustering is None and "clustering" in table.columns:
        rows = main_analysis_rows(table, plan.clustering, [c for c in ROW_KEY if c in table])
        conditions.pop("clustering", None)
    for col in conditions:
        if col not in table.columns:
            raise ConfigError(f"{where} has no column '{col}' (the selector names {col} "
                              f"{conditions[col]!r})")
    done: dict[str, str] = {}
    for col, value in conditions.items():
        left = rows.loc[rows[col] == value]
        if left.empty:
            seen = sorted(set(rows[col]))
            close = difflib.get_close_matches(value, seen, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            among = f" among the rows with {_described(done)}" if done else ""
            raise ConfigError(
                f"{where} has no row with {col} {value!r}{among}{hint}; the {col} values there: "
                f"{', '.join(seen[:12]) or 'none (no rows)'}{', ...' if len(seen) > 12 else ''}")
        rows, done[col] = left, value
    if len(rows) > 1:
        differ = [c for c in (*ROW_KEY, "clustering") if c in rows and rows[c].nunique() > 1]
        detail = "; ".join(f"{c}: {', '.join(sorted(set(rows[c])))}" for c in differ)
        raise ConfigError(f"{where}: {_described(conditions)} matches {len(rows)} rows, not one; "
                          f"name the one meant by {' or '.join(differ) or 'its columns'} ({detail})")
    return int(rows.index[0])


@dataclass(frozen=True)
class Hypothesis:
    """One hypothesis of the hierarchy, its row and its test."""

    family: str
    order: int
    table: str
    row: dict[str, str]  # the ROW_KEY columns and clustering of the row
    estimate: float
    method: str
    gatekeeper: str
    p_value: float  # NaN when not estimable
    adjusted_p_value: float  # NaN when it cannot be computed
    tested: bool
    rejected: bool
    status: str
    reason: str


@dataclass(frozen=True)
class MultiplicityResult:
    """The hierarchy's hypotheses in order: primary, key secondary, other."""

    alpha: float
    method: str
    hypotheses: tuple[Hypothesis, ...]

    def to_frame(self) -> pd.DataFrame:
        rows = [{"family": h.family, "order": h.order, "table": h.table, **h.row,
                 "estimate": h.estimate, "method": h.method, "gatekeeper": h.gatekeeper,
                 "alpha": self.alpha, "p_value": h.p_value,
                 "adjusted_p_value": h.adjusted_p_value, "tested": h.tested,
                 "rejected": h.rejected, "status": h.status, "reason": h.reason}
                for h in self.hypotheses]
        return pd.DataFrame(rows, columns=list(COLUMNS))


@dataclass(frozen=True)
class _Member:
    table: str
    row: dict[str, str]
    estimate: float
    p: float  # NaN: not estimable
    reason: str  # why not estimable


def _number(text: str) -> float:
    try:
        x = float(text)
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


def _member(tables: dict[str, pd.DataFrame], sel: RowSelector, plan: AnalysisPlan) -> _Member:
    t = tables[sel.table]
    i = select_row(t, sel, plan)
    r = t.loc[i]
    row = {c: str(r[c]) for c in ROW_KEY}
    row = {"analysis": row["analysis"], "clustering": str(r.get("clustering", NONE)),
           **{c: row[c] for c in ROW_KEY[1:]}}
    p = _number(r.get("p_value"))
    reason = ""
    if r.get("status", ESTIMATED) == NOT_ESTIMABLE:
        p, reason = math.nan, str(r.get("reason", "")) or "not estimable"
    elif math.isnan(p) or not 0 <= p <= 1:
        p, reason = math.nan, "the row has no p-value"
    return _Member(sel.table, row, _number(r.get("estimate")), p, reason)


def _fmt(p: float) -> str:
    return f"{p:.4g}"


def evaluate_hierarchy(tables: dict[str, pd.DataFrame], plan: AnalysisPlan) -> MultiplicityResult:
    """Test the plan's hierarchy (``plan.multiplicity``) on the results ``tables`` (name ->
    table as read by :func:`read_estimates`).

    A key secondary hypothesis that is not estimable stays in its family with p = 1 for
    the others' adjustment (Holm, Hochberg, Bonferroni: the family's size is the plan's)
    and has no adjusted p-value; in a fixed sequence it ends the testing: the hypotheses
    after it are not tested and have none either. A primary hypothesis that is not
    estimable leaves the key secondary family untested."""
    mp = plan.multiplicity
    assert mp is not None  # every plan read from a config has one
    alpha = mp.alpha
    prim = _member(tables, mp.primary, plan)
    keys = [_member(tables, s, plan) for s in mp.key_secondary]
    others = [_member(tables, s, plan) for s in mp.other]
    out = []

    def hypothesis(family, k, m, method, gate, adj, tested, reason):
        adj = float(adj)
        return Hypothesis(family, k, m.table, m.row, m.estimate, method, gate, m.p, adj,
                          bool(tested), bool(tested and adj <= alpha),
                          NOT_ESTIMABLE if math.isnan(m.p) else ESTIMATED, reason)

    p1 = prim.p
    out.append(hypothesis(PRIMARY, 1, prim, SINGLE, "", p1, not math.isnan(p1), prim.reason))
    ps = np.array([m.p for m in keys], dtype=float)
    missing = np.isnan(ps)
    if mp.method == "fixed_sequence":
        stop = int(np.argmax(missing)) if missing.any() else len(ps)
        within = np.full(len(ps), np.nan)
        within[:stop] = adjust(ps[:stop], "fixed_sequence")
    else:
        within = adjust(np.where(missing, 1.0, ps), mp.method)
        within[missing] = np.nan
    overall = gated(p1, within) if not math.isnan(p1) else np.full(len(ps), np.nan)
    for j, m in enumerate(keys):
        reason, tested = m.reason, not missing[j]
        if math.isnan(p1):
            reason, tested = _joined(reason, "not tested: the primary hypothesis is not estimable, "
                                             "so the gate to the key secondary hypotheses stays "
                                             "closed"), False
        elif p1 > alpha:
            reason, tested = _joined(reason, f"not tested: the primary hypothesis was not rejected "
                                             f"(p = {_fmt(p1)} > {alpha:g})"), False
        elif mp.method == "fixed_sequence":
            before = next((k for k in range(j) if missing[k] or ps[k] > alpha), None)
            if before is not None:
                why = ("not estimable" if missing[before]
                       else f"not rejected, p = {_fmt(ps[before])} > {alpha:g}")
                reason, tested = _joined(reason, f"not tested: the fixed sequence stopped at key "
                                                 f"secondary hypothesis {before + 1} ({why})"), False
        out.append(hypothesis(KEY_SECONDARY, j + 1, m, mp.method, PRIMARY, overall[j], tested,
                              reason))
    for j, m in enumerate(others):
        out.append(hypothesis(OTHER, j + 1, m, NOMINAL, "", m.p, not math.isnan(m.p), m.reason))
    return MultiplicityResult(alpha, mp.method, tuple(out))


def _joined(first: str, second: str) -> str:
    return f"{first}; {second}" if first else second


def run_multiplicity(plan: AnalysisPlan, tables_dir: str | Path, out: str | Path) -> MultiplicityResult:
    """Read the tables the plan's hierarchy names from ``tables_dir``, test it and write
    ``out`` (``multiplicity.tsv``) atomically."""
    from outcomes.tables import write_tsv

    names = sorted({s.table for s in hierarchy_selectors(plan)})
    tables = {}
    for name in names:
        path = Path(tables_dir) / f"{name}.tsv"
        if not path.exists():
            raise OutcomesError(f"{path}: not found; the plan's multiplicity hierarchy names "
                                f"a row of {name}.tsv")
        tables[name] = read_estimates(path)
    result = evaluate_hierarchy(tables, plan)
    write_tsv(result.to_frame(), out)
    return result


def hierarchy_selectors(plan: AnalysisPlan) -> tuple[RowSelector, ...]:
    """Every selector of the plan's hierarchy, in order."""
    assert plan.multiplicity is not None
    return plan.multiplicity.selectors
