"""The synthetic shapes generator and the image preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.tasks import shapes
from explorer.tasks.shapes import CLASSES, generate, preprocess, render, sample_image, sample_with_box, to_tensor


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, ...]:
    return generate(160, seed=7, return_masks=True)


def test_shapes_and_types(data: tuple[np.ndarray, ...]) -> None:
    images, labels, boxes, masks = data
    assert images.shape == (160, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (160,) and labels.dtype == np.int64
    assert boxes.shape == (160, 4)
    assert masks.shape == (160, 32, 32) and masks.dtype == bool
    assert len(CLASSES) >= 6 and len(set(CLASSES)) == len(CLASSES)


def test_every_class_is_produced_and_balanced(data: tuple[np.ndarray, ...]) -> None:
    _, labels, _, _ = data
    counts = np.bincount(labels, minlength=len(CLASSES))
    assert (counts == 160 // len(CLASSES)).all()


def test_box_is_the_tight_box_of_the_mask(data: tuple[np.ndarray, ...]) -> None:
    _, _, boxes, masks = data
    for box, mask in zip(boxes, masks):
        x0, y0, x1, y1 = box
        assert 0 <= x0 < x1 <= 32 and 0 <= y0 < y1 <= 32
        inside = np.zeros_like(mask)
        inside[y0:y1, x0:x1] = True
        assert not (mask & ~inside).any()  # every shape pixel lies inside its box
        assert mask[y0, x0:x1].any() and mask[y1 - 1, x0:x1].any()  # and the box is tight
        assert mask[y0:y1, x0].any() and mask[y0:y1, x1 - 1].any()


def test_shapes_are_small_enough_for_the_box_metric(data: tuple[np.ndarray, ...]) -> None:
    _, _, boxes, _ = data
    share = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / (32 * 32)
    assert share.max() <= 0.3
    assert 0.05 <= share.mean() <= 0.2


def test_shape_contrasts_with_background(data: tuple[np.ndarray, ...]) -> None:
    images, _, _, masks = data
    for image, mask in zip(images.astype(np.float32) / 255, masks):
        ring = ~mask
        diff = np.linalg.norm(image[mask].mean(0) - image[ring].mean(0))
        assert diff > 0.15


def test_shapes_are_lighter_than_their_background(data: tuple[np.ndarray, ...]) -> None:
    images, _, _, masks = data
    luma = images.astype(np.float32) / 255 @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    for y, mask in zip(luma, masks):
        assert y[mask].mean() - y[~mask].mean() > 0.15


def test_rotation_stays_in_range() -> None:
    angles = []
    original = shapes._draw_mask

    def spy(class_name: str, cx: float, cy: float, radius: float, angle: float, size: int) -> np.ndarray:
        angles.append(angle)
        return original(class_name, cx, cy, radius, angle, size)

    shapes._draw_mask = spy  # type: ignore[assignment]
    try:
        generate(200, seed=1)
    finally:
        shapes._draw_mask = original  # type: ignore[assignment]
    limit = np.radians(shapes.MAX_ROTATION_DEG)
    assert np.abs(angles).max() <= limit
    assert np.ptp(angles) > limit  # and it really varies


def _mask_of(class_name: str, **kw: float) -> np.ndarray:
    args = {"cx": 16.0, "cy": 16.0, "radius": 7.0, "angle": 0.0, "size": 32} | kw
    return shapes._draw_mask(class_name, **args) >= 0.5  # type: ignore[arg-type]


def test_drawn_masks_match_their_class() -> None:
    """Geometric signatures: the label names the shape actually drawn."""
    area = {name: _mask_of(name).sum() for name in CLASSES}
    disc = np.pi * 7**2
    assert area["circle"] == pytest.approx(disc, rel=0.08)
    assert area["square"] == pytest.approx(2 * 7**2, rel=0.1)  # inscribed square: side r * sqrt 2
    assert not _mask_of("ring")[16, 16] and _mask_of("circle")[16, 16]  # a ring has a hole
    assert area["ring"] == pytest.approx(disc * 0.75, rel=0.12)
    assert _mask_of("cross")[16, 16] and not _mask_of("cross")[11, 11]  # plus: centre in, diagonal corner out
    assert area["star"] < 0.5 * disc and area["triangle"] < 0.5 * disc
    for name in CLASSES:  # everything inside its circumscribed circle (plus a pixel)
        yy, xx = np.nonzero(_mask_of(name))
        assert (np.hypot(xx + 0.5 - 16, yy + 0.5 - 16) <= 8.0).all(), name
    # rotation moves polygons but not their area (coverage sums are exact areas)
    for name in ("square", "star", "arrow", "heart"):
        upright = shapes._draw_mask(name, 16.0, 16.0, 7.0, 0.0, 32)
        rotated = shapes._draw_mask(name, 16.0, 16.0, 7.0, 0.7, 32)
        assert rotated.sum() == pytest.approx(upright.sum(), rel=0.03)
        assert (np.abs(rotated - upright) > 0.5).any()


def test_determinism_by_seed() -> None:
    a = generate(24, seed=3)
    b = generate(24, seed=3)
    c = generate(24, seed=4)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_render_rejects_bad_class() -> None:
    with pytest.raises(ValueError):
        render(len(CLASSES), np.random.default_rng(0))
    with pytest.raises(ValueError):
        sample_image("dodecahedron")


def test_sample_image() -> None:
    img = sample_image("star", seed=5)
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (32, 32)
    assert np.array_equal(np.asarray(img), np.asarray(sample_image("STAR", seed=5)))
    assert not np.array_equal(np.asarray(img), np.asarray(sample_image("star", seed=6)))
    img2, box = sample_with_box("star", seed=5)
    assert np.array_equal(np.asarray(img), np.asarray(img2)) and box.shape == (4,)
    for name in CLASSES:
        assert sample_image(name, 0).size == (32, 32)


def test_preprocess_matches_training_tensor(data: tuple[np.ndarray, ...]) -> None:
    images = data[0][:4]
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    batch = to_tensor(images, mean, std)
    for i in range(4):
        single = preprocess(Image.fromarray(images[i]), 32, mean, std)
        assert single.shape == (3, 32, 32) and single.dtype == torch.float32
        torch.testing.assert_close(single, batch[i])
    raw = torch.from_numpy(images[0]).permute(2, 0, 1).float() / 255
    torch.testing.assert_close(batch[0, 1], (raw[1] - 0.5) / 0.25)


def test_preprocess_resizes_and_converts_modes() -> None:
    grey = Image.new("L", (100, 37), 255)
    out = preprocess(grey, 48, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert out.shape == (3, 48, 48)
    torch.testing.assert_close(out, torch.ones(3, 48, 48))  # white -> (1 - 0.5) / 0.5
    transparent = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    out = preprocess(transparent, 32, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    torch.testing.assert_close(out, torch.full((3, 32, 32), 128 / 255))  # transparency -> neutral grey
    palette = Image.new("P", (8, 8), 0)
    assert preprocess(palette, 32).shape == (3, 32, 32)
    with pytest.raises(ValueError):
        preprocess(grey, 0)
    with pytest.raises(ValueError):
        preprocess(grey, 32, (0.5, 0.5), (0.5, 0.5))
    with pytest.raises(ValueError):
        preprocess(grey, 32, (0.5, 0.5, 0.5), (0.5, 0.0, 0.5))
