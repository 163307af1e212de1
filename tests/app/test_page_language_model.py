"""AppTest of app_pages/language_model.py on the real SmolLM2 (slow: the model loads once per process)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from explorer.pretrained import pretrained_status
from explorer.views import language_model as views

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(pretrained_status("smollm2-135m") is not None, reason="SmolLM2 wheel not installed"),
]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def chart_titles(at: AppTest) -> list[str]:
    import json

    titles = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        titles.append(spec.get("layout", {}).get("title", {}).get("text", ""))
    return titles


def switch_tab(at: AppTest, tab: str) -> AppTest:
    at.session_state["lm_tab"] = tab
    return at.run()


@pytest.fixture(scope="module")
def app(open_page: Callable[..., AppTest]) -> AppTest:
    return open_page("language_model")


def test_defaults_draw_the_next_token_chart_and_the_head_map(app: AppTest) -> None:
    assert_clean(app)
    titles = chart_titles(app)
    assert any(t.startswith("Next token") for t in titles)
    assert any("score of every head" in t for t in titles)
    assert any(t.startswith("layer ") and "on the prompt" in t for t in titles)  # the selected head's map
    assert len(titles) >= 4  # next token, head map, selected head, sinks
    assert not app.error


def test_selecting_a_head_draws_its_attention(app: AppTest) -> None:
    app.selectbox(key="lm_head").set_value("18.6").run()
    assert_clean(app)
    assert any("layer 18 · head 6" in t for t in chart_titles(app))
    app.selectbox(key="lm_head").set_value("top").run()


@pytest.mark.parametrize("example", views.GUIDED, ids=lambda e: e.key)
def test_every_guided_example_runs(open_page: Callable[..., AppTest], example: views.GuidedExample) -> None:
    at = open_page("language_model")
    at.button(key=f"lm_example_{example.key}").click().run()
    assert_clean(at)
    assert not at.error
    if example.key == "it_animal":
        assert views.model().tokenizer.pieces(views.prompt(example.params["lm_text"], "complete").ids)[8:9] == [" it"]
        ranking = at.dataframe[-1].value
        assert ranking.iloc[0]["weight"] >= 0.5, ranking.head()
        shown = " ".join(m.value for m in at.markdown).replace("\\", "")  # markdown-escaped on the page
        assert "“ it” (8)" in shown and "“ animal” (1)" in shown
    if example.key == "induction":
        metrics = {m.label: m.value for m in at.metric}
        before = float(metrics["Second-copy loss, model"].split()[0])
        after = float(metrics["Second-copy loss, ablated"].split()[0])
        assert after - before >= 1.0, (before, after)
    if example.key == "chat":
        assert at.main.text and at.main.text[0].value.strip() and not at.code
    if example.key == "sinks":  # value-weighted view on, per-layer weight vs norm bars drawn
        assert "‖α f(x)‖" in attention_chart(at)["layout"]["title"]["text"]
        assert any(t.startswith("What goes to the first token") for t in chart_titles(at))


@pytest.mark.parametrize(
    "text",
    ["x" + " x" * 4999, "<script>alert('hi')</script> <b>bold</b>", "emoji 😀🎉 and 中文", "مرحبا بالعالم", "bell\x07 and nul\x00 chars"],
    ids=["10000-chars", "html", "emoji", "rtl", "controls"],
)
def test_hostile_texts(open_page: Callable[..., AppTest], text: str) -> None:
    at = open_page("language_model")
    at.text_area(key="lm_text").set_value(text).run()
    assert_clean(at)
    assert not at.error
    warnings = " ".join(w.value for w in at.warning)
    if text.startswith("x x"):
        assert "5000 tokens" in warnings and str(views.PAGE_MAX_TOKENS) in warnings
    if "bell" in text:
        assert "control character" in warnings
    if "<script>" in text:
        assert all("<script>" not in m.value for m in at.markdown)


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_prompt_is_one_line(open_page: Callable[..., AppTest], text: str) -> None:
    at = open_page("language_model")
    at.text_area(key="lm_text").set_value(text).run()
    assert_clean(at)
    assert len(at.error) == 1 and "empty" in at.error[0].value


def test_logit_lens_tab(app: AppTest) -> None:
    switch_tab(app, "Logit lens")
    assert_clean(app)
    assert any(t.startswith("Logit lens") for t in chart_titles(app))
    switch_tab(app, "Prediction and heads")


def test_a_link_reproduces_the_generated_text(open_page: Callable[..., AppTest]) -> None:
    params = {"lm_text": "Once upon a time", "lm_generate": "true", "lm_new": "6", "lm_tab": "Generate and KV cache"}
    first = open_page("language_model", **params)
    assert_clean(first)
    views.generation.cache_clear()  # the second visitor recomputes: same text from the link alone
    second = open_page("language_model", **params)
    assert first.main.text[0].value == second.main.text[0].value and first.main.text[0].value.strip()
    assert any("KV cache" in t for t in chart_titles(second))


def attention_chart(at: AppTest) -> dict:
    import json

    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if "on the prompt" in spec.get("layout", {}).get("title", {}).get("text", ""):
            return spec
    raise AssertionError("no selected-head attention chart")


def test_value_weighted_toggle_changes_the_head_view(app: AppTest) -> None:
    plain = attention_chart(app)
    app.toggle(key="lm_vw").set_value(True).run()
    assert_clean(app)
    weighted = attention_chart(app)
    assert "‖α f(x)‖" in weighted["layout"]["title"]["text"] and "‖α f(x)‖" not in plain["layout"]["title"]["text"]
    assert weighted["data"][0]["z"] != plain["data"][0]["z"]
    assert [c["data"][0]["colorbar"]["title"]["text"] for c in (plain, weighted)] == ["weight", "‖αf‖ share"]  # the colour bar names the cells
    app.toggle(key="lm_vw").set_value(False).run()
    assert attention_chart(app)["data"][0]["z"] == plain["data"][0]["z"]


def test_a_value_weighted_link_opens_the_weighted_view(open_page: Callable[..., AppTest]) -> None:
    at = open_page("language_model", lm_vw="true", lm_head="3.0")
    assert_clean(at)
    assert "layer 3 · head 0 on the prompt: ‖α f(x)‖" in attention_chart(at)["layout"]["title"]["text"]
