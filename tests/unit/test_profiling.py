"""Unit tests of explorer.profiling: totals add up, FLOPs follow the convention, the tree is complete,
the lock serialises and always releases, bad input is refused with one line, exports and the CLI parse."""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import threading
import zipfile

import pytest
import torch

from explorer.models.attention import MultiHeadAttention
from explorer.models.blocks import FeedForward
from explorer.profiling import (
    ProfilingError,
    add_cli_arguments,
    build_request,
    diff_modules,
    diff_operators,
    fit_exponent,
    is_locked,
    linear_flops,
    module_table,
    operator_table,
    parse_sizes,
    profile_model,
    profiler_enabled,
    profiler_lock,
    run_cli,
    scaling_sweep,
    with_size,
)
from explorer.profiling import runner as runner_module
from explorer.profiling.estimate import check_budget, forward_flops, parameter_count
from explorer.profiling.request import build_model

TINY = dict(d_model=32, n_heads=2, n_layers=1, d_ff=64, batch_size=2, seq_len=16, warmup=0, active=2)
TINY_VIT = dict(d_model=32, n_heads=2, n_layers=2, d_ff=64, batch_size=2, image_size=16, patch_size=4, warmup=0, active=2)


@pytest.fixture(scope="module")
def tiny_result():
    return profile_model(build_request("transformer", **TINY))


@pytest.fixture(scope="module")
def tiny_train_result():
    return profile_model(build_request("vit", mode="train", **TINY_VIT))


# ------------------------------------------------------------------ per-module table


@pytest.mark.parametrize("which", ["tiny_result", "tiny_train_result"])
def test_children_totals_never_exceed_their_parent(which, request):
    result = request.getfixturevalue(which)
    by_path = {r.path: r for r in result.rows}
    for row in result.rows:
        kids = result.children(row.path)
        if kids:
            assert sum(k.total_us for k in kids) <= row.total_us * (1 + 1e-9) + 1e-6, row.path
        assert row.self_us >= 0
        if row.parent is not None:
            assert row.total_us <= by_path[row.parent].total_us * (1 + 1e-9) + 1e-6, row.path


def test_top_modules_sum_to_no_more_than_the_root(tiny_result):
    root = tiny_result.row("(model)")
    top = [r for r in tiny_result.rows if r.depth == 1]
    assert top and sum(r.total_us for r in top) <= root.total_us * (1 + 1e-9)
    # and the root is inside the profiler's step
    assert root.total_us <= tiny_result.step_mean_us * (1 + 1e-9)
    assert 0 < root.share <= 1.0 + 1e-9


def test_self_time_is_total_minus_child_modules(tiny_result):
    for row in tiny_result.rows:
        kids = tiny_result.children(row.path)
        if row.called and kids:
            expected = max(0.0, row.total_us - sum(k.total_us for k in kids))
            assert row.self_us == pytest.approx(expected, abs=1e-6)


def test_tree_contains_every_attention_and_feed_forward_module(tiny_result, tiny_train_result):
    for result in (tiny_result, tiny_train_result):
        model = build_model(result.request)
        wanted = [name for name, m in model.named_modules() if isinstance(m, (MultiHeadAttention, FeedForward))]
        rows = {r.path: r for r in result.rows}
        assert wanted
        for name in wanted:
            assert name in rows, name
            assert rows[name].called and rows[name].total_us > 0 and rows[name].calls == 1
            assert rows[name].category in ("attention", "feed_forward")


def test_train_mode_has_a_backward_row_with_about_twice_the_forward_flops(tiny_train_result):
    backward = tiny_train_result.row("[backward]")
    forward = tiny_train_result.row("(model)")
    assert backward.total_us > 0 and backward.parent is None
    assert 1.5 * forward.flops <= backward.flops <= 2.5 * forward.flops


def test_shapes_and_parameters_are_recorded(tiny_result):
    q = tiny_result.row("encoder.layers.0.self_attn.q_proj")
    assert q.input_shapes == "(2, 16, 32)" and q.output_shapes == "(2, 16, 32)"
    assert q.params == 32 * 32 + 32
    assert tiny_result.row("(model)").params == sum(p.numel() for p in build_model(tiny_result.request).parameters())


