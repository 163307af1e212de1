"""Plotly figures for position schemes: arrays in, ``go.Figure`` out (no Streamlit here).

Heatmap data is sent as float32 (Plotly packs numpy arrays as base64 binary), and matrices
larger than ``DRAW_LIMIT`` along an axis are drawn every s-th row/column with the true
position numbers on the axes, so a 1024 x 1024 table never turns into megabytes of JSON.

Each figure is written as ONE plain dict and validated once by ``go.Figure(spec)``. Plotly's
incremental API (``make_subplots``, ``add_trace(row=, col=)``, ``update_layout``/``update_xaxes``)
re-walks the property tree on every call. Side-by-side panels are laid out by
:func:`explorer.figures.layout.row_of_subplots` with ``make_subplots``' own arithmetic. Figures keep
Plotly's default template; they carry no subplot grid, so a caller cannot ``add_trace(row=, col=)`` to them.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from explorer.figures.layout import Spec, row_of_subplots

DRAW_LIMIT = 384  # largest number of rows/columns drawn per heatmap axis
DIVERGING = "RdBu_r"  # blue negative, red positive, white zero
_MARGIN = dict(l=50, r=20, t=50, b=45)



def _figure(data: list[Spec], layout: Spec) -> go.Figure:
    """Validate a whole figure spec in one pass (see the module notes)."""
    return go.Figure({"data": data, "layout": layout})


def display_stride(size: int, limit: int = DRAW_LIMIT) -> int:
    """Step s so that ceil(size / s) <= limit."""
    return max(1, math.ceil(size / limit))


def _thin(matrix: np.ndarray, limit: int = DRAW_LIMIT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every s-th row and column of a 2-D matrix (a view), with the kept row and column indices."""
    matrix = np.asarray(matrix)
    row_step, col_step = display_stride(matrix.shape[0], limit), display_stride(matrix.shape[1], limit)
    return matrix[::row_step, ::col_step], np.arange(0, matrix.shape[0], row_step), np.arange(0, matrix.shape[1], col_step)


