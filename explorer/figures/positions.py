"""Plotly figures for position schemes: arrays in, ``go.Figure`` out (no Streamlit here).

Heatmap data is sent as float32 (Plotly packs numpy arrays as base64 binary), and matrices
larger than ``DRAW_LIMIT`` along an axis are drawn every s-th row/column with the true
position numbers on the axes, so a 1024 x 1024 table never turns into megabytes of JSON.

Each figure is written as ONE plain dict and validated once by ``go.Figure(spec)``: Plotly's
incremental API (``add_trace``, ``update_layout``) re-walks the property tree on every call.

Every figure is a single panel. Panels that belong together (two schemes, before/after) are
separate figures that share one colour range and sit in Streamlit columns, which stack on a
phone: two panels inside one figure squeeze their titles into each other at 390 px.
One colour convention for signed values: ``RdBu_r`` centred on 0, red positive, blue negative.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from explorer.figures.layout import Spec, title_below_modebar

DRAW_LIMIT = 384  # largest number of rows/columns drawn per heatmap axis
DIVERGING = "RdBu_r"  # blue negative, red positive, white zero
# A panel's plot area spans its column's width (about 280 px on a phone, 380 px in half of a 1400 px
# window, 640 px in half of a 1920 px one); 400 px of height keeps it square-ish in all three.
PLOT_PX = 400
AXIS_BAND_PX = 48  # x tick labels and the x-axis title under the plot
COLORBAR_BAND_PX = 46  # the horizontal colour bar under that: a vertical one took ~90 px of a phone's width
LEGEND_BAND_PX = 70
TICK_FONT = dict(size=12)  # >= 11 px on a projector and a phone
CURVE_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")  # distinct on light and dark pages


def _figure(data: list[Spec], layout: Spec) -> go.Figure:
    """Validate a whole figure spec in one pass (see the module notes), with an empty template.

    Streamlit's theme styles the chart in the browser, so Plotly's default template (7 KB per figure)
    would only be copied, serialised and sent on every rerun; the attention figures do the same."""
    return go.Figure({"data": data, "layout": {"template": {}, **layout}})


def _frame(title: str, bottom: int) -> Spec:
    """Title below Plotly's toolbar band, left-aligned; margins for the bands under the plot; the height that gives PLOT_PX."""
    title_spec, top = title_below_modebar(title)
    return dict(title=title_spec, margin=dict(l=60, r=12, t=top, b=bottom), height=top + PLOT_PX + bottom)


def _colorbar(title: str) -> Spec:
    """A horizontal colour bar pinned to the bottom of the figure (see COLORBAR_BAND_PX)."""
    return dict(title=dict(text=title, side="right"), orientation="h", thickness=10, len=0.6, x=0.5, xanchor="center",
                y=0.0, yref="container", yanchor="bottom", ypad=6, tickfont=TICK_FONT)


def _axis(title: str, **extra: object) -> Spec:
    return dict(title=dict(text=title), tickfont=TICK_FONT, **extra)


def _matrix_axes(x_title: str, y_title: str) -> tuple[Spec, Spec]:
    """A matrix fills its column (rows top to bottom); PLOT_PX keeps it square-ish, not exactly square."""
    return _axis(x_title), _axis(y_title, autorange="reversed")


def _matrix_frame(title: str) -> Spec:
    return _frame(title, AXIS_BAND_PX + COLORBAR_BAND_PX)


def _line_frame(title: str) -> Spec:
    """Curves and arrows: a horizontal legend in a band under the x axis."""
    frame = _frame(title, AXIS_BAND_PX + LEGEND_BAND_PX)
    frame["legend"] = dict(orientation="h", x=0.0, y=0.0, yref="container", yanchor="bottom", font=TICK_FONT)
    return frame


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
        colorbar=_colorbar(colorbar_title),
        hovertemplate=hover,
    )


def _thinning_note(matrix: np.ndarray, limit: int = DRAW_LIMIT) -> str:
    strides = {display_stride(n, limit) for n in matrix.shape[:2]}
    step = max(strides)
    if step == 1:
        return ""
    suffix = {2: "nd", 3: "rd"}.get(step, "th")
    return f" (every {step}{suffix} position shown)"


