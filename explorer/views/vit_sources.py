"""The ViT page's image sources beyond generated shapes, the upload steps, and the honesty notices.

* Fashion-MNIST samples: the shipped held-out test images (``explorer/data/fashion_heldout.npz``,
  never used for training or tuning), picked by class and index;
* real photos: the CC0 / public-domain photos in ``explorer/data/photos`` (LICENSES.md beside them);
* ``prepare``: every image, whatever its source, goes through the model's visible upload steps
  (``explorer.inputs.fashion_look`` for fashion, the polarity step for shapes), so what the page
  shows is what the CLI computes;
* ``verdict``: the calibrated, out-of-distribution-checked answer (``explorer.classify``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from explorer.analysis import ood
from explorer.analysis.ood_report import PHOTO_NAMES, photos
from explorer.classify import ood_stats_of, temperature_of
from explorer.inputs.fashion_look import to_fashion_look
from explorer.inputs.shapes_look import normalise_polarity

PHOTO_LABELS = {"chelsea": "cat", "coffee": "coffee cup", "astronaut": "astronaut", "rocket": "rocket", "camera": "camera operator", "horse": "horse"}


def base_name(model_name: str) -> str:
    return model_name.removesuffix("-untrained")


@functools.lru_cache(maxsize=1)
def _heldout() -> tuple[np.ndarray, np.ndarray]:
    from explorer.training.fashion import HELDOUT_FILE

    with np.load(HELDOUT_FILE) as data:
        return data["images"].copy(), data["labels"].copy()


def fashion_sample_count(class_index: int) -> int:
    _, labels = _heldout()
    return int((labels == class_index).sum())


def fashion_sample(class_index: int, index: int) -> np.ndarray:
    """The ``index``-th (modulo the count) held-out test image of a class, as (28, 28, 3) uint8."""
    images, labels = _heldout()
    picks = np.flatnonzero(labels == class_index)
    if not len(picks):
        raise ValueError(f"no held-out sample of class {class_index}")
    return np.repeat(images[picks[index % len(picks)]][..., None], 3, axis=-1)


@functools.lru_cache(maxsize=len(PHOTO_NAMES))
def photo(name: str) -> np.ndarray:
    """A shipped photo as (H, W, 3) uint8; ``ValueError`` for unknown names."""
    found = photos()
    if name not in found:
        raise ValueError(f"unknown photo {name!r}; choose one of {', '.join(found)}")
    return np.asarray(found[name])


@dataclass(frozen=True)
class Prepared:
    """The model's input pixels (S, S, 3) uint8 and each step (title, detail, display thumbnail) that made them."""

    pixels: np.ndarray
    steps: tuple[tuple[str, str, np.ndarray], ...]


def thumbnail(image: Image.Image | np.ndarray, side: int = 160) -> np.ndarray:
    """A display-safe square copy (letterboxed, at most ``side`` px): a 4000 x 10 strip shown at 150 px
    wide would otherwise be 0 px tall."""
    from explorer.inputs.images import to_square

    pil = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    square = to_square(pil.convert("RGB"), "pad")
    if square.size[0] > side:
        square = square.resize((side, side), Image.Resampling.BOX)
    elif square.size[0] < side // 2:  # tiny images: nearest-neighbour so the pixels stay visible
        square = square.resize((side, side), Image.Resampling.NEAREST)
    return np.asarray(square)


def prepare(model_name: str, image: Image.Image, fit: str = "pad") -> Prepared:
    """Fashion: grayscale, dark background, background to black, centred crop, 28 x 28.
    Shapes: light shape on dark (polarity), then square (``fit``) as before."""
    from explorer.inputs.images import to_square

    if base_name(model_name) == "fashion":
        look, steps = to_fashion_look(image)
        pixels = np.repeat(np.asarray(look)[..., None], 3, axis=-1)
        return Prepared(pixels, tuple((s.title, s.detail, thumbnail(s.image)) for s in steps))
    flipped, step = normalise_polarity(image.convert("RGB"))
    square = to_square(flipped, fit)
    return Prepared(np.asarray(square), ((step.title, step.detail, thumbnail(step.image)),
                                         ("square", f"made square by {fit}", thumbnail(square))))


