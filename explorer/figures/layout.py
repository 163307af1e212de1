"""Subplot layouts written as plain dicts, with ``make_subplots``' own arithmetic.

The figure builders write each figure as one dict and let ``go.Figure(spec)`` validate it once:
plotly's incremental calls (``make_subplots``, ``add_trace(row=, col=)``, ``update_xaxes``) re-walk
the whole figure on every call, which made the pages' figures the biggest part of a rerun. These
helpers give the same axis domains, shared axes and subplot titles as ``make_subplots``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Spec = dict[str, Any]  # a Plotly figure fragment: nested dicts and lists, checked by go.Figure


def subplot_grid(
    rows: int,
    cols: int,
    titles: Sequence[str],
    horizontal_spacing: float,
    vertical_spacing: float,
    share_x: bool,
    share_y: bool,
    title_font_size: int = 16,
) -> tuple[Spec, list[tuple[str, str]]]:
    """Axes and title annotations of a ``rows`` x ``cols`` grid, as ``make_subplots`` lays it out.

    Same arithmetic as plotly's ``make_subplots(start_cell="top-left")`` so the domains are the
    same floats: cell (r, c), counted from the top left, gets axes number ``r * cols + c + 1``.
    ``share_x`` makes every column follow its bottom cell's x axis (plotly's ``shared_xaxes=True``),
    ``share_y`` every row its first cell's y axis; followers hide their tick labels as plotly does.
    Returns the layout entries and each cell's ``(xaxis, yaxis)`` trace references, row by row.
    """
    widths = [(1.0 - horizontal_spacing * (cols - 1)) / cols] * cols
    heights = [(1.0 - vertical_spacing * (rows - 1)) / rows] * rows
    layout: Spec = {}
    refs: list[tuple[str, str]] = []
    annotations: list[Spec] = []
    for r in range(rows):
        k = rows - 1 - r  # plotly adds up the heights from the bottom row
        y_start = sum(heights[:k]) + k * vertical_spacing
        y_domain = [min(max(y_start, 0.0), 1.0), min(max(y_start + heights[k], 0.0), 1.0)]
        for c in range(cols):
            x_start = sum(widths[:c]) + c * horizontal_spacing
            x_domain = [x_start, x_start + widths[c]]
            n = r * cols + c + 1
            suffix = "" if n == 1 else str(n)
            xaxis: Spec = {"anchor": f"y{suffix}", "domain": x_domain}
            yaxis: Spec = {"anchor": f"x{suffix}", "domain": y_domain}
            if share_x and r < rows - 1:
                bottom = (rows - 1) * cols + c + 1
                xaxis.update(matches="x" if bottom == 1 else f"x{bottom}", showticklabels=False)
            if share_y and c > 0:
                first = r * cols + 1
                yaxis.update(matches="y" if first == 1 else f"y{first}", showticklabels=False)
            layout[f"xaxis{suffix}"] = xaxis
            layout[f"yaxis{suffix}"] = yaxis
            refs.append((f"x{suffix}", f"y{suffix}"))
            title = titles[r * cols + c] if r * cols + c < len(titles) else ""
            if title:
                annotations.append(
                    dict(text=title, x=sum(x_domain) / 2.0, y=y_domain[1], xref="paper", yref="paper",
                         xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=title_font_size))
                )
    if annotations:
        layout["annotations"] = annotations
    return layout, refs


def row_of_subplots(
    titles: Sequence[str], horizontal_spacing: float, share_y: bool = False
) -> tuple[Spec, list[tuple[str, str]]]:
    """A 1 x len(titles) grid: ``make_subplots(rows=1, cols=n, subplot_titles=..., shared_yaxes=share_y)``."""
    return subplot_grid(1, len(titles), titles, horizontal_spacing, 0.0, share_x=False, share_y=share_y)


# Plotly's toolbar (the modebar: camera, zoom, ...) floats over the top right corner of every chart,
# about 30 px high, and appears on hover and after a tap on a phone. At 390 px a title runs under it,
# so titles start below this band and the top margin makes room for both.
MODEBAR_BAND_PX = 34
TITLE_PX = 26  # one line of Streamlit's title font (16 px) with its leading
TITLE_LIFT_PX = 14
TITLE_CHARS = 44  # characters of that font that fit a phone's column with room to spare (about 7 px each)


def wrap_title(text: str, width: int = TITLE_CHARS) -> str:
    """Break a long title once (Plotly never wraps), at the space within ``width`` characters that
    leaves the two lines closest in length, so no word ("0" of "head 0") is left alone on line 2.

    About 49 characters of the title font fit a phone's 358 px column; a longer title ran off the chart."""
    if len(text) <= width or "<br>" in text:
        return text
    spaces = [i for i, char in enumerate(text[: width + 1]) if char == " " and i > 0]
    if not spaces:
        return text
    cut = min(spaces, key=lambda i: abs(i - (len(text) - i - 1)))
    return text[:cut] + "<br>" + text[cut + 1:]


def title_below_modebar(text: str, extra_top: int = 0) -> tuple[Spec, int]:
    """A title that starts below the modebar band, and the top margin (px) that holds both.

    ``extra_top`` adds room under the title for what sits above the plot (subplot titles, column
    headers). The title is pinned to the container's top (``yref="container"``), so its place does
    not depend on the margin, left-aligned, away from the modebar's corner, and wrapped onto a
    second line when it would not fit a phone (:func:`wrap_title`).
    """
    wrapped = wrap_title(text)
    extra_lines = wrapped.count("<br>")
    # Plotly lifts a multi-line title by about half a line per extra line (measured: 12 px in Chromium)
    # whatever its anchor, so the pad grows with it to keep the first line below the band.
    pad_top = MODEBAR_BAND_PX + TITLE_LIFT_PX * extra_lines
    title = dict(text=wrapped, x=0.0, xref="container", xanchor="left", y=1.0, yref="container", yanchor="top",
                 pad=dict(t=pad_top, l=4))
    return title, pad_top + TITLE_PX * (1 + extra_lines) + extra_top
