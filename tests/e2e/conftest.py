"""Browser end-to-end fixtures: one ``streamlit run app.py`` per test session, Debian's Chromium
driven by Playwright's Python API (never ``playwright install``), a fresh browser context per test,
and a screenshot in ``test-results/`` for every failed test.

Waiting for the app: Streamlit marks its root element with ``data-test-script-state``
("running"/"notRunning"), but a fast rerun can flip it back before a test looks. So the page
object also counts ``script_finished`` messages on the app's websocket (the same protobuf
``ForwardMsg`` the load tool reads) and waits for "one more run finished, and nothing running".
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest

from tools.browser import CHROMIUM, CHROMIUM_ARGS
from tools.server import ROOT, StreamlitServer, start_server
from tools.warm import warm

RESULTS = ROOT / "test-results"
RUN_TIMEOUT_S = 240.0  # one rerun on a loaded 2-core machine; a hang fails with a screenshot, not forever


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Remember each phase's report on the item, so the page fixture knows the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def app_server() -> Iterator[StreamlitServer]:
    server = start_server(log_dir=RESULTS)
    try:
        warm(server.url)  # as a host does (tools/warm.py): models load before the first test
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(missing_tool: Callable[[str], NoReturn]) -> Iterator[Any]:
    if not CHROMIUM.exists() or not os.access(CHROMIUM, os.X_OK):
        missing_tool(f"{CHROMIUM} is missing (test.sh installs Debian's chromium; run it first)")
    try:
        from playwright import sync_api
    except ImportError:
        missing_tool("playwright (Python API) is not installed (pip install -r requirements-dev.txt)")
    with sync_api.sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001 - an unusable browser is a skip reason, said plainly
            missing_tool(f"{CHROMIUM} cannot be launched by Playwright: {exc}")
        try:
            yield chromium
        finally:
            chromium.close()


class AppPage:
    """A Playwright page on the app, with waits that know when Streamlit has finished a rerun."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.finished_runs = 0
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        page.on("websocket", self._on_websocket)
        page.on("dialog", self._on_dialog)
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _on_websocket(self, ws: Any) -> None:
        if "_stcore/stream" in ws.url:
            ws.on("framereceived", self._on_frame)

    def _on_frame(self, payload: Any) -> None:
        if not isinstance(payload, (bytes, bytearray)):
            return
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = ForwardMsg()
        try:
            msg.ParseFromString(bytes(payload))
        except Exception:  # noqa: BLE001 - not ours to judge here
            return
        if msg.WhichOneof("type") == "script_finished":
            self.finished_runs += 1

    # -- waiting ---------------------------------------------------------------------------------
    def script_state(self) -> str | None:
        return self.page.get_attribute('[data-testid="stApp"]', "data-test-script-state")

    def wait_for_run(self, after: int, timeout: float = RUN_TIMEOUT_S) -> None:
        """Wait until more than ``after`` runs have finished and nothing is running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.finished_runs > after and self.script_state() == "notRunning":
                return
            self.page.wait_for_timeout(100)  # lets Playwright deliver websocket events
        raise AssertionError(f"no finished rerun within {timeout:.0f} s (state {self.script_state()!r})")

    def act(self, action: Callable[[], Any], timeout: float = RUN_TIMEOUT_S) -> None:
        """Do something that triggers a rerun, and wait for that rerun to finish."""
        before = self.finished_runs
        action()
        self.wait_for_run(before, timeout)

    def goto(self, path: str, query: str = "") -> None:
        url = f"{self.base_url}/{path.lstrip('/')}" + (f"?{query}" if query else "")
        self.act(lambda: self.page.goto(url, wait_until="domcontentloaded"))

    # -- looking ---------------------------------------------------------------------------------
    def exceptions(self) -> list[str]:
        return [t.strip()[:300] for t in self.page.locator('[data-testid="stException"]').all_inner_texts()]

    def error_alerts(self) -> list[str]:
        return [t.strip()[:300] for t in self.page.locator('[data-testid="stAlertContentError"]').all_inner_texts()]

    def main(self) -> Any:
        return self.page.locator('[data-testid="stMain"]')

    def wait_for_charts(self, minimum: int = 1, timeout: float = 60.0) -> int:
        """Wait until at least ``minimum`` Plotly charts have drawn their SVG; return how many did."""
        locator = self.page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot .main-svg')
        locator.nth(minimum - 1).wait_for(state="attached", timeout=timeout * 1000)
        return self.page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').count()

    def assert_clean(self) -> None:
        """No exception box, no st.error, no dialog."""
        assert not self.exceptions(), f"exception shown: {self.exceptions()}"
        assert not self.error_alerts(), f"error shown: {self.error_alerts()}"
        assert not self.dialogs, f"a dialog fired: {self.dialogs}"

    def keyed(self, key: str) -> Any:
        """The element container of the widget with this user key (Streamlit adds .st-key-<key>)."""
        return self.page.locator(f".st-key-{key}")


def _slug(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-120:]


def _app_page(browser: Any, server: StreamlitServer, request: pytest.FixtureRequest, color_scheme: str) -> Iterator[AppPage]:
    """A fresh browser context on the app; a failed test leaves a full-page screenshot in test-results/."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme=color_scheme)
    context.set_default_timeout(60_000)
    page = context.new_page()
    app_page = AppPage(page, server.url)
    try:
        yield app_page
    finally:
        failed = any(getattr(getattr(request.node, f"rep_{when}", None), "failed", False) for when in ("setup", "call"))
        if failed:
            RESULTS.mkdir(parents=True, exist_ok=True)
            target = RESULTS / f"{_slug(request.node.nodeid)}.png"
            try:
                page.screenshot(path=str(target), full_page=True)
                print(f"screenshot: {target}")
            except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the failure
                print(f"screenshot failed: {exc}")
        context.close()


@pytest.fixture()
def app(browser: Any, app_server: StreamlitServer, request: pytest.FixtureRequest) -> Iterator[AppPage]:
    """The app in a browser whose system setting is light (the projector case)."""
    yield from _app_page(browser, app_server, request, "light")


@pytest.fixture()
def dark_app(browser: Any, app_server: StreamlitServer, request: pytest.FixtureRequest) -> Iterator[AppPage]:
    """The app in a browser whose system setting is dark: the app follows it (no theme is pinned)."""
    yield from _app_page(browser, app_server, request, "dark")
