"""The encoder-decoder Transformer of "Attention Is All You Need" (Vaswani et al. 2017).

One readable file in the spirit of nanoGPT's ``model.py``: token embeddings scaled by
sqrt(d_model) (Section 3.4), positional information (Section 3.5), N encoder layers and N
decoder layers (Section 3.1), and a final linear layer to logits (the softmax is the caller's).
``return_attention=True`` returns every attention map, shaped (batch, heads, queries, keys),
grouped as ``encoder_self``, ``decoder_self`` and ``decoder_cross``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from explorer.models.blocks import DecoderLayer, EncoderLayer, LayerSpec
from explorer.models.config import TransformerConfig
from explorer.models.positions import sinusoidal_encoding
from explorer.models.records import LayerRecord

AttentionMaps = dict[str, list[torch.Tensor]]
AttentionInputs = dict[str, list[tuple[torch.Tensor, torch.Tensor]]]


@dataclass
class TransformerOutput:
    """Logits (B, T_tgt, V) and, when asked, attention maps and the inputs each attention saw."""

    logits: torch.Tensor
    attention: AttentionMaps | None = None
    attention_inputs: AttentionInputs | None = None


class Embedding(nn.Module):
    """Token embedding times sqrt(d_model) plus positions (Section 3.4-3.5), then dropout."""

    pe: torch.Tensor | None  # a non-persistent buffer: not in checkpoints, moves with .to(device)

    def __init__(self, config: TransformerConfig, vocab_size: int, pe: torch.Tensor | None) -> None:
        super().__init__()
        self.scale = math.sqrt(config.d_model)
        self.tokens = nn.Embedding(vocab_size, config.d_model)
        self.positions = nn.Embedding(config.max_len, config.d_model) if config.positions == "learned" else None
        self.register_buffer("pe", pe, persistent=False)  # fixed sinusoidal table, computed once
        self.dropout = nn.Dropout(config.dropout)
        self.max_len = config.max_len

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        length = ids.shape[1]
        if length > self.max_len:
            raise ValueError(f"sequence of {length} tokens is longer than max_len {self.max_len}; shorten the input")
        x = self.tokens(ids) * self.scale  # (B, T, D)
        if self.pe is not None:
            x = x + self.pe[:length]
        elif self.positions is not None:
            x = x + self.positions(torch.arange(length, device=ids.device))
        return self.dropout(x)


class Encoder(nn.Module):
    """A stack of encoder layers; pre-LN stacks end with a final LayerNorm."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList([_encoder_layer(config) for _ in range(config.n_encoder_layers)])
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps) if config.norm_first else None


class Decoder(nn.Module):
    """A stack of decoder layers; pre-LN stacks end with a final LayerNorm."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList([_decoder_layer(config) for _ in range(config.n_decoder_layers)])
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps) if config.norm_first else None


def _encoder_layer(config: TransformerConfig) -> EncoderLayer:
    return EncoderLayer(LayerSpec.of(config))


def _decoder_layer(config: TransformerConfig) -> DecoderLayer:
    return DecoderLayer(LayerSpec.of(config))


class Transformer(nn.Module):
    """Encoder-decoder Transformer; ``forward(src, tgt)`` returns next-token logits for every target position."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        pe = sinusoidal_encoding(config.max_len, config.d_model) if config.positions == "sinusoidal" else None
        self.src_embed = Embedding(config, config.src_vocab_size, pe)
        self.tgt_embed = Embedding(config, config.tgt_vocab_size, None if pe is None else pe.clone())
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.generator = nn.Linear(config.d_model, config.tgt_vocab_size, bias=config.bias)
        if config.tie_embeddings:
            # Section 3.4: "we share the same weight matrix between the two embedding layers and the pre-softmax linear transformation"
            self.tgt_embed.tokens.weight = self.src_embed.tokens.weight
            self.generator.weight = self.src_embed.tokens.weight
        self._init_weights()

    def _init_weights(self) -> None:
        """Xavier-uniform for matrices, as the Annotated Transformer and ``nn.Transformer`` do."""
        for param in self.parameters():
            if param.dim() > 1:
                nn.init.xavier_uniform_(param)

    def encode(
        self,
        src: torch.Tensor,
        src_key_padding_mask: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> tuple[torch.Tensor, list[LayerRecord] | None]:
        """Encoder memory (B, T_src, D) and, when asked, one record per layer (weights and inputs)."""
        x = self.src_embed(src)
        records: list[LayerRecord] | None = [] if return_attention else None
        for layer in self.encoder.layers:
            record = LayerRecord() if records is not None else None
            x = layer(x, src_key_padding_mask, need_weights=return_attention, record=record)
            if records is not None and record is not None:
                records.append(record)
        if self.encoder.norm is not None:
            x = self.encoder.norm(x)
        return x, records

    def decode(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        src_key_padding_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        return_attention: bool = False,
        encoder_records: list[LayerRecord] | None = None,
    ) -> TransformerOutput:
        """Decode the whole target prefix at once under the causal mask; logits (B, T_tgt, V)."""
        x = self.tgt_embed(tgt)
        records: list[LayerRecord] = []
        for layer in self.decoder.layers:
            record = LayerRecord() if return_attention else None
            x = layer(x, memory, tgt_key_padding_mask, src_key_padding_mask, need_weights=return_attention, record=record)
            if record is not None:
                records.append(record)
        if self.decoder.norm is not None:
            x = self.decoder.norm(x)
        logits = self.generator(x)
        if not return_attention:
            return TransformerOutput(logits)
        attention, inputs = _collect(encoder_records or [], records)
        return TransformerOutput(logits, attention, inputs)

    def forward(
        self,
        src: torch.Tensor,
        tgt: torch.Tensor,
        src_key_padding_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> TransformerOutput:
        memory, encoder_records = self.encode(src, src_key_padding_mask, return_attention)
        return self.decode(tgt, memory, src_key_padding_mask, tgt_key_padding_mask, return_attention, encoder_records)


def _collect(
    encoder_records: list[LayerRecord], decoder_records: list[LayerRecord]
) -> tuple[AttentionMaps, AttentionInputs]:
    """Regroup per-layer records into the explorer's layout: kind -> list per layer."""
    attention: AttentionMaps = {
        "encoder_self": [r.self_attn.maps() for r in encoder_records],
        "decoder_self": [r.self_attn.maps() for r in decoder_records],
        "decoder_cross": [r.cross_attn.maps() for r in decoder_records],
    }
    inputs: AttentionInputs = {
        "encoder_self": [r.self_attn.inputs() for r in encoder_records],
        "decoder_self": [r.self_attn.inputs() for r in decoder_records],
        "decoder_cross": [r.cross_attn.inputs() for r in decoder_records],
    }
    return attention, inputs
