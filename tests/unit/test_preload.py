"""The one-time library preload: everything imported, long-lived objects frozen out of the GC's walk."""

from __future__ import annotations

import gc
import sys

from ui import preload


def test_preload_imports_the_library_and_freezes_what_lives_on() -> None:
    preload.preload_library()
    assert all(name in sys.modules for name in preload.library_modules())
    # After the freeze, a full collection walks only what was created since; torch, pandas and
    # plotly's objects (~250,000) sit in the permanent generation, which gc.get_objects() leaves out.
    import torch

    assert gc.get_freeze_count() > 50_000
    assert not any(obj is torch.nn.Module for obj in gc.get_objects()), "torch's classes were not frozen"


def test_background_preload_starts_at_most_one_thread(monkeypatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(preload, "_done", False)
    monkeypatch.setattr(preload, "_background_started", False)
    monkeypatch.setattr(preload.threading, "Thread", lambda **kw: started.append(kw) or _NoThread())
    preload.preload_in_background()
    preload.preload_in_background()
    assert len(started) == 1 and started[0]["target"] is preload._preload_and_warm  # the library import, then the models warmed


def test_a_deep_link_first_still_warms_the_other_pages_models(monkeypatch) -> None:
    """A shared link to a model page imports the library on that page's thread; the warm-up still starts once."""
    started: list[object] = []
    monkeypatch.setattr(preload, "_done", True)
    monkeypatch.setattr(preload, "_background_started", False)
    monkeypatch.setattr(preload.threading, "Thread", lambda **kw: started.append(kw) or _NoThread())
    preload.preload_in_background()
    preload.preload_in_background()
    assert len(started) == 1 and started[0]["target"] is preload._preload_and_warm


class _NoThread:
    def start(self) -> None:
        pass
