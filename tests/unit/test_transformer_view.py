"""The Transformer page's view layer: the URL schema sized by the model, value-weighted attention's
per-head shares (Kobayashi et al. 2020), and the training scrubber's side panel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.analysis.stepwise import attention_module, translate_and_record
from explorer.inputs.params import parse_param
from explorer.models.marian import MarianConfig
from explorer.views import transformer as tfv
from explorer.zoo import load_model


@pytest.fixture(scope="module")
def dates():  # ZooModel
    return load_model("dates")


def test_url_schema_follows_the_models_layer_and_head_counts(dates) -> None:
    small = tfv.url_schema(tfv.dates_shape(dates.config))
    marian = MarianConfig()
    big = tfv.url_schema(tfv.ModelShape(marian.n_encoder_layers, marian.n_decoder_layers, marian.n_heads, 320))
    assert small["tf_layer"].maximum == dates.config.n_encoder_layers - 1 == 1
    assert small["tf_head"].maximum == dates.config.n_heads - 1 == 3
    assert big["tf_layer"].maximum == 5 and big["tf_head"].maximum == 7 and big["tf_align_head"].choices[-1] == "7"
    assert "tf_step" not in small and "tf_vw" in small
    with_steps = tfv.url_schema(tfv.dates_shape(dates.config), tfv.step_choices((0, 25, 1500)))
    assert parse_param("25", with_steps["tf_step"]) == "25" and parse_param(tfv.SHIPPED_STEP, with_steps["tf_step"]) == tfv.SHIPPED_STEP
    for bad in ("7", "-1", "1500.0", "<b>x</b>"):
        with pytest.raises(ValueError):
            parse_param(bad, with_steps["tf_step"])


def test_chosen_model_prefers_the_widget_then_the_link_then_the_default() -> None:
    default = next(iter(tfv.model_choices()))
    assert tfv.chosen_model("trained", "pt-en") == "trained"
    assert tfv.chosen_model(None, "pt-en") == "pt-en"
    assert tfv.chosen_model(None, "gpt") == default == "en-pt"


def test_sink_shares_are_the_hand_computed_percentages() -> None:
    # One head, two queries, three keys: key 2 takes most weight but carries the shortest value vector.
    weights = np.array([[[0.2, 0.2, 0.6], [0.1, 0.3, 0.6]]])
    norms = np.array([[2.0, 2.0, 0.5]])
    weighted = weights * norms[:, None, :]
    table, caption = tfv.sink_shares(weights, weighted, ["a", "b", "c"])
    # Row shares of the norm to key 2: 0.3 / (0.4 + 0.4 + 0.3) and 0.3 / (0.2 + 0.6 + 0.3), then their mean.
    norm_to_sink = 100 * (0.3 / 1.1 + 0.3 / 1.1) / 2
    norm_to_first = 100 * (0.4 / 1.1 + 0.2 / 1.1) / 2
    assert table["weight → 2:c (%)"][0] == pytest.approx(60.0)
    assert table["‖αf‖ → 2:c (%)"][0] == pytest.approx(round(norm_to_sink, 1))
    assert table["weight → 0:a (%)"][0] == pytest.approx(15.0)
    assert table["‖αf‖ → 0:a (%)"][0] == pytest.approx(round(norm_to_first, 1))
    assert "'c' (position 2)" in caption and "60%" in caption and "27%" in caption and "a sink" in caption


def test_value_weighted_maps_bound_each_heads_real_output(dates) -> None:
    """Triangle inequality: ||sum_j alpha_ij f(x_j)|| (the head's real output through W_O) <= sum_j ||alpha_ij f(x_j)||."""
    run = translate_and_record(dates.model, dates.tokenizer, "26 Nov 2026").attention
    kind, layer = "decoder_cross", 1
    module = attention_module(dates.model, kind, layer)
    weighted = tfv.value_weighted_maps(run.maps[kind], run.inputs[kind], lambda i: attention_module(dates.model, kind, i))
    assert weighted.shape == run.maps[kind].shape and (weighted >= 0).all()
    x_q, x_kv = run.inputs[kind][layer]
    with torch.no_grad():
        _, _, v = module.project(torch.as_tensor(x_q)[None], torch.as_tensor(x_kv)[None])  # (1, H, Tk, dh)
    w_o = module.out_proj.weight.detach().numpy()  # (D, H * dh)
    n_heads, d_head = v.shape[1], v.shape[-1]
    for head in range(n_heads):
        block = w_o[:, head * d_head : (head + 1) * d_head]  # (D, dh)
        real = (run.maps[kind][layer, head] @ v[0, head].numpy()) @ block.T  # (Tq, D)
        assert (np.linalg.norm(real, axis=-1) <= weighted[layer, head].sum(-1) + 1e-4).all()


def test_value_weighted_view_labels_its_maps_as_norms(dates) -> None:
    """With value weighting on, the heatmap and the overview say what their cells hold (‖αf‖), not "weight"."""
    text = "26 Nov 2026"
    run = translate_and_record(dates.model, dates.tokenizer, text)
    counts = tfv.layer_counts(dates.config)
    for weighted, label in ((False, "weight"), (True, tfv.VALUE_LABEL)):
        settings = tfv.AttentionSettings("trained", text, 0, 5, "cross", 1, 0, "single", value_weighted=weighted)
        view = tfv.attention_view(run, dates.tokenizer.unk_id, counts, settings, dates.model)
        assert view.heatmap.data[0].colorbar.title.text == label
        assert view.overview.layout.coloraxis.colorbar.title.text == label
        assert f"{label} %{{z:.3f}}" in view.heatmap.data[0].hovertemplate


def test_training_panel_marks_the_chosen_step_and_quotes_the_sidecar() -> None:
    from explorer.lab.snapshots import load_snapshots

    snaps = load_snapshots()
    step = snaps.steps[4]
    panel = tfv.training_panel(snaps, step)
    for figure in (panel.loss, panel.metrics):
        assert [shape.x0 for shape in figure.layout.shapes] == [step]
    assert f"{snaps.metrics[4]['heldout_accuracy']:.1%}" in panel.summary
    assert "seed" in panel.provenance
    with pytest.raises(ValueError, match="no snapshot at step 7"):
        tfv.training_panel(snaps, 7)
