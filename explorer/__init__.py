"""Transformer Explorer's library: models, tasks, training, analysis, profiling and figures.

It never imports streamlit, so everything here works from a notebook, the CLI or tests.
"""

import os

# libkineto (torch.profiler's engine) prints "USDT: ... profiler_start/profiler_stop" on stderr for every
# profiled run; in a classroom server's console a teacher reads them as errors. Its USDT level sits above
# ERROR, so only a level past both silences it; profiler failures still reach us as Python exceptions.
# A value set by the user wins. libkineto reads it when the first profile starts, so this works even
# if torch was imported first.
os.environ.setdefault("KINETO_LOG_LEVEL", "6")

__version__ = "0.1.0"
