"""ViT figure builders: pure arrays -> figures/bytes, with the structure the page relies on."""

from __future__ import annotations

import csv
import io

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from explorer.figures import vit as figs

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 255, (32, 32, 3), dtype=np.uint8)


def softmax_maps(shape: tuple[int, ...]) -> np.ndarray:
    logits = RNG.normal(size=shape)
    flat = np.exp(logits.reshape(*shape[:-2], -1))
    return (flat / flat.sum(-1, keepdims=True)).reshape(shape)


def test_patch_grid_figure_draws_grid_and_indices() -> None:
    fig = figs.patch_grid_figure(IMAGE, patch_size=4)
    assert isinstance(fig.data[0], go.Image) and fig.data[0].source.startswith("data:image/png;base64,")
    grid = [t for t in fig.data if t.name == "grid"][0]
    assert list(grid.x).count(None) == 9 + 9  # 8 x 8 grid: 9 vertical + 9 horizontal segments
    texts = [t for t in fig.data if isinstance(t, go.Scatter) and t.mode == "text"][0].text
    assert list(texts) == [str(i) for i in range(64)]
    fig_box = figs.patch_grid_figure(IMAGE, patch_size=4, show_indices=False, highlight=9)
    assert len(fig_box.layout.shapes) == 1 and not any(t.mode == "text" for t in fig_box.data if isinstance(t, go.Scatter))
    x0, y0 = fig_box.layout.shapes[0].x0, fig_box.layout.shapes[0].y0
    assert (x0, y0) == (4, 4)  # patch 9 = row 1, col 1


def test_heatmap_lies_on_the_patches() -> None:
    grid_map = np.zeros((8, 8))
    grid_map[2, 5] = 1.0
    fig = figs.overlays_figure([figs.Panel(IMAGE, grid_map, 4, "one")])
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)][0]
    assert heat.x0 == 2 and heat.dx == 4 and heat.y0 == 2 and heat.dy == 4  # patch (r, c) centred at (4c+2, 4r+2)
    assert np.asarray(heat.z)[2, 5] == 1.0
    assert np.asarray(heat.customdata)[2, 5] == 2 * 8 + 5
    assert tuple(fig.layout.yaxis.range) == (32, 0)  # image rows go down


def test_overlays_separate_or_shared_scale() -> None:
    a, b = np.full((4, 4), 0.1), np.full((4, 4), 0.5)
    panels = [figs.Panel(IMAGE, a, 8, "a"), figs.Panel(IMAGE, b, 8, "b", highlight=3)]
    separate = figs.overlays_figure(panels)
    heats = [t for t in separate.data if isinstance(t, go.Heatmap)]
    assert len(heats) == 2 and all(h.coloraxis is None for h in heats)
    assert len(separate.layout.shapes) == 1  # the highlighted patch
    shared = figs.overlays_figure(panels, shared_scale=True)
    assert all(t.coloraxis == "coloraxis" for t in shared.data if isinstance(t, go.Heatmap))
    assert shared.layout.coloraxis.cmax == pytest.approx(0.5)


def test_overview_is_one_figure_on_one_scale() -> None:
    maps = softmax_maps((4, 3, 8, 8))
    fig = figs.overview_figure(maps)
    heats = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heats) == 1  # one trace: one colour scale by construction
    z = np.asarray(heats[0].z, dtype=float)
    assert z.shape == (4 * 9 - 1, 3 * 9 - 1)
    np.testing.assert_allclose(z[9:17, 18:26], np.round(maps[1, 2], 4))  # layer 2, head 3 tile
    assert np.isnan(z[8]).all() and np.isnan(z[:, 8]).all()  # gaps between tiles
    assert heats[0].zmin == 0 and heats[0].zmax == pytest.approx(maps.max())
    assert list(fig.layout.xaxis.ticktext) == ["head 1", "head 2", "head 3"]
    assert list(fig.layout.yaxis.ticktext)[-1] == "layer 4"
    assert tuple(np.asarray(heats[0].customdata)[9, 18]) == (2, 3, 0)


def test_topk_figure_orders_as_given() -> None:
    fig = figs.topk_figure(["star", "ring"], [0.7, 0.2])
    assert list(fig.data[0].y) == ["star", "ring"] and list(fig.data[0].x) == [0.7, 0.2]
    assert fig.layout.yaxis.autorange == "reversed"


def test_head_statistics_one_marker_per_head_per_series() -> None:
    dist, ent = RNG.random((4, 3)), RNG.random((4, 3))
    fig = figs.head_statistics_figure({"32 px": (dist, ent), "64 px": (dist * 2, ent)})
    assert len(fig.data) == 4  # 2 series x (distance, entropy)
    assert all(len(t.y) == 12 for t in fig.data)
    np.testing.assert_allclose(fig.data[0].y, np.round(dist.ravel(), 4))


def test_token_matrix_and_sequence_strip() -> None:
    vectors = RNG.normal(size=(64, 48))
    fig = figs.token_matrix_figure(vectors)
    assert np.asarray(fig.data[0].z).shape == (64, 48) and fig.data[0].zmid == 0
    strip = figs.sequence_strip(IMAGE, 4, per_row=13, scale=2, gap=1)
    assert strip.dtype == np.uint8 and strip.shape == (5 * 9, 13 * 9, 3)  # 65 tokens -> 5 rows of 13


