"""The one-time library preload: everything imported, long-lived objects frozen out of the GC's walk."""

from __future__ import annotations

import gc
import sys

import pytest

from ui import preload


def test_preload_imports_the_library_and_freezes_what_lives_on() -> None:
    preload.preload_library()
    assert all(name in sys.modules for name in preload.library_modules())
    # After the freeze, a full collection walks only what was created since; torch, pandas and
    # plotly's objects (~250,000) sit in the permanent generation, which gc.get_objects() leaves out.
    import torch

    assert gc.get_freeze_count() > 50_000
    assert not any(obj is torch.nn.Module for obj in gc.get_objects()), "torch's classes were not frozen"


@pytest.mark.parametrize("library_imported", [False, True], ids=["home page first", "shared link to a model page first"])
def test_background_warm_up_starts_exactly_once(monkeypatch, library_imported: bool) -> None:
    """From the home page the thread imports the library, then warms the models; after a shared link to a
    model page (the library already imported on that page's thread) it still starts, once, to warm them."""
    started: list[object] = []
    monkeypatch.setattr(preload, "_done", library_imported)
    monkeypatch.setattr(preload, "_background_started", False)
    monkeypatch.setattr(preload.threading, "Thread", lambda **kw: started.append(kw) or _NoThread())
    preload.preload_in_background()
    preload.preload_in_background()
    assert len(started) == 1 and started[0]["target"] is preload._preload_and_warm


class _NoThread:
    def start(self) -> None:
        pass


def test_warm_steps_wait_while_a_page_is_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm step (e.g. reading SmolLM2) waits while any session's page runs, and goes ahead once they stop
    (or after its timeout, so a class that never pauses still gets the models warmed)."""
    import threading

    order: list[str] = []
    monkeypatch.setattr(preload, "preload_library", lambda: None)
    monkeypatch.setattr(preload, "warm_models", lambda: order.append("warm models"))
    monkeypatch.setattr(preload, "warm_translator", lambda: order.append("warm translator"))
    monkeypatch.setattr(preload, "warm_language_model", lambda: order.append("warm LM"))
    release = threading.Event()

    def student() -> None:
        with preload.page_run():
            order.append("page starts")
            release.wait(5)
            order.append("page ends")

    page = threading.Thread(target=student)
    page.start()
    while "page starts" not in order:
        pass
    assert preload.wait_for_quiet_pages(timeout=0.2) is False, "a running page is not quiet"
    warm = threading.Thread(target=preload._preload_and_warm)
    warm.start()
    warm.join(0.3)
    assert order == ["page starts"], "the warm-up ran while a page was running"
    release.set()
    page.join()
    warm.join(5)
    assert order == ["page starts", "page ends", "warm models", "warm translator", "warm LM"]
    assert preload.wait_for_quiet_pages(timeout=0.0) is True
