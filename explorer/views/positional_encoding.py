"""The positional-encoding page's view: one function per tab, settings in, a frozen dataclass out.

The tabs: the sinusoidal encoding of Vaswani et al. (2017, Section 3.5) with its relative-shift
rotation; learned tables (the ViT paper's Figure 7); RoPE (Su et al. 2021, Eq. 16); ViT resolution
change by interpolating position embeddings (Dosovitskiy et al. 2021, Section 3.2); two schemes
side by side. Messages about inputs the page should show come back as ``errors`` / ``warnings``.
The maths lives in :mod:`explorer.analysis.positions`, the figures in :mod:`explorer.figures.positions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch

from explorer.analysis import positions as pa
from explorer.figures import positions as pf
from explorer.inputs.params import ParamSpec

SECTIONS = ("Sinusoidal", "Learned", "RoPE", "ViT resolution", "Compare")
WHICH_VIT = ("trained", "untrained")

# Every URL-bound widget and what its value may look like. ``clean_link`` checks the raw URL before
# the widgets exist (Streamlit silently drops, or for ?x=inf even fails on, values it cannot parse)
# and drops bad ones with a one-line notice.
# Integers carry no range here: out-of-range sizes get the same message as when typed in.
URL_INT_LIMIT = 10**9  # beyond this Streamlit's number box drops the value; we say so
URL_SCHEMA: dict[str, ParamSpec] = {
    "pe_d_model": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_max_len": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_base": ParamSpec("float", minimum=-1e300, maximum=1e300),
    "pe_section": ParamSpec("choice", SECTIONS),
    "pe_dims": ParamSpec("text", max_chars=200),
    "pe_metric": ParamSpec("choice", pa.SIMILARITY_METRICS),
    "pe_shift": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_vit": ParamSpec("choice", WHICH_VIT),
    "pe_pair": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_offset": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_grid": ParamSpec("int", minimum=2, maximum=pa.GRID_CAP),
    "pe_mode": ParamSpec("choice", pa.INTERPOLATION_MODES),
    "pe_channel": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_cmp_a": ParamSpec("choice", pa.SCHEMES),
    "pe_cmp_b": ParamSpec("choice", pa.SCHEMES),
    "pe_cmp_metric": ParamSpec("choice", pa.SIMILARITY_METRICS),
}


@dataclass(frozen=True)
class Messages:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _messages(*checks: pa.Checked) -> Messages:
    return Messages([e for c in checks for e in c.errors], [w for c in checks for w in c.warnings])


@dataclass(frozen=True)
class SinusoidalView:
    encoding: go.Figure
    dims: Messages
    waves: go.Figure
    similarity: go.Figure
    spread: float  # largest spread along a diagonal: 0 up to rounding
    shift: Messages
    k: int
    shift_matrix: go.Figure
    check: pa.ShiftCheck
    matrices: dict[str, np.ndarray]  # for the downloads


def sinusoidal_view(settings: pa.SinusoidSettings, dims_text: str, metric: str, shift: object) -> SinusoidalView:
    d, length, base = settings.d_model, settings.max_len, settings.base
    table = pa.cached_sinusoidal_table(length, d, base)  # shared, read-only
    dims_check = pa.parse_dimensions(dims_text, d)
    dims = dims_check.value
    similarity = pa.sinusoidal_similarity(length, d, base, metric)
    shift_check = pa.check_int_range(shift, "shift k", -(length - 1), max(length - 1, 0), min(5, length - 1))
    k = shift_check.value
    matrix = pa.shift_matrix(k, d, base)
    return SinusoidalView(
        encoding=pf.encoding_heatmap(table),
        dims=_messages(dims_check),
        waves=pf.wave_curves(table, dims, pa.wavelengths(dims, d, base)),
        similarity=pf.similarity_heatmap(similarity.matrix, f"{metric} between positions", *similarity.colour_range),
        spread=pa.sinusoidal_similarity_spread(length, d, base, metric),
        shift=_messages(shift_check),
        k=k,
        shift_matrix=pf.shift_matrix_heatmap(matrix, k),
        check=pa.check_shift_property(length, d, k, base),
        matrices={"encoding": table, "similarity": similarity.matrix, f"M_{k}": matrix},
    )


@dataclass(frozen=True)
class TextTableView:
    """The dates model's positions: a learned table's similarity, the sinusoid it adds, or nothing."""

    scheme: str
    figure: go.Figure | None
    length: int
    max_len: int
    d_model: int
    matrices: dict[str, np.ndarray]


def text_table_view(settings: pa.SinusoidSettings, model: torch.nn.Module) -> TextTableView:
    text = pa.text_positions(model)
    length = min(settings.max_len, text.max_len)
    if text.scheme == "learned" and text.source is not None and text.target is not None:
        source, target = pa.position_similarity(text.source[:length]), pa.position_similarity(text.target[:length])
        figure = pf.side_by_side_heatmaps([source, target], ["encoder (source) positions", "decoder (target) positions"], -1.0, 1.0)
        return TextTableView(text.scheme, figure, length, text.max_len, text.d_model, {"dates_source": source, "dates_target": target})
    if text.scheme == "sinusoidal":
        similarity = pa.sinusoidal_similarity(length, text.d_model).matrix
        figure = pf.similarity_heatmap(similarity, "dates model: sinusoidal positions (cosine)", -1.0, 1.0)
        return TextTableView(text.scheme, figure, length, text.max_len, text.d_model, {"dates_sinusoidal": similarity})
    return TextTableView(text.scheme, None, length, text.max_len, text.d_model, {})


@dataclass(frozen=True)
class PatchTableView:
    """A ViT's position embeddings as the ViT paper's Figure 7 (None when it has none)."""

    figure: go.Figure | None
    near: float = float("nan")  # mean cosine to the 4 neighbours
    far: float = float("nan")  # mean cosine to every other patch
    matrices: dict[str, np.ndarray] = field(default_factory=dict)


def patch_table_view(vit: torch.nn.Module, label: str) -> PatchTableView:
    patches = pa.vit_positions(vit)
    if patches.table is None:
        return PatchTableView(None)
    similarity = pa.patch_similarity_grid(patches.table, patches.grid)
    near, far = pa.neighbour_contrast(similarity)
    gh, gw = patches.grid
    figure = pf.patch_similarity_figure(similarity, f"{label} ViT ({patches.scheme} positions): {gh}×{gw} patches")
    return PatchTableView(figure, near, far, {f"vit_{label}_patches": similarity.reshape(gh * gw, gh * gw)})


@dataclass(frozen=True)
class RopeView:
    messages: Messages
    pair: int
    offset: int
    rotation: go.Figure
    relative: pa.RelativeTable
    profile: go.Figure
    scores: go.Figure
    matrices: dict[str, np.ndarray]


def rope_view(settings: pa.SinusoidSettings, pair: object, offset: object, seed: object) -> RopeView:
    """RoPE for one random query/key pair (seeded): its rotation, and scores that depend on m - n only."""
    d, length, base = settings.d_model, settings.max_len, settings.base
    pair_check = pa.check_int_range(pair, "pair i", 0, d // 2 - 1, 0)
    offset_check = pa.check_int_range(offset, "offset m − n", -(length - 1), max(length - 1, 0), min(3, length - 1))
    seed_check = pa.check_int_range(seed, "seed", 0, 2**31 - 1, 0)
    i, gap, s = pair_check.value, offset_check.value, seed_check.value
    q, k = pa.random_query_key(d, s)
    steps = list(range(min(8, length)))
    path = pa.rope_pair_trajectory(q, i, np.array(steps), base)
    first_m = max(gap, 0)  # three consecutive query positions, each with its key `gap` behind
    shown_m = [m for m in range(first_m, first_m + 3) if m < length and 0 <= m - gap < length]
    shown_n = [m - gap for m in shown_m]
    q_pairs = pa.rope_pair_trajectory(q, i, np.array(shown_m, dtype=np.int64), base) if shown_m else np.zeros((0, 2))
    k_pairs = pa.rope_pair_trajectory(k, i, np.array(shown_n, dtype=np.int64), base) if shown_n else np.zeros((0, 2))
    positions = np.arange(length)
    rope = pa.rope_scores(q, k, positions, positions, base)
    additive = pa.additive_scores(q, k, pa.cached_sinusoidal_table(length, d, base))
    rope_diag, additive_diag = np.diagonal(rope, -gap), np.diagonal(additive, -gap)
    return RopeView(
        messages=_messages(pair_check, offset_check, seed_check),
        pair=i,
        offset=gap,
        rotation=pf.rope_rotation_figure(path, steps, q_pairs, k_pairs, shown_m, shown_n, i, float(pa.frequencies(d, base)[i])),
        relative=pa.relative_offset_table(q, k, gap, length, base),
        profile=pf.score_profile_figure(np.arange(rope_diag.shape[0]) + first_m, rope_diag, additive_diag, gap),
        scores=pf.similarity_heatmap(rope, "RoPE scores q_m·k_n", colorbar_title="score"),
        matrices={"rope_scores": rope, "additive_scores": additive, "q": q[None, :], "k": k[None, :]},
    )


def resolution_default_side(vit: torch.nn.Module) -> int | None:
    """About 1.5 x the training grid (like 224 -> 336 pixels), or None when the ViT has no position table."""
    patches = pa.vit_positions(vit)
    if patches.table is None:
        return None
    return min(max(patches.grid) * 3 // 2, pa.GRID_CAP)


@dataclass(frozen=True)
class ResolutionView:
    messages: Messages
    scheme: str
    side: int
    channel: int
    n_channels: int
    grids: go.Figure
    channel_images: go.Figure
    matrices: dict[str, np.ndarray]


def resolution_view(vit: torch.nn.Module, side: object, mode: str, channel: object) -> ResolutionView:
    """The ViT's position table resampled to a ``side`` x ``side`` grid; needs a table (see ``resolution_default_side``)."""
    patches = pa.vit_positions(vit)
    assert patches.table is not None, "call resolution_default_side first: this ViT has no position table"
    gh, gw = patches.grid
    default = min(max(gh, gw) * 3 // 2, pa.GRID_CAP)
    side_check = pa.check_int_range(side, "new grid side", 2, pa.GRID_CAP, default)
    channel_check = pa.check_int_range(channel, "channel", 0, patches.table.shape[1] - 1, 0)
    n, c = side_check.value, channel_check.value
    new_table = pa.resample_patch_positions(patches, (n, n), mode, vit)
    before = pa.patch_similarity_grid(patches.table, patches.grid)
    after = pa.patch_similarity_grid(new_table, (n, n))
    return ResolutionView(
        messages=_messages(side_check, channel_check),
        scheme=patches.scheme,
        side=n,
        channel=c,
        n_channels=int(patches.table.shape[1]),
        grids=pf.patch_grids_side_by_side([before, after], [f"training grid {gh}×{gw}", f"{mode} to {n}×{n}"]),
        channel_images=pf.channel_images_figure(patches.table[:, c].reshape(gh, gw), new_table[:, c].reshape(n, n), c),
        matrices={"before_table": patches.table, "after_table": new_table, "before_similarity": before.reshape(gh * gw, -1),
                  "after_similarity": after.reshape(n * n, -1)},
    )


@dataclass(frozen=True)
class CompareView:
    notes: list[str]  # one line per scheme that has nothing to draw
    figure: go.Figure | None
    length: int
    drawn_notes: str
    matrices: dict[str, np.ndarray]


def compare_view(
    settings: pa.SinusoidSettings, schemes: tuple[str, str], metric: str, text_model: torch.nn.Module | None, vit: torch.nn.Module | None,
) -> CompareView:
    """Two schemes' position x position similarity on the same positions and one colour scale."""
    text = pa.text_positions(text_model) if text_model is not None else None
    patches = pa.vit_positions(vit) if vit is not None else None
    results = [pa.scheme_similarity(name, settings, metric, text, patches) for name in schemes]
    notes = [f"{r.name}: {r.note}." for r in results if r.matrix is None]
    drawn = [r for r in results if r.matrix is not None]
    if not drawn:
        return CompareView(notes, None, 0, "", {})
    length = min(r.matrix.shape[0] for r in drawn)  # type: ignore[union-attr]
    matrices = [r.matrix[:length, :length] for r in drawn]  # type: ignore[index]
    low, high = pa.shared_colour_range(matrices, metric)
    return CompareView(
        notes,
        pf.side_by_side_heatmaps(matrices, [r.name for r in drawn], low, high),
        length,
        "; ".join(f"{r.name}: {r.note}" for r in drawn if r.note),
        {r.name: m for r, m in zip(drawn, matrices)},
    )
