"""The decoder-only LM and the attention changes it brought (KV cache, ablation, RoPE positions), on small random models."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from explorer.models.attention import KVCache, LayerCache, MultiHeadAttention
from explorer.models.lm import LanguageModel, LMConfig
from explorer.models.positions import apply_rope

torch.manual_seed(0)

VARIANTS = [
    dict(),  # the paper's decoder: post-LN, ReLU, sinusoidal
    dict(norm="rmsnorm", norm_first=True, activation="swiglu", positions="rope", rope_pairs="halves", n_kv_heads=2, bias=False, tie_embeddings=True, scale_embeddings=False),
    dict(norm_first=True, activation="gelu", positions="rope", rope_pairs="interleaved", rope_base=100000.0, n_kv_heads=1),
    dict(positions="learned", norm_first=True),
    dict(positions="none", tie_embeddings=True),
]


def small(**overrides: object) -> LanguageModel:
    options = dict(vocab_size=61, d_model=32, n_heads=4, n_layers=3, d_ff=48, dropout=0.0, max_len=64)
    options.update(overrides)
    torch.manual_seed(1)
    model = LanguageModel(LMConfig(**options)).eval()  # type: ignore[arg-type]
    for parameter in model.parameters():  # non-trivial norms and biases, so every term is exercised
        parameter.data.add_(0.1 * torch.randn_like(parameter))
    return model


def ids(length: int = 11, batch: int = 2) -> torch.Tensor:
    return torch.randint(0, 61, (batch, length), generator=torch.Generator().manual_seed(length))


def test_defaults_are_the_papers_decoder() -> None:
    model = LanguageModel(LMConfig(vocab_size=10, d_model=16, n_heads=2, n_layers=1, d_ff=32))
    block = model.layers[0]
    assert isinstance(block.norm1, torch.nn.LayerNorm) and not block.norm_first
    assert block.feed_forward.activation == "relu" and block.feed_forward.gate is None
    assert model.pe is not None and model.pos_embed is None and not block.self_attn.rope
    assert model.embed_scale == pytest.approx(4.0)  # sqrt(d_model), Section 3.4


def test_modern_switches_build_llama_parts() -> None:
    model = small(**VARIANTS[1])
    block = model.layers[0]
    assert isinstance(block.norm1, torch.nn.RMSNorm) and isinstance(model.norm, torch.nn.RMSNorm)
    assert block.feed_forward.gate is not None and block.self_attn.k_proj.weight.shape == (16, 32)
    assert block.self_attn.q_proj.bias is None and model.lm_head is None and model.pe is None


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) or "paper")
def test_kv_cache_equals_no_cache(variant: dict) -> None:
    model = small(**variant)
    tokens = ids(13)
    with torch.inference_mode():
        full = model(tokens).logits
        cache = model.new_cache()
        chunks = [model(tokens[:, :5], cache=cache).logits]  # prefill, then one token at a time, then a chunk of 3
        for position in range(5, 10):
            chunks.append(model(tokens[:, position : position + 1], cache=cache).logits)
        chunks.append(model(tokens[:, 10:], cache=cache).logits)
    assert cache.length == 13
    torch.testing.assert_close(torch.cat(chunks, dim=1), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS[:3], ids=["paper", "llama", "mqa"])
def test_fast_path_equals_inspect_path(variant: dict) -> None:
    model = small(**variant)
    with torch.inference_mode():
        fast = model(ids()).logits
        inspected = model(ids(), return_attention=True, return_hidden=True)
        assert inspected.hidden is not None and len(inspected.hidden) == 3
        lens_last = model.unembed(inspected.hidden[-1])
    torch.testing.assert_close(inspected.logits, fast, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(lens_last, fast, atol=1e-5, rtol=1e-5)


def test_attention_rows_sum_to_one_and_are_causal() -> None:
    out = small(**VARIANTS[1])(ids(9), return_attention=True)
    assert out.attention is not None
    for layer_map in out.attention["self"]:
        assert layer_map.shape == (2, 4, 9, 9)
        torch.testing.assert_close(layer_map.sum(-1), torch.ones(2, 4, 9))
        assert torch.all(layer_map.triu(diagonal=1) == 0)


def test_attention_with_cache_covers_every_cached_key() -> None:
    model = small(**VARIANTS[1])
    tokens = ids(8)
    with torch.inference_mode():
        full = model(tokens, return_attention=True).attention["self"]  # type: ignore[index]
        cache = model.new_cache()
        model(tokens[:, :7], cache=cache)
        last = model(tokens[:, 7:], cache=cache, return_attention=True).attention["self"]  # type: ignore[index]
    for whole, step in zip(full, last):
        assert step.shape == (2, 4, 1, 8)
        torch.testing.assert_close(step, whole[:, :, 7:], atol=1e-6, rtol=1e-5)


def test_ablation_equals_zeroed_output_columns_and_leaves_the_module_alone() -> None:
    model = small(**VARIANTS[1])
    before = {name: value.clone() for name, value in model.state_dict().items()}
    with torch.inference_mode():
        ablated = model(ids(), ablate_heads={(1, 2), (2, 0)}).logits
        reference = copy.deepcopy(model)
        d_head = 8
        reference.layers[1].self_attn.out_proj.weight[:, 2 * d_head : 3 * d_head] = 0.0
        reference.layers[2].self_attn.out_proj.weight[:, 0:d_head] = 0.0
        expected = reference(ids()).logits
        again = model(ids()).logits
        inspected = model(ids(), ablate_heads=[(1, 2), (2, 0)], return_attention=True).logits
    torch.testing.assert_close(ablated, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(inspected, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(again, ablated)
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    with pytest.raises(ValueError, match="no head"):
        model(ids(), ablate_heads=[(3, 0)])


def test_context_length_is_enforced_with_the_cache() -> None:
    model = small(max_len=12)
    cache = model.new_cache()
    model(ids(10), cache=cache)
    with pytest.raises(ValueError, match="context of 12"):
        model(ids(3), cache=cache)


def test_interleaved_with_permuted_weights_equals_halves() -> None:
    """The GGUF converter permutes W_q/W_k rows so adjacent-pair RoPE equals halves RoPE (llama.cpp's permute)."""
    halves = small(**VARIANTS[1])
    interleaved = small(**dict(VARIANTS[1], rope_pairs="interleaved"))
    state = halves.state_dict()

    def permute(weight: torch.Tensor, heads: int) -> torch.Tensor:  # convert_hf_to_gguf.py, LlamaModel.permute
        return weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)

    for name in list(state):
        if name.endswith("q_proj.weight"):
            state[name] = permute(state[name], 4)
        elif name.endswith("k_proj.weight"):
            state[name] = permute(state[name], 2)
    interleaved.load_state_dict(state)
    with torch.inference_mode():
        torch.testing.assert_close(interleaved(ids()).logits, halves(ids()).logits, atol=1e-5, rtol=1e-5)


