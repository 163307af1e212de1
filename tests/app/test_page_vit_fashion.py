"""AppTest of the ViT page's Fashion-MNIST model, the real-photo source and the honesty notices (issue 17)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from explorer.tasks import fashion


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def texts(at: AppTest) -> str:
    parts = [c.value for c in at.caption] + [w.value for w in at.warning] + [i.value for i in at.info] + [m.value for m in at.markdown]
    return " ".join(str(p) for p in parts)


@pytest.fixture(scope="module")
def app(open_page: Callable[..., AppTest]) -> AppTest:
    return open_page("vit", vit_model="fashion")


def test_fashion_samples_by_class(app: AppTest) -> None:
    assert_clean(app)
    assert app.radio(key="vit_model").value == "fashion"
    assert app.selectbox(key="vit_cls").options == list(fashion.CLASSES)
    assert "Held-out Fashion-MNIST test images" in texts(app)
    assert "4 x 4 = 16 patches of 7 x 7 pixels" in texts(app)
    assert "It only knows these 10 classes" in texts(app)
    app.selectbox(key="vit_cls").set_value("sneaker").run()
    assert_clean(app)
    assert not [w for w in app.warning if "unlike anything" in w.value]  # a held-out sample is in distribution


@pytest.mark.parametrize("tab", ["Attention", "Rollout", "Head analytics", "Resolution", "Export"])
def test_every_tab_works_at_28_pixels(app: AppTest, tab: str) -> None:
    app.session_state["vit_tab"] = tab
    app.run()
    assert_clean(app)
    app.session_state["vit_tab"] = "Patches"


def test_photo_source_says_the_model_does_not_know_cats(app: AppTest) -> None:
    app.segmented_control(key="vit_source").set_value("Photo").run()
    assert_clean(app)
    app.selectbox(key="vit_photo").set_value("chelsea").run()
    assert_clean(app)
    assert "Neither model knows cats" in texts(app)
    assert any("unlike anything the model was trained on" in w.value for w in app.warning)
    assert any("grayscale" in str(c.value) for c in app.caption) or len(app.get("imgs")) >= 5  # the steps are shown


def test_switching_models_keeps_the_page_valid(app: AppTest) -> None:
    app.radio(key="vit_model").set_value("shapes").run()
    assert_clean(app)
    app.segmented_control(key="vit_source").set_value("Sample").run()
    assert_clean(app)
    assert app.selectbox(key="vit_cls").value == "circle"
    app.radio(key="vit_model").set_value("fashion").run()
    assert_clean(app)


def test_upload_source_states_the_size_limit_on_the_page(open_page: Callable[..., AppTest]) -> None:
    at = open_page("vit", vit_model="fashion", vit_source="Upload")
    assert_clean(at)
    # AppTest cannot drive a file uploader (the browser test does); the limit is said on the page, not only in its tooltip
    assert "Files up to 10 MB" in texts(at) and "rather than an earlier one" in texts(at)
    assert "Upload an image or take a photo to begin" in texts(at)


def test_phone_photo_upload_shows_the_steps_and_a_sensible_answer(open_page: Callable[..., AppTest]) -> None:
    import io

    import numpy as np

    from explorer.inputs.fashion_look import phone_photo_like
    from explorer.training.fashion import HELDOUT_FILE

    with np.load(HELDOUT_FILE) as data:
        picks = [i for i, y in enumerate(data["labels"]) if y == fashion.CLASSES.index("trouser")]
        image = data["images"][picks[0]]
    buffer = io.BytesIO()
    phone_photo_like(image, np.random.default_rng(1)).save(buffer, format="JPEG", quality=90)
    at = open_page("vit", vit_model="fashion", vit_source="Upload")
    at.file_uploader(key="vit_upload").set_value(("garment.jpg", buffer.getvalue(), "image/jpeg"))
    at.run()
    assert_clean(at)
    shown = texts(at)
    for step in ("grayscale", "dark background", "inverted", "background to black", "centred crop", "resize to 28 x 28"):
        assert step in shown, step
    assert not [w for w in at.warning if "unlike anything" in w.value]
