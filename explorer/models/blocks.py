"""The building blocks shared by both models: feed-forward networks and encoder/decoder layers.

Vaswani et al. 2017, Section 3.1: every sub-layer is wrapped as LayerNorm(x + Sublayer(x))
("post-LN"). The ViT paper (Eq. 2-3) and most modern models use x + Sublayer(LayerNorm(x))
("pre-LN"), which trains without warm-up; ``norm_first`` picks one. The ViT block is the
encoder layer with ``norm_first=True`` and a GELU MLP, as in timm's ``Block``.

``parallel`` is PaLM's layer (Chowdhery et al. 2022, Section 2, after GPT-J): attention and
the MLP read the same normalised input and are summed, y = x + MLP(LN(x)) + Attn(LN(x)), so
the two input projections could be fused into one matrix product; one LayerNorm serves both.
In the decoder the last attention (cross-attention) runs in parallel with the MLP, so each
sub-layer still reads what the masked self-attention wrote. Post-LN parallel layers compute
y = LN(x + Attn(x) + MLP(x)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from explorer.models.attention import MultiHeadAttention
from explorer.models.records import LayerRecord

if TYPE_CHECKING:
    from explorer.models.config import TransformerConfig, ViTConfig


class FeedForward(nn.Module):
    """Position-wise feed-forward network (Section 3.3): FFN(x) = act(x W1 + b1) W2 + b2.

    ``activation="swiglu"`` is Shazeer 2020's gated variant used by PaLM:
    (SiLU(x W1) * x W3) W2, with a third matrix ``gate``.
    """

    def __init__(self, d_model: int, d_ff: int, activation: str = "relu", dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.activation = activation
        self.linear1 = nn.Linear(d_model, d_ff, bias=bias)
        self.gate = nn.Linear(d_model, d_ff, bias=bias) if activation == "swiglu" else None
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.linear1(x)
        if self.gate is not None:
            hidden = F.silu(hidden) * self.gate(x)
        elif self.activation == "gelu":
            hidden = F.gelu(hidden)
        else:
            hidden = F.relu(hidden)
        return self.linear2(self.dropout(hidden))


@dataclass(frozen=True)
class LayerSpec:
    """What an encoder or decoder layer is built from: the sizes of Section 3 and the switches."""

    d_model: int
    n_heads: int
    d_ff: int
    n_kv_heads: int | None = None
    dropout: float = 0.0
    activation: str = "relu"
    norm_first: bool = False
    bias: bool = True
    layer_norm_eps: float = 1e-5
    rope: bool = False
    parallel: bool = False

    @classmethod
    def of(cls, config: TransformerConfig | ViTConfig) -> LayerSpec:
        """The layer a TransformerConfig or ViTConfig describes."""
        return cls(
            config.d_model, config.n_heads, config.d_ff, config.n_kv_heads, config.dropout, config.activation,
            config.norm_first, config.bias, config.layer_norm_eps,
            rope=getattr(config, "positions", None) == "rope", parallel=bool(getattr(config, "parallel", False)),
        )


def _attention(spec: LayerSpec, rope: bool) -> MultiHeadAttention:
    return MultiHeadAttention(spec.d_model, spec.n_heads, spec.n_kv_heads, spec.dropout, spec.bias, rope=rope)


class _Residual(nn.Module):
    """Shared add & norm logic for pre-LN and post-LN sub-layers."""

    norm_first: bool

    def _sublayer(
        self, x: torch.Tensor, norm: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor], dropout: nn.Dropout
    ) -> torch.Tensor:
        if self.norm_first:
            return x + dropout(fn(norm(x)))
        return norm(x + dropout(fn(x)))

    def _parallel(
        self,
        x: torch.Tensor,
        norm: nn.Module,
        attend: Callable[[torch.Tensor], torch.Tensor],
        mlp: Callable[[torch.Tensor], torch.Tensor],
        dropouts: tuple[nn.Dropout, nn.Dropout],
    ) -> torch.Tensor:
        """PaLM's parallel sub-layer: attention and MLP read the same input and are summed."""
        if self.norm_first:
            h = norm(x)
            return x + dropouts[0](attend(h)) + dropouts[1](mlp(h))
        return norm(x + dropouts[0](attend(x)) + dropouts[1](mlp(x)))


