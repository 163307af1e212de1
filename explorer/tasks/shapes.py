"""Synthetic shapes: small RGB images with one shape each, and where it is.

The ViT page needs a model whose attention has something to find, and a way to check that it
found it. Each image here holds exactly one shape of a known class at a random position, size,
rotation (within +-30 degrees) and colour (the shape lighter than its background) on a noisy,
textured background, and its bounding box is known, so
"does [CLS] look at the shape?" becomes a number (``explorer.analysis.rollout.box_mass_ratio``).

Everything is drawn in code with PIL (no downloads) and is a pure function of the seed.
Shapes are drawn at 4x resolution and area-averaged down, so edges are antialiased and each
pixel's coverage is exact; the mask is "coverage >= 0.5" and the box is the mask's tight
bounding box (x0, y0, x1, y1) in pixels with x1, y1 exclusive (slice convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw

CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "heart", "ring", "arrow")
IMAGE_SIZE = 32
SUPERSAMPLE = 4
MIN_SIZE, MAX_SIZE = 10, 16  # circumscribed diameter of the shape, pixels: 10-25% of the image area
# Rotation is uniform in [-MAX_ROTATION_DEG, +MAX_ROTATION_DEG] (circles and rings look the same at any angle).
# Measured after 3000 steps of batch 32: full 360-degree rotation 76% held-out accuracy (that run also started
# its positions from sin-cos), +-29 degrees 87%; a tiny ViT must learn each orientation of a corner separately.
MAX_ROTATION_DEG = 30.0
MIN_CONTRAST = 0.45  # RGB distance (0..sqrt 3) between shape and background colour
# Shapes are always *lighter* than their background, by at least this much luminance; hue, saturation and
# brightness of both stay random. A linear patch embedding sees a light-on-dark mask directly, a mask of either
# sign only after a non-linearity. Measured with an earlier recipe (batch 64, full rotation): either polarity
# about 50% held-out accuracy after 1400 steps, lighter shapes 59%.
MIN_LUMA_CONTRAST = 0.3
NOISE_STD = 0.08  # largest per-pixel Gaussian noise on the final image, in [0, 1] units
# Each image draws its own clutter level in [MIN_CLUTTER, 1]: it scales the background texture and the
# noise, so the set runs from clean to busy images (the clean ones give a small ViT an easy start).
MIN_CLUTTER = 0.2
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601

# Per-channel statistics of generated images (measured on 3 000 images, seed 0), rounded.
DEFAULT_MEAN: tuple[float, float, float] = (0.371, 0.316, 0.400)
DEFAULT_STD: tuple[float, float, float] = (0.223, 0.217, 0.221)


@dataclass(frozen=True)
class ShapeSample:
    """One drawn image: uint8 (S, S, 3), class index, box (x0, y0, x1, y1) and bool mask (S, S)."""

    image: np.ndarray
    label: int
    box: np.ndarray
    mask: np.ndarray


# --- outlines in unit coordinates (fit inside the unit circle, centred at 0, y down) -------------


def _regular(n: int, radius: float = 1.0, phase: float = -math.pi / 2) -> list[tuple[float, float]]:
    return [(radius * math.cos(phase + 2 * math.pi * k / n), radius * math.sin(phase + 2 * math.pi * k / n)) for k in range(n)]


def _star(points: int = 5, inner: float = 0.42) -> list[tuple[float, float]]:
    outer = _regular(points)
    inner_pts = _regular(points, inner, -math.pi / 2 + math.pi / points)
    return [p for pair in zip(outer, inner_pts) for p in pair]


def _cross(half_width: float = 0.3) -> list[tuple[float, float]]:
    w, r = half_width, 0.95
    return [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w), (-r, w), (-r, -w), (-w, -w)]


def _heart(n: int = 48) -> list[tuple[float, float]]:
    pts = []
    for k in range(n):
        t = 2 * math.pi * k / n
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        pts.append((x, -y - 2.5))  # y down; shift so the outline is roughly centred
    scale = max(math.hypot(x, y) for x, y in pts)
    return [(x / scale, y / scale) for x, y in pts]


def _arrow() -> list[tuple[float, float]]:
    return [(-0.95, -0.2), (0.15, -0.2), (0.15, -0.6), (0.95, 0.0), (0.15, 0.6), (0.15, 0.2), (-0.95, 0.2)]


_POLYGONS: dict[str, list[tuple[float, float]]] = {
    "square": _regular(4, phase=math.pi / 4),
    "triangle": [(x, y + 0.12) for x, y in _regular(3, 0.92)],  # nudged down so the box is centred
    "star": _star(),
    "cross": _cross(),
    "heart": _heart(),
    "arrow": _arrow(),
}


def _draw_mask(class_name: str, cx: float, cy: float, radius: float, angle: float, size: int) -> np.ndarray:
    """Coverage in [0, 1] (size, size) of the shape, drawn at SUPERSAMPLE x and area-averaged."""
    s = SUPERSAMPLE
    canvas = Image.new("L", (size * s, size * s), 0)
    draw = ImageDraw.Draw(canvas)
    x, y, r = cx * s, cy * s, radius * s
    if class_name == "circle":
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    elif class_name == "ring":
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        ri = 0.5 * r
        draw.ellipse((x - ri, y - ri, x + ri, y + ri), fill=0)
    else:
        cos_a, sin_a = math.cos(angle), math.sin(angle)
        pts = [(x + r * (px * cos_a - py * sin_a), y + r * (px * sin_a + py * cos_a)) for px, py in _POLYGONS[class_name]]
        draw.polygon(pts, fill=255)
    small = canvas.resize((size, size), Image.Resampling.BOX)  # exact area coverage, no ringing
    return np.asarray(small, dtype=np.float32) / 255.0


def _background(rng: np.random.Generator, size: int, base: np.ndarray, clutter: float = 1.0) -> np.ndarray:
    """Textured background (size, size, 3) in [0, 1]: a colour gradient plus blotchy low-frequency noise."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    theta = rng.uniform(0, 2 * math.pi)
    ramp = (np.cos(theta) * (xx - 0.5) + np.sin(theta) * (yy - 0.5))[..., None]  # (S, S, 1) in about [-0.7, 0.7]
    tint = rng.normal(0, 0.12, size=3).astype(np.float32)
    cells = int(rng.integers(3, 9))
    blotch = rng.normal(0, 0.07, size=(cells, cells, 3)).astype(np.float32)
    blotch_img = np.stack(
        [np.asarray(Image.fromarray(blotch[..., c]).resize((size, size), Image.Resampling.BICUBIC)) for c in range(3)], axis=-1
    )
    return base[None, None, :] + clutter * (ramp * tint[None, None, :] + blotch_img)


