"""Attention figure builders: pure functions, arrays and labels in, small Plotly figures out."""

from __future__ import annotations

import json

import numpy as np
import plotly.io as pio
import pytest

from explorer.analysis.stepwise import scaled_dot_product_steps
from explorer.figures.attention import (
    attention_heatmap,
    attention_overview,
    axis_labels,
    entropy_heatmap,
    stepwise_figure,
)


def _spec(fig) -> dict:
    return json.loads(pio.to_json(fig, validate=False))


def test_heatmap_labels_are_unique_and_hover_names_query_key_weight() -> None:
    w = np.array([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    fig = attention_heatmap(w, ["2", "2"], ["0", "0", "1"], "t")
    trace = fig.data[0]
    assert list(trace.y) == ["0:2", "1:2"]  # repeated characters stay separate rows
    assert list(trace.x) == ["0:0", "1:0", "2:1"]
    assert "query" in trace.hovertemplate and "key" in trace.hovertemplate and "weight" in trace.hovertemplate
    np.testing.assert_allclose(np.asarray(trace.z), w, atol=1e-7)
    assert fig.layout.yaxis.autorange == "reversed"  # first query on top
    with pytest.raises(ValueError, match="does not match"):
        attention_heatmap(w, ["a"], ["x", "y", "z"], "t")


def test_overview_is_one_figure_with_one_shared_colour_scale() -> None:
    maps = np.random.default_rng(0).random((2, 4, 3, 5))
    fig = attention_overview(maps, list("abc"), list("vwxyz"), "overview")
    assert len(fig.data) == 8
    assert {t.coloraxis for t in fig.data} == {"coloraxis"}
    assert fig.layout.coloraxis.cmin == 0.0
    assert fig.layout.coloraxis.cmax == pytest.approx(float(maps.max()), rel=1e-6)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["head 0", "head 1", "head 2", "head 3", "layer 0", "layer 1"], "heads named once above, layers once left"
    with pytest.raises(ValueError):
        attention_overview(maps[0], list("abc"), list("vwxyz"), "bad")


def test_figures_stay_small_at_maximum_length() -> None:
    n = 64
    maps = np.random.default_rng(0).random((2, 4, n, n))
    labels = [f"c{i}" for i in range(n)]
    assert len(pio.to_json(attention_overview(maps, labels, labels, "o"), validate=False)) < 250_000
    assert len(pio.to_json(attention_heatmap(maps[0, 0], labels, labels, "h"), validate=False)) < 50_000
    layout = _spec(attention_heatmap(maps[0, 0], labels, labels, "h"))["layout"]
    assert len(json.dumps(layout.get("template", {}))) < 200  # no 8 KB default template per chart


def test_entropy_heatmap_marks_the_selected_head() -> None:
    ent = np.array([[0.1, 0.9], [0.5, 0.3]])
    fig = entropy_heatmap(ent, "e", selected=(1, 0))
    assert len(fig.layout.shapes) == 1
    shape = fig.layout.shapes[0]
    assert (shape.x0, shape.y0) == (-0.5, 0.5)
    assert list(fig.data[0].text.ravel()) == ["0.1", "0.9", "0.5", "0.3"]
    assert len(entropy_heatmap(ent, "e", selected=(5, 5)).layout.shapes) == 0


def test_stepwise_figure_shows_masked_keys_and_the_mistake() -> None:
    keep = np.tril(np.ones((3, 3), dtype=bool))
    rng = np.random.default_rng(1)
    steps = scaled_dot_product_steps(rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), keep)
    fig = stepwise_figure(steps, 0, list("abc"), show_mistake=False)
    assert len(fig.data) == 2
    assert list(fig.data[0].text)[1:] == ["-inf", "-inf"]
    wrong = stepwise_figure(steps, 0, list("abc"), show_mistake=True)
    assert len(wrong.data) == 3
    np.testing.assert_allclose(np.asarray(wrong.data[2].y), steps.wrong_weights[0], atol=1e-6)
    assert np.asarray(wrong.data[2].y)[1:].sum() > 0  # the leak is visible
    with pytest.raises(ValueError):
        stepwise_figure(steps, 5, list("abc"))


def test_labels_are_escaped_so_plotly_never_reads_tags() -> None:
    assert axis_labels(["<s>", "<a href='x'>", "&"]) == ["0:&lt;s&gt;", "1:&lt;a href='x'&gt;", "2:&amp;"]
    w = np.full((1, 1), 1.0)
    fig = attention_heatmap(w, ["<b>"], ["</s>"], "t")
    assert "<" not in "".join(fig.data[0].x) + "".join(fig.data[0].y)
    keep = np.ones((1, 1), dtype=bool)
    steps = scaled_dot_product_steps(np.ones((1, 2)), np.ones((1, 2)), np.ones((1, 2)), keep)
    assert stepwise_figure(steps, 0, ["<i>"], query_label="<s>").layout.title.text == "Query 0:&lt;s&gt;: scores and weights"


@pytest.mark.parametrize("shape", [(1, 1), (2, 4), (4, 8)])
def test_overview_has_a_titled_panel_per_head_on_one_colour_axis(shape: tuple[int, int]) -> None:
    maps = np.random.default_rng(2).random((*shape, 3, 5))
    spec = _spec(attention_overview(maps, ["<s>", "a", "a"], list("vwxyz"), "o"))
    n_layers, n_heads = shape
    assert len(spec["data"]) == n_layers * n_heads and {t["coloraxis"] for t in spec["data"]} == {"coloraxis"}
    heads = [str(h) for h in range(n_heads)] if n_heads > 4 else [f"head {h}" for h in range(n_heads)]
    expected = heads + [f"layer {l}" for l in range(n_layers)] + (["head"] if n_heads > 4 else [])
    assert [a["text"] for a in spec["layout"]["annotations"]] == expected, "one header per column and per row, not per panel"
    axes = [k for k in spec["layout"] if k.startswith(("xaxis", "yaxis"))]
    assert axes == ["xaxis", "yaxis"] and spec["layout"]["yaxis"]["scaleanchor"] == "x", "one pair of axes, square cells"
    assert spec["data"][0]["y"] == ["layer 0 · 0:&lt;s&gt;", "layer 0 · 1:a", "layer 0 · 2:a"], "labels escaped and kept apart"
    assert spec["data"][-1]["x"][0] == f"head {n_heads - 1} · 0:v", "a key's label names its head (categories are unique per axis)"
    order = spec["layout"]["xaxis"]["categoryarray"]
    assert len(order) == len(set(order)) == n_heads * 6 - 1, "every panel's keys, one gap between panels, no duplicates"
    assert spec["layout"]["height"] <= 1400, "size capped however many layers"


@pytest.mark.parametrize("show_mistake", [False, True])
def test_stepwise_draws_masked_keys_as_masked(show_mistake: bool) -> None:
    keep = np.tril(np.ones((3, 3), dtype=bool))
    rng = np.random.default_rng(3)
    steps = scaled_dot_product_steps(rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), keep)
    spec = _spec(stepwise_figure(steps, 1, ["<s>", "b", "c"], show_mistake=show_mistake, query_label="b"))
    scores = spec["data"][0]
    assert scores["marker"]["color"] == ["#1f77b4", "#1f77b4", "#bbbbbb"], "the hidden key is grey"
    assert scores["text"][2] == ("0 (wrong)" if show_mistake else "-inf")
    assert spec["layout"]["yaxis2"]["range"] == [0, 1.05]
    assert len(spec["data"]) == (3 if show_mistake else 2)


