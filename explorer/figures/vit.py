"""Figures for the ViT page: arrays in, ``plotly.graph_objects.Figure`` (or PNG/NPZ/CSV bytes) out.

Images are embedded as small PNG data URIs (``go.Image(source=...)``) rather than as pixel arrays,
which keeps the Plotly JSON small; attention maps are ``go.Heatmap`` traces laid over them in the
model's pixel coordinates, so a patch (r, c) covers x in [c*P, (c+1)*P), y in [r*P, (r+1)*P).
Values are rounded to 4 significant decimals before they go into the JSON.

Every figure is written as one plain dict and validated once by ``go.Figure(spec)``: plotly's incremental
API (make_subplots, add_trace(row=, col=), update_layout, update_xaxes) re-walks the figure on each call
and cost most of a page rerun.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw
from plotly.colors import sample_colorscale

from explorer.exports import png_bytes
from explorer.figures.layout import Spec, row_of_subplots
from explorer.figures.positions import DIVERGING

COLORSCALE = "Viridis"
# Overlays: the map's colours at an opacity rising from OVERLAY_ALPHA[0] (weakest) to OVERLAY_ALPHA[1] (strongest), over
# the image in grey. A colour map blended over a coloured image makes new hues (yellow over magenta reads orange, a
# colour not on the colour bar); over grey a cell keeps its colour-bar hue and the strongest is nearly that exact colour.
OVERLAY_ALPHA = (0.35, 0.9)
HEAD_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")  # Plotly's D3 palette
DISPLAY_PX = 256  # images are upscaled (nearest) to about this many pixels for crisp patches
DECIMALS = 4
URI_CACHE_ENTRIES = 16  # PNG data URIs kept process-wide (each key <= URI_CACHE_MAX_BYTES, each URI <= ~0.3 MB)
URI_CACHE_MAX_BYTES = 256 * 256 * 3  # larger images are encoded every time instead of being kept



# ----------------------------------------------------------------------------- helpers
def to_uint8_image(image: Image.Image | np.ndarray) -> np.ndarray:
    """PIL image or (H, W, 3) array (uint8, or float in [0, 1]) -> (H, W, 3) uint8."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = np.clip(np.nan_to_num(array.astype(np.float64)) * 255.0, 0, 255).round().astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    return array


