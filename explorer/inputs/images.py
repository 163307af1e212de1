"""Safe loading of user images: one entry point that accepts only what the ViT page promises.

Uploaded bytes are hostile until proven otherwise. ``load_image`` therefore

* decodes only the formats the page accepts (PNG, JPEG, WebP, GIF, BMP) by passing
  ``formats=`` to ``PIL.Image.open`` so no other Pillow plugin ever parses the bytes;
* refuses files over a byte limit, and images whose *header* declares more pixels than a
  pixel limit, before a single pixel is decoded (a 30000 x 30000 PNG compresses to ~1 MB
  but would need 2.7 GB to decode: a "decompression bomb");
* turns Pillow's many failure types (``UnidentifiedImageError``, ``OSError`` for truncated
  data, ``SyntaxError`` for broken headers, ...) into one ``ImageInputError`` whose message
  is one line, ready to show;
* returns an upright RGB image: EXIF orientation applied, CMYK/greyscale/16-bit converted,
  transparency composited over a neutral grey (not black, which would read as "dark object"),
  the first frame of an animation;
* optionally shrinks very large photos while decoding (JPEG "draft" mode decodes at 1/2, 1/4
  or 1/8 scale directly from the DCT coefficients), because the model sees 32 x 32 anyway.

``to_square`` then makes the image square for the model: the page letterboxes (pads) by
default, because centre-cropping an extreme aspect ratio such as 4000 x 10 would keep a
10 x 10 sliver and silently drop 99.75% of the picture.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from explorer.inputs import InputError

ACCEPTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
ACCEPTED_EXTENSIONS: tuple[str, ...] = ("png", "jpg", "jpeg", "webp", "gif", "bmp")
MAX_BYTES = 32_000_000  # 32 MB: room for a 12-megapixel PNG, small for a server
MAX_PIXELS = 40_000_000  # 40 MP, e.g. 8000 x 5000; the header is checked before decoding
DEFAULT_MAX_SIDE = 1024  # decoded images are shrunk so the longer side is at most this
BACKGROUND = (128, 128, 128)  # neutral grey behind transparent pixels
FIT_MODES = ("pad", "crop")


class ImageInputError(InputError):
    """An image that cannot be used; ``str(error)`` is a one-line message for the user."""


@dataclass
class LoadedImage:
    """The decoded RGB image and what was done to it, so the page can say so."""

    image: Image.Image
    format: str
    original_size: tuple[int, int]
    original_mode: str
    notes: list[str] = field(default_factory=list)


def _name(filename: str | None) -> str:
    """A short printable file name for messages (never rendered as HTML by the page)."""
    if not filename:
        return "the image"
    clean = "".join(ch if ch.isprintable() else "?" for ch in str(filename))
    return f"'{clean[:60]}'"


def _open(data: bytes, filename: str | None) -> Image.Image:
    """Parse the header only (Pillow is lazy), restricted to the accepted formats."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    except UnidentifiedImageError as error:
        raise ImageInputError(
            f"{_name(filename)} is not a PNG, JPEG, WebP, GIF or BMP image (or it is damaged)."
        ) from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageInputError(f"{_name(filename)} declares too many pixels to decode safely.") from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageInputError(f"{_name(filename)} could not be read: its header is damaged.") from error


def _check_pixels(image: Image.Image, filename: str | None, max_pixels: int) -> None:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageInputError(f"{_name(filename)} has no pixels ({width} x {height}).")
    if width * height > max_pixels:
        raise ImageInputError(
            f"{_name(filename)} is {width} x {height} pixels; the limit is {max_pixels / 1e6:.0f} megapixels."
        )


def _sixteen_bit_to_rgb(image: Image.Image) -> Image.Image:
    """'I;16*' / 'I' / 'F' greyscale -> 8-bit RGB by scaling the full range, not by clipping at 255.

    Pillow's own ``convert("L")`` clips 16-bit values, so a 16-bit PNG would come out nearly white.
    """
    array = np.asarray(image).astype(np.float64)
    if image.mode.startswith("I;16"):
        scaled = array / 257.0  # 65535 -> 255
    else:
        finite = array[np.isfinite(array)]
        low = float(finite.min()) if finite.size else 0.0
        high = float(finite.max()) if finite.size else 1.0
        if image.mode == "I" and low >= 0 and high <= 255:
            scaled = array
        elif image.mode == "I" and low >= 0 and high <= 65535:
            scaled = array / 257.0
        elif image.mode == "F" and low >= 0 and high <= 1:
            scaled = array * 255.0
        else:  # unknown range: stretch
            scaled = (array - low) / max(high - low, 1e-12) * 255.0
    grey = np.clip(np.nan_to_num(scaled), 0, 255).round().astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")


