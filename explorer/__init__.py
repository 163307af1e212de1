"""Transformer Explorer's library: models, tasks, training, analysis, profiling and figures.

It never imports streamlit, so everything here works from a notebook, the CLI or tests.
"""

import os
from pathlib import Path

# Idle torch (OpenMP) threads sleep instead of spinning: many sessions and tests share few cores. It must
# be set before torch is imported, and every entry point (app.py, python -m explorer, the tests) imports
# this package first. A value set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# libkineto (torch.profiler's engine) prints "USDT: ... profiler_start/profiler_stop" on stderr for every
# profiled run; in a classroom server's console a teacher reads them as errors. Its USDT level sits above
# ERROR, so only a level past both silences it; profiler failures still reach us as Python exceptions.
# A value set by the user wins. libkineto reads it when the first profile starts, so this works even
# if torch was imported first.
os.environ.setdefault("KINETO_LOG_LEVEL", "6")

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"  # shipped weights and their JSON sidecars

__version__ = "0.1.0"
