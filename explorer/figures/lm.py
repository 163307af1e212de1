"""Plotly figures of the language-model page: arrays in, ``go.Figure`` out (built from dicts, validated once).

Token text reaches Plotly only through ``plotly_text`` (Plotly labels understand a few HTML tags),
and leading spaces are drawn as "␣" so students see the tokens as the model reads them. Titles go
through :func:`explorer.figures.layout.title_below_modebar`, so on a phone Plotly's toolbar never
covers them; callers keep them short (at most ``TITLE_CHARS``) and explain in a caption.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.figures.attention import COLORBAR_BAND_PX, _bottom_colorbar, _figure, plotly_text
from explorer.figures.layout import Spec, title_below_modebar

SEQUENTIAL = "Viridis"


LEGEND_BAND_PX = 28  # one line of a legend pinned to the bottom of the figure
AXIS_BELOW_PX = 50  # tick labels and the x axis title under the plot


def _titled(title: str, margin: Spec, extra_top: int = 0) -> Spec:
    """Layout entries for a title below the modebar band, with the top margin that holds both."""
    spec, top = title_below_modebar(title, extra_top)
    return dict(title=spec, margin=dict(margin, t=top))


def _legend_below() -> Spec:
    """A horizontal legend in a band at the figure's bottom (``LEGEND_BAND_PX`` a line), under the x axis title.

    Placed in paper units (``y=-0.2``), a legend's distance from the axis depends on the figure's height
    and sat on the axis title ("after" over "probability") on a phone."""
    return dict(orientation="h", x=0.0, xanchor="left", y=0.0, yref="container", yanchor="bottom")


def show_piece(piece: str) -> str:
    """A token as the model sees it: spaces as ␣, newlines as ⏎, tabs as ⇥, escaped for Plotly."""
    return plotly_text(piece.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥"))


def next_token_bars(pieces: Sequence[str], probabilities: Sequence[float], ids: Sequence[int], title: str) -> go.Figure:
    """Top-k next tokens as horizontal bars, most likely on top."""
    labels = [f"{show_piece(p)} [{i}]" for p, i in zip(pieces, ids)]
    return _figure(
        [dict(type="bar", orientation="h", x=list(map(float, probabilities)), y=labels,
              text=[f"{p:.1%}" for p in probabilities], textposition="auto",
              hovertemplate="%{y}: %{x:.2%}<extra></extra>", marker=dict(color="#4c78a8"))],
        dict(_titled(title, dict(l=10, r=24, b=30)), height=max(220, 70 + 26 * len(labels)),  # r: room for "100%"
             xaxis=dict(title=dict(text="probability"), range=[0, 1], tickformat=".0%"),
             yaxis=dict(autorange="reversed", type="category", automargin=True)),
    )


def compare_bars(pieces: Sequence[str], before: Sequence[float], after: Sequence[float], title: str) -> go.Figure:
    """The same tokens' probabilities before and after an intervention, side by side."""
    labels = [show_piece(p) for p in pieces]
    return _figure(
        [dict(type="bar", orientation="h", name="before", x=list(map(float, before)), y=labels,
              hovertemplate="%{y}: %{x:.2%}<extra>before</extra>", marker=dict(color="#9ecae9")),
         dict(type="bar", orientation="h", name="after", x=list(map(float, after)), y=labels,
              hovertemplate="%{y}: %{x:.2%}<extra>after</extra>", marker=dict(color="#e45756"))],
        dict(_titled(title, dict(l=10, r=24, b=AXIS_BELOW_PX + LEGEND_BAND_PX)), barmode="group",
             height=max(260, 140 + 34 * len(labels)), xaxis=dict(title=dict(text="probability"), tickformat=".0%"),
             yaxis=dict(autorange="reversed", type="category", automargin=True), legend=_legend_below()),
    )


def head_map(scores: np.ndarray, title: str, score_name: str, selected: tuple[int, int] | None = None) -> go.Figure:
    """Every head of every layer in one heatmap: layers as rows (0 at the top), heads as columns.

    The map takes its column's width (no fixed width) and its colour bar lies under it, so on a phone
    the nine head columns keep the whole width instead of sharing it with a vertical bar. The column
    is narrow on a wide window (about 230 px at 1,400 px), so the title names the score and the bar
    says only "score"."""
    arr = np.asarray(scores, dtype=np.float32)
    n_layers, n_heads = arr.shape
    shapes = []
    if selected is not None:
        layer, head = selected
        shapes.append(dict(type="rect", x0=head - 0.5, x1=head + 0.5, y0=layer - 0.5, y1=layer + 0.5,
                           line=dict(color="#e45756", width=3)))
    # Plotly cannot select heatmap cells (no point selection for heatmaps), so a click would never reach
    # st.plotly_chart(on_select=...): near-invisible markers on the cell centres take the click (and the hover).
    layers, heads = np.meshgrid(np.arange(n_layers), np.arange(n_heads), indexing="ij")
    pick = dict(type="scatter", mode="markers", x=heads.ravel().tolist(), y=layers.ravel().tolist(),
                customdata=np.round(arr, 4).ravel().tolist(), marker=dict(size=14, opacity=0.01, color="white"),
                hovertemplate="layer %{y} · head %{x}<br>" + score_name + " %{customdata:.3f}<extra></extra>",
                showlegend=False, name="pick")
    # Fixed ranges: autorange pads for the pick markers' size and showed layers -2..31 for 0..29.
    return _figure(
        [dict(type="heatmap", z=np.round(arr, 4), x=list(range(n_heads)), y=list(range(n_layers)), colorscale=SEQUENTIAL,
              zmin=0.0, zmax=1.0, colorbar=_bottom_colorbar("score"), hoverinfo="skip"),
         pick],
        dict(_titled(title, dict(l=10, r=10, b=COLORBAR_BAND_PX)), height=680, shapes=shapes,
             clickmode="event+select", dragmode=False,
             xaxis=dict(title=dict(text="head"), dtick=1, range=[-0.5, n_heads - 0.5], automargin=True),
             yaxis=dict(title=dict(text="layer"), dtick=1, range=[n_layers - 0.5, -0.5], automargin=True)),
    )


