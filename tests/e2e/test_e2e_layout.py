"""Layout of the shared attention figures in Chromium, on a phone (390 px) and a wide window (1400 px).

Issue 20, item 6: at 390 px the per-panel titles of the layer x head grid ran into each other
("layer 0 · head 0layer 0 · head 1"), Plotly's toolbar (the modebar) sat on top of chart titles, and on
a wide window the main heatmap was a third of its column. These tests measure the drawn SVG's
bounding boxes, so they fail on what a student would see, whatever the figure code looks like.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import AppPage

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1400, "height": 1000}
# The dates model's page: every chart on it comes from explorer/figures/attention.py.
DATES_PAGE = ("transformer", "tf_model=trained&tf_view=encoder")

# Bounding boxes (left, top, right, bottom) of every chart's title, text annotations, modebar and plot areas.
GEOMETRY = """
() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].map((chart) => {
  const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const title = chart.querySelector('.gtitle');
  const modebar = chart.querySelector('.modebar');
  return {
    chart: box(chart),
    title: title && title.textContent ? {text: title.textContent, box: box(title)} : null,
    modebar: modebar ? box(modebar) : null,
    labels: [...chart.querySelectorAll('g.annotation')].filter(a => a.textContent).map(a => ({text: a.textContent, box: box(a)})),
    plots: [...chart.querySelectorAll('.nsewdrag')].map(box),
  };
})
"""


def _overlap(a: list[float], b: list[float], tolerance: float = 1.0) -> bool:
    """True when two boxes share more than ``tolerance`` px in both directions."""
    return min(a[2], b[2]) - max(a[0], b[0]) > tolerance and min(a[3], b[3]) - max(a[1], b[1]) > tolerance


def _charts(app: AppPage, viewport: dict[str, int], minimum: int) -> list[dict[str, Any]]:
    app.page.set_viewport_size(viewport)
    app.goto(*DATES_PAGE)
    app.assert_clean()
    app.wait_for_charts(minimum=minimum)
    app.page.wait_for_timeout(500)  # Plotly's resize to the column settles after the first draw
    return app.page.evaluate(GEOMETRY)


def test_phone_width_titles_never_collide(app: AppPage) -> None:
    charts = _charts(app, PHONE, minimum=3)
    assert len(charts) >= 3, "heatmap, layer x head grid and entropy should all be drawn"
    grid = [c for c in charts if c["title"] and "every layer" in c["title"]["text"]]
    assert grid, "the layer x head grid is missing"
    assert any(label["text"] == "head 0" for label in grid[0]["labels"]), [label["text"] for label in grid[0]["labels"]]
    for chart in charts:
        labels = chart["labels"] + ([chart["title"]] if chart["title"] else [])
        for i, a in enumerate(labels):
            for b in labels[i + 1:]:
                assert not _overlap(a["box"], b["box"]), f"'{a['text']}' overlaps '{b['text']}' at 390 px"
            if chart["modebar"]:
                assert not _overlap(a["box"], chart["modebar"]), f"the modebar covers '{a['text']}' at 390 px"
        page_right = PHONE["width"]
        assert chart["chart"][2] <= page_right + 1, "a chart runs off the phone's screen"


def test_wide_window_main_heatmap_fills_its_column(app: AppPage) -> None:
    charts = _charts(app, WIDE, minimum=1)
    heatmap = charts[0]  # the page's first chart is the selected head's map
    (plot,) = heatmap["plots"]
    chart_width = heatmap["chart"][2] - heatmap["chart"][0]
    plot_width, plot_height = plot[2] - plot[0], plot[3] - plot[1]
    assert plot_width >= 0.8 * chart_width, f"heatmap {plot_width:.0f} px wide in a {chart_width:.0f} px column"
    assert 0.4 <= plot_height / plot_width <= 1.6, f"heatmap {plot_width:.0f} x {plot_height:.0f} px is not square-ish"


def test_link_box_copies_the_link_with_one_click(app: AppPage) -> None:
    """The sidebar's link box is plain HTML, not a code box (whose highlighter cost every first visit
    seconds of browser CPU), so its copy button is ours: one click puts the exact link on the clipboard."""
    app.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.base_url)
    app.goto(DATES_PAGE[0], DATES_PAGE[1] + "&seed=4")
    app.assert_clean()
    box = app.page.locator('[data-testid="stSidebar"] .explorer-share-link')
    expect(box.locator("a")).to_contain_text("seed=4", timeout=15_000)
    link = box.locator("a").inner_text().strip()
    assert "tf_model=trained" in link and link.startswith(app.base_url), link
    box.get_by_role("button", name="Copy link").click()
    expect(box.get_by_role("button")).to_have_text("Copied")
    assert app.page.evaluate("navigator.clipboard.readText()") == link
    assert not app.page.locator('[data-testid="stSidebar"] [data-testid="stCode"]').count(), "no code box in the sidebar"
