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
    return AppTest.from_file(TRANSFORMER, default_timeout=120).run()


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
    import base64  # noqa: PLC0415
    import json  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    assert not untrained_decoder_page.exception
    specs = [json.loads(c.proto.spec) for c in untrained_decoder_page.get("plotly_chart")]
    heatmap = next(s for s in specs if "masked self-attention · layer" in s["layout"]["title"]["text"])
    packed = heatmap["data"][0]["z"]  # Plotly's typed-array form: dtype, base64 bytes, shape
    shape = tuple(int(n) for n in str(packed["shape"]).split(","))
    z = np.frombuffer(base64.b64decode(packed["bdata"]), dtype=packed["dtype"]).reshape(shape).astype(float)
    upper = np.triu(np.ones(z.shape, dtype=bool), k=1)
    assert upper.any() and np.isnan(z[upper]).all() and np.isfinite(z[~upper]).all()
    assert "empty upper triangle" in _texts(untrained_decoder_page)
