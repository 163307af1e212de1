"""Scaled dot-product attention one step at a time, with the real numbers of one input.

Vaswani et al. 2017, Section 3.2.1, Eq. 1: Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V.
This module recomputes that equation for one layer and one head from the very hidden states
the model fed to its attention module (``TransformerOutput.attention_inputs``) and the
module's own projections (``MultiHeadAttention.project``), so every intermediate can be shown:
Q, K, the scores Q K^T, the scaling by sqrt(d_k), the mask, the softmax and the weighted sum
of V. Tests check that the weights it gets are the model's own.

It also computes the classic mistake: filling masked scores with 0 instead of -inf. A score
of 0 is not "nothing": exp(0) = 1, so hidden (future) keys get real weight and their values
leak into the output (Section 3.2.3 says masked positions are set to -inf "to prevent
leftward information flow").

Nothing here changes the model: it runs under ``torch.no_grad`` and only calls ``project``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import torch
from torch import nn

from explorer.analysis.heads import stack_layers
from explorer.models.attention import MultiHeadAttention, build_keep_mask
from explorer.models.transformer import Transformer

KINDS: tuple[str, ...] = ("encoder_self", "decoder_self", "decoder_cross")
KIND_LABELS: dict[str, str] = {
    "encoder_self": "Encoder self-attention",
    "decoder_self": "Decoder masked self-attention",
    "decoder_cross": "Decoder cross-attention",
}
CAUSAL: dict[str, bool] = {"encoder_self": False, "decoder_self": True, "decoder_cross": False}


@dataclass
class AttentionRun:
    """Everything one forward pass showed about attention, as plain arrays (picklable, cacheable).

    ``maps[kind]`` is (L, H, Tq, Tk) float32 after the softmax; ``inputs[kind][layer]`` is the
    pair (query input, key/value input), each (T, D) float32, exactly as the module saw them.
    """

    src_ids: list[int]
    tgt_ids: list[int]
    maps: dict[str, np.ndarray]
    inputs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)

    def keep_mask(self, kind: str) -> np.ndarray:
        """(Tq, Tk) bool, True where a query of ``kind`` may look at a key: the model's own mask
        (``build_keep_mask``; causal for decoder self-attention, no padding in a run of one)."""
        n_queries, n_keys = self.maps[kind].shape[-2:]
        keep = build_keep_mask(1, n_queries, n_keys, None, CAUSAL[kind], torch.device("cpu"))
        if keep is None:
            return np.ones((n_queries, n_keys), dtype=bool)
        return keep[0, 0].numpy().copy()

    def keep_masks(self) -> dict[str, np.ndarray]:
        """``keep_mask`` of every recorded kind, e.g. for ``explorer.analysis.heads.entropy_by_kind``."""
        return {kind: self.keep_mask(kind) for kind in self.maps}


def attention_module(model: Transformer, kind: str, layer: int) -> MultiHeadAttention:
    """The ``MultiHeadAttention`` module of ``kind`` in ``layer`` (0-based) of a Transformer."""
    if kind == "encoder_self":
        layers = model.encoder.layers
        name = "self_attn"
    elif kind in ("decoder_self", "decoder_cross"):
        layers = model.decoder.layers
        name = "self_attn" if kind == "decoder_self" else "cross_attn"
    else:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if not 0 <= layer < len(layers):
        raise ValueError(f"layer {layer} is out of range: this model has {len(layers)} layers (0..{len(layers) - 1})")
    return cast(MultiHeadAttention, getattr(layers[layer], name))


@torch.no_grad()
def record_attention(model: nn.Module, src_ids: list[int], tgt_ids: list[int]) -> AttentionRun:
    """One teacher-forced pass over ``src_ids`` -> ``tgt_ids`` (the decoder input) with every map.

    With a causal decoder, position i of one pass over the whole target sees exactly what
    step i of greedy generation saw, so this reproduces the attention of the generation.
    """
    if not src_ids or not tgt_ids:
        raise ValueError("source and target must each have at least one token")
    device = next(model.parameters()).device
    src = torch.tensor([src_ids], dtype=torch.long, device=device)
    tgt = torch.tensor([tgt_ids], dtype=torch.long, device=device)
    out = model(src, tgt, return_attention=True)
    maps = {kind: stack_layers(out.attention[kind]) for kind in KINDS}
    inputs = {
        kind: [
            (xq[0].detach().cpu().float().numpy().copy(), xkv[0].detach().cpu().float().numpy().copy())
            for xq, xkv in out.attention_inputs[kind]
        ]
        for kind in KINDS
    }
    return AttentionRun(list(src_ids), list(tgt_ids), maps, inputs)


@dataclass
class AttentionSteps:
    """Every intermediate of Eq. 1 for one head, all queries (rows) and keys (columns), float64.

    ``keep`` is True where a query may look at a key. The ``wrong_*`` fields redo the softmax
    after filling hidden scores with 0 instead of -inf; ``leaked_mass`` is the weight that
    then lands on hidden keys per query and ``leak`` the part of the output it carries.
    """

    q: np.ndarray  # (Tq, d_k)
    k: np.ndarray  # (Tk, d_k)
    v: np.ndarray  # (Tk, d_k)
    scores: np.ndarray  # (Tq, Tk) = Q K^T
    scaled: np.ndarray  # (Tq, Tk) = Q K^T / sqrt(d_k)
    keep: np.ndarray  # (Tq, Tk) bool
    masked: np.ndarray  # (Tq, Tk), hidden scores = -inf
    weights: np.ndarray  # (Tq, Tk) softmax over keys
    output: np.ndarray  # (Tq, d_k) = weights @ V
    wrong_masked: np.ndarray  # (Tq, Tk), hidden scores = 0 (the mistake)
    wrong_weights: np.ndarray  # (Tq, Tk)
    wrong_output: np.ndarray  # (Tq, d_k)
    leaked_mass: np.ndarray  # (Tq,) weight on hidden keys under the mistake
    leak: np.ndarray  # (Tq, d_k) sum over hidden keys of wrong weight * v
    d_k: int

    @property
    def has_mask(self) -> bool:
        """False when every query may see every key (encoder and cross attention without padding)."""
        return not bool(self.keep.all())


def _softmax_rows(x: np.ndarray) -> np.ndarray:
    """Row softmax that maps an all -inf row to zeros (as the model does) instead of NaN."""
    finite_row = np.isfinite(x).any(axis=-1, keepdims=True)
    m = np.where(finite_row, np.max(np.where(np.isfinite(x), x, -np.inf), axis=-1, keepdims=True), 0.0)
    e = np.exp(x - m)
    s = e.sum(axis=-1, keepdims=True)
    return np.where(finite_row, e / np.where(s > 0, s, 1.0), 0.0)


def scaled_dot_product_steps(q: np.ndarray, k: np.ndarray, v: np.ndarray, keep: np.ndarray | None = None) -> AttentionSteps:
    """Eq. 1 written out: scores, scaling, mask (-inf and the 0 mistake), softmax, weighted sum.

    ``q`` (Tq, d_k), ``k`` and ``v`` (Tk, d_k); ``keep`` (Tq, Tk) bool or None for no mask.
    """
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if q.ndim != 2 or k.ndim != 2 or v.ndim != 2 or q.shape[1] != k.shape[1] or k.shape[0] != v.shape[0]:
        raise ValueError(f"shapes do not fit: q {q.shape}, k {k.shape}, v {v.shape}")
    d_k = q.shape[1]
    keep = np.ones((q.shape[0], k.shape[0]), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    if keep.shape != (q.shape[0], k.shape[0]):
        raise ValueError(f"mask shape {keep.shape} does not match (queries, keys) {(q.shape[0], k.shape[0])}")
    scores = q @ k.T
    scaled = scores / math.sqrt(d_k)
    masked = np.where(keep, scaled, -np.inf)
    weights = _softmax_rows(masked)
    output = weights @ v
    wrong_masked = np.where(keep, scaled, 0.0)
    wrong_weights = _softmax_rows(wrong_masked)
    wrong_output = wrong_weights @ v
    hidden_w = np.where(keep, 0.0, wrong_weights)
    return AttentionSteps(
        q=q, k=k, v=v, scores=scores, scaled=scaled, keep=keep, masked=masked, weights=weights, output=output,
        wrong_masked=wrong_masked, wrong_weights=wrong_weights, wrong_output=wrong_output,
        leaked_mass=hidden_w.sum(axis=-1), leak=hidden_w @ v, d_k=d_k,
    )


@torch.no_grad()
def steps_for_head(
    module: MultiHeadAttention,
    x_q: np.ndarray | torch.Tensor,
    x_kv: np.ndarray | torch.Tensor,
    head: int,
    causal: bool,
    key_padding_mask: torch.Tensor | None = None,
) -> AttentionSteps:
    """Recompute one head of ``module`` from its recorded inputs (T, D) with the module's own weights."""
    n_heads = int(module.n_heads)
    if not 0 <= head < n_heads:
        raise ValueError(f"head {head} is out of range: this layer has {n_heads} heads (0..{n_heads - 1})")
    param = next(module.parameters())
    xq = torch.as_tensor(np.asarray(x_q), dtype=param.dtype, device=param.device)
    xkv = torch.as_tensor(np.asarray(x_kv), dtype=param.dtype, device=param.device)
    if xq.ndim == 2:
        xq, xkv = xq[None], xkv[None]
    q, k, v = module.project(xq, xkv)  # (1, nh, T, d_head) each
    keep_t = build_keep_mask(1, q.shape[2], k.shape[2], key_padding_mask, causal, q.device)
    keep = None if keep_t is None else keep_t.expand(1, 1, q.shape[2], k.shape[2])[0, 0].cpu().numpy()
    return scaled_dot_product_steps(
        q[0, head].double().cpu().numpy(), k[0, head].double().cpu().numpy(), v[0, head].double().cpu().numpy(), keep
    )


