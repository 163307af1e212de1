"""The translator view: default sentence, alignment list, the SSRU explanation, long pastes, dates warnings."""

from __future__ import annotations

import pytest

from explorer.tasks.dates import FORMAT_INFO
from explorer.views.translation import (
    DEFAULT_TEXT,
    TranslatorSettings,
    check,
    dates_notice,
    run,
    translator_view,
)


@pytest.fixture(scope="module")
def default_record(english: object) -> object:
    checked = check(DEFAULT_TEXT["en-pt"], english.tokenizer)  # type: ignore[attr-defined]
    return run("en-pt", english, checked, top_k=5)


def test_default_sentence_aligns_six_word_pairs(default_record: object) -> None:
    view = translator_view(default_record, TranslatorSettings("en-pt"))  # type: ignore[arg-type]
    assert view.output == "O gato preto está dormindo no sofá vermelho perto da janela."
    pairs = dict(zip(view.alignment_pairs.iloc[:, 0], view.alignment_pairs.iloc[:, 1], strict=True))
    expected = {"gato": "cat", "preto": "black", "dormindo": "sleeping", "sofá": "sofa", "vermelho": "red", "janela": "window"}
    assert {k: pairs[k] for k in expected} == expected
    assert "mean over its 8 heads" in view.alignment_caption and "layer 1" in view.alignment_caption
    assert "▁" in "".join(view.tokens.loc["piece"])


def test_decoder_self_view_explains_the_ssru(default_record: object) -> None:
    view = translator_view(default_record, TranslatorSettings("en-pt", view="decoder"))  # type: ignore[arg-type]
    assert view.heatmap is None and view.note is not None and "SSRU" in view.note
    assert view.alignment is not None  # the alignment stays available


def test_cross_view_clamps_layer_and_head(default_record: object) -> None:
    view = translator_view(default_record, TranslatorSettings("en-pt", view="encoder", layer=99, head=99))  # type: ignore[arg-type]
    assert (view.layer, view.head) == (5, 7) and view.heatmap is not None
    assert view.csv is not None and len(view.csv()) > 0


def test_long_paste_is_cut_and_said(english: object) -> None:
    paste = "The black cat is sleeping on the red sofa near the window. " * 40
    checked = check(paste[:2000], english.tokenizer)  # type: ignore[attr-defined]
    assert checked.ok and checked.truncated
    assert any("2,000 characters" in w for w in checked.warnings)


@pytest.mark.parametrize(
    ("text", "warned"),
    [("The cat is sleeping on the sofa.", True), ("31/12/1999", True), ("2100-01-01", True), ("26 Nov 2026", False)],
)
def test_dates_warning_box(text: str, warned: bool) -> None:
    notice = dates_notice(text)
    assert (notice.warning is not None) == warned
    assert len(notice.formats) == len(FORMAT_INFO) and notice.years == "1950-2079"
    if warned:
        assert notice.example_link_model == "en-pt"


def test_slash_dates_are_a_teaching_moment() -> None:
    notice = dates_notice("01/02/2000")
    assert notice.warning is None and notice.info is not None and "2 January" in notice.info


@pytest.mark.parametrize("view_name", ["encoder", "cross"])
def test_step_by_step_uses_the_inputs_the_model_saw(english: object, default_record: object, view_name: str) -> None:
    from explorer.views.translation import translator_step_view

    view = translator_view(default_record, TranslatorSettings("en-pt", view=view_name, layer=1, head=3))  # type: ignore[arg-type]
    step = translator_step_view(english.model, default_record, view, query=2)  # type: ignore[attr-defined, arg-type]
    assert step is not None and step.gap < 1e-4  # recomputed weights are the model's own
    assert step.table["softmax weight"].sum() == pytest.approx(1.0, abs=1e-3)


def test_step_by_step_is_absent_for_the_ssru(english: object, default_record: object) -> None:
    from explorer.views.translation import translator_step_view

    view = translator_view(default_record, TranslatorSettings("en-pt", view="decoder"))  # type: ignore[arg-type]
    assert translator_step_view(english.model, default_record, view, 0) is None  # type: ignore[attr-defined, arg-type]


def test_value_weighted_maps_say_they_hold_norms(english: object, default_record: object) -> None:
    """With value weighting on, Marian's heatmap and overview label their cells ‖αf‖, not "weight"."""
    from explorer.views.transformer import VALUE_LABEL

    view = translator_view(default_record, TranslatorSettings("en-pt", view="encoder", value_weighted=True), english.model)  # type: ignore[arg-type, attr-defined]
    assert view.heatmap is not None and view.overview is not None
    assert view.heatmap.data[0].colorbar.title.text == VALUE_LABEL == view.overview.layout.coloraxis.colorbar.title.text
    assert f"{VALUE_LABEL} %{{z:.3f}}" in view.overview.data[0].hovertemplate
