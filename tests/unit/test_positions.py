"""Unit tests of explorer.analysis.positions: the encodings' properties, validation and exports."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.analysis import positions as pa
from explorer.models import Transformer, TransformerConfig, ViT, ViTConfig
from explorer.models.positions import apply_rope, interpolate_pos_embed, sinusoidal_encoding

# --- sinusoidal -------------------------------------------------------------------------------


def test_table_matches_the_models_encoding() -> None:
    ours = pa.sinusoidal_table(50, 32, 100.0)
    model = sinusoidal_encoding(50, 32, 100.0).numpy()
    assert ours.shape == (50, 32)
    assert np.allclose(ours, model, atol=1e-6)
    assert ours[0, 0] == 0.0 and ours[0, 1] == 1.0  # sin(0), cos(0)


@pytest.mark.parametrize("k", [1, 5, 37, -3])
@pytest.mark.parametrize("d_model, base", [(16, 10000.0), (64, 100.0), (2, 1.5)])
def test_shift_is_a_fixed_rotation(k: int, d_model: int, base: float) -> None:
    """Section 3.5: PE(pos + k) = M_k PE(pos) for every pos, with M_k orthogonal and block diagonal."""
    table = pa.sinusoidal_table(60, d_model, base)
    m = pa.shift_matrix(k, d_model, base)
    positions = [p for p in range(60) if 0 <= p + k < 60]
    for pos in positions:
        assert np.allclose(m @ table[pos], table[pos + k], atol=1e-10)
    assert np.allclose(m @ m.T, np.eye(d_model), atol=1e-12)
    mask = np.zeros_like(m, dtype=bool)
    for i in range(0, d_model, 2):
        mask[i : i + 2, i : i + 2] = True
    assert np.all(m[~mask] == 0.0)
    check = pa.check_shift_property(60, d_model, k, base)
    assert check.n_positions == len(positions)
    assert check.max_abs_error_f64 < 1e-10
    assert check.max_abs_error_f32 < 1e-5


def test_shift_check_detects_a_wrong_matrix() -> None:
    """The check must be able to fail: M_k applied for the wrong k is far off."""
    table = pa.sinusoidal_table(40, 16)
    wrong = pa.shift_matrix(4, 16)
    assert np.abs(table[:35] @ wrong.T - table[5:40]).max() > 0.1


def test_shift_longer_than_table_reports_no_positions() -> None:
    check = pa.check_shift_property(3, 8, 5)
    assert check.n_positions == 0 and math.isnan(check.max_abs_error_f64)


def test_sinusoidal_dot_product_depends_on_distance_only() -> None:
    table = pa.sinusoidal_table(40, 32)
    dot = pa.position_similarity(table, "dot product")
    assert pa.distance_dependence_spread(dot) < 1e-10
    cosine = pa.position_similarity(table, "cosine")
    assert np.allclose(np.diag(cosine), 1.0)
    assert np.allclose(cosine, dot / 16.0)  # every row has norm sqrt(d/2)
    random_table = np.random.default_rng(0).standard_normal((40, 32))
    assert pa.distance_dependence_spread(pa.position_similarity(random_table)) > 0.1


def test_similarity_rejects_unknown_metric() -> None:
    with pytest.raises(ValueError):
        pa.position_similarity(np.eye(3), "euclid")


def test_wavelengths_grow_geometrically() -> None:
    lengths = pa.wavelengths([0, 1, 2, 4], 8, 10000.0)
    assert lengths[0] == pytest.approx(2 * math.pi) and lengths[0] == lengths[1]
    assert lengths[2] == pytest.approx(2 * math.pi * 10.0) and lengths[3] == pytest.approx(2 * math.pi * 100.0)


# --- RoPE -------------------------------------------------------------------------------------


def test_rope_rotation_agrees_with_the_model() -> None:
    q, _ = pa.random_query_key(16, seed=3)
    positions = np.arange(30)
    ours = pa.rope_rotate(q, positions)
    model = apply_rope(torch.tensor(q).expand(30, -1), torch.arange(30)).numpy()
    assert np.allclose(ours, model, atol=1e-5)
    assert np.allclose(np.linalg.norm(ours, axis=1), np.linalg.norm(q))  # rotations keep length


def test_rope_score_depends_only_on_offset() -> None:
    """RoFormer Eq. 16: q_m . k_n is a function of m - n."""
    q, k = pa.random_query_key(32, seed=1)
    positions = np.arange(50)
    scores = pa.rope_scores(q, k, positions, positions)
    assert pa.distance_dependence_spread(scores) < 1e-10
    assert scores[7, 4] == pytest.approx(scores[40, 37])
    assert abs(scores[7, 4] - scores[7, 5]) > 1e-3  # but the offset itself matters
    additive = pa.additive_scores(q, k, pa.sinusoidal_table(50, 32))
    assert pa.distance_dependence_spread(additive) > 1.0  # the additive scheme leaks absolute positions


@pytest.mark.parametrize("offset", [3, 0, -4])
def test_relative_table_rows_share_the_offset(offset: int) -> None:
    q, k = pa.random_query_key(16, seed=2)
    table = pa.relative_offset_table(q, k, offset, 40)
    assert len(table.rope) >= 2
    assert all(m - n == offset for m, n in zip(table.query_positions, table.key_positions))
    assert all(0 <= p < 40 for p in table.query_positions + table.key_positions)
    assert table.rope_spread < 1e-10 and table.additive_spread > 1e-3
    rows = table.rows()
    assert rows[0]["m - n"] == offset and set(rows[0]) >= {"query position m", "RoPE q_m·k_n"}


def test_relative_table_empty_when_offset_does_not_fit() -> None:
    q, k = pa.random_query_key(8)
    assert pa.relative_offset_table(q, k, 10, 5).rows() == []


def test_pair_trajectory_turns_by_the_frequency() -> None:
    q, _ = pa.random_query_key(8, seed=0)
    path = pa.rope_pair_trajectory(q, 0, np.arange(3))
    angles = np.unwrap(np.arctan2(path[:, 1], path[:, 0]))
    assert np.allclose(np.diff(angles), 1.0)  # pair 0 turns by w_0 = 1 radian per position


# --- learned tables and the ViT grid ------------------------------------------------------------


def _small_text_model(positions: str) -> Transformer:
    torch.manual_seed(0)
    config = TransformerConfig(d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=16, max_len=12, positions=positions)
    return Transformer(config).eval()


def _small_vit() -> ViT:
    torch.manual_seed(0)
    return ViT(ViTConfig()).eval()


def test_text_positions_rejects_other_models() -> None:
    with pytest.raises(TypeError):
        pa.text_positions(_small_vit())
    with pytest.raises(TypeError):
        pa.vit_positions(_small_text_model("learned"))


def test_text_positions_reads_learned_tables_without_touching_the_model() -> None:
    model = _small_text_model("learned")
    before = model.src_embed.positions.weight.detach().clone()
    result = pa.text_positions(model)
    assert result.scheme == "learned" and result.source.shape == (12, 16) and result.target.shape == (12, 16)
    result.source[:] = 0.0  # the copy is ours to change
    assert torch.equal(model.src_embed.positions.weight, before)
    assert not model.training


def test_text_positions_reports_sinusoidal_scheme() -> None:
    result = pa.text_positions(_small_text_model("sinusoidal"))
    assert result.scheme == "sinusoidal" and result.source is None and result.d_model == 16


def test_vit_grid_and_interpolation_identity() -> None:
    vit = _small_vit()
    positions = pa.vit_positions(vit)
    gh, gw = vit.grid_size
    assert positions.table.shape == (gh * gw, vit.config.d_model)
    grid = pa.patch_similarity_grid(positions.table, positions.grid)
    assert grid.shape == (gh, gw, gh, gw)
    assert np.allclose([grid[r, c, r, c] for r in range(gh) for c in range(gw)], 1.0)
    same = pa.resample_patch_positions(positions, (gh, gw))
    assert np.array_equal(same, positions.table)  # interpolation to the same size is the identity
    bigger = pa.resample_patch_positions(positions, (gh + 4, gw + 4), "bilinear")
    assert bigger.shape == ((gh + 4) * (gw + 4), vit.config.d_model)
    with pytest.raises(ValueError):
        pa.resample_patch_positions(positions, (gh, gw), "cubic-ish")


def test_interpolate_pos_embed_same_grid_returns_input() -> None:
    embed = torch.randn(1, 1 + 9, 4)
    assert torch.equal(interpolate_pos_embed(embed, (3, 3), (3, 3)), embed)


@pytest.mark.parametrize("mode", ["bicubic", "bilinear", "nearest"])
def test_interpolate_pos_embed_every_mode(mode: str) -> None:
    embed = torch.randn(1, 1 + 9, 4)
    out = interpolate_pos_embed(embed, (3, 3), (6, 6), mode=mode)
    assert out.shape == (1, 1 + 36, 4)
    assert torch.equal(out[:, :1], embed[:, :1]), "the [CLS] embedding must not be resampled"
    if mode == "nearest":  # every new position copies one old one
        old = {tuple(row.tolist()) for row in embed[0, 1:]}
        assert all(tuple(row.tolist()) in old for row in out[0, 1:])


def test_neighbour_contrast_sees_a_smooth_layout() -> None:
    rows, cols = np.meshgrid(np.arange(6), np.arange(6), indexing="ij")
    smooth = np.stack([np.sin(rows / 2), np.cos(rows / 2), np.sin(cols / 2), np.cos(cols / 2)], -1).reshape(36, 4)
    near, far = pa.neighbour_contrast(pa.patch_similarity_grid(smooth, (6, 6)))
    assert near > far + 0.2
    noise = np.random.default_rng(0).standard_normal((36, 64))
    near_n, far_n = pa.neighbour_contrast(pa.patch_similarity_grid(noise, (6, 6)))
    assert abs(near_n - far_n) < 0.1


def test_sinusoidal_vit_is_recomputed_not_interpolated() -> None:
    vit = ViT(ViTConfig(positions="sinusoidal")).eval()
    positions = pa.vit_positions(vit)
    new = pa.resample_patch_positions(positions, (10, 10), vit=vit)
    assert np.allclose(new, vit.position_embeddings((10, 10))[0, 1:].numpy())


# --- compare ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", pa.SCHEMES)
def test_every_scheme_gives_a_square_matrix(name: str) -> None:
    settings = pa.SinusoidSettings(d_model=16, max_len=20, base=10000.0)
    text = pa.text_positions(_small_text_model("learned"))
    patches = pa.vit_positions(_small_vit())
    result = pa.scheme_similarity(name, settings, "cosine", text, patches)
    assert result.matrix is not None
    size = result.matrix.shape[0]
    assert result.matrix.shape == (size, size) and size <= 20
    assert np.all(result.matrix <= 1.0 + 1e-9) and np.all(result.matrix >= -1.0 - 1e-9)


def test_learned_scheme_without_table_explains_itself() -> None:
    settings = pa.SinusoidSettings()
    text = pa.text_positions(_small_text_model("sinusoidal"))
    result = pa.scheme_similarity("learned: dates model (source)", settings, "cosine", text, None)
    assert result.matrix is None and "sinusoidal" in result.note
    with pytest.raises(ValueError):
        pa.scheme_similarity("wavelets", settings, "cosine")


def test_only_existing_learned_tables_are_offered() -> None:
    text_sin = pa.text_positions(_small_text_model("sinusoidal"))
    text_learned = pa.text_positions(_small_text_model("learned"))
    patches = pa.vit_positions(_small_vit())
    assert "learned: dates model (source)" not in pa.available_schemes(text_sin, patches)
    assert "learned: dates model (source)" in pa.available_schemes(text_learned, patches)
    assert pa.available_schemes(None, None) == ("sinusoidal", "RoPE (one random vector)", "none")


def test_rope_compare_panel_is_not_blank_and_depends_on_distance_only() -> None:
    """The same vector at positions m and n: cosine 1 on the diagonal, a Toeplitz matrix, clearly non-zero."""
    settings = pa.SinusoidSettings(d_model=64, max_len=40)
    matrix = pa.scheme_similarity("RoPE (one random vector)", settings, "cosine").matrix
    assert matrix is not None
    assert np.allclose(np.diag(matrix), 1.0)
    assert pa.distance_dependence_spread(matrix) < 1e-9
    assert np.abs(matrix).mean() > 0.2  # a random q against another random k gave ~0.05: a blank panel
    curve = pa.similarity_by_distance(matrix)
    assert curve.shape == (40,) and curve[0] == pytest.approx(1.0) and curve[1:].max() < 1.0


def test_shared_colour_range() -> None:
    assert pa.shared_colour_range([np.eye(2)], "cosine") == (-1.0, 1.0)
    assert pa.shared_colour_range([np.eye(2), 3 * np.eye(2) - 1], "dot product") == (-2.0, 2.0)  # centred on 0


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "d_model, expected, kind",
    [(128, 128, None), (7, 8, "warning"), (0, 128, "error"), (-4, 128, "error"), (10**7, pa.D_MODEL_CAP, "warning"),
     ("abc", 128, "error"), (float("inf"), 128, "error"), (12.5, 128, "error"), (True, 128, "error")],
)
def test_check_d_model(d_model: object, expected: int, kind: str | None) -> None:
    checked = pa.check_d_model(d_model)
    assert checked.value == expected
    assert bool(checked.errors) == (kind == "error") and bool(checked.warnings) == (kind == "warning")


@pytest.mark.parametrize("value, expected, bad", [(100, 100, False), (0, 100, True), (5000, pa.MAX_LEN_CAP, True), (None, 100, True)])
def test_check_max_len(value: object, expected: int, bad: bool) -> None:
    checked = pa.check_max_len(value)
    assert checked.value == expected and bool(checked.errors or checked.warnings) == bad


@pytest.mark.parametrize("value, ok", [(10000.0, True), (1.5, True), (1.0, False), (0.5, False), (-3, False), (float("nan"), False)])
def test_check_base(value: float, ok: bool) -> None:
    checked = pa.check_base(value)
    assert (checked.value == value) == ok and bool(checked.errors) != ok


def test_check_settings_collects_messages_in_one_line_each() -> None:
    settings, errors, warnings = pa.check_settings(9, 0, 1.0)
    assert settings == pa.SinusoidSettings(10, pa.DEFAULT_MAX_LEN, pa.DEFAULT_BASE)
    assert len(errors) == 2 and len(warnings) == 1
    assert all("\n" not in m for m in errors + warnings)


def test_check_int_range_and_choice() -> None:
    assert pa.check_int_range(5, "k", 0, 3, 1).value == 3
    assert pa.check_int_range("x", "k", 0, 3, 1).errors
    assert pa.check_choice("cosine", "metric", pa.SIMILARITY_METRICS, "cosine").value == "cosine"
    assert pa.check_choice("<b>", "metric", pa.SIMILARITY_METRICS, "cosine").errors


@pytest.mark.parametrize(
    "text, expected, warned",
    [("", None, False), ("0, 1, 5", [0, 1, 5], False), ("3 3 2", [3, 2], False), ("0, x, 999", [0], True),
     ("![img](http://x)", None, True), ("0,1,2,3,4,5,6,7", [0, 1, 2, 3, 4, 5], True)],
)
def test_parse_dimensions(text: str, expected: list[int] | None, warned: bool) -> None:
    checked = pa.parse_dimensions(text, 16)
    assert checked.value == (expected if expected is not None else pa.auto_dimensions(16))
    assert bool(checked.warnings) == warned
    assert all("http" not in w for w in checked.warnings)  # user text is never echoed


def test_auto_dimensions_stay_in_range() -> None:
    for d in (2, 4, 16, 128, 1024):
        dims = pa.auto_dimensions(d)
        assert dims and all(0 <= x < d for x in dims)


# --- Process-wide caches used by the page (pure functions of immutable arguments, bounded, read-only)


def test_cached_table_is_the_table_read_only_and_bounded() -> None:
    table = pa.cached_sinusoidal_table(37, 24, 500.0)
    assert np.array_equal(table, pa.sinusoidal_table(37, 24, 500.0))
    assert pa.cached_sinusoidal_table(37, 24, 500.0) is table  # a rerun gets the same array back
    with pytest.raises(ValueError):
        table[0, 0] = 5.0  # nobody can change what another session sees
    assert not table.flags.writeable
    assert pa.cached_sinusoidal_table.cache_info().maxsize == pa.TABLE_CACHE_ENTRIES
    for length in range(1, pa.TABLE_CACHE_ENTRIES + 3):
        pa.cached_sinusoidal_table(length, 4)
    assert pa.cached_sinusoidal_table.cache_info().currsize <= pa.TABLE_CACHE_ENTRIES


@pytest.mark.parametrize("metric", pa.SIMILARITY_METRICS)
def test_cached_similarity_equals_the_uncached_computation(metric: str) -> None:
    view = pa.sinusoidal_similarity(50, 16, 100.0, metric)
    expected = pa.position_similarity(pa.sinusoidal_table(50, 16, 100.0), metric)
    assert np.array_equal(view.matrix, expected) and not view.matrix.flags.writeable
    assert view.colour_range == pa.shared_colour_range([expected], metric)
    assert pa.sinusoidal_similarity_spread(50, 16, 100.0, metric) == pa.distance_dependence_spread(expected)
    assert pa.sinusoidal_similarity(50, 16, 100.0, metric) is view
    assert pa.sinusoidal_similarity.cache_info().maxsize == pa.TABLE_CACHE_ENTRIES
    assert pa.sinusoidal_similarity_spread.cache_info().maxsize is not None


def test_shift_check_is_cached_bounded_and_unchanged() -> None:
    first = pa.check_shift_property(60, 32, 7, 1000.0)
    assert pa.check_shift_property(60, 32, 7, 1000.0) is first
    uncached = pa.check_shift_property.__wrapped__(60, 32, 7, 1000.0)  # type: ignore[attr-defined]
    assert uncached == first
    assert pa.check_shift_property.cache_info().maxsize is not None
    with pytest.raises(AttributeError):
        first.k = 3  # type: ignore[misc]  # frozen: a cached result cannot be changed
