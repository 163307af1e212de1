"""ViT figure builders: pure arrays -> figures/bytes, with the structure the page relies on."""

from __future__ import annotations

import base64
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
    np.testing.assert_allclose(z[9:17, 18:26], np.round(maps[1, 2], 4))  # layer 1, head 2 tile (numbered from 0)
    assert np.isnan(z[8]).all() and np.isnan(z[:, 8]).all()  # gaps between tiles
    assert heats[0].zmin == 0 and heats[0].zmax == pytest.approx(maps.max())
    assert list(fig.layout.xaxis.ticktext) == ["head 0", "head 1", "head 2"]
    assert list(fig.layout.yaxis.ticktext)[-1] == "layer 3"
    assert tuple(np.asarray(heats[0].customdata)[9, 18]) == (1, 2, 0)


def test_topk_figure_orders_as_given() -> None:
    fig = figs.topk_figure(["star", "ring"], [0.7, 0.2])
    assert list(fig.data[0].y) == ["star", "ring"] and list(fig.data[0].x) == [0.7, 0.2]
    assert fig.layout.yaxis.autorange == "reversed"


def test_head_statistics_one_marker_per_head_per_series_and_a_legend_for_the_colours() -> None:
    dist, ent = RNG.random((4, 3)), RNG.random((4, 3))
    fig = figs.head_statistics_figure({"32 px": (dist, ent), "64 px": (dist * 2, ent)})
    markers = [t for t in fig.data if t.x[0] is not None]
    assert len(markers) == 2 * 3 * 2  # series x heads x (distance, entropy)
    assert sum(len(t.y) for t in markers) == 2 * 2 * 12
    np.testing.assert_allclose(markers[0].y, np.round(dist[:, 0], 4))
    legend = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in legend] == ["head 0", "head 1", "head 2", "32 px", "64 px"]
    # a head's legend colour is its markers' colour; the series differ by symbol
    for head in range(3):
        assert {t.marker.color for t in markers if t.name == f"head {head}"} == {legend[head].marker.color}
    assert legend[3].marker.symbol != legend[4].marker.symbol


def test_overlay_cells_take_the_colour_bars_colours() -> None:
    """Over a grey image the strongest cell is the colour bar's top colour at 90% opacity: its hue is on the bar."""
    grid_map = np.zeros((8, 8))
    grid_map[2, 3] = 1.0
    magenta = np.zeros((32, 32, 3), np.uint8)
    magenta[..., 0] = magenta[..., 2] = 200
    fig = figs.overlays_figure([figs.Panel(magenta, grid_map, 4, "t")])
    image, heat = fig.data[0], fig.data[1]
    assert heat.opacity == 1 and heat.colorscale[-1][1].startswith("rgba(253,231,37,")  # Viridis' top, nearly opaque
    assert float(heat.colorscale[0][1].rsplit(",", 1)[1].rstrip(")")) < float(heat.colorscale[-1][1].rsplit(",", 1)[1].rstrip(")"))
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(image.source.split(",", 1)[1]))).convert("RGB"))
    assert np.ptp(pixels.astype(int), axis=-1).max() == 0  # the image under the map is grey


def test_topk_labels_every_bar_even_near_zero() -> None:
    fig = figs.topk_figure(["a", "b", "c"], [0.9995, 0.0004, 0.0001])
    assert list(fig.data[0].text) == ["100.0%", "<0.1%", "<0.1%"]
    assert list(fig.data[0].textposition) == ["inside", "outside", "outside"]
    assert figs.probability_label(0.0012) == "0.1%"


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


# --- Behaviour the page relies on: valid JSON, one colour axis where one is promised, gaps drawn as
# gaps, bounded caches and sizes.

import json  # noqa: E402


def _spec(fig: go.Figure) -> dict:
    return json.loads(fig.to_json())


def _image(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)


@pytest.mark.parametrize(("shape", "patch"), [((32, 32, 3), 4), ((64, 64, 3), 4), ((128, 128, 3), 16), ((30, 34, 3), 4)])
def test_patch_grid_figure_covers_the_image_whatever_its_form(shape: tuple[int, ...], patch: int) -> None:
    image = _image(shape)
    gh, gw = shape[0] // patch, shape[1] // patch
    spec = _spec(figs.patch_grid_figure(image, patch, highlight=10_000, title="t <b>"))
    assert spec["layout"]["xaxis"]["range"] == [0, shape[1]] and spec["layout"]["yaxis"]["range"] == [shape[0], 0]
    assert "shapes" not in spec["layout"], "an out-of-range highlight draws no box"
    assert spec["data"][2]["text"] == [str(i) for i in range(gh * gw)]
    same = [_spec(figs.patch_grid_figure(x, patch))["data"][0]["source"] for x in (image, image / 255.0, Image.fromarray(image))]
    assert same[0] == same[1] == same[2], "uint8, float and PIL inputs draw the same pixels"


