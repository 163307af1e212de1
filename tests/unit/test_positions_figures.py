"""Unit tests of explorer.figures.positions: the builders draw what they are given, compactly."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from explorer.analysis import positions as pa
from explorer.figures import positions as pf


def _z(trace: go.Heatmap) -> np.ndarray:
    return np.asarray(trace.z, dtype=float)


def test_encoding_heatmap_keeps_small_tables_whole() -> None:
    table = pa.sinusoidal_table(20, 8)
    fig = pf.encoding_heatmap(table)
    trace = fig.data[0]
    assert isinstance(trace, go.Heatmap)
    assert np.allclose(_z(trace), table, atol=1e-6)
    assert trace.zmin == -1 and trace.zmax == 1
    assert fig.layout.yaxis.autorange == "reversed"
    assert "every" not in fig.layout.title.text


def test_large_matrices_are_thinned_with_true_positions() -> None:
    table = pa.sinusoidal_table(1000, 16)
    similarity = pa.position_similarity(table)
    fig = pf.similarity_heatmap(similarity, "sim")
    trace = fig.data[0]
    step = pf.display_stride(1000)
    assert step > 1 and _z(trace).shape[0] <= pf.DRAW_LIMIT
    assert list(trace.y[:3]) == [0, step, 2 * step]
    assert np.allclose(_z(trace)[1, 2], similarity[step, 2 * step], atol=1e-6)
    assert step == 3 and "every 3rd position shown" in fig.layout.title.text
    assert len(fig.to_json()) < 1_500_000  # float32 binary, not a megabyte list of decimals


def test_wave_curves_one_trace_per_dimension_with_wavelength() -> None:
    table = pa.sinusoidal_table(30, 16)
    dims = [0, 3, 8]
    fig = pf.wave_curves(table, dims, pa.wavelengths(dims, 16))
    assert len(fig.data) == 3
    assert "dim 3 (cos" in fig.data[1].name and "wavelength 6.3" in fig.data[0].name
    assert np.allclose(np.asarray(fig.data[2].y, dtype=float), table[:, 8], atol=1e-6)


def test_shift_matrix_heatmap_shows_the_corner() -> None:
    m = pa.shift_matrix(2, 32)
    fig = pf.shift_matrix_heatmap(m, 2, show=8)
    assert _z(fig.data[0]).shape == (8, 8)
    assert "M_2" in fig.layout.title.text


def test_rope_figures_draw_unit_arrows_with_labels_that_never_overlap() -> None:
    q, k = pa.random_query_key(8)
    path = pa.rope_pair_trajectory(q, 1, np.arange(5))
    fig = pf.rope_path_figure(path, list(range(5)), 1, 0.1)
    arrows = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(arrows) == 5
    tips = np.array([[t.x[1], t.y[1]] for t in arrows])
    assert np.allclose(np.linalg.norm(tips, axis=1), 1.0)
    raw = pf.rope_path_figure(path, list(range(5)), 1, 0.1, normalise=False)
    assert np.isclose(raw.data[0].x[1], path[0, 0])
    qp = pa.rope_pair_trajectory(q, 1, np.array([3, 4]))
    kp = pa.rope_pair_trajectory(k, 1, np.array([1, 2]))
    pairs = pf.rope_pairs_figure(qp, kp, [3, 4], [1, 2], 1)
    labels = next(t for t in pairs.data if t.mode == "text")
    assert list(labels.text) == ["q m=3", "k n=1", "q m=4", "k n=2"]


def test_label_points_push_coinciding_labels_apart() -> None:
    """Two arrows pointing the same way (q m=5 and k n=0 on the RoPE tab) get labels one step apart."""
    tips = np.array([[0.6, -0.8], [0.6, -0.8], [0.6000001, -0.8], [-1.0, 0.0]])
    points = pf.label_points(tips)
    gaps = [np.linalg.norm(points[i] - points[j]) for i in range(4) for j in range(i + 1, 4)]
    assert min(gaps) >= pf.LABEL_STEP - 1e-9
    assert np.allclose(points[3], [-pf.LABEL_RADIUS, 0.0])  # a lone label sits just beyond its tip
    directions = points / np.linalg.norm(points, axis=1, keepdims=True)
    assert np.allclose(directions[:3], [0.6, -0.8], atol=1e-6)  # on the arrow's own line
    assert np.abs(points).max() <= pf.ARROW_SPAN  # inside the drawn square


def test_score_profile_has_both_schemes() -> None:
    fig = pf.score_profile_figure(np.arange(4), np.ones(4), np.arange(4.0), 2)
    assert [t.name.split(":")[0] for t in fig.data] == ["RoPE", "additive"]
    assert "offset m − n = 2" in fig.layout.title.text


def test_tile_patch_grid_places_each_patch_map() -> None:
    sim = np.arange(2 * 3 * 2 * 3, dtype=float).reshape(2, 3, 2, 3)
    image = pf.tile_patch_grid(sim)
    assert image.shape == (2 * 3 - 1, 3 * 4 - 1)
    assert np.allclose(image[3:5, 4:7], sim[1, 1])  # tile of patch (1, 1)
    assert np.isnan(image[2, 0]) and np.isnan(image[0, 3])  # gaps between tiles


def test_patch_similarity_figure_is_diverging_and_symmetric() -> None:
    vit_table = np.random.default_rng(0).standard_normal((16, 8))
    sim = pa.patch_similarity_grid(vit_table, (4, 4))
    fig = pf.patch_similarity_figure(sim, "title")
    assert len(fig.data) == 1 and _z(fig.data[0]).shape == (4 * 5 - 1, 4 * 5 - 1)
    assert fig.data[0].zmin == -1 and fig.data[0].zmax == 1
    assert fig.data[0].colorscale == go.Heatmap(colorscale=pf.DIVERGING).colorscale  # red positive, one convention


def test_channel_image_uses_the_given_range() -> None:
    fig = pf.channel_image_figure(np.ones((3, 3)), "channel 5", -2.0, 2.0)
    assert fig.data[0].zmin == -2.0 and fig.data[0].zmax == 2.0
    assert "channel 5" in fig.layout.title.text


@pytest.mark.parametrize("size, limit, expected", [(10, 384, 1), (384, 384, 1), (385, 384, 2), (1024, 384, 3)])
def test_display_stride(size: int, limit: int, expected: int) -> None:
    assert pf.display_stride(size, limit) == expected


# --- Behaviour the page relies on: one colour axis where panels are compared, NaN gaps drawn as
# gaps, drawn sizes capped at DRAW_LIMIT.

import json  # noqa: E402


def _spec(fig: go.Figure) -> dict:
    return json.loads(fig.to_json())


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize("shape", [(1, 1), (100, 128), (1024, 1024), (7, 800)])
def test_encoding_heatmap_is_capped_and_says_so(shape: tuple[int, int]) -> None:
    table = _rng(0).standard_normal(shape)
    fig = pf.encoding_heatmap(table, "t")
    spec = _spec(fig)
    z = np.asarray(fig.data[0].z)
    assert z.shape[0] <= pf.DRAW_LIMIT and z.shape[1] <= pf.DRAW_LIMIT
    assert fig.data[0].y[-1] <= shape[0] - 1 and fig.data[0].x[-1] <= shape[1] - 1
    thinned = max(shape) > pf.DRAW_LIMIT
    assert ("position shown" in spec["layout"]["title"]["text"]) == thinned
    assert (spec["data"][0]["zmin"], spec["data"][0]["zmax"]) == (-1.0, 1.0)


def test_wave_curves_have_one_curve_per_dimension() -> None:
    table = pa.sinusoidal_table(300, 128)
    dims = [0, 1, 16]
    fig = pf.wave_curves(table, dims, pa.wavelengths(dims, 128))
    assert len(fig.data) == len(dims) and all(len(t.y) == 300 for t in fig.data)


@pytest.mark.parametrize(("gh", "gw"), [(1, 1), (2, 3), (16, 16)])
def test_patch_similarity_gaps_are_drawn_as_gaps(gh: int, gw: int) -> None:
    sim = _rng(gh * gw).uniform(-1, 1, (gh, gw, gh, gw))
    tiled = pf.tile_patch_grid(sim)
    assert tiled.shape == (gh * (gh + 1) - 1, gw * (gw + 1) - 1)
    assert np.allclose(tiled[:gh, :gw], sim[0, 0])
    if gh > 1:
        assert np.isnan(tiled[gh]).all()
    trace = _spec(pf.patch_similarity_figure(sim, "t"))["data"][0]
    assert trace["hoverongaps"] is False and (trace["zmin"], trace["zmax"]) == (-1.0, 1.0)


@pytest.mark.parametrize("builder", ["similarity", "encoding", "shift", "patches", "channel", "distance", "profile"])
def test_every_figure_has_readable_ticks_and_a_left_title(builder: str) -> None:
    """Tick labels >= 11 px and titles on the left, clear of Plotly's toolbar (issue 20 item 6)."""
    m = _rng(0).uniform(-1, 1, (6, 6))
    fig = {
        "similarity": lambda: pf.similarity_heatmap(m, "t"),
        "encoding": lambda: pf.encoding_heatmap(m),
        "shift": lambda: pf.shift_matrix_heatmap(pa.shift_matrix(1, 8), 1),
        "patches": lambda: pf.patch_similarity_figure(m.reshape(6, 6)[:4, :4].reshape(2, 2, 2, 2), "t"),
        "channel": lambda: pf.channel_image_figure(m, "t", -1, 1),
        "distance": lambda: pf.distance_profile_figure({"a": np.ones(4)}, "cosine"),
        "profile": lambda: pf.score_profile_figure(np.arange(3), np.ones(3), np.zeros(3), 1),
    }[builder]()
    spec = _spec(fig)["layout"]
    assert spec["xaxis"]["tickfont"]["size"] >= 11 and spec["yaxis"]["tickfont"]["size"] >= 11
    assert spec["title"]["xanchor"] == "left"
    assert not any(key.startswith("xaxis2") for key in spec), "one panel per figure: columns place them side by side"


def test_figures_carry_no_default_template() -> None:
    """Streamlit's theme styles every chart; Plotly's 7 KB default template would only be copied and sent on each rerun."""
    import json

    table = np.sin(np.arange(40, dtype=float).reshape(10, 4))
    for figure in (pf.encoding_heatmap(table), pf.wave_curves(table, [0, 1], [6.3, 6.3]), pf.shift_matrix_heatmap(np.eye(8), 2)):
        assert len(json.dumps(figure.to_plotly_json()["layout"].get("template", {}))) < 200
