"""Run-and-record for the translators and the dates model, word alignment, and the dates model's limits."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.analysis.alignment import merge_grid, translator_alignment_layer, word_alignment, words_from_pieces
from explorer.runs.translation import SSRU_NOTE, dates_coverage, read_as_trained_date, run_dates, run_marian

# (English sentence, English word, the Portuguese word it must align with)
CHECKED_PAIRS = [
    ("The cat is sleeping on the sofa.", "cat", "gato"),
    ("The cat is sleeping on the sofa.", "sleeping", "dormindo"),
    ("The cat is sleeping on the sofa.", "sofa", "sofá"),
    ("The black dog is eating a red apple.", "black", "preto"),
    ("The black dog is eating a red apple.", "red", "vermelha"),
    ("My grandmother makes the best chocolate cake.", "grandmother", "avó"),
    ("I didn't see the big house near the river.", "river", "rio"),
]


def test_words_from_pieces_merges_subwords_and_splits_trailing_punctuation() -> None:
    pieces = ["▁I", "▁didn", "'", "t", "▁sleep", "ing", ".", "</s>"]
    words = words_from_pieces(pieces)
    assert [w.text for w in words] == ["I", "didn't", "sleeping", "."]
    assert words[1].pieces == (1, 2, 3)
    assert [w.text for w in words_from_pieces(pieces, merge=False)] == ["I", "didn", "'", "t", "sleep", "ing", "."]


def test_merge_grid_is_the_mean_over_each_words_pieces() -> None:
    weights = np.array([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]])
    source = words_from_pieces(["▁ca", "t", "▁x"])
    target = words_from_pieces(["▁ga", "to"])
    grid = merge_grid(weights, target, source)
    np.testing.assert_allclose(grid, [[(0.1 + 0.2 + 0.3 + 0.3) / 4, (0.7 + 0.4) / 2]])


def _record(entry: object, text: str) -> object:
    return run_marian("marian-en-pt", entry.model, entry.tokenizer, text, entry.tokenizer.encode(text), top_k=3)  # type: ignore[attr-defined]


def test_marian_record(english: object) -> None:
    record = _record(english, "The cat is sleeping on the sofa.")
    assert record.output_text == "O gato está dormindo no sofá."
    assert record.source_pieces[:2] == ("▁The", "▁cat") and record.output_pieces[-1] == "</s>"
    assert set(record.kinds) == {"encoder_self", "decoder_cross"}
    assert record.notes["decoder_self"] == SSRU_NOTE
    cross = record.attention["decoder_cross"]
    assert cross.shape[2:] == (len(record.output_pieces), len(record.source_pieces))
    np.testing.assert_allclose(cross.sum(-1), 1.0, atol=1e-5)
    assert len(record.steps) == len(record.output_pieces)
    assert all(len(s.top_k) == 3 and s.top_k[0][0] == s.piece for s in record.steps)


def test_last_layer_aligns_the_checked_pairs_and_layer_0_does_not(english: object) -> None:
    layer = translator_alignment_layer(english.model.config.n_decoder_layers)  # type: ignore[attr-defined]
    hits = {0: 0, layer: 0}
    for sentence in dict.fromkeys(s for s, _, _ in CHECKED_PAIRS):
        record = _record(english, sentence)
        for candidate in hits:
            alignment = word_alignment(record.attention["decoder_cross"], record.source_pieces, record.output_pieces, candidate)
            strongest = {target: source for target, source, _ in alignment.pairs}
            hits[candidate] += sum(strongest.get(t) == s for sent, s, t in CHECKED_PAIRS if sent == sentence)
    assert hits[layer] == len(CHECKED_PAIRS)
    assert hits[0] < len(CHECKED_PAIRS) // 2  # the first layer looks at the previous output's source word


def test_dates_record_has_all_three_kinds() -> None:
    from explorer.zoo import load_model

    entry = load_model("dates")
    record = run_dates(entry.model, entry.tokenizer, "26 Nov 2026", top_k=3)
    assert set(record.kinds) == {"encoder_self", "decoder_self", "decoder_cross"}
    assert record.output_text == "2026-11-26"
    self_maps = record.attention["decoder_self"]
    assert self_maps.shape[2:] == (len(record.output_pieces), len(record.decoder_input_pieces))


def test_dates_coverage_lists_formats_and_years() -> None:
    coverage = dates_coverage()
    assert (coverage.year_min, coverage.year_max) == (1950, 2079)
    assert ("yyyy-mm-dd", "2026-11-26", "YMD") in coverage.formats


@pytest.mark.parametrize(
    ("text", "known", "iso"),
    [
        ("26 Nov 2026", True, "2026-11-26"),
        ("01/02/2000", True, "2000-01-02"),  # slashes are read month/day/year, as in training
        ("31/12/1999", False, None),  # day first with slashes is not a trained format
        ("12/31/99", False, None),  # two-digit year
        ("2100-01-01", False, "2100-01-01"),  # readable, but outside the trained years
        ("The cat is sleeping on the sofa.", False, None),
    ],
)
def test_read_as_trained_date(text: str, known: bool, iso: str | None) -> None:
    reading = read_as_trained_date(text)
    assert (reading.known, reading.iso) == (known, iso)
    assert "\n" not in reading.reason
