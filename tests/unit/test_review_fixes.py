"""Issue 18: the review's defects and the mutation test's holes, each pinned by a test that failed before its fix.

Every test names the item it covers ("item N" = the review's list, "hole N" = the surviving
mutations). Oracles are written independently of the code under test: a re-implementation of
vit-explain's rollout step with its keepdim bug fixed, explicit loops for the patch grid,
``nn.MultiheadAttention`` for the causal fast path, numpy float64 for the sinusoid.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from explorer.analysis import heads, rollout
from explorer.analysis import positions as pa
from explorer.analysis.distance import RunSummary, ViTRun, mean_attention_distance, uniform_attention_distance
from explorer.analysis.stepwise import AttentionRun, scaled_dot_product_steps
from explorer.exports import grid_attention_csv
from explorer.figures import attention as attention_figures
from explorer.figures import positions as pf
from explorer.figures import vit as vit_figures
from explorer.models.attention import MultiHeadAttention
from explorer.models.config import TransformerConfig
from explorer.models.positions import interpolate_pos_embed, sinusoidal_encoding
from explorer.models.reference import copy_attention_into_torch
from explorer.models.transformer import Transformer


def _uniform_causal(n: int) -> np.ndarray:
    keep = np.tril(np.ones((n, n)))
    return keep / keep.sum(-1, keepdims=True)


# ------------------------------------------------------------------ item 3 and hole 5: head entropy
def test_uniform_causal_head_has_normalised_entropy_one() -> None:
    """Item 3: a perfectly uniform causal head is as diffuse as it can be (it scored 0.909 at T = 11)."""
    weights = _uniform_causal(11)[None]  # (H=1, 11, 11)
    assert heads.head_entropy(weights, mask=heads.causal_mask(11))[0] == pytest.approx(1.0, abs=1e-12)


def test_entropy_counts_visible_keys_from_the_mask_not_from_zero_weights() -> None:
    """Item 3: a float32 softmax can round a visible key to exactly 0; that key is still one the row could use."""
    weights = np.array([[[0.5, 0.5, 0.0]] * 3])  # every key visible, one weight underflowed
    expected = math.log(2) / math.log(3)
    assert heads.head_entropy(weights)[0] == pytest.approx(expected)
    assert heads.head_entropy(weights, mask=np.ones((3, 3), bool))[0] == pytest.approx(expected)


def test_rows_with_one_visible_key_are_left_out() -> None:
    """Item 3: the first causal query has no choice, so it says nothing about the head."""
    rows = heads.row_entropy(_uniform_causal(4), normalise=True, mask=heads.causal_mask(4))
    assert np.isnan(rows[0]) and np.allclose(rows[1:], 1.0)
    assert heads.head_entropy(_uniform_causal(1)[None], mask=heads.causal_mask(1))[0] != 0.0  # NaN, not "sharp"


def test_fully_masked_rows_are_left_out_of_the_head_mean() -> None:
    """Hole 5: a query that may see nothing (all-zero row) must not pull the head's mean towards 0."""
    weights = np.full((1, 3, 4), 0.25)
    weights[0, 1] = 0.0
    keep = np.ones((3, 4), bool)
    keep[1] = False
    assert heads.head_entropy(weights, mask=keep)[0] == pytest.approx(1.0)
    assert heads.head_entropy(weights, normalise=False, mask=keep)[0] == pytest.approx(math.log(4))


def test_causal_mask_matches_the_models_mask_when_queries_are_the_last_positions() -> None:
    from explorer.models.attention import build_keep_mask

    for tq, tk in ((4, 4), (1, 5), (3, 7)):
        model = build_keep_mask(1, tq, tk, None, True, torch.device("cpu"))[0, 0].numpy()
        np.testing.assert_array_equal(heads.causal_mask(tq, tk), model)


