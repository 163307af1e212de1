"""Shared test setup: run from the repository root, with torch's threads fitted to the machine once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle torch threads sleep instead of spinning: many sessions share few cores

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from explorer.device import configure_threads  # noqa: E402

configure_threads()
