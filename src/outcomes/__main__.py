"""``python -m outcomes``: the same command line as the ``outcomes`` console script."""

import sys

from outcomes.cli import main

sys.exit(main())
