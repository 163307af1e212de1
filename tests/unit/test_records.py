"""Per-layer attention records: what each attention read is what the layer's norm produced."""

from __future__ import annotations

import pytest
import torch

from explorer.models.lm import LanguageModel, LMConfig
from explorer.models.records import AttentionRecord


def small_lm(norm_first: bool) -> LanguageModel:
    torch.manual_seed(3)
    config = LMConfig(vocab_size=37, d_model=16, n_heads=4, n_layers=2, d_ff=24, dropout=0.0, max_len=32,
                      norm="rmsnorm", norm_first=norm_first, positions="rope", n_kv_heads=2)
    return LanguageModel(config).eval()


@pytest.mark.parametrize("norm_first", [True, False], ids=["pre-norm", "post-norm"])
def test_lm_attention_inputs_are_what_each_layer_attended_over(norm_first: bool) -> None:
    model = small_lm(norm_first)
    ids = torch.randint(0, 37, (1, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(ids, return_attention=True, return_hidden=True, return_attention_inputs=True)
        assert out.attention_inputs is not None and out.hidden is not None and out.attention is not None
        streams = [model.embed_tokens(ids), *out.hidden[:-1]]  # the residual stream entering each layer
        for layer, stream, seen, maps in zip(model.layers, streams, out.attention_inputs, out.attention["self"], strict=True):
            expected = layer.norm1(stream) if norm_first else stream
            torch.testing.assert_close(seen, expected)
            _, weights = layer.self_attn(seen, seen, causal=True, need_weights=True)
            torch.testing.assert_close(weights, maps)  # the recorded input reproduces the recorded map


def test_inputs_alone_do_not_force_attention_maps() -> None:
    out = small_lm(True)(torch.tensor([[1, 2, 3]]), return_attention_inputs=True)
    assert out.attention is None and out.attention_inputs is not None and len(out.attention_inputs) == 2


def test_a_record_without_weights_says_so_instead_of_returning_none() -> None:
    record = AttentionRecord()
    with pytest.raises(RuntimeError, match="need_weights"):
        record.maps()
    with pytest.raises(RuntimeError, match="no inputs"):
        record.inputs()
