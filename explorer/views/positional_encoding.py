"""The positional-encoding page's view: one function per tab, settings in, a frozen dataclass out.

The tabs: the sinusoidal encoding of Vaswani et al. (2017, Section 3.5) with its relative-shift
rotation; learned tables (the ViT paper's Figure 7); RoPE (Su et al. 2021, Eq. 16); ViT resolution
change by interpolating position embeddings (Dosovitskiy et al. 2021, Section 3.2); two schemes
side by side. Each view carries its figures with their captions (the numbers a caption quotes come
from the run), the notes the page shows, and one-line ``errors`` / ``warnings`` about inputs.
The maths lives in :mod:`explorer.analysis.positions`, the figures in :mod:`explorer.figures.positions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from explorer.analysis import positions as pa
from explorer.figures import positions as pf
from explorer.inputs.params import ParamSpec

if TYPE_CHECKING:
    from explorer.zoo import ZooModel

Settings = pa.SinusoidSettings
SECTIONS = ("Sinusoidal", "Learned", "RoPE", "ViT resolution", "Compare")
WHICH_VIT = ("trained", "untrained")
SIMILARITY_METRICS = pa.SIMILARITY_METRICS
INTERPOLATION_MODES = pa.INTERPOLATION_MODES
GRID_CAP = pa.GRID_CAP
DEFAULTS = {"d_model": pa.DEFAULT_D_MODEL, "max_len": pa.DEFAULT_MAX_LEN, "base": pa.DEFAULT_BASE}

# Which of the three shared controls (d_model, maximum length, base) each tab reads. The page
# disables the others on that tab (keeping their values for the tabs that use them) and says why.
SECTION_SETTINGS: dict[str, tuple[str, ...]] = {
    "Sinusoidal": ("d_model", "max_len", "base"),
    "Learned": ("max_len",),
    "RoPE": ("d_model", "max_len", "base"),
    "ViT resolution": (),
    "Compare": ("d_model", "max_len", "base"),
}
UNUSED_SETTINGS_NOTE = {
    "Learned": "d_model and base do not apply here: the learned tables have the trained models' own width; "
    "the maximum length limits how many text positions are drawn.",
    "ViT resolution": "d_model, maximum length and base do not apply here: this tab resamples the trained ViT's "
    "own position table (its width and patch grid).",
}

# Every URL-bound widget and what its value may look like. ``clean_link`` checks the raw URL before
# the widgets exist (Streamlit silently drops, or for ?x=inf even fails on, values it cannot parse)
# and drops bad ones with a one-line notice. Integers carry the widest range Streamlit's number box
# keeps; values outside the page's limits then get the same message as when typed in.
URL_INT_LIMIT = 10**9
URL_FLOAT_LIMIT = 1e300
URL_SCHEMA: dict[str, ParamSpec] = {
    "pe_d_model": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_max_len": ParamSpec("int", minimum=-URL_INT_LIMIT, maximum=URL_INT_LIMIT),
    "pe_base": ParamSpec("float", minimum=-URL_FLOAT_LIMIT, maximum=URL_FLOAT_LIMIT),
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
class Chart:
    """A figure and its one-line 'what am I looking at' caption."""

    figure: go.Figure
    caption: str


def shared_settings(d_model: object, max_len: object, base: object) -> tuple[pa.SinusoidSettings, Messages]:
    """The three shared controls validated (fallbacks and caps come with one-line messages)."""
    settings, errors, warnings = pa.check_settings(d_model, max_len, base)
    return settings, Messages(errors, warnings)


def _untrained_note(entry: ZooModel, what: str) -> list[str]:
    """One line when a zoo model fell back to random weights: its positions then carry no structure."""
    if entry.trained:
        return []
    return [f"{entry.warning or 'This model is untrained.'} Its {what} is random, so expect no structure."]


# ---------------------------------------------------------------------------------------------
# Sinusoidal
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SinusoidalView:
    encoding: Chart
    dims: Messages
    waves: Chart
    similarity: Chart
    spread: float  # largest spread along a diagonal: 0 up to rounding
    shift: Messages
    k: int
    shift_matrix: Chart
    check: pa.ShiftCheck
    matrices: dict[str, np.ndarray]  # for the downloads

    @property
    def check_metrics(self) -> list[tuple[str, str]]:
        """(label, value) of the identity checks; the first two need a position pair that fits."""
        check = self.check
        fitted = [
            (f"max |M_k PE(pos) − PE(pos+k)| over {check.n_positions} positions", f"{check.max_abs_error_f64:.1e}"),
            ("same check on the model's float32 table", f"{check.max_abs_error_f32:.1e}"),
        ]
        return (fitted if check.n_positions else []) + [("|M_k M_kᵀ − I| (a rotation)", f"{check.is_orthogonal_error:.1e}")]


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
        encoding=Chart(
            pf.encoding_heatmap(table),
            f"Each row is the {d}-number vector added at one position (0 to {length - 1}). Left columns oscillate "
            "fast, right columns slowly: every position gets a unique pattern, like a clock with many hands.",
        ),
        dims=_messages(dims_check),
        waves=Chart(
            pf.wave_curves(table, dims, pa.wavelengths(dims, d, base)),
            "Single columns of the heatmap against position. Each sine/cosine pair shares a wavelength "
            f"2π·{base:g}^(2i/d); wavelengths grow geometrically from 2π up to 2π·{base:g}.",
        ),
        similarity=Chart(
            pf.similarity_heatmap(similarity.matrix, f"{metric} between positions", *similarity.colour_range),
            "Row m, column n: how alike PE(m) and PE(n) are. Every diagonal stripe is constant: the similarity "
            "depends only on the distance m − n, and it falls off (with ripples) as the distance grows.",
        ),
        spread=pa.sinusoidal_similarity_spread(length, d, base, metric),
        shift=_messages(shift_check),
        k=k,
        shift_matrix=Chart(
            pf.shift_matrix_heatmap(matrix, k),
            "The corner of M_k: 2×2 rotation blocks on the diagonal, zeros elsewhere. It contains k and the "
            "frequencies only, never pos, so one matrix moves every position k steps along.",
        ),
        check=pa.check_shift_property(length, d, k, base),
        matrices={"encoding": table, "similarity": similarity.matrix, f"M_{k}": matrix},
    )


# ---------------------------------------------------------------------------------------------
# Learned tables
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LearnedView:
    """The dates model's positions (a learned table, the sinusoid it adds, or nothing) and the ViT's Figure 7."""

    text_notes: list[str]
    text_charts: list[Chart]  # one per table: encoder and decoder, or the one sinusoid
    vit_notes: list[str]
    patches: Chart | None  # None when the ViT has no position embeddings
    near: float = float("nan")  # mean cosine to the 4 neighbours
    far: float = float("nan")  # mean cosine to every other patch
    matrices: dict[str, np.ndarray] = field(default_factory=dict)


def _text_tables(settings: pa.SinusoidSettings, entry: ZooModel) -> tuple[list[str], list[Chart], dict[str, np.ndarray]]:
    text = pa.text_positions(entry.model)
    notes = _untrained_note(entry, "position table")
    length = min(settings.max_len, text.max_len)
    if text.scheme == "learned" and text.source is not None and text.target is not None:
        caption = (
            f"Cosine similarity between learned position vectors (first {length} of {text.max_len}). A trained "
            "table shows a bright band around the diagonal: neighbours were learned to look alike."
        )
        tables = {"dates_source": pa.position_similarity(text.source[:length]),
                  "dates_target": pa.position_similarity(text.target[:length])}
        titles = ("encoder (source) positions", "decoder (target) positions")
        charts = [Chart(pf.similarity_heatmap(m, t, -1.0, 1.0), caption) for m, t in zip(tables.values(), titles)]
        return notes, charts, tables
    if text.scheme == "sinusoidal":
        notes = [
            "The dates model uses fixed sinusoidal positions (Vaswani et al. §3.5), so it learned no position table. "
            f"Below: the similarity of the sinusoidal table it adds (d_model {text.d_model}, first {length} positions)."
        ]
        similarity = pa.sinusoidal_similarity(length, text.d_model).matrix
        figure = pf.similarity_heatmap(similarity, "dates model: sinusoidal (cosine)", -1.0, 1.0)
        caption = "Cosine similarity between the fixed vectors this model adds at positions m and n; it depends only on m − n."
        return notes, [Chart(figure, caption)], {"dates_sinusoidal": similarity}
    return [f"The dates model uses {text.scheme} positions, so it has no position table to show (see the RoPE tab)."], [], {}


def learned_view(settings: pa.SinusoidSettings, dates: ZooModel, vit: ZooModel, which: str) -> LearnedView:
    """``which`` is "trained" or "untrained": the ViT asked for (its weights may still be a fallback)."""
    text_notes, text_charts, matrices = _text_tables(settings, dates)
    label = "trained" if vit.trained else "untrained"
    vit_notes = _untrained_note(vit, "embedding table") if which == "trained" else []
    patches = pa.vit_positions(vit.model)
    if patches.table is None:
        return LearnedView(text_notes, text_charts, ["This ViT uses no position embeddings, so there is nothing to draw."], None, matrices=matrices)
    similarity = pa.patch_similarity_grid(patches.table, patches.grid)
    near, far = pa.neighbour_contrast(similarity)
    gh, gw = patches.grid
    chart = Chart(
        pf.patch_similarity_figure(similarity, f"{label} ViT ({patches.scheme}): {gh}×{gw} patches"),
        "Each small square stands for one patch position (row, column). Inside it, colour shows the cosine "
        "similarity of that patch's position embedding to every patch's (red alike, blue opposite). A red spot near "
        "the square's own place, and red rows/columns, mean a 2-D layout was learned from 1-D embeddings.",
    )
    matrices = {**matrices, f"vit_{label}_patches": similarity.reshape(gh * gw, gh * gw)}
    return LearnedView(text_notes, text_charts, vit_notes, chart, near, far, matrices)


# ---------------------------------------------------------------------------------------------
# RoPE
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RopeView:
    messages: Messages
    pair: int
    offset: int
    path: Chart
    pairs: Chart
    relative: pa.RelativeTable
    profile: Chart
    scores: Chart
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
    first_m = max(gap, 0)  # three consecutive query positions, each with its key `gap` behind
    shown_m = [m for m in range(first_m, first_m + 3) if m < length and 0 <= m - gap < length]
    shown_n = [m - gap for m in shown_m]
    positions = np.arange(length)
    rope = pa.rope_scores(q, k, positions, positions, base)
    additive = pa.additive_scores(q, k, pa.cached_sinusoidal_table(length, d, base))
    rope_diag, additive_diag = np.diagonal(rope, -gap), np.diagonal(additive, -gap)
    path = pf.rope_path_figure(pa.rope_pair_trajectory(q, i, np.array(steps), base), steps, i, float(pa.frequencies(d, base)[i]))
    pairs = pf.rope_pairs_figure(
        pa.rope_pair_trajectory(q, i, np.array(shown_m, dtype=np.int64), base),
        pa.rope_pair_trajectory(k, i, np.array(shown_n, dtype=np.int64), base), shown_m, shown_n, i,
    )
    return RopeView(
        messages=_messages(pair_check, offset_check, seed_check),
        pair=i,
        offset=gap,
        path=Chart(
            path,
            f"Coordinates ({2 * i}, {2 * i + 1}) of one query vector placed at positions 0, 1, 2, …: only the angle "
            "changes (arrows drawn at unit length).",
        ),
        pairs=Chart(
            pairs,
            f"The query at m and the key at n = m − {gap} for three consecutive m: both arrows of a colour turn "
            "together, so the angle between them, and their dot product, stays the same.",
        ),
        relative=pa.relative_offset_table(q, k, gap, length, base),
        profile=Chart(
            pf.score_profile_figure(np.arange(rope_diag.shape[0]) + first_m, rope_diag, additive_diag, gap),
            "Slide a query/key pair with a fixed gap along the sequence: the RoPE score is a flat line, the additive "
            "score wobbles with the absolute position.",
        ),
        scores=Chart(
            pf.similarity_heatmap(rope, "RoPE scores q_m·k_n", colorbar_title="score"),
            "Row m (query position), column n (key position): the rotated score for one random q and k. Every "
            "diagonal stripe is constant because the score depends on m − n only.",
        ),
        matrices={"rope_scores": rope, "additive_scores": additive, "q": q[None, :], "k": k[None, :]},
    )


# ---------------------------------------------------------------------------------------------
# ViT resolution
# ---------------------------------------------------------------------------------------------


def resolution_default_side(vit: ZooModel) -> int | None:
    """About 1.5 x the training grid (like 224 -> 336 pixels), or None when the ViT has no position table."""
    patches = pa.vit_positions(vit.model)
    if patches.table is None:
        return None
    return min(max(patches.grid) * 3 // 2, pa.GRID_CAP)


@dataclass(frozen=True)
class ResolutionView:
    messages: Messages
    notes: list[str]
    side: int
    channel: int
    grids: tuple[Chart, Chart]  # before, after
    channel_images: tuple[Chart, Chart]
    matrices: dict[str, np.ndarray]


def resolution_view(vit: ZooModel, side: object, mode: str, channel: object) -> ResolutionView:
    """The ViT's position table resampled to a ``side`` x ``side`` grid; needs a table (see ``resolution_default_side``)."""
    patches = pa.vit_positions(vit.model)
    assert patches.table is not None, "call resolution_default_side first: this ViT has no position table"
    gh, gw = patches.grid
    side_check = pa.check_int_range(side, "new grid side", 2, pa.GRID_CAP, min(max(gh, gw) * 3 // 2, pa.GRID_CAP))
    channel_check = pa.check_int_range(channel, "channel", 0, patches.table.shape[1] - 1, 0)
    n, c = side_check.value, channel_check.value
    new_table = pa.resample_patch_positions(patches, (n, n), mode, vit.model)
    before = pa.patch_similarity_grid(patches.table, patches.grid)
    after = pa.patch_similarity_grid(new_table, (n, n))
    notes = _untrained_note(vit, "position table")
    if patches.scheme == "sinusoidal":
        notes.append("This ViT uses fixed 2-D sinusoidal positions: the new grid is recomputed, not interpolated.")
    grid_caption = (
        "Figure-7 grids before and after resampling, same colour scale. Each square is one patch position; its "
        "picture is that patch's cosine similarity to all others. Interpolation keeps the learned layout, smoothed."
    )
    channel_caption = (
        "One of the embedding's channels laid out on the patch grid: the resampling treats the table as a "
        f"{patches.table.shape[1]}-channel image and resizes it, exactly like resizing a photo."
    )
    low, high = pa.shared_colour_range([patches.table[:, c], new_table[:, c]], "dot product")
    return ResolutionView(
        messages=_messages(side_check, channel_check),
        notes=notes,
        side=n,
        channel=c,
        grids=(
            Chart(pf.patch_similarity_figure(before, f"training grid {gh}×{gw}"), grid_caption),
            Chart(pf.patch_similarity_figure(after, f"{mode} to {n}×{n}"), ""),
        ),
        channel_images=(
            Chart(pf.channel_image_figure(patches.table[:, c].reshape(gh, gw), f"channel {c}, {gh}×{gw} grid", low, high), channel_caption),
            Chart(pf.channel_image_figure(new_table[:, c].reshape(n, n), f"channel {c}, {n}×{n} grid", low, high), ""),
        ),
        matrices={"before_table": patches.table, "after_table": new_table, "before_similarity": before.reshape(gh * gw, -1),
                  "after_similarity": after.reshape(n * n, -1)},
    )


# ---------------------------------------------------------------------------------------------
# Compare
# ---------------------------------------------------------------------------------------------


def compare_schema(options: tuple[str, ...]) -> dict[str, ParamSpec]:
    """The two Compare choices as URL parameters restricted to ``options`` (what these models can draw)."""
    return {key: ParamSpec("choice", options) for key in ("pe_cmp_a", "pe_cmp_b")}


def compare_options(dates: ZooModel, vit: ZooModel) -> tuple[str, ...]:
    """The schemes that have something to draw with the shipped models (no 'learned' entry without a table)."""
    return pa.available_schemes(pa.text_positions(dates.model), pa.vit_positions(vit.model))


@dataclass(frozen=True)
class CompareView:
    notes: list[str]
    panels: list[Chart]  # one per drawn scheme, one colour range
    caption: str  # for the panels together
    distance: Chart | None
    length: int
    matrices: dict[str, np.ndarray]


def compare_view(
    settings: pa.SinusoidSettings, schemes: tuple[str, str], metric: str, dates: ZooModel, vit: ZooModel, seed: object = 0,
) -> CompareView:
    """Two schemes' position x position similarity on the same positions and one colour scale."""
    seed_check = pa.check_int_range(seed, "seed", 0, 2**31 - 1, 0)
    text, patches = pa.text_positions(dates.model), pa.vit_positions(vit.model)
    results = [pa.scheme_similarity(name, settings, metric, text, patches, seed_check.value) for name in schemes]
    notes = [f"{r.name}: {r.note}." for r in results if r.matrix is None]
    for prefix, entry in (("learned: dates", dates), ("learned: ViT", vit)):
        if any(name.startswith(prefix) for name in schemes):
            notes += _untrained_note(entry, "learned table")
    drawn = [(r.name, r.note, r.matrix) for r in results if r.matrix is not None]
    if not drawn:
        return CompareView(notes, [], "", None, 0, {})
    length = min(m.shape[0] for _, _, m in drawn)
    cut = [(name, note, m[:length, :length]) for name, note, m in drawn]
    low, high = pa.shared_colour_range([m for _, _, m in cut], metric)
    details = "; ".join(f"{name}: {note}" for name, note, _ in cut if note)
    caption = (
        f"Position × position {metric} on the same {length} positions and one colour scale"
        + (f" ({details})" if details else "")
        + ". Stripes parallel to the diagonal mean 'depends on distance only'; a bright diagonal with noise "
        "elsewhere is an untrained (random) table; a uniform block means no position information at all."
    )
    panels = [Chart(pf.similarity_heatmap(m, name, low, high), "") for name, _, m in cut]
    distance = Chart(
        pf.distance_profile_figure({name: pa.similarity_by_distance(m) for name, _, m in cut}, metric),
        "Each panel's diagonals averaged: how alike two positions are as they move apart. Sinusoidal and RoPE fall "
        "off with distance (with ripples) whatever the absolute position; 'none' stays flat.",
    )
    return CompareView(notes, panels, caption, distance, length, {name: m for name, _, m in cut})
