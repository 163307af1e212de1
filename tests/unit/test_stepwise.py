"""Step-by-step attention reproduces the model's own weights, and the 0-mask mistake leaks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.analysis.stepwise import (
    CAUSAL,
    KINDS,
    attention_module,
    record_attention,
    scaled_dot_product_steps,
    steps_for_head,
    steps_from_run,
    translate_and_record,
)
from explorer.models import Transformer, TransformerConfig
from explorer.tasks.tokenizer import CharTokenizer


def _model(**overrides: object) -> Transformer:
    torch.manual_seed(0)
    kwargs: dict[str, object] = dict(
        src_vocab_size=45, tgt_vocab_size=45, d_model=32, n_heads=4, n_encoder_layers=2, n_decoder_layers=2,
        d_ff=64, dropout=0.0, max_len=64,
    )
    kwargs.update(overrides)
    return Transformer(TransformerConfig(**kwargs)).eval()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "overrides",
    [{}, {"norm_first": True}, {"positions": "rope"}, {"n_kv_heads": 2}, {"n_kv_heads": 1, "positions": "learned"}],
    ids=["post-ln", "pre-ln", "rope", "gqa", "mqa"],
)
def test_recomputed_weights_match_the_model_for_every_kind_layer_head(overrides: dict[str, object]) -> None:
    model = _model(**overrides)
    run = record_attention(model, [5, 6, 7, 8, 9, 10], [1, 11, 12, 13])
    for kind in KINDS:
        for layer in range(2):
            for head in range(4):
                steps = steps_from_run(model, run, kind, layer, head)
                np.testing.assert_allclose(steps.weights, run.maps[kind][layer, head], atol=2e-6)
                np.testing.assert_allclose(steps.weights.sum(axis=-1), 1.0, atol=1e-9)


def test_recomputed_head_output_matches_the_module() -> None:
    """The weighted sum of V, concatenated over heads and projected, is the module's output."""
    model = _model()
    run = record_attention(model, [5, 6, 7, 8], [1, 9, 10])
    module = attention_module(model, "decoder_self", 1)
    x_q, x_kv = run.inputs["decoder_self"][1]
    heads = [steps_for_head(module, x_q, x_kv, h, causal=True).output for h in range(4)]
    context = torch.tensor(np.concatenate(heads, axis=-1), dtype=torch.float32)
    with torch.no_grad():
        expected, _ = module(torch.tensor(x_q)[None], torch.tensor(x_kv)[None], causal=True)
        mine = module.out_proj(context)
    torch.testing.assert_close(mine, expected[0], atol=1e-5, rtol=1e-5)


def test_each_step_by_hand_on_a_tiny_example() -> None:
    q = np.array([[1.0, 0.0], [0.0, 2.0]])
    k = np.array([[1.0, 1.0], [2.0, 0.0]])
    v = np.array([[1.0, 0.0], [0.0, 1.0]])
    keep = np.array([[True, False], [True, True]])  # causal
    s = scaled_dot_product_steps(q, k, v, keep)
    np.testing.assert_allclose(s.scores, [[1.0, 2.0], [2.0, 0.0]])
    np.testing.assert_allclose(s.scaled, s.scores / math.sqrt(2))
    assert s.masked[0, 1] == -np.inf and s.masked[0, 0] == pytest.approx(1 / math.sqrt(2))
    np.testing.assert_allclose(s.weights[0], [1.0, 0.0])
    e = np.exp([2 / math.sqrt(2), 0.0])
    np.testing.assert_allclose(s.weights[1], e / e.sum())
    np.testing.assert_allclose(s.output, s.weights @ v)
    # The mistake: the hidden score becomes 0, exp(0) = 1, and key 1 gets weight.
    w = np.exp([1 / math.sqrt(2), 0.0])
    np.testing.assert_allclose(s.wrong_weights[0], w / w.sum())
    assert s.leaked_mass[0] == pytest.approx(1 / (1 + math.exp(1 / math.sqrt(2))))
    assert s.leaked_mass[1] == 0.0
    np.testing.assert_allclose(s.leak[0], s.wrong_weights[0, 1] * v[1])
    assert s.has_mask


def test_no_mask_means_no_leak_and_same_output() -> None:
    rng = np.random.default_rng(0)
    s = scaled_dot_product_steps(rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 4)))
    assert not s.has_mask
    np.testing.assert_allclose(s.wrong_weights, s.weights)
    np.testing.assert_allclose(s.leaked_mass, 0.0)


def test_fully_masked_row_gets_zero_weights_not_nan() -> None:
    keep = np.array([[False, False], [True, False]])
    s = scaled_dot_product_steps(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), keep)
    assert np.isfinite(s.weights).all()
    np.testing.assert_allclose(s.weights[0], 0.0)


def test_decoder_self_attention_leaks_future_tokens_with_zero_mask() -> None:
    model = _model()
    run = record_attention(model, [5, 6, 7], [1, 8, 9, 10])
    steps = steps_from_run(model, run, "decoder_self", 0, 0)
    assert CAUSAL["decoder_self"] and steps.has_mask
    assert steps.leaked_mass[0] > 0.0  # the first position sees only itself; the rest leaks
    assert steps.leaked_mass[-1] == 0.0  # the last position sees everything: nothing hidden
    np.testing.assert_allclose(np.triu(steps.weights, k=1), 0.0)


def test_bad_layer_head_and_kind_raise_value_errors() -> None:
    model = _model()
    run = record_attention(model, [5, 6], [1, 7])
    with pytest.raises(ValueError, match="layer 2 is out of range"):
        steps_from_run(model, run, "encoder_self", 2, 0)
    with pytest.raises(ValueError, match="head 4 is out of range"):
        steps_from_run(model, run, "encoder_self", 0, 4)
    with pytest.raises(ValueError, match="kind must be"):
        attention_module(model, "bogus", 0)
    with pytest.raises(ValueError, match="shapes do not fit"):
        scaled_dot_product_steps(np.ones((2, 3)), np.ones((2, 4)), np.ones((2, 4)))


def test_recording_does_not_change_the_model() -> None:
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run = record_attention(model, [5, 6, 7], [1, 8])
    steps_from_run(model, run, "decoder_cross", 1, 3)
    assert not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    assert not any(m._forward_hooks for m in model.modules())


def test_translate_and_record_lines_up_with_generation() -> None:
    tokenizer = CharTokenizer()
    model = _model(src_vocab_size=len(tokenizer), tgt_vocab_size=len(tokenizer))
    result = translate_and_record(model, tokenizer, "26 Nov 2026", prefix="20", max_new_tokens=4)
    dec = result.decode
    assert dec.output_tokens[:2] == ["2", "0"] and dec.steps[0].forced
    assert result.attention.tgt_ids[0] == tokenizer.bos_id
    assert len(result.attention.tgt_ids) == len(dec.output_tokens)  # query i produced output token i
    assert result.attention.maps["decoder_cross"].shape == (2, 4, len(dec.output_tokens), len("26 Nov 2026"))
    assert result.query_tokens("encoder_self") == list(dec.source_tokens)
    assert result.key_tokens("decoder_self") == list(dec.decoder_input_tokens)
    assert dec.attention == {}  # tensors dropped: the run pickles small
