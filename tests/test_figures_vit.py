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
