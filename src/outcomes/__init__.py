"""outcomes: validation, scoring, survival and mediation analysis of peer-support trials."""

__version__ = "0.1.0"
