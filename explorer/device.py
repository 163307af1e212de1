"""Device choice and thread settings, decided once per process.

CUDA is used when present (so the same code runs on a GPU machine), CPU otherwise; the
``EXPLORER_DEVICE`` environment variable or an explicit argument overrides it.
"""

from __future__ import annotations

import os
import threading

import torch

_threads_lock = threading.Lock()
_threads_configured = False


def pick_device(preferred: str | None = None) -> torch.device:
    """The device to run on: ``preferred`` ("cpu"/"cuda"), else $EXPLORER_DEVICE, else CUDA if available.

    Asking for CUDA where there is none raises ``ValueError`` with a message, rather than
    failing later inside a kernel.
    """
    choice = (preferred or os.environ.get("EXPLORER_DEVICE") or "").strip().lower()
    if not choice:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("CUDA was requested but this machine has no CUDA device; choose cpu")
        return torch.device(choice)
    if choice == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device {choice!r}; choose cpu or cuda")


def configure_threads(max_threads: int | None = None) -> int:
    """Set torch's intra-op threads once per process to fit the machine; later calls are no-ops.

    Streamlit runs many sessions on threads of one process; each torch op would otherwise
    spawn as many threads as cores per session and they would fight. Returns the count set.
    """
    global _threads_configured
    with _threads_lock:
        if not _threads_configured:
            cores = os.cpu_count() or 1
            torch.set_num_threads(max(1, min(cores, max_threads or cores)))
            _threads_configured = True
        return torch.get_num_threads()


def describe_device(device: torch.device) -> str:
    """A short human label, e.g. 'CPU (2 threads)' or 'CUDA: NVIDIA T4'."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"
