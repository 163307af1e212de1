"""The shipped hosting settings (.streamlit/config.toml, deploy/nginx.conf) say what docs/hosting.md promises."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_public_hosting_defaults() -> None:
    assert CONFIG["server"]["headless"] is True
    assert CONFIG["server"]["enableXsrfProtection"] is True
    assert CONFIG["browser"]["gatherUsageStats"] is False
    assert CONFIG["client"]["showErrorDetails"] == "none", "viewers must never see tracebacks"


def test_upload_limit_matches_nginx() -> None:
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    limit = re.search(r"client_max_body_size\s+(\d+)m;", nginx)
    assert limit and int(limit.group(1)) == CONFIG["server"]["maxUploadSize"]


def test_no_full_collection_after_every_run() -> None:
    """A full gc.collect() after each run cost ~80 ms of GIL per rerun (see ui/preload.py); keep it off."""
    assert CONFIG["runner"]["postScriptGC"] is False


def test_no_theme_is_pinned() -> None:
    """Pinning theme.base removes the viewers' light/dark switch (browser test: test_viewers_can_switch...)."""
    assert "base" not in CONFIG.get("theme", {})
