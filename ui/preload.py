"""Import the whole library once, under one lock, before the first page runs.

Streamlit runs every session's script on its own thread. When a class opens the app at the same
moment, several threads import the same modules concurrently; Python's per-module import locks
can then report a deadlock (``_DeadlockError`` on a module half-imported by another thread), or a
thread can see a half-initialised module. Importing everything the pages use once, serialised,
makes the first sessions find complete modules in ``sys.modules``.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading

import explorer

_lock = threading.Lock()
_done = False
THIRD_PARTY = ("pandas", "numpy", "plotly.graph_objects", "plotly.subplots", "plotly.express", "PIL.Image", "torch")


def library_modules() -> list[str]:
    """Every module of the ``explorer`` package except ``__main__`` entry points (importing one runs a CLI)."""
    found = pkgutil.walk_packages(explorer.__path__, prefix="explorer.")
    return sorted(info.name for info in found if not info.name.endswith("__main__"))


def preload_library() -> None:
    """Import third-party libraries and every explorer module once per process (later calls return at once)."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        for name in (*THIRD_PARTY, *library_modules()):
            importlib.import_module(name)
        _done = True
