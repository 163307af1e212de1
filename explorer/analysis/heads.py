"""Head statistics: stack, combine and measure attention maps.

Every function takes maps in the explorer's layout, (heads, queries, keys) per layer or
(layers, heads, queries, keys) stacked, after the softmax, and returns numpy arrays.

Entropy tells sharp heads from diffuse ones (Clark et al. 2019, "What Does BERT Look At?",
Section 3.3 "Focused vs Broad Attention", use the same statistic): a head that puts all its
weight on one key has entropy 0; a head that spreads it evenly over n keys has entropy log(n).
Because a decoder query at position i may only see i + 1 keys (the causal mask, Vaswani et al.
2017 Section 3.2.3), the *normalised* entropy divides by log(number of visible keys), so early
and late queries, and long and short inputs, are comparable on one 0..1 scale.

Which keys are visible is passed in as the mask, never guessed from the weights: a float32
softmax can underflow to an exact 0 on a visible key. A query that sees one key (or none) has
no choice to make, so its row says nothing about the head and is left out of the head's mean;
otherwise a perfectly uniform causal head could never score 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COMBINE_MODES: tuple[str, ...] = ("mean", "max")


def _float_array(x: object) -> np.ndarray:
    """A float32/float64 array without a copy when it already is one (other dtypes become float64)."""
    array = _as_numpy(x)
    return array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)


def _as_numpy(x: object) -> np.ndarray:
    """Accept torch tensors or arrays; torch is not imported here so figures stay torch-free."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def stack_layers(per_layer: Sequence[object]) -> np.ndarray:
    """List of per-layer maps (1, H, Tq, Tk) or (H, Tq, Tk) -> one float32 array (L, H, Tq, Tk).

    Raises ``ValueError`` if the list is empty or the layers disagree in shape.
    """
    if len(per_layer) == 0:
        raise ValueError("no attention layers to stack")
    arrays = []
    for layer in per_layer:
        arr = _as_numpy(layer)
        if arr.ndim == 4:
            if arr.shape[0] != 1:
                raise ValueError(f"expected a batch of one, got batch {arr.shape[0]}")
            arr = arr[0]
        if arr.ndim != 3:
            raise ValueError(f"expected (heads, queries, keys), got shape {arr.shape}")
        arrays.append(arr.astype(np.float32, copy=False))
    return np.stack(arrays)


def combine_heads(weights: np.ndarray, how: str = "mean") -> np.ndarray:
    """Combine heads (axis -3) of (…, H, Tq, Tk) maps into one map per layer by ``mean`` or ``max``.

    The mean is still a distribution over keys (rows sum to 1); the max is not, it shows where
    *any* head looks, which is what students usually want when hunting for alignment.
    """
    weights = np.asarray(weights)
    if weights.ndim < 3:
        raise ValueError(f"need at least (heads, queries, keys), got shape {weights.shape}")
    if how == "mean":
        return weights.mean(axis=-3)
    if how == "max":
        return weights.max(axis=-3)
    raise ValueError(f"combine must be one of {', '.join(COMBINE_MODES)}; got {how!r}")


def visible_keys(shape: tuple[int, ...], mask: np.ndarray | None = None) -> np.ndarray:
    """How many keys each query may see: ``shape`` without its last axis.

    ``mask`` is a bool array broadcastable to ``shape`` (…, Tq, Tk), True where the query may
    look at the key (the model's keep mask); None means every key is visible.
    """
    if mask is None:
        return np.full(shape[:-1], shape[-1], dtype=np.int64)
    keep = np.broadcast_to(np.asarray(mask, dtype=bool), shape)
    return keep.sum(axis=-1)


def causal_mask(n_queries: int, n_keys: int | None = None) -> np.ndarray:
    """(Tq, Tk) keep mask of a causal head whose queries are the last Tq of Tk positions."""
    n_keys = n_queries if n_keys is None else n_keys
    return np.tril(np.ones((n_queries, n_keys), dtype=bool), k=n_keys - n_queries)


def row_entropy(weights: np.ndarray, normalise: bool = False, mask: np.ndarray | None = None) -> np.ndarray:
    """Entropy in nats of every attention row (the last axis is the distribution over keys).

    ``normalise=True`` divides by log(visible keys, from ``mask``) so the value lies in [0, 1];
    a row with at most one visible key has no defined normalised entropy and gives NaN.
    """
    p = _float_array(weights)
    # p log p in the input's precision, in place, summed in float64: a ViT at 128 px has 1025 x 1025
    # weights per head, and float64 temporaries would triple the peak memory of a page run.
    plogp = np.log(p, out=np.zeros_like(p), where=p > 0)
    plogp *= p
    ent = np.maximum(-plogp.sum(axis=-1, dtype=np.float64), 0.0)  # rounding can give -1e-17
    if not normalise:
        return ent
    n = visible_keys(p.shape, mask)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(n > 1, ent / np.log(np.maximum(n, 2)), np.nan)
    return np.clip(out, 0.0, 1.0)


def head_entropy(weights: np.ndarray, normalise: bool = True, mask: np.ndarray | None = None) -> np.ndarray:
    """Mean entropy over queries for every head: (…, H, Tq, Tk) -> (…, H).

    Only rows that see at least two keys (per ``mask``; None = all keys visible) count: a
    fully masked row or a row with a single visible key has nothing to spread over. A head
    with no such row gets NaN.
    """
    p = _float_array(weights)
    ent = row_entropy(p, normalise=normalise, mask=mask)
    live = visible_keys(p.shape, mask) > 1
    total = np.where(live, np.nan_to_num(ent), 0.0).sum(axis=-1)
    count = live.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def entropy_by_kind(
    maps: dict[str, np.ndarray], masks: dict[str, np.ndarray | None] | None = None, normalise: bool = True
) -> dict[str, np.ndarray]:
    """Head entropy (L, H) for every attention kind of a run ({kind: (L, H, Tq, Tk)}).

    ``masks`` maps a kind to its (Tq, Tk) keep mask (e.g. ``causal_mask`` for decoder
    self-attention); a kind without one has every key visible.
    """
    masks = masks or {}
    return {kind: head_entropy(arr, normalise=normalise, mask=masks.get(kind)) for kind, arr in maps.items()}


def sharpest_and_most_diffuse(entropy: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    """(layer, head) of the lowest and the highest entropy in an (L, H) table, 0-based.

    NaN entries (heads with no query that had a choice) are ignored; an all-NaN table gives (0, 0) twice.
    """
    entropy = np.asarray(entropy, dtype=np.float64)
    if np.isnan(entropy).all():
        return (0, 0), (0, 0)
    low = np.unravel_index(int(np.nanargmin(entropy)), entropy.shape)
    high = np.unravel_index(int(np.nanargmax(entropy)), entropy.shape)
    return (int(low[0]), int(low[1])), (int(high[0]), int(high[1]))
