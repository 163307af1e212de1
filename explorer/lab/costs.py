"""Parameters, FLOPs and KV-cache bytes of any lab variant, in closed form.

Closed forms say *why* a switch costs what it costs; tests check them against the counted
parameters of a built model and against ``torch.utils.flop_counter.FlopCounterMode``.
FLOP convention as in :mod:`explorer.profiling.flops`: a multiply-add is 2 FLOPs and only
matrix products count (embedding look-ups, norms, softmax, RoPE rotations are free).

Notation: d = d_model, h = n_heads, g = n_kv_heads (h for multi-head, 1 for multi-query),
d_h = d / h, f = d_ff, V = vocabulary, S = source length, T = target length.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.models import TransformerConfig

BYTES_FLOAT32 = 4


def _kv_heads(config: TransformerConfig) -> int:
    return config.n_kv_heads or config.n_heads


def attention_params(config: TransformerConfig) -> int:
    """Q and output projections d x d; K and V d x (g d_h) each (Shazeer 2019: MQA shrinks only K and V)."""
    d, kv_width = config.d_model, _kv_heads(config) * config.d_head
    weights = 2 * d * d + 2 * d * kv_width
    biases = (2 * d + 2 * kv_width) if config.bias else 0
    return weights + biases


def mlp_params(config: TransformerConfig) -> int:
    """W1 (d x f), W2 (f x d), plus SwiGLU's gate (d x f): Shazeer 2020's third matrix."""
    d, f = config.d_model, config.d_ff
    matrices = 3 if config.activation == "swiglu" else 2
    weights = matrices * d * f
    biases = ((matrices - 1) * f + d) if config.bias else 0
    return weights + biases


def norm_params(config: TransformerConfig) -> int:
    """A LayerNorm has a gain and a bias of width d."""
    return 2 * config.d_model


def encoder_layer_params(config: TransformerConfig) -> int:
    """Self-attention + MLP + two LayerNorms (one when parallel: both branches read the same LN(x))."""
    return attention_params(config) + mlp_params(config) + (1 if config.parallel else 2) * norm_params(config)


def decoder_layer_params(config: TransformerConfig) -> int:
    """Self- and cross-attention + MLP + three LayerNorms (two when parallel)."""
    return 2 * attention_params(config) + mlp_params(config) + (2 if config.parallel else 3) * norm_params(config)


def embedding_params(config: TransformerConfig) -> int:
    """Token tables, learned position tables and the output projection; tying keeps one V x d matrix."""
    d = config.d_model
    generator_bias = config.tgt_vocab_size if config.bias else 0
    if config.tie_embeddings:
        tables = config.src_vocab_size * d
    else:
        tables = (config.src_vocab_size + 2 * config.tgt_vocab_size) * d
    positions = 2 * config.max_len * d if config.positions == "learned" else 0
    return tables + generator_bias + positions


def count_params(config: TransformerConfig) -> int:
    """All trainable parameters of ``Transformer(config)``, in closed form."""
    final_norms = 2 * norm_params(config) if config.norm_first else 0
    return (
        config.n_encoder_layers * encoder_layer_params(config)
        + config.n_decoder_layers * decoder_layer_params(config)
        + embedding_params(config)
        + final_norms
    )


@dataclass(frozen=True)
class Flops:
    """Forward FLOPs of one (S-token source, T-token target) pair, teacher-forced, split by where they go."""

    src_len: int
    tgt_len: int
    encoder: int
    decoder: int
    generator: int
    attention_scores: int  # the part quadratic in length: Q K^T and weights x V

    @property
    def total(self) -> int:
        return self.encoder + self.decoder + self.generator

    @property
    def per_token(self) -> float:
        """Total over every token processed (source and target)."""
        return self.total / (self.src_len + self.tgt_len)


def _projections(config: TransformerConfig, n_queries: int, n_keys: int) -> int:
    d, kv_width = config.d_model, _kv_heads(config) * config.d_head
    return 2 * n_queries * d * d * 2 + 2 * n_keys * d * kv_width * 2


def _scores(config: TransformerConfig, n_queries: int, n_keys: int) -> int:
    """Vaswani et al. Eq. 1: two products of T_q x T_k x d_h per head, 2 FLOPs per multiply-add.

    Multi-query attention computes as many scores as multi-head: each query head still has its own row.
    """
    return 4 * n_queries * n_keys * config.d_model


def _mlp(config: TransformerConfig, tokens: int) -> int:
    matrices = 3 if config.activation == "swiglu" else 2
    return 2 * tokens * config.d_model * config.d_ff * matrices


def forward_flops(config: TransformerConfig, src_len: int, tgt_len: int) -> Flops:
    """FLOPs of ``model(src, tgt)`` for one example; a parallel layer does the same products, just side by side."""
    s, t = src_len, tgt_len
    enc_scores = config.n_encoder_layers * _scores(config, s, s)
    dec_scores = config.n_decoder_layers * (_scores(config, t, t) + _scores(config, t, s))
    encoder = config.n_encoder_layers * (_projections(config, s, s) + _mlp(config, s)) + enc_scores
    decoder = config.n_decoder_layers * (_projections(config, t, t) + _projections(config, t, s) + _mlp(config, t)) + dec_scores
    generator = 2 * t * config.d_model * config.tgt_vocab_size
    return Flops(s, t, encoder, decoder, generator, enc_scores + dec_scores)


@dataclass(frozen=True)
class KVCache:
    """Bytes a decoder must keep per token to generate without recomputation (float32).

    Self-attention: K and V of every generated token, in every decoder layer. Cross-attention:
    K and V of every source token, computed once per sentence. Both shrink by h/g with
    grouped-query attention and by h with multi-query (g = 1).
    """

    self_per_token: int
    cross_per_source_token: int


def kv_cache_bytes(config: TransformerConfig, bytes_per_value: int = BYTES_FLOAT32) -> KVCache:
    per_layer = 2 * _kv_heads(config) * config.d_head * bytes_per_value
    return KVCache(config.n_decoder_layers * per_layer, config.n_decoder_layers * per_layer)