def test_topk_bars_are_sorted_labelled_and_capped_at_one() -> None:
    spec = _spec(figs.topk_figure(["cat", "dog"], [0.75, 0.25]))
    assert spec["data"][0]["text"] == ["75.0%", "25.0%"] and spec["layout"]["xaxis"]["range"] == [0, 1]
    assert spec["layout"]["yaxis"]["autorange"] == "reversed", "most likely class on top"


def test_token_matrix_has_a_symmetric_diverging_scale() -> None:
    vectors = np.random.default_rng(3).normal(size=(8, 48))
    trace = _spec(figs.token_matrix_figure(vectors))["data"][0]
    assert trace["zmid"] == 0 and trace["zmin"] == -trace["zmax"] == pytest.approx(-np.abs(vectors).max(), abs=1e-4)
    flat = _spec(figs.token_matrix_figure(np.zeros((4, 3))))["data"][0]
    assert flat["zmax"] == 1.0, "an all-zero matrix still gets a usable range"


@pytest.mark.parametrize("n", [1, 3])
def test_overlay_panels_keep_titles_and_one_axis_pair_each(n: int) -> None:
    panels = [figs.Panel(_image((32, 32, 3), i), softmax_maps((8, 8)), 4, f"panel <{i}>", highlight=i) for i in range(n)]
    spec = _spec(figs.overlays_figure(panels, pickable=True))
    assert [a["text"] for a in spec["layout"]["annotations"]] == [p.title for p in panels]
    assert len(spec["layout"]["shapes"]) == n and {t["type"] for t in spec["data"]} == {"image", "heatmap", "scatter"}
    assert len({(t["xaxis"], t["yaxis"]) for t in spec["data"]}) == n
    shared = _spec(figs.overlays_figure(panels, shared_scale=True))
    assert all(t.get("coloraxis") == "coloraxis" for t in shared["data"] if t["type"] == "heatmap")


def test_overview_is_one_trace_on_one_scale_with_gaps_as_gaps() -> None:
    maps = softmax_maps((2, 3, 4, 4))
    fig = figs.overview_figure(maps, layer_offset=0, gap=1)
    spec = _spec(fig)
    assert len(spec["data"]) == 1 and spec["data"][0]["hoverongaps"] is False
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (2 * 5 - 1, 3 * 5 - 1) and np.isnan(z[4]).all() and np.isnan(z[:, 4]).all()
    assert spec["data"][0]["zmax"] == pytest.approx(maps.max()) and spec["layout"]["yaxis"]["ticktext"] == ["layer 0", "layer 1"]


@pytest.mark.parametrize(("shape", "patch", "per_row"), [((32, 32, 3), 4, 17), ((34, 30, 3), 4, 5), ((2, 2, 3), 4, 17)])
def test_sequence_strip_has_a_cell_per_token(shape: tuple[int, ...], patch: int, per_row: int) -> None:
    image = _image(shape)
    strip = figs.sequence_strip(image, patch, per_row=per_row, scale=2, gap=1)
    n_tokens = 1 + (shape[0] // patch) * (shape[1] // patch)
    cell = patch * 2 + 1
    assert strip.dtype == np.uint8 and strip.shape == (-(-n_tokens // per_row) * cell, per_row * cell, 3)
    if n_tokens > 1:  # the first patch sits in the second cell, upscaled
        assert np.array_equal(strip[0:2 * patch:2, cell:cell + 2 * patch:2], image[:patch, :patch])


def test_image_uris_are_cached_bounded_and_equal_to_fresh_encodings() -> None:
    image = _image((32, 32, 3), 7)
    uri = figs.data_uri(image)
    assert uri == figs._cached_data_uri.__wrapped__(image.tobytes(), image.shape, figs.DISPLAY_PX)
    before = figs._cached_data_uri.cache_info()
    assert figs.data_uri(image.copy()) == uri  # keyed by the pixels, not by the array object
    assert figs._cached_data_uri.cache_info().hits == before.hits + 1
    assert figs.data_uri(_image((32, 32, 3), 8)) != uri and uri[1] == figs.DISPLAY_PX // 32
    assert figs.data_uri(Image.fromarray(image)) == uri
    assert isinstance(uri[0], str)  # immutable: sharing it between sessions is safe
    assert figs._cached_data_uri.cache_info().maxsize == figs.URI_CACHE_ENTRIES
    for seed in range(figs.URI_CACHE_ENTRIES + 3):
        figs.data_uri(_image((8, 8, 3), 100 + seed))
    assert figs._cached_data_uri.cache_info().currsize <= figs.URI_CACHE_ENTRIES
    huge = _image((300, 300, 3), 9)  # above URI_CACHE_MAX_BYTES: encoded, never kept
    size = figs._cached_data_uri.cache_info().currsize
    misses = figs._cached_data_uri.cache_info().misses
    assert figs.data_uri(huge)[1] == 1
    assert figs._cached_data_uri.cache_info().misses == misses and figs._cached_data_uri.cache_info().currsize == size
