"""The ViT page's view: one image through a Vision Transformer (Dosovitskiy et al. 2021), tab by tab.

The page's tabs are lazy (only the open one is drawn), so there is one function per tab, each
returning a frozen dataclass of the figures and the numbers its captions quote. The model run is
:func:`run_image` (one forward pass, numpy out), cached by ``ui/cache.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

from explorer.analysis import distance, rollout
from explorer.figures import vit as figs
from explorer.inputs import images
from explorer.tasks import shapes

MODELS = ("shapes", "fashion", "shapes-untrained", "fashion-untrained")
LARGER_SIZES = (48, 64, 96, 128)
FUSIONS = rollout.HEAD_FUSIONS


@dataclass(frozen=True)
class Selection:
    """The view controls shared by every tab (layer and head numbered from 0, as on every page)."""

    layer: int
    head: int
    patch: int
    fusion: str
    discard: float
    residual: bool


def normalisation(meta: dict) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel from a zoo entry's ``meta["preprocess"]`` (the zoo always fills it)."""
    settings = meta["preprocess"]
    return tuple(settings["mean"]), tuple(settings["std"])


def square_pixels(image: Image.Image, fit: str) -> np.ndarray:
    """An uploaded image made square (``images.FIT_MODES``: pad or crop) as (S, S, 3) uint8."""
    return np.asarray(images.to_square(image, fit))


def model_tensor(meta: dict, pixels: np.ndarray, size: int) -> torch.Tensor:
    """``pixels`` (H, W, 3 uint8, square, already through the upload steps) resized to ``size`` and normalised."""
    mean, std = normalisation(meta)
    if len(mean) == 1:  # a grayscale model (fashion): one channel
        gray = Image.fromarray(pixels).convert("L")
        if gray.size != (size, size):
            gray = gray.resize((size, size), Image.Resampling.BILINEAR)
        return ((torch.tensor(np.asarray(gray), dtype=torch.float32) / 255.0 - mean[0]) / std[0])[None]
    return shapes.preprocess(Image.fromarray(pixels), image_size=size, mean=mean, std=std)


def run_image(model: torch.nn.Module, meta: dict, pixels: np.ndarray, size: int) -> distance.ViTRun:
    """One forward pass on ``pixels`` resized to ``size``; probabilities temperature-scaled when the sidecar has T."""
    from explorer.views.vit_sources import calibrated  # noqa: PLC0415

    mean, std = normalisation(meta)
    run = distance.run_vit(model, model_tensor(meta, pixels, size), mean, std)
    if run.model_view.shape[-1] == 1:  # figures draw RGB
        run.model_view = np.repeat(run.model_view, 3, axis=-1)
    run.probabilities = calibrated(run.probabilities, meta)
    return run


def rollout_map(run: distance.ViTRun | distance.RunSummary, attention: np.ndarray, layer: int, fusion: str, discard: float, residual: bool) -> np.ndarray:
    """(gh, gw) [CLS] rollout through ``layer`` (0-based), normalised to sum to 1 over the patches."""
    layers = [torch.from_numpy(a[None]) for a in attention]
    rolled = rollout.cls_rollout_map(layers, fusion, discard, residual, upto_layer=layer, grid=run.grid)[0].numpy()
    return rolled / max(float(rolled.sum()), 1e-12)


@dataclass(frozen=True)
class Prediction:
    figure: go.Figure
    classes: list[str]


def prediction(run: distance.ViTRun, classes: list[str], top_k: int) -> Prediction:
    order = np.argsort(run.probabilities)[::-1][:top_k]
    return Prediction(figs.topk_figure([classes[i] for i in order], run.probabilities[order].tolist()), classes)


@dataclass(frozen=True)
class PatchesTab:
    grid: go.Figure
    strip: np.ndarray
    tokens: go.Figure
    n_patches: int
    vector_length: int
    normalisation: dict[str, list]


def patches_tab(run: distance.ViTRun, meta: dict) -> PatchesTab:
    mean, std = normalisation(meta)
    channels = ["gray"] if len(mean) == 1 else ["R", "G", "B"][: len(mean)]
    return PatchesTab(
        grid=figs.patch_grid_figure(run.model_view, run.patch_size),
        strip=figs.sequence_strip(run.model_view, run.patch_size),
        tokens=figs.token_matrix_figure(run.patch_vectors),
        n_patches=run.grid[0] * run.grid[1],
        vector_length=int(run.patch_vectors.shape[1]),
        normalisation={"channel": channels, "mean": list(mean), "std": list(std)},
    )


@dataclass(frozen=True)
class AttentionTab:
    overlays: go.Figure
    overview: go.Figure
    cls_self: float  # the weight [CLS] keeps for itself
    patch_to_cls: float  # the weight the chosen patch puts on [CLS]