def test_memory_peaks_are_never_negative_and_a_timeline_exists(tiny_result):
    assert all(r.cpu_mem_peak >= 0 for r in tiny_result.rows)
    assert tiny_result.row("(model)").cpu_mem_peak > 0
    assert len(tiny_result.timeline.t_ms) >= 3
    assert tiny_result.timeline.spans


# ------------------------------------------------------------------ FLOPs


def test_linear_flops_are_two_times_in_times_out_times_tokens(tiny_result):
    tokens = 2 * 16
    cfg = tiny_result.request.config
    assert tiny_result.row("encoder.layers.0.feed_forward.linear1").flops == 2 * 32 * 64 * tokens
    assert tiny_result.row("generator").flops == linear_flops(32, cfg.tgt_vocab_size, tokens)
    assert linear_flops(3, 5, 7) == 210


def test_attention_flops_include_the_quadratic_products(tiny_result):
    attn = tiny_result.row("encoder.layers.0.self_attn")
    projections = 4 * linear_flops(32, 32, 2 * 16)
    products = 2 * 2 * 2 * 16 * 16 * 32  # 2 products x 2 FLOPs x B x T x T x d_model (heads x d_head)
    assert attn.flops == projections + products


@pytest.mark.parametrize(
    "model,kwargs",
    [
        ("transformer", dict(d_model=32, n_heads=4, n_kv_heads=2, n_layers=1, d_ff=48, activation="swiglu", seq_len=12)),
        ("transformer", dict(d_model=32, n_heads=2, n_layers=2, d_ff=64, positions="learned", norm_first=True, seq_len=8)),
        ("vit", dict(d_model=32, n_heads=2, n_layers=1, d_ff=64, image_size=16, patch_size=4)),
    ],
)
def test_estimate_formulas_match_the_counted_flops_and_parameters(model, kwargs):
    request = build_request(model, batch_size=2, warmup=0, active=1, **kwargs)
    result = profile_model(request, keep_trace=False, measure_overhead=False)
    size = request.seq_len if model == "transformer" else request.image_size
    assert forward_flops(request.config, 2, size) == result.row("(model)").flops
    assert parameter_count(request.config) == result.row("(model)").params


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(active=0), "active steps is 0"),
        (dict(d_model=30, n_heads=4), "divisible"),
        (dict(model="vit", image_size=30), "multiple of the patch"),
        (dict(batch_size=0), "batch size"),
        (dict(mode="sideways"), "mode must be"),
        (dict(model="rnn"), "model must be"),
    ],
)
def test_bad_requests_are_refused_with_one_line(kwargs, needle):
    with pytest.raises(ProfilingError) as info:
        build_request(**kwargs)
    assert needle in str(info.value) and "\n" not in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused():
    with pytest.raises(ProfilingError, match="no CUDA"):
        build_request(device="cuda")


def test_oversized_configs_are_refused_with_the_estimate_before_running():
    request = build_request(d_model=2048, n_heads=16, n_layers=24, d_ff=8192, seq_len=4096, batch_size=64)
    with pytest.raises(ProfilingError, match="estimated") as info:
        profile_model(request)
    assert "GiB" in str(info.value) or " s " in str(info.value)
    slow = build_request(d_model=256, n_heads=4, n_layers=4, d_ff=1024, seq_len=512, batch_size=16, active=50)
    with pytest.raises(ProfilingError, match="estimated"):
        check_budget(slow, max_seconds=0.01)


def test_out_of_memory_is_reported_and_releases_the_lock(monkeypatch):
    def boom(device):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")

    monkeypatch.setattr(runner_module, "_sync", boom)
    with pytest.raises(ProfilingError, match="out of memory"):
        profile_model(build_request(**TINY), measure_overhead=False)
    assert not is_locked() and not profiler_enabled()


# ------------------------------------------------------------------ the lock


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
def test_eight_threads_profiling_at_once_all_succeed():
    results: list[object] = []
    errors: list[BaseException] = []
    waited: list[str] = []

    def work(seed: int) -> None:
        try:
            request = build_request("vit", seed=seed, **TINY_VIT)
            results.append(profile_model(request, keep_trace=False, measure_overhead=False, on_wait=waited.append))
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert len(results) == 8
    assert all(r.row("(model)").total_us > 0 for r in results)
    assert not is_locked() and not profiler_enabled()


