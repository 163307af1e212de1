"""Eager vs fused attention on the same model, and the figures of the new profiler views."""

from __future__ import annotations

import torch

from explorer.figures import profiler as figs
from explorer.profiling import build_request
from explorer.profiling.paths import compare_attention_paths, compare_phase_paths
from explorer.profiling.phases import tiny_generator

TINY = dict(d_model=32, n_heads=2, n_layers=1, d_ff=64, batch_size=2, seq_len=16, warmup=0, active=2)


def test_the_same_model_both_ways_side_by_side():
    comparison = compare_attention_paths(build_request("transformer", **TINY))
    assert comparison.fused.request.attention_path == "fused" and comparison.eager.request.attention_path == "eager"
    frame = comparison.frame()
    attn = ["encoder.layers.0.self_attn", "decoder.layers.0.self_attn", "decoder.layers.0.cross_attn"]
    assert set(attn) <= set(frame["module"]) and "(model)" in set(frame["module"])
    assert (frame["fused ms"] > 0).all() and (frame["eager ms"] > 0).all()
    # the same matrix products either way
    assert comparison.fused.rows[0].flops == comparison.eager.rows[0].flops
    text = comparison.statement()
    fused_us, eager_us = comparison.attention_totals()
    assert f"{eager_us / 1e3:.2f} ms" in text and f"{fused_us / 1e3:.2f} ms" in text
    assert "4.0 KiB" in text  # one layer's maps: 4 bytes x batch 2 x 2 heads x 16 x 16
    fig = figs.path_comparison_figure(frame["module"], frame["fused ms"], frame["eager ms"])
    assert list(fig.data[0].y) == list(frame["module"])  # full dotted paths on the axis


def test_phase_paths_and_share_figures():
    gen = tiny_generator()
    comparison = compare_phase_paths(gen, torch.randint(0, 64, (1, 8)), 2, warmup=0, active=1)
    frame = comparison.frame()
    assert list(frame["phase"]) == ["prefill", "decode"] and (frame["eager attention ms"] > 0).all()
    shares = {"prefill": comparison.fused.prefill.category_shares(), "decode": comparison.fused.decode.category_shares()}
    fig = figs.share_bars(shares)
    assert {t.name for t in fig.data} >= {"attention", "mlp"}
    sweep = figs.prompt_sweep_figure([8, 16], [shares["prefill"], shares["prefill"]])
    assert len(sweep.data) == len(shares["prefill"])
