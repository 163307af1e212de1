"""The pretrained models in real headless Chromium: what a student sees on each page.

* Transformer page: Mozilla's tiny Marian translates the default sentence (expected text computed
  here by the same library the page uses), the word alignment pairs "gato" with "cat", the model radio
  switches to Portuguese -> English and to the dates model, and a shared link is translated.
* Language-model page (SmolLM2-135M): a typed prompt, " Paris" among the next-token bars, a click
  on the head-role map selects that head, generation, and the sidebar link reproduces the text.
* Profiler: the "LLM phases" tab profiles SmolLM2's prefill and decode at a small size.
* ViT: the fashion model on a real photo of a cat says it does not know it; a held-out garment does not.

Tables are Streamlit dataframes (glide-data-grid draws on a canvas); their text is read from the
grid's accessible DOM table, which is what a screen reader reads.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import AppPage

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

UI_SETTLE_MS = 20_000  # a drawn value may lag behind the finished run on a loaded machine
CLICK_RUN_S = 90.0  # a chart click that should rerun: fail in 1.5 min, not after the generic 4-minute hang limit


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def translations() -> dict[str, Any]:
    """The library's own greedy translations (the page must show exactly these) and word alignments."""
    from explorer.views import translation as tv

    out: dict[str, Any] = {"default": tv.DEFAULT_TEXT, "shared_text": "I like green apples."}
    for key, text in (("en-pt", tv.DEFAULT_TEXT["en-pt"]), ("pt-en", tv.DEFAULT_TEXT["pt-en"]), ("shared", out["shared_text"])):
        model = "en-pt" if key == "shared" else key
        prepared = tv.prepare(model, text, 5)
        assert prepared.error is None and prepared.record is not None, prepared.error
        out[key] = tv.translator_view(prepared.record, tv.TranslatorSettings(model, align_layer=1)).output
    return out


def text_blocks(scope: Any) -> Any:  # a Playwright locator
    """Plain-text elements (``st.text``): the generated text's box."""
    return scope.locator('[data-testid="stText"]')


def expect_output(app: AppPage, text: str) -> None:
    """A plain-text element in the main area shows ``text`` (the Transformer page's output box, an ``st.text``)."""
    boxes = app.main().locator('[data-testid="stText"]')
    expect(boxes.filter(has_text=text).first).to_be_visible(timeout=UI_SETTLE_MS)


def grid_rows(app: AppPage, containing: str, frame: Any = None, pattern: str | None = None) -> list[str]:  # a Playwright locator
    """Text of every rendered dataframe row (accessible grid) that contains ``containing`` (and matches ``pattern``).

    The grid renders only the rows on screen, so a ``frame`` below the fold is scrolled into view first.
    """
    if frame is not None:
        frame.scroll_into_view_if_needed()
    scope = frame if frame is not None else app.main().locator('[data-testid="stDataFrame"]')
    rows = scope.locator('[role="row"]')
    rows.nth(1).wait_for(state="attached", timeout=UI_SETTLE_MS)  # the header and at least one row
    # Tables arrive one after another as the script runs: read again until the row is there (or time is up).
    deadline = time.monotonic() + UI_SETTLE_MS / 1000
    while True:
        texts = [re.sub(r"\s+", " ", t).strip() for t in rows.all_inner_texts()]
        matching = [t for t in texts if containing in t and (pattern is None or re.search(pattern, t))]
        if matching or time.monotonic() > deadline:
            break
        app.page.wait_for_timeout(250)
    assert matching, f"no table row contains {containing!r}; rows: {texts[:12]}"
    return matching


def chart(app: AppPage, key: str) -> Any:
    """The Plotly graph div of the chart with this Streamlit key, once drawn."""
    graph = app.keyed(key).locator(".js-plotly-plot")
    graph.locator(".main-svg").first.wait_for(state="attached", timeout=UI_SETTLE_MS * 3)
    return graph


