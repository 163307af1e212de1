"""Value-weighted attention: is a heavy attention weight also a large contribution?

Kobayashi et al. 2020 ("Attention is Not Only a Weight", Section 3): head h's output at query i
is sum_j alpha_ij f_h(x_j), with f_h(x) = (x W_V^h + b_V^h) W_O^h the value vector mapped
through that head's slice of the output projection. The size of token j's contribution is
therefore ||alpha_ij f_h(x_j)|| = alpha_ij ||f_h(x_j)||, not alpha_ij alone. Tokens that soak up
attention (the first token, [CLS], punctuation) often carry small value vectors, so heavy
weight to such a "sink" moves little: the norm view shows it.

Everything here only *calls* the attention module's projections (``project`` and ``out_proj``'s
weight) under ``no_grad``; shared models are never modified.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explorer.models.attention import MultiHeadAttention
from explorer.models.records import LayerRecord
from explorer.models.vit import ViT


@torch.no_grad()
def value_norms(module: nn.Module, x_q: torch.Tensor | np.ndarray, x_kv: torch.Tensor | np.ndarray) -> np.ndarray:
    """||f_h(x_j)|| for every head h and key j, (H, Tk), from the inputs the module saw (T, D) each."""
    if not isinstance(module, MultiHeadAttention):
        raise TypeError(f"value norms need one of our attention modules, not {type(module).__name__}")
    xq = torch.as_tensor(np.asarray(x_q), dtype=torch.float32)[None]
    xkv = torch.as_tensor(np.asarray(x_kv), dtype=torch.float32)[None]
    _, _, v = module.project(xq, xkv)  # (1, H, Tk, dh); MQA/GQA values already shared out to every head
    n_heads, d_head = int(v.shape[1]), int(v.shape[-1])
    w_o = module.out_proj.weight  # (D, H * dh): block h = head h
    blocks = w_o.view(w_o.shape[0], n_heads, d_head).permute(1, 2, 0)  # (H, dh, D)
    f = v[0] @ blocks  # (H, Tk, D)
    return f.norm(dim=-1).numpy()


def value_weighted(weights: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """||alpha_ij f_h(x_j)|| for weights (H, Tq, Tk) and norms (H, Tk): (H, Tq, Tk)."""
    weights, norms = np.asarray(weights), np.asarray(norms)
    if weights.ndim != 3 or norms.shape != (weights.shape[0], weights.shape[2]):
        raise ValueError(f"weights must be (H, Tq, Tk) and norms (H, Tk); got {weights.shape} and {norms.shape}")
    return weights * norms[:, None, :]


@dataclass(frozen=True)
class FirstTokenShare:
    """Per head: mean share of attention weight and of weighted norm that goes to key 0 (over queries)."""

    weight_share: np.ndarray  # (H,)
    norm_share: np.ndarray  # (H,)


def first_token_share(weights: np.ndarray, weighted: np.ndarray, rows: np.ndarray | None = None) -> FirstTokenShare:
    """Share of each query row's total that lands on key 0, averaged over queries (``rows`` selects queries).

    Rows whose total is 0 (fully masked queries) are skipped.
    """
    def share(x: np.ndarray) -> np.ndarray:
        x = x if rows is None else x[:, rows]
        totals = x.sum(-1)
        ok = totals > 0
        ratio = np.divide(x[..., 0], totals, out=np.zeros_like(totals), where=ok)
        return (ratio * ok).sum(-1) / np.maximum(ok.sum(-1), 1)

    return FirstTokenShare(share(np.asarray(weights, dtype=np.float64)), share(np.asarray(weighted, dtype=np.float64)))


@torch.no_grad()
def vit_first_token_shares(model: ViT, images: torch.Tensor) -> list[FirstTokenShare]:
    """Per layer of a ViT: how much attention weight and how much weighted norm goes to [CLS], for one image.

    Runs the blocks one by one with their ``record`` argument to get each attention's input
    (the normalised residual stream); the model is only called, never changed.
    """
    if images.ndim != 4 or images.shape[0] != 1:
        raise ValueError(f"expected one image batch (1, C, H, W); got {tuple(images.shape)}")
    x = model.embed(images)
    shares = []
    for layer in model.layers:
        record = LayerRecord()
        x = layer(x, need_weights=True, record=record)
        weights = record.self_attn.maps()[0].numpy()
        h = record.self_attn.inputs()[0][0]
        norms = value_norms(layer.get_submodule("self_attn"), h, h)
        shares.append(first_token_share(weights, value_weighted(weights, norms)))
    return shares
