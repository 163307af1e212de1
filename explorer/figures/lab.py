"""Figures of the architecture lab and the training scrubber: loss curves and per-step metrics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import plotly.graph_objects as go


def loss_curves(curves: Mapping[str, Sequence[Sequence[float]]], title: str, marker_step: int | None = None) -> go.Figure:
    """Training loss (log scale) per variant; ``curves[name]`` = [[step, loss], ...]. ``marker_step`` draws a line."""
    fig = go.Figure()
    for name, points in curves.items():
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines", name=name,
                                 hovertemplate="step %{x}<br>loss %{y:.4f}<extra>" + name + "</extra>"))
    if marker_step is not None:
        fig.add_vline(x=marker_step, line_dash="dash", line_color="gray")
    fig.update_layout(title=dict(text=title), height=360, margin=dict(l=10, r=10, t=50, b=10),
                      xaxis_title="optimizer step", yaxis_title="training loss (cross-entropy)", yaxis_type="log",
                      legend=dict(orientation="h", y=-0.25))
    return fig


def snapshot_metrics(steps: Sequence[int], accuracy: Sequence[float], alignment: Sequence[float], marker_step: int) -> go.Figure:
    """Held-out exact match and cross-attention alignment at every snapshot."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(steps), y=[100 * a for a in accuracy], mode="lines+markers", name="held-out exact match (%)"))
    fig.add_trace(go.Scatter(x=list(steps), y=[100 * a for a in alignment], mode="lines+markers", name="alignment (%)"))
    fig.add_vline(x=marker_step, line_dash="dash", line_color="gray")
    fig.update_layout(title=dict(text="Accuracy and alignment at each snapshot"), height=320, margin=dict(l=10, r=10, t=50, b=10),
                      xaxis_title="optimizer step", yaxis_title="%", yaxis_range=[0, 100], legend=dict(orientation="h", y=-0.3))
    return fig


def share_bars(heads: Sequence[str], weight_share: Iterable[float], norm_share: Iterable[float], title: str) -> go.Figure:
    """Per head: share of attention weight vs share of weighted norm that goes to the first token."""
    fig = go.Figure()
    fig.add_trace(go.Bar(x=list(heads), y=[100 * v for v in weight_share], name="attention weight (%)"))
    fig.add_trace(go.Bar(x=list(heads), y=[100 * v for v in norm_share], name="||alpha f(x)|| (%)"))
    fig.update_layout(title=dict(text=title), barmode="group", height=340, margin=dict(l=10, r=10, t=50, b=10),
                      yaxis_title="% to the first token", yaxis_range=[0, 100], legend=dict(orientation="h", y=-0.3))
    return fig