def test_unpermute_inverts_the_gguf_permutation() -> None:
    from explorer.readers.gguf_llama import unpermute_rows

    weight = torch.arange(24 * 5, dtype=torch.float32).reshape(24, 5)
    permuted = weight.reshape(3, 2, 4, 5).swapaxes(1, 2).reshape(24, 5)
    assert torch.equal(torch.from_numpy(unpermute_rows(permuted.numpy(), 3)), weight)


# --- RoPE positions (issue 18, item 9 and "holes" item 1) ---------------------------------------------------


def rope_reference_scores(q: torch.Tensor, k: torch.Tensor, q_pos: list[int], k_pos: list[int], base: float = 10000.0) -> torch.Tensor:
    """q_m . k_n after rotating pair i by pos * theta_i, from complex numbers (RoFormer, Eq. 12): an independent oracle."""
    dim = q.shape[-1]
    theta = base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    qc = torch.complex(q[..., 0::2].double(), q[..., 1::2].double())
    kc = torch.complex(k[..., 0::2].double(), k[..., 1::2].double())
    rq = qc * torch.exp(1j * torch.tensor(q_pos, dtype=torch.float64)[:, None] * theta)
    rk = kc * torch.exp(1j * torch.tensor(k_pos, dtype=torch.float64)[:, None] * theta)
    return (rq[:, None, :] * rk[None, :, :].conj()).real.sum(-1)


