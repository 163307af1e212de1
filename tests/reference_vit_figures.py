"""The make_subplots / add_trace / update_layout versions of explorer.figures.vit (before the builders wrote one dict).

Kept verbatim as the reference the tests compare the dict-built figures with: the JSON a student's
browser gets must stay the same, float for float. Not used by the app.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from PIL import Image, ImageDraw

# What the speed-up left unchanged comes from the library itself (only the rewritten code is kept here).
from explorer.figures.vit import Panel, _round, _upscale, png_bytes, to_uint8_image  # noqa: F401

COLORSCALE = "Viridis"
DISPLAY_PX = 256  # images are upscaled (nearest) to about this many pixels for crisp patches
DECIMALS = 4


def data_uri(image: Image.Image | np.ndarray, display_px: int = DISPLAY_PX) -> tuple[str, int]:
    """(PNG data URI, upscale factor) for ``go.Image(source=...)``."""
    array, factor = _upscale(to_uint8_image(image), display_px)
    return "data:image/png;base64," + base64.b64encode(png_bytes(array)).decode("ascii"), factor


def _image_trace(image: Image.Image | np.ndarray, display_px: int = DISPLAY_PX) -> go.Image:
    """The image in model-pixel coordinates (one unit = one input pixel)."""
    uri, factor = data_uri(image, display_px)
    return go.Image(source=uri, x0=0, y0=0, dx=1.0 / factor, dy=1.0 / factor, hoverinfo="skip")


def _map_trace(
    grid_map: np.ndarray, patch_size: int, name: str, opacity: float, coloraxis: str | None = None,
    zmin: float | None = None, zmax: float | None = None, showscale: bool = True,
) -> go.Heatmap:
    gh, gw = grid_map.shape
    index = np.arange(gh * gw).reshape(gh, gw)
    trace = go.Heatmap(
        z=_round(grid_map), x0=patch_size / 2, dx=patch_size, y0=patch_size / 2, dy=patch_size,
        opacity=opacity, name=name, customdata=index,
        hovertemplate="patch %{customdata}<br>row %{y:.0f}px col %{x:.0f}px<br>weight %{z:.4f}<extra></extra>",
    )
    if coloraxis:
        trace.update(coloraxis=coloraxis)
    else:
        trace.update(colorscale=COLORSCALE, zmin=zmin, zmax=zmax, showscale=showscale)
    return trace


def _image_axes(fig: go.Figure, size: tuple[int, int], row: int | None = None, col: int | None = None) -> None:
    height, width = size
    kwargs = {"row": row, "col": col} if row is not None else {}
    fig.update_xaxes(range=[0, width], showgrid=False, zeroline=False, showticklabels=False, constrain="domain", **kwargs)
    fig.update_yaxes(range=[height, 0], showgrid=False, zeroline=False, showticklabels=False,
                     scaleanchor=None, constrain="domain", **kwargs)


def _square(fig: go.Figure, n_axes: int) -> None:
    """Lock each subplot's y scale to its x scale so pixels are square."""
    for i in range(1, n_axes + 1):
        suffix = "" if i == 1 else str(i)
        fig.layout[f"yaxis{suffix}"].scaleanchor = f"x{suffix}"


