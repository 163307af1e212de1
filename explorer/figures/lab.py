"""Figures of the architecture lab and the training scrubber: loss curves and per-step metrics.

Each figure is one plain dict validated once by ``go.Figure`` (see ``explorer.figures.attention``), with
its title below the modebar (``title_below_modebar``) and short enough for a phone: what a chart shows in
detail goes in the page's caption. Tick labels are 11 px, like every other chart of the explorer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import plotly.graph_objects as go

from explorer.figures.attention import TICK_FONT_PX
from explorer.figures.layout import Spec, title_below_modebar


def _figure(data: list[Spec], title: str, height: int, layout: Spec, legend_y: float) -> go.Figure:
    """A chart with its title below the modebar and a horizontal legend under the plot."""
    title_spec, margin_top = title_below_modebar(title)
    font = dict(size=TICK_FONT_PX)
    for axis in ("xaxis", "yaxis"):
        layout[axis] = {"tickfont": font, "automargin": True, **layout.get(axis, {})}
    return go.Figure({"data": data, "layout": {
        "template": {}, "title": title_spec, "height": height + margin_top, "margin": dict(l=10, r=10, t=margin_top, b=10),
        "legend": dict(orientation="h", y=legend_y, font=font), **layout,
    }})


def _marker(step: int | None) -> list[Spec]:
    """A dashed vertical line at ``step`` across the whole plot (what ``add_vline`` draws)."""
    if step is None:
        return []
    return [dict(type="line", x0=step, x1=step, xref="x", y0=0, y1=1, yref="y domain", line=dict(dash="dash", color="gray"))]


def _log_ticks(values: Iterable[float], most: int = 6) -> list[float] | None:
    """Labelled ticks of a log axis over ``values``: 1, 2, 5 times powers of ten inside their range, only the
    powers of ten when that gives more than ``most``, or None (Plotly's own) for a range too narrow for two.

    Plotly's own log ticks label every digit between the decades in a small font that collides on a 300 px
    chart, or, with one label per decade, leave a loss curve that spans 0.15-3.5 a single label ("1")."""
    positive = [v for v in values if v > 0]
    if not positive:
        return None
    low, high = min(positive), max(positive)
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    ticks = [m * 10.0 ** e for e in decades for m in (1, 2, 5) if low <= m * 10.0 ** e <= high]
    if len(ticks) > most:
        return [10.0 ** e for e in decades if low <= 10.0 ** e <= high]
    return ticks if len(ticks) >= 2 else None


def loss_curves(curves: Mapping[str, Sequence[Sequence[float]]], title: str, marker_step: int | None = None) -> go.Figure:
    """Training loss (log scale) per variant; ``curves[name]`` = [[step, loss], ...]. ``marker_step`` draws a line."""
    traces: list[Spec] = [
        dict(type="scatter", x=[p[0] for p in points], y=[p[1] for p in points], mode="lines", name=name,
             hovertemplate="step %{x}<br>loss %{y:.4f}<extra>" + name + "</extra>")
        for name, points in curves.items()
    ]
    ticks = _log_ticks(p[1] for points in curves.values() for p in points)
    yaxis: Spec = dict(title=dict(text="training loss (log)"), type="log")
    if ticks is not None:
        yaxis.update(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    return _figure(traces, title, 300, dict(xaxis=dict(title=dict(text="optimizer step")), yaxis=yaxis,
                                            shapes=_marker(marker_step)), legend_y=-0.25)


def snapshot_metrics(steps: Sequence[int], accuracy: Sequence[float], alignment: Sequence[float], marker_step: int) -> go.Figure:
    """Held-out exact match and cross-attention alignment at every snapshot."""
    traces: list[Spec] = [
        dict(type="scatter", x=list(steps), y=[100 * a for a in values], mode="lines+markers", name=name)
        for name, values in (("held-out exact match (%)", accuracy), ("alignment (%)", alignment))
    ]
    return _figure(traces, "Accuracy and alignment at each snapshot", 270,
                   dict(xaxis=dict(title=dict(text="optimizer step")), yaxis=dict(title=dict(text="%"), range=[0, 100]),
                        shapes=_marker(marker_step)), legend_y=-0.3)


def share_bars(heads: Sequence[str], weight_share: Iterable[float], norm_share: Iterable[float], title: str) -> go.Figure:
    """Per head: share of attention weight vs share of weighted norm that goes to the first token."""
    traces: list[Spec] = [
        dict(type="bar", x=list(heads), y=[100 * v for v in weight_share], name="attention weight (%)"),
        dict(type="bar", x=list(heads), y=[100 * v for v in norm_share], name="‖α f(x)‖ (%)"),
    ]
    return _figure(traces, title, 290, dict(barmode="group", yaxis=dict(title=dict(text="% to the first token"), range=[0, 100])),
                   legend_y=-0.3)
