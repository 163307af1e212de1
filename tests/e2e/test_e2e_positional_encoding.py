"""The positional-encoding page's layout in Chromium (issue 20, items 6 and 10), measured on the drawn SVG.

On a phone (390 px) panel titles ran into each other and the RoPE tab's labels "q m=5" and "k n=0"
were written on top of each other; on a wide window heatmaps were a narrow square with an empty
half beside it; the shared d_model / length / base controls did nothing on the ViT resolution tab.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import AppPage

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1400, "height": 1000}
SHARED_CONTROLS = ("pe_d_model", "pe_max_len", "pe_base")

# Per chart: its box, every piece of text Plotly wrote (title, annotations, scatter labels, legend),
# the modebar, the plot areas and the smallest tick-label font size, all in page pixels.
CHART_TEXT = """
() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].map((chart) => {
  const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const texts = [...chart.querySelectorAll('.gtitle, g.annotation, .textpoint text, .legendtext')]
    .filter((e) => e.textContent.trim()).map((e) => ({text: e.textContent.trim(), box: box(e)}));
  const ticks = [...chart.querySelectorAll('.xtick text, .ytick text')].map((e) => parseFloat(getComputedStyle(e).fontSize));
  const modebar = chart.querySelector('.modebar');
  return {chart: box(chart), texts, modebar: modebar ? box(modebar) : null,
          plots: [...chart.querySelectorAll('.nsewdrag')].map(box), smallest_tick: ticks.length ? Math.min(...ticks) : null};
})
"""


def _overlap(a: list[float], b: list[float], tolerance: float = 1.0) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > tolerance and min(a[3], b[3]) - max(a[1], b[1]) > tolerance


def _open(app: AppPage, viewport: dict[str, int], section: str, minimum: int) -> list[dict[str, Any]]:
    app.page.set_viewport_size(viewport)
    app.goto("positional-encoding", f"pe_section={section.replace(' ', '+')}")
    app.assert_clean()
    app.wait_for_charts(minimum=minimum)
    app.page.wait_for_timeout(800)  # Plotly's resize to the column settles after the first draw
    return app.page.evaluate(CHART_TEXT)


@pytest.mark.parametrize(("section", "minimum"), [("Sinusoidal", 4), ("Learned", 2), ("RoPE", 4), ("Compare", 3), ("ViT resolution", 4)])
def test_phone_no_text_runs_into_other_text(app: AppPage, section: str, minimum: int) -> None:
    charts = _open(app, PHONE, section, minimum)
    assert len(charts) >= minimum
    for chart in charts:
        texts = chart["texts"]
        for i, a in enumerate(texts):
            for b in texts[i + 1:]:
                assert not _overlap(a["box"], b["box"]), f"'{a['text']}' overlaps '{b['text']}' at 390 px on {section}"
        assert chart["chart"][2] <= PHONE["width"] + 1, "a chart runs off the phone's screen"
        assert chart["smallest_tick"] is None or chart["smallest_tick"] >= 11


def test_rope_labels_of_coinciding_arrows_stay_apart(app: AppPage) -> None:
    """Pair 0, offset 3: q at m=5 and k at n=0 point almost the same way; both labels must be readable."""
    charts = _open(app, WIDE, "RoPE", 4)
    labels = {t["text"]: t["box"] for chart in charts for t in chart["texts"]}
    assert "q m=5" in labels and "k n=0" in labels, sorted(labels)
    assert not _overlap(labels["q m=5"], labels["k n=0"])


def test_wide_window_heatmaps_fill_their_column(app: AppPage) -> None:
    charts = _open(app, WIDE, "Compare", 3)
    for chart in charts[:2]:  # the two schemes' heatmaps, side by side
        (plot,) = chart["plots"]
        chart_width = chart["chart"][2] - chart["chart"][0]
        width, height = plot[2] - plot[0], plot[3] - plot[1]
        assert width >= 0.8 * chart_width, f"heatmap {width:.0f} px wide in a {chart_width:.0f} px column"
        assert 0.6 <= height / width <= 1.6, f"heatmap {width:.0f} x {height:.0f} px is not square-ish"
        assert chart["smallest_tick"] >= 11
        assert chart["modebar"] is None or not any(_overlap(t["box"], chart["modebar"]) for t in chart["texts"])


def test_a_lone_heatmap_takes_half_the_width_not_a_stretched_strip(app: AppPage) -> None:
    """The dates model has one (sinusoidal) table: at 1400 px it was drawn 3.6 times wider than tall."""
    charts = _open(app, WIDE, "Learned", 2)
    (plot,) = charts[0]["plots"]
    width, height = plot[2] - plot[0], plot[3] - plot[1]
    assert 0.6 <= height / width <= 1.6, f"heatmap {width:.0f} x {height:.0f} px is not square-ish"


def test_shared_controls_are_disabled_on_the_resolution_tab(app: AppPage) -> None:
    _open(app, WIDE, "ViT resolution", 2)
    for key in SHARED_CONTROLS:
        assert app.keyed(key).locator("input").is_disabled(), f"{key} is enabled but does nothing on this tab"
    assert "do not apply here" in app.main().inner_text()
    _open(app, WIDE, "Sinusoidal", 2)
    for key in SHARED_CONTROLS:
        assert app.keyed(key).locator("input").is_enabled()
