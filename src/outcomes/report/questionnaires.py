"""The questionnaire outcomes section: the ANCOVA rows of questionnaires.tsv by score."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outcomes.instruments import load_registry

from . import fmt
from .estimates import (
    PRIMARY_SCORE_ORDER,
    VISITS,
    Estimate,
    count,
    estimate,
)
from .fmt import Num
from .inputs import ReportInputs

# ----------------------------------------------------------------------------- questionnaires


@dataclass
class QRow:
    score: str
    visit: str
    direction: str
    mean_t: Num | None
    mean_c: Num | None
    n_t: Num | None
    n_c: Num | None
    est: Estimate
    excluded: Num | None


def _registry_info() -> dict[str, tuple[int, str, bool]]:
    info = {}
    for k, (key, inst) in enumerate(load_registry().items()):
        for s in inst.scores:
            info[s.paramcd] = (k, key, s.higher_is_better)
    return info


def questionnaire_rows(inp: ReportInputs) -> tuple[list[dict[str, Any]], list[Estimate]]:
    """ANCOVA rows grouped by score (downstream outcomes first), and any other rows."""
    q = inp.questionnaires
    r = q.raw
    if r.empty:
        return [], []
    info = _registry_info()
    rows, other = [], []
    order = []
    for i in r.index:
        if r.at[i, "analysis"] != "questionnaire_ancova" or "paramcd" not in r.columns:
            other.append(estimate(q, "questionnaires", int(i), f"{r.at[i, 'analysis']}: {r.at[i, 'outcome']}"))
            continue
        pc, visit = r.at[i, "paramcd"], r.at[i, "avisit"]
        k, _key, hib = info.get(pc, (999, "", True))
        prim = PRIMARY_SCORE_ORDER.index(pc) if pc in PRIMARY_SCORE_ORDER else 100 + k
        label = r.at[i, "param"] if "param" in r.columns else pc
        est = estimate(q, "questionnaires", int(i), label)

        def mean(col, i=i):
            return fmt.cell(r.at[i, col], estimate_type="score_mean", src="questionnaires",
                            row=int(i), col=col) if col in r.columns else None

        rows.append(QRow(
            score=f"{label} ({pc})", visit=VISITS.get(visit, visit),
            direction="higher is better" if hib else "lower is better",
            mean_t=mean("mean_treated"), mean_c=mean("mean_control"),
            n_t=count(q, "questionnaires", int(i), "n_treated"),
            n_c=count(q, "questionnaires", int(i), "n_control"),
            est=est, excluded=count(q, "questionnaires", int(i), "n_excluded")))
        order.append((prim, pc, list(VISITS).index(visit) if visit in VISITS else 9))
    rows = [x for _, x in sorted(zip(order, rows, strict=True), key=lambda z: z[0])]
    groups: list[dict[str, Any]] = []
    for row in rows:
        if not groups or groups[-1]["score"] != row.score:
            groups.append({"score": row.score, "direction": row.direction, "rows": []})
        groups[-1]["rows"].append(row)
    return groups, other
