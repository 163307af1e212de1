"""Bring a drawing to the shapes task's look: a visible polarity step, then the usual square + resize.

The shapes model was trained only on shapes *lighter* than their background
(``explorer.tasks.shapes.MIN_LUMA_CONTRAST``). A pen drawing on paper is the other way round,
and the untouched model calls a dark square on white "circle" with probability 1.0 (issue 17).
Rather than retrain a model that a tiny ViT learns less well (either polarity measured about
50% vs 59% held-out at the same step count, ``explorer/tasks/shapes.py``), we normalise the
polarity before the model, as a step the page shows:

    background = median luma of the image's outer ring;
    object     = the 15% of pixels whose luma differs most from the background;
    if the object is darker than the background: invert the RGB image (255 - x).

On the training distribution the object is the shape, lighter by at least 0.3 luma, so the
step should leave those images alone; the sidecar records how often it fires on held-out
images and the held-out accuracy with the step in place.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from explorer.inputs.fashion_look import Step

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_BORDER_FRACTION = 0.08
_OBJECT_FRACTION = 0.15


def object_is_darker(image: Image.Image) -> tuple[bool, float, float]:
    """(darker?, background luma, object luma), both lumas in 0..255."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    luma = rgb @ _LUMA
    h, w = luma.shape
    k = max(1, int(round(min(h, w) * _BORDER_FRACTION)))
    ring = np.concatenate([luma[:k].ravel(), luma[-k:].ravel(), luma[:, :k].ravel(), luma[:, -k:].ravel()])
    background = float(np.median(ring))
    deviation = luma - background
    n = max(1, int(round(deviation.size * _OBJECT_FRACTION)))
    strongest = deviation.ravel()[np.argsort(-np.abs(deviation.ravel()))[:n]]
    obj = background + float(strongest.mean())
    return obj < background, background, obj


def normalise_polarity(image: Image.Image) -> tuple[Image.Image, Step]:
    """Invert when the object is darker than its background (module docstring); return the step too."""
    darker, background, obj = object_is_darker(image)
    if darker:
        out = ImageOps.invert(image.convert("RGB"))
        detail = f"object (luma {obj:.0f}) darker than its background ({background:.0f}): colours inverted"
        return out, Step("light shape on dark", detail, out)
    detail = f"object (luma {obj:.0f}) already lighter than its background ({background:.0f}): unchanged"
    return image, Step("light shape on dark", detail, image)


def clean_drawing(class_name: str, dark_on_light: bool, size: int = 256, fill: float = 0.45, angle_deg: float = 0.0) -> Image.Image:
    """A clean drawing of one shape, as a student would draw it: filled, centred, black on white or white on black.

    ``fill`` is the shape's circumscribed diameter as a fraction of the image side (the
    training shapes are 0.31-0.5 of it).
    """
    from explorer.tasks.shapes import _POLYGONS, CLASSES

    if class_name not in CLASSES:
        raise ValueError(f"unknown shape {class_name!r}")
    ink, paper = (0, 255) if dark_on_light else (255, 0)
    canvas = Image.new("L", (size, size), paper)
    draw = ImageDraw.Draw(canvas)
    c, r = size / 2, fill * size / 2
    if class_name in ("circle", "ring"):
        draw.ellipse((c - r, c - r, c + r, c + r), fill=ink)
        if class_name == "ring":
            ri = 0.5 * r
            draw.ellipse((c - ri, c - ri, c + ri, c + ri), fill=paper)
    else:
        a = math.radians(angle_deg)
        pts = [(c + r * (x * math.cos(a) - y * math.sin(a)), c + r * (x * math.sin(a) + y * math.cos(a))) for x, y in _POLYGONS[class_name]]
        draw.polygon(pts, fill=ink)
    return canvas.convert("RGB")
