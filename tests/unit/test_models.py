"""The model core against PyTorch's own implementations and the papers' invariants."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer.models import MultiHeadAttention, Transformer, TransformerConfig, ViT, ViTConfig
from explorer.models.positions import apply_rope, interpolate_pos_embed, sinusoidal_encoding
from explorer.models.reference import copy_attention_into_torch, to_torch_transformer, torch_transformer_logits

torch.manual_seed(0)

SMALL = dict(src_vocab_size=31, tgt_vocab_size=29, d_model=32, n_heads=4, n_encoder_layers=2, n_decoder_layers=2, d_ff=64, dropout=0.0, max_len=40)


def _copy_attention(ours: MultiHeadAttention, ref: nn.MultiheadAttention) -> None:
    """Copy an ``nn.MultiheadAttention``'s weights into ours (the reverse of the library's helper)."""
    q, k, v = ref.in_proj_weight.detach().chunk(3)
    qb, kb, vb = ref.in_proj_bias.detach().chunk(3)
    with torch.no_grad():
        for proj, w, b in ((ours.q_proj, q, qb), (ours.k_proj, k, kb), (ours.v_proj, v, vb), (ours.out_proj, ref.out_proj.weight, ref.out_proj.bias)):
            proj.weight.copy_(w)
            proj.bias.copy_(b)


def _copy_linear_norm(ours: nn.Module, ref: nn.Module, names: list[tuple[str, str]]) -> None:
    ours_params, ref_params = dict(ours.named_parameters()), dict(ref.named_parameters())
    with torch.no_grad():
        for ours_name, ref_name in names:
            for suffix in ("weight", "bias"):
                ours_params[f"{ours_name}.{suffix}"].copy_(ref_params[f"{ref_name}.{suffix}"])


def _batch(config: TransformerConfig, src_len: int = 9, tgt_len: int = 7) -> tuple[torch.Tensor, ...]:
    src = torch.randint(4, config.src_vocab_size, (3, src_len))
    tgt = torch.randint(4, config.tgt_vocab_size, (3, tgt_len))
    src_pad = torch.zeros(3, src_len, dtype=torch.bool)
    src_pad[1, 6:] = True
    src_pad[2, 4:] = True
    tgt_pad = torch.zeros(3, tgt_len, dtype=torch.bool)
    tgt_pad[2, 5:] = True
    return src, tgt, src_pad, tgt_pad


def test_encoder_decoder_matches_torch_nn_transformer() -> None:
    model = Transformer(TransformerConfig(**SMALL))
    ref = to_torch_transformer(model)
    src, tgt, src_pad, tgt_pad = _batch(model.config)
    ours = model(src, tgt, src_pad, tgt_pad).logits
    theirs = torch_transformer_logits(model, ref, src, tgt, src_pad, tgt_pad)
    assert (ours - theirs).abs().max().item() <= 1e-5


def test_pre_ln_gelu_matches_torch_nn_transformer_with_final_norms() -> None:
    model = Transformer(TransformerConfig(**{**SMALL, "norm_first": True, "activation": "gelu"}))
    with torch.no_grad():
        model.encoder.norm.weight.normal_()  # final norms must be carried across, not left at 1
        model.decoder.norm.bias.normal_()
    ref = to_torch_transformer(model)
    src, tgt, src_pad, tgt_pad = _batch(model.config)
    theirs = torch_transformer_logits(model, ref, src, tgt, src_pad, tgt_pad)
    assert (model(src, tgt, src_pad, tgt_pad).logits - theirs).abs().max().item() <= 1e-5


def test_attention_matches_multihead_attention_outputs_and_weights() -> None:
    ref = nn.MultiheadAttention(32, 4, batch_first=True)
    ours = MultiHeadAttention(32, 4)
    _copy_attention(ours, ref)
    x, memory = torch.randn(2, 5, 32), torch.randn(2, 8, 32)
    pad = torch.zeros(2, 8, dtype=torch.bool)
    pad[0, 5:] = True
    out, weights = ours(x, memory, key_padding_mask=pad, need_weights=True)
    ref_out, ref_weights = ref(x, memory, memory, key_padding_mask=pad, need_weights=True, average_attn_weights=True)
    assert (out - ref_out).abs().max().item() <= 1e-5
    assert (weights.mean(dim=1) - ref_weights).abs().max().item() <= 1e-6


def _reference_vit(model: ViT, images: torch.Tensor) -> torch.Tensor:
    """An independent ViT forward: a stride-P convolution and ``nn.TransformerEncoderLayer`` (pre-LN, GELU)."""
    c = model.config
    p = c.patch_size
    conv_weight = model.patch_embed.proj.weight.reshape(c.d_model, c.in_channels, p, p)
    x = F.conv2d(images, conv_weight, model.patch_embed.proj.bias, stride=p).flatten(2).transpose(1, 2)
    x = torch.cat((model.cls_token.expand(len(images), -1, -1), x), dim=1) + model.pos_embed
    for ours in model.layers:
        ref = nn.TransformerEncoderLayer(c.d_model, c.n_heads, c.d_ff, dropout=0.0, activation="gelu", layer_norm_eps=c.layer_norm_eps, batch_first=True, norm_first=True)
        copy_attention_into_torch(ours.self_attn, ref.self_attn)
        _copy_linear_norm(ref, ours, [("linear1", "feed_forward.linear1"), ("linear2", "feed_forward.linear2"), ("norm1", "norm1"), ("norm2", "norm2")])
        x = ref(x)
    return model.head(F.layer_norm(x, (c.d_model,), model.norm.weight, model.norm.bias, c.layer_norm_eps)[:, 0])


def test_vit_matches_independent_reference() -> None:
    model = ViT(ViTConfig(image_size=16, patch_size=4, d_model=32, n_heads=4, n_layers=2, d_ff=64, n_classes=5))
    with torch.no_grad():
        model.pos_embed.normal_(std=0.5)  # make positions matter
    images = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert (model(images).logits - _reference_vit(model, images)).abs().max().item() <= 1e-5


VARIANTS = [
    dict(),
    dict(norm_first=True, activation="gelu"),
    dict(activation="swiglu", positions="rope", n_kv_heads=2),
    dict(positions="learned", n_kv_heads=1, bias=False),
    dict(positions="none", tie_embeddings=True, src_vocab_size=30, tgt_vocab_size=30),
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(f"{k}={x}" for k, x in v.items()) or "paper")
def test_fast_path_equals_inspect_path(variant: dict) -> None:
    model = Transformer(TransformerConfig(**{**SMALL, **variant})).eval()
    src, tgt, src_pad, tgt_pad = _batch(model.config)
    with torch.no_grad():
        fast = model(src, tgt, src_pad, tgt_pad).logits
        inspect = model(src, tgt, src_pad, tgt_pad, return_attention=True)
    assert (fast - inspect.logits).abs().max().item() <= 1e-5
    assert set(inspect.attention) == {"encoder_self", "decoder_self", "decoder_cross"}
    assert inspect.attention["decoder_cross"][0].shape == (3, 4, tgt.shape[1], src.shape[1])


def test_vit_fast_path_equals_inspect_path_and_other_sizes_run() -> None:
    model = ViT(ViTConfig(n_kv_heads=2)).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        fast, inspect = model(images).logits, model(images, return_attention=True)
        larger = model(torch.randn(1, 3, 48, 64), return_attention=True)
    assert (fast - inspect.logits).abs().max().item() <= 1e-5
    assert len(inspect.attention) == 4 and inspect.attention[0].shape == (2, 4, 65, 65)
    assert larger.attention[0].shape == (1, 4, 1 + 12 * 16, 1 + 12 * 16)


def test_attention_rows_sum_to_one_causal_is_lower_triangular_and_padding_gets_zero() -> None:
    model = Transformer(TransformerConfig(**SMALL)).eval()
    src, tgt, src_pad, tgt_pad = _batch(model.config)
    with torch.no_grad():
        maps = model(src, tgt, src_pad, tgt_pad, return_attention=True).attention
    for kind, layers in maps.items():
        for weights in layers:
            assert torch.allclose(weights.sum(-1), torch.ones_like(weights.sum(-1)), atol=1e-5), kind
    for weights in maps["decoder_self"]:
        assert weights.triu(diagonal=1).abs().max().item() == 0.0
        assert weights[2, :, :, 5:].abs().max().item() == 0.0  # padded target keys
    for weights in maps["encoder_self"] + maps["decoder_cross"]:
        assert weights[1, :, :, 6:].abs().max().item() == 0.0 and weights[2, :, :, 4:].abs().max().item() == 0.0


def test_changing_a_later_target_token_leaves_earlier_outputs_unchanged() -> None:
    model = Transformer(TransformerConfig(**SMALL)).eval()
    src, tgt, _, _ = _batch(model.config)
    changed = tgt.clone()
    changed[:, 4] = (changed[:, 4] + 1) % model.config.tgt_vocab_size
    with torch.no_grad():
        before, after = model(src, tgt).logits, model(src, changed).logits
    assert (before[:, :4] - after[:, :4]).abs().max().item() <= 1e-6
    assert (before[:, 4:] - after[:, 4:]).abs().max().item() > 1e-4


def test_fully_masked_rows_give_zeros_not_nan() -> None:
    attn = MultiHeadAttention(16, 2).eval()
    x = torch.randn(2, 3, 16)
    pad = torch.zeros(2, 3, dtype=torch.bool)
    pad[1] = True  # every key of the second example is padding
    for need_weights in (False, True):
        out, weights = attn(x, x, key_padding_mask=pad, need_weights=need_weights)
        assert not torch.isnan(out).any()
        if weights is not None:
            assert not torch.isnan(weights).any() and weights[1].abs().max().item() == 0.0


def test_grouped_query_with_as_many_groups_as_heads_is_multi_head() -> None:
    ref = nn.MultiheadAttention(32, 4, batch_first=True)
    gqa = MultiHeadAttention(32, 4, n_kv_heads=4)
    _copy_attention(gqa, ref)
    x = torch.randn(2, 6, 32)
    assert (gqa(x, x)[0] - ref(x, x, x)[0]).abs().max().item() <= 1e-5


def test_grouped_query_equals_multi_head_with_shared_key_value_heads() -> None:
    gqa = MultiHeadAttention(32, 4, n_kv_heads=2)
    mha = MultiHeadAttention(32, 4)
    d_head = 8
    with torch.no_grad():
        mha.q_proj.load_state_dict(gqa.q_proj.state_dict())
        mha.out_proj.load_state_dict(gqa.out_proj.state_dict())
        for ours, theirs in ((mha.k_proj, gqa.k_proj), (mha.v_proj, gqa.v_proj)):
            w = theirs.weight.view(2, d_head, 32).repeat_interleave(2, dim=0).reshape(32, 32)
            b = theirs.bias.view(2, d_head).repeat_interleave(2, dim=0).reshape(32)
            ours.weight.copy_(w), ours.bias.copy_(b)
    x = torch.randn(2, 6, 32)
    assert (gqa(x, x)[0] - mha(x, x)[0]).abs().max().item() <= 1e-5
    assert gqa.k_proj.weight.shape == (16, 32)  # the point of GQA: fewer key/value parameters


def test_rope_scores_depend_only_on_relative_position() -> None:
    q, k = torch.randn(1, 1, 1, 16), torch.randn(1, 1, 1, 16)

    def score(m: int, n: int) -> float:
        rq = apply_rope(q, torch.tensor([m]))
        rk = apply_rope(k, torch.tensor([n]))
        return float((rq * rk).sum())

    for offset in (0, 1, 5):
        scores = [score(m + offset, m) for m in (0, 3, 17, 40)]
        assert max(scores) - min(scores) < 1e-4
    assert abs(score(5, 0) - score(0, 5)) > 1e-4  # direction matters


def test_sinusoidal_encoding_matches_paper_formula() -> None:
    pe = sinusoidal_encoding(50, 16)
    pos, i = 7, 3
    assert abs(pe[pos, 2 * i].item() - torch.sin(torch.tensor(pos / 10000 ** (2 * i / 16))).item()) < 1e-6
    assert abs(pe[pos, 2 * i + 1].item() - torch.cos(torch.tensor(pos / 10000 ** (2 * i / 16))).item()) < 1e-6


def test_position_embedding_interpolation_to_same_size_is_identity() -> None:
    pos = torch.randn(1, 1 + 64, 32)
    assert torch.equal(interpolate_pos_embed(pos, (8, 8), (8, 8)), pos)
    larger = interpolate_pos_embed(pos, (8, 8), (12, 12))
    assert larger.shape == (1, 1 + 144, 32) and torch.equal(larger[:, 0], pos[:, 0])


def test_patch_embedding_is_the_strided_convolution() -> None:
    model = ViT(ViTConfig())
    images = torch.randn(2, 3, 32, 32)
    weight = model.patch_embed.proj.weight.reshape(64, 3, 4, 4)
    conv = F.conv2d(images, weight, model.patch_embed.proj.bias, stride=4).flatten(2).transpose(1, 2)
    assert (model.patch_embed(images) - conv).abs().max().item() <= 1e-5


INVALID = [
    (TransformerConfig, dict(d_model=30, n_heads=4), "divisible"),
    (TransformerConfig, dict(n_encoder_layers=0), "n_encoder_layers"),
    (TransformerConfig, dict(n_decoder_layers=-1), "n_decoder_layers"),
    (TransformerConfig, dict(d_model=-8), "d_model"),
    (TransformerConfig, dict(n_heads=8, n_kv_heads=3), "n_kv_heads"),
    (TransformerConfig, dict(activation="tanh"), "activation"),
    (TransformerConfig, dict(positions="alibi"), "positions"),
    (TransformerConfig, dict(dropout=1.5), "dropout"),
    (TransformerConfig, dict(tie_embeddings=True, src_vocab_size=10, tgt_vocab_size=12), "tie_embeddings"),
    (TransformerConfig, dict(d_model=24, n_heads=8, positions="rope"), "even head size"),
    (ViTConfig, dict(image_size=30, patch_size=4), "divide"),
    (ViTConfig, dict(n_layers=0), "n_layers"),
    (ViTConfig, dict(patch_size=-4), "patch_size"),
    (ViTConfig, dict(d_model=60, n_heads=8), "divisible"),
    (ViTConfig, dict(image_size=0), "image_size"),
]


@pytest.mark.parametrize(("cls", "kwargs", "words"), INVALID, ids=[f"{c.__name__}-{w}" for c, _, w in INVALID])
def test_invalid_configs_say_what_to_change(cls: type, kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        cls(**kwargs)


def test_configs_round_trip_through_dicts() -> None:
    for config in (TransformerConfig(**SMALL), ViTConfig(n_kv_heads=2)):
        assert type(config).from_dict({**config.to_dict(), "unknown": 1}) == config


def test_too_long_input_is_refused_with_a_message() -> None:
    model = Transformer(TransformerConfig(**SMALL))
    with pytest.raises(ValueError, match="max_len"):
        model(torch.ones(1, 41, dtype=torch.long), torch.ones(1, 3, dtype=torch.long))


@pytest.mark.parametrize("norm_first,activation", list(itertools.product([False, True], ["relu", "gelu"])))
def test_encoder_layer_matches_torch_encoder_layer(norm_first: bool, activation: str) -> None:
    from explorer.models.blocks import EncoderLayer, LayerSpec

    ours = EncoderLayer(LayerSpec(32, 4, 64, activation=activation, norm_first=norm_first))
    ref = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first)
    _copy_attention(ours.self_attn, ref.self_attn)
    _copy_linear_norm(ours, ref, [("feed_forward.linear1", "linear1"), ("feed_forward.linear2", "linear2"), ("norm1", "norm1"), ("norm2", "norm2")])
    x = torch.randn(2, 5, 32)
    assert (ours(x) - ref(x)).abs().max().item() <= 1e-5
