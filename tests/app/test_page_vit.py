"""AppTest of app_pages/vit.py: sample images, every control, URL parameters, uploads and the camera."""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

TABS = ("Patches", "Attention", "Rollout", "Head analytics", "Resolution", "Export")


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def n_charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def switch_tab(at: AppTest, tab: str) -> AppTest:
    at.session_state["vit_tab"] = tab
    return at.run()


@pytest.fixture(scope="module")
def app(open_page: Callable[..., AppTest]) -> AppTest:
    return open_page("vit")


def test_default_sample_shows_prediction_and_patches(app: AppTest) -> None:
    assert_clean(app)
    assert app.radio(key="vit_model").value == "shapes"
    assert app.selectbox(key="vit_cls").value == "circle"
    assert n_charts(app) == 4  # top-k, training replay curve, patch grid, token matrix
    assert app.select_slider(key="vit_step").value == "shipped"  # the replay starts at the shipped model
    assert any(c.value.startswith("The shipped model.") for c in app.caption)
    captions = " ".join(c.value for c in app.caption)
    assert "It only knows these 8 classes" in captions and "8 x 8 = 64 patches" in captions
    assert app.dataframe  # the normalisation table


# each count includes the top-k chart and the training replay's curve
@pytest.mark.parametrize("tab, charts", [("Attention", 4), ("Rollout", 3), ("Head analytics", 3), ("Resolution", 4), ("Export", 2)])
def test_each_tab_renders(app: AppTest, tab: str, charts: int) -> None:
    switch_tab(app, tab)
    assert_clean(app)
    assert n_charts(app) == charts
    if tab == "Export":
        assert len(app.get("download_button")) == 4
    switch_tab(app, "Patches")


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
def test_every_control_changes_without_errors(open_page: Callable[..., AppTest]) -> None:
    at = open_page("vit")
    at.radio(key="vit_model").set_value("shapes-untrained").run()
    assert_clean(at)
    assert any("Untrained weights" in i.value for i in at.info)
    at.selectbox(key="vit_cls").set_value("star").run()
    at.number_input(key="vit_sample_seed").set_value(11).run()
    at.slider(key="vit_topk").set_value(5).run()
    assert len(json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["y"]) == 5
    at.slider(key="vit_layer").set_value(2).run()
    at.slider(key="vit_head").set_value(3).run()
    assert_clean(at)
    switch_tab(at, "Attention")
    at.slider(key="vit_patch").set_value(0).run()
    assert any("patch 0 attends to" in c.value or "patch 0 (red box)" in c.value for c in at.caption)
    switch_tab(at, "Rollout")
    at.radio(key="vit_fusion").set_value("min").run()
    at.slider(key="vit_discard").set_value(0.9).run()
    at.checkbox(key="vit_residual").uncheck().run()
    assert_clean(at)
    assert any("through layer 2" in c.value for c in at.caption)
    switch_tab(at, "Resolution")
    at.select_slider(key="vit_size").set_value(96).run()
    assert_clean(at)
    assert any("at 96 px" in c.value for c in at.caption)
    switch_tab(at, "Export")
    assert_clean(at)


def test_url_parameters_set_the_view(open_page: Callable[..., AppTest]) -> None:
    at = open_page("vit", vit_model="shapes-untrained", vit_cls="ring", vit_sample_seed="42", vit_layer="1", vit_head="2", vit_tab="Rollout",
                 vit_fusion="max", vit_discard="0.3", vit_residual="false", vit_topk="2")
    assert_clean(at)
    assert at.radio(key="vit_model").value == "shapes-untrained"
    assert at.selectbox(key="vit_cls").value == "ring" and at.number_input(key="vit_sample_seed").value == 42
    assert at.slider(key="vit_layer").value == 1 and at.slider(key="vit_head").value == 2
    assert at.radio(key="vit_fusion").value == "max" and at.slider(key="vit_discard").value == pytest.approx(0.3)
    assert at.checkbox(key="vit_residual").value is False and at.slider(key="vit_topk").value == 2
    assert not [w for w in at.warning if "from the link" in w.value]


def test_hostile_url_parameters_fall_back_with_a_warning(open_page: Callable[..., AppTest]) -> None:
    at = open_page("vit", vit_model="evil<script>", vit_cls="dragon", vit_layer="99", vit_head="-1", vit_sample_seed="inf", vit_tab="Nope")
    assert_clean(at)
    notices = [w.value for w in at.warning if "from the link" in w.value]
    assert len(notices) == 1, notices
    for name in ("vit_model", "vit_cls", "vit_layer", "vit_head", "vit_sample_seed", "vit_tab"):
        assert f"'{name}'" in notices[0]
    assert "<script>" not in notices[0]  # hostile values are never echoed
    assert at.radio(key="vit_model").value == "shapes" and at.selectbox(key="vit_cls").value == "circle"
    assert at.slider(key="vit_layer").value == at.slider(key="vit_layer").max
    assert n_charts(at) == 4  # back on the first tab


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    at.file_uploader(key="vit_upload").upload(name, data, mime)
    return at.run()


@pytest.fixture(scope="module")
def upload_app(open_page: Callable[..., AppTest]) -> AppTest:
    return open_page("vit", vit_source="Upload")


