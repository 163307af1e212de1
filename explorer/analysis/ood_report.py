"""How well does the Mahalanobis check separate the training distribution from everything else?

AUROC (``explorer.analysis.ood.auroc``) of held-out in-distribution images against three kinds
of images neither model was trained on:

* **photos**: the CC0 / public-domain photos in ``explorer/data/photos`` (a cat, a coffee cup, an
  astronaut, a rocket, a camera operator, a horse silhouette), each whole and as 9 seeded random
  crops (40-90% of the side), 60 images in all: six photos alone would make the AUROC jump in
  steps of 1/6;
* **noise**: 50 uniform-noise images and 50 blurred-noise images of random size;
* **other model's images**: generated shapes for the Fashion-MNIST model, held-out Fashion-MNIST
  images for the shapes model.

Every image goes through the same ``prepare`` a user's upload takes (including, for the fashion
model, inversion, background-to-black and the centred crop), the in-distribution ones too, so
the AUROC describes what the page and the CLI actually do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from explorer.analysis import ood

PHOTO_DIR = Path(__file__).resolve().parent.parent / "data" / "photos"
PHOTO_NAMES = ("chelsea", "coffee", "astronaut", "rocket", "camera", "horse")
SEED = 12345


def photos() -> dict[str, Image.Image]:
    """The shipped photos by name (RGB)."""
    return {name: Image.open(PHOTO_DIR / f"{name}.png").convert("RGB") for name in PHOTO_NAMES if (PHOTO_DIR / f"{name}.png").exists()}


def photo_set(crops: int = 9, seed: int = SEED) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    out: list[Image.Image] = []
    for image in photos().values():
        out.append(image)
        w, h = image.size
        for _ in range(crops):
            side = int(min(w, h) * rng.uniform(0.4, 0.9))
            x0, y0 = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
            out.append(image.crop((x0, y0, x0 + side, y0 + side)))
    return out


def noise_set(n: int = 100, seed: int = SEED) -> list[Image.Image]:
    rng = np.random.default_rng(seed + 1)
    out: list[Image.Image] = []
    for i in range(n):
        side = int(rng.integers(8, 97))
        pixels = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
        if rng.random() < 0.5:
            pixels = pixels.mean(axis=2, keepdims=True).repeat(3, axis=2).astype(np.uint8)
        image = Image.fromarray(pixels, mode="RGB")
        if i % 2:
            image = image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.5, 2.5))))
        out.append(image)
    return out


def shapes_set(n: int = 300) -> list[Image.Image]:
    from explorer.tasks import shapes
    from explorer.training.shapes import HELDOUT_SEED

    images = shapes.generate(n, HELDOUT_SEED + 7)[0]
    return [Image.fromarray(a, mode="RGB") for a in images]


def fashion_set(n: int = 300) -> list[Image.Image]:
    from explorer.training.fashion import HELDOUT_FILE

    with np.load(HELDOUT_FILE) as data:
        images = data["images"][:n]
    return [Image.fromarray(a, mode="L").convert("RGB") for a in images]


def scores_of(model: Any, prepare: Callable[[Image.Image], torch.Tensor], images: list[Image.Image],
              stats: ood.MahalanobisStats) -> np.ndarray:
    batch = torch.stack([prepare(image) for image in images])
    _, feats = ood.logits_and_features(model, batch, stats.feature)
    return ood.scores(feats.numpy(), stats.means, stats.precision)


QUANTILES = (0.95, 0.99, 0.995)  # the candidate thresholds compared by ``report(..., val_images=...)``


def _flagged(values: np.ndarray, threshold: float) -> float:
    return round(float((values > threshold).mean()), 4)


def report(model: Any, prepare: Callable[[Image.Image], torch.Tensor], stats: ood.MahalanobisStats,
           in_images: list[Image.Image], other: list[Image.Image], other_name: str,
           val_images: list[Image.Image] | None = None) -> dict[str, Any]:
    """AUROC per out-of-distribution source, plus the fraction of each flagged at the threshold.

    With ``val_images`` (the in-distribution validation images the threshold is a quantile of), also
    the same fractions at each of :data:`QUANTILES`: the false-alarm rate on held-out images against
    the detection rates, the trade-off a threshold choice makes.
    """
    inside = scores_of(model, prepare, in_images, stats)
    out: dict[str, Any] = {"in_distribution_flagged": _flagged(inside, stats.threshold), "in_distribution_size": len(in_images)}
    outside: dict[str, np.ndarray] = {}
    for name, images in (("photos", photo_set()), ("noise", noise_set()), (other_name, other)):
        outside[name] = scores_of(model, prepare, images, stats)
        out[f"auroc_{name}"] = round(ood.auroc(inside, outside[name]), 4)
        out[f"{name}_flagged"] = _flagged(outside[name], stats.threshold)
        out[f"{name}_size"] = len(images)
    if val_images is not None:
        val = scores_of(model, prepare, val_images, stats)
        out["quantiles"] = []
        for q in QUANTILES:
            t = float(np.quantile(val, q))
            out["quantiles"].append({"quantile": q, "threshold": round(t, 3), "in_distribution_flagged": _flagged(inside, t),
                                     **{f"{name}_flagged": _flagged(values, t) for name, values in outside.items()}})
    return out
