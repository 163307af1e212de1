"""Import the whole library once, under one lock, before the first model page runs.

Streamlit runs every session's script on its own thread. When a class opens the app at the same
moment, several threads import the same modules concurrently; Python's per-module import locks
can then report a deadlock (``_DeadlockError`` on a module half-imported by another thread), or a
thread can see a half-initialised module. Importing everything the pages use once, serialised,
makes the first sessions find complete modules in ``sys.modules``.

It then freezes those long-lived objects out of the garbage collector's sight. Streamlit runs a full
``gc.collect()`` after every script run (``runner.postScriptGC``), and with torch, pandas and Plotly
imported that walks about 260,000 objects: ~100 ms of CPU, holding the GIL, per rerun of every session,
about half the server's CPU under a classroom's load (measured with py-spy). ``gc.freeze()`` moves
the objects alive after the imports (modules, classes, functions) into a permanent generation that
collections skip; a collection then costs well under a millisecond. Reference counting still frees
frozen objects as usual; only reference cycles among them would wait, and import-time objects are
meant to live as long as the process.
"""

from __future__ import annotations

import gc
import importlib
import pkgutil
import threading

import explorer

_lock = threading.Lock()
_done = False
_background_lock = threading.Lock()
_background_started = False
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
        from explorer.device import configure_threads  # noqa: PLC0415 - torch is imported by now

        configure_threads()  # once per process, before any page computes
        start_profiler_engine()
        freeze_long_lived_objects()
        _done = True


def start_profiler_engine() -> None:
    """Start torch.profiler's engine (libkineto) once, on the thread that imported torch.

    Importing torch registers its libkineto client on the importing thread; the first profile run
    initialises that client and, when it runs on another thread (any other Streamlit session),
    libkineto prints "ERROR: External init callback must run in same thread as registerClient" and
    skips the init. Harmless, but a teacher reads it as an error. An empty CPU profile here, on
    the preload thread that just imported torch, initialises it where libkineto expects (~ms).
    """
    from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415 - torch is imported by now

    with profile(activities=[ProfilerActivity.CPU]):
        pass


def device_caption() -> str:
    """The sidebar's device line; on a first home-page visit torch may still be importing, so say that.

    Keeping torch out of the home page's path is what lets the app's first page draw in about the
    time it takes to import Streamlit (bench/bench_startup.py).
    """
    if not _done:
        return "Device: chosen once PyTorch has loaded (it loads in the background)."
    from explorer.device import describe_device, pick_device  # noqa: PLC0415

    try:
        return f"Device: {describe_device(pick_device())}"
    except ValueError as error:  # e.g. EXPLORER_DEVICE=cuda on a machine without CUDA: say so, no traceback
        return f"Device: {error}"


def preload_in_background() -> None:
    """Start :func:`preload_library` on a daemon thread (once), so the home page never waits for it.

    The first visitor reads the home page while torch and the library import; by the time they open
    a model page the import (and the GC freeze) is done or under way, and that page waits on the lock.
    """
    global _background_started
    with _background_lock:
        if _done or _background_started:
            return
        _background_started = True
    threading.Thread(target=preload_library, name="explorer-preload", daemon=True).start()


def freeze_long_lived_objects() -> None:
    """Collect once, then hide every surviving object from later collections (see the module docstring)."""
    gc.collect()
    gc.freeze()
