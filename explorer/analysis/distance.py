"""Head statistics for ViT attention: mean attention distance and attention entropy.

Mean attention distance is the ViT paper's "attention distance" (Dosovitskiy et al. 2021,
Section 4.5 and Fig. 7 right; Appendix D.7): for each head, the distance in image space
between a query patch and each key patch, weighted by the attention weight, averaged over
query patches. It is the transformer's analogue of a CNN's receptive-field size: heads with a
small distance look locally, heads with a large one integrate the whole image.

Convention used here (stated because implementations differ): only patch queries and patch
keys take part; the weight a patch puts on [CLS] is removed and each row renormalised over the
patches, so the number is a distance in pixels and not "distance times the mass on patches".
Distances are between patch centres, in pixels of the model's input (patch units x patch size).

Entropy (in nats) of a query's attention row measures how spread it is: 0 for attention on one
token, log(T) for uniform attention over T tokens.

Also here: [CLS]-to-patch and patch-to-patch maps laid out on the patch grid, and a similarity
measure for comparing maps computed at two input resolutions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from explorer.analysis.heads import head_entropy
from explorer.models.vit import ViT


def _as_array(attention: torch.Tensor | np.ndarray) -> np.ndarray:
    """A float numpy view/copy; float32 input stays float32 (a 1025-token map is 4 MB per head)."""
    if isinstance(attention, torch.Tensor):
        attention = attention.detach().cpu().numpy()
    array = np.asarray(attention)
    return array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)


def patch_centres(grid: tuple[int, int], patch_size: float = 1.0) -> np.ndarray:
    """(gh*gw, 2) row/column coordinates of patch centres in pixels, patches in row-major order."""
    gh, gw = grid
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    return (np.stack([rows.ravel(), cols.ravel()], axis=1) + 0.5) * float(patch_size)


def patch_distance_matrix(grid: tuple[int, int], patch_size: float = 1.0) -> np.ndarray:
    """(N, N) Euclidean distances between patch centres, in pixels."""
    centres = patch_centres(grid, patch_size)
    diff = centres[:, None, :] - centres[None, :, :]
    return np.sqrt((diff**2).sum(-1))


def _patch_block(attention: np.ndarray, n_prefix: int, renormalise: bool) -> np.ndarray:
    """Patch-query x patch-key block (..., N, N), rows renormalised over patches if asked."""
    block = attention[..., n_prefix:, n_prefix:]
    if renormalise:
        sums = block.sum(-1, keepdims=True)
        block = np.divide(block, sums, out=np.zeros_like(block), where=sums > 0)
    return block


def mean_attention_distance(
    attention: torch.Tensor | np.ndarray,
    grid: tuple[int, int],
    patch_size: float = 1.0,
    n_prefix: int = 1,
    renormalise: bool = True,
) -> np.ndarray:
    """Mean attention distance in pixels, shape ``attention.shape[:-2]`` (e.g. (L, H) or (B, H)).

    ``attention`` (..., n_prefix + N, n_prefix + N), rows = queries, post-softmax.
    For each query patch q: d_q = sum_k a_qk * ||c_q - c_k||; the head's value is the mean of d_q
    over query patches (ViT paper, Fig. 7 right). With ``renormalise`` the [CLS] column is removed
    and rows renormalised over patch keys (see the module docstring).
    """
    array = _as_array(attention)
    gh, gw = grid
    n = gh * gw
    if array.shape[-1] != n + n_prefix or array.shape[-2] != n + n_prefix:
        raise ValueError(f"attention has {array.shape[-1]} tokens, expected {n_prefix} + {gh}x{gw}")
    block = _patch_block(array, n_prefix, renormalise)  # (..., N, N)
    distances = patch_distance_matrix(grid, patch_size).astype(block.dtype)  # (N, N)
    per_query = np.einsum("...qk,qk->...q", block, distances)  # (..., N), no (..., N, N) temporary
    return per_query.mean(-1, dtype=np.float64)


def uniform_attention_distance(grid: tuple[int, int], patch_size: float = 1.0) -> float:
    """Mean attention distance of a head that spreads attention evenly over all patches.

    The reference line for "global" heads: the mean distance between two random patch centres
    (self-pairs included). On a 1 x n grid it is (n^2 - 1) / (3n) patches.
    """
    return float(patch_distance_matrix(grid, patch_size).mean())


def attention_entropy(
    attention: torch.Tensor | np.ndarray,
    queries: str = "all",
    n_prefix: int = 1,
    normalised: bool = False,
) -> np.ndarray:
    """Mean Shannon entropy (nats) of the attention rows, shape ``attention.shape[:-2]``.

    ``queries``: "all" rows, "cls" (row 0 only, what the classifier reads) or "patches".
    ``normalised`` divides by log(T) so 1 means uniform over all T keys. The statistic itself is
    ``heads.head_entropy`` (every key visible in a ViT); this picks the ViT's query rows.
    """
    array = _as_array(attention)
    if queries == "cls":
        rows = array[..., :1, :]
    elif queries == "patches":
        rows = array[..., n_prefix:, :]
    elif queries == "all":
        rows = array
    else:
        raise ValueError(f"queries must be 'all', 'cls' or 'patches'; got {queries!r}")
    return head_entropy(rows, normalise=normalised)


def cls_maps(attention: torch.Tensor | np.ndarray, grid: tuple[int, int], n_prefix: int = 1) -> np.ndarray:
    """[CLS]-query attention onto the patches, laid out as images: (..., T, T) -> (..., gh, gw)."""
    array = _as_array(attention)
    gh, gw = grid
    return array[..., 0, n_prefix:].reshape(*array.shape[:-2], gh, gw)


def patch_query_map(
    attention: torch.Tensor | np.ndarray, patch_index: int, grid: tuple[int, int], n_prefix: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Where patch ``patch_index`` (0-based, row-major) attends: (patch map (..., gh, gw), weight on [CLS] (...))."""
    array = _as_array(attention)
    gh, gw = grid
    if not 0 <= patch_index < gh * gw:
        raise ValueError(f"patch index must be in 0..{gh * gw - 1}; got {patch_index}")
    row = array[..., n_prefix + patch_index, :]
    return row[..., n_prefix:].reshape(*array.shape[:-2], gh, gw), row[..., 0]


