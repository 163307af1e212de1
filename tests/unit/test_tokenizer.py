"""The character tokenizer: fixed special ids, round trip, unknown characters, rebuilding from a vocab."""

from __future__ import annotations

import pytest

from explorer.tasks.tokenizer import SPECIALS, CharTokenizer


def test_special_ids() -> None:
    tok = CharTokenizer()
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id) == (0, 1, 2, 3)
    assert tok.vocab[:4] == ["<pad>", "<s>", "</s>", "<unk>"]
    assert len(set(tok.vocab)) == len(tok.vocab) == tok.vocab_size


def test_round_trip() -> None:
    tok = CharTokenizer()
    text = "thursday, the 26th of november, 2026 / 26.11.2026-x"
    ids = tok.encode(text)
    assert len(ids) == len(text)
    assert tok.unk_id not in ids and all(i >= 4 for i in ids)
    assert tok.decode(ids) == text
    assert tok.decode([tok.bos_id] + ids + [tok.eos_id, tok.pad_id]) == text


def test_case_folds_to_lower() -> None:
    tok = CharTokenizer()
    assert tok.encode("NOV") == tok.encode("nov") == tok.encode("Nov")
    assert tok.tokens("Nov") == ["n", "o", "v"]


def test_unknown_characters_are_visible() -> None:
    tok = CharTokenizer()
    ids = tok.encode("26 😀 Nov")
    assert ids.count(tok.unk_id) == 1
    assert tok.tokens("2😀é") == ["2", "<unk:😀>", "<unk:é>"]
    assert tok.decode(ids) == "26  nov"  # unknowns are skipped


def test_from_vocab_preserves_ids() -> None:
    tok = CharTokenizer()
    again = CharTokenizer.from_vocab(list(tok.vocab))
    assert again.vocab == tok.vocab
    assert again.encode("26 Nov 2026") == tok.encode("26 Nov 2026")
    small = CharTokenizer.from_vocab(list(SPECIALS) + ["b", "a"])
    assert small.encode("abc") == [5, 4, 3]


def test_from_vocab_rejects_bad_vocab() -> None:
    with pytest.raises(ValueError, match="special"):
        CharTokenizer.from_vocab(["a", "b"])
    with pytest.raises(ValueError, match="single"):
        CharTokenizer(["ab"])


def test_decode_ignores_out_of_range_ids() -> None:
    tok = CharTokenizer()
    assert tok.decode([999, -1, tok.encode("7")[0]]) == "7"
    assert tok.token(999) == "<?>"
