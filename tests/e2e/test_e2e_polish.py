"""Browser checks of issue 20's visual and interaction fixes, one test per fix, in headless Chromium.

Each test looks at what a student sees (pixels of a chart, the sidebar's link box), not at the
figure objects, which the unit and AppTest suites already check.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.e2e.conftest import AppPage

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

UI_SETTLE_MS = 15_000  # how long a drawn value may lag behind the finished run on a loaded machine
LINK_BOX = '[data-testid="stSidebar"] .explorer-share-link a'


def _near_white_share(png: bytes) -> float:
    pixels = Image.open(io.BytesIO(png)).convert("RGB")
    data = list(pixels.get_flattened_data()) if hasattr(pixels, "get_flattened_data") else list(pixels.getdata())
    return sum(1 for r, g, b in data if min(r, g, b) > 235) / len(data)


def test_dark_theme_vit_layer_head_grid_has_no_white_sheet(dark_app: AppPage) -> None:
    """The layer x head grid's gaps showed a white plot background on the dark page."""
    dark_app.goto("vit", "vit_tab=Attention")
    dark_app.assert_clean()
    dark_app.wait_for_charts(minimum=2)
    # The grid is found by its row labels once Plotly has drawn it (charts arrive and draw one by one).
    find_grid = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].findIndex(el => {
        const gd = el.querySelector('.js-plotly-plot');
        const ticks = gd && gd._fullLayout && gd._fullLayout.yaxis ? gd._fullLayout.yaxis.ticktext || [] : [];
        return ticks.length > 0 && String(ticks[0]).startsWith('layer'); })"""
    dark_app.page.wait_for_function(f"({find_grid})() >= 0", timeout=60_000)
    index = dark_app.page.evaluate(find_grid)
    grid = dark_app.page.locator('[data-testid="stPlotlyChart"]').nth(index) if index >= 0 else None
    assert grid is not None, "the layer x head grid is not on the Attention tab"
    grid.scroll_into_view_if_needed()
    share = _near_white_share(grid.screenshot())
    assert share < 0.02, f"{share:.1%} of the grid's pixels are near-white on the dark theme"


def test_link_box_stays_on_a_waiting_screen(app: AppPage) -> None:
    """An empty text box stops the page early; the sidebar's link box must still be there."""
    app.goto("transformer", "seed=5&tf_model=trained")
    app.assert_clean()
    text = app.keyed("tf_text").locator("input")
    app.act(lambda: (text.fill(""), text.press("Enter")))
    expect(app.page.locator(LINK_BOX)).to_contain_text("seed=5", timeout=UI_SETTLE_MS)


def test_link_holds_the_last_toggle_changed(app: AppPage) -> None:
    """Change a toggle as the very last action, then read the link: four times in a row."""
    app.goto("transformer", "seed=2&tf_model=trained")
    app.assert_clean()
    toggle = app.keyed("tf_mistake").locator("input")
    for turn in range(4):
        app.act(lambda: toggle.click(force=True))
        link = app.page.locator(LINK_BOX)
        if turn % 2 == 0:
            expect(link).to_contain_text("tf_mistake=true", timeout=UI_SETTLE_MS)
        else:
            expect(link).not_to_contain_text("tf_mistake", timeout=UI_SETTLE_MS)
        expect(link).to_contain_text("seed=2", timeout=UI_SETTLE_MS)
