"""AppTest runs of the profiler page: defaults, bad input, diff, scaling, operator options, the lock's wait, URLs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from apptools import chart_titles, frame_with
from streamlit.testing.v1 import AppTest

from explorer.profiling import is_locked, profiler_lock
from explorer.profiling.lock import waiting_count
from explorer.profiling.shared import RECENT_RUNS

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(prof_d_model="32", prof_heads="2", prof_layers="1", prof_d_ff="64", prof_batch="2", prof_seq_len="16", prof_warmup="0", prof_active="2")


@pytest.fixture(autouse=True)
def _no_shared_results() -> None:
    """Each test measures for itself: results shared between sessions (one process) are dropped first."""
    RECENT_RUNS.clear()


def _button(at: AppTest, label: str):  # a Button element
    for button in at.button:
        if button.label == label:
            return button
    raise AssertionError(f"no button {label!r}")


def _open(at: AppTest, tab: str) -> AppTest:
    """Switch tabs the way a click does (the tab bar is a keyed widget; only the open tab renders)."""
    at.session_state["prof_tab"] = tab
    return at.run()


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_defaults_profile_and_render_tables_and_charts(open_page: Callable[..., AppTest]) -> None:
    at = open_page("profiler")
    _clean(at)
    labels = {m.label: m.value for m in at.metric}
    assert "profiler overhead" in labels and labels["profiler overhead"].startswith("x")
    modules = frame_with(at, "self ms")
    names = [n.strip("\u2003") for n in modules["module"]]
    assert names[0] == "(model)" and "self_attn" in names and "feed_forward" in names
    assert (modules["total ms"] >= modules["self ms"] - 1e-9).all()
    assert not at.get("plotly_chart")  # closed tabs are not rendered

    _open(at, "Operators")
    _clean(at)
    ops = frame_with(at, "self CPU ms")
    assert len(ops) == 20 and "aten::addmm" in set(ops["operator"])

    _open(at, "Pictures")
    _clean(at)
    titles = chart_titles(at)
    assert any("time goes" in t for t in titles)
    assert any("Top modules" in t for t in titles)
    assert any("Memory during one step" in t for t in titles)

    _open(at, "Honest numbers")
    _clean(at)
    assert any("with and without the profiler" in t for t in chart_titles(at))

    _open(at, "Export")
    _clean(at)
    downloads = [d.proto.label for d in at.get("download_button")]
    assert "Chrome trace (.json.gz)" in downloads and "TensorBoard trace (.zip)" in downloads
    assert "Modules (CSV)" in downloads and "Operators (CSV)" in downloads
    assert at.session_state["profiler_result"][1].started_at  # one run served every tab


@pytest.mark.parametrize(
    "params,needle",
    [
        (dict(prof_d_model="30", prof_heads="4"), "divisible"),
        # the other refusals run in the full lane (tests/unit/test_profiling.py refuses bad requests one by one)
        pytest.param(dict(prof_active="0"), "active steps is 0", marks=pytest.mark.slow),
        pytest.param(dict(prof_model="vit", prof_image="30"), "multiple of the patch", marks=pytest.mark.slow),
        pytest.param(dict(prof_model="vit", prof_pos="rope"), "positions must be one of", marks=pytest.mark.slow),
        (dict(prof_d_model="4096", prof_heads="8", prof_layers="48", prof_seq_len="8192", prof_batch="64"), "refused"),
    ],
)
def test_bad_input_is_one_error_line_and_no_run(open_page: Callable[..., AppTest], params, needle) -> None:
    at = open_page("profiler", **params)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and needle in errors[0] and "\n" not in errors[0]
    assert not at.metric  # nothing was profiled
    assert not is_locked()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_an_error(open_page: Callable[..., AppTest]) -> None:
    at = open_page("profiler", prof_device="cuda", **SMALL)
    assert not at.exception
    assert any("no CUDA" in e.value for e in at.error)


def test_hostile_link_values_fall_back_with_a_notice(open_page: Callable[..., AppTest]) -> None:
    at = open_page("profiler", prof_d_model="abc", prof_batch="1e309", **{k: v for k, v in SMALL.items() if k not in ("prof_d_model", "prof_batch")})
    assert not at.exception
    assert any("Ignored from the link" in w.value for w in at.warning)
    assert at.number_input(key="prof_d_model").value == 128


def test_link_reproduces_the_configuration(open_page: Callable[..., AppTest]) -> None:
    at = open_page("profiler", prof_model="vit", prof_mode="train", **{k: v for k, v in SMALL.items() if k != "prof_seq_len"}, prof_image="16")
    _clean(at)
    assert at.radio(key="prof_model").value == "vit"
    assert at.radio(key="prof_mode").value == "train"
    assert at.number_input(key="prof_image").value == 16
    names = [n.strip("\u2003") for n in frame_with(at, "self ms")["module"]]
    assert "[backward]" in names and "patch_embed" in names


def test_operator_options_change_the_table(open_page: Callable[..., AppTest]) -> None:
    at = open_page("profiler", prof_tab="Operators", **SMALL)
    _clean(at)
    at.toggle(key="prof_op_top").set_value(True)
    at.number_input(key="prof_op_limit").set_value(50)
    at.run()
    _clean(at)
    ops = frame_with(at, "self CPU ms")
    assert "aten::linear" in set(ops["operator"]) and "aten::addmm" not in set(ops["operator"])
    at.toggle(key="prof_op_shapes").set_value(True)
    at.selectbox(key="prof_op_sort").set_value("calls")
    at.run()
    _clean(at)
    ops = frame_with(at, "self CPU ms")
    assert "input shapes" in ops.columns and ops["input shapes"].astype(bool).any()
    assert list(ops["calls"]) == sorted(ops["calls"], reverse=True)


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
def test_diff_against_a_kept_baseline(open_page: Callable[..., AppTest]) -> None:
    at = open_page("profiler", prof_tab="Diff", **SMALL)
    _clean(at)
    _button(at, "Keep this run as the baseline").click()
    at.run()
    at.number_input(key="prof_batch").set_value(4)
    at.run()
    _clean(at)
    diff = frame_with(at, "Δ total ms")
    row = diff.set_index("path").loc["generator"]
    assert row["Δ MFLOP"] > 0  # batch 2 -> 4 doubles the generator's FLOPs
    assert row["total current / baseline"] == pytest.approx(row["current total ms"] / row["baseline total ms"])
    operators = frame_with(at, "baseline self ms")
    assert "operator" in operators.columns and not any(c.endswith("_us") for c in operators.columns)  # one unit: ms
    titles = chart_titles(at)
    assert any("Per-module change" in t for t in titles) and any("Per-operator change" in t for t in titles)


@pytest.mark.slow  # the fast lane runs the default sweep on the same tab (test_page_profiler_tabs)
def test_scaling_sweep_shows_log_log_fits(open_page: Callable[..., AppTest]) -> None:
    at = open_page("profiler", prof_tab="Scaling", **SMALL)
    _clean(at)
    at.text_input(key="prof_sizes").input("8, 16, 32")
    _button(at, "Run scaling sweep").click()
    at.run()
    _clean(at)
    exponents = frame_with(at, "time exponent")
    assert set(exponents["kind"]) >= {"attention", "feed_forward"}
    flops = dict(zip(exponents["kind"], exponents["FLOP exponent"]))
    assert flops["feed_forward"] == pytest.approx(1.0, abs=0.01) and flops["attention"] > 1.0
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    scaling = [c for c in charts if "vs tokens" in str(c["layout"].get("title", ""))]
    assert len(scaling) == 2
    assert scaling[0]["layout"]["xaxis"]["type"] == "log" and scaling[0]["layout"]["yaxis"]["type"] == "log"


@pytest.mark.slow  # parse_sizes is unit-tested; this is the same message through the page
def test_bad_sweep_sizes_are_an_error(open_page: Callable[..., AppTest]) -> None:
    at = open_page("profiler", prof_tab="Scaling", **SMALL)
    at.text_input(key="prof_sizes").input("16, banana")
    _button(at, "Run scaling sweep").click()
    at.run()
    assert not at.exception
    assert any("whole numbers" in e.value for e in at.error)


def test_a_busy_profiler_pauses_auto_run_and_a_click_waits_with_a_visible_status(open_page: Callable[..., AppTest]) -> None:
    """While another session's run holds the profiler, opening the page queues nothing (a class burst
    would otherwise wait run after run); a click queues, says so, and measures once the lock is free."""
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with profiler_lock(what="another session's run"):
            held.set()
            release.wait(timeout=60)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(timeout=10)
    try:
        at = open_page("profiler", **SMALL)
        _clean(at)
        assert any("Auto-run is paused" in m.value for m in at.info)
        assert "profiler_result" not in at.session_state and not at.metric
    finally:
        release.set()
        holder.join(timeout=10)

    held.clear()
    release.clear()
    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(timeout=10)

    def release_once_waited_for() -> None:
        # Release as soon as the page blocks on the lock (not after a fixed delay, which a loaded machine outruns).
        deadline = time.monotonic() + 120
        while waiting_count() == 0 and not release.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        release.set()

    timer = threading.Thread(target=release_once_waited_for, daemon=True)
    timer.start()
    try:
        _button(at, "Run profiler").click().run()
    finally:
        release.set()
        holder.join(timeout=10)
    _clean(at)
    texts = " ".join(m.value for m in at.markdown)
    assert "waiting for another session's profiler run" in texts
    assert any(m.label == "profiler overhead" for m in at.metric)
    assert not is_locked()


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
def test_rerun_without_changes_reuses_the_result(open_page: Callable[..., AppTest]) -> None:
    at = open_page("profiler", **SMALL)
    _clean(at)
    first = at.session_state["profiler_result"][1].started_at
    time.sleep(1.1)
    at.run()
    _clean(at)
    assert at.session_state["profiler_result"][1].started_at == first


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
def test_a_second_session_reuses_an_identical_run_and_a_click_measures_again(open_page: Callable[..., AppTest]) -> None:
    """Thirty students opening the page at once must not queue thirty identical profiler runs."""
    first = open_page("profiler", **SMALL)
    _clean(first)
    measured = first.session_state["profiler_result"][1]
    second = open_page("profiler", **SMALL)
    _clean(second)
    shared = second.session_state["profiler_result"][1]
    assert shared.started_at == measured.started_at
    assert any("Shared result" in m.value for m in second.info), "a reused run must say so"
    time.sleep(1.1)
    _button(second, "Run profiler").click().run()
    _clean(second)
    again = second.session_state["profiler_result"][1]
    assert again.started_at != measured.started_at and not any("Shared result" in n for n in again.notes)
