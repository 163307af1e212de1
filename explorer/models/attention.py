"""Multi-head scaled dot-product attention, with an explicit path you can look at.

Vaswani et al. 2017, Section 3.2: Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V, run in
``n_heads`` heads in parallel (Section 3.2.2). Multi-query (Shazeer 2019) and grouped-query
(Ainslie et al. 2023) attention share each key/value head between ``n_heads / n_kv_heads``
query heads: the switch ``n_kv_heads``.

Like nanoGPT's ``CausalSelfAttention``, ``forward`` has two paths side by side:
the fast fused ``F.scaled_dot_product_attention`` when nobody needs the weights, and the
explicit softmax when they are asked for. Tests check that both give the same output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from explorer.models.positions import apply_rope


def build_keep_mask(
    batch: int,
    n_queries: int,
    n_keys: int,
    key_padding_mask: torch.Tensor | None,
    causal: bool,
    device: torch.device,
) -> torch.Tensor | None:
    """Boolean mask (B or 1, 1, Tq, Tk), True where a query may attend to a key; None = all allowed.

    ``key_padding_mask`` follows ``torch.nn.Transformer``: (B, Tk) bool, True marks padding.
    The causal mask hides keys after the query (Section 3.2.3, "preventing leftward information flow").
    """
    keep: torch.Tensor | None = None
    if causal:
        keep = torch.ones(n_queries, n_keys, dtype=torch.bool, device=device).tril(diagonal=n_keys - n_queries)
        keep = keep[None, None]
    if key_padding_mask is not None:
        if key_padding_mask.shape != (batch, n_keys):
            raise ValueError(f"key_padding_mask must be (batch, keys) = {(batch, n_keys)}, got {tuple(key_padding_mask.shape)}")
        not_pad = ~key_padding_mask.to(torch.bool)[:, None, None, :]
        keep = not_pad if keep is None else keep & not_pad
    return keep


def softmax_with_mask(scores: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """Softmax over keys after filling hidden scores with -inf (not 0: exp(0) = 1 would leak).

    A row whose keys are all hidden would be 0/0 = NaN; it gets all-zero weights instead.
    """
    if keep is None:
        return torch.softmax(scores, dim=-1)
    scores = scores.masked_fill(~keep, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return zero_dead_rows(weights, keep)


def zero_dead_rows(values: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Zero the query rows that may attend to no key at all (softmax over only -inf is NaN)."""
    dead = ~keep.any(dim=-1, keepdim=True)
    return values.masked_fill(dead, 0.0) if bool(dead.any()) else values


class MultiHeadAttention(nn.Module):
    """Multi-head (or multi-query / grouped-query) attention with optional rotary positions."""

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_kv_heads: int | None = None,
        dropout: float = 0.0,
        bias: bool = True,
        rope: bool = False,
        rope_base: float = 10000.0,
    ) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads or n_heads
        if n_heads % self.n_kv_heads != 0:
            raise ValueError(f"n_heads ({n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})")
        self.d_head = d_model // n_heads
        self.rope = rope
        self.rope_base = rope_base
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, n_heads * self.d_head, bias=bias)
        self.k_proj = nn.Linear(d_model, self.n_kv_heads * self.d_head, bias=bias)
        self.v_proj = nn.Linear(d_model, self.n_kv_heads * self.d_head, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)

    def _split_heads(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, heads, self.d_head).transpose(1, 2)  # (B, h, T, hs)

    def project(self, x_q: torch.Tensor, x_kv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q, K, V per head, (B, nh, T, hs) each; K and V repeated to nh heads for MQA/GQA; RoPE applied."""
        q = self._split_heads(self.q_proj(x_q), self.n_heads)  # (B, nh, Tq, hs)
        k = self._split_heads(self.k_proj(x_kv), self.n_kv_heads)  # (B, nkv, Tk, hs)
        v = self._split_heads(self.v_proj(x_kv), self.n_kv_heads)
        if self.rope:
            q = apply_rope(q, torch.arange(q.shape[2], device=q.device), self.rope_base)
            k = apply_rope(k, torch.arange(k.shape[2], device=k.device), self.rope_base)
        group = self.n_heads // self.n_kv_heads
        if group > 1:
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
        return q, k, v

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``x_q`` (B, Tq, D) to ``x_kv`` (B, Tk, D).

        Returns the output (B, Tq, D) and, if ``need_weights``, the weights (B, nh, Tq, Tk)
        after the softmax (before attention dropout, as ``nn.MultiheadAttention`` reports them).
        """
        batch, n_queries, _ = x_q.shape
        n_keys = x_kv.shape[1]
        q, k, v = self.project(x_q, x_kv)
        weights: torch.Tensor | None = None
        dropout_p = self.dropout if self.training else 0.0
        plain_causal = causal and key_padding_mask is None and n_queries == n_keys
        if need_weights:
            # Explicit path: every step of Eq. 1 as its own tensor.
            keep = build_keep_mask(batch, n_queries, n_keys, key_padding_mask, causal, x_q.device)
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.d_head)  # (B, nh, Tq, Tk)
            weights = softmax_with_mask(scores, keep)
            context = self.attn_dropout(weights) @ v  # (B, nh, Tq, hs)
        elif plain_causal:
            # Fast path, causal self-attention: the fused kernel builds the triangle itself.
            context = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout_p)
        else:
            # Fast path: one fused kernel; same maths.
            keep = build_keep_mask(batch, n_queries, n_keys, key_padding_mask, causal, x_q.device)
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=dropout_p)
            if keep is not None:
                context = zero_dead_rows(context, keep)
        context = context.transpose(1, 2).reshape(batch, n_queries, self.n_heads * self.d_head)
        return self.out_proj(context), weights