@dataclass(frozen=True)
class Verdict:
    """Out-of-distribution check of one prepared image (None fields: no statistics for this model)."""

    in_distribution: bool | None
    score: float | None
    threshold: float | None

    @property
    def ratio(self) -> float | None:
        return None if self.score is None or not self.threshold else self.score / self.threshold


def verdict(model: Any, meta: dict, trained: bool, tensor: torch.Tensor) -> Verdict:
    """The Mahalanobis check (``explorer.analysis.ood``) of one normalised input tensor (C, S, S)."""
    stats = ood_stats_of(meta) if trained else None
    if stats is None:
        return Verdict(None, None, None)
    _, feats = ood.logits_and_features(model, tensor[None], stats.feature)
    result = ood.check(feats.numpy(), stats)[0]
    return Verdict(result.in_distribution, result.score, result.threshold)


def calibrated(probabilities: np.ndarray, meta: dict) -> np.ndarray:
    """softmax(z / T) from softmax(z): p^(1/T) renormalised (Guo et al. 2017's temperature, from the sidecar)."""
    t = temperature_of(meta)
    if t == 1.0:
        return probabilities
    logp = np.log(np.clip(probabilities, 1e-300, None)) / t
    logp -= logp.max()
    p = np.exp(logp)
    return p / p.sum()


def _detection_rates(meta: dict) -> str:
    """The check's measured rates at the shipped threshold (the sidecar's held-out evaluation), as a sentence."""
    found = meta.get("ood", {}).get("evaluation", {})
    rates = [(found.get(f"{name}_flagged"), label) for name, label in
             (("photos", "photos"), ("fashion", "Fashion-MNIST images"), ("shapes", "generated shapes"), ("noise", "noise images"))]
    caught = ", ".join(f"{rate:.0%} of {label}" for rate, label in rates if isinstance(rate, (int, float)))
    false_alarms = found.get("in_distribution_flagged")
    quantile = meta.get("ood", {}).get("quantile")
    if not caught or not isinstance(false_alarms, (int, float)):
        return ""
    where = f" (threshold: the {quantile:.1%} quantile of validation scores)" if isinstance(quantile, (int, float)) else ""
    return (f" Measured on held-out sets{where}: it flags {false_alarms:.1%} of in-distribution images by mistake and "
            f"catches {caught}.")


def notices(check: Verdict, meta: dict, source: str, model_name: str, classes: list[str], trained: bool) -> list[tuple[str, str]]:
    """The page's notices about trust in the answer, as (kind, one paragraph); kind is "info" or "warning".

    A generated or held-out sample comes from the training distribution by construction, so when the
    Mahalanobis check (Lee et al. 2018) flags one, the notice says it is one of the check's measured
    false alarms rather than telling the student not to trust the prediction.
    """
    out: list[tuple[str, str]] = []
    if source == "Photo":
        out.append(("info", f"Neither model knows cats, cups, rockets or astronauts: the {base_name(model_name)} model only "
                            f"knows {', '.join(classes)}, so the predicted class means nothing here. Look at what the attention does anyway."))
    if check.in_distribution is False:
        distance = (f"Mahalanobis distance of the image's features to the training classes (Lee et al. 2018): "
                    f"{check.ratio:.1f}x the in-distribution threshold.")
        if source == "Sample":
            out.append(("info", "The out-of-distribution check flags this sample although it comes from the training "
                                f"distribution: a false alarm. {distance}{_detection_rates(meta)}"))
        else:
            out.append(("warning", "This image is unlike anything the model was trained on, so its prediction is not to be "
                                   f"trusted. {distance}{_detection_rates(meta)}"))
    if not trained:
        out.append(("info", "Untrained weights: the attention you see is what random projections give, a baseline for the trained model."))
    return out
