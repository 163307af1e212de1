"""Transformer Explorer's library: models, tasks, training, analysis, profiling and figures.

It never imports streamlit, so everything here works from a notebook, the CLI or tests.
"""

__version__ = "0.1.0"
