"""Classify images with a zoo ViT, honestly: calibrated probability and an in-distribution verdict.

One function for the CLI and the ViT page, so both say the same thing about the same image:

* the image is brought to the model's input the same way (``prepare``): Fashion-MNIST's look
  for "fashion" (``explorer.inputs.fashion_look``), letterbox + resize for "shapes";
* probabilities are softmax(logits / T) with the temperature T fitted on a validation split
  (Guo et al. 2017) and stored in the sidecar (T = 1 when absent);
* ``in_distribution`` comes from the Mahalanobis check of ``explorer.analysis.ood`` with the
  statistics stored in the sidecar (None when the sidecar has none, e.g. untrained weights).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from explorer.analysis import ood
from explorer.inputs.fashion_look import Step, to_fashion_look
from explorer.tasks import fashion as fashion_task


def fashion_preprocess(image: Image.Image) -> torch.Tensor:
    """PIL image -> normalised (1, 28, 28): Fashion-MNIST's look (all steps), then (x - mean) / std."""
    look, _ = to_fashion_look(image)
    return fashion_task.to_tensor(np.asarray(look, dtype=np.uint8))[0]


@dataclass(frozen=True)
class Prediction:
    """What a model says about one image, and how much to trust it."""

    class_index: int
    class_name: str
    probability: float  # temperature-scaled
    probabilities: np.ndarray  # (C,), temperature-scaled
    in_distribution: bool | None
    ood_score: float | None
    ood_threshold: float | None
    model_input: Image.Image  # what the model saw, before normalisation
    steps: list[Step] = field(default_factory=list)

    def top_k(self, k: int = 3) -> list[tuple[int, float]]:
        """(class index, probability) of the ``k`` most probable classes, most probable first."""
        return [(int(i), float(self.probabilities[i])) for i in np.argsort(-self.probabilities)[:k]]


def temperature_of(meta: dict[str, Any]) -> float:
    t = meta.get("calibration", {}).get("temperature", 1.0)
    return float(t) if isinstance(t, (int, float)) and t > 0 else 1.0


def ood_stats_of(meta: dict[str, Any]) -> ood.MahalanobisStats | None:
    data = meta.get("ood")
    if not isinstance(data, dict) or "means" not in data:
        return None
    try:
        return ood.MahalanobisStats.from_dict(data)
    except (KeyError, TypeError, ValueError):
        return None


def prepare(entry: Any, image: Image.Image) -> tuple[torch.Tensor, Image.Image, list[Step]]:
    """The model's input tensor, the image it shows, and the visible steps that made it."""
    base = entry.name.removesuffix("-untrained")
    if base == "fashion":
        look, steps = to_fashion_look(image)
        return fashion_task.to_tensor(np.asarray(look, dtype=np.uint8))[0], look, steps
    tensor, shown, steps = shapes_prepare_steps(image, entry.config.image_size, entry.preprocess)
    return tensor, shown, steps


def shapes_prepare_steps(image: Image.Image, size: int, preprocess: Any) -> tuple[torch.Tensor, Image.Image, list[Step]]:
    """Shapes: polarity normalisation (``explorer.inputs.shapes_look``), letterbox, resize, normalise."""
    from explorer.inputs.images import to_square
    from explorer.inputs.shapes_look import normalise_polarity

    flipped, polarity = normalise_polarity(image.convert("RGB"))
    square = to_square(flipped, "pad")
    shown = square.resize((size, size), Image.Resampling.LANCZOS) if square.size != (size, size) else square
    steps = [
        polarity,
        Step("square", f"letterboxed {image.size[0]} x {image.size[1]} -> {square.size[0]} x {square.size[1]}", square),
        Step(f"resize to {size} x {size}", "Lanczos resampling" if square.size != (size, size) else "already the right size", shown),
    ]
    return preprocess(square), shown, steps


@torch.no_grad()
def classify(entry: Any, images: list[Image.Image]) -> list[Prediction]:
    """Predictions for ``images`` with the zoo entry ``entry`` (the shared model is only read)."""
    if not images:
        return []
    prepared = [prepare(entry, image) for image in images]
    batch = torch.stack([p[0] for p in prepared]).to(next(entry.model.parameters()).device)
    stats = ood_stats_of(entry.meta) if entry.trained else None
    logits, features = ood.logits_and_features(entry.model, batch, stats.feature if stats else ood.DEFAULT_FEATURE)
    probs = torch.softmax(logits.double() / temperature_of(entry.meta), dim=-1).cpu().numpy()
    verdicts = ood.check(features.cpu().numpy(), stats) if stats is not None else [None] * len(images)
    out = []
    for (_, shown, steps), p, verdict in zip(prepared, probs, verdicts):
        best = int(p.argmax())
        out.append(Prediction(
            class_index=best, class_name=entry.classes[best] if best < len(entry.classes) else str(best),
            probability=float(p[best]), probabilities=p,
            in_distribution=None if verdict is None else verdict.in_distribution,
            ood_score=None if verdict is None else verdict.score,
            ood_threshold=None if verdict is None else verdict.threshold,
            model_input=shown, steps=steps,
        ))
    return out