def test_entropy_by_kind_uses_each_kinds_mask_from_the_run() -> None:
    """The page's path: AttentionRun.keep_masks() gives decoder self-attention its causal mask."""
    maps = {
        "encoder_self": np.full((1, 1, 3, 3), 1 / 3),
        "decoder_self": _uniform_causal(5)[None, None],
        "decoder_cross": np.full((1, 1, 5, 3), 1 / 3),
    }
    run = AttentionRun([1, 2, 3], [1, 2, 3, 4, 5], maps)
    np.testing.assert_array_equal(run.keep_mask("decoder_self"), heads.causal_mask(5))
    assert run.keep_mask("decoder_cross").all()
    table = heads.entropy_by_kind(maps, run.keep_masks())
    for kind in maps:
        assert table[kind][0, 0] == pytest.approx(1.0), kind


def test_sharpest_and_most_diffuse_skip_heads_without_a_choice() -> None:
    table = np.array([[np.nan, 0.4], [0.9, 0.2]])
    assert heads.sharpest_and_most_diffuse(table) == ((1, 1), (1, 0))
    assert heads.sharpest_and_most_diffuse(np.full((2, 2), np.nan)) == ((0, 0), (0, 0))


def test_entropy_heatmap_says_dark_is_sharp_under_viridis_and_marks_empty_heads() -> None:
    """Item 10: under Viridis 0 is dark and 1 is light, so dark = sharp (it said the reverse)."""
    import plotly.colors

    scale = plotly.colors.get_colorscale("Viridis")
    brightness = [sum(plotly.colors.hex_to_rgb(c)) if c.startswith("#") else sum(plotly.colors.unlabel_rgb(c)) for _, c in (scale[0], scale[-1])]
    assert brightness[0] < brightness[1]
    doc = attention_figures.entropy_heatmap.__doc__ or ""
    assert "dark = sharp" in doc and "dark = diffuse" not in doc
    fig = attention_figures.entropy_heatmap(np.array([[np.nan, 0.5]]), "t")
    assert list(fig.data[0].text.ravel()) == ["–", "0.5"]


# ------------------------------------------------------------------ item 5: rollout vs vit-explain (keepdim fixed)
def _vit_explain_fixed(attentions: list[torch.Tensor], head_fusion: str) -> torch.Tensor:
    """vit-explain's ``rollout`` loop (jacobgil/vit-explain, vit_rollout.py) with discard_ratio = 0 and
    ``a.sum(dim=-1, keepdim=True)``: the only change is the keepdim fix. Returns the full (T, T) result of item 0."""
    result = torch.eye(attentions[0].size(-1), dtype=torch.float64)
    for attention in attentions:
        attention = attention.double()
        if head_fusion == "mean":
            fused = attention.mean(axis=1)
        elif head_fusion == "max":
            fused = attention.max(axis=1)[0]
        else:
            fused = attention.min(axis=1)[0]
        eye = torch.eye(fused.size(-1), dtype=torch.float64)
        a = (fused + 1.0 * eye) / 2
        a = a / a.sum(dim=-1, keepdim=True)
        result = torch.matmul(a, result)
    return result[0]


def _random_attention(layers: int = 4, heads_: int = 3, tokens: int = 10, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.softmax(3 * torch.randn(1, heads_, tokens, tokens, generator=generator), -1) for _ in range(layers)]


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
def test_rollout_equals_keepdim_fixed_vit_explain(fusion: str) -> None:
    """Item 5: (A + I) with rows normalised, as vit-explain does once its keepdim bug is fixed.
    (Renormalising the fused map first and then adding 0.5 I gave correlations of 0.62-0.75 for min fusion.)"""
    attentions = _random_attention()
    ours = rollout.rollout(attentions, head_fusion=fusion)[0].double()
    torch.testing.assert_close(ours, _vit_explain_fixed(attentions, fusion), atol=1e-6, rtol=0)