def bar_labels(graph: Any) -> list[str]:
    """Category labels of a chart's first bar trace, most likely first (largest value first)."""
    return graph.evaluate(
        "gd => { const t = gd._fullData[0]; const h = t.orientation === 'h';"
        " const labels = h ? t.y : t.x, values = h ? t.x : t.y;"
        " return labels.map((l, i) => [values[i], String(l)]).sort((a, b) => b[0] - a[0]).map(p => p[1]); }"
    )


def wait_main_text(app: AppPage, pattern: str | re.Pattern[str]) -> None:
    expect(app.main().get_by_text(pattern).first).to_be_visible(timeout=UI_SETTLE_MS)


# ---------------------------------------------------------------------------------------------
# 1. Translator
# ---------------------------------------------------------------------------------------------


def test_translator_default_switch_models_and_shared_link(app: AppPage, translations: dict[str, Any]) -> None:
    app.goto("transformer")
    app.assert_clean()
    # A new visitor: the English default sentence, and its Portuguese translation by our Marian.
    expect(app.keyed("tf_text").locator("textarea")).to_have_value(translations["default"]["en-pt"], timeout=UI_SETTLE_MS)
    expect_output(app, translations["en-pt"])
    assert "gato" in translations["en-pt"]  # the example is chosen for this pair; the library must keep it
    gato = grid_rows(app, "gato", pattern=r"\bgato\b.*\bcat\b|\bcat\b.*\bgato\b")  # the word-alignment table's row
    assert gato and re.search(r"\bcat\b", gato[0]), f"the alignment table does not pair gato with cat: {gato}"
    app.assert_clean()

    # Portuguese -> English: the default text follows the model, and is translated back.
    app.act(lambda: app.keyed("tf_model").get_by_text("pt-en", exact=True).click())
    app.assert_clean()
    expect(app.keyed("tf_text").locator("textarea")).to_have_value(translations["default"]["pt-en"], timeout=UI_SETTLE_MS)
    expect_output(app, translations["pt-en"])
    assert "tf_model=pt-en" in app.page.url

    # The dates model trained here: the default date becomes ISO 8601, and the reference parser agrees.
    app.act(lambda: app.keyed("tf_model").get_by_text("trained", exact=True).click())
    app.assert_clean()
    expect(app.keyed("tf_text").locator("input")).to_have_value("Thursday 26 November 2026", timeout=UI_SETTLE_MS)
    expect_output(app, "2026-11-26")
    wait_main_text(app, "Correct: the reference parser also reads 2026-11-26.")
    assert "tf_model=trained" in app.page.url

    # A shared link with a sentence of its own: that sentence, translated.
    text = translations["shared_text"]
    app.goto("transformer", f"tf_model=en-pt&tf_text={quote(text)}")
    app.assert_clean()
    expect(app.keyed("tf_text").locator("textarea")).to_have_value(text, timeout=3 * UI_SETTLE_MS)  # a new session draws afresh
    expect_output(app, translations["shared"])


# ---------------------------------------------------------------------------------------------
# 2. Language model
# ---------------------------------------------------------------------------------------------


def _cell_position(graph: Any, layer: int, head: int) -> tuple[float, float]:
    """Viewport pixels of a head-map cell's centre, from Plotly's own axis mapping (x = head, y = layer)."""
    graph.scroll_into_view_if_needed()
    x, y = graph.evaluate(
        "(gd, c) => { const L = gd._fullLayout, r = gd.getBoundingClientRect();"
        " return [r.left + L.xaxis._offset + L.xaxis.d2p(c.head), r.top + L.yaxis._offset + L.yaxis.d2p(c.layer)]; }",
        {"layer": layer, "head": head},
    )
    return float(x), float(y)


