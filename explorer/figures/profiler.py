"""Plotly figures for the profiler: arrays in, ``go.Figure`` out (no profiler or Streamlit here).

* :func:`time_icicle` - where the step's time goes, module inside module (icicle or treemap).
* :func:`top_modules_bar` - the modules with the most self time.
* :func:`memory_timeline` - running total of allocations through one step, module spans shaded.
* :func:`scaling_figure` - time or memory against tokens on log-log axes, fitted exponents in the legend.
* :func:`diff_bar` - per-module or per-operator change between a baseline and the current run.
* :func:`step_times_figure` - profiled vs unprofiled step times (the profiler's own cost).
* :func:`python_icicle` - the Python call tree of one request (pyinstrument), coloured by group.
* :func:`share_bars` - time shares per kind, one bar per phase (prefill, decode) or per run.
* :func:`prompt_sweep_figure` - each kind's share of the prefill against the prompt length.
* :func:`path_comparison_figure` - attention time with the fused kernel and with the explicit softmax.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

CATEGORY_COLOURS = {
    "attention": "#E4572E",
    "feed_forward": "#2E86AB",
    "norm": "#3BB273",
    "embedding": "#7B4B94",
    "block": "#A0A4B8",
    "linear": "#76B7E5",
    "dropout": "#D9D9D9",
    "loss": "#F3A712",
    "backward": "#C1292E",
    "other": "#8D99AE",
    "model": "#4C4C4C",
}
KIND_LABELS = {"attention": "attention", "feed_forward": "feed-forward", "model": "whole model"}


def _colour(category: str) -> str:
    return CATEGORY_COLOURS.get(category, CATEGORY_COLOURS["other"])


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, xaxis_visible=False, yaxis_visible=False, height=300)
    return fig


def time_icicle(
    paths: Sequence[str],
    parents: Sequence[str | None],
    self_us: Sequence[float],
    total_us: Sequence[float],
    categories: Sequence[str] | None = None,
    style: str = "icicle",
    title: str = "Where the step's time goes",
    max_depth: int = -1,
) -> go.Figure:
    """Icicle (or treemap) of modules; each box's size is its total time, built from self times.

    ``branchvalues="remainder"``: a node's value is its *self* time and its children are
    added on top, so sizes stay consistent even when measured totals carry rounding noise.
    """
    if not paths:
        return _empty(title, "no modules measured")
    labels = [p.rsplit(".", 1)[-1] if p else p for p in paths]
    values = [max(0.0, float(v)) for v in self_us]
    colours = [_colour(c) for c in (categories or ["other"] * len(paths))]
    hover = [
        f"{p}<br>total {t / 1e3:.3f} ms<br>self {s / 1e3:.3f} ms" for p, t, s in zip(paths, total_us, self_us)
    ]
    kwargs = dict(
        ids=list(paths),
        labels=labels,
        parents=[p or "" for p in parents],
        values=values,
        branchvalues="remainder",
        marker=dict(colors=colours),
        hovertext=hover,
        hoverinfo="text",
        maxdepth=max_depth,
    )
    trace = go.Treemap(**kwargs) if style == "treemap" else go.Icicle(**kwargs, tiling=dict(orientation="h"))
    fig = go.Figure(trace)
    fig.update_layout(title=title, margin=dict(t=50, l=10, r=10, b=10), height=520)
    return fig


def top_modules_bar(
    paths: Sequence[str],
    self_us: Sequence[float],
    total_us: Sequence[float],
    categories: Sequence[str],
    top: int = 15,
    title: str = "Top modules by self time",
) -> go.Figure:
    """Horizontal bars of the ``top`` modules by self time (ms), coloured by kind."""
    order = sorted(range(len(paths)), key=lambda i: -float(self_us[i]))[:top]
    order = [i for i in order if float(self_us[i]) > 0]
    if not order:
        return _empty(title, "no module has measurable self time")
    order = order[::-1]  # largest at the top
    fig = go.Figure(
        go.Bar(
            x=[float(self_us[i]) / 1e3 for i in order],
            y=[paths[i] for i in order],
            orientation="h",
            marker_color=[_colour(categories[i]) for i in order],
            customdata=[[float(total_us[i]) / 1e3, categories[i]] for i in order],
            hovertemplate="%{y}<br>self %{x:.3f} ms<br>total %{customdata[0]:.3f} ms<br>%{customdata[1]}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title, xaxis_title="self time per step (ms)", height=max(300, 26 * len(order) + 120),
        margin=dict(l=10, r=10, t=50, b=40),
    )
    return fig


def memory_timeline(
    t_ms: Sequence[float],
    allocated_bytes: Sequence[float],
    spans: Sequence[tuple[str, float, float]] = (),
    title: str = "Memory during one step",
) -> go.Figure:
    """A step line of the running allocation total, with module call spans shaded behind it and named
    in a strip of bars underneath (shared time axis).

    The names sit inside their bars, horizontal and at least 11 px: a name that does not fit its bar is
    hidden (``uniformtext``), never cut or written over the line; every bar's hover gives the full path.
    """
    if len(t_ms) < 2:
        return _empty(title, "no memory events recorded (profile_memory off?)")
    mib = np.asarray(allocated_bytes, dtype=float) / 2**20
    rows = 2 if spans else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, row_heights=[0.82, 0.18][:rows], vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=list(t_ms), y=mib, mode="lines", line_shape="hv", name="allocated", line=dict(color="#2E86AB"),
                             hovertemplate="%{x:.3f} ms<br>%{y:.2f} MiB<extra></extra>"), row=1, col=1)
    shades = ["rgba(228,87,46,0.10)", "rgba(46,134,171,0.10)"]
    bars = ["#F2B8A4", "#A9CFE0"]  # opaque and light, dark text: readable in the light and the dark theme
    for i, (_, start, end) in enumerate(spans):
        fig.add_vrect(x0=start, x1=end, fillcolor=shades[i % 2], line_width=0, layer="below", row=1, col=1)
    if spans:
        fig.add_trace(go.Bar(
            base=[s[1] for s in spans], x=[s[2] - s[1] for s in spans], y=["modules"] * len(spans), orientation="h",
            text=[s[0] for s in spans], textposition="inside", insidetextanchor="middle", textangle=0,
            insidetextfont=dict(color="#1B1B1B"),
            hovertext=[f"{s[0]}<br>{s[1]:.3f} - {s[2]:.3f} ms" for s in spans], hoverinfo="text",
            marker=dict(color=[bars[i % 2] for i in range(len(spans))], line_width=0), width=0.9,
        ), row=2, col=1)
        fig.update_yaxes(showticklabels=False, row=2, col=1)
        fig.update_xaxes(title="time since step start (ms)", row=2, col=1)
    else:
        fig.update_xaxes(title="time since step start (ms)", row=1, col=1)
    fig.update_yaxes(title="MiB", row=1, col=1)
    fig.update_layout(
        title=title, height=460, margin=dict(t=50, l=10, r=10, b=40), showlegend=False, bargap=0,
        uniformtext=dict(minsize=11, mode="hide"), font=dict(size=12),
    )
    return fig


def _format_exponent(k: float) -> str:
    return "n/a" if k is None or math.isnan(k) else f"{k:.2f}"


def scaling_figure(
    tokens: Sequence[float],
    series: Mapping[str, Sequence[float]],
    exponents: Mapping[str, float],
    y_title: str = "time per step (ms)",
    scale: float = 1e-3,
    title: str = "Scaling with sequence length (log-log)",
    reference: bool = True,
    flop_exponents: Mapping[str, float] | None = None,
) -> go.Figure:
    """One line per kind on log-log axes; the legend shows the fitted exponent k of y ~ x^k.

    Dotted guide lines of slope 1 and 2 through the first point of the first series show
    what linear and quadratic growth would look like.
    """
    if len(tokens) < 2 or not series:
        return _empty(title, "run a sweep with at least two sizes")
    fig = go.Figure()
    first = None
    for kind, values in series.items():
        y = [float(v) * scale for v in values]
        if first is None and all(v > 0 for v in y):
            first = y[0]
        fig.add_trace(
            go.Scatter(
                x=list(tokens), y=y, mode="lines+markers",
                name=f"{KIND_LABELS.get(kind, kind)} (k = {_format_exponent(exponents.get(kind, float('nan')))}"
                + (f"; FLOPs k = {_format_exponent(flop_exponents.get(kind, float('nan')))})" if flop_exponents else ")"),
                line=dict(color=_colour(kind)),
            )
        )
    if reference and first is not None:
        x0 = float(tokens[0])
        xs = [float(t) for t in tokens]
        for slope, dash in ((1, "dot"), (2, "dash")):
            fig.add_trace(
                go.Scatter(
                    x=xs, y=[first * (x / x0) ** slope for x in xs], mode="lines", name=f"slope {slope} guide",
                    line=dict(color="#999999", dash=dash, width=1), hoverinfo="skip",
                )
            )
    fig.update_xaxes(type="log", title="tokens (sequence length)")
    fig.update_yaxes(type="log", title=y_title)
    fig.update_layout(title=title, height=420, margin=dict(t=50, l=10, r=10, b=40), legend=dict(orientation="h", y=-0.25))
    return fig


def diff_bar(
    names: Sequence[str],
    deltas: Sequence[float],
    top: int = 20,
    unit: str = "ms",
    scale: float = 1e-3,
    title: str = "Change from the baseline (current - baseline)",
) -> go.Figure:
    """Diverging bars of the largest changes; red = slower / more, green = faster / less."""
    pairs = [(n, float(d)) for n, d in zip(names, deltas) if d is not None and not math.isnan(float(d))]
    pairs.sort(key=lambda p: -abs(p[1]))
    pairs = pairs[:top][::-1]
    if not pairs:
        return _empty(title, "no differences to show")
    fig = go.Figure(
        go.Bar(
            x=[d * scale for _, d in pairs], y=[n for n, _ in pairs], orientation="h",
            marker_color=["#C1292E" if d > 0 else "#3BB273" for _, d in pairs],
            hovertemplate="%{y}<br>%{x:+.3f} " + unit + "<extra></extra>",
        )
    )
    fig.update_layout(
        title=title, xaxis_title=f"delta ({unit})", height=max(300, 26 * len(pairs) + 120),
        margin=dict(l=10, r=10, t=50, b=40),
    )
    return fig


def step_times_figure(plain_ms: Sequence[float], profiled_ms: Sequence[float], title: str = "Step time with and without the profiler") -> go.Figure:
    """Box + points of each active step's wall time, unprofiled and profiled (same model, inputs, steps)."""
    if not plain_ms and not profiled_ms:
        return _empty(title, "no step times recorded")
    fig = go.Figure()
    for name, values, colour in (("no profiler", plain_ms, "#3BB273"), ("profiled", profiled_ms, "#E4572E")):
        if values:
            fig.add_trace(go.Box(y=list(values), name=name, boxpoints="all", marker_color=colour, jitter=0.3))
    fig.update_layout(title=title, yaxis_title="wall time per step (ms)", height=340, margin=dict(t=50, l=10, r=10, b=40), showlegend=False)
    return fig


