"""A decoder-only language model: the GPT of Radford et al. 2018 and the Llama of Touvron et al. 2023.

One stack of causal self-attention blocks over token embeddings, then a linear map to the
vocabulary. The config switches are exactly the changes that turned the 2017 decoder into
today's small LLMs (Touvron et al. 2023, Section 2.2; Chowdhery et al. 2022, "PaLM", Section 2):

* ``norm="rmsnorm"`` (Zhang & Sennrich 2019) instead of LayerNorm, applied before each sub-layer
  (``norm_first``, Xiong et al. 2020) with a final norm before the output layer;
* ``activation="swiglu"`` (Shazeer 2020) instead of ReLU;
* ``positions="rope"`` (Su et al. 2021) with a configurable ``rope_base`` and pair layout
  (``rope_pairs``) instead of added sinusoids;
* grouped-query attention (``n_kv_heads``, Ainslie et al. 2023), no biases, tied input/output
  embeddings (Press & Wolf 2017).

The defaults are the original paper's decoder (Vaswani et al. 2017: post-LN, ReLU, sinusoidal
positions, embeddings scaled by sqrt(d_model)). ``forward`` returns the logits and, on request,
every attention map (batch, heads, queries, keys) and the residual stream after each layer (the
"logit lens" reads it). A ``KVCache`` passed in makes each generated token cost one position of
work; ``ablate_heads`` zeroes chosen heads for that call only, never touching the module.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from explorer.models.attention import KVCache, MultiHeadAttention
from explorer.models.blocks import FeedForward, _Residual
from explorer.models.config import (
    ACTIVATIONS,
    MAX_D_MODEL,
    MAX_LAYERS,
    MAX_LEN,
    TEXT_POSITIONS,
    _check_choice,
    _check_dropout,
    _check_eps,
    _check_heads,
    _ConfigMixin,
    _positive,
)
from explorer.models.positions import ROPE_PAIRS, sinusoidal_encoding
from explorer.models.records import LayerRecord

NORMS = ("layernorm", "rmsnorm")


@dataclass(frozen=True)
class LMConfig(_ConfigMixin):
    """A decoder-only language model. Defaults: the paper's decoder, GPT-style (see the module docstring)."""

    vocab_size: int = 256
    d_model: int = 512
    n_heads: int = 8
    n_kv_heads: int | None = None
    n_layers: int = 6
    d_ff: int = 2048
    dropout: float = 0.1
    max_len: int = 512
    norm: str = "layernorm"
    norm_first: bool = False
    activation: str = "relu"
    positions: str = "sinusoidal"
    rope_base: float = 10000.0
    rope_pairs: str = "interleaved"
    bias: bool = True
    tie_embeddings: bool = False
    scale_embeddings: bool = True
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        _positive("vocab_size", self.vocab_size, 1_000_000)
        _positive("d_model", self.d_model, MAX_D_MODEL)
        _check_heads(self.d_model, self.n_heads, self.n_kv_heads)
        _positive("n_layers", self.n_layers, MAX_LAYERS)
        _positive("d_ff", self.d_ff, 4 * MAX_D_MODEL)
        _positive("max_len", self.max_len, MAX_LEN)
        _check_dropout(self.dropout)
        _check_choice("norm", self.norm, NORMS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("positions", self.positions, TEXT_POSITIONS)
        _check_choice("rope_pairs", self.rope_pairs, ROPE_PAIRS)
        _check_eps(self.norm_eps)
        if not float(self.rope_base) > 1.0:
            raise ValueError(f"rope_base must be greater than 1, got {self.rope_base}")
        if self.positions == "rope" and self.d_head % 2 != 0:
            raise ValueError(f"rotary positions need an even head size; d_model/n_heads = {self.d_head} is odd")
        if self.positions == "sinusoidal" and self.d_model % 2 != 0:
            raise ValueError(f"sinusoidal positions need an even d_model (sin/cos pairs); got {self.d_model}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


def make_norm(config: LMConfig) -> nn.Module:
    """LayerNorm (Ba et al. 2016) or RMSNorm (Zhang & Sennrich 2019: no mean, no bias)."""
    if config.norm == "rmsnorm":
        return nn.RMSNorm(config.d_model, eps=config.norm_eps)
    return nn.LayerNorm(config.d_model, eps=config.norm_eps, bias=config.bias)


class LMBlock(_Residual):
    """Causal self-attention then feed-forward, each wrapped in a residual connection and a norm."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.norm_first = config.norm_first
        self.self_attn = MultiHeadAttention(
            config.d_model,
            config.n_heads,
            config.n_kv_heads,
            config.dropout,
            config.bias,
            rope=config.positions == "rope",
            rope_base=config.rope_base,
            rope_pairs=config.rope_pairs,
        )
        self.feed_forward = FeedForward(config.d_model, config.d_ff, config.activation, config.dropout, config.bias)
        self.norm1 = make_norm(config)
        self.norm2 = make_norm(config)
        self.dropout1 = nn.Dropout(config.dropout)
        self.dropout2 = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
        need_weights: bool = False,
        ablate_heads: tuple[int, ...] = (),
        record: LayerRecord | None = None,
    ) -> torch.Tensor:
        def attend(h: torch.Tensor) -> torch.Tensor:
            out, weights = self.self_attn(
                h,
                h,
                causal=True,
                need_weights=need_weights,
                cache=cache[layer] if cache is not None else None,
                ablate_heads=ablate_heads,
            )
            if record is not None:
                record.self_attn.capture(weights, h, h)
            return out

        x = self._sublayer(x, self.norm1, attend, self.dropout1)
        return self._sublayer(x, self.norm2, self.feed_forward, self.dropout2)


@dataclass
class LMOutput:
    """Logits (B, T, V); on request attention {"self": [per layer (B, H, Tq, Tk)]}, the residual
    stream after each layer ([per layer (B, T, D)], before the final norm) and the normalised input
    each layer's attention read ([per layer (B, T, D)]; with a cache, only the new positions)."""

    logits: torch.Tensor
    attention: dict[str, list[torch.Tensor]] | None = None
    hidden: list[torch.Tensor] | None = None
    attention_inputs: list[torch.Tensor] | None = None


def group_ablations(ablate_heads: Iterable[tuple[int, int]] | None, n_layers: int, n_heads: int) -> dict[int, tuple[int, ...]]:
    """{layer: heads} from (layer, head) pairs numbered from 0, refusing ones the model does not have."""
    grouped: dict[int, set[int]] = {}
    for layer, head in ablate_heads or ():
        if not (0 <= int(layer) < n_layers and 0 <= int(head) < n_heads):
            raise ValueError(f"no head ({layer}, {head}): layers are 0..{n_layers - 1}, heads 0..{n_heads - 1}")
        grouped.setdefault(int(layer), set()).add(int(head))
    return {layer: tuple(sorted(heads)) for layer, heads in grouped.items()}


class LanguageModel(nn.Module):
    """Token embedding (+ positions), ``n_layers`` causal blocks, final norm, output layer."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.embed_scale = math.sqrt(config.d_model) if config.scale_embeddings else 1.0
        pe = sinusoidal_encoding(config.max_len, config.d_model) if config.positions == "sinusoidal" else None
        self.register_buffer("pe", pe, persistent=False)
        self.pos_embed = nn.Embedding(config.max_len, config.d_model) if config.positions == "learned" else None
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(LMBlock(config) for _ in range(config.n_layers))
        # Post-LN stacks already end each block with a norm; pre-norm stacks need one at the end.
        self.norm = make_norm(config) if config.norm_first else nn.Identity()
        self.lm_head = None if config.tie_embeddings else nn.Linear(config.d_model, config.vocab_size, bias=False)

    def new_cache(self) -> KVCache:
        return KVCache(self.config.n_layers)

    def embed_tokens(self, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        length = ids.shape[1]
        if offset + length > self.config.max_len:
            raise ValueError(
                f"{offset + length} tokens is longer than this model's context of {self.config.max_len}; shorten the input"
            )
        x = self.embed(ids) * self.embed_scale if self.embed_scale != 1.0 else self.embed(ids)
        if isinstance(self.pe, torch.Tensor):
            x = x + self.pe[offset : offset + length]
        elif self.pos_embed is not None:
            x = x + self.pos_embed(torch.arange(offset, offset + length, device=ids.device))
        return self.dropout(x)

    def unembed(self, hidden: torch.Tensor) -> torch.Tensor:
        """Final norm then the output layer: logits from any residual stream (the logit lens, nostalgebraist 2020)."""
        weight = self.embed.weight if self.lm_head is None else self.lm_head.weight
        return torch.nn.functional.linear(self.norm(hidden), weight)

    def forward(
        self,
        ids: torch.Tensor,
        cache: KVCache | None = None,
        return_attention: bool = False,
        return_hidden: bool = False,
        ablate_heads: Iterable[tuple[int, int]] | None = None,
        last_only: bool = False,
        return_attention_inputs: bool = False,
    ) -> LMOutput:
        """Logits for ``ids`` (B, T). With a ``cache``, ``ids`` are the tokens after the cached ones.

        ``last_only`` computes logits for the last position only (generation needs no more; the
        output layer is the single biggest matrix of a small LLM).
        """
        offset = cache.length if cache is not None else 0
        ablations = group_ablations(ablate_heads, self.config.n_layers, self.config.n_heads)
        x = self.embed_tokens(ids, offset)
        maps: list[torch.Tensor] = []
        hidden: list[torch.Tensor] = []
        inputs: list[torch.Tensor] = []
        for index, layer in enumerate(self.layers):
            record = LayerRecord() if return_attention or return_attention_inputs else None
            x = layer(x, cache, index, return_attention, ablations.get(index, ()), record)
            if record is not None and return_attention:
                maps.append(record.self_attn.maps())
            if record is not None and return_attention_inputs:
                inputs.append(record.self_attn.inputs()[0])
            if return_hidden:
                hidden.append(x)
        logits = self.unembed(x[:, -1:] if last_only else x)
        return LMOutput(
            logits=logits,
            attention={"self": maps} if return_attention else None,
            hidden=hidden if return_hidden else None,
            attention_inputs=inputs if return_attention_inputs else None,
        )
