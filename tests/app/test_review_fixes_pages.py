"""Issue 18, page side: the text box's cap and the sentences the review found false, checked on the running pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.inputs.text import MAX_TEXT_CHARS

ROOT = Path(__file__).resolve().parents[2]
TRANSFORMER = str(ROOT / "app_pages" / "transformer.py")


@pytest.fixture(scope="module")
def transformer_page() -> AppTest:
    at = AppTest.from_file(TRANSFORMER, default_timeout=120)
    at.query_params["tf_model"] = "trained"  # the dates model's text box (the default is the translator)
    return at.run()


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _texts(at: AppTest) -> str:
    return " | ".join(_plain(e.value) for e in [*at.error, *at.warning, *at.info, *at.caption, *at.markdown])


def test_text_box_keeps_its_character_cap(transformer_page: AppTest) -> None:
    """Hole 7: the box takes at most MAX_TEXT_CHARS characters; one more is refused by the widget."""
    box = transformer_page.text_input(key="tf_text")
    assert box.max_chars == MAX_TEXT_CHARS
    before = box.value
    box.input("1" * (MAX_TEXT_CHARS + 1))
    assert box.value == before


@pytest.fixture(scope="module")
def untrained_decoder_page() -> AppTest:
    at = AppTest.from_file(TRANSFORMER, default_timeout=120)
    at.query_params["tf_model"] = "untrained"
    at.query_params["tf_view"] = "decoder"
    return at.run()


def test_untrained_note_gives_measured_numbers_not_nearly_uniform(untrained_decoder_page: AppTest) -> None:
    """Item 2: random weights do not give near-uniform attention (layer-0 row maxima 0.21-0.28 vs 0.04 uniform)."""
    text = _texts(untrained_decoder_page)
    assert "nearly uniform" not in text
    assert "0.21-0.28" in text and "0.04" in text


def test_decoder_heatmap_leaves_the_masked_triangle_empty(untrained_decoder_page: AppTest) -> None:
    """Item 10: masked cells are drawn as gaps, not in the colour of weight 0; the caption's 'empty upper triangle' is true."""
    import base64
    import json

    import numpy as np

    assert not untrained_decoder_page.exception
    specs = [json.loads(c.proto.spec) for c in untrained_decoder_page.get("plotly_chart")]
    heatmap = next(s for s in specs if "masked self-attention · layer" in s["layout"]["title"]["text"].replace("<br>", " "))
    packed = heatmap["data"][0]["z"]  # Plotly's typed-array form: dtype, base64 bytes, shape
    shape = tuple(int(n) for n in str(packed["shape"]).split(","))
    z = np.frombuffer(base64.b64decode(packed["bdata"]), dtype=packed["dtype"]).reshape(shape).astype(float)
    upper = np.triu(np.ones(z.shape, dtype=bool), k=1)
    assert upper.any() and np.isnan(z[upper]).all() and np.isfinite(z[~upper]).all()
    assert "empty upper triangle" in _texts(untrained_decoder_page)


VIT = str(ROOT / "app_pages" / "vit.py")


@pytest.fixture(scope="module")
def vit_resolution_page() -> AppTest:
    at = AppTest.from_file(VIT, default_timeout=120)
    at.query_params["vit_size"] = "64"
    at.run()
    at.session_state["vit_tab"] = "Resolution"
    return at.run()


def _chart_specs(at: AppTest) -> list[dict]:
    import json

    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_resolution_tab_explains_the_doubling_by_the_grid_and_draws_the_uniform_reference(vit_resolution_page: AppTest) -> None:
    """Item 1: the patch stays 4 px, so 'doubles in pixels' was false; the uniform reference goes 16.5 -> 33.3 px."""
    assert not vit_resolution_page.exception
    text = _texts(vit_resolution_page)
    assert "roughly doubles it in pixels" not in text
    assert "16.5 px" in text and "33.3 px" in text and "4 px at both sizes" in text
    stats = next(s for s in _chart_specs(vit_resolution_page) if "Mean attention distance" in json_text(s))
    lines = [t for t in stats["data"] if t.get("mode") == "lines"]
    assert sorted(round(t["y"][0], 1) for t in lines) == [16.5, 33.3]


def test_resolution_tab_compares_entropy_divided_by_ln_t(vit_resolution_page: AppTest) -> None:
    """Item 7: raw entropies at 65 and 257 tokens have different maxima (4.17 and 5.55 nats); the figure plots H / ln T."""
    stats = next(s for s in _chart_specs(vit_resolution_page) if "Mean attention distance" in json_text(s))
    assert "ln T" in json_text(stats)
    entropy_traces = [t for t in stats["data"] if t.get("mode") == "markers" and t.get("yaxis") == "y2"]
    sizes = {t["hovertemplate"].split("<br>")[0] for t in entropy_traces}  # one marker trace per head and input size
    assert len(sizes) == 2 and len(entropy_traces) == 2 * 4
    for trace in entropy_traces:
        values = _numbers(trace["y"])
        assert min(values) >= 0.0 and max(values) <= 1.0 + 1e-6


def test_resolution_tab_cites_the_interpolation_correctly(vit_resolution_page: AppTest) -> None:
    """Item 6: the ViT paper (Section 3.2) says "2D interpolation"; bicubic is timm's choice."""
    text = _texts(vit_resolution_page)
    assert "bicubic, ViT paper Section 3.2" not in text
    assert "2D interpolation" in text and "timm" in text


def test_vit_page_numbers_layers_and_heads_from_zero() -> None:
    """Item 10: one convention everywhere (the Transformer page counts from 0)."""
    at = AppTest.from_file(VIT, default_timeout=120).run()
    assert at.slider(key="vit_head").min == 0 and at.slider(key="vit_layer").min == 0
    assert at.slider(key="vit_layer").value == at.slider(key="vit_layer").max


def json_text(spec: dict) -> str:
    import json

    return json.dumps(spec)


def _numbers(values: object) -> list[float]:
    """A Plotly array from chart JSON: a plain list or the typed-array form (dtype, base64 bytes)."""
    import base64

    import numpy as np

    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).astype(float).tolist()
    return [float(v) for v in values]  # type: ignore[union-attr]


def test_dot_product_similarity_is_drawn_with_white_at_zero() -> None:
    """Item 4: d = 128, L = 100 dot products lie in 23.8..64; on the diverging scale the range must be centred on 0."""
    at = AppTest.from_file(str(ROOT / "app_pages" / "positional_encoding.py"), default_timeout=120)
    at.query_params["pe_metric"] = "dot product"
    at.run()
    assert not at.exception
    heatmap = next(s for s in _chart_specs(at) if s["layout"].get("title", {}).get("text", "").startswith("dot product between positions"))
    trace = heatmap["data"][0]
    assert trace["zmin"] == -trace["zmax"] and trace["zmax"] >= 63.9
