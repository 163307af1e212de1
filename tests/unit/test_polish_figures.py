"""Figure conventions from issue 20: one colour convention (red positive) and no white sheet on the dark theme."""

from __future__ import annotations

import numpy as np
from plotly.colors import get_colorscale

from explorer.figures.vit import overview_figure, token_matrix_figure


def _end_colours(scale: object) -> tuple[str, str]:
    stops = get_colorscale(scale) if isinstance(scale, str) else [list(s) for s in scale]  # type: ignore[union-attr]
    return stops[0][1], stops[-1][1]


def _is_reddish(colour: str) -> bool:
    r, g, b = (int(v) for v in colour[colour.index("(") + 1:-1].split(",")[:3])
    return r > b


def test_patch_vectors_draw_positive_values_red_like_the_positional_encoding_page() -> None:
    fig = token_matrix_figure(np.array([[-1.0, 0.0, 1.0]]))
    low, high = _end_colours(fig.data[0].colorscale)
    assert _is_reddish(high) and not _is_reddish(low)


def test_layer_head_grid_has_no_opaque_background() -> None:
    """The gaps between tiles are NaN cells: an opaque plot background showed as a white sheet in dark mode."""
    fig = overview_figure(np.random.default_rng(0).random((2, 3, 4, 4)))
    for colour in (fig.layout.plot_bgcolor, fig.layout.paper_bgcolor):
        assert colour is not None and colour.replace(" ", "").endswith(",0)"), colour


def test_attention_heatmap_fills_its_column_with_square_ish_cells_and_readable_ticks() -> None:
    from explorer.figures.attention import COLUMN_PX, attention_heatmap

    labels = [str(i) for i in range(25)]
    fig = attention_heatmap(np.full((25, 25), 1 / 25), labels, labels, "map")
    assert fig.layout.width is None, "a fixed width left the projector column half empty"
    assert fig.layout.yaxis.scaleanchor is None, "square cells by shrinking the width left the map a third of its column"
    assert fig.layout.xaxis.tickfont.size >= 11 and fig.layout.yaxis.tickfont.size >= 11
    assert fig.layout.height >= 24 * 25
    short = attention_heatmap(np.full((4, 12), 1 / 12), labels[:4], labels[:12], "short")
    plot_height = short.layout.height - short.layout.margin.t - 30 - 7 * 4  # minus the title band and the key labels
    assert plot_height <= COLUMN_PX * 0.6, "a 4 x 12 map is wide and short, not a tall block"
    assert short.layout.height < fig.layout.height