def steps_from_run(model: Transformer, run: AttentionRun, kind: str, layer: int, head: int) -> AttentionSteps:
    """Step-by-step attention for ``kind``/``layer``/``head`` of a recorded run."""
    module = attention_module(model, kind, layer)
    x_q, x_kv = run.inputs[kind][layer]
    return steps_for_head(module, x_q, x_kv, head, CAUSAL[kind])


@dataclass
class TranslationRun:
    """A decoded text with its attention: what the Transformer page caches per input.

    ``decode`` is :class:`explorer.decoding.DecodeResult` without its torch tensors (the maps live
    in ``attention`` as numpy arrays), so the whole object pickles small and fast.
    """

    decode: object  # explorer.decoding.DecodeResult (attention={})
    attention: AttentionRun

    def query_tokens(self, kind: str) -> list[str]:
        """Row labels of ``kind``: source tokens for the encoder, decoder inputs for the decoder."""
        return list(self.decode.source_tokens if kind == "encoder_self" else self.decode.decoder_input_tokens)  # type: ignore[attr-defined]

    def key_tokens(self, kind: str) -> list[str]:
        """Column labels of ``kind``: decoder inputs for masked self-attention, source tokens otherwise."""
        return list(self.decode.decoder_input_tokens if kind == "decoder_self" else self.decode.source_tokens)  # type: ignore[attr-defined]


def translate_and_record(
    model: nn.Module,
    tokenizer: object,
    text: str,
    temperature: float = 0.0,
    top_k: int = 5,
    prefix: str | None = None,
    seed: int = 0,
    max_new_tokens: int | None = None,
) -> TranslationRun:
    """Generate with :func:`explorer.decoding.generate` (no attention), then record every map and
    attention input in one pass.

    The recording pass feeds ``<s>`` + every emitted token but the last, the same decoder input
    ``generate`` reports, so decoder query row i is the step that produced output token i.
    """
    from explorer.decoding import DEFAULT_MAX_NEW_TOKENS, generate

    result = generate(
        model, tokenizer, text,  # type: ignore[arg-type]
        max_new_tokens=DEFAULT_MAX_NEW_TOKENS if max_new_tokens is None else max_new_tokens,
        temperature=temperature, top_k=top_k, prefix=prefix or None, seed=seed, record_attention=False,
    )
    bos = int(tokenizer.bos_id)  # type: ignore[attr-defined]
    decoder_input = [bos] + list(result.target_ids[:-1]) if result.target_ids else [bos]
    run = record_attention(model, list(result.source_ids), decoder_input)
    return TranslationRun(result, run)
