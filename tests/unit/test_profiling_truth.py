"""The profiler's numbers and sentences agree: sweep defaults reach the quadratic regime, captions compute
their claims, exports carry nested module ranges, memory is compared like with like and never counted twice."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import math
import zipfile

import numpy as np
import pytest

from explorer.profiling import build_request, profile_model
from explorer.profiling.captions import memory_statement, overhead_statement, scaling_statement
from explorer.profiling.scaling import (
    ScalingResult,
    closed_form_attention_exponent,
    default_sizes,
    fit_exponent_with_error,
    local_attention_exponent,
    scaling_sweep,
    sweep_request,
)

TINY = dict(d_model=32, n_heads=2, n_layers=1, d_ff=64, batch_size=2, seq_len=16, warmup=0, active=2)


@pytest.fixture(scope="module")
def tiny_result():
    return profile_model(build_request("transformer", **TINY))


# ------------------------------------------------------------------ sweep defaults and the scaling caption


@pytest.mark.parametrize("model,d_model,extra", [("transformer", 64, {}), ("transformer", 128, {}), ("vit", 64, {"patch_size": 4})])
def test_default_sweep_reaches_t_over_d_of_at_least_four_at_batch_one(model, d_model, extra):
    request = build_request(model, d_model=d_model, n_heads=4, **extra)
    sizes = default_sizes(request)
    swept = sweep_request(request)
    assert swept.batch_size == 1
    top = dataclasses.replace(swept, seq_len=sizes[-1]) if model == "transformer" else None
    tokens = top.tokens if top is not None else 1 + (sizes[-1] // 4) ** 2
    assert tokens >= 4 * d_model
    assert len(sizes) >= 4 and sizes == sorted(sizes)


def test_local_attention_exponent_is_one_plus_t_over_t_plus_2d():
    assert local_attention_exponent(64, 64) == pytest.approx(1 + 64 / 192)
    assert local_attention_exponent(512, 64) == pytest.approx(1.8)
    # the closed-form fit over doubling sizes lies between the local slopes at its ends
    tokens = [64, 128, 256, 512]
    k = closed_form_attention_exponent(tokens, 8 * 64 * 64, 64)
    assert local_attention_exponent(64, 64) < k < local_attention_exponent(512, 64)


def test_counted_attention_flops_follow_the_closed_form_exponent():
    request = build_request("transformer", d_model=16, n_heads=2, n_layers=1, d_ff=32, seq_len=16)
    # the default sweep's sizes and batch (1, up to T = 8 d_model), one active step to keep the test quick
    sweep = scaling_sweep(dataclasses.replace(sweep_request(request), warmup=0, active=2), default_sizes(request))
    assert sweep.batch_size == 1 and sweep.tokens[-1] == 128
    expected = closed_form_attention_exponent(sweep.tokens, sweep.attention_linear_per_token, sweep.d_model)
    assert sweep.flops_exponent["attention"] == pytest.approx(expected, abs=1e-6)
    assert sweep.flops_exponent["feed_forward"] == pytest.approx(1.0)
    assert all(len(v) == len(sweep.tokens) for v in sweep.time_spread.values())
    text = scaling_statement(sweep)
    assert f"T^{sweep.flops_exponent['attention']:.2f}" in text and f"T^{sweep.time_exponent['attention']:.2f}" in text


def test_fit_with_error_recovers_a_slope_and_grows_with_noise():
    x = [8, 16, 32, 64]
    clean = [[3 * t**1.5] * 5 for t in x]
    k, se = fit_exponent_with_error(x, clean, upper_half=False)
    assert k == pytest.approx(1.5) and se == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(0)
    noisy = [[3 * t**1.5 * math.exp(rng.normal(0, 0.8)) for _ in range(5)] for t in x]
    assert fit_exponent_with_error(x, noisy, upper_half=False)[1] > 0.1


def _sweep(tokens, time_k, se, d=64):
    return ScalingResult(
        sizes=tokens, tokens=tokens, time_us={"attention": [t**time_k for t in tokens]}, memory={}, flops={},
        time_exponent={"attention": time_k, "feed_forward": 1.0}, flops_exponent={"attention": 1.6, "feed_forward": 1.0},
        time_exponent_se={"attention": se}, d_model=d, attention_linear_per_token=8 * d * d,
    )


def test_scaling_caption_says_when_noise_hides_the_effect():
    assert "noise" in scaling_statement(_sweep([64, 128, 256, 512], 0.9, 0.4))
    assert "agree" in scaling_statement(_sweep([64, 128, 256, 512], 1.55, 0.03))
    assert "more slowly" in scaling_statement(_sweep([64, 128, 256, 512], 1.0, 0.03))
    short = scaling_statement(_sweep([8, 16, 32, 64], 1.0, 0.03))
    assert "stops at T = 1.0 d_model" in short


# ------------------------------------------------------------------ overhead and memory statements


def test_an_overhead_below_one_is_called_noise(tiny_result):
    faster = dataclasses.replace(tiny_result, wall_plain_s=[0.010, 0.011, 0.012, 0.010], wall_profiled_s=[0.008, 0.009, 0.0085, 0.0082])
    assert faster.overhead_ratio < 1
    assert "noise" in overhead_statement(faster)
    clear = dataclasses.replace(tiny_result, wall_plain_s=[0.010] * 4, wall_profiled_s=[0.020] * 4)
    assert "noise" not in overhead_statement(clear) and "x2.00" in overhead_statement(clear)


def test_estimated_and_measured_peak_compare_activations_with_activations(tiny_result):
    est = tiny_result.estimate
    assert est.resident_bytes == est.param_bytes  # forward: weights only
    assert est.activation_bytes == est.peak_bytes - est.param_bytes
    measured = tiny_result.rows[0].cpu_mem_peak
    assert 0 < measured <= est.activation_bytes  # the estimate is on the high side, and weights are out of both
    text = memory_statement(tiny_result)
    assert "weights excluded on both sides" in text


def test_train_estimate_counts_weights_and_gradients_as_resident():
    from explorer.profiling.estimate import estimate

    est = estimate(build_request("vit", mode="train", d_model=32, n_heads=2, n_layers=1, d_ff=64, image_size=16))
    assert est.resident_bytes == 2 * est.param_bytes and est.activation_bytes > 0


# ------------------------------------------------------------------ per-module net memory, counted once


def test_net_memory_of_called_modules_is_their_own_scope_not_plus_their_children(tiny_result):
    tl = tiny_result.timeline
    t, level = np.array(tl.t_ms), np.array(tl.bytes)
    checked = 0
    for path, _depth, start, end in tl.spans:
        i0, i1 = np.searchsorted(t, start, side="left"), np.searchsorted(t, end, side="right")
        expected = level[i1 - 1] - (level[i0 - 1] if i0 > 0 else 0.0)
        assert tiny_result.row(path).cpu_mem_net == pytest.approx(expected), path
        checked += 1
    assert checked > 10 and tiny_result.row("(model)").cpu_mem_net > 0


def test_net_memory_of_uncalled_containers_is_the_sum_of_their_children_once(tiny_result):
    containers = [r for r in tiny_result.rows if not r.called and tiny_result.children(r.path)]
    assert any(r.path == "encoder.layers" for r in containers)
    for row in containers:
        kids = sum(k.cpu_mem_net for k in tiny_result.children(row.path))
        assert row.cpu_mem_net == pytest.approx(kids), row.path
    assert any(r.cpu_mem_net != 0 for r in containers)


# ------------------------------------------------------------------ exports carry nested module ranges


def _enclosing(events, inner):
    return [
        e for e in events
        if e is not inner and e.get("tid") == inner.get("tid") and e["ts"] <= inner["ts"] and inner["ts"] + inner["dur"] <= e["ts"] + e["dur"]
    ]


def _check_nesting(trace):
    events = [e for e in trace["traceEvents"] if e.get("ph") == "X"]
    attn = [e for e in events if e.get("name", "").endswith("::encoder.layers.0.self_attn")]
    assert attn, "no range for encoder.layers.0.self_attn"
    scope = attn[0]
    assert scope.get("cat") == "user_annotation"
    inside = [e for e in events if e.get("cat") == "cpu_op" and scope in _enclosing(events, e)]
    names = {e["name"] for e in inside}
    assert any(n.startswith("aten::") for n in names) and "aten::linear" in names
    parents = {e["name"] for e in _enclosing(events, scope)}
    assert "module::encoder.layers.0" in parents and "module::(model)" in parents
    q_proj = [e for e in events if e.get("name") == "module::encoder.layers.0.self_attn.q_proj"]
    assert q_proj and scope in _enclosing(events, q_proj[0])


def test_chrome_trace_nests_module_ranges_around_their_aten_ops(tiny_result):
    _check_nesting(json.loads(gzip.decompress(tiny_result.chrome_trace_gz)))


def test_tensorboard_trace_nests_module_ranges_around_their_aten_ops(tiny_result):
    with zipfile.ZipFile(io.BytesIO(tiny_result.tensorboard_zip)) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".pt.trace.json"))
        _check_nesting(json.loads(zf.read(name)))


def test_eager_attention_path_runs_the_explicit_softmax():
    fused = profile_model(build_request("transformer", **TINY), keep_trace=False)
    eager = profile_model(build_request("transformer", attention_path="eager", **TINY), keep_trace=False)
    fused_ops = {e.name for e in fused.events}
    eager_ops = {e.name for e in eager.events}
    assert "aten::softmax" in eager_ops or "aten::_softmax" in eager_ops
    assert not any("scaled_dot_product" in n for n in eager_ops)
    assert any("scaled_dot_product" in n for n in fused_ops)