def _heatmap(
    matrix: np.ndarray,
    zmin: float | None = None,
    zmax: float | None = None,
    colorbar_title: str = "",
    showscale: bool = True,
    hover: str = "row %{y}<br>col %{x}<br>value %{z:.3f}<extra></extra>",
    limit: int = DRAW_LIMIT,
) -> Spec:
    thin, rows, cols = _thin(matrix, limit)
    symmetric = zmin is None and zmax is None
    return dict(
        type="heatmap",
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


def _thinning_note(matrix: np.ndarray, limit: int = DRAW_LIMIT) -> str:
    strides = {display_stride(n, limit) for n in matrix.shape[:2]}
    step = max(strides)
    if step == 1:
        return ""
    suffix = {2: "nd", 3: "rd"}.get(step, "th")
    return f" (every {step}{suffix} position shown)"


def encoding_heatmap(table: np.ndarray, title: str = "Sinusoidal encoding PE(pos, dim)") -> go.Figure:
    """Position (rows, top to bottom) x dimension (columns) heatmap of an encoding table."""
    return _figure(
        [_heatmap(table, -1.0, 1.0, "value", hover="position %{y}<br>dimension %{x}<br>PE %{z:.3f}<extra></extra>")],
        dict(
            title=dict(text=title + _thinning_note(table)),
            xaxis=dict(title=dict(text="encoding dimension")),
            yaxis=dict(title=dict(text="position"), autorange="reversed"),
            margin=_MARGIN,
            height=420,
        ),
    )


def wave_curves(table: np.ndarray, dims: list[int], wavelengths: list[float]) -> go.Figure:
    """PE(pos, dim) against pos for chosen dimensions, legend giving each one's wavelength."""
    positions = np.arange(table.shape[0]).astype(np.int32)
    traces = [
        dict(
            type="scatter",
            x=positions,
            y=table[:, dim].astype(np.float32),
            mode="lines",
            name=f"dim {dim} ({'sin' if dim % 2 == 0 else 'cos'}, wavelength {length:,.1f})",
            hovertemplate=f"dim {dim}<br>pos %{{x}}<br>PE %{{y:.3f}}<extra></extra>",
        )
        for dim, length in zip(dims, wavelengths)
    ]
    return _figure(
        traces,
        dict(
            title=dict(text="Chosen dimensions against position"),
            xaxis=dict(title=dict(text="position")),
            yaxis=dict(title=dict(text="PE(pos, dim)"), range=[-1.1, 1.1]),
            legend=dict(orientation="h", yanchor="bottom", y=-0.45),
            margin=_MARGIN,
            height=380,
        ),
    )


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
    return _figure(
        [_heatmap(matrix, zmin, zmax, colorbar_title, hover=hover)],
        dict(
            title=dict(text=title + _thinning_note(matrix)),
            xaxis=dict(title=dict(text=axis_title), constrain="domain"),
            yaxis=dict(title=dict(text=axis_title), autorange="reversed", scaleanchor="x"),
            margin=_MARGIN,
            height=460,
        ),
    )


def side_by_side_heatmaps(
    matrices: list[np.ndarray],
    titles: list[str],
    zmin: float,
    zmax: float,
    axis_title: str = "position",
    colorbar_title: str = "similarity",
) -> go.Figure:
    """Two (or more) square matrices on shared axes and one colour scale, for a fair comparison."""
    grid, refs = row_of_subplots(list(titles) + [""] * (len(matrices) - len(titles)), 0.06, share_y=True)
    hover = f"{axis_title} %{{y}} vs %{{x}}<br>{colorbar_title} %{{z:.3f}}<extra></extra>"
    traces = []
    for index, (matrix, (x_ref, y_ref)) in enumerate(zip(matrices, refs)):
        trace = _heatmap(matrix, zmin, zmax, colorbar_title, showscale=index == len(matrices) - 1, hover=hover)
        traces.append(dict(trace, xaxis=x_ref, yaxis=y_ref))
        grid[f"xaxis{x_ref[1:]}"]["title"] = dict(text=axis_title)
        grid[f"yaxis{y_ref[1:]}"]["autorange"] = "reversed"
    grid["yaxis"]["title"] = dict(text=axis_title)
    return _figure(traces, dict(grid, margin=_MARGIN, height=440))


def shift_matrix_heatmap(matrix: np.ndarray, k: int, show: int = 16) -> go.Figure:
    """The top-left ``show`` x ``show`` corner of M_k: 2 x 2 rotation blocks on the diagonal, zeros elsewhere."""
    corner = matrix[:show, :show]
    return _figure(
        [
            dict(
                type="heatmap",
                z=corner.astype(np.float32),
                colorscale=DIVERGING,
                zmin=-1,
                zmax=1,
                colorbar=dict(thickness=12),
                hovertemplate="row %{y}, col %{x}<br>%{z:.4f}<extra></extra>",
            )
        ],
        dict(
            title=dict(text=f"M_{k}: first {corner.shape[0]} of {matrix.shape[0]} dimensions"),
            xaxis=dict(title=dict(text="input dimension (PE(pos))"), constrain="domain"),
            yaxis=dict(title=dict(text="output dimension (PE(pos+k))"), autorange="reversed", scaleanchor="x"),
            margin=_MARGIN,
            height=380,
        ),
    )


def _arrow(x: float, y: float, colour: str, label: str, dash: str = "solid", name: str | None = None) -> Spec:
    return dict(
        type="scatter",
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


def _unit(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    return points / np.where(norms > 0, norms, 1.0)


def _span(points: np.ndarray) -> float:
    """Half-width of a square view that holds every arrow tip with room for its label."""
    radius = float(np.abs(points).max(initial=0.0)) if points.size else 0.0
    return 1.35 * radius if radius > 0 else 1.0


def _colour(index: int, count: int) -> str:
    """Position colour: light to dark blue."""
    t = 0.25 + 0.75 * (index / max(1, count - 1))
    return f"rgba(31, 119, 180, {t:.2f})"


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
    grid, ((x1, y1), (x2, y2)) = row_of_subplots(
        (
            f"query pair {pair} turns {math.degrees(angle_step):.1f}° per position",
            "query (solid) and key (dashed) at the same offset",
        ),
        0.1,
    )
    traces = [
        dict(_arrow(point[0], point[1], _colour(index, len(positions)), f"m={pos}"), xaxis=x1, yaxis=y1)
        for index, (point, pos) in enumerate(zip(query_path, positions))
    ]
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for index, (qp, kp, m, n) in enumerate(zip(pairs_q, pairs_k, query_positions, key_positions)):
        colour = palette[index % len(palette)]
        traces.append(dict(_arrow(qp[0], qp[1], colour, f"q m={m}", name=f"m={m}, n={n}"), xaxis=x2, yaxis=y2))
        traces.append(dict(_arrow(kp[0], kp[1], colour, f"k n={n}", dash="dash"), xaxis=x2, yaxis=y2))
    spans = [_span(query_path), _span(np.concatenate([pairs_q, pairs_k]) if len(pairs_q) else pairs_k)]
    for suffix, scale_anchor, span in (("", "x", spans[0]), ("2", "x2", spans[1])):
        grid[f"xaxis{suffix}"].update(
            range=[-span, span], zeroline=True, title=dict(text=f"dim {2 * pair}"), constrain="domain"
        )
        grid[f"yaxis{suffix}"].update(
            range=[-span, span], zeroline=True, title=dict(text=f"dim {2 * pair + 1}"), scaleanchor=scale_anchor,
            constrain="domain",
        )
    return _figure(
        traces, dict(grid, height=430, margin=_MARGIN, legend=dict(orientation="h", yanchor="bottom", y=-0.3))
    )


def score_profile_figure(
    query_positions: np.ndarray, rope: np.ndarray, additive: np.ndarray, offset: int
) -> go.Figure:
    """Score at a fixed offset m - n against the absolute query position m: RoPE flat, additive not."""
    x = np.asarray(query_positions).astype(np.int32)
    return _figure(
        [
            dict(type="scatter", x=x, y=np.asarray(rope, np.float32), mode="lines", name="RoPE: q_m·k_n"),
            dict(type="scatter", x=x, y=np.asarray(additive, np.float32), mode="lines", name="additive: (q+PE_m)·(k+PE_n)"),
        ],
        dict(
            title=dict(text=f"Score at offset m - n = {offset}, as the pair slides along the sequence"),
            xaxis=dict(title=dict(text="query position m (key at n = m - offset)")),
            yaxis=dict(title=dict(text="attention score (before scaling)")),
            legend=dict(orientation="h", yanchor="bottom", y=-0.45),
            margin=_MARGIN,
            height=380,
        ),
    )


def tile_patch_grid(similarity: np.ndarray, gap: int = 1) -> np.ndarray:
    """(gh, gw, gh, gw) -> one 2-D image of gh x gw tiles separated by ``gap`` NaN cells."""
    gh, gw = similarity.shape[:2]
    height, width = gh * (gh + gap) - gap, gw * (gw + gap) - gap
    # Pad every tile with `gap` NaN rows/columns, lay tiles out (tile row, row in tile, tile column,
    # column in tile) and drop the padding after the last tile: one copy instead of a loop over tiles.
    padded = np.full((gh, gw, gh + gap, gw + gap), np.nan, dtype=np.float32)
    padded[:, :, :gh, :gw] = similarity
    return np.ascontiguousarray(padded.transpose(0, 2, 1, 3).reshape(gh * (gh + gap), gw * (gw + gap))[:height, :width])


def patch_similarity_figure(
    similarity: np.ndarray, title: str, zmin: float = -1.0, zmax: float = 1.0, showscale: bool = True
) -> go.Figure:
    """ViT Figure 7 as one tiled heatmap: the tile at (row r, column c) is patch (r, c)'s similarity map."""
    xaxis, yaxis = _patch_axes(similarity.shape[:2])
    return _figure(
        [_patch_trace(similarity, zmin, zmax, showscale)],
        dict(
            xaxis=xaxis, yaxis=dict(yaxis, scaleanchor="x"), title=dict(text=title), margin=_MARGIN, height=520,
            plot_bgcolor="white",
        ),
    )


def _patch_trace(similarity: np.ndarray, zmin: float, zmax: float, showscale: bool) -> Spec:
    return dict(
        type="heatmap",
        z=tile_patch_grid(similarity),
        colorscale="Viridis",
        zmin=zmin,
        zmax=zmax,
        showscale=showscale,
        colorbar=dict(title=dict(text="cosine"), thickness=12),
        hovertemplate="cosine %{z:.2f}<extra></extra>",
        hoverongaps=False,
    )


def _tile_ticks(side: int, step: int) -> tuple[list[float], list[str]]:
    every = max(1, side // 8)
    values = [i * step + (step - 2) / 2 for i in range(0, side, every)]
    return values, [str(i) for i in range(0, side, every)]


def _patch_axes(grid: tuple[int, int]) -> tuple[Spec, Spec]:
    """The x and y axis entries of one Figure-7 grid: a tick at each (every few) tile's centre."""
    gh, gw = grid
    xv, xt = _tile_ticks(gw, gw + 1)
    yv, yt = _tile_ticks(gh, gh + 1)
    xaxis = dict(
        tickvals=xv, ticktext=xt, title=dict(text="input patch column"), showgrid=False, zeroline=False, constrain="domain"
    )
    yaxis = dict(
        tickvals=yv, ticktext=yt, title=dict(text="input patch row"), autorange="reversed", showgrid=False, zeroline=False
    )
    return xaxis, yaxis


def patch_grids_side_by_side(similarities: list[np.ndarray], titles: list[str]) -> go.Figure:
    """Several Figure-7 grids (e.g. before and after interpolation) with one colour scale."""
    grid, refs = row_of_subplots(list(titles) + [""] * (len(similarities) - len(titles)), 0.08)
    traces = []
    for index, (similarity, (x_ref, y_ref)) in enumerate(zip(similarities, refs)):
        traces.append(dict(_patch_trace(similarity, -1.0, 1.0, index == len(similarities) - 1), xaxis=x_ref, yaxis=y_ref))
        xaxis, yaxis = _patch_axes(similarity.shape[:2])
        grid[f"xaxis{x_ref[1:]}"].update(xaxis)
        grid[f"yaxis{y_ref[1:]}"].update(yaxis, scaleanchor=x_ref)
    return _figure(traces, dict(grid, margin=_MARGIN, height=480, plot_bgcolor="white"))


def channel_images_figure(before: np.ndarray, after: np.ndarray, channel: int) -> go.Figure:
    """One embedding channel laid out on the patch grid, before (gh, gw) and after (nh, nw) resampling."""
    low = float(min(np.nanmin(before), np.nanmin(after)))
    high = float(max(np.nanmax(before), np.nanmax(after)))
    if high <= low:
        high = low + 1e-6
    titles = (f"channel {channel}, {before.shape[0]}x{before.shape[1]} grid", f"after, {after.shape[0]}x{after.shape[1]} grid")
    grid, refs = row_of_subplots(titles, 0.08)
    traces = []
    for index, (image, (x_ref, y_ref)) in enumerate(zip((before, after), refs)):
        traces.append(
            dict(
                type="heatmap",
                z=image.astype(np.float32),
                colorscale="Viridis",
                zmin=low,
                zmax=high,
                showscale=index == 1,
                colorbar=dict(thickness=12),
                hovertemplate="row %{y}, col %{x}<br>%{z:.3f}<extra></extra>",
                xaxis=x_ref,
                yaxis=y_ref,
            )
        )
        grid[f"yaxis{y_ref[1:]}"].update(autorange="reversed", scaleanchor=x_ref)
        grid[f"xaxis{x_ref[1:]}"]["title"] = dict(text="patch column")
    grid["yaxis"]["title"] = dict(text="patch row")
    return _figure(traces, dict(grid, margin=_MARGIN, height=360))
