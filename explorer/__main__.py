"""``python -m explorer``: see ``explorer.cli``."""

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle torch threads sleep instead of spinning: many sessions share few cores

from explorer.cli import main

if __name__ == "__main__":
    sys.exit(main())
