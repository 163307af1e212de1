"""The app shell: navigation, home page and shared sidebar run without exceptions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.share import link_in_box

APP = Path(__file__).resolve().parents[2] / "app.py"


def test_home_page_runs_and_links_every_page() -> None:
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    assert not at.exception
    assert at.title[0].value == "Transformer Explorer"
    text = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    for topic in ("attention", "positions", "patches", "profiler"):
        assert topic in text.lower()
    assert any("Device:" in c.value for c in at.sidebar.caption)


def test_seed_comes_from_the_link() -> None:
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.query_params["seed"] = "42"
    at.run()
    assert not at.exception
    assert at.sidebar.number_input(key="seed").value == 42


def test_hostile_seed_in_the_link_is_ignored_with_a_notice() -> None:
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.query_params["seed"] = "inf"
    at.run()
    assert not at.exception
    assert at.sidebar.number_input(key="seed").value == 0
    assert any("seed" in w.value for w in at.warning)


def test_every_view_offers_a_link_that_carries_the_seed() -> None:
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.query_params["seed"] = "7"
    at.run()
    assert any("seed=7" in (link_in_box(h.value) or "") for h in at.sidebar.get("html"))


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
def test_home_page_does_not_import_torch() -> None:
    """The first page a visitor sees draws without waiting for torch (start-up, bench/bench_startup.py);
    the library import starts on a background thread only after the page is drawn (disabled here)."""
    code = (
        "import sys\n"
        "import ui.preload\n"
        "ui.preload.preload_in_background = lambda: None\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('app.py', default_timeout=120).run()\n"
        "assert not at.exception, at.exception\n"
        "assert any('Device:' in c.value for c in at.sidebar.caption)\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=APP.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False", "the home page imported torch"