def patch_grid_figure(
    image: Image.Image | np.ndarray, patch_size: int, show_indices: bool = True, highlight: int | None = None,
    title: str | None = None,
) -> go.Figure:
    """The resized model input with its P x P patch grid and each patch's index (row-major, 0-based).

    Patch i is token i + 1 in the sequence, because [CLS] is token 0 (ViT paper, Eq. 1).
    """
    array = to_uint8_image(image)
    height, width = array.shape[:2]
    gh, gw = height // patch_size, width // patch_size
    fig = go.Figure(_image_trace(array))
    xs: list[float | None] = []
    ys: list[float | None] = []
    for c in range(gw + 1):  # one trace of segments separated by None: much cheaper than one shape per line
        xs += [c * patch_size, c * patch_size, None]
        ys += [0, height, None]
    for r in range(gh + 1):
        xs += [0, width, None]
        ys += [r * patch_size, r * patch_size, None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "rgba(255,255,255,0.85)", "width": 1},
                             hoverinfo="skip", showlegend=False, name="grid"))
    if show_indices:
        rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        fig.add_trace(go.Scatter(
            x=(cols.ravel() + 0.5) * patch_size, y=(rows.ravel() + 0.5) * patch_size, mode="text",
            text=[str(i) for i in range(gh * gw)], textfont={"color": "white", "size": 9 if gh <= 8 else 7},
            hoverinfo="skip", showlegend=False,
        ))
    if highlight is not None and 0 <= highlight < gh * gw:
        _add_patch_box(fig, highlight, gw, patch_size)
    fig.update_layout(title=title, margin={"l": 5, "r": 5, "t": 30 if title else 5, "b": 5}, height=340, showlegend=False)
    _image_axes(fig, (height, width))
    _square(fig, 1)
    return fig


def _add_patch_box(fig: go.Figure, index: int, gw: int, patch_size: int, row: int | None = None, col: int | None = None) -> None:
    r, c = divmod(int(index), gw)
    kwargs = {"row": row, "col": col} if row is not None else {}
    fig.add_shape(type="rect", x0=c * patch_size, x1=(c + 1) * patch_size, y0=r * patch_size, y1=(r + 1) * patch_size,
                  line={"color": "red", "width": 2}, **kwargs)


def token_matrix_figure(patch_vectors: np.ndarray, title: str | None = None) -> go.Figure:
    """Heatmap of the flattened, normalised patch vectors x_p (N, C*P*P): the rows Eq. 1 projects.

    [CLS] has no pixels (it is a learned vector), so it is not a row here.
    """
    vectors = _round(patch_vectors)
    bound = float(np.abs(vectors).max()) or 1.0
    fig = go.Figure(go.Heatmap(
        z=vectors, colorscale="RdBu", zmid=0, zmin=-bound, zmax=bound,
        colorbar={"title": "value"},
        hovertemplate="patch %{y}<br>element %{x}<br>value %{z:.3f}<extra></extra>",
    ))
    fig.update_layout(title=title, height=340, margin={"l": 50, "r": 10, "t": 30 if title else 10, "b": 40},
                      xaxis_title="element (channel, row, col) of the flattened patch", yaxis_title="patch index")
    fig.update_yaxes(autorange="reversed")
    return fig


