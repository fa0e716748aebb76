"""Which estimand each results row estimates: the ``estimand`` column of every estimates
table (docs/estimands.md, docs/results.md).

One place for the whole mapping: :data:`RULES`, read top to bottom, the first rule that
matches a row gives its id. The analyses choose the estimand, not the row's wording: the
primary outcome's rows (and any row of ``survival.tsv`` with a ``strategy``) carry the
estimand of their strategy (:data:`STRATEGY_ESTIMANDS`; the plan's
``survival.primary_strategy`` for the primary analysis), the other rules name an analysis
and, where one analysis estimates several estimands, its estimate types or outcomes. A
row whose analysis already set ``estimand`` keeps it. A row that no rule matches, or an id
the plan's registry lacks, is an error naming the rows: a new analysis adds its rule here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

import pandas as pd

from outcomes.estimands import Estimand

#: The results tables that carry an ``estimand`` column (names of :func:`with_estimands`).
SURVIVAL, QUESTIONNAIRES, TIPPING_POINT = "survival", "questionnaires", "tipping_point"
CACE, MEDIATION, MEDIATION_SENSITIVITY = "cace", "mediation", "mediation_sensitivity"
COLUMN = "estimand"

#: The estimand of each strategy of the primary outcome (``survival.primary_strategy``):
#: the two hypothetical strategies are two estimators of one estimand.
STRATEGY_ESTIMANDS: dict[str, str] = {
    "while_alive": "readmit_while_alive",
    "composite": "readmit_composite",
    "exclude_incomplete": "readmit_complete_followup",
    "hypothetical_ipcw": "readmit_hypothetical",
    "hypothetical_km": "readmit_hypothetical",
}


@dataclass(frozen=True)
class Rule:
    """Rows of ``table`` whose ``analysis``, ``estimate_type``, ``outcome`` and ``effect``
    match the patterns (shell-style, :func:`fnmatch.fnmatchcase`; ``*`` matches anything,
    also a row without the column) estimate ``estimand``."""

    table: str
    analysis: str
    estimand: str
    estimate_type: str = "*"
    outcome: str = "*"
    effect: str = "*"

    def matches(self, table: str, row: Mapping[str, object]) -> bool:
        return (self.table == table
                and fnmatchcase(str(row.get("analysis", "")), self.analysis)
                and fnmatchcase(str(row.get("estimate_type", "")), self.estimate_type)
                and fnmatchcase(str(row.get("outcome", "")), self.outcome)
                and fnmatchcase(str(row.get("effect", "")), self.effect))


#: The hazard-ratio family of a time-to-event analysis (a model check included).
_HAZARD_TYPES = ("hazard_ratio", "logrank_hazard_ratio", "ph_test*")

RULES: tuple[Rule, ...] = (
    # survival.tsv (rows with a primary strategy are mapped first, by STRATEGY_ESTIMANDS)
    *(Rule(SURVIVAL, "community_tenure", "readmit_cause_specific_hr", t) for t in _HAZARD_TYPES),
    Rule(SURVIVAL, "community_tenure", "readmit_tenure_hypothetical"),
    *(Rule(SURVIVAL, "detained_readmission", "detained_cause_specific_hr", t)
      for t in _HAZARD_TYPES),
    Rule(SURVIVAL, "detained_readmission", "detained_tenure_hypothetical"),
    Rule(SURVIVAL, "competing_risks", "death_cause_specific_hr", outcome="death*"),
    Rule(SURVIVAL, "competing_risks", "readmit_cause_specific_hr",
         outcome="READMIT (cause-specific)"),
    Rule(SURVIVAL, "competing_risks", "readmit_subdistribution_hr",
         "subdistribution_hazard_ratio"),
    Rule(SURVIVAL, "competing_risks", "readmit_subdistribution_hr", "gray*"),
    Rule(SURVIVAL, "competing_risks", "readmit_while_alive"),  # the cumulative incidence
    Rule(SURVIVAL, "recurrent_readmission", "readmission_rate_while_alive"),
    Rule(SURVIVAL, "days_in_hospital", "days_in_hospital_while_alive"),
    # questionnaires.tsv and tipping_point.tsv: one estimand, several assumptions
    Rule(QUESTIONNAIRES, "*", "score_while_alive"),
    Rule(TIPPING_POINT, "*", "score_while_alive"),
    # cace.tsv: the per-protocol and as-treated rows are biased comparisons of the CACE's
    Rule(CACE, "dose_response", "readmit_per_contact", outcome="READMIT*"),
    Rule(CACE, "dose_response", "score_per_contact"),
    Rule(CACE, "*", "readmit_cace", outcome="READMIT*"),
    Rule(CACE, "*", "score_cace"),
    # mediation.tsv, each job's table and the sensitivity grids: by the job's outcome (the
    # restricted mean time of the time-to-event outcome and the interventional effects,
    # outcomes.mediation.interventional, are estimands of their own)
    Rule(MEDIATION, "*", "mediation_readmit_rmst", "rmst_difference", "readmit_time"),
    *(Rule(MEDIATION, "*", f"mediation_interventional_{o}", outcome=o, effect="interventional_*")
      for o in ("wemwbs_m12", "readmit_12m", "readmit_time")),
    *(Rule(t, "*", f"mediation_{o}", outcome=o)
      for t in (MEDIATION, MEDIATION_SENSITIVITY)
      for o in ("wemwbs_m12", "readmit_12m", "readmit_time")),
)


def estimand_of(table: str, row: Mapping[str, object]) -> str | None:
    """The estimand id of one row of ``table`` (None when no rule matches)."""
    given = row.get(COLUMN)
    if isinstance(given, str) and given:
        return given
    strategy = row.get("strategy")
    if table == SURVIVAL and isinstance(strategy, str) and strategy in STRATEGY_ESTIMANDS:
        return STRATEGY_ESTIMANDS[strategy]
    return next((r.estimand for r in RULES if r.matches(table, row)), None)


def with_estimands(frame: pd.DataFrame, table: str, registry: Mapping[str, Estimand]
                   ) -> pd.DataFrame:
    """``frame`` with its ``estimand`` column right after ``clustering`` (after
    ``analysis`` when there is none). Raises ValueError naming the rows that no rule maps
    or whose id the ``registry`` lacks."""
    out = frame.copy()
    ids = [estimand_of(table, r) for r in out.to_dict("records")]
    bad = {(str(r.get("analysis")), str(r.get("estimate_type")), str(r.get("outcome")), i)
           for r, i in zip(out.to_dict("records"), ids, strict=True) if i not in registry}
    if bad:
        shown = "; ".join(f"analysis {a}, estimate_type {t}, outcome {o}: "
                          + ("no rule" if i is None else f"'{i}' not in the registry")
                          for a, t, o, i in sorted(bad, key=str)[:5])
        raise ValueError(f"{table}: rows without a registered estimand ({shown}); add a "
                         "rule to outcomes.estimands.rows.RULES or an entry to the plan's "
                         "estimands")
    if COLUMN in out.columns:
        out = out.drop(columns=COLUMN)
    anchor = "clustering" if "clustering" in out.columns else "analysis"
    at = list(out.columns).index(anchor) + 1 if anchor in out.columns else 0
    out.insert(at, COLUMN, pd.Series(ids, index=out.index, dtype=object) if ids
               else pd.Series(dtype=object))
    return out
