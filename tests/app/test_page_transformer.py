"""AppTest runs of the Transformer page: defaults, controls, bad input and shareable URLs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from apptools import chart_specs, chart_titles, frame_with
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "transformer.py")
HAS_CHECKPOINT = (ROOT / "explorer" / "checkpoints" / "dates.pt").exists()


def _plain(markdown: str) -> str:
    """Undo the page's markdown escaping so tests can look for the words a student reads."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _zero_colour_is_dark(scale: list) -> bool:
    """The colour a scale gives to 0 (attention nobody pays) is not white-ish: on the dark theme
    a white-at-zero scale makes the least attention the brightest thing on the page."""
    low = str(scale[0][1]).lstrip("#").lower()
    if low.startswith("rgb"):
        channels = [float(c) for c in low[low.index("(") + 1 : low.index(")")].split(",")[:3]]
    else:
        channels = [int(low[i : i + 2], 16) for i in (0, 2, 4)]
    return sum(channels) / 3 < 160


def _messages(at: AppTest) -> str:
    return " | ".join(_plain(e.value) for e in [*at.error, *at.warning, *at.info, *at.caption])


def _warnings(at: AppTest) -> list[str]:
    return [_plain(w.value) for w in at.warning]


def test_defaults_render_every_chart_without_exception(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="trained")
    assert not at.exception
    assert not at.error
    titles = chart_titles(at)
    assert titles[0] == "Encoder self-attention · layer 0 · head 0"
    assert titles[1] == "Encoder self-attention: every layer × head"
    assert titles[2].startswith("Head entropy")
    assert titles[3].startswith("Query 0:")
    assert len(at.main.text) == 1 and at.main.text[0].value  # the output string
    assert not at.code, "no st.code box: it loads the 1.6 MB syntax-highlighter chunk"
    assert len(at.dataframe) >= 3  # tokens, decoding steps, step-by-step table
    assert "greedy" in _messages(at)  # temperature 0 says what it means
    steps = frame_with(at, "step")
    assert steps["reads"][0] == "<s>"  # target tokens as the decoder sees them
    shown = _messages(at) + " ".join(m.value for m in at.success)
    assert "2026-11-26" in shown  # the reference parser's answer is always shown next to the model's
    overview = chart_specs(at)[1]
    assert {t.get("coloraxis") for t in overview["data"]} == {"coloraxis"}  # one colour scale
    assert _zero_colour_is_dark(overview["layout"]["coloraxis"]["colorscale"])
    assert _zero_colour_is_dark(chart_specs(at)[0]["data"][0]["colorscale"])
    hover = chart_specs(at)[0]["data"][0]["hovertemplate"]
    assert "query" in hover and "key" in hover and "weight" in hover
    downloads = at.get("download_button")
    assert len(downloads) == 2  # CSV and NPZ of the current view
    configs = [json.loads(c.proto.config) for c in at.get("plotly_chart")]
    assert all(c["toImageButtonOptions"]["format"] == "png" for c in configs)  # PNG from every chart's camera


@pytest.mark.skipif(not HAS_CHECKPOINT, reason="trained dates checkpoint not committed yet")
def test_default_input_gives_the_correct_iso_date(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="trained")
    assert not at.exception
    assert at.main.text[0].value == "2026-11-26"
    assert any("Correct" in m.value for m in at.success)


def test_changing_view_layer_head_and_head_mode(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="trained")
    at.radio(key="tf_view").set_value("cross")
    at.number_input(key="tf_layer").set_value(1)
    at.number_input(key="tf_head").set_value(2)
    at.run()
    assert not at.exception
    assert chart_titles(at)[0] == "Decoder cross-attention · layer 1 · head 2"
    heat = chart_specs(at)[0]["data"][0]
    assert heat["x"][0].startswith("0:")  # keys are source characters
    assert heat["y"][0] == "0:&lt;s&gt;"  # queries are decoder inputs, from the start token (escaped for plotly)
    assert chart_titles(at)[3] == "Query 0:&lt;s&gt;: scores and weights"
    at.radio(key="tf_heads").set_value("max").run()
    assert chart_titles(at)[0] == "Decoder cross-attention · layer 1 · max over 4 heads"
    assert "Layer 1, head 2" in " ".join(m.value for m in at.markdown)


@pytest.mark.slow  # two sampled runs; seeded sampling itself is unit-tested in test_decoding
def test_temperature_above_zero_samples_reproducibly(open_page: Callable[..., AppTest]) -> None:
    # The untrained twin's next-token distribution is nearly flat, so sampling must leave the argmax path.
    at = open_page("transformer", tf_model="untrained")
    greedy = at.main.text[0].value
    at.number_input(key="tf_temp").set_value(2.0).run()
    assert not at.exception
    assert "greedy" not in " ".join(c.value for c in at.caption)
    sampled = at.main.text[0].value
    assert sampled != greedy
    assert {"step", "reads", "token", "p", "#1"} <= set(frame_with(at, "step").columns)
    again = open_page("transformer", tf_model="untrained", tf_temp="2.0")
    assert again.main.text[0].value == sampled  # seeded: the same link gives the same sample


