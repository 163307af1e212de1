"""One profiler per process: a process-wide lock with a visible wait and guaranteed release.

``torch.profiler`` (Kineto) is a process-wide singleton: a second ``profile()`` started
while one is running fails with "Profiler is already enabled". Streamlit serves every
session from threads of one process, so every profiled run in the explorer goes through
:func:`profiler_lock`. A second caller waits (and is told so through ``on_wait``), and a
failure inside a run releases the lock and makes sure the profiler is switched off.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from explorer.profiling.request import ProfilingError

DEFAULT_WAIT_SECONDS = 600.0

_LOCK = threading.Lock()
_STATE_LOCK = threading.Lock()
_holder: dict[str, object] = {}
_waiting = [0]  # callers blocked on the lock right now (tests release a held lock once someone waits)


class ProfilerBusyError(ProfilingError):
    """Another run held the profiler for longer than we were willing to wait."""


def profiler_enabled() -> bool:
    """True if a torch (autograd/Kineto) profiler is currently enabled in this process."""
    try:
        return bool(torch.autograd.profiler._is_profiler_enabled)
    except AttributeError:  # pragma: no cover - older/newer torch
        return bool(torch._C._autograd._profiler_enabled())


def _force_profiler_off() -> None:
    """Last resort after a failed run: make sure no profiler is left enabled on this thread."""
    try:
        if torch._C._autograd._profiler_enabled():
            torch.autograd._disable_profiler()
    except RuntimeError:
        pass
    with contextlib.suppress(AttributeError):
        torch.autograd.profiler._is_profiler_enabled = False


def lock_status() -> str | None:
    """A one-line description of the run holding the lock, or None when it is free."""
    with _STATE_LOCK:
        if not _holder:
            return None
        return f"{_holder.get('what', 'a profiler run')} (running for {time.monotonic() - float(_holder['since']):.1f} s)"  # type: ignore[arg-type]


def waiting_count() -> int:
    """How many callers are blocked waiting for the profiler lock."""
    with _STATE_LOCK:
        return _waiting[0]


def is_locked() -> bool:
    return _LOCK.locked()


@contextmanager
def profiler_lock(
    on_wait: Callable[[str], None] | None = None,
    timeout: float = DEFAULT_WAIT_SECONDS,
    what: str = "a profiler run",
) -> Iterator[None]:
    """Hold the process-wide profiler lock for the body.

    If the lock is taken, ``on_wait(message)`` is called once (the page shows a status with
    "waiting for another session's profiler run ..."), then we block up to ``timeout`` seconds
    and raise :class:`ProfilerBusyError` if it is still taken. On the way out, whatever
    happened inside, the profiler is forced off and the lock released.
    """
    if not _LOCK.acquire(blocking=False):
        if on_wait is not None:
            on_wait(f"waiting for another session's profiler run: {lock_status() or 'finishing'}")
        with _STATE_LOCK:
            _waiting[0] += 1
        try:
            acquired = _LOCK.acquire(timeout=timeout)
        finally:
            with _STATE_LOCK:
                _waiting[0] -= 1
        if not acquired:
            raise ProfilerBusyError(
                f"the profiler has been busy with another session's run for over {timeout:.0f} s; try again later"
            )
    with _STATE_LOCK:
        _holder.update(what=what, since=time.monotonic())
    try:
        yield
    finally:
        if profiler_enabled():
            _force_profiler_off()
        with _STATE_LOCK:
            _holder.clear()
        _LOCK.release()