def _colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random background and shape colours; the shape lighter by MIN_LUMA_CONTRAST and MIN_CONTRAST apart in RGB."""
    while True:
        bg = rng.uniform(0.05, 0.75, size=3).astype(np.float32)
        fg = rng.uniform(0.25, 1.0, size=3).astype(np.float32)
        if float(np.linalg.norm(fg - bg)) >= MIN_CONTRAST and float(_LUMA @ (fg - bg)) >= MIN_LUMA_CONTRAST:
            return bg, fg


def render(class_index: int, rng: np.random.Generator, size: int = IMAGE_SIZE) -> ShapeSample:
    """Draw one image of class ``CLASSES[class_index]`` using (and advancing) ``rng``."""
    if not 0 <= class_index < len(CLASSES):
        raise ValueError(f"class index must be in 0..{len(CLASSES) - 1}; got {class_index}")
    scale = size / IMAGE_SIZE
    diameter = rng.uniform(MIN_SIZE, MAX_SIZE) * scale
    radius = diameter / 2
    margin = radius + 1
    cx, cy = rng.uniform(margin, size - margin, size=2)
    angle = math.radians(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    bg_colour, fg_colour = _colours(rng)
    clutter = float(rng.uniform(MIN_CLUTTER, 1.0))
    coverage = _draw_mask(CLASSES[class_index], float(cx), float(cy), float(radius), float(angle), size)
    background = _background(rng, size, bg_colour, clutter)
    shape_colour = fg_colour[None, None, :] + rng.normal(0, 0.03, size=(size, size, 3)).astype(np.float32)
    image = background * (1 - coverage[..., None]) + shape_colour * coverage[..., None]
    image = image + rng.normal(0, NOISE_STD * clutter, size=image.shape).astype(np.float32)
    image_u8 = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    mask = coverage >= 0.5
    rows, cols = np.nonzero(mask)
    box = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=np.int64)
    return ShapeSample(image_u8, class_index, box, mask)


def class_index(class_name: str) -> int:
    """Index of a class name (case-insensitive), with a message listing the classes if unknown."""
    name = str(class_name).strip().lower()
    if name not in CLASSES:
        raise ValueError(f"unknown shape {class_name!r}; the classes are {', '.join(CLASSES)}")
    return CLASSES.index(name)


def generate(
    n: int, seed: int = 0, size: int = IMAGE_SIZE, return_masks: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` images, class-balanced in random order; a pure function of ``seed``.

    Returns images uint8 (n, S, S, 3), labels int64 (n,), boxes int64 (n, 4) as (x0, y0, x1, y1)
    with x1, y1 exclusive, and, if ``return_masks``, bool masks (n, S, S).
    """
    if n < 0:
        raise ValueError(f"n must be non-negative; got {n}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(CLASSES)).astype(np.int64)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    boxes = np.empty((n, 4), dtype=np.int64)
    masks = np.empty((n, size, size), dtype=bool)
    for i, label in enumerate(labels):
        sample = render(int(label), rng, size)
        images[i], boxes[i], masks[i] = sample.image, sample.box, sample.mask
    if return_masks:
        return images, labels, boxes, masks
    return images, labels, boxes


def sample_image(class_name: str, seed: int = 0, size: int = IMAGE_SIZE) -> Image.Image:
    """One RGB PIL image of ``class_name``, a pure function of (class, seed): the ViT page's sample picker."""
    index = class_index(class_name)
    rng = np.random.default_rng([int(seed), index])
    return Image.fromarray(render(index, rng, size).image, mode="RGB")


def sample_with_box(class_name: str, seed: int = 0, size: int = IMAGE_SIZE) -> tuple[Image.Image, np.ndarray]:
    """Like ``sample_image`` (same image for the same arguments), plus its box (x0, y0, x1, y1)."""
    index = class_index(class_name)
    sample = render(index, np.random.default_rng([int(seed), index]), size)
    return Image.fromarray(sample.image, mode="RGB"), sample.box


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited over neutral grey (not black, which would read as a shape)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        grey = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        return Image.alpha_composite(grey, rgba).convert("RGB")
    return image.convert("RGB")


def normalise(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(..., 3, H, W) floats in [0, 1] -> (x - mean) / std per channel."""
    m = torch.as_tensor(mean, dtype=images.dtype).reshape(-1, 1, 1)
    s = torch.as_tensor(std, dtype=images.dtype).reshape(-1, 1, 1)
    return (images - m) / s


def to_tensor(images: np.ndarray, mean: tuple[float, ...] = DEFAULT_MEAN, std: tuple[float, ...] = DEFAULT_STD) -> torch.Tensor:
    """uint8 (n, H, W, 3) -> normalised float (n, 3, H, W): the batch form of ``preprocess`` at native size."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(torch.float32) / 255.0
    return normalise(x, mean, std)


def preprocess(
    image: Image.Image,
    image_size: int = IMAGE_SIZE,
    mean: tuple[float, ...] = DEFAULT_MEAN,
    std: tuple[float, ...] = DEFAULT_STD,
) -> torch.Tensor:
    """PIL image -> normalised tensor (3, S, S): RGB, resize to S x S, [0, 1], (x - mean) / std.

    The same maths the model was trained with (``to_tensor``); an image already S x S is not
    resampled. Aspect ratio is not kept (the model only knows squares), as in ViT fine-tuning.
    """
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size <= 0:
        raise ValueError(f"image_size must be a positive whole number; got {image_size!r}")
    if len(mean) != 3 or len(std) != 3 or any(float(v) <= 0 for v in std):
        raise ValueError("mean and std need 3 values (R, G, B) and std must be positive")
    rgb = _to_rgb(image)
    if rgb.size != (image_size, image_size):
        rgb = rgb.resize((image_size, image_size), Image.Resampling.LANCZOS)
    array = np.array(rgb, dtype=np.uint8)[None]  # a writable copy for torch.from_numpy
    return to_tensor(array, tuple(float(v) for v in mean), tuple(float(v) for v in std))[0]
