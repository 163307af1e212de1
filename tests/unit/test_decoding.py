"""Autoregressive decoding: greedy on the shipped checkpoint, prefix forcing, seeded sampling, truncation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from explorer.decoding import generate, greedy_batch
from explorer.models import Transformer, TransformerConfig
from explorer.tasks.tokenizer import CharTokenizer

CHECKPOINTS = Path(__file__).resolve().parents[2] / "explorer" / "checkpoints"


@pytest.fixture(scope="module")
def trained() -> tuple[Transformer, CharTokenizer]:
    meta = json.loads((CHECKPOINTS / "dates.json").read_text())
    model = Transformer(TransformerConfig.from_dict(meta["config"]))
    model.load_state_dict(torch.load(CHECKPOINTS / "dates.pt", weights_only=True))
    model.eval()
    return model, CharTokenizer.from_vocab(meta["vocab"])


@pytest.fixture(scope="module")
def tiny() -> tuple[Transformer, CharTokenizer]:
    tok = CharTokenizer()
    torch.manual_seed(0)
    cfg = TransformerConfig(src_vocab_size=tok.vocab_size, tgt_vocab_size=tok.vocab_size, d_model=16, n_heads=2,
                            n_encoder_layers=1, n_decoder_layers=1, d_ff=32, dropout=0.0, max_len=12)
    return Transformer(cfg).eval(), tok


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_greedy_translates_the_example(trained) -> None:
    model, tok = trained
    before = _state(model)
    result = generate(model, tok, "26 Nov 2026")
    assert result.text == "2026-11-26"
    assert result.finished and result.output_tokens[-1] == "</s>"
    assert result.target_ids[-1] == tok.eos_id
    assert not result.truncated
    assert all(not s.forced for s in result.steps)
    # each step reports a top-5 distribution whose best entry is the greedy choice
    for step in result.steps:
        assert len(step.top_k) == 5
        assert step.top_k[0][0] == step.token
        assert step.top_k[0][1] == pytest.approx(step.probability)
        assert all(a[1] >= b[1] for a, b in zip(step.top_k, step.top_k[1:]))
    # the shared model is untouched and still in eval mode
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_attention_rows_match_emitted_tokens(trained) -> None:
    model, tok = trained
    result = generate(model, tok, "Thursday 26 November 2026")
    n_out, n_src = len(result.output_tokens), len(result.source_tokens)
    assert result.decoder_input_tokens[0] == "<s>"
    assert result.decoder_input_tokens[1:] == result.output_tokens[:-1]
    for kind, (q, k) in {"decoder_cross": (n_out, n_src), "decoder_self": (n_out, n_out), "encoder_self": (n_src, n_src)}.items():
        maps = result.attention[kind]
        assert len(maps) == model.config.n_decoder_layers if kind != "encoder_self" else model.config.n_encoder_layers
        for m in maps:
            assert m.shape == (1, model.config.n_heads, q, k)
            assert torch.allclose(m.sum(-1), torch.ones(1, model.config.n_heads, q), atol=1e-5)


def test_prefix_forcing(trained) -> None:
    model, tok = trained
    result = generate(model, tok, "26 Nov 2026", prefix="1999")
    assert result.text.startswith("1999")
    assert [s.forced for s in result.steps[:4]] == [True] * 4
    assert not any(s.forced for s in result.steps[4:])
    assert result.text[4:] == "-11-26"
    # a forced step reports what the model itself would have said there
    assert result.steps[0].top_k[0][0] == "2"
    assert result.steps[0].probability < 0.5


def test_sampling_is_seeded(trained) -> None:
    model, tok = trained
    state = torch.random.get_rng_state()
    a = generate(model, tok, "26 Nov 2026", max_new_tokens=6, temperature=5.0, seed=1)
    b = generate(model, tok, "26 Nov 2026", max_new_tokens=6, temperature=5.0, seed=1)
    assert a.text == b.text and a.target_ids == b.target_ids
    texts = {generate(model, tok, "26 Nov 2026", max_new_tokens=6, temperature=5.0, seed=s).text for s in range(2, 5)}
    assert len(texts | {a.text}) > 1, "a hot temperature should vary with the seed"
    assert torch.equal(state, torch.random.get_rng_state()), "sampling must not touch the global RNG"


def test_truncation_is_flagged(tiny) -> None:
    model, tok = tiny
    result = generate(model, tok, "26 November 2026 and more", max_new_tokens=3)
    assert result.truncated
    assert len(result.source_ids) == model.config.max_len
    assert len(result.target_ids) == 3
    assert not generate(model, tok, "26 Nov", max_new_tokens=3).truncated


def test_prefix_longer_than_target_room(tiny) -> None:
    model, tok = tiny
    result = generate(model, tok, "26 Nov", prefix="2026-11-26-2026", max_new_tokens=5)
    assert len(result.target_ids) <= model.config.max_len - 1


def test_training_mode_model_is_not_changed(tiny) -> None:
    model, tok = tiny
    model.train()
    try:
        generate(model, tok, "1 May 2000", max_new_tokens=2)
        assert model.training
    finally:
        model.eval()


def test_bad_inputs(tiny) -> None:
    model, tok = tiny
    with pytest.raises(ValueError, match="empty"):
        generate(model, tok, "")
    with pytest.raises(ValueError, match="temperature"):
        generate(model, tok, "x", temperature=-1)


def test_greedy_batch_agrees_with_generate(trained) -> None:
    model, tok = trained
    texts = ["26 Nov 2026", "11/26/2026", "1st of March 1950", "  tue, sep 3, 2024"]
    assert greedy_batch(model, tok, texts) == [generate(model, tok, t).text for t in texts]