def encoding_heatmap(table: np.ndarray, title: str = "PE(pos, dim)") -> go.Figure:
    """Position (rows, top to bottom) x dimension (columns) heatmap of an encoding table."""
    return _figure(
        [_heatmap(table, -1.0, 1.0, "value", hover="position %{y}<br>dimension %{x}<br>PE %{z:.3f}<extra></extra>")],
        dict(_matrix_frame(title + _thinning_note(table)), xaxis=_axis("encoding dimension"), yaxis=_axis("position", autorange="reversed")),
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
            line=dict(color=CURVE_COLOURS[index % len(CURVE_COLOURS)], width=2),
            name=f"dim {dim} ({'sin' if dim % 2 == 0 else 'cos'}, wavelength {length:,.1f})",
            hovertemplate=f"dim {dim}<br>pos %{{x}}<br>PE %{{y:.3f}}<extra></extra>",
        )
        for index, (dim, length) in enumerate(zip(dims, wavelengths))
    ]
    return _figure(
        traces,
        dict(
            _line_frame("Chosen dimensions against position"),
            xaxis=_axis("position"),
            yaxis=_axis("PE(pos, dim)", range=[-1.1, 1.1]),
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
    xaxis, yaxis = _matrix_axes(axis_title, axis_title)
    return _figure(
        [_heatmap(matrix, zmin, zmax, colorbar_title, hover=hover)],
        dict(_matrix_frame(title + _thinning_note(matrix)), xaxis=xaxis, yaxis=yaxis),
    )


def distance_profile_figure(curves: dict[str, np.ndarray], metric: str) -> go.Figure:
    """Each scheme's similarity against the distance n - m: how fast 'nearby' fades (one line each)."""
    traces = [
        dict(
            type="scatter",
            x=np.arange(len(values), dtype=np.int32),
            y=np.asarray(values, np.float32),
            mode="lines",
            name=name,
            line=dict(color=CURVE_COLOURS[index % len(CURVE_COLOURS)], width=2),
            hovertemplate=f"{name}<br>distance %{{x}}<br>{metric} %{{y:.3f}}<extra></extra>",
        )
        for index, (name, values) in enumerate(curves.items())
    ]
    return _figure(
        traces,
        dict(_line_frame(f"{metric} against distance"), xaxis=_axis("distance n − m (positions)"), yaxis=_axis(f"mean {metric}")),
    )


def shift_matrix_heatmap(matrix: np.ndarray, k: int, show: int = 16) -> go.Figure:
    """The top-left ``show`` x ``show`` corner of M_k: 2 x 2 rotation blocks on the diagonal, zeros elsewhere."""
    corner = matrix[:show, :show]
    xaxis, yaxis = _matrix_axes("input dim (PE(pos))", "output dim (PE(pos+k))")
    return _figure(
        [_heatmap(corner, -1.0, 1.0, hover="row %{y}, col %{x}<br>%{z:.4f}<extra></extra>")],
        dict(_matrix_frame(f"M_{k}: first {corner.shape[0]} of {matrix.shape[0]} dims"), xaxis=xaxis, yaxis=yaxis),
    )


# ---------------------------------------------------------------------------------------------
# RoPE arrows
# ---------------------------------------------------------------------------------------------

LABEL_RADIUS = 1.18  # labels sit just beyond the unit-length arrow tips
LABEL_STEP = 0.24  # how far a label moves out when it would cover an earlier one
ARROW_SPAN = 1.75  # half-width of the square view: room for labels pushed out twice


def label_points(tips: np.ndarray, radius: float = LABEL_RADIUS, step: float = LABEL_STEP) -> np.ndarray:
    """Where to write each arrow's label: on the arrow's own line, beyond its tip, never on top of another.

    Labels go out along each arrow's direction; one that would land within ``step`` of an earlier
    label moves out by ``step`` until it is clear. Two arrows pointing the same way (q_m and k_n
    when m - n is a whole number of turns) then get labels one above the other, readable.
    """
    tips = np.asarray(tips, dtype=np.float64).reshape(-1, 2)
    norms = np.linalg.norm(tips, axis=1, keepdims=True)
    directions = tips / np.where(norms > 0, norms, 1.0)
    placed: list[np.ndarray] = []
    for direction, norm in zip(directions, norms[:, 0]):
        distance = max(float(norm), 1e-9) * radius
        point = direction * distance
        while any(np.linalg.norm(point - other) < step for other in placed):
            distance += step
            point = direction * distance
        placed.append(point)
    return np.array(placed).reshape(-1, 2)


def _arrow(tip: np.ndarray, colour: str, name: str, dash: str = "solid", legend: bool = False) -> Spec:
    return dict(
        type="scatter",
        x=[0.0, float(tip[0])],
        y=[0.0, float(tip[1])],
        mode="lines+markers",
        line=dict(color=colour, width=2, dash=dash),
        marker=dict(symbol=["circle", "arrow"], size=[4, 12], angleref="previous", color=colour),
        name=name,
        showlegend=legend,
        hovertemplate=f"{name}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
    )


def _labels(points: np.ndarray, texts: list[str], colours: list[str]) -> Spec:
    return dict(
        type="scatter",
        x=points[:, 0].astype(np.float32),
        y=points[:, 1].astype(np.float32),
        mode="text",
        text=texts,
        textfont=dict(color=colours, size=12),
        textposition="middle center",
        showlegend=False,
        hoverinfo="skip",
    )


def _unit(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    return points / np.where(norms > 0, norms, 1.0)


def _colour(index: int, count: int) -> str:
    """Position colour: light to dark blue."""
    t = 0.35 + 0.65 * (index / max(1, count - 1))
    return f"rgba(31, 119, 180, {t:.2f})"


def _arrow_layout(title: str, pair: int, span: float) -> Spec:
    """Equal units on both axes (angles are the lesson), so here the spare room stays empty."""
    xaxis = _axis(f"dim {2 * pair}", range=[-span, span], zeroline=True, constrain="domain")
    yaxis = _axis(f"dim {2 * pair + 1}", range=[-span, span], zeroline=True, scaleanchor="x", constrain="domain")
    return dict(_line_frame(title), xaxis=xaxis, yaxis=yaxis)


def _span(points: np.ndarray) -> float:
    radius = float(np.abs(points).max(initial=0.0)) if points.size else 0.0
    return max(ARROW_SPAN, radius + 0.3)


def rope_path_figure(query_path: np.ndarray, positions: list[int], pair: int, angle_step: float, normalise: bool = True) -> go.Figure:
    """One (2i, 2i+1) pair of a query rotated to several positions: only the angle changes.

    With ``normalise`` every arrow is drawn at unit length (RoPE never changes a pair's length).
    """
    tips = _unit(query_path) if normalise else np.asarray(query_path, dtype=np.float64).reshape(-1, 2)
    colours = [_colour(i, len(positions)) for i in range(len(positions))]
    texts = [f"m={pos}" for pos in positions]
    traces = [_arrow(tip, colour, text) for tip, colour, text in zip(tips, colours, texts)]
    points = label_points(tips)
    traces.append(_labels(points, texts, colours))
    return _figure(traces, _arrow_layout(f"pair {pair} turns {math.degrees(angle_step):.1f}° per position", pair, _span(points)))


def rope_pairs_figure(
    pairs_q: np.ndarray, pairs_k: np.ndarray, query_positions: list[int], key_positions: list[int], pair: int,
    normalise: bool = True,
) -> go.Figure:
    """q at m (solid) and k at n = m - offset (dashed) for a few m: each colour's angle is the same."""
    if normalise:
        pairs_q, pairs_k = _unit(pairs_q), _unit(pairs_k)
    traces: list[Spec] = []
    tips: list[np.ndarray] = []
    texts: list[str] = []
    colours: list[str] = []
    for index, (qp, kp, m, n) in enumerate(zip(pairs_q, pairs_k, query_positions, key_positions)):
        colour = CURVE_COLOURS[index % len(CURVE_COLOURS)]
        traces.append(_arrow(qp, colour, f"q at m={m}, k at n={n}", legend=True))
        traces.append(_arrow(kp, colour, f"k n={n}", dash="dash"))
        tips += [qp, kp]
        texts += [f"q m={m}", f"k n={n}"]
        colours += [colour, colour]
    points = label_points(np.array(tips)) if tips else np.zeros((0, 2))
    if tips:
        traces.append(_labels(points, texts, colours))
    return _figure(traces, _arrow_layout("query (solid), key (dashed)", pair, _span(points)))


def score_profile_figure(
    query_positions: np.ndarray, rope: np.ndarray, additive: np.ndarray, offset: int
) -> go.Figure:
    """Score at a fixed offset m - n against the absolute query position m: RoPE flat, additive not."""
    x = np.asarray(query_positions).astype(np.int32)
    return _figure(
        [
            dict(type="scatter", x=x, y=np.asarray(rope, np.float32), mode="lines", name="RoPE: q_m·k_n",
                 line=dict(color="#d62728", width=3)),
            dict(type="scatter", x=x, y=np.asarray(additive, np.float32), mode="lines", name="additive: (q+PE_m)·(k+PE_n)",
                 line=dict(color="#7f7f7f", width=2)),
        ],
        dict(
            _line_frame(f"Score at offset m − n = {offset}"),
            xaxis=_axis("query position m (key at n = m − offset)"),
            yaxis=_axis("score (before scaling)"),
        ),
    )


# ---------------------------------------------------------------------------------------------
# ViT patch grids (Figure 7 of the ViT paper)
# ---------------------------------------------------------------------------------------------


def tile_patch_grid(similarity: np.ndarray, gap: int = 1) -> np.ndarray:
    """(gh, gw, gh, gw) -> one 2-D image of gh x gw tiles separated by ``gap`` NaN cells."""
    gh, gw = similarity.shape[:2]
    height, width = gh * (gh + gap) - gap, gw * (gw + gap) - gap
    # Pad every tile with `gap` NaN rows/columns, lay tiles out (tile row, row in tile, tile column,
    # column in tile) and drop the padding after the last tile: one copy instead of a loop over tiles.
    padded = np.full((gh, gw, gh + gap, gw + gap), np.nan, dtype=np.float32)
    padded[:, :, :gh, :gw] = similarity
    return np.ascontiguousarray(padded.transpose(0, 2, 1, 3).reshape(gh * (gh + gap), gw * (gw + gap))[:height, :width])


def _tile_ticks(side: int, step: int) -> tuple[list[float], list[str]]:
    every = max(1, side // 8)
    values = [i * step + (step - 2) / 2 for i in range(0, side, every)]
    return values, [str(i) for i in range(0, side, every)]


def patch_similarity_figure(similarity: np.ndarray, title: str, zmin: float = -1.0, zmax: float = 1.0) -> go.Figure:
    """ViT Figure 7 as one tiled heatmap: the tile at (row r, column c) is patch (r, c)'s similarity map.

    The NaN gaps between tiles are left transparent, so the page's own background shows (light or dark).
    """
    gh, gw = similarity.shape[:2]
    xv, xt = _tile_ticks(gw, gw + 1)
    yv, yt = _tile_ticks(gh, gh + 1)
    xaxis, yaxis = _matrix_axes("input patch column", "input patch row")
    xaxis.update(tickvals=xv, ticktext=xt, showgrid=False, zeroline=False)
    yaxis.update(tickvals=yv, ticktext=yt, showgrid=False, zeroline=False)
    trace = dict(
        type="heatmap",
        z=tile_patch_grid(similarity),
        colorscale=DIVERGING,
        zmin=zmin,
        zmax=zmax,
        colorbar=_colorbar("cosine"),
        hovertemplate="cosine %{z:.2f}<extra></extra>",
        hoverongaps=False,
    )
    return _figure([trace], dict(_matrix_frame(title), xaxis=xaxis, yaxis=yaxis))


def channel_image_figure(image: np.ndarray, title: str, zmin: float, zmax: float) -> go.Figure:
    """One embedding channel laid out on the patch grid (rows x columns)."""
    xaxis, yaxis = _matrix_axes("patch column", "patch row")
    trace = _heatmap(image, zmin, zmax, hover="row %{y}, col %{x}<br>%{z:.3f}<extra></extra>")
    return _figure([trace], dict(_matrix_frame(title), xaxis=xaxis, yaxis=yaxis))