def test_rollout_residual_weight_is_one_over_one_plus_row_mass() -> None:
    """Item 5: after discarding, a row keeping mass s gets residual weight 1 / (1 + s) on its diagonal."""
    attention = _random_attention(layers=1, tokens=8, seed=3)[0]
    fused = rollout.discard_lowest(rollout.fuse_heads(attention.double(), "max"), 0.5)
    step = rollout.layer_transition(attention.double(), "max", 0.5)
    s = fused.sum(-1)
    expected = (fused + torch.eye(8, dtype=torch.float64)) / (1 + s)[..., None]
    torch.testing.assert_close(step, expected)
    assert not torch.allclose(torch.diagonal(step, dim1=-2, dim2=-1), 0.5 + 0.5 * torch.diagonal(fused / s[..., None], dim1=-2, dim2=-1))


def test_rollout_docstring_does_not_claim_vit_explain_writes_into_the_callers_tensor() -> None:
    """Item 5: vit-explain's fused tensor is new for mean, max and min, so the caller's attention is untouched."""
    doc = rollout.__doc__ or ""
    assert "writes into the caller's attention tensor" not in doc
    assert "1 / (1 + s" in doc


# ------------------------------------------------------------------ item 4 and item 10: positional figures
def test_dot_product_similarity_colour_range_is_centred_on_zero() -> None:
    """Item 4: with d = 128, L = 100 the dot products lie in 23.8..64; the diverging scale's white must sit at 0."""
    view = pa.sinusoidal_similarity(100, 128, metric="dot product")
    low, high = view.colour_range
    assert low == -high
    assert low <= float(view.matrix.min()) and float(view.matrix.max()) <= high
    assert float(view.matrix.min()) > 0  # nothing negative, so nothing may be drawn blue
    trace = pf.similarity_heatmap(view.matrix, "t", *view.colour_range).data[0]
    assert trace.zmin == -trace.zmax
    low2, high2 = pa.shared_colour_range([np.array([[1.0, -3.0]]), np.array([[2.0]])], "dot product")
    assert (low2, high2) == (-3.0, 3.0)


def test_sinusoidal_table_is_float64_from_the_frequencies_on() -> None:
    """Item 10: the table claims float64 precision, so its frequencies must not be rounded to float32 first."""
    d = 128
    w = 10000.0 ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    np.testing.assert_allclose(pa.frequencies(d), w, rtol=1e-15, atol=0)
    table = pa.sinusoidal_table(1024, d)
    np.testing.assert_allclose(table[1000, 0::2], np.sin(1000 * w), rtol=0, atol=1e-12)
    np.testing.assert_allclose(table[1000, 1::2], np.cos(1000 * w), rtol=0, atol=1e-12)
    # the model's float32 encoding stays within float32 rounding of it
    np.testing.assert_allclose(sinusoidal_encoding(1024, d).numpy(), table, rtol=0, atol=1e-6)


# ------------------------------------------------------------------ hole 2: position-embedding interpolation
def _ramp_table(grid: tuple[int, int]) -> torch.Tensor:
    """(1, 1 + gh*gw, 3): [CLS], then for patch (r, c) in row-major order the channels (r, c, 10 r + c)."""
    gh, gw = grid
    rows = [[float(r), float(c), float(10 * r + c)] for r in range(gh) for c in range(gw)]
    return torch.tensor([[[-1.0, -1.0, -1.0]] + rows], dtype=torch.float64)


