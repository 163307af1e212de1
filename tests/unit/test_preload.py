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
