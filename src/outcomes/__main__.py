"""``python -m outcomes``: the same command line as the ``outcomes`` console script."""

import sys

from outcomes.cli import main
from outcomes.resources import record_usage

try:
    status = main()
finally:
    record_usage(sys.argv[1:])
sys.exit(status)