def _oracle_resize(table: torch.Tensor, old: tuple[int, int], new: tuple[int, int], mode: str) -> torch.Tensor:
    """Explicit loops put patch (r, c) at image[:, r, c]; F.interpolate resizes (height, width) = new."""
    gh, gw = old
    image = torch.empty(1, table.shape[-1], gh, gw, dtype=torch.float32)
    for r in range(gh):
        for c in range(gw):
            image[0, :, r, c] = table[0, 1 + r * gw + c].float()
    out = F.interpolate(image, size=new, mode=mode, align_corners=False)
    nh, nw = new
    return torch.stack([out[0, :, r, c] for r in range(nh) for c in range(nw)]).double()


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
@pytest.mark.parametrize(("old", "new"), [((2, 3), (4, 6)), ((3, 2), (5, 7)), ((3, 3), (5, 5)), ((2, 4), (2, 4 * 2 - 1))])
def test_interpolation_keeps_rows_as_rows(old: tuple[int, int], new: tuple[int, int], mode: str) -> None:
    """Hole 2: height and width swapped (non-square grids) or the grid transposed before resizing."""
    table = _ramp_table(old)
    out = interpolate_pos_embed(table, old, new, mode=mode)
    assert out.shape == (1, 1 + new[0] * new[1], 3)
    assert torch.equal(out[0, 0], table[0, 0])  # [CLS] untouched
    patches = out[0, 1:]
    torch.testing.assert_close(patches, _oracle_resize(table, old, new, mode), atol=1e-5, rtol=0)
    row_channel = patches[:, 0].reshape(new)
    col_channel = patches[:, 1].reshape(new)
    assert torch.allclose(row_channel, row_channel[:, :1].expand(new), atol=1e-5)  # row index constant along a row
    assert torch.allclose(col_channel, col_channel[:1, :].expand(new), atol=1e-5)  # column index constant down a column
    assert (row_channel[-1, 0] - row_channel[0, 0]) > 0.5 * (old[0] - 1) or old[0] == 1
    assert (col_channel[0, -1] - col_channel[0, 0]) > 0.5 * (old[1] - 1) or old[1] == 1


# ------------------------------------------------------------------ hole 4: distances in pixels in the run summary
def test_run_summary_distances_are_in_pixels() -> None:
    """Hole 4: uniform attention over a 4 x 4 grid of 4 px patches has the uniform reference distance in pixels."""
    grid, patch = (4, 4), 4
    tokens = 1 + grid[0] * grid[1]
    attention = np.full((2, 3, tokens, tokens), 1.0 / tokens, dtype=np.float32)
    run = ViTRun(np.ones(3) / 3, attention, np.zeros((16, 16, 3), np.uint8), np.zeros((16, 48)), grid, patch)
    summary = RunSummary(run)
    expected = uniform_attention_distance(grid, patch)
    assert expected == pytest.approx(4 * uniform_attention_distance(grid, 1))
    np.testing.assert_allclose(summary.distance, expected, rtol=1e-6)
    np.testing.assert_allclose(summary.distance, mean_attention_distance(attention, grid, patch), rtol=1e-12)


# ------------------------------------------------------------------ hole 8: Pillow's decompression-bomb guard
def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height 1-bit pixels, with one tiny (truncated) data chunk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_pillow_bomb_guard_stays_on() -> None:
    """Hole 8: with the app's own pixel cap raised, Pillow's guard must still refuse a 400-megapixel header."""
    from explorer.inputs import images

    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS <= 200_000_000
    with pytest.raises(images.ImageInputError, match="too many pixels"):
        images.load_image(_png_header_only(20_000, 20_000), "bomb.png", max_pixels=10**12)