def to_rgb(image: Image.Image, background: tuple[int, int, int] = BACKGROUND) -> tuple[Image.Image, list[str]]:
    """Any Pillow mode -> RGB, compositing transparency over ``background``; returns notes too."""
    notes: list[str] = []
    mode = image.mode
    has_transparency = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if mode.startswith("I") or mode == "F":
        notes.append(f"{'16-bit' if mode.startswith('I;16') else mode} greyscale scaled to 8 bits")
        return _sixteen_bit_to_rgb(image), notes
    if has_transparency:
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*background, 255))
        composited = Image.alpha_composite(base, rgba).convert("RGB")
        notes.append("transparent pixels shown over neutral grey")
        return composited, notes
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
    elif mode in ("L", "1"):
        notes.append("greyscale copied to R, G and B")
    elif mode == "P":
        notes.append("palette colours expanded to RGB")
    if mode != "RGB":
        image = image.convert("RGB")
    return image, notes


def load_image_with_info(
    data: bytes,
    filename: str | None = None,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    max_side: int | None = DEFAULT_MAX_SIDE,
    background: tuple[int, int, int] = BACKGROUND,
) -> LoadedImage:
    """Decode user bytes into an upright RGB image, or raise ``ImageInputError`` with a one-line reason.

    ``max_side``: shrink (keeping the aspect ratio) so the longer side is at most this; None keeps
    the decoded size. Shrinking happens during JPEG decoding when possible (draft mode).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageInputError("no image data was received.")
    size = len(data)
    if size == 0:
        raise ImageInputError(f"{_name(filename)} is empty (0 bytes).")
    if size > max_bytes:
        raise ImageInputError(
            f"{_name(filename)} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB."
        )
    image = _open(bytes(data), filename)
    _check_pixels(image, filename, max_pixels)  # from the header, before decoding
    fmt = image.format or "?"
    original_size, original_mode = image.size, image.mode
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if getattr(image, "is_animated", False):
                image.seek(0)
                notes.append("animated image: the first frame is used")
            if max_side is not None and fmt == "JPEG" and max(image.size) > 2 * max_side:
                image.draft("RGB", (max_side, max_side))  # decode at a reduced DCT scale
            orientation = image.getexif().get(0x0112, 1)
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageInputError(f"{_name(filename)} declares too many pixels to decode safely.") from error
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as error:
        raise ImageInputError(f"{_name(filename)} is damaged or truncated and could not be decoded.") from error
    if upright is not None and upright is not image:
        if orientation not in (None, 1):
            notes.append("rotated upright using its EXIF orientation")
        image = upright
    rgb, mode_notes = to_rgb(image, background)
    notes.extend(mode_notes)
    if max_side is not None and max(rgb.size) > max_side:
        rgb = rgb.copy()
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        notes.append(f"shrunk to {rgb.size[0]} x {rgb.size[1]} for display")
    elif rgb is image:
        rgb = rgb.copy()  # detach from the lazily opened file
    return LoadedImage(rgb, fmt, original_size, original_mode, notes)


def load_image(data: bytes, filename: str | None = None, **limits: object) -> Image.Image:
    """Decode user bytes into an upright RGB ``PIL.Image``; raises ``ImageInputError`` (a ValueError)."""
    return load_image_with_info(data, filename, **limits).image  # type: ignore[arg-type]


def to_square(
    image: Image.Image, mode: str = "pad", background: tuple[int, int, int] = BACKGROUND
) -> Image.Image:
    """Make an image square for a square-input model.

    ``"pad"`` (letterbox): keep the whole picture, fill the short side with ``background``.
    ``"crop"``: keep the central square, as ImageNet evaluation does; fine for ordinary photos,
    destructive for extreme aspect ratios.
    """
    if mode not in FIT_MODES:
        raise ImageInputError(f"fit must be one of {', '.join(FIT_MODES)}; got {mode!r}.")
    width, height = image.size
    if width == height:
        return image
    side = max(width, height) if mode == "pad" else min(width, height)
    if mode == "pad":
        canvas = Image.new("RGB", (side, side), background)
        canvas.paste(image.convert("RGB"), ((side - width) // 2, (side - height) // 2))
        return canvas
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side))