def test_upload_prompt_without_file(upload_app: AppTest) -> None:
    assert_clean(upload_app)
    assert any("Upload an image" in i.value for i in upload_app.info)
    # the size limit in the uploader's help AND as visible text (phones have no hover)
    limit = f"{upload_app.get('file_uploader')[0].proto.max_upload_size_mb} MB"
    assert f"up to {limit}" in upload_app.get("file_uploader")[0].proto.help
    assert any(c.value.startswith(f"Files up to {limit}.") for c in upload_app.caption)


def bomb_header() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


BAD_UPLOADS = {
    "empty.png": (b"", "empty"),
    "notes.png": (b"just some text\n" * 20, "not a png"),
    "broken.jpg": (encode(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")[:200], "damaged"),
    "bomb.png": (bomb_header(), "pixels"),
}


@pytest.mark.parametrize(
    # fast lane: a non-image and a decompression bomb; the others run in the full lane (load_image's unit tests cover them)
    "name", [pytest.param(name, marks=pytest.mark.slow) if name in ("empty.png", "broken.jpg") else name for name in BAD_UPLOADS]
)
def test_bad_uploads_get_one_line_errors(open_page: Callable[..., AppTest], name: str) -> None:
    at = open_page("vit", vit_source="Upload")
    data, fragment = BAD_UPLOADS[name]
    upload(at, name, data)
    assert_clean(at)
    assert len(at.error) == 1 and fragment in at.error[0].value.lower() and "\n" not in at.error[0].value
    assert n_charts(at) == 0


def odd_images() -> dict[str, tuple[bytes, str]]:
    rgba = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    palette = Image.new("P", (16, 16), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 0, 255))]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], loop=0)
    exif = Image.Exif()
    exif[0x0112] = 6
    return {
        "photo.jpg": (encode(Image.new("RGB", (300, 200), (30, 90, 200)), "JPEG"), "image/jpeg"),
        "cmyk.jpg": (encode(Image.new("CMYK", (50, 50), (0, 255, 255, 0)), "JPEG"), "image/jpeg"),
        "rgba.png": (encode(rgba, "PNG"), "image/png"),
        "palette.png": (encode(palette, "PNG", transparency=1), "image/png"),
        "grey.png": (encode(Image.new("L", (30, 30), 90), "PNG"), "image/png"),
        "deep.png": (encode(Image.fromarray(np.full((20, 20), 40000, np.uint16)), "PNG"), "image/png"),
        "rotated.jpg": (encode(Image.new("RGB", (60, 30), (0, 200, 0)), "JPEG", exif=exif), "image/jpeg"),
        "dot.bmp": (encode(Image.new("RGB", (1, 1), (9, 9, 9)), "BMP"), "image/bmp"),
        "anim.gif": (gif.getvalue(), "image/gif"),
        "strip.webp": (encode(Image.new("RGB", (4000, 10), (200, 0, 0)), "WEBP"), "image/webp"),
    }


@pytest.mark.parametrize("name", list(odd_images()))
def test_odd_but_valid_uploads_are_analysed(upload_app: AppTest, name: str) -> None:
    data, mime = odd_images()[name]
    upload_app.file_uploader(key="vit_upload").set_value((name, data, mime))
    upload_app.run()
    assert_clean(upload_app)
    assert not upload_app.error, [e.value for e in upload_app.error]
    assert n_charts(upload_app) == 4
    assert any(c.value.startswith("Read as ") for c in upload_app.caption)


def test_upload_notes_and_fit_mode(upload_app: AppTest) -> None:
    data, mime = odd_images()["strip.webp"]
    upload_app.file_uploader(key="vit_upload").set_value(("strip.webp", data, mime))
    upload_app.radio(key="vit_fit").set_value("crop").run()
    assert_clean(upload_app)
    assert any("4000 x 10" in c.value for c in upload_app.caption)
    switch_tab(upload_app, "Resolution")
    assert_clean(upload_app)
    assert n_charts(upload_app) == 3 + 1  # top-k + replay curve + resolution overlays + statistics
    switch_tab(upload_app, "Patches")


def test_camera_photo(open_page: Callable[..., AppTest]) -> None:
    at = open_page("vit", vit_source="Camera")
    assert_clean(at)
    at.camera_input(key="vit_camera").set_value(("shot.jpg", encode(Image.new("RGB", (64, 48), (120, 60, 30)), "JPEG"), "image/jpeg"))
    at.run()
    assert_clean(at)
    assert not at.error and n_charts(at) == 4


def test_a_rerun_reuses_the_encoded_images(open_page: Callable[..., AppTest]) -> None:
    """A rerun of the same view encodes no image again (the view is shared by ui.cache, and its PNG data
    URIs are cached process-wide, bounded)."""
    from explorer.figures import vit as figs

    for tab in ("Patches", "Attention", "Resolution"):
        at = open_page("vit", vit_tab=tab)
        assert_clean(at)
        before = figs._cached_data_uri.cache_info()
        at.run()
        after = figs._cached_data_uri.cache_info()
        assert after.misses == before.misses, (tab, before, after)
        assert after.currsize <= figs.URI_CACHE_ENTRIES