def test_teacher_forcing_prefix_is_marked_forced(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="trained")
    at.text_input(key="tf_prefix").set_value("19").run()
    assert not at.exception
    steps = frame_with(at, "step")
    assert list(steps["token"][:2]) == ["1", "9"]
    assert list(steps["forced"][:2]) == ["yes", "yes"]
    assert at.main.text[0].value.startswith("19")


def test_mask_mistake_shows_the_leak_in_decoder_self_attention(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="trained", tf_view="decoder", tf_mistake="true")
    assert not at.exception
    assert at.toggle(key="tf_mistake").value is True
    assert any("leak" in _plain(e.value) and "exp(0) = 1" in _plain(e.value) for e in at.error)
    table = frame_with(at, "softmax weight")
    assert "weight (mask 0)" in table.columns
    assert (table["mask"] == "hide").sum() == len(table) - 1  # query 0 may only see itself
    at.radio(key="tf_view").set_value("encoder").run()
    assert any("no mask" in i.value for i in at.info)


def test_step_by_step_reproduces_the_models_weights(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="trained", tf_view="decoder", tf_layer="1", tf_head="3", tf_query="2")
    table = frame_with(at, "softmax weight")
    assert (table["softmax weight"] - table["model's weight"]).abs().max() < 1e-3
    assert abs(table["softmax weight"].sum() - 1.0) < 1e-3
    assert any("match the model's own" in c.value for c in at.caption)


BAD_TEXT = [
    ("", "empty"),
    # the other character classes run in the full lane (check_text's unit tests cover each of them fast)
    pytest.param("   ", "only whitespace", marks=pytest.mark.slow),
    pytest.param("1" * 10_000, "the model reads at most", marks=pytest.mark.slow),
    pytest.param("😀😀 26 nov 2026", "<unk>: 😀", marks=pytest.mark.slow),
    pytest.param("二〇二六年十一月", "<unk>: 二", marks=pytest.mark.slow),
    pytest.param("٢٦ نوفمبر ٢٠٢٦", "<unk>", marks=pytest.mark.slow),
    pytest.param("26\x07nov\x1b2026", "U+0007", marks=pytest.mark.slow),
    ("<script>alert(1)</script>", "never rendered as HTML"),
]


@pytest.mark.parametrize("text, phrase", BAD_TEXT, ids=["empty", "blank", "10k", "emoji", "cjk", "rtl", "control", "script"])
def test_bad_text_gets_a_message_not_a_traceback(open_page: Callable[..., AppTest], text: str, phrase: str) -> None:
    at = open_page("transformer", tf_model="trained")
    at.text_input(key="tf_text").set_value(text).run()
    assert not at.exception
    assert phrase in _messages(at)
    if text.strip():
        assert len(at.get("plotly_chart")) == 4  # still shows the analysis of what it could read
    else:
        assert len(at.get("plotly_chart")) == 0
    assert not any("<script>" in m.value for m in at.markdown)  # user text never goes into markdown


def test_lone_surrogate_in_widget_state_is_replaced_with_a_message() -> None:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["tf_text"] = "\ud800 26 nov 2026"
    at.run()
    assert not at.exception
    assert "surrogate" in _messages(at)


def test_truncation_is_marked_in_the_token_table(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="trained", tf_text="1" * 10_000)
    assert not at.exception
    assert "10,000 characters" in _messages(at)
    assert "✂" in frame_with(at, "✂").columns


def _token_table_styles(at: AppTest) -> str | None:
    """The CSS the token table (the page's first dataframe) is sent with, or None when it is a plain frame."""
    arrow = at.dataframe[0].proto.arrow_data
    return arrow.styler.styles if arrow.HasField("styler") else None


@pytest.mark.parametrize(
    ("text", "colour", "column"),
    [("26 Nov 2026 ☃", "#ffe0b2", "col12"), pytest.param("1" * 100, "#ffcdd2", "col64", marks=pytest.mark.slow)],
    ids=["unknown-character", "cut"],
)
def test_token_table_colours_unknown_and_cut_cells(open_page: Callable[..., AppTest], text: str, colour: str, column: str) -> None:
    at = open_page("transformer", tf_model="trained", tf_text=text)
    assert not at.exception
    styles = _token_table_styles(at)
    assert styles is not None and colour in styles
    assert {f"row{r}_{column}" for r in range(3)} <= set(re.findall(r"row\d_col\d+", styles))  # the whole column
    assert len(set(re.findall(r"col\d+", styles))) == 1  # and only that column


def test_token_table_without_coloured_cells_skips_the_styler(open_page: Callable[..., AppTest]) -> None:
    """A pandas Styler costs ~35 ms of server time per rerun; with nothing to colour the plain frame shows the same."""
    at = open_page("transformer", tf_model="trained")
    assert _token_table_styles(at) is None
    assert list(at.dataframe[0].value.index) == ["typed", "token", "id"]


