"""Reading what an AppTest run drew: chart specs and titles, and dataframes by column.

Importable from any test (pytest puts ``tests/`` on ``sys.path`` for its rootdir ``conftest.py``).
"""

from __future__ import annotations

import json
from typing import Any

from streamlit.testing.v1 import AppTest


def chart_specs(at: AppTest) -> list[dict[str, Any]]:
    """Every Plotly chart's figure spec, in page order."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def chart_titles(at: AppTest) -> list[str]:
    """Chart titles as read, with a long title's line break (wrapped for a phone) read as the space it replaced."""
    titles = []
    for spec in chart_specs(at):
        title = spec["layout"].get("title", {})
        titles.append((title.get("text", "") if isinstance(title, dict) else str(title)).replace("<br>", " "))
    return titles


def frame_with(at: AppTest, column: str) -> Any:  # a pandas DataFrame
    """The first dataframe on the page that has ``column``."""
    for frame in at.dataframe:
        value = frame.value
        if column in getattr(value, "columns", []):
            return value
    raise AssertionError(f"no dataframe with column {column!r}")
