"""Image loading: every bad input gets a one-line ImageInputError; odd-but-valid inputs come out upright RGB."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from explorer.inputs import InputError
from explorer.inputs.images import (
    BACKGROUND,
    ImageInputError,
    load_image,
    load_image_with_info,
    to_square,
)


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height, with a tiny IDAT: a bomb's header without the payload."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + png_chunk(b"IEND", b""))


def assert_refused(data: bytes, fragment: str, filename: str = "x.png", **kwargs: object) -> str:
    with pytest.raises(ImageInputError) as info:
        load_image(data, filename, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert fragment in message.lower()
    return message


# ----------------------------------------------------------------------------- refused inputs
def test_error_is_a_value_error_and_input_error() -> None:
    assert issubclass(ImageInputError, ValueError)
    assert issubclass(ImageInputError, InputError)


def test_zero_bytes() -> None:
    assert_refused(b"", "empty")


def test_text_renamed_png() -> None:
    assert_refused(b"hello, this is not an image\n" * 10, "not a png", filename="notes.png")


def test_corrupt_png_body() -> None:
    good = encode(Image.new("RGB", (64, 64), (10, 200, 30)), "PNG")
    broken = good[:60] + bytes(range(256)) * 4  # valid signature and IHDR, garbage after
    assert_refused(broken, "")


def test_truncated_jpeg() -> None:
    rng = np.random.default_rng(0)
    good = encode(Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)), "JPEG")
    assert_refused(good[: len(good) // 2], "damaged")


def test_decompression_bomb_is_refused_from_the_header_without_allocating() -> None:
    tracemalloc.start()
    try:
        message = assert_refused(png_header_only(30000, 30000), "pixels", filename="bomb.png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000  # decoding would need 900 MB
    assert "bomb.png" in message


def test_image_over_the_pixel_limit_below_pillows_own_limit() -> None:
    assert_refused(png_header_only(7000, 7000), "megapixels")


def test_file_over_the_byte_limit() -> None:
    data = encode(Image.new("RGB", (64, 64)), "PNG")
    assert_refused(data, "limit", max_bytes=len(data) - 1)


def test_formats_outside_the_accepted_list_are_not_decoded() -> None:
    tiff = encode(Image.new("RGB", (8, 8), (255, 0, 0)), "TIFF")
    assert Image.open(io.BytesIO(tiff)).format == "TIFF"  # Pillow itself would read it
    assert_refused(tiff, "not a png", filename="x.tiff")


def test_hostile_filename_is_made_printable() -> None:
    message = assert_refused(b"", "empty", filename="a\nb\x00c.png")
    assert "\x00" not in message


def test_non_bytes_input() -> None:
    with pytest.raises(ImageInputError):
        load_image("not bytes")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- accepted inputs
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP"])
def test_each_accepted_format_decodes_to_rgb(fmt: str) -> None:
    data = encode(Image.new("RGB", (40, 30), (200, 40, 40)), fmt)
    loaded = load_image_with_info(data, f"x.{fmt.lower()}")
    assert loaded.image.mode == "RGB" and loaded.image.size == (40, 30)
    assert loaded.format == fmt
    r, g, b = np.asarray(loaded.image).reshape(-1, 3).mean(0)
    assert r > 150 and g < 90 and b < 90


def test_cmyk_jpeg() -> None:
    data = encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG")  # pure red in CMYK
    loaded = load_image_with_info(data, "cmyk.jpg")
    assert loaded.original_mode == "CMYK" and loaded.image.mode == "RGB"
    r, g, b = np.asarray(loaded.image).reshape(-1, 3).mean(0)
    assert r > 200 and g < 60 and b < 60


def test_rgba_transparency_over_neutral_grey() -> None:
    image = Image.new("RGBA", (10, 10), (255, 0, 0, 0))  # fully transparent red
    image.putpixel((0, 0), (0, 0, 255, 255))  # one opaque blue pixel
    out = np.asarray(load_image(encode(image, "PNG")))
    assert tuple(out[5, 5]) == BACKGROUND
    assert tuple(out[0, 0]) == (0, 0, 255)


def test_half_transparent_blends_with_grey() -> None:
    out = np.asarray(load_image(encode(Image.new("RGBA", (4, 4), (255, 255, 255, 128)), "PNG")))
    assert 185 <= out[0, 0, 0] <= 195  # 0.5 * 255 + 0.5 * 128


def test_la_greyscale_with_alpha() -> None:
    out = np.asarray(load_image(encode(Image.new("LA", (4, 4), (0, 0)), "PNG")))
    assert tuple(out[0, 0]) == BACKGROUND


def test_palette_with_transparent_index() -> None:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    image.putpixel((0, 0), 0)
    data = encode(image, "PNG", transparency=1)  # index 1 (red) is transparent
    out = np.asarray(load_image(data))
    assert tuple(out[2, 2]) == BACKGROUND
    assert tuple(out[0, 0]) == (0, 0, 0)


def test_palette_gif_without_transparency() -> None:
    out = np.asarray(load_image(encode(Image.new("RGB", (4, 4), (0, 255, 0)).convert("P"), "GIF")))
    assert out[0, 0, 1] > 200 and out[0, 0, 0] < 50


def test_greyscale_png() -> None:
    out = np.asarray(load_image(encode(Image.new("L", (4, 4), 77), "PNG")))
    assert out.shape == (4, 4, 3) and (out == 77).all()


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    array = np.array([[0, 32896, 65535]], dtype=np.uint16)
    image = Image.fromarray(array)
    data = encode(image, "PNG")
    loaded = load_image_with_info(data, "deep.png")
    assert loaded.original_mode.startswith("I")
    out = np.asarray(loaded.image)[0, :, 0]
    assert list(out) == [0, 128, 255]  # Pillow's convert("L") would give 0, 255, 255


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (20, 10), (255, 0, 0))
    for x in range(10, 20):
        for y in range(10):
            image.putpixel((x, y), (0, 0, 255))  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    loaded = load_image_with_info(encode(image, "JPEG", exif=exif, quality=95), "phone.jpg")
    assert loaded.image.size == (10, 20)
    out = np.asarray(loaded.image)
    assert out[2, 5, 0] > 200 and out[17, 5, 2] > 200  # left (red) half now on top, blue at the bottom
    assert any("exif" in note.lower() for note in loaded.notes)


def test_one_by_one_image() -> None:
    image = load_image(encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"))
    assert image.size == (1, 1)
    assert to_square(image).size == (1, 1)


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    loaded = load_image_with_info(buffer.getvalue(), "anim.gif")
    r, _, b = np.asarray(loaded.image)[4, 4]
    assert r > 200 and b < 50
    assert any("first frame" in note for note in loaded.notes)


def test_large_photo_is_shrunk_for_display() -> None:
    data = encode(Image.new("RGB", (3000, 2000), (9, 9, 9)), "JPEG")
    assert max(load_image(data, max_side=512).size) == 512
    assert load_image(data, max_side=None).size == (3000, 2000)


# ----------------------------------------------------------------------------- squaring
def test_extreme_aspect_ratio_pad_keeps_everything() -> None:
    image = load_image(encode(Image.new("RGB", (4000, 10), (255, 0, 0)), "PNG"))
    padded = to_square(image, "pad")
    assert padded.size[0] == padded.size[1] == max(image.size)
    out = np.asarray(padded)
    assert tuple(out[0, 0]) == BACKGROUND and out[out.shape[0] // 2, 0, 0] > 200


def test_crop_keeps_the_centre() -> None:
    image = Image.new("RGB", (30, 10), (0, 0, 0))
    image.paste((255, 255, 255), (10, 0, 20, 10))
    cropped = to_square(image, "crop")
    assert cropped.size == (10, 10) and np.asarray(cropped).min() == 255


def test_to_square_rejects_unknown_mode() -> None:
    with pytest.raises(ImageInputError):
        to_square(Image.new("RGB", (2, 3)), "stretch")