GROUP_COLOURS = {
    "torch ops (C++)": "#E4572E",
    "torch Python": "#F3A712",
    "explorer Python": "#2E86AB",
    "tokenizer": "#7B4B94",
    "figures": "#3BB273",
    "other Python": "#A0A4B8",
}
SHARE_COLOURS = {
    "attention": "#E4572E", "cross_attention": "#C1292E", "recurrent": "#F3A712", "mlp": "#2E86AB", "norm": "#3BB273",
    "embedding": "#7B4B94", "unembedding": "#B388EB", "other": "#A0A4B8",
}


def python_icicle(
    ids: Sequence[str], labels: Sequence[str], parents: Sequence[str], values: Sequence[float], groups: Sequence[str],
    locations: Sequence[str] | None = None, title: str = "The request's wall time, Python call by call",
) -> go.Figure:
    """Icicle of the sampled call tree: a box's width is its total wall time; colour = torch op, torch Python, ..."""
    if not ids:
        return _empty(title, "no samples recorded")
    locs = locations or [""] * len(ids)
    hover = [f"{lab}<br>{loc}<br>{v * 1e3:.1f} ms · {g}" for lab, loc, v, g in zip(labels, locs, values, groups)]
    fig = go.Figure(
        go.Icicle(
            ids=list(ids), labels=list(labels), parents=list(parents), values=[max(0.0, float(v)) for v in values],
            branchvalues="total", marker=dict(colors=[GROUP_COLOURS.get(g, "#A0A4B8") for g in groups]),
            hovertext=hover, hoverinfo="text", tiling=dict(orientation="v"), maxdepth=12,
        )
    )
    fig.update_layout(title=title, margin=dict(t=50, l=10, r=10, b=10), height=560)
    return fig


