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

import contextlib
import gc
import importlib
import pkgutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import explorer

_lock = threading.Lock()
_done = False
_background_lock = threading.Lock()
_background_started = False
_runs_lock = threading.Lock()
_page_runs = 0  # page scripts running now, in any session
QUIET_WAIT_SECONDS = 30.0  # the longest a warm step waits for the pages to go quiet before it runs anyway
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
        from explorer.device import configure_threads  # torch is imported by now

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
    from torch.profiler import ProfilerActivity, profile  # torch is imported by now

    with profile(activities=[ProfilerActivity.CPU]):
        pass


WARM_MODELS = ("dates", "shapes")  # the Transformer and ViT pages' default models (small: < 5 MB each)


def warm_models() -> None:
    """Load the default teaching models and run each once, so the first visitor of a page does not wait.

    Called on the background thread after the library import (never on a page's own run). A model
    loaded here is the same shared, read-only object the pages get from ``explorer.zoo`` (its own
    lock makes a page that asks meanwhile wait for this load instead of loading twice); the forward
    passes also pay torch's one-time kernel set-up.
    """
    import numpy as np

    from explorer.analysis.stepwise import translate_and_record
    from explorer.lab.vit_snapshots import load_snapshots
    from explorer.tasks import shapes
    from explorer.views.vit import run_image
    from explorer.zoo import load_model

    dates = load_model(WARM_MODELS[0])
    translate_and_record(dates.model, dates.tokenizer, "26 Nov 2026")
    vit = load_model(WARM_MODELS[1])
    size = int(vit.config.image_size)
    run_image(vit.model, vit.meta, np.asarray(shapes.sample_image(shapes.CLASSES[0], 0, size=size)), size)
    load_snapshots()  # the ViT page's training replay reads them


def warm_translator() -> None:
    """Load the English -> Portuguese Marian and translate the Transformer page's default sentence.

    That page's default is the translator, so its first visitor otherwise waits for the weights to
    be read and dequantised plus a recorded translation; done here, the page's own run finds both
    in the view's bounded per-input cache. The translation's default top-k is the page's.
    """
    from explorer.pretrained import pretrained_status
    from explorer.views import translation

    if pretrained_status(translation.TRANSLATORS["en-pt"]) is None:
        translation.prepare("en-pt", translation.DEFAULT_TEXT["en-pt"], translation.DEFAULT_TOP_K)


def warm_language_model() -> None:
    """Load SmolLM2 (about 10 s) and compute the language-model page's default view, after the small models.

    The page's first visitor then waits only for figures, not for the GGUF read and 30 layers of
    attention. The model's memory is paid by the first visit anyway; a missing wheel is skipped here
    and reported by the page.
    """
    from explorer.pretrained import pretrained_status
    from explorer.views import language_model

    if pretrained_status(language_model.MODEL) is None:
        language_model.warm_defaults()


def chart_code_hint() -> str | None:
    """HTML that makes the browser fetch and compile Streamlit's Plotly code now, not at the first chart.

    Streamlit loads each element's code lazily: the Plotly chunk (about 4.7 MB of JavaScript) is
    requested only when a chart's data arrives, after the page's whole computation, and compiling it
    dominated a new visitor's wait for the first chart (bench/bench_first_visit.py). Importing the
    chunk at the top of every run lets download and compile overlap the library import and the
    page's computation; the chart's own import then finds the module ready (same URL, one module
    map). The chunk's file name carries a content hash, so it is looked up in the installed
    Streamlit; None (no hint) if that layout ever changes.
    """
    global _chart_hint
    if _chart_hint is None:
        import streamlit

        js = Path(streamlit.__file__).parent / "static" / "static" / "js"
        found = sorted(js.glob("PlotlyChart.*.js"))
        name = found[0].name if len(found) == 1 else ""
        _chart_hint = f'<script>import("./static/js/{name}").catch(() => {{}});</script>' if name else ""
    return _chart_hint or None


_chart_hint: str | None = None


def device_caption() -> str:
    """The sidebar's device line; on a first home-page visit torch may still be importing, so say that.

    Keeping torch out of the home page's path is what lets the app's first page draw in about the
    time it takes to import Streamlit (bench/bench_startup.py).
    """
    if not _done:
        return "Device: chosen once PyTorch has loaded (it loads in the background)."
    from explorer.device import describe_device, pick_device

    try:
        return f"Device: {describe_device(pick_device())}"
    except ValueError as error:  # e.g. EXPLORER_DEVICE=cuda on a machine without CUDA: say so, no traceback
        return f"Device: {error}"


def preload_in_background() -> None:
    """Start the library import and the model warm-up on a daemon thread, once per process.

    Called after every page's run, whichever page a server's first visitor opens. From the home page the
    import runs here, so the home page never waits for it: by the time the visitor opens a model page
    the import (and the GC freeze) is done or under way, and that page waits on the lock. From a shared
    link to a model page the import already ran on the page's own thread; the models of the other pages
    are then warmed here, after that first page is drawn.
    """
    global _background_started
    with _background_lock:
        if _background_started:
            return
        _background_started = True
    threading.Thread(target=_preload_and_warm, name="explorer-preload", daemon=True).start()


@contextlib.contextmanager
def page_run() -> Iterator[None]:
    """Mark a page script as running (app.py wraps every run), so the warm-up steps wait for it."""
    global _page_runs
    with _runs_lock:
        _page_runs += 1
    try:
        yield
    finally:
        with _runs_lock:
            _page_runs -= 1


def wait_for_quiet_pages(timeout: float = QUIET_WAIT_SECONDS, poll: float = 0.05) -> bool:
    """Wait until no page script is running (True), or ``timeout`` seconds (False).

    The warm-up is an optimisation for later visitors; a student's run in progress comes first. Loading
    SmolLM2 (about 3 s of CPU, much of it holding the GIL) while a shared link's first page was being
    computed on a just-started server made that student wait seconds longer."""
    deadline = time.monotonic() + timeout
    while _page_runs > 0:
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True


def _preload_and_warm() -> None:
    preload_library()
    for warm in (warm_models, warm_translator, warm_language_model):
        wait_for_quiet_pages()
        try:
            warm()
        except Exception:  # noqa: BLE001 - warming is an optimisation; each page reports a real problem in its own words
            continue


def freeze_long_lived_objects() -> None:
    """Collect once, then hide every surviving object from later collections (see the module docstring)."""
    gc.collect()
    gc.freeze()