def test_an_exception_inside_a_run_releases_the_lock_and_the_profiler(monkeypatch):
    calls = {"n": 0}

    def fail_on_second(device):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("injected failure in the middle of a profiled run")

    monkeypatch.setattr(runner_module, "_sync", fail_on_second)
    with pytest.raises(RuntimeError, match="injected"):
        profile_model(build_request(**TINY), measure_overhead=False)
    assert not is_locked()
    assert not profiler_enabled()
    monkeypatch.undo()
    assert profile_model(build_request(**TINY), keep_trace=False).row("(model)").total_us > 0


def test_an_exception_inside_the_lock_context_releases_it():
    with pytest.raises(ValueError), profiler_lock():
        assert is_locked()
        raise ValueError("boom")
    assert not is_locked()


def test_a_second_caller_is_told_it_waits():
    messages: list[str] = []
    done = threading.Event()

    def second() -> None:
        with profiler_lock(on_wait=messages.append):
            done.set()

    with profiler_lock(what="test holder"):
        worker = threading.Thread(target=second)
        worker.start()
        for _ in range(200):
            if messages:
                break
            threading.Event().wait(0.01)
        assert messages and "waiting for another session's profiler run" in messages[0]
        assert not done.is_set()
    worker.join(timeout=10)
    assert done.is_set() and not is_locked()


# ------------------------------------------------------------------ operators, diff, scaling, exports


def test_operator_table_options(tiny_result):
    table = operator_table(tiny_result, sort_by="self_cpu_us", limit=5)
    assert len(table) == 5
    assert list(table["self_cpu_us"]) == sorted(table["self_cpu_us"], reverse=True)
    assert not any(n.startswith("module::") for n in operator_table(tiny_result, limit=None)["name"])
    by_calls = operator_table(tiny_result, sort_by="calls", limit=None)
    assert list(by_calls["calls"]) == sorted(by_calls["calls"], reverse=True)
    shaped = operator_table(tiny_result, limit=None, group_by_input_shape=True)
    assert len(shaped) >= len(by_calls) and shaped["input_shapes"].astype(bool).any()
    top = set(operator_table(tiny_result, limit=None, top_level_only=True)["name"])
    every = set(by_calls["name"])
    assert "aten::linear" in top and "aten::addmm" in every and "aten::addmm" not in top
    with pytest.raises(ValueError):
        operator_table(tiny_result, sort_by="nonsense")


def test_diff_matches_modules_and_operators(tiny_result):
    bigger = profile_model(build_request("transformer", **{**TINY, "batch_size": 4}), keep_trace=False)
    modules = diff_modules(tiny_result, bigger)
    assert set(modules["path"]) == {r.path for r in bigger.rows}
    row = modules.set_index("path").loc["generator"]
    assert row["delta_total_us"] == pytest.approx(row["cur_total_us"] - row["base_total_us"])
    assert row["delta_flops"] == pytest.approx(row["base_flops"])  # twice the batch, twice the FLOPs
    ops = diff_operators(tiny_result, bigger)
    assert "aten::addmm" in set(ops["name"])
    assert list(ops["delta_self_us"].abs()) == sorted(ops["delta_self_us"].abs(), reverse=True)


def test_fit_exponent_recovers_known_slopes():
    x = [8, 16, 32, 64, 128]
    assert fit_exponent(x, [3 * v**2 for v in x]) == pytest.approx(2.0)
    assert fit_exponent(x, [5 * v for v in x]) == pytest.approx(1.0)
    assert fit_exponent([1], [1]) != fit_exponent([1], [1])  # NaN with one point


def test_parse_sizes():
    assert parse_sizes("32, 16 ,64") == [16, 32, 64]
    for bad in ("", "16", "a, b", "0, 4"):
        with pytest.raises(ProfilingError):
            parse_sizes(bad)