def logit_lens(tokens: Sequence[Sequence[str]], probabilities: np.ndarray, positions: Sequence[str], title: str) -> go.Figure:
    """Layers x positions grid: the top token read from the residual stream, coloured by its probability."""
    probs = np.asarray(probabilities, dtype=np.float32)
    text = [[show_piece(t) for t in row] for row in tokens]
    x = [f"{i}:{show_piece(p)}" for i, p in enumerate(positions)]
    return _figure(
        [dict(type="heatmap", z=np.round(probs, 4), x=x, y=list(range(probs.shape[0])), text=text, texttemplate="%{text}",
              textfont=dict(size=10), colorscale=SEQUENTIAL, zmin=0.0, zmax=1.0,
              colorbar=dict(title=dict(text="probability"), thickness=12),
              hovertemplate="after layer %{y}, at %{x}<br>top token %{text} (%{z:.1%})<extra></extra>")],
        dict(_titled(title, dict(l=10, r=10, b=10)), height=min(1000, 130 + 24 * probs.shape[0]),
             xaxis=dict(title=dict(text="position (input token)"), type="category", tickangle=-45, automargin=True),
             yaxis=dict(title=dict(text="layer"), autorange="reversed", dtick=1)),
    )


def loss_curves(before: Sequence[float] | np.ndarray, after: Sequence[float] | np.ndarray | None, period: int, title: str) -> go.Figure:
    """Per-token loss on a repeated random sequence; the second copy starts at ``period``."""
    data: list[dict[str, object]] = [dict(type="scatter", mode="lines", name="model", y=list(map(float, before)),
                 hovertemplate="position %{x}: %{y:.2f} nats<extra></extra>")]
    if after is not None:
        data.append(dict(type="scatter", mode="lines", name="heads ablated", y=list(map(float, after)),
                         line=dict(color="#e45756"), hovertemplate="position %{x}: %{y:.2f} nats<extra>ablated</extra>"))
    return _figure(
        data,
        dict(_titled(title, dict(l=10, r=10, b=AXIS_BELOW_PX + LEGEND_BAND_PX)), height=360,
             xaxis=dict(title=dict(text="position of the predicted token")), yaxis=dict(title=dict(text="loss (nats)")),
             shapes=[dict(type="line", x0=period - 0.5, x1=period - 0.5, yref="paper", y0=0, y1=1, line=dict(dash="dot"))],
             legend=_legend_below()),
    )


def cache_and_timing(cache_kib: Sequence[float], cached_ms: Sequence[float], uncached_ms: Sequence[float], title: str) -> go.Figure:
    """KV-cache size per step (bars, left axis) and the time per step with and without the cache (lines, right axis)."""
    steps = list(range(1, len(cache_kib) + 1))
    return _figure(
        [dict(type="bar", name="KV cache (KiB)", x=steps, y=list(map(float, cache_kib)), marker=dict(color="#c7c7c7"),
              hovertemplate="step %{x}: %{y:.0f} KiB<extra></extra>"),
         dict(type="scatter", mode="lines+markers", name="ms per step, cached", x=steps, y=list(map(float, cached_ms)),
              yaxis="y2", hovertemplate="step %{x}: %{y:.0f} ms<extra>with cache</extra>"),
         dict(type="scatter", mode="lines+markers", name="ms per step, uncached", x=steps[: len(uncached_ms)],
              y=list(map(float, uncached_ms)), yaxis="y2", line=dict(color="#e45756"),
              hovertemplate="step %{x}: %{y:.0f} ms<extra>without cache</extra>")],
        # the legend takes one line on a wide window and one per series on a phone: its band holds three
        dict(_titled(title, dict(l=10, r=10, b=AXIS_BELOW_PX + 3 * LEGEND_BAND_PX)), height=430, legend=_legend_below(),
             xaxis=dict(title=dict(text="generated token"), dtick=max(1, math.ceil(len(steps) / 10))),  # whole tokens
             yaxis=dict(title=dict(text="KiB")),
             yaxis2=dict(title=dict(text="ms"), overlaying="y", side="right", rangemode="tozero", tickformat=".0f")),
    )


def picked_head(points: Sequence[dict], n_layers: int, n_heads: int) -> tuple[int, int] | None:
    """(layer, head) of the head-map cell a Plotly click selected (x = head, y = layer), or None."""
    for point in points:
        x, y = point.get("x"), point.get("y")
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            layer, head = int(round(y)), int(round(x))
            if 0 <= layer < n_layers and 0 <= head < n_heads:
                return layer, head
    return None
