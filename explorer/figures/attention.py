"""Plotly figures for attention: arrays and token labels in, ``go.Figure`` out (no Streamlit).

Conventions, shared by every builder here:
- maps are after the softmax, rows are queries (top to bottom), columns are keys (left to right),
  the explorer's (…, queries, keys) layout;
- axis labels are made unique by their position (``"3:M"``), because plotly merges equal
  category names and a text like "2021-12-12" repeats characters, and HTML-escaped, because
  plotly reads ``<s>`` (the start token) as a tag;
- numbers travel as float32 arrays (plotly sends them base64-encoded) so a page's chart data stays small;
- figures carry an empty template, so Streamlit's theme styles them and the JSON stays small;
- each figure is written as ONE plain dict and validated once by ``go.Figure(spec)``. Plotly's
  incremental API (``make_subplots``, ``add_trace(row=, col=)``, ``update_layout``/``update_xaxes``)
  re-walks the property tree on every call, about ten times the cost of validating one dict. The few
  subplot figures are laid out by :func:`explorer.figures.layout.subplot_grid`, which reproduces
  ``make_subplots``' domains, shared axes and titles; the figures carry no subplot grid, so a caller
  cannot ``add_trace(row=, col=)`` to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.analysis.stepwise import AttentionSteps
from explorer.figures.layout import Spec, subplot_grid, title_below_modebar

COLORSCALE = "Viridis"  # dark at zero: low attention must not be the brightest thing on a dark theme
MAX_TICK_LABELS = 40  # at most this many tick labels per axis (every n-th beyond), so 11 px labels never collide
TICK_FONT_PX = 11  # readable on a projector from the back of a room
# A figure's height is fixed on the server, which never sees the browser's width; heights are chosen
# for this column width (a 1,400-1,920 px window with the sidebar open) and the maps stretch to the
# real width. Callers placing a map in a narrower column (two side by side) pass their own.
COLUMN_PX = 900
MIN_HEIGHT, MAX_HEIGHT = 380, 860  # below: a one-row map is a sliver; above: it no longer fits one screen
OVERVIEW_COLUMN_PX = 800  # the column width the layer x head mosaic's height is chosen for (see attention_overview)
COLORBAR_BAND_PX = 46  # the horizontal colour bar's band under a map
HEAD_NAMES_PX = 22  # the band above the overview's top row that holds the head names


def _figure(data: list[Spec], layout: Spec) -> go.Figure:
    """Validate a whole figure spec in one pass, with the empty template (see the module notes)."""
    return go.Figure({"data": data, "layout": {"template": {}, **layout}})


def plotly_text(text: str) -> str:
    """Escape ``& < >`` for Plotly, whose labels understand a few HTML tags: without this the start
    token ``<s>`` would vanish (read as strike-through) and typed text could add tags or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def axis_labels(tokens: Sequence[str]) -> list[str]:
    """Unique, escaped category labels ``"position:token"`` for an axis of tokens."""
    return [f"{i}:{plotly_text(t)}" for i, t in enumerate(tokens)]


def _check_map(weights: np.ndarray, query_labels: Sequence[str], key_labels: Sequence[str]) -> np.ndarray:
    arr = np.asarray(weights, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"an attention map must be (queries, keys), got shape {arr.shape}")
    if arr.shape != (len(query_labels), len(key_labels)):
        raise ValueError(
            f"map shape {arr.shape} does not match {len(query_labels)} query labels x {len(key_labels)} key labels"
        )
    return arr