def test_scaling_sweep_flops_are_linear_for_feed_forward_and_superlinear_for_attention():
    request = build_request("transformer", **{**TINY, "active": 1})
    sweep = scaling_sweep(request, [8, 16, 32])
    assert sweep.tokens == [8, 16, 32]
    assert sweep.flops_exponent["feed_forward"] == pytest.approx(1.0)
    assert 1.0 < sweep.flops_exponent["attention"] < 2.0
    assert all(v > 0 for v in sweep.time_us["attention"]) and all(v > 0 for v in sweep.time_us["feed_forward"])
    vit = with_size(build_request("vit", **TINY_VIT), 32)
    assert vit.tokens == 1 + 8 * 8


def test_exports_open_as_chrome_trace_and_tensorboard_dir(tiny_result):
    trace = json.loads(gzip.decompress(tiny_result.chrome_trace_gz))
    names = {e.get("name") for e in trace["traceEvents"]}
    assert "module::(model)" in names and "module::encoder.layers.0.self_attn" in names
    with zipfile.ZipFile(io.BytesIO(tiny_result.tensorboard_zip)) as zf:
        members = zf.namelist()
    assert members and all(m.startswith("profiler_trace/") and m.endswith(".pt.trace.json") for m in members)


def test_module_table_depth_control(tiny_result):
    shallow = module_table(tiny_result, max_depth=1)
    assert set(shallow["depth"]) == {0, 1}
    assert len(module_table(tiny_result)) > len(shallow)


def test_a_shared_model_is_never_touched(monkeypatch):
    zoo = pytest.importorskip("explorer.zoo")
    entry = zoo.load_model("shapes")
    model = entry.model
    before = {n: (m.training, dict(m.__dict__.get("_forward_hooks", {})), "forward" in m.__dict__) for n, m in model.named_modules()}
    grads = [p.requires_grad for p in model.parameters()]
    request = build_request("vit", trained=True, mode="train", batch_size=2, image_size=entry.config.image_size, warmup=0, active=1)
    profile_model(request, keep_trace=False)
    after = {n: (m.training, dict(m.__dict__.get("_forward_hooks", {})), "forward" in m.__dict__) for n, m in model.named_modules()}
    assert before == after
    assert grads == [p.requires_grad for p in model.parameters()]
    assert all(p.grad is None for p in model.parameters())


# ------------------------------------------------------------------ CLI


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    return parser.parse_args(list(argv))


TINY_ARGS = ("--d-model", "32", "--heads", "2", "--layers", "1", "--d-ff", "64", "--batch", "2", "--seq-len", "8", "--warmup", "0", "--active", "1")


def test_cli_csv_parses(capsys):
    assert run_cli(_args(*TINY_ARGS, "--format", "csv")) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    paths = {r["path"] for r in rows}
    assert "(model)" in paths and "encoder.layers.0.self_attn" in paths
    assert all(float(r["total_us"]) >= 0 for r in rows)


def test_cli_json_parses(capsys):
    assert run_cli(_args("--model", "vit", "--d-model", "32", "--heads", "2", "--layers", "1", "--d-ff", "64",
                         "--batch", "2", "--image-size", "16", "--active", "1", "--depth", "2", "--format", "json")) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["summary"]["flop_convention"].startswith("one multiply-add = 2 FLOPs")
    assert {m["path"] for m in payload["modules"]} >= {"(model)", "patch_embed", "layers.0"}
    assert max(m["depth"] for m in payload["modules"]) == 2


def test_cli_table_prints_modules_and_operators(capsys):
    assert run_cli(_args(*TINY_ARGS, "--operators", "3")) == 0
    out = capsys.readouterr().out
    assert "(model)" in out and "self_attn" in out and "operator" in out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (("--active", "0"), "active steps is 0"),
        (("--d-model", "30", "--heads", "4"), "divisible"),
        (("--depth", "-1"), "depth"),
        (("--d-model", "4096", "--layers", "48", "--seq-len", "8192", "--batch", "64"), "refused"),
    ],
)
def test_cli_bad_input_is_one_line_on_stderr(capsys, argv, needle):
    assert run_cli(_args(*argv)) != 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip() and not line.startswith("USDT")]
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("error:")
    assert captured.out == ""


@pytest.mark.slow  # trains or starts a Python process: full lane only (test.sh)
def test_cli_through_python_dash_m_explorer():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "profile", *TINY_ARGS, "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["modules"][0]["path"] == "(model)"
