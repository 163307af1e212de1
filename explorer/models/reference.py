"""PyTorch's own modules carrying our weights: the oracles the from-scratch code is checked against.

``torch.nn.Transformer`` implements the same paper, so with our weights copied in it must
produce the same numbers (tests) and it is the speed baseline (bench). Only the original
configuration maps across: post-LN or pre-LN, ReLU or GELU, multi-head attention with biases.
"""

from __future__ import annotations

import warnings
from typing import cast

import torch
from torch import nn

from explorer.models.attention import MultiHeadAttention
from explorer.models.transformer import Transformer


def copy_attention_into_torch(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    """Pack our separate q/k/v projections into ``nn.MultiheadAttention``'s ``in_proj``."""
    if ours.n_kv_heads != ours.n_heads:
        raise ValueError("nn.MultiheadAttention has no grouped-query attention; use n_kv_heads=None")
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        theirs.out_proj.weight.copy_(ours.out_proj.weight)
        theirs.out_proj.bias.copy_(ours.out_proj.bias)


def _copy_params(ours: nn.Module, theirs: nn.Module, pairs: list[tuple[str, str]]) -> None:
    ours_params, their_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    with torch.no_grad():
        for ours_name, their_name in pairs:
            for suffix in ("weight", "bias"):
                their_params[f"{their_name}.{suffix}"].copy_(ours_params[f"{ours_name}.{suffix}"])


_SHARED = [("feed_forward.linear1", "linear1"), ("feed_forward.linear2", "linear2"), ("norm1", "norm1"), ("norm2", "norm2")]


def to_torch_transformer(model: Transformer) -> nn.Transformer:
    """An ``nn.Transformer`` (batch_first, dropout 0) with ``model``'s encoder and decoder weights.

    The paper's post-LN stacks end without a final LayerNorm, while ``nn.Transformer`` always adds
    one; it is removed for post-LN so both compute the same function.
    """
    c = model.config
    if c.activation == "swiglu" or not c.bias or c.n_kv_heads not in (None, c.n_heads):
        raise ValueError("only the original architecture (ReLU/GELU, biases, multi-head) maps onto nn.Transformer")
    with warnings.catch_warnings():
        # nn.Transformer builds its encoder with enable_nested_tensor=True and then warns that pre-LN
        # cannot use it; the oracle runs dense tensors either way, so the warning is noise here.
        warnings.filterwarnings("ignore", message="enable_nested_tensor is True", category=UserWarning)
        ref = nn.Transformer(
            d_model=c.d_model, nhead=c.n_heads, num_encoder_layers=c.n_encoder_layers, num_decoder_layers=c.n_decoder_layers,
            dim_feedforward=c.d_ff, dropout=0.0, activation=c.activation, layer_norm_eps=c.layer_norm_eps,
            batch_first=True, norm_first=c.norm_first,
        )
    if c.norm_first:
        _copy_params(model.encoder, ref.encoder, [("norm", "norm")])
        _copy_params(model.decoder, ref.decoder, [("norm", "norm")])
    else:
        ref.encoder.norm = None
        ref.decoder.norm = None
    for ours, theirs in zip(model.encoder.layers, ref.encoder.layers):
        copy_attention_into_torch(cast(MultiHeadAttention, ours.self_attn), theirs.self_attn)
        _copy_params(ours, theirs, _SHARED)
    for ours, theirs in zip(model.decoder.layers, ref.decoder.layers):
        copy_attention_into_torch(cast(MultiHeadAttention, ours.self_attn), theirs.self_attn)
        copy_attention_into_torch(cast(MultiHeadAttention, ours.cross_attn), theirs.multihead_attn)
        _copy_params(ours, theirs, _SHARED + [("norm3", "norm3")])
    return ref


def torch_transformer_logits(
    model: Transformer,
    ref: nn.Transformer,
    src: torch.Tensor,
    tgt: torch.Tensor,
    src_key_padding_mask: torch.Tensor | None = None,
    tgt_key_padding_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Logits from ``ref`` fed with ``model``'s embeddings and read out by ``model``'s generator."""
    causal = torch.ones(tgt.shape[1], tgt.shape[1], dtype=torch.bool, device=tgt.device).triu(diagonal=1)
    hidden = ref(
        model.src_embed(src), model.tgt_embed(tgt), tgt_mask=causal, src_key_padding_mask=src_key_padding_mask,
        tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=src_key_padding_mask,
    )
    return model.generator(hidden)