def share_bars(shares: Mapping[str, Mapping[str, float]], title: str = "Share of the time by kind") -> go.Figure:
    """Stacked horizontal bars: one bar per phase/run, one segment per kind (percent of that phase's time)."""
    if not shares:
        return _empty(title, "nothing measured")
    kinds: list[str] = []
    for s in shares.values():
        kinds.extend(k for k in s if k not in kinds)
    fig = go.Figure()
    names = list(shares)
    for kind in kinds:
        fig.add_trace(
            go.Bar(
                y=names, x=[100 * shares[n].get(kind, 0.0) for n in names], name=kind.replace("_", " "), orientation="h",
                marker_color=SHARE_COLOURS.get(kind, "#A0A4B8"), hovertemplate="%{y}: %{x:.1f}%<extra>" + kind + "</extra>",
            )
        )
    fig.update_layout(
        barmode="stack", title=title, xaxis=dict(title="% of the phase's time", range=[0, 100]), height=120 + 60 * len(names),
        margin=dict(t=50, l=10, r=10, b=40), legend=dict(orientation="h", y=-0.35),
    )
    return fig


def prompt_sweep_figure(
    lengths: Sequence[int], shares: Sequence[Mapping[str, float]], title: str = "Prefill share by kind vs prompt length"
) -> go.Figure:
    """One line per kind: its share of the prefill (percent) against the prompt length (log x)."""
    if len(lengths) < 2:
        return _empty(title, "sweep at least two prompt lengths")
    kinds: list[str] = []
    for s in shares:
        kinds.extend(k for k in s if k not in kinds)
    fig = go.Figure()
    for kind in kinds:
        fig.add_trace(
            go.Scatter(
                x=list(lengths), y=[100 * s.get(kind, 0.0) for s in shares], mode="lines+markers", name=kind.replace("_", " "),
                line=dict(color=SHARE_COLOURS.get(kind, "#A0A4B8")),
            )
        )
    fig.update_xaxes(type="log", title="prompt tokens")
    fig.update_yaxes(title="% of the prefill", rangemode="tozero")
    fig.update_layout(title=title, height=400, margin=dict(t=50, l=10, r=10, b=40), legend=dict(orientation="h", y=-0.25))
    return fig


def path_comparison_figure(
    modules: Sequence[str], fused_ms: Sequence[float], eager_ms: Sequence[float],
    title: str = "Attention time: fused vs explicit softmax",
) -> go.Figure:
    """Grouped horizontal bars, one pair per attention module (full dotted paths on the axis)."""
    if len(modules) == 0:
        return _empty(title, "no attention modules measured")
    fig = go.Figure()
    fig.add_trace(go.Bar(y=list(modules), x=list(fused_ms), name="fused (SDPA)", orientation="h", marker_color="#2E86AB"))
    fig.add_trace(go.Bar(y=list(modules), x=list(eager_ms), name="eager (maps returned)", orientation="h", marker_color="#E4572E"))
    fig.update_layout(
        barmode="group", title=title, xaxis_title="ms per step (median)", height=max(300, 40 * len(modules) + 140),
        margin=dict(t=50, l=10, r=10, b=40), yaxis=dict(automargin=True, autorange="reversed"), legend=dict(orientation="h", y=-0.2),
    )
    return fig