def attention_tab(run: distance.ViTRun, choice: Selection) -> AttentionTab:
    layer, head = choice.layer, choice.head
    maps = distance.cls_maps(run.attention, run.grid)
    patch_map, to_cls = distance.patch_query_map(run.attention[layer, head], choice.patch, run.grid)
    overlays = figs.overlays_figure([
        figs.Panel(run.model_view, maps[layer, head], run.patch_size, f"[CLS] attention, layer {choice.layer} head {choice.head}"),
        figs.Panel(run.model_view, patch_map, run.patch_size, f"patch {choice.patch} attends to", highlight=choice.patch),
    ], pickable=True)
    return AttentionTab(overlays, figs.overview_figure(maps), float(run.attention[layer, head, 0, 0]), float(to_cls))


def rollout_tab(run: distance.ViTRun, choice: Selection) -> go.Figure:
    layer, head = choice.layer, choice.head
    maps = distance.cls_maps(run.attention, run.grid)
    rolled = rollout_map(run, run.attention, layer, choice.fusion, choice.discard, choice.residual)
    return figs.overlays_figure([
        figs.Panel(run.model_view, maps[layer, head], run.patch_size, f"raw: layer {choice.layer}, head {choice.head}"),
        figs.Panel(run.model_view, maps[layer].mean(0), run.patch_size, f"raw: layer {choice.layer}, mean of heads"),
        figs.Panel(run.model_view, rolled, run.patch_size, f"rollout through layer {choice.layer}"),
    ])


@dataclass(frozen=True)
class HeadsTab:
    figure: go.Figure
    uniform_distance: float  # pixels: attention spread evenly over every patch
    max_entropy: float  # nats: ln(number of tokens)


def heads_tab(run: distance.ViTRun) -> HeadsTab:
    stats = (distance.mean_attention_distance(run.attention, run.grid, run.patch_size), distance.attention_entropy(run.attention))
    return HeadsTab(
        figs.head_statistics_figure({f"{run.image_size} px input": stats}),
        distance.uniform_attention_distance(run.grid, run.patch_size),
        float(np.log(run.attention.shape[-1])),
    )


@dataclass(frozen=True)
class ResolutionTab:
    overlays: go.Figure
    statistics: go.Figure
    correlation: float
    best_class: str
    best_probability: float
    uniform_small: float  # pixels: the uniform reference at the training size
    uniform_big: float  # pixels: the same at the larger size (it grows with the grid's side)
    patch_size: int  # pixels, the same at both sizes


def resolution_tab(run: distance.ViTRun, big: distance.RunSummary, choice: Selection, classes: list[str]) -> ResolutionTab:
    layer, head = choice.layer, choice.head
    small_maps = distance.cls_maps(run.attention, run.grid)
    gh, gw = run.grid
    overlays = figs.overlays_figure([
        figs.Panel(run.model_view, small_maps[layer, head], run.patch_size, f"{run.image_size} px: {gh} x {gw} patches"),
        figs.Panel(big.model_view, big.cls_maps[layer, head], big.patch_size, f"{big.image_size} px: {big.grid[0]} x {big.grid[1]} patches"),
    ])
    small = distance.RunSummary(run)
    # Entropy divided by ln T: the two sizes have different maxima (ln 65 = 4.17 at 32 px, ln 257 = 5.55 at 64 px).
    stats = {f"{s.image_size} px": (s.distance, s.entropy_normalised) for s in (small, big)}
    uniform = {f"{s.image_size} px": s.uniform_distance for s in (small, big)}
    best = int(np.argmax(big.probabilities))
    return ResolutionTab(
        overlays, figs.head_statistics_figure(stats, uniform_distance=uniform, entropy_title="Attention entropy / ln T (1 = uniform)"),
        distance.map_correlation(small_maps[layer, head], big.cls_maps[layer, head]),
        classes[best], float(big.probabilities[best]), small.uniform_distance, big.uniform_distance, small.patch_size,
    )


@dataclass(frozen=True)
class Downloads:
    """File stem and byte builders (called only when a download is clicked)."""

    stem: str
    npz: Callable[[], bytes]
    csv: Callable[[], str]
    overlay_png: Callable[[], bytes]
    rollout_png: Callable[[], bytes]


def downloads(run: distance.ViTRun, model_name: str, pixels: np.ndarray, choice: Selection, classes: list[str]) -> Downloads:
    maps = distance.cls_maps(run.attention, run.grid)
    layer, head = choice.layer, choice.head
    digest = hashlib.sha256(pixels.tobytes()).hexdigest()[:8]
    return Downloads(
        stem=f"vit-{model_name}-{digest}",
        npz=lambda: figs.attention_npz(run.attention, cls_maps=maps, grid=np.array(run.grid), probabilities=run.probabilities, classes=np.array(classes)),
        csv=lambda: figs.cls_attention_csv(maps),
        overlay_png=lambda: figs.overlay_png(run.model_view, maps[layer, head]),
        rollout_png=lambda: figs.overlay_png(run.model_view, rollout_map(run, run.attention, -1, "mean", 0.0, True)),
    )
