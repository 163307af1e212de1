"""The language-model page's charts in Chromium, on a phone (390 px) and a wide window (1400 px).

Issue 20, item 6 and issue 14: on /language-model the chart titles ran under Plotly's toolbar at
390 px ("What goes to the first token…" was cut off), and the selected head's attention map was drawn
700 px wide in a 965 px column. These tests measure the drawn SVG's bounding boxes in every tab,
so they fail on what a student would see.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from tests.e2e.conftest import AppPage
from tests.e2e.test_e2e_layout import GEOMETRY, PHONE, WIDE, _overlap

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Per chart: the width of the column it sits in (the main block when it is in none; a chart drawn
# narrower than its column shrinks its element too, so the chart's own box cannot show that bug), and
# the boxes of its legend and axis titles (a legend placed in paper units sat on the x axis title).
EXTRA = """
() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].map((chart) => {
  const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const column = chart.closest('[data-testid="stColumn"]') || chart.closest('[data-testid="stMainBlockContainer"]');
  const legend = chart.querySelector('.legend');
  return {
    column: column.getBoundingClientRect().width,
    legend: legend ? {text: 'legend', box: box(legend)} : null,
    axis_titles: [...chart.querySelectorAll('.g-xtitle, .g-ytitle, .g-y2title')].filter(t => t.textContent)
      .map(t => ({text: t.textContent, box: box(t)})),
  };
})
"""

# Each tab with what it needs to draw its charts, and how many charts it draws.
TABS = {
    "Prediction and heads": ({}, 4),
    "Generate and KV cache": ({"lm_generate": "true", "lm_new": "3"}, 1),
    "Logit lens": ({}, 1),
    "Ablation": ({"lm_ablate_top": "2"}, 2),
}


def _charts(app: AppPage, viewport: dict[str, int], tab: str) -> list[dict[str, Any]]:
    params, minimum = TABS[tab]
    app.page.set_viewport_size(viewport)
    app.goto("language-model", urlencode({"lm_tab": tab, **params}))
    app.assert_clean()
    app.wait_for_charts(minimum=minimum)
    app.page.wait_for_timeout(500)  # Plotly's resize to the column settles after the first draw
    charts = app.page.evaluate(GEOMETRY)
    for chart, extra in zip(charts, app.page.evaluate(EXTRA)):
        chart.update(extra)
    assert len(charts) >= minimum, f"{tab}: {len(charts)} charts drawn, expected {minimum}"
    return charts


def _assert_titles_clear(charts: list[dict[str, Any]], where: str) -> None:
    """Every chart has a title drawn whole inside it, touching no other text and not the modebar,
    and its legend covers no axis title."""
    for chart in charts:
        title = chart["title"]
        assert title, f"{where}: a chart has no title"
        left, _, right, _ = chart["chart"]
        assert left - 1 <= title["box"][0] and title["box"][2] <= right + 1, f"'{title['text']}' is cut off ({where})"
        texts = chart["labels"] + [title]
        for i, a in enumerate(texts):
            for b in texts[i + 1:]:
                assert not _overlap(a["box"], b["box"]), f"'{a['text']}' overlaps '{b['text']}' ({where})"
            if chart["modebar"]:
                assert not _overlap(a["box"], chart["modebar"]), f"the modebar covers '{a['text']}' ({where})"
        for axis_title in chart["axis_titles"] if chart["legend"] else []:
            assert not _overlap(chart["legend"]["box"], axis_title["box"]), f"the legend covers '{axis_title['text']}' ({where})"


@pytest.mark.parametrize("tab", list(TABS))
def test_phone_width_titles_are_whole_and_clear_of_the_modebar(app: AppPage, tab: str) -> None:
    charts = _charts(app, PHONE, tab)
    _assert_titles_clear(charts, f"{tab}, 390 px")
    assert all(c["chart"][2] <= PHONE["width"] + 1 for c in charts), f"{tab}: a chart runs off the phone's screen"


def test_wide_window_selected_head_map_fills_its_column(app: AppPage) -> None:
    charts = _charts(app, WIDE, "Prediction and heads")
    _assert_titles_clear(charts, "1400 px")  # the head-role map's column is narrow there
    (heatmap,) = [c for c in charts if c["title"] and "on the prompt" in c["title"]["text"]]
    (plot,) = heatmap["plots"]
    plot_width, plot_height = plot[2] - plot[0], plot[3] - plot[1]
    column = heatmap["column"]
    assert plot_width >= 0.8 * column, f"head map {plot_width:.0f} px wide in a {column:.0f} px column"
    assert 0.4 <= plot_height / plot_width <= 1.6, f"head map {plot_width:.0f} x {plot_height:.0f} px is not square-ish"