def test_overlay_png_size_and_blend() -> None:
    grid_map = np.zeros((8, 8))
    grid_map[0, 0] = 1.0
    data = figs.overlay_png(np.zeros((32, 32, 3), np.uint8), grid_map, alpha=1.0, size=64)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (64, 64)
    pixels = np.asarray(image.convert("RGB"))
    assert pixels[0, 0].tolist() != pixels[63, 63].tolist()  # hot patch differs from cold ones
    with pytest.raises(ValueError):
        figs.overlay_png(IMAGE, grid_map, alpha=1.5)


def test_colourise_constant_map() -> None:
    colours = figs.colourise(np.ones((3, 3)))
    assert colours.shape == (3, 3, 3) and len({tuple(c) for c in colours.reshape(-1, 3)}) == 1


def test_npz_and_csv_exports_round_trip() -> None:
    attention = softmax_maps((2, 3, 5, 5))
    maps = attention[:, :, 0, 1:].reshape(2, 3, 2, 2)
    archive = np.load(io.BytesIO(figs.attention_npz(attention, cls_maps=maps, grid=np.array([2, 2]))))
    np.testing.assert_allclose(archive["attention"], attention, atol=1e-6)
    assert archive["cls_maps"].shape == (2, 3, 2, 2) and list(archive["grid"]) == [2, 2]
    rows = list(csv.DictReader(io.StringIO(figs.cls_attention_csv(maps))))
    assert len(rows) == 2 * 3 * 4
    last = rows[-1]
    assert (last["layer"], last["head"], last["patch"], last["row"], last["col"]) == ("2", "3", "3", "1", "1")
    assert float(last["weight"]) == pytest.approx(maps[1, 2, 1, 1], rel=1e-5)


def test_default_figures_are_small() -> None:
    maps = softmax_maps((4, 4, 8, 8))
    total = sum(len(f.to_json()) for f in (
        figs.patch_grid_figure(IMAGE, 4), figs.overview_figure(maps),
        figs.overlays_figure([figs.Panel(IMAGE, maps[0, 0], 4, "a"), figs.Panel(IMAGE, maps[0, 1], 4, "b")]),
        figs.token_matrix_figure(RNG.normal(size=(64, 48))),
    ))
    assert total < 500_000


def test_pickable_overlay_and_picked_patch() -> None:
    fig = figs.overlays_figure([figs.Panel(IMAGE, np.zeros((8, 8)), 4, "a")], pickable=True)
    pick = [t for t in fig.data if isinstance(t, go.Scatter)]
    assert len(pick) == 1 and list(pick[0].customdata) == list(range(64))
    assert fig.layout.clickmode == "event+select"
    assert figs.picked_patch([{"x": 6.0, "y": 10.0}], (8, 8), 4) == 2 * 8 + 1  # row 2, col 1
    assert figs.picked_patch([{"x": 40.0, "y": 1.0}], (8, 8), 4) is None  # outside the image
    assert figs.picked_patch([{"curve_number": 0}], (8, 8), 4) is None
    assert not any(isinstance(t, go.Scatter) for t in figs.overlays_figure([figs.Panel(IMAGE, np.zeros((8, 8)), 4, "a")]).data)


# --- The builders write each figure as one dict instead of make_subplots + add_trace + update_* calls
# (several times cheaper per page rerun). ``reference_vit_figures`` keeps the builders they replaced:
# the JSON a student's browser gets must stay the same, float for float.

import json  # noqa: E402

import reference_vit_figures as ref  # noqa: E402


def _spec(fig: go.Figure) -> dict:
    return json.loads(fig.to_json())


def _image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)


@pytest.mark.parametrize(("shape", "patch"), [((32, 32, 3), 4), ((64, 64, 3), 4), ((128, 128, 3), 16), ((48, 48, 3), 8), ((30, 34, 3), 4)])
def test_patch_grid_figure_matches_the_old_builder(shape: tuple[int, ...], patch: int) -> None:
    image = _image(shape)
    for kwargs in ({}, {"highlight": 3, "title": "t <b>"}, {"show_indices": False, "highlight": 0}, {"title": ""}, {"highlight": 10_000}):
        assert _spec(figs.patch_grid_figure(image, patch, **kwargs)) == _spec(ref.patch_grid_figure(image, patch, **kwargs))
    floats = np.random.default_rng(1).random(shape)  # float images in [0, 1] and PIL images take the same path
    assert _spec(figs.patch_grid_figure(floats, patch)) == _spec(ref.patch_grid_figure(floats, patch))
    pil = Image.fromarray(image)
    assert _spec(figs.patch_grid_figure(pil, patch)) == _spec(ref.patch_grid_figure(pil, patch))