# ------------------------------------------------------------------ hole 9: checkpoints are loaded without pickle code
class _Marker:
    """Unpickling this calls open(path, "w"): a file appears if the loader runs pickled code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def test_zoo_never_runs_code_from_a_checkpoint(tmp_path: Path) -> None:
    from explorer import zoo

    twin = zoo.load_uncached("dates-untrained", tmp_path)
    (tmp_path / "dates.json").write_text(json.dumps(twin.meta), encoding="utf-8")
    marker = tmp_path / "pwned"
    torch.save({"weights": _Marker(marker)}, tmp_path / "dates.pt")
    entry = zoo.load_uncached("dates", tmp_path)
    assert not marker.exists()
    assert not entry.trained and entry.warning and "dates.pt" in entry.warning


# ------------------------------------------------------------------ thin: causal fast path and the sqrt(d_model) scale
def _mha_pair(seed: int = 0) -> tuple[MultiHeadAttention, nn.MultiheadAttention]:
    torch.manual_seed(seed)
    ours = MultiHeadAttention(32, 4).eval()
    ref = nn.MultiheadAttention(32, 4, batch_first=True).eval()
    copy_attention_into_torch(ours, ref)
    return ours, ref


def test_causal_fast_path_matches_explicit_path_and_torch() -> None:
    """The fused causal kernel (no weights asked) against our explicit softmax and nn.MultiheadAttention."""
    ours, ref = _mha_pair()
    x = torch.randn(2, 7, 32)
    with torch.no_grad():
        fast, none = ours(x, x, causal=True)
        explicit, weights = ours(x, x, causal=True, need_weights=True)
        future = torch.triu(torch.ones(7, 7, dtype=torch.bool), diagonal=1)  # True = not allowed (torch's convention)
        theirs, _ = ref(x, x, x, attn_mask=future, need_weights=False)
    assert none is None and weights is not None
    torch.testing.assert_close(fast, explicit, atol=1e-5, rtol=0)
    torch.testing.assert_close(fast, theirs, atol=1e-5, rtol=0)
    assert torch.all(weights.masked_select(future) == 0)
    # causality itself: changing a later token leaves earlier outputs unchanged
    changed = x.clone()
    changed[:, 5:] = torch.randn(2, 2, 32)
    with torch.no_grad():
        later, _ = ours(changed, changed, causal=True)
    torch.testing.assert_close(later[:, :5], fast[:, :5], atol=1e-6, rtol=0)
    assert not torch.allclose(later[:, 5:], fast[:, 5:])


def test_causal_fast_path_with_one_query_sees_every_key() -> None:
    """The single-newest-query branch: the query is the last position, so no key is hidden."""
    ours, ref = _mha_pair(1)
    x = torch.randn(1, 6, 32)
    with torch.no_grad():
        fast, _ = ours(x[:, -1:], x, causal=True)
        explicit, _ = ours(x[:, -1:], x, causal=True, need_weights=True)
        theirs, _ = ref(x[:, -1:], x, x, need_weights=False)
        full, _ = ours(x, x, causal=True)
    torch.testing.assert_close(fast, explicit, atol=1e-5, rtol=0)
    torch.testing.assert_close(fast, theirs, atol=1e-5, rtol=0)
    torch.testing.assert_close(fast[:, 0], full[:, -1], atol=1e-5, rtol=0)


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_token_embeddings_are_scaled_by_sqrt_d_model(positions: str) -> None:
    """Vaswani et al. Section 3.4: "we multiply those weights by sqrt(d_model)" before adding positions."""
    config = TransformerConfig(src_vocab_size=13, tgt_vocab_size=11, d_model=48, n_heads=4, n_encoder_layers=1,
                               n_decoder_layers=1, d_ff=32, dropout=0.0, max_len=16, positions=positions)
    model = Transformer(config).eval()
    ids = torch.tensor([[3, 1, 4, 1, 5, 9]])
    with torch.no_grad():
        for embed in (model.src_embed, model.tgt_embed):
            added = sinusoidal_encoding(16, 48)[:6] if positions == "sinusoidal" else embed.positions.weight[:6]
            expected = embed.tokens.weight[ids[0]] * math.sqrt(48) + added
            torch.testing.assert_close(embed(ids)[0], expected)


# ------------------------------------------------------------------ item 10: step-by-step panel, decoder heatmap, image trace
def _steps(keep: np.ndarray | None) -> object:
    rng = np.random.default_rng(0)
    return scaled_dot_product_steps(rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), keep)


def test_stepwise_title_mentions_grey_only_when_something_is_masked() -> None:
    causal = np.tril(np.ones((3, 3), bool))
    titles = lambda fig: " ".join(a.text for a in fig.layout.annotations)
    unmasked = attention_figures.stepwise_figure(_steps(None), 0, list("abc"))
    assert "grey" not in titles(unmasked)
    last = attention_figures.stepwise_figure(_steps(causal), 2, list("abc"))
    assert "grey" not in titles(last)  # the last query sees every key: no grey bar
    first = attention_figures.stepwise_figure(_steps(causal), 0, list("abc"))
    assert "grey: masked, set to -inf" in titles(first)
    mistake = attention_figures.stepwise_figure(_steps(causal), 0, list("abc"), show_mistake=True)
    assert "-inf" not in titles(mistake) and "0" in titles(mistake)


@pytest.mark.parametrize("show_mistake", [False, True])
def test_stepwise_legend_has_no_two_identical_entries(show_mistake: bool) -> None:
    fig = attention_figures.stepwise_figure(_steps(np.tril(np.ones((3, 3), bool))), 1, list("abc"), show_mistake=show_mistake)
    shown = [t for t in fig.data if t.showlegend is not False]
    colours = [str(t.marker.color) for t in shown]
    assert len(colours) == len(set(colours)) and len(shown) == (2 if show_mistake else 1)


def test_decoder_heatmap_draws_masked_cells_as_empty() -> None:
    """Item 10: a hidden key is not a key with weight 0; the causal triangle is drawn empty."""
    weights = _uniform_causal(4).astype(np.float32)
    keep = heads.causal_mask(4)
    z = np.asarray(attention_figures.attention_heatmap(weights, list("abcd"), list("abcd"), "t", keep=keep).data[0].z, dtype=float)
    assert np.isnan(z[~keep]).all() and np.isfinite(z[keep]).all()
    overview = attention_figures.attention_overview(weights[None, None], list("abcd"), list("abcd"), "t", keep=keep)
    assert np.isnan(np.asarray(overview.data[0].z, dtype=float)[~keep]).all()
    plain = np.asarray(attention_figures.attention_heatmap(weights, list("abcd"), list("abcd"), "t").data[0].z, dtype=float)
    assert np.isfinite(plain).all()  # without a mask nothing is hidden


def test_image_trace_edge_lines_up_with_the_patch_grid() -> None:
    """Item 10: Plotly centres the first pixel on (x0, y0); the image's edge must be at 0 like the heatmap's."""
    image = np.zeros((16, 16, 3), np.uint8)
    for display_px in (16, 320):
        trace = vit_figures._image_trace(image, display_px)
        assert trace["x0"] - trace["dx"] / 2 == 0 and trace["y0"] - trace["dy"] / 2 == 0
    heat = vit_figures._map_trace(np.zeros((4, 4)), 4, "m", 0.5)
    assert heat["x0"] - heat["dx"] / 2 == 0  # the patch heatmap's edge, for comparison


def test_heads_docstring_cites_the_entropy_subsection() -> None:
    """Item 10: Clark et al. 2019 measure head entropy in Section 3.3 ("Focused vs Broad Attention"), not 3.2 (separator tokens)."""
    assert "Section 3.3" in (heads.__doc__ or "") and "Section 3.2," not in (heads.__doc__ or "")



# ------------------------------------------------------------------ items 1 and 7: resolution comparison
def _uniform_run(grid: tuple[int, int], patch: int = 4) -> ViTRun:
    tokens = 1 + grid[0] * grid[1]
    attention = np.full((1, 2, tokens, tokens), 1.0 / tokens, dtype=np.float32)
    side = grid[0] * patch
    return ViTRun(np.ones(3) / 3, attention, np.zeros((side, side, 3), np.uint8), np.zeros((tokens - 1, 3 * patch * patch)), grid, patch)


def test_run_summary_compares_sizes_on_normalised_entropy_and_carries_the_uniform_distance() -> None:
    """Item 7: raw entropies top out at ln 65 = 4.17 (32 px) and ln 257 = 5.55 (64 px); divided by ln T both reach 1.
    Item 1: the uniform reference grows with the grid (16.5 -> 33.3 px) while the patch stays 4 px."""
    small, big = RunSummary(_uniform_run((8, 8))), RunSummary(_uniform_run((16, 16)))
    assert small.entropy.max() == pytest.approx(math.log(65), rel=1e-5)
    assert big.entropy.max() == pytest.approx(math.log(257), rel=1e-5)
    np.testing.assert_allclose(small.entropy_normalised, 1.0, rtol=1e-5)
    np.testing.assert_allclose(big.entropy_normalised, 1.0, rtol=1e-5)
    assert round(small.uniform_distance, 1) == 16.5 and round(big.uniform_distance, 1) == 33.3
    assert small.patch_size == big.patch_size == 4


def test_head_statistics_figure_draws_the_uniform_reference() -> None:
    dist, ent = np.full((2, 3), 10.0), np.full((2, 3), 0.5)
    fig = vit_figures.head_statistics_figure(
        {"32 px": (dist, ent), "64 px": (2 * dist, ent)}, uniform_distance={"32 px": 16.5, "64 px": 33.3},
        entropy_title="Attention entropy / ln T",
    )
    lines = [t for t in fig.data if t.mode == "lines"]
    assert sorted(round(t.y[0], 1) for t in lines) == [16.5, 33.3]
    assert all(t.xaxis in (None, "x") for t in lines)  # on the distance panel
    assert "ln T" in fig.layout.annotations[1].text


# ------------------------------------------------------------------ item 10: layers and heads numbered from 0 everywhere
def test_vit_figures_and_exports_number_layers_and_heads_from_zero() -> None:
    import csv

    maps = np.random.default_rng(0).random((2, 3, 2, 2))
    overview = vit_figures.overview_figure(maps)
    assert list(overview.layout.xaxis.ticktext) == ["head 0", "head 1", "head 2"]
    assert list(overview.layout.yaxis.ticktext) == ["layer 0", "layer 1"]
    assert tuple(np.asarray(overview.data[0].customdata)[0, 0]) == (0, 0, 0)
    stats = vit_figures.head_statistics_figure({"a": (maps[..., 0, 0], maps[..., 1, 1])})
    assert min(stats.data[0].x) == pytest.approx(0.0)
    heads = {t.name for t in stats.data if (t.name or "").startswith("head ")}
    assert heads == {"head 0", "head 1", "head 2"}  # the legend names heads from 0
    rows = list(csv.DictReader(io.StringIO(grid_attention_csv(maps).decode())))
    assert (rows[0]["layer"], rows[0]["head"]) == ("0", "0") and (rows[-1]["layer"], rows[-1]["head"]) == ("1", "2")


# ------------------------------------------------------------------ hole 3: the ViT page's rollout map is [CLS]'s row
def test_vit_view_rollout_map_is_the_cls_row_of_rollout() -> None:
    """Hole 3: the page once took the [CLS] column (what patches draw from [CLS]) instead of its row."""
    from explorer.views import vit as vit_view

    attentions = _random_attention(layers=3, heads_=2, tokens=1 + 6, seed=5)  # a 2 x 3 grid: rows and columns differ
    stacked = np.stack([a[0].numpy() for a in attentions])  # (L, H, T, T)
    run = ViTRun(np.ones(3) / 3, stacked, np.zeros((8, 12, 3), np.uint8), np.zeros((6, 48)), (2, 3), 4)
    expected = _vit_explain_fixed(attentions, "mean")[0, 1:].numpy()
    expected = (expected / expected.sum()).reshape(2, 3)
    column = _vit_explain_fixed(attentions, "mean")[1:, 0].numpy()
    assert not np.allclose(expected, (column / column.sum()).reshape(2, 3), atol=1e-3)  # the test can tell them apart
    np.testing.assert_allclose(vit_view.rollout_map(run, stacked, 2, "mean", 0.0, True), expected, atol=1e-6)
