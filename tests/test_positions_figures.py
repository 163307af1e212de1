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


def test_side_by_side_heatmaps_share_one_colour_scale() -> None:
    a, b = np.eye(4), -np.eye(4)
    fig = pf.side_by_side_heatmaps([a, b], ["A", "B"], -2.0, 3.0)
    assert len(fig.data) == 2
    assert all(t.zmin == -2.0 and t.zmax == 3.0 for t in fig.data)
    assert [t.showscale for t in fig.data] == [False, True]
    assert [a.text for a in fig.layout.annotations] == ["A", "B"]


def test_shift_matrix_heatmap_shows_the_corner() -> None:
    m = pa.shift_matrix(2, 32)
    fig = pf.shift_matrix_heatmap(m, 2, show=8)
    assert _z(fig.data[0]).shape == (8, 8)
    assert "M_2" in fig.layout.title.text


def test_rope_rotation_figure_draws_unit_arrows() -> None:
    q, k = pa.random_query_key(8)
    path = pa.rope_pair_trajectory(q, 1, np.arange(5))
    qp = pa.rope_pair_trajectory(q, 1, np.array([3, 4]))
    kp = pa.rope_pair_trajectory(k, 1, np.array([1, 2]))
    fig = pf.rope_rotation_figure(path, list(range(5)), qp, kp, [3, 4], [1, 2], 1, 0.1)
    assert len(fig.data) == 5 + 2 * 2
    tips = np.array([[t.x[1], t.y[1]] for t in fig.data])
    assert np.allclose(np.linalg.norm(tips, axis=1), 1.0)
    assert fig.data[0].text[1] == "m=0" and fig.data[5].text[1] == "q m=3"
    raw = pf.rope_rotation_figure(path, list(range(5)), qp, kp, [3, 4], [1, 2], 1, 0.1, normalise=False)
    assert np.isclose(raw.data[0].x[1], path[0, 0])


def test_score_profile_has_both_schemes() -> None:
    fig = pf.score_profile_figure(np.arange(4), np.ones(4), np.arange(4.0), 2)
    assert [t.name.split(":")[0] for t in fig.data] == ["RoPE", "additive"]
    assert "offset m - n = 2" in fig.layout.title.text


def test_tile_patch_grid_places_each_patch_map() -> None:
    sim = np.arange(2 * 3 * 2 * 3, dtype=float).reshape(2, 3, 2, 3)
    image = pf.tile_patch_grid(sim)
    assert image.shape == (2 * 3 - 1, 3 * 4 - 1)
    assert np.allclose(image[3:5, 4:7], sim[1, 1])  # tile of patch (1, 1)
    assert np.isnan(image[2, 0]) and np.isnan(image[0, 3])  # gaps between tiles


def test_patch_similarity_figure_and_before_after() -> None:
    vit_table = np.random.default_rng(0).standard_normal((16, 8))
    sim = pa.patch_similarity_grid(vit_table, (4, 4))
    fig = pf.patch_similarity_figure(sim, "title")
    assert len(fig.data) == 1 and _z(fig.data[0]).shape == (4 * 5 - 1, 4 * 5 - 1)
    assert fig.data[0].zmin == -1 and fig.data[0].zmax == 1
    bigger = pa.patch_similarity_grid(np.random.default_rng(1).standard_normal((36, 8)), (6, 6))
    both = pf.patch_grids_side_by_side([sim, bigger], ["before", "after"])
    assert [_z(t).shape for t in both.data] == [(19, 19), (41, 41)]


def test_channel_images_share_a_range() -> None:
    fig = pf.channel_images_figure(np.zeros((2, 2)), np.ones((3, 3)), 5)
    assert fig.data[0].zmin == fig.data[1].zmin == 0.0 and fig.data[0].zmax == fig.data[1].zmax == 1.0
    assert "channel 5" in fig.layout.annotations[0].text


@pytest.mark.parametrize("size, limit, expected", [(10, 384, 1), (384, 384, 1), (385, 384, 2), (1024, 384, 3)])
def test_display_stride(size: int, limit: int, expected: int) -> None:
    assert pf.display_stride(size, limit) == expected


# --- The builders write each figure as one dict instead of make_subplots + update_* calls (several
# times cheaper per page rerun). ``reference_positions_figures`` is the make_subplots version they
# replaced: the JSON a student's browser gets must stay the same, float for float.

import json  # noqa: E402

import reference_positions_figures as ref  # noqa: E402


def _spec(fig: go.Figure) -> dict:
    return json.loads(fig.to_json())


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize("shape", [(1, 1), (5, 4), (100, 128), (400, 10), (1024, 1024), (7, 800)])
def test_encoding_and_similarity_heatmaps_match_the_old_builders(shape: tuple[int, int]) -> None:
    table = _rng(0).standard_normal(shape)
    assert _spec(pf.encoding_heatmap(table)) == _spec(ref.encoding_heatmap(table))
    assert _spec(pf.encoding_heatmap(table, "t")) == _spec(ref.encoding_heatmap(table, "t"))
    square = table[:, : shape[0]] if shape[1] >= shape[0] else _rng(1).standard_normal((shape[0], shape[0]))
    for args in [("s",), ("s", -1.0, 1.0), ("s", -3.5, 2.0, "key", "score"), ("s", None, None, "position", "score")]:
        assert _spec(pf.similarity_heatmap(square, *args)) == _spec(ref.similarity_heatmap(square, *args))


