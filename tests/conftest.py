"""Shared test setup and fixtures: run from the repository root, torch's threads fitted to the machine once.

Lanes (pyproject.toml): plain ``pytest`` runs ``tests/unit`` and ``tests/app`` without ``slow`` tests;
``bash test.sh`` runs everything, ``tests/system`` (servers, load, replicas) and ``tests/e2e`` (Chromium) included.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
os.chdir(ROOT)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from explorer.device import configure_threads  # noqa: E402

configure_threads()

# AppTests run app.py in this process: its start-up warm-up (SmolLM2, the translators) would load every
# model in the background of the whole run. Servers the tests start are other processes and still warm.
import ui.preload  # noqa: E402

ui.preload._background_started = True

STRICT_ENV = "EXPLORER_REQUIRE_SYSTEM_TOOLS"


def _missing_tool(reason: str) -> NoReturn:
    """Skip (local run) or fail (CI run) because a system tool the test needs is unusable.

    A laptop without chromium should still run the unit suite, so a missing tool is a skip there. In CI
    a skip would hide a browser or replica suite that never ran, so ``.ci/run`` sets
    ``EXPLORER_REQUIRE_SYSTEM_TOOLS=1`` and the same condition becomes a failure.
    """
    if os.environ.get(STRICT_ENV) == "1":
        pytest.fail(f"{reason} [{STRICT_ENV}=1: CI must run this test]", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def missing_tool() -> Callable[[str], NoReturn]:
    """``missing_tool(reason)``: skip locally, fail in CI (see ``_missing_tool``)."""
    return _missing_tool


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def fresh_zoo_cache() -> Iterator[None]:
    """Empty the zoo's process cache and the app's caches built on it (models, runs, views) before and after a test that
    swaps the zoo (monkeypatched ``load_model`` or ``CHECKPOINT_DIR``), so no other test sees its models."""
    import explorer.zoo
    from ui import cache

    def clear() -> None:
        explorer.zoo._cached.cache_clear()
        for cached in (cache.zoo_model, cache.translation, cache.dates_view, cache.dates_step_view, cache.vit_run, cache.vit_tab_view, cache.vit_verdict,
                       cache.vit_training_view):
            cached.clear()

    clear()
    yield
    clear()


@pytest.fixture(scope="session")
def open_page() -> Callable[..., AppTest]:
    """``open_page("vit", vit_layer="2")``: run ``app_pages/<name>.py`` once with those URL parameters (AppTest)."""
    def open_(name: str, **params: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=180)
        for key, value in params.items():
            at.query_params[key] = value
        return at.run()

    return open_


@pytest.fixture(scope="session")
def english() -> object:
    """Mozilla's English -> Portuguese Marian (``explorer.pretrained.Pretrained``); the test is skipped without its wheel."""
    from explorer.pretrained import ModelUnavailable, load_pretrained

    try:
        return load_pretrained("marian-en-pt")
    except ModelUnavailable as missing:
        pytest.skip(str(missing))
