"""The server console stays free of torch.profiler's noise (issue 20, item 14).

A teacher reads anything on the console as an error. libkineto printed "USDT: ... profiler_start"
for every profile and, once per process, "ERROR: External init callback must run in same thread as
registerClient" when the first profile ran on another thread than the one that imported torch, which
is what Streamlit's one-thread-per-session does. The check runs in a fresh interpreter, because both
come from process-wide state of libkineto.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # two fresh interpreters importing torch: ~10 s each on a quiet machine

ROOT = Path(__file__).resolve().parents[2]

# Like the server: torch imported (and the engine started) on one thread, profiles run on two others.
SCRIPT = """
import threading
import explorer
from ui.preload import start_profiler_engine

def preload():
    import torch  # noqa: F401
    start_profiler_engine()

def session():
    import torch
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]):
        torch.ones(4) @ torch.ones(4)

for target in (preload, session, session):
    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
print("profiled")
"""


def run_script(env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "KINETO_LOG_LEVEL"}
    env.update({"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env_extra or {})})
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)


def test_profiles_on_session_threads_print_nothing() -> None:
    result = run_script()
    assert result.returncode == 0, result.stderr
    assert "profiled" in result.stdout
    assert "USDT" not in result.stderr
    assert "External init callback" not in result.stderr
    assert result.stderr.strip() == ""


def test_a_teachers_own_log_level_wins() -> None:
    """KINETO_LOG_LEVEL set by the user is kept (here: everything), so the quiet default is only a default."""
    result = run_script({"KINETO_LOG_LEVEL": "0"})
    assert result.returncode == 0, result.stderr
    assert "profiler_start" in result.stderr