@pytest.mark.parametrize("dims", [[], [0], [0, 1, 16, 32], [3, 5, 7, 9, 11, 127]])
def test_wave_curves_match_the_old_builder(dims: list[int]) -> None:
    table = pa.sinusoidal_table(300, 128)
    lengths = pa.wavelengths(dims, 128)
    assert _spec(pf.wave_curves(table, dims, lengths)) == _spec(ref.wave_curves(table, dims, lengths))


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("size", [4, 500])
def test_side_by_side_heatmaps_match_make_subplots(count: int, size: int) -> None:
    matrices = [_rng(i).standard_normal((size, size)) for i in range(count)]
    titles = [f"panel <{i}>" for i in range(count)]
    assert _spec(pf.side_by_side_heatmaps(matrices, titles, -1.0, 2.0)) == _spec(ref.side_by_side_heatmaps(matrices, titles, -1.0, 2.0))
    assert _spec(pf.side_by_side_heatmaps(matrices, titles, 0.0, 1.0, "p", "c")) == _spec(
        ref.side_by_side_heatmaps(matrices, titles, 0.0, 1.0, "p", "c")
    )


@pytest.mark.parametrize(("k", "d"), [(0, 2), (5, 128), (-7, 32), (3, 1024)])
def test_shift_matrix_heatmap_matches_the_old_builder(k: int, d: int) -> None:
    m = pa.shift_matrix(k, d)
    assert _spec(pf.shift_matrix_heatmap(m, k)) == _spec(ref.shift_matrix_heatmap(m, k))


@pytest.mark.parametrize(("pair", "offset", "length"), [(0, 3, 100), (5, -20, 1024), (1, 0, 1), (2, 9, 10), (0, 1, 2)])
def test_rope_rotation_figure_matches_make_subplots(pair: int, offset: int, length: int) -> None:
    q, k = pa.random_query_key(16, 4)
    steps = list(range(min(8, length)))
    path = pa.rope_pair_trajectory(q, pair, np.array(steps))
    shown_m = [m for m in range(max(offset, 0), max(offset, 0) + 3) if m < length and 0 <= m - offset < length]
    shown_n = [m - offset for m in shown_m]
    q_pairs = pa.rope_pair_trajectory(q, pair, np.array(shown_m, dtype=np.int64)) if shown_m else np.zeros((0, 2))
    k_pairs = pa.rope_pair_trajectory(k, pair, np.array(shown_n, dtype=np.int64)) if shown_n else np.zeros((0, 2))
    for normalise in (True, False):
        args = (path, steps, q_pairs, k_pairs, shown_m, shown_n, pair, 0.7)
        assert _spec(pf.rope_rotation_figure(*args, normalise=normalise)) == _spec(ref.rope_rotation_figure(*args, normalise=normalise))


@pytest.mark.parametrize("length", [1, 6, 1024])
def test_score_profile_matches_the_old_builder(length: int) -> None:
    x, a, b = np.arange(length) + 3, _rng(0).standard_normal(length), _rng(1).standard_normal(length)
    assert _spec(pf.score_profile_figure(x, a, b, -3)) == _spec(ref.score_profile_figure(x, a, b, -3))


@pytest.mark.parametrize(("gh", "gw"), [(1, 1), (2, 3), (4, 4), (16, 16), (5, 9)])
def test_patch_figures_match_the_old_builders(gh: int, gw: int) -> None:
    sim = _rng(gh * gw).uniform(-1, 1, (gh, gw, gh, gw))
    assert np.array_equal(pf.tile_patch_grid(sim), ref.tile_patch_grid(sim), equal_nan=True)
    assert np.array_equal(pf.tile_patch_grid(sim, gap=2), ref.tile_patch_grid(sim, gap=2), equal_nan=True)
    assert _spec(pf.patch_similarity_figure(sim, "t")) == _spec(ref.patch_similarity_figure(sim, "t"))
    assert _spec(pf.patch_similarity_figure(sim, "t", 0.0, 0.5, False)) == _spec(ref.patch_similarity_figure(sim, "t", 0.0, 0.5, False))
    other = _rng(1).uniform(-1, 1, (3, 3, 3, 3))
    for grids in ([sim, other], [other, sim], [sim], [sim, other, sim]):
        titles = [f"g{i}" for i in range(len(grids))]
        assert _spec(pf.patch_grids_side_by_side(grids, titles)) == _spec(ref.patch_grids_side_by_side(grids, titles))


@pytest.mark.parametrize(("before", "after"), [((4, 4), (6, 6)), ((1, 1), (16, 16)), ((4, 4), (2, 2))])
def test_channel_images_match_make_subplots(before: tuple[int, int], after: tuple[int, int]) -> None:
    a, b = _rng(0).standard_normal(before), _rng(1).standard_normal(after)
    assert _spec(pf.channel_images_figure(a, b, 7)) == _spec(ref.channel_images_figure(a, b, 7))
    flat = np.zeros(before)
    assert _spec(pf.channel_images_figure(flat, flat, 0)) == _spec(ref.channel_images_figure(flat, flat, 0))
