"""The make_subplots / update_layout versions of explorer.figures.positions (before the builders wrote one dict).

Kept verbatim as the reference the tests compare the dict-built figures with: the JSON a student's
browser gets must stay the same, float for float. Not used by the app.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# Helpers the speed-up left unchanged come from the library itself (only the rewritten builders are kept here).
from explorer.figures.positions import _colour, _span, _thinning_note, _tile_ticks, _unit, display_stride  # noqa: F401

DRAW_LIMIT = 384  # largest number of rows/columns drawn per heatmap axis
DIVERGING = "RdBu_r"  # blue negative, red positive, white zero
_MARGIN = dict(l=50, r=20, t=50, b=45)


def _thin(matrix: np.ndarray, limit: int = DRAW_LIMIT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every s-th row and column of a 2-D matrix, with the kept row and column indices."""
    rows = np.arange(0, matrix.shape[0], display_stride(matrix.shape[0], limit))
    cols = np.arange(0, matrix.shape[1], display_stride(matrix.shape[1], limit))
    return np.asarray(matrix)[np.ix_(rows, cols)], rows, cols


def _heatmap(
    matrix: np.ndarray,
    zmin: float | None = None,
    zmax: float | None = None,
    colorbar_title: str = "",
    showscale: bool = True,
    hover: str = "row %{y}<br>col %{x}<br>value %{z:.3f}<extra></extra>",
    limit: int = DRAW_LIMIT,
) -> go.Heatmap:
    thin, rows, cols = _thin(matrix, limit)
    symmetric = zmin is None and zmax is None
    return go.Heatmap(
        z=thin.astype(np.float32),
        x=cols.astype(np.int32),
        y=rows.astype(np.int32),
        colorscale=DIVERGING,
        zmin=zmin,
        zmax=zmax,
        zmid=0.0 if symmetric else None,
        showscale=showscale,
        colorbar=dict(title=dict(text=colorbar_title), thickness=12),
        hovertemplate=hover,
    )


def encoding_heatmap(table: np.ndarray, title: str = "Sinusoidal encoding PE(pos, dim)") -> go.Figure:
    """Position (rows, top to bottom) x dimension (columns) heatmap of an encoding table."""
    fig = go.Figure(
        _heatmap(table, -1.0, 1.0, "value", hover="position %{y}<br>dimension %{x}<br>PE %{z:.3f}<extra></extra>")
    )
    fig.update_layout(
        title=title + _thinning_note(table),
        xaxis_title="encoding dimension",
        yaxis_title="position",
        yaxis_autorange="reversed",
        margin=_MARGIN,
        height=420,
    )
    return fig