def test_url_reproduces_the_view(open_page: Callable[..., AppTest]) -> None:
    params = dict(tf_text="26.11.2026", tf_model="untrained", tf_view="cross", tf_layer="1", tf_head="3", tf_heads="mean", tf_query="2", tf_topk="3", tf_temp="0.5")
    at = open_page("transformer", **params)
    assert not at.exception
    assert not at.warning or all("link" not in w.value for w in at.warning)
    assert at.text_input(key="tf_text").value == "26.11.2026"
    assert at.radio(key="tf_model").value == "untrained"
    assert at.radio(key="tf_view").value == "cross"
    assert at.number_input(key="tf_layer").value == 1 and at.number_input(key="tf_head").value == 3
    assert at.slider(key="tf_query").value == 2 and at.slider(key="tf_topk").value == 3
    assert at.number_input(key="tf_temp").value == 0.5
    assert chart_titles(at)[0] == "Decoder cross-attention · layer 1 · mean over 4 heads"
    assert [c for c in frame_with(at, "step").columns if c.startswith("#")] == ["#1", "#2", "#3"]


@pytest.mark.parametrize(
    "params, phrase",
    # fast lane: an escaped markup value and an out-of-range number; tests/unit/test_share.py checks the flagging itself
    [pytest.param({"tf_layer": "99"}, "'tf_layer'", marks=pytest.mark.slow), pytest.param({"tf_head": "-1"}, "'tf_head'", marks=pytest.mark.slow),
     ({"tf_view": "<b>x</b>"}, "'tf_view'"), pytest.param({"tf_temp": "abc"}, "'tf_temp'", marks=pytest.mark.slow),
     pytest.param({"tf_temp": "inf"}, "'tf_temp'", marks=pytest.mark.slow), pytest.param({"tf_layer": "1e999"}, "'tf_layer'", marks=pytest.mark.slow),
     pytest.param({"tf_query": "40"}, "'tf_query'", marks=pytest.mark.slow), ({"tf_query": "5000"}, "'tf_query'"),
     pytest.param({"tf_model": "gpt"}, "'tf_model'", marks=pytest.mark.slow)],
    ids=["layer", "head", "view", "temp", "temp-inf", "layer-huge", "query-view", "query", "model"],
)
def test_hostile_url_values_fall_back_with_a_notice(open_page: Callable[..., AppTest], params: dict[str, str], phrase: str) -> None:
    at = open_page("transformer", **{"tf_model": "trained", **params})
    assert not at.exception
    assert any(phrase in w for w in _warnings(at)), _warnings(at)
    assert not any("<b>" in w.value for w in at.warning)  # the hostile value itself is never echoed
    if "tf_model" not in params:
        assert chart_titles(at)[0] == "Encoder self-attention · layer 0 · head 0"  # defaults


def test_blank_prefix_is_ignored_with_a_message(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="trained")
    at.text_input(key="tf_prefix").set_value("   ").run()
    assert not at.exception
    assert "prefix is ignored" in _messages(at)
    assert not any(s == "yes" for s in frame_with(at, "step")["forced"])


def test_switching_to_a_shorter_view_resets_an_out_of_range_query(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="trained")
    n_source = len(frame_with(at, "softmax weight"))  # encoder keys = source length
    at.slider(key="tf_query").set_value(n_source - 1).run()
    assert not at.exception
    at.radio(key="tf_view").set_value("decoder").run()
    assert not at.exception
    n_decoder = len(frame_with(at, "softmax weight"))
    assert n_decoder < n_source
    assert at.slider(key="tf_query").value == 0
    assert chart_titles(at)[3].startswith("Query 0:")


def test_page_survives_a_damaged_checkpoint(open_page: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_zoo_cache: None) -> None:
    """The zoo's one fallback: a damaged dates.pt gives untrained weights and a one-line notice, never a traceback."""
    import shutil

    import explorer.zoo

    shutil.copy(ROOT / "explorer" / "checkpoints" / "dates.json", tmp_path / "dates.json")
    (tmp_path / "dates.pt").write_bytes(b"disk on fire")
    monkeypatch.setattr(explorer.zoo, "CHECKPOINT_DIR", tmp_path)
    at = open_page("transformer", tf_model="trained")
    assert not at.exception
    assert any("could not be loaded (dates.pt is unreadable" in w for w in _warnings(at))
    assert str(tmp_path) not in _messages(at)  # file names only, no server paths
    assert len(at.get("plotly_chart")) == 4


def test_q_k_v_tables_are_built_only_when_their_expander_is_open(open_page: Callable[..., AppTest]) -> None:
    """The Q/K/V expander is lazy: closed (the default), its three tables are not on the page; opened, they are,
    with one row for the query and one row per key."""
    at = open_page("transformer", tf_model="trained")
    assert not at.exception, at.exception
    closed = len(at.dataframe)
    at.session_state["tf_qkv"] = True  # what a click on the expander sets
    at.run()
    assert not at.exception, at.exception
    assert len(at.dataframe) == closed + 3
    (expander,) = [e for e in at.expander if e.label.startswith("1 · Q, K and V")]
    q, k, v = (frame.value for frame in expander.dataframe)
    assert len(q) == 1 and len(k) == len(v) > 1