def topk_figure(classes: Sequence[str], probabilities: Sequence[float]) -> go.Figure:
    """Horizontal bars of the top-k class probabilities, most likely on top."""
    probs = _round(np.asarray(probabilities))
    fig = go.Figure(go.Bar(x=probs, y=list(classes), orientation="h", text=[f"{p:.1%}" for p in probs],
                           textposition="auto", hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    fig.update_layout(height=60 + 28 * len(probs), margin={"l": 10, "r": 10, "t": 10, "b": 30},
                      xaxis={"range": [0, 1], "tickformat": ".0%", "title": "probability"})
    fig.update_yaxes(autorange="reversed")
    return fig


def _pick_trace(grid: tuple[int, int], patch_size: int) -> go.Scatter:
    """Near-invisible markers on patch centres, so a click selects a patch (``customdata`` = its index)."""
    gh, gw = grid
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    return go.Scatter(
        x=(cols.ravel() + 0.5) * patch_size, y=(rows.ravel() + 0.5) * patch_size, mode="markers",
        marker={"size": 14 if gh <= 8 else 7, "opacity": 0.01, "color": "white"}, customdata=np.arange(gh * gw),
        hovertemplate="patch %{customdata}: click to inspect<extra></extra>", showlegend=False, name="pick",
    )


def overlays_figure(
    panels: Sequence[Panel], opacity: float = 0.6, shared_scale: bool = False, height: int = 360, pickable: bool = False,
) -> go.Figure:
    """Side-by-side panels, each an attention map over its image.

    ``pickable`` adds clickable patch-centre markers (for ``st.plotly_chart(on_select=...)``).

    ``shared_scale`` gives all panels one colour axis (only meaningful for the same quantity);
    otherwise each panel has its own colour bar, because raw attention and rollout live on
    different scales.
    """
    n = len(panels)
    fig = make_subplots(rows=1, cols=n, subplot_titles=[p.title for p in panels], horizontal_spacing=0.12)
    zmax = max(float(np.max(p.grid_map)) for p in panels) if shared_scale else None
    for i, panel in enumerate(panels, start=1):
        array = to_uint8_image(panel.image)
        fig.add_trace(_image_trace(array), row=1, col=i)
        trace = _map_trace(panel.grid_map, panel.patch_size, panel.title, opacity,
                           coloraxis="coloraxis" if shared_scale else None, zmin=0.0 if not shared_scale else None)
        if not shared_scale:
            domain = fig.layout[f"xaxis{'' if i == 1 else i}"].domain
            trace.update(colorbar={"x": domain[1] + 0.005, "len": 0.9, "thickness": 10, "tickformat": ".4~f",
                                   "tickfont": {"size": 9}})
        fig.add_trace(trace, row=1, col=i)
        if pickable:
            fig.add_trace(_pick_trace(panel.grid_map.shape, panel.patch_size), row=1, col=i)
        if panel.highlight is not None:
            _add_patch_box(fig, panel.highlight, panel.grid_map.shape[1], panel.patch_size, row=1, col=i)
        _image_axes(fig, array.shape[:2], row=1, col=i)
    if shared_scale:
        fig.update_layout(coloraxis={"colorscale": COLORSCALE, "cmin": 0.0, "cmax": zmax})
    _square(fig, n)
    fig.update_layout(height=height, margin={"l": 5, "r": 40, "t": 40, "b": 5}, showlegend=False,
                      clickmode="event+select" if pickable else None, dragmode=False if pickable else None)
    return fig


def overview_figure(maps: np.ndarray, layer_offset: int = 1, gap: int = 1) -> go.Figure:
    """All layers x heads of [CLS]-to-patch attention in ONE heatmap, on ONE colour scale.

    ``maps`` (L, H, gh, gw) are tiled into a mosaic: rows of tiles are layers (first on top),
    columns are heads, separated by ``gap`` empty cells. A single trace makes the shared scale
    automatic and keeps the figure cheap to build and send. A head whose tile is uniformly dim
    spreads its attention; one bright cell means it picks a single patch.
    """
    n_layers, n_heads, gh, gw = maps.shape
    height, width = n_layers * (gh + gap) - gap, n_heads * (gw + gap) - gap
    mosaic = np.full((height, width), np.nan)
    info = np.full((height, width, 3), -1, dtype=int)  # layer, head, patch for the hover
    index = np.arange(gh * gw).reshape(gh, gw)
    for layer in range(n_layers):
        for head in range(n_heads):
            r0, c0 = layer * (gh + gap), head * (gw + gap)
            mosaic[r0:r0 + gh, c0:c0 + gw] = maps[layer, head]
            info[r0:r0 + gh, c0:c0 + gw] = np.stack(
                [np.full((gh, gw), layer + layer_offset), np.full((gh, gw), head + 1), index], axis=-1)
    fig = go.Figure(go.Heatmap(
        z=_round(mosaic), customdata=info, colorscale=COLORSCALE, zmin=0.0, zmax=float(np.max(maps)),
        colorbar={"title": "attention", "tickformat": ".3~f"}, hoverongaps=False, xgap=0, ygap=0,
        hovertemplate="layer %{customdata[0]} head %{customdata[1]}<br>patch %{customdata[2]}<br>weight %{z:.4f}<extra></extra>",
    ))
    fig.update_xaxes(tickvals=[h * (gw + gap) + (gw - 1) / 2 for h in range(n_heads)],
                     ticktext=[f"head {h + 1}" for h in range(n_heads)], side="top", showgrid=False, zeroline=False)
    fig.update_yaxes(tickvals=[layer * (gh + gap) + (gh - 1) / 2 for layer in range(n_layers)],
                     ticktext=[f"layer {layer + layer_offset}" for layer in range(n_layers)], autorange="reversed",
                     showgrid=False, zeroline=False, scaleanchor="x", constrain="domain")
    fig.update_layout(height=120 + 110 * n_layers, margin={"l": 60, "r": 10, "t": 40, "b": 10},
                      plot_bgcolor="white")
    return fig


def head_statistics_figure(
    series: dict[str, tuple[np.ndarray, np.ndarray]], layer_offset: int = 1,
) -> go.Figure:
    """Mean attention distance (left, ViT paper Fig. 7 right) and entropy (right) per head vs depth.

    ``series``: label -> (distance (L, H) in pixels, entropy (L, H) in nats). One marker per head,
    slightly offset horizontally per series so two resolutions can be compared.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Mean attention distance (pixels)", "Attention entropy (nats)"),
                        horizontal_spacing=0.12)
    symbols = ("circle", "diamond", "square", "x")
    for s, (label, (distance, entropy)) in enumerate(series.items()):
        n_layers, n_heads = distance.shape
        offset = (s - (len(series) - 1) / 2) * 0.15
        depth = np.repeat(np.arange(n_layers) + layer_offset + offset, n_heads)
        heads = np.tile(np.arange(n_heads) + 1, n_layers)
        for col, values in ((1, distance), (2, entropy)):
            fig.add_trace(go.Scatter(
                x=np.round(depth, 3), y=_round(values.ravel()), mode="markers", name=label, legendgroup=label,
                showlegend=col == 1, marker={"symbol": symbols[s % len(symbols)], "size": 9, "color": heads,
                                             "colorscale": "Turbo", "cmin": 1, "cmax": max(n_heads, 2),
                                             "line": {"width": 1, "color": "black"}},
                customdata=heads, hovertemplate=f"{label}<br>layer %{{x:.0f}} head %{{customdata}}<br>%{{y:.3f}}<extra></extra>",
            ), row=1, col=col)
    fig.update_xaxes(title="network depth (layer)", dtick=1)
    fig.update_layout(height=360, margin={"l": 40, "r": 10, "t": 40, "b": 40},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def sequence_strip(image: Image.Image | np.ndarray, patch_size: int, per_row: int = 17, scale: int = 4, gap: int = 2) -> np.ndarray:
    """The token sequence as a picture: a grey [CLS] cell, then every patch in row-major order.

    Rows of ``per_row`` tokens, read left to right, top to bottom, like text. Returns (H, W, 3) uint8.
    """
    array = to_uint8_image(image)
    height, width = array.shape[:2]
    gh, gw = height // patch_size, width // patch_size
    cell = patch_size * scale
    tokens = [np.full((cell, cell, 3), 200, np.uint8)]
    for r in range(gh):
        for c in range(gw):
            patch = array[r * patch_size:(r + 1) * patch_size, c * patch_size:(c + 1) * patch_size]
            tokens.append(np.repeat(np.repeat(patch, scale, 0), scale, 1))
    n_rows = -(-len(tokens) // per_row)
    strip = np.full((n_rows * (cell + gap), per_row * (cell + gap), 3), 255, np.uint8)
    for i, token in enumerate(tokens):
        r, c = divmod(i, per_row)
        strip[r * (cell + gap):r * (cell + gap) + cell, c * (cell + gap):c * (cell + gap) + cell] = token
    pil = Image.fromarray(strip)
    draw = ImageDraw.Draw(pil)
    draw.text((2, 2), "CLS", fill=(0, 0, 0))
    return np.asarray(pil)
