"""What a simulation study's jobs declare to a scheduler (``mem_mb``, ``runtime``).

A batch's cost is its replicates' analyses: the CPU seconds of one replicate of n = 600
under config/test.yaml measured for issue 17 (benchmarks/README.md, "cost of a replicate":
survival 0.7 s, questionnaires 3.2 s, mediation 3.9 s; engagement, not measured there, taken
as the questionnaires'; the primary analysis alone, a share of survival's, taken as 0.2 s), plus the simulation of the trial, grown linearly with n and with
the plan's imputations and bootstrap replicates, times the margin and the attempt, as the
trial pipeline's declarations are (:mod:`outcomes.resources`).
"""

from __future__ import annotations

import math

from outcomes.resources import MIN_RUNTIME_MIN, RUNTIME_MARGIN
from outcomes.simstudy.study import Scenario, Study

#: CPU seconds of one replicate of n = 600 under config/test.yaml, by analysis.
REPLICATE_SECONDS_600: dict[str, float] = {"primary": 0.2, "survival": 0.7, "questionnaires": 3.2,
                                           "engagement": 3.2, "mediation": 3.9}
#: Simulating, validating and deriving one trial of n = 600 (CPU seconds).
TRIAL_SECONDS_600 = 1.5
#: config/test.yaml's imputations and mediation bootstrap, the calibration's plan.
TEST_PLAN_WORK = {"m": 3, "n_boot": 50}
#: Memory: the interpreter with the analyses imported, plus what grows with n.
BASE_MEM_MB = 1000
MEM_MB_PER_PARTICIPANT = 0.02


def _work(study: Study, analysis: str) -> float:
    plan = study.plan
    m = plan.get("missing_data", {}).get("m", 50) if plan.get("missing_data", {}).get("method", "mi") == "mi" else 1
    factor = max(1.0, m / TEST_PLAN_WORK["m"]) if analysis in ("questionnaires", "engagement", "mediation") else 1.0
    if analysis == "mediation":
        factor *= max(1.0, plan.get("mediation", {}).get("n_boot", 1000) / TEST_PLAN_WORK["n_boot"])
    return factor


def replicate_seconds(study: Study, scenario: Scenario) -> float:
    """Estimated CPU seconds of one replicate of ``scenario``."""
    per = TRIAL_SECONDS_600 + sum(REPLICATE_SECONDS_600[a] * _work(study, a) for a in study.analyses)
    return per * max(1.0, scenario.n / 600)


def batch_runtime_min(study: Study, scenario: Scenario, attempt: int = 1) -> int:
    seconds = replicate_seconds(study, scenario) * study.batch_size * RUNTIME_MARGIN
    return max(MIN_RUNTIME_MIN, math.ceil(seconds / 60)) * attempt


def batch_mem_mb(study: Study, scenario: Scenario, attempt: int = 1) -> int:
    return math.ceil(BASE_MEM_MB + MEM_MB_PER_PARTICIPANT * scenario.n) * attempt