def resample_map(grid_map: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Resize a (gh, gw) map to another grid by area averaging (downsampling) or bilinear (upsampling)."""
    tensor = torch.as_tensor(np.asarray(grid_map, dtype=np.float64))[None, None]
    if tensor.shape[-2] >= grid[0] and tensor.shape[-1] >= grid[1]:
        out = F.adaptive_avg_pool2d(tensor, grid)
    else:
        out = F.interpolate(tensor, size=grid, mode="bilinear", align_corners=False)
    return out[0, 0].numpy()


def map_correlation(map_a: np.ndarray, map_b: np.ndarray) -> float:
    """Pearson correlation of two maps after resampling ``map_b`` to ``map_a``'s grid (nan if flat)."""
    a = np.asarray(map_a, dtype=np.float64)
    b = resample_map(map_b, a.shape) if np.shape(map_b) != a.shape else np.asarray(map_b, dtype=np.float64)
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    denominator = float(np.sqrt((a**2).sum() * (b**2).sum()))
    return float((a * b).sum() / denominator) if denominator > 1e-15 else float("nan")


# ----------------------------------------------------------------------------- one analysed forward pass
class ViTRun:
    """Everything the ViT page shows about one image at one input size, as plain numpy arrays.

    Built by ``run_vit``; holds no reference to the model, so it can be cached and pickled.
    """

    def __init__(self, probabilities: np.ndarray, attention: np.ndarray, model_view: np.ndarray,
                 patch_vectors: np.ndarray, grid: tuple[int, int], patch_size: int) -> None:
        self.probabilities = probabilities  # (n_classes,)
        self.attention = attention  # (L, H, T, T) float32
        self.model_view = model_view  # (S, S, 3) uint8: the normalised input mapped back to pixels
        self.patch_vectors = patch_vectors  # (N, C*P*P) the normalised, flattened patches x_p of Eq. 1
        self.grid = grid
        self.patch_size = patch_size

    @property
    def image_size(self) -> int:
        return int(self.model_view.shape[0])


def run_vit(model: torch.nn.Module, image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> ViTRun:
    """One forward pass of a ViT on a normalised (3, S, S) tensor, with attention, under ``no_grad``.

    The model is only called (never modified, hooked or switched to train mode), so a shared,
    cached model is safe to pass. ``mean``/``std`` undo the normalisation for display.
    """
    if image.ndim != 3:
        raise ValueError(f"expected one image (C, H, W); got shape {tuple(image.shape)}")
    vit = cast(ViT, model)  # any ViT of explorer.models (zoo entries are typed as nn.Module)
    patch_size = int(vit.config.patch_size)
    with torch.no_grad():
        out = model(image[None], return_attention=True)
        probabilities = torch.softmax(out.logits[0].double(), dim=-1).numpy()
        attention = torch.stack([a[0] for a in out.attention]).to(torch.float32).numpy()
        vectors = vit.patch_embed.patchify(image[None])[0].numpy()
    m = torch.as_tensor(list(mean), dtype=image.dtype)[:, None, None]
    s = torch.as_tensor(list(std), dtype=image.dtype)[:, None, None]
    pixels = ((image * s + m).clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    grid = (image.shape[-2] // patch_size, image.shape[-1] // patch_size)
    return ViTRun(probabilities, attention, pixels, vectors, grid, patch_size)


class RunSummary:
    """The small part of a ``ViTRun`` a comparison needs: maps on the grid and per-head statistics.

    A 128 px input has 1025 tokens, so its full attention is 67 MB; caching this summary instead
    keeps reruns fast and the cache small.
    """

    def __init__(self, run: ViTRun) -> None:
        self.probabilities = run.probabilities
        self.model_view = run.model_view
        self.grid = run.grid
        self.patch_size = run.patch_size
        self.image_size = run.image_size
        self.cls_maps = cls_maps(run.attention, run.grid)  # (L, H, gh, gw)
        self.distance = mean_attention_distance(run.attention, run.grid, run.patch_size)  # (L, H) pixels
        self.uniform_distance = uniform_attention_distance(run.grid, run.patch_size)  # pixels, the "global head" line
        self.entropy = attention_entropy(run.attention)  # (L, H) nats
        # divided by ln T: comparable across input sizes (the maximum is ln 65 = 4.17 at 32 px, ln 257 = 5.55 at 64 px)
        self.entropy_normalised = attention_entropy(run.attention, normalised=True)  # (L, H) in [0, 1]