def _upscale(array: np.ndarray, display_px: int) -> tuple[np.ndarray, int]:
    """Nearest-neighbour upscale by an integer factor so small inputs stay crisp in the browser."""
    factor = max(1, display_px // max(array.shape[:2]))
    if factor == 1:
        return array, 1
    return np.repeat(np.repeat(array, factor, axis=0), factor, axis=1), factor


@functools.lru_cache(maxsize=URI_CACHE_ENTRIES)
def _cached_data_uri(pixels: bytes, shape: tuple[int, ...], display_px: int) -> tuple[str, int]:
    """PNG data URI of uint8 pixels given as bytes + shape (hashable, immutable): a pure function, so cacheable."""
    array, factor = _upscale(np.frombuffer(pixels, np.uint8).reshape(shape), display_px)
    return "data:image/png;base64," + base64.b64encode(png_bytes(array)).decode("ascii"), factor


def data_uri(image: Image.Image | np.ndarray, display_px: int = DISPLAY_PX) -> tuple[str, int]:
    """(PNG data URI, upscale factor) for ``go.Image(source=...)``.

    Encoding is the dearest part of an image trace, and a rerun shows the same model input again, so
    the URI (an immutable string) is kept in a small process-wide cache keyed by the pixels themselves
    (images up to ``URI_CACHE_MAX_BYTES``; larger ones are encoded each time).
    """
    array = np.ascontiguousarray(to_uint8_image(image))
    encode = _cached_data_uri if array.nbytes <= URI_CACHE_MAX_BYTES else _cached_data_uri.__wrapped__
    return encode(array.tobytes(), array.shape, int(display_px))


def _round(values: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(values, dtype=np.float64), DECIMALS)


def _figure(data: list[Spec], layout: Spec) -> go.Figure:
    """Validate a whole figure spec in one pass.

    Plotly's incremental calls (make_subplots, add_trace(row=, col=), update_layout, update_xaxes)
    re-walk the property tree on every call; one dict validated once is several times cheaper.
    """
    return go.Figure({"data": data, "layout": layout})


def _image_trace(image: Image.Image | np.ndarray, display_px: int = DISPLAY_PX) -> Spec:
    """The image in model-pixel coordinates (one unit = one input pixel), its corner at (0, 0).

    Plotly places the CENTRE of the first (display) pixel at (x0, y0), so x0 = dx / 2 puts the
    image's edge at 0, where the patch heatmap and grid lines start.
    """
    uri, factor = data_uri(image, display_px)
    step = 1.0 / factor
    return {"type": "image", "source": uri, "x0": step / 2, "y0": step / 2, "dx": step, "dy": step, "hoverinfo": "skip"}


@functools.lru_cache(maxsize=4)
def overlay_colorscale(name: str = COLORSCALE, alpha: tuple[float, float] = OVERLAY_ALPHA, n: int = 11) -> tuple[tuple[float, str], ...]:
    """``name``'s colours as rgba stops whose opacity rises linearly from ``alpha[0]`` to ``alpha[1]``."""
    stops = np.linspace(0.0, 1.0, n)
    colours = sample_colorscale(name, list(stops), colortype="tuple")
    return tuple(
        (float(t), f"rgba({round(255 * r)},{round(255 * g)},{round(255 * b)},{alpha[0] + (alpha[1] - alpha[0]) * t:.3f})")
        for t, (r, g, b) in zip(stops, colours)
    )


def _grey(array: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> the same in grey (ITU-R 601 luma), so an overlay's colours keep their hue."""
    luma = np.asarray(Image.fromarray(array).convert("L"))
    return np.repeat(luma[..., None], 3, axis=-1)


def _map_trace(
    grid_map: np.ndarray, patch_size: int, name: str, opacity: float, coloraxis: str | None = None,
    zmin: float | None = None, zmax: float | None = None, showscale: bool = True, colorscale: Any = COLORSCALE,
) -> Spec:
    gh, gw = grid_map.shape
    trace: Spec = {
        "type": "heatmap", "z": _round(grid_map), "x0": patch_size / 2, "dx": patch_size, "y0": patch_size / 2, "dy": patch_size,
        "opacity": opacity, "name": name, "customdata": np.arange(gh * gw).reshape(gh, gw),
        "hovertemplate": "patch %{customdata}<br>row %{y:.0f}px col %{x:.0f}px<br>weight %{z:.4f}<extra></extra>",
    }
    if coloraxis:
        trace["coloraxis"] = coloraxis
    else:
        trace.update(colorscale=colorscale, showscale=showscale)
        if zmin is not None:
            trace["zmin"] = zmin
        if zmax is not None:
            trace["zmax"] = zmax
    return trace


def _image_axes(size: tuple[int, int], x_anchor: str | None = None) -> tuple[Spec, Spec]:
    """x and y axis entries showing an image of ``size`` (rows down); the y scale is locked to ``x_anchor``'s."""
    height, width = size
    common = {"showgrid": False, "zeroline": False, "showticklabels": False, "constrain": "domain"}
    yaxis: Spec = {"range": [height, 0], **common}
    if x_anchor is not None:
        yaxis["scaleanchor"] = x_anchor
    return {"range": [0, width], **common}, yaxis


def _patch_box(index: int, gw: int, patch_size: int, refs: tuple[str, str] | None = None) -> Spec:
    r, c = divmod(int(index), gw)
    box: Spec = {"type": "rect", "x0": c * patch_size, "x1": (c + 1) * patch_size, "y0": r * patch_size,
                 "y1": (r + 1) * patch_size, "line": {"color": "red", "width": 2}}
    if refs is not None:
        box.update(xref=refs[0], yref=refs[1])
    return box


# ----------------------------------------------------------------------------- preprocessing
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
    xs: list[float | None] = []
    ys: list[float | None] = []
    for c in range(gw + 1):  # one trace of segments separated by None: much cheaper than one shape per line
        xs += [c * patch_size, c * patch_size, None]
        ys += [0, height, None]
    for r in range(gh + 1):
        xs += [0, width, None]
        ys += [r * patch_size, r * patch_size, None]
    data: list[Spec] = [
        _image_trace(array),
        {"type": "scatter", "x": xs, "y": ys, "mode": "lines", "line": {"color": "rgba(255,255,255,0.85)", "width": 1},
         "hoverinfo": "skip", "showlegend": False, "name": "grid"},
    ]
    if show_indices:
        rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        data.append({
            "type": "scatter", "x": (cols.ravel() + 0.5) * patch_size, "y": (rows.ravel() + 0.5) * patch_size, "mode": "text",
            "text": [str(i) for i in range(gh * gw)], "textfont": {"color": "white", "size": 9 if gh <= 8 else 7},
            "hoverinfo": "skip", "showlegend": False,
        })
    xaxis, yaxis = _image_axes((height, width), "x")
    layout: Spec = {"title": title if title is None else {"text": title}, "margin": {"l": 5, "r": 5, "t": 30 if title else 5, "b": 5},
                    "height": 340, "showlegend": False, "xaxis": xaxis, "yaxis": yaxis}
    if highlight is not None and 0 <= highlight < gh * gw:
        layout["shapes"] = [_patch_box(highlight, gw, patch_size)]
    return _figure(data, layout)


def sequence_strip(image: Image.Image | np.ndarray, patch_size: int, per_row: int = 17, scale: int = 4, gap: int = 2) -> np.ndarray:
    """The token sequence as a picture: a grey [CLS] cell, then every patch in row-major order.

    Rows of ``per_row`` tokens, read left to right, top to bottom, like text. Returns (H, W, 3) uint8.
    Built with array reshapes (one white-framed cell per token) rather than a loop over patches.
    """
    array = to_uint8_image(image)
    height, width = array.shape[:2]
    gh, gw = height // patch_size, width // patch_size
    cell = patch_size * scale
    n_tokens = 1 + gh * gw
    n_rows = -(-n_tokens // per_row)
    cells = np.full((n_rows * per_row, cell + gap, cell + gap, 3), 255, np.uint8)  # each cell: token + white gap
    cells[0, :cell, :cell] = 200  # [CLS]: no pixels
    patches = array[:gh * patch_size, :gw * patch_size].reshape(gh, patch_size, gw, patch_size, 3).transpose(0, 2, 1, 3, 4)
    cells[1:n_tokens, :cell, :cell] = patches.reshape(gh * gw, patch_size, patch_size, 3).repeat(scale, 1).repeat(scale, 2)
    strip = cells.reshape(n_rows, per_row, cell + gap, cell + gap, 3).transpose(0, 2, 1, 3, 4)
    pil = Image.fromarray(np.ascontiguousarray(strip.reshape(n_rows * (cell + gap), per_row * (cell + gap), 3)))
    draw = ImageDraw.Draw(pil)
    draw.text((2, 2), "CLS", fill=(0, 0, 0))
    return np.asarray(pil)


def token_matrix_figure(patch_vectors: np.ndarray, title: str | None = None) -> go.Figure:
    """Heatmap of the flattened, normalised patch vectors x_p (N, C*P*P): the rows Eq. 1 projects.

    [CLS] has no pixels (it is a learned vector), so it is not a row here.
    """
    vectors = _round(patch_vectors)
    bound = float(np.abs(vectors).max()) or 1.0
    data = [{
        "type": "heatmap", "z": vectors, "colorscale": DIVERGING, "zmid": 0, "zmin": -bound, "zmax": bound,
        "colorbar": {"title": {"text": "value"}},
        "hovertemplate": "patch %{y}<br>element %{x}<br>value %{z:.3f}<extra></extra>",
    }]
    layout: Spec = {
        "title": title if title is None else {"text": title}, "height": 340,
        "margin": {"l": 50, "r": 10, "t": 30 if title else 10, "b": 40},
        "xaxis": {"title": {"text": "element (channel, row, col) of the flattened patch"}},
        "yaxis": {"title": {"text": "patch index"}, "autorange": "reversed"},
    }
    return _figure(data, layout)


# ----------------------------------------------------------------------------- prediction
def probability_label(p: float) -> str:
    """A probability as a bar label: one decimal of a percent, and "<0.1%" below that (never a bare 0.0%)."""
    return "<0.1%" if p < 0.001 else f"{p:.1%}"


def topk_figure(classes: Sequence[str], probabilities: Sequence[float]) -> go.Figure:
    """Horizontal bars of the top-k class probabilities, most likely on top."""
    probs = _round(np.asarray(probabilities))
    # Every bar says its value: near-zero classes read "<0.1%" (a "0.0%" would claim exactly zero), and a bar too
    # short to hold its label gets it outside (Plotly's "auto" drops labels of zero-width bars).
    data = [{"type": "bar", "x": probs, "y": list(classes), "orientation": "h", "text": [probability_label(p) for p in probs],
             "textposition": ["inside" if p >= 0.2 else "outside" for p in probs], "cliponaxis": False,
             "hovertemplate": "%{y}: %{x:.2%}<extra></extra>"}]
    layout: Spec = {"height": 60 + 28 * len(probs), "margin": {"l": 10, "r": 40, "t": 10, "b": 30},
                    "xaxis": {"range": [0, 1], "tickformat": ".0%", "title": {"text": "probability"}},
                    "yaxis": {"autorange": "reversed"}}
    return _figure(data, layout)


# ----------------------------------------------------------------------------- attention maps
@dataclass
class Panel:
    """One image with an attention map over it, for ``overlays_figure``."""

    image: Image.Image | np.ndarray
    grid_map: np.ndarray
    patch_size: int
    title: str
    highlight: int | None = None


def _pick_trace(grid: tuple[int, int], patch_size: int) -> Spec:
    """Near-invisible markers on patch centres, so a click selects a patch (``customdata`` = its index)."""
    gh, gw = grid
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    return {
        "type": "scatter", "x": (cols.ravel() + 0.5) * patch_size, "y": (rows.ravel() + 0.5) * patch_size, "mode": "markers",
        "marker": {"size": 14 if gh <= 8 else 7, "opacity": 0.01, "color": "white"}, "customdata": np.arange(gh * gw),
        "hovertemplate": "patch %{customdata}: click to inspect<extra></extra>", "showlegend": False, "name": "pick",
    }


def overlays_figure(
    panels: Sequence[Panel], shared_scale: bool = False, height: int = 360, pickable: bool = False,
) -> go.Figure:
    """Side-by-side panels, each an attention map over its image (in grey; see :data:`OVERLAY_ALPHA`).

    ``pickable`` adds clickable patch-centre markers (for ``st.plotly_chart(on_select=...)``).

    ``shared_scale`` gives all panels one colour axis (only meaningful for the same quantity);
    otherwise each panel has its own colour bar, because raw attention and rollout live on
    different scales.
    """
    layout, refs = row_of_subplots([p.title for p in panels], horizontal_spacing=0.12)
    zmax = max(float(np.max(p.grid_map)) for p in panels) if shared_scale else None
    data: list[Spec] = []
    shapes: list[Spec] = []
    for i, (panel, (x_ref, y_ref)) in enumerate(zip(panels, refs), start=1):
        suffix = "" if i == 1 else str(i)
        array = to_uint8_image(panel.image)
        on_axes = {"xaxis": x_ref, "yaxis": y_ref}
        data.append({**_image_trace(_grey(array)), **on_axes})
        trace = _map_trace(panel.grid_map, panel.patch_size, panel.title, 1.0, coloraxis="coloraxis" if shared_scale else None,
                           zmin=0.0 if not shared_scale else None, colorscale=overlay_colorscale())
        if not shared_scale:
            domain = layout[f"xaxis{suffix}"]["domain"]
            trace["colorbar"] = {"x": domain[1] + 0.005, "len": 0.9, "thickness": 10, "tickformat": ".4~f",
                                 "tickfont": {"size": 9}}
        data.append({**trace, **on_axes})
        if pickable:
            data.append({**_pick_trace(panel.grid_map.shape, panel.patch_size), **on_axes})
        if panel.highlight is not None:
            shapes.append(_patch_box(panel.highlight, panel.grid_map.shape[1], panel.patch_size, (x_ref, y_ref)))
        xaxis, yaxis = _image_axes(array.shape[:2], x_ref)  # y scale locked to x: square pixels
        layout[f"xaxis{suffix}"].update(xaxis)
        layout[f"yaxis{suffix}"].update(yaxis)
    if shapes:
        layout["shapes"] = shapes
    if shared_scale:
        layout["coloraxis"] = {"colorscale": overlay_colorscale(), "cmin": 0.0, "cmax": zmax}
    layout.update(height=height, margin={"l": 5, "r": 40, "t": 40, "b": 5}, showlegend=False)
    if pickable:
        layout.update(clickmode="event+select", dragmode=False)
    return _figure(data, layout)


def picked_patch(points: Sequence[dict], grid: tuple[int, int], patch_size: int) -> int | None:
    """The patch index a plotly selection points at (from its x, y in model pixels), or None."""
    gh, gw = grid
    for point in points:
        x, y = point.get("x"), point.get("y")
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            row, col = int(y // patch_size), int(x // patch_size)
            if 0 <= row < gh and 0 <= col < gw:
                return row * gw + col
    return None


def overview_figure(maps: np.ndarray, layer_offset: int = 0, gap: int = 1) -> go.Figure:
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
            info[r0:r0 + gh, c0:c0 + gw, 0] = layer + layer_offset
            info[r0:r0 + gh, c0:c0 + gw, 1] = head
            info[r0:r0 + gh, c0:c0 + gw, 2] = index
    data = [{
        "type": "heatmap", "z": _round(mosaic), "customdata": info, "colorscale": COLORSCALE, "zmin": 0.0,
        "zmax": float(np.max(maps)), "colorbar": {"title": {"text": "attention"}, "tickformat": ".3~f"},
        "hoverongaps": False, "xgap": 0, "ygap": 0,
        "hovertemplate": "layer %{customdata[0]} head %{customdata[1]}<br>patch %{customdata[2]}<br>weight %{z:.4f}<extra></extra>",
    }]
    layout: Spec = {
        "xaxis": {"tickvals": [h * (gw + gap) + (gw - 1) / 2 for h in range(n_heads)],
                  "ticktext": [f"head {h}" for h in range(n_heads)], "side": "top", "showgrid": False, "zeroline": False},
        "yaxis": {"tickvals": [layer * (gh + gap) + (gh - 1) / 2 for layer in range(n_layers)],
                  "ticktext": [f"layer {layer + layer_offset}" for layer in range(n_layers)], "autorange": "reversed",
                  "showgrid": False, "zeroline": False, "scaleanchor": "x", "constrain": "domain"},
        "height": 120 + 110 * n_layers, "margin": {"l": 60, "r": 10, "t": 40, "b": 10},
        # Transparent: the gaps between tiles show the page (light or dark theme), never a white sheet.
        "plot_bgcolor": "rgba(0,0,0,0)", "paper_bgcolor": "rgba(0,0,0,0)",
    }
    return _figure(data, layout)


# ----------------------------------------------------------------------------- head analytics
def head_statistics_figure(
    series: dict[str, tuple[np.ndarray, np.ndarray]], layer_offset: int = 0,
    uniform_distance: dict[str, float] | None = None, entropy_title: str = "Attention entropy (nats)",
) -> go.Figure:
    """Mean attention distance (left, ViT paper Fig. 7 right) and entropy (right) per head vs depth.

    ``series``: label -> (distance (L, H) in pixels, entropy (L, H)), in the unit ``entropy_title``
    names (nats, or divided by ln T to compare input sizes). One marker per head, slightly offset
    horizontally per series so two resolutions can be compared. ``uniform_distance``: label ->
    the distance of a head spreading attention evenly over all patches, drawn as a dashed line
    (the reference a "global" head is measured against; it grows with the grid's side).
    """
    layout, refs = row_of_subplots(("Mean attention distance (pixels)", entropy_title), horizontal_spacing=0.12)
    symbols = ("circle", "diamond", "square", "x")
    n_heads = next(iter(series.values()))[0].shape[1] if series else 0
    data: list[Spec] = []
    for s, (label, (distance, entropy)) in enumerate(series.items()):
        n_layers = distance.shape[0]
        depth = np.round(np.arange(n_layers) + layer_offset + (s - (len(series) - 1) / 2) * 0.15, 3)
        for head in range(n_heads):
            for (x_ref, y_ref), values in zip(refs, (distance, entropy)):
                data.append({
                    "type": "scatter", "x": depth, "y": _round(values[:, head]), "mode": "markers", "showlegend": False,
                    "legendgroup": f"head {head}", "name": f"head {head}",
                    "marker": {"symbol": symbols[s % len(symbols)], "size": 9, "color": HEAD_COLOURS[head % len(HEAD_COLOURS)],
                               "line": {"width": 1, "color": "black"}},
                    "hovertemplate": f"{label}<br>layer %{{x:.0f}} head {head}<br>%{{y:.3f}}<extra></extra>",
                    "xaxis": x_ref, "yaxis": y_ref,
                })
    # Legend-only entries: the colour names the head, the symbol the input size (the data traces above stay out of it).
    legend_only: Spec = {"type": "scatter", "x": [None], "y": [None], "mode": "markers", "xaxis": refs[0][0], "yaxis": refs[0][1]}
    for head in range(n_heads):
        data.append({**legend_only, "name": f"head {head}", "legendgroup": f"head {head}",
                     "marker": {"size": 9, "color": HEAD_COLOURS[head % len(HEAD_COLOURS)], "line": {"width": 1, "color": "black"}}})
    for s, label in enumerate(series):
        data.append({**legend_only, "name": label, "marker": {"size": 9, "symbol": symbols[s % len(symbols)], "color": "grey"}})
    dashes = ("dash", "dot", "dashdot", "longdash")
    for s, (label, value) in enumerate((uniform_distance or {}).items()):
        n_layers = next(iter(series.values()))[0].shape[0] if series else 1
        x_ref, y_ref = refs[0]
        data.append({
            "type": "scatter", "x": [layer_offset - 0.4, layer_offset + n_layers - 0.6], "y": [round(float(value), DECIMALS)] * 2,
            "mode": "lines", "line": {"dash": dashes[s % len(dashes)], "color": "grey", "width": 1.5},
            "name": f"uniform attention, {label}", "hovertemplate": f"uniform attention, {label}: %{{y:.1f}} px<extra></extra>",
            "xaxis": x_ref, "yaxis": y_ref,
        })
    for x_ref, _ in refs:
        layout["xaxis" + x_ref[1:]].update(title={"text": "network depth (layer)"}, dtick=1)
    layout.update(height=360, margin={"l": 40, "r": 10, "t": 40, "b": 40}, legend={"orientation": "h", "y": -0.25})
    return _figure(data, layout)



# ----------------------------------------------------------------------------- training scrubber
def training_figure(
    loss_curve: Sequence[tuple[int, float]], steps: Sequence[int], accuracy: Sequence[float], box_ratio: Sequence[float],
    marker_step: int | None,
) -> go.Figure:
    """Left: the training loss; right: held-out accuracy and the rollout-box ratio at every snapshot.

    The rollout-box ratio is the [CLS] rollout's share on the object's patches over their share of
    the image (1 = a uniform map), so it shares the right panel on its own axis. A dashed line marks
    the snapshot on show (``None``: the shipped model, after the last step).
    """
    layout, refs = row_of_subplots(("Training loss", "Held-out accuracy and rollout on the object"), horizontal_spacing=0.16)
    (x1, y1), (x2, y2) = refs
    xs, ys = zip(*loss_curve) if loss_curve else ((), ())
    data: list[Spec] = [
        {"type": "scatter", "x": list(xs), "y": [round(v, DECIMALS) for v in ys], "mode": "lines", "name": "training loss",
         "xaxis": x1, "yaxis": y1, "hovertemplate": "step %{x}: loss %{y:.3f}<extra></extra>"},
        {"type": "scatter", "x": list(steps), "y": [round(100 * a, 2) for a in accuracy], "mode": "lines+markers",
         "name": "held-out accuracy (%)", "xaxis": x2, "yaxis": y2, "hovertemplate": "step %{x}: %{y:.1f}%<extra></extra>"},
        {"type": "scatter", "x": list(steps), "y": [round(r, 3) for r in box_ratio], "mode": "lines+markers",
         "name": "rollout on the object (x uniform)", "xaxis": x2, "yaxis": "y3", "line": {"dash": "dot"},
         "hovertemplate": "step %{x}: %{y:.2f}x a uniform map<extra></extra>"},
    ]
    layout["yaxis"].update(title={"text": "loss"}, rangemode="tozero")
    layout["yaxis2"].update(title={"text": "accuracy (%)"}, range=[0, 100])
    layout["yaxis3"] = {"overlaying": y2, "side": "right", "anchor": x2, "rangemode": "tozero", "showgrid": False,
                        "title": {"text": "x uniform"}}
    for axis in ("xaxis", "xaxis2"):
        layout[axis].update(title={"text": "optimiser step"})
    shapes: list[Spec] = []
    if marker_step is not None:
        shapes = [{"type": "line", "xref": x, "yref": f"{y} domain", "x0": marker_step, "x1": marker_step, "y0": 0, "y1": 1,
                   "line": {"dash": "dash", "color": "grey"}} for x, y in refs]
    layout.update(shapes=shapes, height=320, margin={"l": 50, "r": 50, "t": 40, "b": 40},
                  legend={"orientation": "h", "y": -0.3})
    return _figure(data, layout)



# ----------------------------------------------------------------------------- exports
def colourise(grid_map: np.ndarray, colorscale: str = COLORSCALE) -> np.ndarray:
    """(gh, gw) values -> (gh, gw, 3) uint8 colours, scaled to the map's own [min, max]."""
    values = np.asarray(grid_map, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    unit = (values - low) / (high - low) if high > low else np.zeros_like(values)
    lut = sample_colorscale(colorscale, list(np.linspace(0, 1, 256)), colortype="tuple")
    table = np.round(np.asarray(lut) * 255).astype(np.uint8)  # (256, 3)
    return table[np.clip((unit * 255).round().astype(int), 0, 255)]


def overlay_png(
    image: Image.Image | np.ndarray, grid_map: np.ndarray, alpha: float = 0.6, size: int = 256,
) -> bytes:
    """PNG bytes of the attention map blended over the image, resized to ``size`` x ``size``.

    The map is upsampled with nearest neighbour so each patch stays a visible block.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha}")
    base = Image.fromarray(to_uint8_image(image)).resize((size, size), Image.Resampling.NEAREST)
    heat = Image.fromarray(colourise(grid_map)).resize((size, size), Image.Resampling.NEAREST)
    return png_bytes(Image.blend(base, heat, alpha))
