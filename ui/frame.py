"""Make sure a page always runs inside ``app.py``'s frame (navigation, sidebar, seed, page config).

Streamlit keeps a relic of its first multipage design: while a folder named ``pages/`` sits next
to the main script, the first script run of a fresh server process goes through the old
pages-folder runner (``_mpa_v1``), which runs a deep-linked page file directly and skips
``app.py``; a student opening a shared link to ``/transformer`` on a just-started server would
get no sidebar, no seed and the old file-name navigation. ``ensure_app_frame()``, called first
on every page, notices that runner on the call stack and runs ``app.py`` itself instead (which
then runs this page inside its frame), and stops the outer run.
"""

from __future__ import annotations

import runpy
import sys
import threading
from pathlib import Path

import streamlit as st

_LEGACY_RUNNER = "_mpa_v1"  # streamlit.runtime.scriptrunner.script_runner._mpa_v1
_APP = Path(__file__).resolve().parent.parent / "app.py"
_state = threading.local()  # each session's script runs on its own thread


def running_in_legacy_pages_mode() -> bool:
    """True when the old pages-folder runner started this page directly, with no app.py in between.

    For some URLs (``/positional-encoding``, whose file is ``positional_encoding.py``) the old
    runner finds no matching file and runs app.py itself; app.py is then on the stack and all is well.
    """
    legacy = False
    frame = sys._getframe(1)  # noqa: SLF001 - a cheap walk up the current stack
    while frame is not None:
        if Path(frame.f_code.co_filename).resolve() == _APP:
            return False
        legacy = legacy or frame.f_code.co_name == _LEGACY_RUNNER
        frame = frame.f_back
    return legacy


def ensure_app_frame() -> None:
    """Run the page inside app.py when Streamlit entered it without app.py (first deep link of a fresh server)."""
    if getattr(_state, "inside_app", False) or not running_in_legacy_pages_mode():
        return
    _state.inside_app = True
    try:
        runpy.run_path(str(_APP), run_name="__main__")
    finally:
        _state.inside_app = False
    st.stop()