def wave_curves(table: np.ndarray, dims: list[int], wavelengths: list[float]) -> go.Figure:
    """PE(pos, dim) against pos for chosen dimensions, legend giving each one's wavelength."""
    positions = np.arange(table.shape[0])
    fig = go.Figure()
    for dim, length in zip(dims, wavelengths):
        kind = "sin" if dim % 2 == 0 else "cos"
        fig.add_trace(
            go.Scatter(
                x=positions.astype(np.int32),
                y=table[:, dim].astype(np.float32),
                mode="lines",
                name=f"dim {dim} ({kind}, wavelength {length:,.1f})",
                hovertemplate=f"dim {dim}<br>pos %{{x}}<br>PE %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_layout(
        title="Chosen dimensions against position",
        xaxis_title="position",
        yaxis_title="PE(pos, dim)",
        yaxis_range=[-1.1, 1.1],
        legend=dict(orientation="h", yanchor="bottom", y=-0.45),
        margin=_MARGIN,
        height=380,
    )
    return fig


def similarity_heatmap(
    matrix: np.ndarray,
    title: str,
    zmin: float | None = None,
    zmax: float | None = None,
    axis_title: str = "position",
    colorbar_title: str = "similarity",
) -> go.Figure:
    """Square position x position matrix (row = first position, column = second)."""
    hover = f"{axis_title} %{{y}} vs %{{x}}<br>{colorbar_title} %{{z:.3f}}<extra></extra>"
    fig = go.Figure(_heatmap(matrix, zmin, zmax, colorbar_title, hover=hover))
    fig.update_layout(
        title=title + _thinning_note(matrix),
        xaxis_title=axis_title,
        yaxis_title=axis_title,
        yaxis_autorange="reversed",
        yaxis_scaleanchor="x",
        xaxis_constrain="domain",
        margin=_MARGIN,
        height=460,
    )
    return fig


def side_by_side_heatmaps(
    matrices: list[np.ndarray],
    titles: list[str],
    zmin: float,
    zmax: float,
    axis_title: str = "position",
    colorbar_title: str = "similarity",
) -> go.Figure:
    """Two (or more) square matrices on shared axes and one colour scale, for a fair comparison."""
    fig = make_subplots(rows=1, cols=len(matrices), subplot_titles=titles, shared_yaxes=True, horizontal_spacing=0.06)
    hover = f"{axis_title} %{{y}} vs %{{x}}<br>{colorbar_title} %{{z:.3f}}<extra></extra>"
    for index, matrix in enumerate(matrices):
        trace = _heatmap(matrix, zmin, zmax, colorbar_title, showscale=index == len(matrices) - 1, hover=hover)
        fig.add_trace(trace, row=1, col=index + 1)
        fig.update_xaxes(title_text=axis_title, row=1, col=index + 1)
    fig.update_yaxes(title_text=axis_title, autorange="reversed", row=1, col=1)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(margin=_MARGIN, height=440)
    return fig


def shift_matrix_heatmap(matrix: np.ndarray, k: int, show: int = 16) -> go.Figure:
    """The top-left ``show`` x ``show`` corner of M_k: 2 x 2 rotation blocks on the diagonal, zeros elsewhere."""
    corner = matrix[:show, :show]
    fig = go.Figure(
        go.Heatmap(
            z=corner.astype(np.float32),
            colorscale=DIVERGING,
            zmin=-1,
            zmax=1,
            colorbar=dict(thickness=12),
            hovertemplate="row %{y}, col %{x}<br>%{z:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"M_{k}: first {corner.shape[0]} of {matrix.shape[0]} dimensions",
        xaxis_title="input dimension (PE(pos))",
        yaxis_title="output dimension (PE(pos+k))",
        yaxis_autorange="reversed",
        yaxis_scaleanchor="x",
        xaxis_constrain="domain",
        margin=_MARGIN,
        height=380,
    )
    return fig


def _arrow(x: float, y: float, colour: str, label: str, dash: str = "solid", name: str | None = None) -> go.Scatter:
    return go.Scatter(
        x=[0.0, float(x)],
        y=[0.0, float(y)],
        mode="lines+markers+text",
        line=dict(color=colour, width=2, dash=dash),
        marker=dict(symbol=["circle", "arrow"], size=[4, 12], angleref="previous", color=colour),
        text=["", label],
        textposition="top center",
        name=name or label,
        showlegend=name is not None,
        hovertemplate=f"{label}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
    )


def rope_rotation_figure(
    query_path: np.ndarray,
    positions: list[int],
    pairs_q: np.ndarray,
    pairs_k: np.ndarray,
    query_positions: list[int],
    key_positions: list[int],
    pair: int,
    angle_step: float,
    normalise: bool = True,
) -> go.Figure:
    """Left: one (2i, 2i+1) pair of q rotated at several positions. Right: q_m and k_n at a fixed offset.

    ``query_path`` (P, 2) is the pair at ``positions``; ``pairs_q`` / ``pairs_k`` (R, 2) are q at
    ``query_positions`` and k at ``key_positions``. The angle between q_m and k_n is the same in every row.
    With ``normalise`` every arrow is drawn at unit length so small pairs stay visible.
    """
    if normalise:  # directions carry the story; RoPE never changes a pair's length
        query_path, pairs_q, pairs_k = (_unit(a) for a in (query_path, pairs_q, pairs_k))
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(
            f"query pair {pair} turns {math.degrees(angle_step):.1f}° per position",
            "query (solid) and key (dashed) at the same offset",
        ),
        horizontal_spacing=0.1,
    )
    for index, (point, pos) in enumerate(zip(query_path, positions)):
        fig.add_trace(_arrow(point[0], point[1], _colour(index, len(positions)), f"m={pos}"), row=1, col=1)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for index, (qp, kp, m, n) in enumerate(zip(pairs_q, pairs_k, query_positions, key_positions)):
        colour = palette[index % len(palette)]
        fig.add_trace(_arrow(qp[0], qp[1], colour, f"q m={m}", name=f"m={m}, n={n}"), row=1, col=2)
        fig.add_trace(_arrow(kp[0], kp[1], colour, f"k n={n}", dash="dash"), row=1, col=2)
    spans = [_span(query_path), _span(np.concatenate([pairs_q, pairs_k]) if len(pairs_q) else pairs_k)]
    for col, span in zip((1, 2), spans):
        fig.update_xaxes(range=[-span, span], zeroline=True, title_text=f"dim {2 * pair}", constrain="domain", row=1, col=col)
        fig.update_yaxes(
            range=[-span, span],
            zeroline=True,
            title_text=f"dim {2 * pair + 1}",
            scaleanchor="x" if col == 1 else "x2",
            constrain="domain",
            row=1,
            col=col,
        )
    fig.update_layout(height=430, margin=_MARGIN, legend=dict(orientation="h", yanchor="bottom", y=-0.3))
    return fig


def score_profile_figure(
    query_positions: np.ndarray, rope: np.ndarray, additive: np.ndarray, offset: int
) -> go.Figure:
    """Score at a fixed offset m - n against the absolute query position m: RoPE flat, additive not."""
    fig = go.Figure()
    x = np.asarray(query_positions).astype(np.int32)
    fig.add_trace(go.Scatter(x=x, y=np.asarray(rope, np.float32), mode="lines", name="RoPE: q_m·k_n"))
    fig.add_trace(go.Scatter(x=x, y=np.asarray(additive, np.float32), mode="lines", name="additive: (q+PE_m)·(k+PE_n)"))
    fig.update_layout(
        title=f"Score at offset m - n = {offset}, as the pair slides along the sequence",
        xaxis_title="query position m (key at n = m - offset)",
        yaxis_title="attention score (before scaling)",
        legend=dict(orientation="h", yanchor="bottom", y=-0.45),
        margin=_MARGIN,
        height=380,
    )
    return fig


def tile_patch_grid(similarity: np.ndarray, gap: int = 1) -> np.ndarray:
    """(gh, gw, gh, gw) -> one 2-D image of gh x gw tiles separated by ``gap`` NaN cells."""
    gh, gw = similarity.shape[:2]
    height, width = gh * (gh + gap) - gap, gw * (gw + gap) - gap
    image = np.full((height, width), np.nan, dtype=np.float32)
    for r in range(gh):
        for c in range(gw):
            top, left = r * (gh + gap), c * (gw + gap)
            image[top : top + gh, left : left + gw] = similarity[r, c]
    return image


def patch_similarity_figure(
    similarity: np.ndarray, title: str, zmin: float = -1.0, zmax: float = 1.0, showscale: bool = True
) -> go.Figure:
    """ViT Figure 7 as one tiled heatmap: the tile at (row r, column c) is patch (r, c)'s similarity map."""
    fig = go.Figure(_patch_trace(similarity, zmin, zmax, showscale))
    _style_patch_axes(fig, similarity.shape[:2], title)
    return fig


def _patch_trace(similarity: np.ndarray, zmin: float, zmax: float, showscale: bool) -> go.Heatmap:
    return go.Heatmap(
        z=tile_patch_grid(similarity),
        colorscale="Viridis",
        zmin=zmin,
        zmax=zmax,
        showscale=showscale,
        colorbar=dict(title=dict(text="cosine"), thickness=12),
        hovertemplate="cosine %{z:.2f}<extra></extra>",
        hoverongaps=False,
    )


def _style_patch_axes(fig: go.Figure, grid: tuple[int, int], title: str, row: int | None = None, col: int | None = None) -> None:
    gh, gw = grid
    xv, xt = _tile_ticks(gw, gw + 1)
    yv, yt = _tile_ticks(gh, gh + 1)
    kwargs = {} if row is None else dict(row=row, col=col)
    fig.update_xaxes(
        tickvals=xv, ticktext=xt, title_text="input patch column", showgrid=False, zeroline=False, constrain="domain", **kwargs
    )
    fig.update_yaxes(
        tickvals=yv, ticktext=yt, title_text="input patch row", autorange="reversed", showgrid=False, zeroline=False, **kwargs
    )
    if row is None:
        fig.update_layout(title=title, yaxis_scaleanchor="x", margin=_MARGIN, height=520, plot_bgcolor="white")


def patch_grids_side_by_side(similarities: list[np.ndarray], titles: list[str]) -> go.Figure:
    """Several Figure-7 grids (e.g. before and after interpolation) with one colour scale."""
    fig = make_subplots(rows=1, cols=len(similarities), subplot_titles=titles, horizontal_spacing=0.08)
    for index, similarity in enumerate(similarities):
        fig.add_trace(_patch_trace(similarity, -1.0, 1.0, index == len(similarities) - 1), row=1, col=index + 1)
        _style_patch_axes(fig, similarity.shape[:2], "", row=1, col=index + 1)
        anchor = "x" if index == 0 else f"x{index + 1}"
        fig.update_yaxes(scaleanchor=anchor, row=1, col=index + 1)
    fig.update_layout(margin=_MARGIN, height=480, plot_bgcolor="white")
    return fig


def channel_images_figure(before: np.ndarray, after: np.ndarray, channel: int) -> go.Figure:
    """One embedding channel laid out on the patch grid, before (gh, gw) and after (nh, nw) resampling."""
    low = float(min(np.nanmin(before), np.nanmin(after)))
    high = float(max(np.nanmax(before), np.nanmax(after)))
    if high <= low:
        high = low + 1e-6
    titles = (f"channel {channel}, {before.shape[0]}x{before.shape[1]} grid", f"after, {after.shape[0]}x{after.shape[1]} grid")
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.08)
    for index, image in enumerate((before, after)):
        fig.add_trace(
            go.Heatmap(
                z=image.astype(np.float32),
                colorscale="Viridis",
                zmin=low,
                zmax=high,
                showscale=index == 1,
                colorbar=dict(thickness=12),
                hovertemplate="row %{y}, col %{x}<br>%{z:.3f}<extra></extra>",
            ),
            row=1,
            col=index + 1,
        )
        fig.update_yaxes(autorange="reversed", scaleanchor="x" if index == 0 else "x2", row=1, col=index + 1)
        fig.update_xaxes(title_text="patch column", row=1, col=index + 1)
    fig.update_yaxes(title_text="patch row", row=1, col=1)
    fig.update_layout(margin=_MARGIN, height=360)
    return fig
