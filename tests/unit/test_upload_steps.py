"""Upload steps: Fashion-MNIST's look (fashion) and polarity normalisation (shapes), on drawn cases."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from explorer.inputs.fashion_look import phone_photo_like, to_fashion_look
from explorer.inputs.shapes_look import clean_drawing, normalise_polarity, object_is_darker
from explorer.tasks import shapes


def _garment() -> np.ndarray:
    """A bright T-shape (a crude shirt) on black, as in Fashion-MNIST."""
    image = np.zeros((28, 28), dtype=np.uint8)
    image[4:9, 3:25] = 200
    image[4:26, 9:19] = 220
    return image


def test_fashion_look_undoes_the_phone_photo_transform() -> None:
    original = _garment()
    photo = phone_photo_like(original, np.random.default_rng(0))
    assert photo.mode == "RGB" and photo.size == (160, 160)
    look, steps = to_fashion_look(photo)
    assert look.size == (28, 28) and look.mode == "L"
    assert [s.title for s in steps] == ["grayscale", "dark background", "background to black", "centred crop", "resize to 28 x 28"]
    assert "inverted" in steps[1].detail
    values = np.asarray(look, dtype=np.float32)
    assert values[12:, :4].mean() < 20 and values[12:, -4:].mean() < 20  # black beside the body, like the training images
    reference = np.asarray(to_fashion_look(Image.fromarray(original, mode="L"))[0], dtype=np.float32)  # same crop, no photo
    assert np.corrcoef(values.ravel(), reference.ravel())[0, 1] > 0.9


def test_fashion_look_keeps_a_training_like_image_nearly_unchanged() -> None:
    original = np.zeros((28, 28), dtype=np.uint8)  # Fashion-MNIST garments fill the frame along their longer side
    original[0:6, 2:26] = 200
    original[0:28, 8:20] = 220
    look, steps = to_fashion_look(Image.fromarray(original, mode="L"))
    assert "unchanged" in steps[1].detail
    assert np.corrcoef(np.asarray(look, dtype=np.float32).ravel(), original.ravel().astype(np.float32))[0, 1] > 0.9


@pytest.mark.parametrize("image", [Image.new("RGB", (1, 1), (255, 255, 255)), Image.new("L", (5000, 1), 0), Image.new("RGB", (40, 40), (90, 90, 90))])
def test_fashion_look_survives_degenerate_images(image: Image.Image) -> None:
    look, steps = to_fashion_look(image)
    assert look.size == (28, 28) and len(steps) == 5


@pytest.mark.parametrize("name", shapes.CLASSES)
def test_polarity_step_inverts_dark_drawings_only(name: str) -> None:
    dark = clean_drawing(name, dark_on_light=True)
    light = clean_drawing(name, dark_on_light=False)
    assert object_is_darker(dark)[0] and not object_is_darker(light)[0]
    flipped, step = normalise_polarity(dark)
    assert "inverted" in step.detail
    assert np.array_equal(np.asarray(flipped), np.asarray(light))


def test_polarity_step_leaves_the_training_distribution_alone() -> None:
    images, _, _ = shapes.generate(200, seed=5)
    fired = [object_is_darker(Image.fromarray(a))[0] for a in images]
    assert np.mean(fired) <= 0.02
