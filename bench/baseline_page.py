"""The page-cost floor: a Streamlit page that only draws one plain layers x heads heatmap grid.

Every explorer page at least shows attention-sized heatmaps; this page does nothing else
(no model, no tokens, no analysis), so "page time / baseline time" says what the explorer's
own work costs. Sizes come from query parameters: ``layers``, ``heads``, ``size``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots


def _int_param(name: str, default: int) -> int:
    try:
        return max(1, min(64, int(st.query_params.get(name, default))))
    except ValueError:
        return default


layers, heads, size = _int_param("layers", 3), _int_param("heads", 4), _int_param("size", 16)
rng = np.random.default_rng(0)
figure = make_subplots(rows=layers, cols=heads, horizontal_spacing=0.01, vertical_spacing=0.02)
for layer in range(layers):
    for head in range(heads):
        weights = rng.random((size, size))
        weights /= weights.sum(axis=1, keepdims=True)
        figure.add_trace(go.Heatmap(z=weights.round(3), coloraxis="coloraxis"), row=layer + 1, col=head + 1)
figure.update_layout(coloraxis={"colorscale": "Viridis"}, height=150 * layers)
st.plotly_chart(figure)
