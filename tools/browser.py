"""How tests and benchmarks start Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
# No sandbox (root in CI), no GPU, and no background connections: this machine's network refuses them,
# many at a time, which slows every page load.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
