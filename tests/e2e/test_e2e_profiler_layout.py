"""The profiler page in Chromium at a phone's and a projector's width: no button label cut short, and
the memory timeline's band names drawn whole inside the chart (issue 20, item 8)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import AppPage

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# A configuration that profiles in well under a second, so the page auto-runs it.
SMALL = "prof_d_model=32&prof_heads=2&prof_layers=1&prof_d_ff=64&prof_batch=2&prof_seq_len=16&prof_warmup=0&prof_active=2"

CUT_LABELS = """() => [...document.querySelectorAll('[data-testid="stMain"] button')]
    .filter(b => b.offsetParent !== null && b.innerText.trim())
    .filter(b => [...b.querySelectorAll('p, div')].some(e => e.scrollWidth > e.clientWidth + 1))
    .map(b => b.innerText.trim())"""

BAND_TEXT = """() => {
    const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')];
    const memory = charts.find(c => (c.querySelector('.gtitle') || {}).textContent === 'Memory during one step');
    if (!memory) return null;
    const box = memory.getBoundingClientRect();
    // Names too long for their bar are hidden by Plotly (uniformtext): only drawn ones are checked.
    return [...memory.querySelectorAll('.bartext')].filter(t => t.getBoundingClientRect().width > 0).map(t => {
        const r = t.getBoundingClientRect();
        return {text: t.textContent, size: parseFloat(getComputedStyle(t).fontSize),
                inside: r.left >= box.left && r.right <= box.right};
    });
}"""


@pytest.mark.parametrize("width", [390, 1400])
def test_profiler_buttons_keep_their_labels_and_band_names_are_whole(app: AppPage, width: int) -> None:
    app.page.set_viewport_size({"width": width, "height": 1000})
    for tab in ("Export", "Diff"):
        app.goto("profiler", f"{SMALL}&prof_tab={tab}")
        app.assert_clean()
        app.page.get_by_role("tab", name=tab).first.wait_for()
        assert app.page.evaluate(CUT_LABELS) == [], f"{tab} tab at {width} px"
    app.goto("profiler", f"{SMALL}&prof_tab=Pictures")
    app.wait_for_charts(3)
    bands = app.page.evaluate(BAND_TEXT)
    assert bands, "the memory timeline names no band"
    assert all(b["inside"] and b["size"] >= 11 for b in bands), bands
