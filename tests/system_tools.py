"""Missing system tools (Debian's chromium, nginx) skip a test locally but fail it in CI.

A laptop without chromium should still run the unit suite, so a missing tool is a skip there.
In CI a skip would hide a browser or replica suite that never ran, so ``.ci/run`` sets
``EXPLORER_REQUIRE_SYSTEM_TOOLS=1`` and the same condition becomes a failure.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

STRICT_ENV = "EXPLORER_REQUIRE_SYSTEM_TOOLS"


def missing_tool(reason: str) -> NoReturn:
    """Skip (local run) or fail (CI run) because a system tool the test needs is unusable."""
    if os.environ.get(STRICT_ENV) == "1":
        pytest.fail(f"{reason} [{STRICT_ENV}=1: CI must run this test]", pytrace=False)
    pytest.skip(reason)
