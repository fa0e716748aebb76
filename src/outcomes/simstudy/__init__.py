"""Simulation studies of the analysis plan (Morris, White & Crowther 2019, ADEMP).

``performance`` holds the performance measures and their Monte Carlo SEs.
"""

from outcomes.simstudy.performance import MEASURES, Performance, performance

__all__ = ["MEASURES", "Performance", "performance"]
