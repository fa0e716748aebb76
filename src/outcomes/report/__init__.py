"""The trial report ``results/report/index.html`` (docs/report.md), rendered from result files.

``write_report(results_dir, out)`` reads the tables, derived datasets, validation outputs,
plan and (when present) provenance of a run and writes one self-contained HTML file in
CONSORT order; nothing is re-estimated. See docs/report.md.
"""

from .inputs import ReportInputError, ReportInputs, load_inputs
from .render import PrivacyError, check_privacy, find_leaks, render_report, write_report

__all__ = [
    "PrivacyError",
    "ReportInputError",
    "ReportInputs",
    "check_privacy",
    "find_leaks",
    "load_inputs",
    "render_report",
    "write_report",
]
