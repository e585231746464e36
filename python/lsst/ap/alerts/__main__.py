"""``python -m lsst.ap.alerts``: the ``ap-alerts`` command."""

import sys

from .tools.cli import main

sys.exit(main())
