"""Warm a freshly started app: wait for its health check, then open the home page once.

Used as systemd's ExecStartPost (deploy/explorer@.service) and by the test fixtures that start a
server: the home page starts the one-time library import (torch included) in the background, so the
first student does not wait for it.

Usage: python tools/warm.py http://127.0.0.1:8501
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.server import wait_http_ok
from tools.stclient import StreamlitSession


def warm(url: str, timeout: float = 300.0) -> int:
    wait_http_ok(f"{url.rstrip('/')}/_stcore/health", timeout=timeout)
    with StreamlitSession(url, timeout=timeout) as session:
        result = session.open("")
    print(f"warmed {url}: {result.status} in {result.seconds:.1f} s")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(warm(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8501"))