@pytest.mark.parametrize("k", [1, 3, 8])
def test_topk_and_token_matrix_match_the_old_builders(k: int) -> None:
    probs = np.sort(np.random.default_rng(k).dirichlet(np.ones(8)))[::-1][:k]
    names = [f"class {i}" for i in range(k)]
    assert _spec(figs.topk_figure(names, probs)) == _spec(ref.topk_figure(names, probs))
    vectors = np.random.default_rng(k).normal(size=(k * 8, 48))
    for title in (None, "x_p", ""):
        assert _spec(figs.token_matrix_figure(vectors, title)) == _spec(ref.token_matrix_figure(vectors, title))
    assert _spec(figs.token_matrix_figure(np.zeros((4, 3)))) == _spec(ref.token_matrix_figure(np.zeros((4, 3))))


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("kwargs", [{}, {"pickable": True}, {"shared_scale": True}, {"opacity": 0.3, "height": 200, "pickable": True}])
def test_overlays_figure_matches_make_subplots(n: int, kwargs: dict) -> None:
    small, big = _image((32, 32, 3), 1), _image((128, 128, 3), 2)  # the model size and the largest resolution
    panels = [
        figs.Panel(small, softmax_maps((8, 8)), 4, f"panel <{i}>", highlight=i * 5 if i % 2 else None) if i % 2 == 0
        else figs.Panel(big, softmax_maps((32, 32)), 4, f"big {i}", highlight=i * 7)
        for i in range(n)
    ]
    assert _spec(figs.overlays_figure(panels, **kwargs)) == _spec(ref.overlays_figure(panels, **kwargs))


@pytest.mark.parametrize(("shape", "offset", "gap"), [((4, 4, 8, 8), 1, 1), ((1, 1, 2, 2), 1, 1), ((2, 3, 4, 5), 3, 2), ((4, 4, 16, 16), 1, 0)])
def test_overview_figure_matches_the_old_builder(shape: tuple[int, ...], offset: int, gap: int) -> None:
    maps = softmax_maps(shape)
    assert _spec(figs.overview_figure(maps, offset, gap)) == _spec(ref.overview_figure(maps, offset, gap))


@pytest.mark.parametrize("n_series", [1, 2, 5])
def test_head_statistics_figure_matches_make_subplots(n_series: int) -> None:
    series = {f"{32 * (s + 1)} px": (RNG.random((4, 4)) * 20, RNG.random((4, 4)) * 4) for s in range(n_series)}
    assert _spec(figs.head_statistics_figure(series)) == _spec(ref.head_statistics_figure(series))
    one_head = {"x": (RNG.random((3, 1)), RNG.random((3, 1)))}
    assert _spec(figs.head_statistics_figure(one_head, layer_offset=0)) == _spec(ref.head_statistics_figure(one_head, layer_offset=0))


@pytest.mark.parametrize(("shape", "patch", "kwargs"), [
    ((32, 32, 3), 4, {}), ((32, 32, 3), 4, {"per_row": 13, "scale": 2, "gap": 1}), ((34, 30, 3), 4, {}),
    ((64, 64, 3), 8, {"per_row": 5}), ((4, 4, 3), 4, {}), ((2, 2, 3), 4, {}), ((32, 32, 3), 4, {"gap": 0}), ((32, 32), 4, {}),
])
def test_sequence_strip_matches_the_old_loop(shape: tuple[int, ...], patch: int, kwargs: dict) -> None:
    image = _image(shape)
    new, old = figs.sequence_strip(image, patch, **kwargs), ref.sequence_strip(image, patch, **kwargs)
    assert new.dtype == old.dtype and new.shape == old.shape and np.array_equal(new, old)


def test_image_uris_are_cached_bounded_and_equal_to_fresh_encodings() -> None:
    image = _image((32, 32, 3), 7)
    uri = figs.data_uri(image)
    assert uri == ref.data_uri(image)  # same PNG, same upscale factor
    before = figs._cached_data_uri.cache_info()
    assert figs.data_uri(image.copy()) == uri  # keyed by the pixels, not by the array object
    assert figs._cached_data_uri.cache_info().hits == before.hits + 1
    assert figs.data_uri(_image((32, 32, 3), 8)) != uri and figs.data_uri(image, 64) == ref.data_uri(image, 64)
    assert figs.data_uri(Image.fromarray(image)) == uri and figs.data_uri(image / 255.0) == ref.data_uri(image / 255.0)
    assert isinstance(uri[0], str)  # immutable: sharing it between sessions is safe
    assert figs._cached_data_uri.cache_info().maxsize == figs.URI_CACHE_ENTRIES
    for seed in range(figs.URI_CACHE_ENTRIES + 3):
        figs.data_uri(_image((8, 8, 3), 100 + seed))
    assert figs._cached_data_uri.cache_info().currsize <= figs.URI_CACHE_ENTRIES
    huge = _image((300, 300, 3), 9)  # above URI_CACHE_MAX_BYTES: encoded, never kept
    size = figs._cached_data_uri.cache_info().currsize
    misses = figs._cached_data_uri.cache_info().misses
    assert figs.data_uri(huge) == ref.data_uri(huge)
    assert figs._cached_data_uri.cache_info().misses == misses and figs._cached_data_uri.cache_info().currsize == size
