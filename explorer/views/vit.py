"""The ViT page's view: one image through a Vision Transformer (Dosovitskiy et al. 2021), tab by tab.

The page's tabs are lazy (only the open one is drawn), so there is one function per tab, each
returning a frozen dataclass of the figures and the numbers its captions quote. The model run is
:func:`run_image` (one forward pass, numpy out), cached by ``ui/cache.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

from explorer.analysis import distance, rollout
from explorer.exports import arrays_npz, grid_attention_csv
from explorer.figures import vit as figs
from explorer.inputs import images
from explorer.inputs.params import ParamSpec
from explorer.models import ViTConfig
from explorer.tasks import shapes

if TYPE_CHECKING:
    from explorer.lab.vit_snapshots import ViTSnapshots

MODELS = ("shapes", "fashion", "shapes-untrained", "fashion-untrained")
SOURCES = ("Sample", "Upload", "Camera", "Photo")
TABS = ("Patches", "Attention", "Rollout", "Head analytics", "Resolution", "Export")
LARGER_SIZES = (48, 64, 96, 128)
FASHION_SIZES = (56, 84, 112)  # multiples of the fashion model's 7-pixel patches
FUSIONS = rollout.HEAD_FUSIONS
MAX_SEED = 1_000_000


def link_schema(config: ViTConfig, step_choices: Sequence[str]) -> dict[str, ParamSpec]:
    """What a shared link may set on the page; bounds from ``config``, the larger of the two models (the widgets clamp)."""
    from explorer.tasks import fashion
    from explorer.views.vit_sources import PHOTO_NAMES

    n_patches = (config.image_size // config.patch_size) ** 2
    return {
        "vit_model": ParamSpec("choice", MODELS), "vit_source": ParamSpec("choice", SOURCES),
        "vit_cls": ParamSpec("choice", tuple(shapes.CLASSES) + tuple(fashion.CLASSES)),
        "vit_photo": ParamSpec("choice", tuple(PHOTO_NAMES)), "vit_fit": ParamSpec("choice", images.FIT_MODES),
        "vit_sample_seed": ParamSpec("int", minimum=0, maximum=MAX_SEED), "vit_step": ParamSpec("choice", tuple(step_choices)),
        "vit_topk": ParamSpec("int", minimum=1, maximum=max(config.n_classes, len(fashion.CLASSES))),
        "vit_layer": ParamSpec("int", minimum=0, maximum=config.n_layers - 1),
        "vit_head": ParamSpec("int", minimum=0, maximum=config.n_heads - 1),
        "vit_patch": ParamSpec("int", minimum=0, maximum=n_patches - 1),
        "vit_fusion": ParamSpec("choice", FUSIONS), "vit_discard": ParamSpec("float", minimum=0.0, maximum=0.95),
        "vit_residual": ParamSpec("bool"), "vit_size": ParamSpec("choice", tuple(str(s) for s in LARGER_SIZES + FASHION_SIZES)),
        "vit_tab": ParamSpec("choice", TABS),
    }


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
    from explorer.views.vit_sources import calibrated

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
    caption: str


def prediction(run: distance.ViTRun, classes: list[str], top_k: int) -> Prediction:
    order = np.argsort(run.probabilities)[::-1][:top_k]
    caption = ("What am I looking at: the model's probability for its most likely classes. It only knows these "
               f"{len(classes)} classes: " + ", ".join(classes) + ". Anything else (a cat, a face) is forced into one of them.")
    return Prediction(figs.topk_figure([classes[i] for i in order], run.probabilities[order].tolist()), classes, caption)


@dataclass(frozen=True)
class PatchesTab:
    grid: go.Figure
    strip: np.ndarray
    tokens: go.Figure
    n_patches: int
    vector_length: int
    normalisation: dict[str, list]
    grid_caption: str
    strip_caption: str
    tokens_caption: str


def patches_tab(run: distance.ViTRun, meta: dict) -> PatchesTab:
    mean, std = normalisation(meta)
    channels = ["gray"] if len(mean) == 1 else ["R", "G", "B"][: len(mean)]
    (gh, gw), p = run.grid, run.patch_size
    n, length = gh * gw, int(run.patch_vectors.shape[1])
    return PatchesTab(
        grid=figs.patch_grid_figure(run.model_view, run.patch_size),
        strip=figs.sequence_strip(run.model_view, run.patch_size),
        tokens=figs.token_matrix_figure(run.patch_vectors),
        n_patches=n,
        vector_length=length,
        normalisation={"channel": channels, "mean": list(mean), "std": list(std)},
        grid_caption=(f"What am I looking at: the image resized to {run.image_size} x {run.image_size}, cut into "
                      f"{gh} x {gw} = {n} patches of {p} x {p} pixels, numbered in reading order."),
        strip_caption=(f"What am I looking at: token 0 is [CLS] (a learned vector, no pixels), then patches 0..{n - 1} "
                       f"as tokens 1..{n}; a learned position embedding is added to each so order is not lost."),
        tokens_caption=(f"What am I looking at: each row is one patch flattened to {length} numbers (channel, row, column) after "
                        "normalisation: the x_p that Eq. 1 multiplies by the embedding matrix E. Red is positive, blue negative, "
                        "white zero, as on the positional-encoding page."),
    )


@dataclass(frozen=True)
class AttentionTab:
    overlays: go.Figure
    overview: go.Figure
    cls_self: float  # the weight [CLS] keeps for itself
    patch_to_cls: float  # the weight the chosen patch puts on [CLS]
    caption: str
    overview_caption: str = ("What am I looking at: [CLS]-to-patch attention for every layer (rows, first on top) and head "
                             "(columns), all on one colour scale, so bright means the same weight everywhere.")


def attention_tab(run: distance.ViTRun, choice: Selection) -> AttentionTab:
    layer, head = choice.layer, choice.head
    maps = distance.cls_maps(run.attention, run.grid)
    patch_map, patch_to_cls = distance.patch_query_map(run.attention[layer, head], choice.patch, run.grid)
    overlays = figs.overlays_figure([
        figs.Panel(run.model_view, maps[layer, head], run.patch_size, f"[CLS] attention, layer {choice.layer} head {choice.head}"),
        figs.Panel(run.model_view, patch_map, run.patch_size, f"patch {choice.patch} attends to", highlight=choice.patch),
    ], pickable=True)
    cls_self, to_cls = float(run.attention[layer, head, 0, 0]), float(patch_to_cls)
    caption = ("Click a patch in either panel to inspect it (or move the Patch slider). "
               f"What am I looking at: left, the row of [CLS] in the attention matrix of layer {layer}, head {head} "
               f"(how much [CLS] draws from each patch; [CLS] keeps {cls_self:.1%} for itself). "
               f"Right, the same for patch {choice.patch} (red box); it puts {to_cls:.1%} on [CLS].")
    return AttentionTab(overlays, figs.overview_figure(maps), cls_self, to_cls, caption)


@dataclass(frozen=True)
class RolloutTab:
    figure: go.Figure
    caption: str


def rollout_tab(run: distance.ViTRun, choice: Selection) -> RolloutTab:
    layer, head = choice.layer, choice.head
    maps = distance.cls_maps(run.attention, run.grid)
    rolled = rollout_map(run, run.attention, layer, choice.fusion, choice.discard, choice.residual)
    figure = figs.overlays_figure([
        figs.Panel(run.model_view, maps[layer, head], run.patch_size, f"raw: layer {choice.layer}, head {choice.head}"),
        figs.Panel(run.model_view, maps[layer].mean(0), run.patch_size, f"raw: layer {choice.layer}, mean of heads"),
        figs.Panel(run.model_view, rolled, run.patch_size, f"rollout through layer {choice.layer}"),
    ])
    return RolloutTab(figure, (
        "What am I looking at: raw attention says where [CLS] looked within one layer, whose inputs are already "
        "mixtures of patches. Rollout (Abnar & Zuidema 2020) multiplies the layers' attention (with the residual "
        f"path as an identity) to trace [CLS] back to input patches, here through layer {layer} (move the Layer slider)."))


@dataclass(frozen=True)
class HeadsTab:
    figure: go.Figure
    uniform_distance: float  # pixels: attention spread evenly over every patch
    max_entropy: float  # nats: ln(number of tokens)

    @property
    def caption(self) -> str:
        return ("What am I looking at: each marker is one head (its colour, see the legend); layers run left to right. Left, "
                "the attention-weighted distance between a patch and the patches it attends to, averaged over patches (the ViT "
                "paper's Fig. 7 right): low = local like a convolution, high = global; attention spread evenly over all patches "
                f"gives {self.uniform_distance:.1f} px. Right, how spread each head's attention is: 0 = one token, "
                f"{self.max_entropy:.2f} = uniform.")


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
    caption: str
    stats_caption: str


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
    correlation = distance.map_correlation(small_maps[layer, head], big.cls_maps[layer, head])
    caption = (
        f"What am I looking at: [CLS] attention of layer {layer}, head {head} at the training size and at {big.image_size} px. "
        "The model was trained only at the small size; at the larger size the learned position embeddings are "
        "resampled to the bigger grid by 2-D interpolation (the ViT paper, Section 3.2, says only \"2D interpolation\"; "
        "this app uses bicubic, as timm's resample_abs_pos_embed does; the paper's own code zooms linearly). Correlation of "
        f"the two maps (larger one averaged down): {correlation:.2f}. "
        f"Prediction at {big.image_size} px: {classes[best]} ({float(big.probabilities[best]):.0%}).")
    p = small.patch_size
    stats_caption = (
        f"What am I looking at: the head statistics at both sizes. Distances are in input pixels; a patch is {p} px "
        f"at both sizes, so pixels = {p} × patches either way. The dashed lines are heads that spread attention "
        f"evenly over all patches: {small.uniform_distance:.1f} px on the small grid, {big.uniform_distance:.1f} px on the large "
        "one, because the grid's side grew. Heads near their line are close to uniform, and their distance grows with the grid "
        "(in patches too); a local head's distance would stay put. Entropy is divided by ln T (T = number of tokens), so 1 means "
        "uniform at either size.")
    return ResolutionTab(
        overlays, figs.head_statistics_figure(stats, uniform_distance=uniform, entropy_title="Attention entropy / ln T (1 = uniform)"),
        correlation, classes[best], float(big.probabilities[best]), small.uniform_distance, big.uniform_distance, p,
        caption, stats_caption,
    )


@dataclass(frozen=True)
class Downloads:
    """File stem and byte builders (called only when a download is clicked)."""

    stem: str
    npz: Callable[[], bytes]
    csv: Callable[[], bytes]
    overlay_png: Callable[[], bytes]
    rollout_png: Callable[[], bytes]


def downloads(run: distance.ViTRun, model_name: str, pixels: np.ndarray, choice: Selection, classes: list[str]) -> Downloads:
    maps = distance.cls_maps(run.attention, run.grid)
    layer, head = choice.layer, choice.head
    digest = hashlib.sha256(pixels.tobytes()).hexdigest()[:8]
    return Downloads(
        stem=f"vit-{model_name}-{digest}",
        npz=lambda: arrays_npz({"attention": run.attention.astype(np.float32), "cls_maps": maps, "grid": np.array(run.grid),
                                "probabilities": run.probabilities, "classes": np.array(classes)}),
        csv=lambda: grid_attention_csv(maps),
        overlay_png=lambda: figs.overlay_png(run.model_view, maps[layer, head]),
        rollout_png=lambda: figs.overlay_png(run.model_view, rollout_map(run, run.attention, -1, "mean", 0.0, True)),
    )


# ----------------------------------------------------------------------------- training scrubber
SHIPPED_STEP = "shipped"  # the scrubber's last stop: the shipped shapes.pt, not a snapshot


def step_options(steps: Sequence[int]) -> tuple[str, ...]:
    """The ``vit_step`` choices: every snapshot's step, then the shipped model (strings: one URL value each)."""
    return (*(str(s) for s in steps), SHIPPED_STEP)


