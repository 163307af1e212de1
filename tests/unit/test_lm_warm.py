"""Server start-up warms the language-model page: a new visitor's default view is already computed."""

from __future__ import annotations

import pytest

from explorer.pretrained import pretrained_status
from explorer.runs.lm import Sampling
from explorer.views import language_model as views
from ui.preload import warm_language_model


@pytest.mark.slow
@pytest.mark.skipif(pretrained_status(views.MODEL) is not None, reason="SmolLM2 wheel not installed")
def test_warm_up_fills_the_default_views_caches() -> None:
    for cached in (views.prompt, views.next_token, views.analysis):
        cached.cache_clear()  # type: ignore[attr-defined]
    warm_language_model()
    assert views.prompt.cached(views.DEFAULT_TEXT, "complete")  # type: ignore[attr-defined]
    ids = views.prompt(views.DEFAULT_TEXT, "complete").ids
    assert views.next_token.cached(ids, Sampling()) and views.analysis.cached(ids)  # type: ignore[attr-defined]
    assert not views.analysis.cached(ids[:-1])  # type: ignore[attr-defined]  # only the defaults, nothing else