class EncoderLayer(_Residual):
    """Self-attention then feed-forward, each with a residual connection and LayerNorm."""

    def __init__(self, spec: LayerSpec) -> None:
        super().__init__()
        self.norm_first = spec.norm_first
        self.parallel = spec.parallel
        self.self_attn = _attention(spec, spec.rope)
        self.feed_forward = FeedForward(spec.d_model, spec.d_ff, spec.activation, spec.dropout, spec.bias)
        self.norm1 = nn.LayerNorm(spec.d_model, eps=spec.layer_norm_eps)
        self.norm2 = None if spec.parallel else nn.LayerNorm(spec.d_model, eps=spec.layer_norm_eps)  # parallel: norm1 serves both
        self.dropout1 = nn.Dropout(spec.dropout)
        self.dropout2 = nn.Dropout(spec.dropout)

    def forward(
        self,
        x: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
        record: LayerRecord | None = None,
    ) -> torch.Tensor:
        """``record``, when given, receives the attention weights and the attention's input."""

        def attend(h: torch.Tensor) -> torch.Tensor:
            out, weights = self.self_attn(h, h, key_padding_mask=key_padding_mask, need_weights=need_weights)
            if record is not None:
                record.self_attn.capture(weights, h, h)
            return out

        if self.norm2 is None:
            return self._parallel(x, self.norm1, attend, self.feed_forward, (self.dropout1, self.dropout2))
        x = self._sublayer(x, self.norm1, attend, self.dropout1)
        return self._sublayer(x, self.norm2, self.feed_forward, self.dropout2)


class DecoderLayer(_Residual):
    """Masked self-attention, cross-attention over the encoder output, then feed-forward (Section 3.1)."""

    def __init__(self, spec: LayerSpec) -> None:
        super().__init__()
        self.norm_first = spec.norm_first
        self.parallel = spec.parallel
        self.self_attn = _attention(spec, spec.rope)
        # Queries come from the decoder, keys/values from the encoder: relative positions across the
        # two sequences mean nothing, so rotary positions are never applied here.
        self.cross_attn = _attention(spec, rope=False)
        self.feed_forward = FeedForward(spec.d_model, spec.d_ff, spec.activation, spec.dropout, spec.bias)
        self.norm1 = nn.LayerNorm(spec.d_model, eps=spec.layer_norm_eps)
        self.norm2 = nn.LayerNorm(spec.d_model, eps=spec.layer_norm_eps)
        self.norm3 = None if spec.parallel else nn.LayerNorm(spec.d_model, eps=spec.layer_norm_eps)  # parallel: norm2 serves both
        self.dropout1 = nn.Dropout(spec.dropout)
        self.dropout2 = nn.Dropout(spec.dropout)
        self.dropout3 = nn.Dropout(spec.dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        tgt_key_padding_mask: torch.Tensor | None = None,
        memory_key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
        record: LayerRecord | None = None,
    ) -> torch.Tensor:
        def self_attend(h: torch.Tensor) -> torch.Tensor:
            out, weights = self.self_attn(h, h, key_padding_mask=tgt_key_padding_mask, causal=True, need_weights=need_weights)
            if record is not None:
                record.self_attn.capture(weights, h, h)
            return out

        def cross_attend(h: torch.Tensor) -> torch.Tensor:
            out, weights = self.cross_attn(h, memory, key_padding_mask=memory_key_padding_mask, need_weights=need_weights)
            if record is not None:
                record.cross_attn.capture(weights, h, memory)
            return out

        x = self._sublayer(x, self.norm1, self_attend, self.dropout1)
        if self.norm3 is None:
            return self._parallel(x, self.norm2, cross_attend, self.feed_forward, (self.dropout2, self.dropout3))
        x = self._sublayer(x, self.norm2, cross_attend, self.dropout2)
        return self._sublayer(x, self.norm3, self.feed_forward, self.dropout3)