def parse_step(option: str | None) -> int | None:
    """A ``vit_step`` choice -> snapshot step, or None for the shipped model."""
    return None if option in (None, SHIPPED_STEP) else int(option)


def run_snapshot_image(snaps: ViTSnapshots, step: int, pixels: np.ndarray, size: int) -> distance.ViTRun:
    """``run_image`` with the shapes ViT after ``step`` optimiser steps (``explorer.lab.vit_snapshots``).

    The snapshot sidecar carries no temperature, so probabilities are the plain softmax.
    """
    return run_image(snaps.model(step), snaps.meta, pixels, size)


@dataclass(frozen=True)
class TrainingView:
    """The scrubber's curve and the numbers its caption quotes (``step`` None: the shipped model)."""

    figure: go.Figure
    step: int | None
    accuracy: float  # held-out accuracy at this snapshot (or the shipped model's)
    box_ratio: float  # [CLS] rollout on the object's patches, x a uniform map
    caption: str


def training_view(snaps: ViTSnapshots, step: int | None, shipped_meta: dict) -> TrainingView:
    """``snaps``: :class:`explorer.lab.vit_snapshots.ViTSnapshots`; ``step`` one of its steps or None
    (then the numbers are the shipped model's, from its sidecar ``shipped_meta``)."""
    metrics, meta = snaps.metrics, snaps.meta
    steps = [m["step"] for m in metrics]
    figure = figs.training_figure(snaps.loss_curve, steps, [m["heldout_accuracy"] for m in metrics],
                                  [m["rollout_box_ratio_patches"] for m in metrics], step)
    t = meta["training"]
    run = (f"one training run of {t['steps']} steps ({t['budget']}), seed {t['seed']}, {t['threads']} CPU thread; "
           f"the shipped model used {t['shipped_threads']} threads, which reorders floating-point sums, so the runs part ways "
           f"(largest final weight difference {meta['max_abs_difference_to_shapes_pt']:.2g})")
    if step is None:
        shipped = shipped_meta["metrics"]
        return TrainingView(figure, None, float(shipped["heldout_accuracy"]), float(shipped["rollout_box_ratio_patches"]),
                            f"The shipped model. The curve is from {run}. Reproduce: `{t['command']}`.")
    row = metrics[snaps.index_of(step)]
    return TrainingView(
        figure, step, float(row["heldout_accuracy"]), float(row["rollout_box_ratio_patches"]),
        f"Snapshot after {step} optimiser steps of {run}. Weights stored in float16; the out-of-distribution check and "
        f"the temperature belong to the shipped model, so they are off here. Reproduce: `{t['command']}`.",
    )
