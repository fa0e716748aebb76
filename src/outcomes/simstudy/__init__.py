"""Simulation studies of the analysis plan (Morris, White & Crowther 2019, ADEMP).

``study`` reads a study file (scenario grid, estimands, seeds), ``run`` simulates and
analyses the replicates of a batch and summarises them, ``performance`` holds the
performance measures and their Monte Carlo SEs (docs/simulation-study.md).
"""

from outcomes.simstudy.performance import MEASURES, Performance, performance
from outcomes.simstudy.run import REPLICATE_COLUMNS, run_batch, scenario_truth, summarise
from outcomes.simstudy.study import Estimand, Scenario, Study, load_study, study_from_config

__all__ = ["MEASURES", "REPLICATE_COLUMNS", "Estimand", "Performance", "Scenario", "Study",
           "load_study", "performance", "run_batch", "scenario_truth", "study_from_config",
           "summarise"]