def test_heatmap_entropy_and_matrix_keep_their_layout() -> None:
    """Spot checks of the dict-built single heatmaps: titles, scales, axis titles and the selection box."""
    w = np.array([[0.25, 0.75], [1.0, 0.0]])
    heat = _spec(attention_heatmap(w, ["<s>", "x"], ["a", "b"], "T"))
    assert heat["layout"]["xaxis"]["title"]["text"] == "key token" and heat["layout"]["yaxis"]["title"]["text"] == "query token"
    assert heat["layout"]["xaxis"]["tickangle"] == -90 and heat["layout"]["title"]["text"] == "T"
    assert heat["data"][0]["colorbar"]["title"]["text"] == "weight" and heat["data"][0]["zmax"] == 1.0
    assert heat["layout"]["template"] == {"data": {"scatter": [{"type": "scatter"}]}}  # the empty template: Streamlit's theme styles it
    ent = _spec(entropy_heatmap(np.array([[0.2, 0.4]]), "E", selected=(0, 1), normalised=False))
    assert ent["data"][0]["colorbar"]["title"]["text"] == "entropy" and "zmax" not in ent["data"][0]
    assert ent["layout"]["shapes"][0]["x0"] == 0.5 and ent["layout"]["shapes"][0]["line"]["color"] == "red"
    fig = attention_heatmap(w, ["a", "b"], ["c", "d"], "t")
    with pytest.raises(ValueError):  # a validated figure, not one built with plotly's _validate=False
        fig.data[0].colorscale = "no such scale"


def test_titles_sit_below_the_modebar_and_long_ones_wrap_for_a_phone() -> None:
    from explorer.figures.layout import MODEBAR_BAND_PX, TITLE_CHARS, wrap_title

    w = np.full((2, 2), 0.5)
    short = _spec(attention_heatmap(w, ["a", "b"], ["c", "d"], "short"))
    long_title = "layer 16 · head 0 on the prompt: attention weights α"
    wrapped = _spec(attention_heatmap(w, ["a", "b"], ["c", "d"], long_title))
    assert short["layout"]["title"]["pad"]["t"] >= MODEBAR_BAND_PX and short["layout"]["title"]["yref"] == "container"
    first, second = wrapped["layout"]["title"]["text"].split("<br>")
    assert len(first) <= TITLE_CHARS and f"{first} {second}" == long_title, "broken once, at a space, nothing lost"
    assert wrapped["layout"]["margin"]["t"] > short["layout"]["margin"]["t"], "room for the second line"
    first, second = wrap_title("‖αf‖ Encoder self-attention · layer 0 · head 0").split("<br>")
    assert len(second) >= 8, "balanced: no lone word left on the second line"


def test_value_label_names_the_cells_on_the_colour_bar_and_in_the_hover() -> None:
    """A value-weighted map holds norms, not weights: the caller's label replaces "weight", escaped for Plotly."""
    w = np.full((2, 2), 0.5)
    heat = _spec(attention_heatmap(w, ["a", "b"], ["c", "d"], "t", value_label="‖αf‖ <share>"))
    over = _spec(attention_overview(w[None, None], ["a", "b"], ["c", "d"], "o", value_label="‖αf‖ <share>"))
    for bar, hover in ((heat["data"][0]["colorbar"], heat["data"][0]["hovertemplate"]),
                       (over["layout"]["coloraxis"]["colorbar"], over["data"][0]["hovertemplate"])):
        assert bar["title"]["text"] == "‖αf‖ &lt;share&gt;"
        assert "‖αf‖ &lt;share&gt; %{z:.3f}" in hover and "weight" not in hover
    plain = _spec(attention_overview(w[None, None], ["a", "b"], ["c", "d"], "o"))
    assert plain["layout"]["coloraxis"]["colorbar"]["title"]["text"] == "weight" and "weight %{z" in plain["data"][0]["hovertemplate"]
