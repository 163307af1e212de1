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
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from explorer.models.positions import ROPE_PAIRS, rope_cos_sin, rotate_pairs


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


class LayerCache:
    """Keys and values one attention layer has already computed (after RoPE, before the GQA repeat).

    Generating token t+1 needs the keys and values of tokens 0..t; recomputing them would
    redo the whole prompt's projections at every step. The cache keeps them, so a new token
    costs one position of projections plus one row of attention (the "KV cache" of
    Pope et al. 2022, "Efficiently Scaling Transformer Inference", Section 2). The buffers
    grow by doubling, so appending is amortised O(1) copies per position.
    """

    def __init__(self) -> None:
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None
        self.length = 0

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add (B, h_kv, T_new, hs) keys and values; return all cached ones as views (B, h_kv, T, hs)."""
        new = keys.shape[2]
        end = self.length + new
        if self._keys is None or end > self._keys.shape[2] or self._keys.shape[:2] != keys.shape[:2]:
            if self._keys is not None and self._keys.shape[:2] != keys.shape[:2]:
                raise ValueError("a cache holds one batch: its batch size and heads cannot change between calls")
            capacity = max(end, 2 * (self._keys.shape[2] if self._keys is not None else 0), 16)
            grown_k = keys.new_empty(*keys.shape[:2], capacity, keys.shape[3])
            grown_v = values.new_empty(*values.shape[:2], capacity, values.shape[3])
            if self._keys is not None and self._values is not None and self.length:
                grown_k[:, :, : self.length] = self._keys[:, :, : self.length]
                grown_v[:, :, : self.length] = self._values[:, :, : self.length]
            self._keys, self._values = grown_k, grown_v
        assert self._values is not None
        self._keys[:, :, self.length : end] = keys
        self._values[:, :, self.length : end] = values
        self.length = end
        return self._keys[:, :, :end], self._values[:, :, :end]

    @property
    def nbytes(self) -> int:
        """Bytes of the cached keys and values (the positions filled, not the spare capacity)."""
        if self._keys is None:
            return 0
        per_position = self._keys[:, :, :1].numel() * self._keys.element_size()
        return 2 * per_position * self.length


class KVCache:
    """One ``LayerCache`` per layer: the object a caller passes to successive forward calls."""

    def __init__(self, n_layers: int) -> None:
        self.layers = [LayerCache() for _ in range(n_layers)]

    def __getitem__(self, index: int) -> LayerCache:
        return self.layers[index]

    @property
    def length(self) -> int:
        """Positions already cached (the position of the next token)."""
        return self.layers[0].length if self.layers else 0

    @property
    def nbytes(self) -> int:
        return sum(layer.nbytes for layer in self.layers)


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
        rope_pairs: str = "interleaved",
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
        if rope_pairs not in ROPE_PAIRS:
            raise ValueError(f"rope_pairs must be one of {', '.join(ROPE_PAIRS)}; got {rope_pairs!r}")
        self.rope_pairs = rope_pairs
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, n_heads * self.d_head, bias=bias)
        self.k_proj = nn.Linear(d_model, self.n_kv_heads * self.d_head, bias=bias)
        self.v_proj = nn.Linear(d_model, self.n_kv_heads * self.d_head, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)

    def _split_heads(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, heads, self.d_head).transpose(1, 2)  # (B, h, T, hs)

    def project_grouped(
        self, x_q: torch.Tensor, x_kv: torch.Tensor, cache: LayerCache | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q (B, nh, Tq, hs) and K, V (B, n_kv, Tk, hs), rotated, with the cached positions in front.

        Positions: the new keys sit after the ``cache.length`` cached ones, and the Tq queries are
        the LAST Tq of the Tk keys (arange(Tk - Tq, Tk)), which is what the causal mask assumes too.
        """
        q = self._split_heads(self.q_proj(x_q), self.n_heads)  # (B, nh, Tq, hs)
        k = self._split_heads(self.k_proj(x_kv), self.n_kv_heads)  # (B, nkv, Tk_new, hs)
        v = self._split_heads(self.v_proj(x_kv), self.n_kv_heads)
        offset = cache.length if cache is not None else 0
        if self.rope:
            n_keys = offset + k.shape[2]
            q = rotate_pairs(q, *rope_cos_sin(n_keys - q.shape[2], n_keys, self.d_head, self.rope_base), self.rope_pairs)
            k = rotate_pairs(k, *rope_cos_sin(offset, n_keys, self.d_head, self.rope_base), self.rope_pairs)
        if cache is not None:
            k, v = cache.append(k, v)
        return q, k, v

    def project(self, x_q: torch.Tensor, x_kv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q, K, V per head, (B, nh, T, hs) each; K and V repeated to nh heads for MQA/GQA; RoPE applied."""
        q, k, v = self.project_grouped(x_q, x_kv)
        group = self.n_heads // self.n_kv_heads
        if group > 1:
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
        return q, k, v

    def _explicit(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every step of Eq. 1 as its own tensor; a key/value head is shared by its group of query heads
        through a view (no copy), as Hugging Face's ``repeat_kv`` does with ``expand``."""
        batch, n_heads, n_queries, d_head = q.shape
        group = n_heads // k.shape[1]
        # Scaling the queries before the product equals scaling the scores (Eq. 1) and touches Tq x d_head
        # numbers instead of Tq x Tk.
        q_grouped = q.view(batch, k.shape[1], group, n_queries, d_head) * (1.0 / math.sqrt(self.d_head))
        scores = q_grouped @ k[:, :, None].transpose(-2, -1)  # (B, nkv, g, Tq, Tk)
        scores = scores.view(batch, n_heads, n_queries, k.shape[2])
        weights = softmax_with_mask(scores, keep)
        mixed = self.attn_dropout(weights).view(batch, k.shape[1], group, n_queries, k.shape[2])
        context = (mixed @ v[:, :, None]).view(batch, n_heads, n_queries, d_head)
        return context, weights

    def forward(
        self,
        x_q: torch.Tensor,
        x_kv: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        causal: bool = False,
        need_weights: bool = False,
        cache: LayerCache | None = None,
        ablate_heads: Sequence[int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``x_q`` (B, Tq, D) to ``x_kv`` (B, Tk, D) (plus the cached keys, if any).

        Returns the output (B, Tq, D) and, if ``need_weights``, the weights (B, nh, Tq, Tk)
        after the softmax (before attention dropout, as ``nn.MultiheadAttention`` reports them).
        ``key_padding_mask`` covers every key, cached ones included. ``ablate_heads`` zeroes
        those heads' outputs before the output projection, for this call only (Michel et al.
        2019, "Are Sixteen Heads Really Better than One?", Section 2).
        """
        batch, n_queries, _ = x_q.shape
        q, k, v = self.project_grouped(x_q, x_kv, cache)
        n_keys = k.shape[2]
        weights: torch.Tensor | None = None
        dropout_p = self.dropout if self.training else 0.0
        gqa = self.n_heads != self.n_kv_heads
        if need_weights:
            keep = build_keep_mask(batch, n_queries, n_keys, key_padding_mask, causal, x_q.device)
            context, weights = self._explicit(q, k, v, keep)
        elif causal and key_padding_mask is None and n_queries in (1, n_keys):
            # Fast path, causal self-attention: the fused kernel builds the triangle itself; a single
            # newest query sees every key, so it needs no mask at all.
            context = F.scaled_dot_product_attention(
                q, k, v, is_causal=n_queries > 1, dropout_p=dropout_p, enable_gqa=gqa
            )
        else:
            # Fast path: one fused kernel; same maths.
            keep = build_keep_mask(batch, n_queries, n_keys, key_padding_mask, causal, x_q.device)
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=dropout_p, enable_gqa=gqa)
            if keep is not None:
                context = zero_dead_rows(context, keep)
        if ablate_heads:
            alive = torch.ones(self.n_heads, 1, 1, dtype=context.dtype, device=context.device)
            alive[list(ablate_heads)] = 0.0
            context = context * alive
        context = context.transpose(1, 2).reshape(batch, n_queries, self.n_heads * self.d_head)
        return self.out_proj(context), weights
