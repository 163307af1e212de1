"""``python -m explorer.profiling [options]``: the same as ``python -m explorer profile``."""

import sys

from explorer.profiling.cli import main

sys.exit(main())