def _hide_masked(arr: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """NaN where the mask hides a key (Plotly draws NaN as an empty cell), float32 otherwise."""
    if keep is None:
        return arr
    keep = np.asarray(keep, dtype=bool)
    if keep.shape != arr.shape[-2:]:
        raise ValueError(f"mask shape {keep.shape} does not match the map's (queries, keys) {arr.shape[-2:]}")
    return np.where(keep, arr, np.nan).astype(np.float32)


def _top(arr: np.ndarray) -> float:
    """Largest weight, ignoring hidden (NaN) cells; 0 if every cell is hidden."""
    return float(np.nanmax(arr)) if np.isfinite(arr).any() else 0.0


def _hover(value_label: str) -> str:
    """Hover text of a map cell: query, key and the value under its own name (escaped: it is shown as HTML)."""
    return "query %{y}<br>key %{x}<br>" + plotly_text(value_label) + " %{z:.3f}<extra></extra>"


def _tick_axis(labels: Sequence[str], title: str) -> Spec:
    step = max(1, math.ceil(len(labels) / MAX_TICK_LABELS))
    shown = list(labels)[::step]
    return dict(
        title=dict(text=title), tickmode="array", tickvals=shown, ticktext=shown, tickfont=dict(size=TICK_FONT_PX),
        type="category", automargin=True,
    )


def _bottom_colorbar(title: str = "weight") -> Spec:
    """A horizontal colour bar in a band at the bottom of the figure, pinned to the container.

    A vertical bar with its title and numbers takes about 90 px of width beside the map: a quarter of
    a phone's column, and what kept the projector's map under 80 % of its column."""
    return dict(title=dict(text=title, side="right"), thickness=10, orientation="h", len=0.6, lenmode="fraction",
                x=0.5, xanchor="center", y=0.0, yref="container", yanchor="bottom", ypad=6, tickfont=dict(size=TICK_FONT_PX))


def _top_colorbar(title: str, below_px: int, height: int) -> Spec:
    """``_bottom_colorbar``, moved up to start ``below_px`` under the figure's top edge (under the title).

    Placed on the container, in px turned into a fraction of the fixed height: a bar placed on the
    plot area's edge reaches into the top margin, and Plotly then moves the title up into the modebar."""
    return dict(_bottom_colorbar(title), y=1.0 - below_px / height, yref="container", yanchor="top", ypad=0)


def _heatmap_height(n_rows: int, n_cols: int, col_labels: Sequence[str], top: int, column_px: int) -> int:
    """Height that gives about square cells when the map spans ``column_px``, within one screen.

    The plot's width is the column's (a map keeping square cells by shrinking its width would be
    270 px wide in a 1,450 px column); its height follows the map's shape: rows / columns of the plot
    width, plus the title band above and the rotated key labels below (about 7 px per character).
    Every shown row keeps at least 16 px, room for its 11 px label.
    """
    longest = max((len(label) for label in col_labels), default=1)
    below = 30 + 7 * min(longest, 24)
    shown_rows = math.ceil(n_rows / max(1, math.ceil(n_rows / MAX_TICK_LABELS)))
    plot = max((column_px - 120) * n_rows / max(1, n_cols), 16 * shown_rows)
    return int(min(MAX_HEIGHT, max(MIN_HEIGHT, top + below + plot)))


def attention_heatmap(
    weights: np.ndarray,
    query_labels: Sequence[str],
    key_labels: Sequence[str],
    title: str,
    zmax: float | None = None,
    query_title: str = "query token",
    key_title: str = "key token",
    keep: np.ndarray | None = None,
    column_px: int = COLUMN_PX,
    value_label: str = "weight",
) -> go.Figure:
    """One attention map (Tq, Tk) as a heatmap; hover shows query token, key token and weight.

    ``query_labels``/``key_labels`` are token strings; positions are prefixed to keep them unique.
    ``keep`` (Tq, Tk) bool marks the keys each query may see; hidden cells are left empty
    (a gap, not the colour of weight 0), so a causal map shows its empty upper triangle.
    ``column_px`` is the width of the column the map will fill; it only chooses the height.
    ``value_label`` names what the cells hold, on the colour bar and in the hover: "weight" for α,
    something else when a caller draws another quantity (value-weighted norms, Kobayashi et al. 2020).
    """
    arr = _check_map(weights, query_labels, key_labels)
    arr = _hide_masked(arr, keep)
    ql, kl = axis_labels(query_labels), axis_labels(key_labels)
    top = _top(arr) if zmax is None else float(zmax)
    title_spec, margin_top = title_below_modebar(title)
    return _figure(
        [dict(type="heatmap", z=arr, x=kl, y=ql, colorscale=COLORSCALE, zmin=0.0, zmax=max(top, 1e-6),
              hovertemplate=_hover(value_label), colorbar=_bottom_colorbar(plotly_text(value_label)),
              **({} if keep is None else {"hoverongaps": False}))],
        dict(
            title=title_spec, height=_heatmap_height(len(ql), len(kl), kl, margin_top, column_px) + COLORBAR_BAND_PX,
            margin=dict(l=10, r=10, t=margin_top, b=COLORBAR_BAND_PX),
            xaxis=dict(_tick_axis(kl, key_title), tickangle=-90),
            yaxis=dict(_tick_axis(ql, query_title), autorange="reversed"),
        ),
    )


def attention_overview(
    maps: np.ndarray,
    query_labels: Sequence[str],
    key_labels: Sequence[str],
    title: str,
    head_names: Sequence[str] | None = None,
    layer_names: Sequence[str] | None = None,
    zmax: float | None = None,
    keep: np.ndarray | None = None,
    column_px: int = COLUMN_PX,
    value_label: str = "weight",
) -> go.Figure:
    """All layers x heads (L, H, Tq, Tk) in ONE figure: a mosaic of heatmaps on one shared colour scale.

    A shared ``coloraxis`` means the same colour is the same weight in every panel, so heads
    can be compared at a glance. ``keep`` (Tq, Tk) bool: hidden cells are left empty, and
    ``value_label`` names the cells, as in ``attention_heatmap``.

    Every panel sits on ONE pair of category axes, side by side with a one-cell gap: a browser draws
    48 heatmaps on one pair of axes about as fast as one heatmap, while 48 subplots (an axis pair
    each) cost it about 2 s more on a 2-core laptop. Categories must be unique along an axis, so a column's key
    label carries its head ("head 3 · 4:cat") and a row's query label its layer; the hover reads
    them back as "query layer 1 · 2:the, key head 3 · 4:cat". Tick labels are hidden (hover names
    the tokens); heads are named once above the top row and layers once left of the first column,
    with bare head numbers under a "head" label beyond four heads. ``scaleanchor`` keeps cells
    square at any width, from a phone to a projector; the colour bar sits between the title and
    the head names (``_top_colorbar``).
    """
    arr = np.asarray(maps, dtype=np.float32)
    if arr.ndim != 4:
        raise ValueError(f"overview needs (layers, heads, queries, keys), got shape {arr.shape}")
    arr = _hide_masked(arr, keep)
    n_layers, n_heads = arr.shape[:2]
    _check_map(arr[0, 0], query_labels, key_labels)
    short_heads = head_names is None and n_heads > 4
    if head_names is None:
        head_names = [str(h) if short_heads else f"head {h}" for h in range(n_heads)]
    layer_names = list(layer_names) if layer_names is not None else [f"layer {l}" for l in range(n_layers)]
    if len(head_names) != n_heads or len(layer_names) != n_layers:
        raise ValueError("head_names and layer_names must have one entry per head and per layer")
    heads_full = [f"head {h}" for h in range(n_heads)] if short_heads else [plotly_text(n) for n in head_names]
    layers_full = [plotly_text(n) for n in layer_names]
    columns = _panel_categories(axis_labels(key_labels), heads_full)
    rows = _panel_categories(axis_labels(query_labels), layers_full)
    n_keys, n_queries = len(key_labels), len(query_labels)
    hover = _hover(value_label)
    traces = [
        dict(type="heatmap", z=arr[l, h], x=columns[h], y=rows[l], coloraxis="coloraxis", hovertemplate=hover,
             **({} if keep is None else {"hoverongaps": False}), name=f"{layers_full[l]} {heads_full[h]}")
        for l in range(n_layers)
        for h in range(n_heads)
    ]
    axis = dict(type="category", showticklabels=False, ticks="", showline=False, showgrid=False, zeroline=False,
                constrain="domain")
    top = _top(arr) if zmax is None else float(zmax)
    # Room under the title for the colour bar and, below it, the head names. The bar sits above the
    # mosaic, not under it: the height is fixed for a laptop's column, so on a phone, where the square
    # cells leave the mosaic shorter than the figure, the spare height falls below and the bar stays next to the map.
    extra_top = HEAD_NAMES_PX + COLORBAR_BAND_PX
    title_spec, margin_top = title_below_modebar(title, extra_top=extra_top)
    mosaic_w = n_heads * (n_keys + 1) - 1
    mosaic_h = n_layers * (n_queries + 1) - 1
    plot_px = (min(column_px, OVERVIEW_COLUMN_PX) - 40) * mosaic_h / max(1, mosaic_w)
    height = int(min(1400, max(MIN_HEIGHT, margin_top + 20 + plot_px)))
    colorbar = _top_colorbar(plotly_text(value_label), margin_top - extra_top + 4, height)  # 4 px under the title
    return _figure(
        traces,
        dict(
            title=title_spec,
            xaxis=dict(axis, categoryorder="array", categoryarray=_with_gaps(columns)),
            # square cells; the mosaic shrinks toward the top so the head names stay next to it
            yaxis=dict(axis, categoryorder="array", categoryarray=_with_gaps(rows), autorange="reversed",
                       scaleanchor="x", constraintoward="top"),
            annotations=_mosaic_labels(list(head_names), list(layer_names), n_keys, n_queries, "head" if short_heads else None),
            height=height,
            margin=dict(l=28, r=10, t=margin_top, b=10),
            coloraxis=dict(colorscale=COLORSCALE, cmin=0.0, cmax=max(top, 1e-6), colorbar=colorbar),
            # Transparent: the gaps between panels show the page (light or dark theme), never a white sheet.
            plot_bgcolor="rgba(0,0,0,0)",
        ),
    )


def _panel_categories(labels: list[str], panels: list[str]) -> list[list[str]]:
    """Per panel, its unique category labels: the panel's name, then the token label ("head 3 · 4:cat")."""
    return [[f"{panel} · {label}" for label in labels] for panel in panels]


def _with_gaps(panels: list[list[str]]) -> list[str]:
    """The axis order: each panel's categories, with one empty gap category between panels.

    A gap's name is spaces, one more per gap, so no two gaps (and no gap and a label) are equal."""
    order: list[str] = []
    for i, categories in enumerate(panels):
        if i:
            order.append(" " * i)
        order.extend(categories)
    return order


def _mosaic_labels(
    head_names: list[str], layer_names: list[str], n_keys: int, n_queries: int, head_axis: str | None
) -> list[Spec]:
    """Column headers above the top row and row labels left of the first column, in data coordinates
    (a category axis counts its categories 0, 1, ...), so they follow the mosaic wherever it shrinks."""
    font = dict(size=TICK_FONT_PX)
    labels: list[Spec] = [
        dict(text=plotly_text(name), x=h * (n_keys + 1) + (n_keys - 1) / 2, xref="x", y=-0.5, yref="y", xanchor="center",
             yanchor="bottom", yshift=2, showarrow=False, font=font)
        for h, name in enumerate(head_names)
    ]
    labels += [
        dict(text=plotly_text(name), x=-0.5, xref="x", y=l * (n_queries + 1) + (n_queries - 1) / 2, yref="y", xanchor="right",
             yanchor="middle", xshift=-4, textangle=-90, showarrow=False, font=font)
        for l, name in enumerate(layer_names)
    ]
    if head_axis:
        labels.append(dict(text=head_axis, x=-0.5, xref="x", y=-0.5, yref="y", xanchor="right", yanchor="bottom",
                           xshift=-4, yshift=2, showarrow=False, font=font))
    return labels


def entropy_heatmap(
    entropy: np.ndarray,
    title: str,
    selected: tuple[int, int] | None = None,
    normalised: bool = True,
) -> go.Figure:
    """Head entropy (L, H) as a small annotated heatmap. Under Viridis low is dark purple and
    high is light yellow: dark = sharp (low entropy), light = diffuse (high entropy).

    ``selected`` (layer, head) gets an outline so the page's current head is easy to find.
    NaN (a head with no query that could choose between keys) is an empty cell marked "–".
    """
    arr = np.asarray(entropy, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"entropy must be (layers, heads), got shape {arr.shape}")
    n_layers, n_heads = arr.shape
    x = [f"head {h}" for h in range(n_heads)]
    y = [f"layer {l}" for l in range(n_layers)]
    unit = "normalised entropy" if normalised else "entropy (nats)"
    text = np.where(np.isfinite(arr), np.round(arr, 2).astype(str), "–")
    trace = dict(
        type="heatmap", z=arr, x=x, y=y, colorscale="Viridis", zmin=0.0, zmax=1.0 if normalised else None,
        text=text, texttemplate="%{text}",
        hovertemplate="%{y} %{x}<br>" + unit + " %{z:.3f}<extra></extra>",
        textfont=dict(size=TICK_FONT_PX), colorbar=_bottom_colorbar(unit.split(" ")[0]),
    )
    title_spec, margin_top = title_below_modebar(title)
    layout: Spec = dict(
        title=title_spec, height=int(70 + margin_top + COLORBAR_BAND_PX + 45 * n_layers),
        margin=dict(l=10, r=10, t=margin_top, b=COLORBAR_BAND_PX),
        yaxis=dict(autorange="reversed", automargin=True, tickfont=dict(size=TICK_FONT_PX)),
        xaxis=dict(automargin=True, tickfont=dict(size=TICK_FONT_PX)),
    )
    if selected is not None:
        l, h = selected
        if 0 <= l < n_layers and 0 <= h < n_heads:
            layout["shapes"] = [dict(type="rect", x0=h - 0.5, x1=h + 0.5, y0=l - 0.5, y1=l + 0.5, line=dict(color="red", width=3))]
    return _figure([trace], layout)


def stepwise_figure(
    steps: AttentionSteps,
    query: int,
    key_labels: Sequence[str],
    show_mistake: bool = False,
    query_label: str | None = None,
) -> go.Figure:
    """For one query: scaled scores per key (top) and the softmax weights (bottom).

    Masked keys are drawn at 0 in grey and labelled -inf (or "0 (wrong)" with ``show_mistake``);
    the top title names the grey bars only when this query has hidden keys. With ``show_mistake``
    the bottom panel also shows the weights when masked scores are filled with 0 instead of
    -inf: the orange bars on hidden keys are the leak. The legend lists only the bottom panel's
    series (blue: mask -inf, orange: mask 0), each once.
    """
    n_q, n_k = steps.weights.shape
    if not 0 <= query < n_q:
        raise ValueError(f"query {query} is out of range 0..{n_q - 1}")
    if len(key_labels) != n_k:
        raise ValueError(f"{len(key_labels)} key labels for {n_k} keys")
    kl = axis_labels(key_labels)
    keep = steps.keep[query]
    scaled = steps.scaled[query]
    if keep.all():
        top_title = "scores / sqrt(d_k)"
    elif show_mistake:
        top_title = "scores / sqrt(d_k) (grey: masked, filled with 0: the mistake)"
    else:
        top_title = "scores / sqrt(d_k) (grey: masked, set to -inf)"
    grid, ((x_top, y_top), (x_bottom, y_bottom)) = subplot_grid(
        2, 1, (top_title, "softmax weights"),
        horizontal_spacing=0.2, vertical_spacing=0.16, share_x=True, share_y=False, title_font_size=12,
    )
    for name, axis in grid.items():
        if name.startswith("xaxis"):
            axis.update(type="category", tickfont=dict(size=10))
    grid["yaxis2"]["range"] = [0, 1.05]  # weights are probabilities
    bar_scores = np.where(keep, scaled, 0.0).astype(np.float32)
    hidden_text = "0 (wrong)" if show_mistake else "-inf"
    traces = [
        dict(
            type="bar", x=kl, y=bar_scores, name="scaled score", showlegend=False,
            marker=dict(color=np.where(keep, "#1f77b4", "#bbbbbb").tolist()),
            text=[f"{s:.2f}" if k else hidden_text for s, k in zip(scaled, keep)], textposition="outside",
            hovertemplate="key %{x}<br>score %{text}<extra></extra>", xaxis=x_top, yaxis=y_top,
        ),
        dict(
            type="bar", x=kl, y=steps.weights[query].astype(np.float32), name="weight (mask = -inf)", marker=dict(color="#1f77b4"),
            hovertemplate="key %{x}<br>weight %{y:.3f}<extra></extra>", xaxis=x_bottom, yaxis=y_bottom,
        ),
    ]
    if show_mistake:
        traces.append(dict(
            type="bar", x=kl, y=steps.wrong_weights[query].astype(np.float32), name="weight (mask = 0, wrong)",
            marker=dict(color="#ff7f0e"), hovertemplate="key %{x}<br>wrong weight %{y:.3f}<extra></extra>",
            xaxis=x_bottom, yaxis=y_bottom,
        ))
    title_spec, margin_top = title_below_modebar(
        f"Query {query}:{plotly_text(query_label) if query_label is not None else ''}: scores and weights", extra_top=20)
    return _figure(
        traces,
        dict(
            grid, barmode="group", height=400 + margin_top, margin=dict(l=10, r=10, t=margin_top, b=10),
            legend=dict(orientation="h", y=-0.15), title=title_spec,
        ),
    )
