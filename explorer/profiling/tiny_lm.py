"""A tiny decoder-only language model with a KV cache: the two-phase profiler's test subject.

It is built from the explorer's own ``MultiHeadAttention`` projections and ``FeedForward``
(pre-LN, causal), with a per-layer key/value cache as in nanoGPT-style generation code: the
prefill computes K and V for the whole prompt once; each decode step computes them for one
new token and attends to the cache (Pope et al. 2022, "Efficiently Scaling Transformer
Inference", Section 2: prefill is compute-bound, decode reads the weights and the cache per token).
Its FLOPs have a closed form (:func:`prefill_flops`, :func:`decode_flops`) that tests compare
with the counted ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from explorer.models.attention import MultiHeadAttention
from explorer.models.blocks import FeedForward


@dataclass(frozen=True)
class TinyLMConfig:
    vocab_size: int = 64
    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 64
    max_len: int = 512


class CachedSelfAttention(MultiHeadAttention):
    """Causal self-attention that appends this call's keys and values to a cache (B, h, T, hs)."""

    def forward_cached(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None, need_weights: bool = False
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor | None]:
        batch, n_new, _ = x.shape
        q = self._split_heads(self.q_proj(x), self.n_heads)  # (B, h, Tnew, hs)
        k = self._split_heads(self.k_proj(x), self.n_kv_heads)
        v = self._split_heads(self.v_proj(x), self.n_kv_heads)
        if cache is not None:
            k = torch.cat((cache[0], k), dim=2)  # (B, h, Tpast + Tnew, hs)
            v = torch.cat((cache[1], v), dim=2)
        n_keys = k.shape[2]
        weights = None
        if need_weights:
            scores = (q @ k.transpose(-2, -1)) / self.d_head**0.5
            keep = torch.ones(n_new, n_keys, dtype=torch.bool, device=x.device).tril(diagonal=n_keys - n_new)
            weights = torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)
            context = weights @ v
        elif n_new == n_keys:
            context = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # one new query sees every cached key: no mask needed
            context = F.scaled_dot_product_attention(q, k, v)
        context = context.transpose(1, 2).reshape(batch, n_new, self.n_heads * self.d_head)
        return self.out_proj(context), (k, v), weights

    def forward(self, x, cache=None, need_weights=False):  # type: ignore[override]
        return self.forward_cached(x, cache, need_weights)


class TinyBlock(nn.Module):
    def __init__(self, cfg: TinyLMConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.self_attn = CachedSelfAttention(cfg.d_model, cfg.n_heads, bias=False)
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.mlp = FeedForward(cfg.d_model, cfg.d_ff, activation="gelu", bias=False)

    def forward(self, x, cache=None, need_weights=False):
        out, cache, weights = self.self_attn(self.norm1(x), cache, need_weights)
        x = x + out
        return x + self.mlp(self.norm2(x)), cache, weights


class TinyLM(nn.Module):
    """Embedding -> pre-LN causal blocks -> final norm -> unembedding (an ``lm_head`` Linear)."""

    def __init__(self, cfg: TinyLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.positions = nn.Embedding(cfg.max_len, cfg.d_model)
        self.layers = nn.ModuleList(TinyBlock(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def forward(self, ids, cache=None, need_weights=False):
        """ids (B, Tnew); cache: list per layer of (K, V) or None. Returns logits (B, Tnew, V) and the new cache."""
        past = 0 if cache is None else cache[0][0].shape[2]
        if past + ids.shape[1] > self.cfg.max_len:
            raise ValueError(f"{past + ids.shape[1]} tokens is longer than this model's context of {self.cfg.max_len}; shorten the input")
        pos = torch.arange(past, past + ids.shape[1], device=ids.device)
        x = self.embed(ids) + self.positions(pos)[None]
        new_cache = []
        for i, layer in enumerate(self.layers):
            x, layer_cache, _ = layer(x, None if cache is None else cache[i], need_weights)
            new_cache.append(layer_cache)
        return self.lm_head(self.norm(x)), new_cache


def build_tiny_lm(cfg: TinyLMConfig | None = None, seed: int = 0) -> TinyLM:
    torch.manual_seed(seed)
    model = TinyLM(cfg or TinyLMConfig()).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def prefill_flops(cfg: TinyLMConfig, batch: int, prompt: int) -> int:
    """Matmul FLOPs of the prefill: per layer 4 projections + Q K^T and weights x V over the full T x T
    (the counter, like the fused kernel's cost model, counts the masked half too) + the MLP; then the unembedding."""
    d, t = cfg.d_model, prompt
    per_layer = 2 * t * 4 * d * d + 2 * 2 * t * t * d + 2 * t * 2 * d * cfg.d_ff
    return batch * (cfg.n_layers * per_layer + 2 * t * d * cfg.vocab_size)


def decode_flops(cfg: TinyLMConfig, batch: int, prompt: int, new_tokens: int) -> int:
    """Matmul FLOPs of ``new_tokens`` decode steps; step i attends to prompt + i + 1 keys."""
    d = cfg.d_model
    total = 0
    for i in range(new_tokens):
        keys = prompt + i + 1
        per_layer = 2 * 4 * d * d + 2 * 2 * keys * d + 2 * 2 * d * cfg.d_ff
        total += cfg.n_layers * per_layer + 2 * d * cfg.vocab_size
    return batch * total