def test_rope_scores_use_each_tokens_own_position() -> None:
    """Catches reversed or swapped q/k positions: scores must equal the complex-number reference at positions 0..T-1."""
    torch.manual_seed(3)
    attention = MultiHeadAttention(16, 1, rope=True, bias=False).eval()
    x = torch.randn(1, 6, 16)
    q, k, _ = attention.project(x, x)
    expected = rope_reference_scores(attention.q_proj(x)[0], attention.k_proj(x)[0], list(range(6)), list(range(6)))
    torch.testing.assert_close((q[0, 0] @ k[0, 0].T).double(), expected, atol=1e-4, rtol=1e-4)


def test_rope_queries_are_the_last_positions_when_fewer_than_keys() -> None:
    """Issue 18 item 9: with Tq < Tk the queries sit at arange(Tk - Tq, Tk), as the causal mask assumes."""
    torch.manual_seed(4)
    attention = MultiHeadAttention(16, 2, rope=True).eval()
    x = torch.randn(1, 7, 16)
    with torch.inference_mode():
        full, full_weights = attention(x, x, causal=True, need_weights=True)
        tail, tail_weights = attention(x[:, -2:], x, causal=True, need_weights=True)
        tail_fast, _ = attention(x[:, -2:], x, causal=True)
    torch.testing.assert_close(tail, full[:, -2:], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(tail_fast, full[:, -2:], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(tail_weights, full_weights[:, :, -2:], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("pairs", ["interleaved", "halves"])
def test_rope_depends_only_on_the_offset(pairs: str) -> None:
    torch.manual_seed(5)
    q, k = torch.randn(1, 8), torch.randn(1, 8)
    scores = [
        float(apply_rope(q, torch.tensor([m]), pairs=pairs) @ apply_rope(k, torch.tensor([m - 3]), pairs=pairs).T)
        for m in (3, 10, 40)
    ]
    assert scores[0] == pytest.approx(scores[1], abs=1e-4) == pytest.approx(scores[2], abs=1e-4)
    with pytest.raises(ValueError, match="pairs"):
        apply_rope(q, torch.tensor([0]), pairs="diagonal")


# --- the cache object ---------------------------------------------------------------------------------------


def test_layer_cache_grows_and_counts_bytes() -> None:
    cache = LayerCache()
    keys = [torch.randn(1, 3, n, 4) for n in (5, 1, 20)]
    for chunk in keys:
        all_keys, all_values = cache.append(chunk, chunk + 1)
    assert cache.length == 26 and all_keys.shape == (1, 3, 26, 4)
    torch.testing.assert_close(all_keys, torch.cat(keys, dim=2))
    torch.testing.assert_close(all_values, torch.cat(keys, dim=2) + 1)
    assert cache.nbytes == 2 * 3 * 26 * 4 * 4
    whole = KVCache(2)
    assert whole.length == 0 and whole.nbytes == 0
    with pytest.raises(ValueError, match="batch"):
        cache.append(torch.randn(2, 3, 1, 4), torch.randn(2, 3, 1, 4))


def test_config_refuses_impossible_models() -> None:
    with pytest.raises(ValueError, match="norm"):
        LMConfig(norm="batchnorm")
    with pytest.raises(ValueError, match="rope_pairs"):
        LMConfig(positions="rope", rope_pairs="diagonal")
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        LMConfig(n_heads=8, n_kv_heads=3)
    assert math.isclose(LMConfig.from_dict(LMConfig(rope_base=5e4).to_dict()).rope_base, 5e4)
