"""Widget groups of the ViT page that are more than one control: the upload/camera input and the training replay.

Kept out of ``app_pages/vit.py`` so the page reads as widgets -> view -> place; the numbers come
from ``explorer.views.vit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st
from PIL import Image

from explorer.inputs import images
from explorer.views import vit as views
from explorer.views import vit_sources as sources
from ui import cache

if TYPE_CHECKING:
    from explorer.lab.vit_snapshots import ViTSnapshots


def training_snapshots() -> tuple[ViTSnapshots | None, str | None]:
    """The shapes ViT's training snapshots (shared, read once), or None and the one-line reason they are unusable."""
    try:
        return cache.vit_snapshots(), None
    except ValueError as error:
        return None, str(error)


def uploaded_image(source: str, is_fashion: bool) -> tuple[Image.Image, str]:
    """The uploaded (``source`` "Upload") or camera image, upright, and the square-fit mode.

    Stops the page with a prompt while there is no image, and with the decoder's one-line message
    when the file is not a usable image.
    """
    if source == "Upload":
        limit_mb = int(st.get_option("server.maxUploadSize"))
        upload = st.file_uploader(
            "Upload an image", type=list(images.ACCEPTED_EXTENSIONS), key="vit_upload",
            help=f"PNG, JPEG, WebP, GIF (first frame) or BMP, up to {limit_mb} MB. Shared links keep the view settings, not the image.",
        )
        # Visible text, not only the help tooltip: phones have no hover.
        st.caption(f"Files up to {limit_mb} MB. A larger file is refused by the uploader (its red message) and is "
                   "never analysed; this page then shows no image at all rather than an earlier one.")
    else:
        upload = st.camera_input("Take a photo", key="vit_camera")
    fit = "pad" if is_fashion else st.radio(
        "Make it square by", images.FIT_MODES, key="vit_fit", bind="query-params", horizontal=True,
        captions=("letterbox with grey, keep everything", "keep the central square"),
        help="The model only takes squares. Padding keeps the whole picture (vital for a 4000 x 10 strip); "
             "cropping keeps the centre at full size, as ImageNet evaluation does.",
    )
    if upload is None:
        st.info("Upload an image or take a photo to begin (or switch to a sample).")
        st.stop()
    try:
        loaded = cache.decoded_upload(upload.getvalue(), upload.name)
    except images.ImageInputError as error:
        st.error(str(error))
        st.stop()
    st.image(sources.thumbnail(loaded.image), caption="Your image, upright (letterboxed here for display)", width=200)
    facts = f"{loaded.format}, {loaded.original_size[0]} x {loaded.original_size[1]}, mode {loaded.original_mode}"
    st.caption(f"Read as {facts}." + (" " + "; ".join(loaded.notes).capitalize() + "." if loaded.notes else ""))
    return loaded.image, str(fit)


def training_replay(snaps: ViTSnapshots | None, error: str | None, choices: tuple[str, ...]) -> int | None:
    """The ``vit_step`` slider with the training curve and the snapshot's numbers beside it.

    Returns the chosen snapshot's step, or None for the shipped model (also when the snapshots are
    unusable: then a one-line notice says why).
    """
    # No format_func: with one, Streamlit writes the formatted label, not the option, into the link.
    with st.container(border=True):
        left, right = st.columns([1, 2])
        if snaps is None:
            left.info(f"The training replay is unavailable: {error}")
            return None
        option = left.select_slider(
            "Training step (replay the training run)", choices, views.SHIPPED_STEP, key="vit_step", bind="query-params",
            help="Every view below shows the model after this many optimiser steps; the last stop is the shipped model.")
        step = views.parse_step(option)
        shown = cache.vit_training_view(step)
        left.metric("Held-out accuracy", f"{shown.accuracy:.1%}")
        left.metric("[CLS] rollout on the object", f"{shown.box_ratio:.2f}x uniform")
        right.plotly_chart(shown.figure, key="vit_training_chart")
        st.caption(shown.caption)
    return step