def _selected_head(app: AppPage) -> tuple[int, int]:
    caption = app.main().get_by_text(re.compile(r"^Layer \d+ · head \d+, [^:]*: rows are queries")).first
    caption.wait_for(state="visible", timeout=UI_SETTLE_MS)
    match = re.match(r"Layer (\d+) · head (\d+)", caption.inner_text())
    assert match, caption.inner_text()
    return int(match[1]), int(match[2])


def test_language_model_prompt_head_click_generate_and_link(app: AppPage) -> None:
    app.goto("language-model")
    app.assert_clean()
    prompt = "The capital of France is"
    box = app.keyed("lm_text").locator("textarea")
    app.act(lambda: (box.fill(prompt), box.press("Control+Enter")))
    app.assert_clean()
    expect(box).to_have_value(prompt, timeout=UI_SETTLE_MS)

    # The next-token bars: " Paris" (drawn with ␣ for its leading space) among the top predictions.
    labels = bar_labels(chart(app, "lm_next_chart"))
    assert any(label.startswith("␣Paris") for label in labels[:5]), f"' Paris' is not among the top 5: {labels[:5]}"

    # Click a head-role map cell: that head is selected and its attention map replaces the previous one.
    before = _selected_head(app)
    target = (3, 4) if before != (3, 4) else (4, 4)
    attention = chart(app, "lm_attention_chart")
    z_before = attention.evaluate("gd => JSON.stringify(gd.data[0].z)")
    x, y = _cell_position(chart(app, "lm_heads_chart"), *target)
    app.act(lambda: app.page.mouse.click(x, y), timeout=CLICK_RUN_S)
    app.assert_clean()
    assert _selected_head(app) == target
    expect(app.keyed("lm_head").get_by_role("combobox")).to_have_value(f"{target[0]}.{target[1]}", timeout=UI_SETTLE_MS)
    assert f"lm_head={target[0]}.{target[1]}" in app.page.url
    assert chart(app, "lm_attention_chart").evaluate("gd => JSON.stringify(gd.data[0].z)") != z_before, "the head's heatmap did not change"

    # Generate four tokens, greedily.
    n_new = app.keyed("lm_new").locator("input")
    app.act(lambda: (n_new.fill("4"), n_new.press("Enter")))
    app.act(lambda: app.keyed("lm_generate").get_by_text("Generate", exact=True).click())
    app.act(lambda: app.main().get_by_role("tab", name="Generate and KV cache").click())
    app.assert_clean()
    generated = text_blocks(app.main()).first
    expect(generated).not_to_contain_text("…", timeout=UI_SETTLE_MS)
    text = generated.inner_text().strip()
    assert text and text != "(nothing: the model ended the text)", text

    # The sidebar's link carries the prompt and the settings; opened by a new visitor, it shows the same text.
    link_box = app.page.locator('[data-testid="stSidebar"] .explorer-share-link a').first
    for part in ("lm_text=The+capital+of+France+is", "lm_new=4", "lm_generate=true", f"lm_head={target[0]}.{target[1]}", "lm_tab=Generate"):
        expect(link_box).to_contain_text(part, timeout=UI_SETTLE_MS)
    link = link_box.inner_text().strip()
    visitor = AppPage(app.page.context.new_page(), app.base_url)
    visitor.act(lambda: visitor.page.goto(link, wait_until="domcontentloaded"))
    visitor.assert_clean()
    again = text_blocks(visitor.main()).first
    expect(again).not_to_contain_text("…", timeout=UI_SETTLE_MS)
    assert again.inner_text().strip() == text, "the shared link generated a different text"
    expect(visitor.keyed("lm_head").get_by_role("combobox")).to_have_value(f"{target[0]}.{target[1]}", timeout=UI_SETTLE_MS)


# ---------------------------------------------------------------------------------------------
# 3. Profiler: LLM phases
# ---------------------------------------------------------------------------------------------


