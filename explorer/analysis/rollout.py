"""Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers", Section 3).

Raw attention of one layer says where a token looked *in that layer's input*, which after the
first layer is already a mixture of tokens. Rollout follows the mixing back to the input:

* Residual connections carry each token's own state past the attention, so the paper models a
  layer's token-to-token map as A_hat = 0.5 * W_att + 0.5 * I (Section 3, "attention rollout").
* Rollout multiplies these maps through the layers: R_1 = A_hat_1, R_l = A_hat_l @ R_(l-1).
  Row i of R_L is how much output token i draws on each input token.

Head fusion ("mean" in the paper; "max" and "min" as in Jacob Gildenblat's vit-explain,
``vit_rollout.py``) and ``discard_ratio`` (vit-explain's noise filter) are the usual extras.
This module follows vit-explain's layer step, A = (A_fused_discarded + I), rows normalised,
with two differences:

1. vit-explain normalises with ``a / a.sum(dim=-1)`` which, without ``keepdim``, broadcasts the
   row sums along the wrong axis (divides column j by the sum of row j), so rows do not sum to
   1. Here rows are normalised by their own sums (``keepdim=True``), and a test compares this
   module with vit-explain's step with only that fix applied.
2. vit-explain's discard flattens each fused (T x T) matrix, drops the globally smallest
   entries (mostly whole rows' worth of one token), protects only flat index 0 (the single
   entry [CLS]->[CLS]) and applies the drop to batch item 0 only. (It writes into the fused
   tensor through a ``view``; the fused tensor is a new one for mean, max and min fusion, so
   the caller's attention is left intact.) Here the lowest entries are dropped *per row*,
   among the patch columns only, so the [CLS] column is always kept, for every batch item.

Because the identity is added *before* the rows are normalised, the residual's weight in row i
is 1 / (1 + s_i), where s_i is the row's mass after fusion and discard: exactly the paper's 0.5
for mean fusion without discard (rows of a mean of softmaxes sum to 1); more than 0.5 for min
fusion or when discarding removed mass (s < 1); less than 0.5 for max fusion (s > 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

HEAD_FUSIONS = ("mean", "max", "min")


def _check_attentions(attentions: Sequence[torch.Tensor]) -> tuple[int, int, int, int]:
    """Validate a per-layer list of (B, H, T, T) attention maps; return its shape."""
    if len(attentions) == 0:
        raise ValueError("rollout needs at least one layer of attention")
    shape = tuple(attentions[0].shape)
    if len(shape) != 4 or shape[-1] != shape[-2]:
        raise ValueError(f"each layer's attention must be (batch, heads, tokens, tokens); got {shape}")
    for i, att in enumerate(attentions):
        if tuple(att.shape) != shape:
            raise ValueError(f"layer {i} attention has shape {tuple(att.shape)}, expected {shape} like layer 0")
    return shape


def fuse_heads(attention: torch.Tensor, head_fusion: str = "mean") -> torch.Tensor:
    """(B, H, T, T) -> (B, T, T) by the mean (the paper), max or min over heads (vit-explain)."""
    if head_fusion == "mean":
        return attention.mean(dim=1)
    if head_fusion == "max":
        return attention.amax(dim=1)
    if head_fusion == "min":
        return attention.amin(dim=1)
    raise ValueError(f"head_fusion must be one of {', '.join(HEAD_FUSIONS)}; got {head_fusion!r}")


def discard_lowest(fused: torch.Tensor, discard_ratio: float) -> torch.Tensor:
    """Zero the ``discard_ratio`` fraction of lowest entries of each row, never column 0 ([CLS]).

    Works on a copy. In each row, floor(discard_ratio * (T - 1)) of the T - 1 non-[CLS]
    columns are set to 0; the [CLS] column and the remaining columns are untouched.
    """
    if not 0.0 <= float(discard_ratio) <= 1.0:
        raise ValueError(f"discard_ratio must be between 0 and 1; got {discard_ratio}")
    n_tokens = fused.shape[-1]
    k = int(math.floor(float(discard_ratio) * (n_tokens - 1)))
    out = fused.clone()
    if k <= 0:
        return out
    others = out[..., 1:]  # view into the copy: every column but [CLS]
    lowest = others.topk(k, dim=-1, largest=False).indices
    others.scatter_(-1, lowest, 0.0)
    return out


def normalise_rows(matrix: torch.Tensor) -> torch.Tensor:
    """Divide each row by its sum (``keepdim=True``: the row's own sum, not another row's).

    A row with no mass left (possible only with min fusion and underflow) becomes the
    identity row: the token is taken to keep its own state.
    """
    sums = matrix.sum(dim=-1, keepdim=True)
    eye = torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device).expand_as(matrix)
    empty = sums <= 0
    safe = torch.where(empty, torch.ones_like(sums), sums)
    return torch.where(empty, eye, matrix / safe)


def layer_transition(
    attention: torch.Tensor, head_fusion: str = "mean", discard_ratio: float = 0.0, add_residual: bool = True
) -> torch.Tensor:
    """One layer's token-to-token map (B, T, T), row-stochastic: fuse, discard, add I, normalise rows.

    With ``add_residual`` this is vit-explain's (A + I) with rows normalised (see the module
    notes for the residual weight 1 / (1 + s)); without it, the fused map's rows normalised.
    """
    fused = discard_lowest(fuse_heads(attention, head_fusion), discard_ratio)
    if add_residual:
        eye = torch.eye(fused.shape[-1], dtype=fused.dtype, device=fused.device)
        fused = fused + eye  # Abnar & Zuidema: the residual carries each token's own state
    return normalise_rows(fused)


def rollout_by_layer(
    attentions: Sequence[torch.Tensor],
    head_fusion: str = "mean",
    discard_ratio: float = 0.0,
    add_residual: bool = True,
) -> torch.Tensor:
    """Cumulative rollout after each layer, shape (L, B, T, T); entry l is ``rollout(..., upto_layer=l)``.

    Handy for a per-layer slider: one pass gives every depth.
    """
    _check_attentions(attentions)
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"head_fusion must be one of {', '.join(HEAD_FUSIONS)}; got {head_fusion!r}")
    out_dtype = attentions[0].dtype if attentions[0].is_floating_point() else torch.float32
    result: torch.Tensor | None = None
    steps: list[torch.Tensor] = []
    with torch.no_grad():
        for attention in attentions:
            # float64: products of many near-stochastic matrices stay row-stochastic to ~1e-12.
            a_hat = layer_transition(attention.detach().to(torch.float64), head_fusion, discard_ratio, add_residual)
            result = a_hat if result is None else a_hat @ result  # R_l = A_hat_l R_(l-1)
            steps.append(result)
    return torch.stack(steps).to(out_dtype)


def rollout(
    attentions: Sequence[torch.Tensor],
    head_fusion: str = "mean",
    discard_ratio: float = 0.0,
    add_residual: bool = True,
    upto_layer: int | None = None,
) -> torch.Tensor:
    """Attention rollout (B, T, T): row i = share of output token i drawn from each input token.

    ``attentions``: per-layer list of (B, H, T, T) post-softmax maps, first layer first.
    ``upto_layer``: 0-based index of the last layer to include (0 = first layer only);
    None = all layers. Negative values count from the end like Python indices.
    """
    n_layers = len(attentions)
    if upto_layer is None:
        last = n_layers - 1
    else:
        if isinstance(upto_layer, bool) or not isinstance(upto_layer, int):
            raise ValueError(f"upto_layer must be a whole number; got {upto_layer!r}")
        if not -n_layers <= upto_layer < n_layers:
            raise ValueError(f"upto_layer must be in 0..{n_layers - 1} for {n_layers} layers; got {upto_layer}")
        last = upto_layer % n_layers
    return rollout_by_layer(attentions[: last + 1], head_fusion, discard_ratio, add_residual)[-1]


def infer_grid(n_patches: int, grid: tuple[int, int] | None = None) -> tuple[int, int]:
    """The patch grid (gh, gw): the given one (checked), or the square one for ``n_patches``."""
    if grid is not None:
        gh, gw = int(grid[0]), int(grid[1])
        if gh * gw != n_patches:
            raise ValueError(f"grid {gh}x{gw} has {gh * gw} patches but the attention has {n_patches}")
        return gh, gw
    side = math.isqrt(n_patches)
    if side * side != n_patches:
        raise ValueError(f"{n_patches} patches do not form a square grid; pass grid=(rows, cols)")
    return side, side


def cls_rollout_map(
    attentions: Sequence[torch.Tensor],
    head_fusion: str = "mean",
    discard_ratio: float = 0.0,
    add_residual: bool = True,
    upto_layer: int | None = None,
    grid: tuple[int, int] | None = None,
) -> torch.Tensor:
    """[CLS]'s rollout onto the patches, (B, gh, gw): row 0 of ``rollout``, column 0 dropped.

    Values are the raw rollout shares (they sum to 1 minus the share kept by [CLS] itself);
    divide by ``.sum((-2, -1), keepdim=True)`` for a map that sums to 1 over patches.
    """
    rolled = rollout(attentions, head_fusion, discard_ratio, add_residual, upto_layer)
    patches = rolled[:, 0, 1:]  # (B, N)
    gh, gw = infer_grid(patches.shape[-1], grid)
    return patches.reshape(-1, gh, gw)


def box_patch_mask(
    boxes: torch.Tensor, grid: tuple[int, int], image_size: int | tuple[int, int]
) -> torch.Tensor:
    """(B, gh, gw) bool: patches that overlap each box (x0, y0, x1, y1) in pixels, x1/y1 exclusive."""
    gh, gw = grid
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    boxes = torch.as_tensor(boxes, dtype=torch.float64).reshape(-1, 4)
    ph, pw = height / gh, width / gw
    rows = torch.arange(gh, dtype=torch.float64)
    cols = torch.arange(gw, dtype=torch.float64)
    x0, y0, x1, y1 = (boxes[:, i, None] for i in range(4))
    row_hit = (rows[None] * ph < y1) & ((rows[None] + 1) * ph > y0)  # (B, gh)
    col_hit = (cols[None] * pw < x1) & ((cols[None] + 1) * pw > x0)  # (B, gw)
    return row_hit[:, :, None] & col_hit[:, None, :]


def box_mass_ratio(
    maps: torch.Tensor,
    boxes: torch.Tensor,
    image_size: int | tuple[int, int],
    baseline: str = "box",
) -> torch.Tensor:
    """Per image: (share of patch attention on patches overlapping the box) / (chance share), (B,).

    ``maps`` (B, gh, gw) non-negative, e.g. ``cls_rollout_map``; it is normalised to sum to 1
    over patches, so the ratio ignores what [CLS] keeps for itself. The chance share is
    ``baseline="box"``: the box's share of the image area (the issue's definition), or
    ``baseline="patches"``: the area share of the patches overlapping the box, which is stricter
    (a uniform map scores exactly 1, whereas under "box" it scores above 1 because the
    overlapping patches cover more than the box).
    """
    if maps.ndim != 3:
        raise ValueError(f"maps must be (batch, rows, cols); got {tuple(maps.shape)}")
    batch, gh, gw = maps.shape
    boxes = torch.as_tensor(boxes, dtype=torch.float64).reshape(-1, 4)
    if boxes.shape[0] != batch:
        raise ValueError(f"{boxes.shape[0]} boxes for {batch} maps")
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    mask = box_patch_mask(boxes, (gh, gw), (height, width))
    m = maps.detach().to(torch.float64)
    share = (m * mask).sum((-2, -1)) / m.sum((-2, -1)).clamp_min(1e-300)
    if baseline == "box":
        area = (boxes[:, 2] - boxes[:, 0]).clamp_min(0) * (boxes[:, 3] - boxes[:, 1]).clamp_min(0)
        chance = area / (height * width)
    elif baseline == "patches":
        chance = mask.sum((-2, -1)).to(torch.float64) / (gh * gw)
    else:
        raise ValueError(f"baseline must be 'box' or 'patches'; got {baseline!r}")
    return share / chance.clamp_min(1e-12)
