"""One session, several pages: widget keys (and the URL parameters bound to them) are session-wide in
Streamlit, so a value set on one page must never reach a same-named widget on another page.

Before the pages used page-prefixed keys (``tf_``, ``vit_``, ``prof_``, ``pe_``), changing the model on
the Transformer page and then opening the ViT page carried ``model=untrained&topk=5&layer=0`` over and
the ViT page crashed ("value 0 is less than min 1"); the Profiler page then failed on ``heads``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.share import link_in_box

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")

pytestmark = pytest.mark.slow


def _clean(at: AppTest, where: str) -> None:
    assert not at.exception, (where, [e.value for e in at.exception])
    links = [link for h in at.sidebar.get("html") if (link := link_in_box(h.value)) and ("://" in link or link.startswith("?"))]
    assert len(links) == 1, (where, "expected one 'link to this view' box (app.py draws it)", links)


def test_values_set_on_one_page_do_not_break_the_next_pages() -> None:
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("app_pages/transformer.py").run()
    _clean(at, "transformer")
    radios = [r for r in at.radio if r.label == "Model"]
    radios[0].set_value("untrained").run()
    number_inputs = {n.label: n for n in at.number_input}
    number_inputs["Layer"].set_value(0)
    number_inputs["Head"].set_value(1)
    [r for r in at.radio if r.label == "Heads"][0].set_value("mean")
    [s for s in at.slider if s.label.startswith("Top-k")][0].set_value(5)
    at.run()
    _clean(at, "transformer after changes")

    at.switch_page("app_pages/vit.py").run()
    _clean(at, "vit")
    assert [r for r in at.radio if r.label == "Model"][0].value == "shapes"  # not the Transformer's choice

    at.switch_page("app_pages/profiler.py").run()
    _clean(at, "profiler")
    assert [r for r in at.radio if r.label == "Model"][0].value == "transformer"

    at.switch_page("app_pages/positional_encoding.py").run()
    _clean(at, "positional encoding")
    at.switch_page("app_pages/transformer.py").run()
    _clean(at, "transformer again")