def test_profiler_llm_phases(app: AppPage) -> None:
    query = "prof_batch=1&prof_seq_len=16&prof_tab=LLM%20phases&prof_gen_model=smollm2-135m&prof_gen_prompt=16&prof_gen_new=4"
    app.goto("profiler", query)
    app.assert_clean()
    if app.main().get_by_text("to measure this configuration").count():  # auto-run skipped: the estimate was not quick
        app.act(lambda: app.main().get_by_role("button", name="Run profiler").click())
    tab = app.main().get_by_role("tab", name="LLM phases")
    expect(tab).to_have_attribute("aria-selected", "true", timeout=UI_SETTLE_MS)
    app.act(lambda: app.main().get_by_role("button", name="Profile generation").click())
    app.assert_clean()
    wait_main_text(app, "Prefill reads all 16 prompt tokens at once")
    metrics = app.main().locator('[data-testid="stMetric"]')
    for label in ("prefill", "decode"):
        expect(metrics.filter(has_text=re.compile(rf"^{label}", re.I)).filter(has_text="tok/s").first).to_be_visible(timeout=UI_SETTLE_MS)
    assert app.wait_for_charts(2) >= 2  # the two share-by-phase charts

    tables = {}
    for phase in ("prefill", "decode"):
        if phase != "prefill":
            app.act(lambda p=phase: app.keyed("prof_gen_phase").get_by_text(p, exact=True).click())
            app.assert_clean()
            assert f"prof_gen_phase={phase}" in app.page.url
        # The phase's module table is the page's last dataframe: SmolLM2's first block's feed-forward (an "mlp" row) is
        # among the rows drawn on screen (the grid renders only visible rows, so later blocks' attention may not be).
        rows = grid_rows(app, "layers.0.feed_forward", app.main().locator('[data-testid="stDataFrame"]').last)
        assert any("mlp" in row for row in rows), f"no feed-forward (mlp) row in the {phase} table: {rows}"
        tables[phase] = rows
    assert tables["prefill"] != tables["decode"], "the decode table shows the prefill numbers"


# ---------------------------------------------------------------------------------------------
# 4. ViT: a real photo against the fashion model, then a held-out garment
# ---------------------------------------------------------------------------------------------

OOD_WARNING = "This image is unlike anything the model was trained on"


def test_vit_fashion_model_knows_garments_not_cats(app: AppPage) -> None:
    from explorer.tasks import fashion

    app.goto("vit")
    app.assert_clean()
    app.act(lambda: app.keyed("vit_model").get_by_text("fashion", exact=True).click())
    app.act(lambda: app.keyed("vit_source").get_by_text("Photo", exact=True).click())
    app.assert_clean()
    expect(app.keyed("vit_photo").get_by_role("combobox")).to_have_value("cat", timeout=UI_SETTLE_MS)  # the first photo: scikit-image's Chelsea
    assert "vit_model=fashion" in app.page.url and "vit_source=Photo" in app.page.url
    wait_main_text(app, re.compile(r"Neither model knows cats.*the fashion model only knows"))
    wait_main_text(app, OOD_WARNING)
    chart(app, "vit_topk_chart")  # a prediction is still drawn, with the warning above it

    # A held-out Fashion-MNIST test image (never used for training): classified, and no warning.
    app.act(lambda: app.keyed("vit_source").get_by_text("Sample", exact=True).click())
    app.assert_clean()
    wait_main_text(app, "Held-out Fashion-MNIST test images")
    shown_class = app.keyed("vit_cls").get_by_role("combobox").input_value()
    assert shown_class in fashion.CLASSES, shown_class
    expect(app.main().get_by_text(OOD_WARNING)).to_have_count(0, timeout=UI_SETTLE_MS)
    expect(app.main().get_by_text("Neither model knows cats")).to_have_count(0, timeout=UI_SETTLE_MS)
    top = bar_labels(chart(app, "vit_topk_chart"))
    assert top[0] == shown_class, f"the held-out {shown_class} was classified as {top[0]} (top classes {top[:3]})"
