"""The profiler page's view policy: a class burst shares one run per configuration, auto-run pauses
while the profiler measures someone else's configuration, and tables keep one unit and format per column."""

from __future__ import annotations

import dataclasses
import threading
import time

import pandas as pd

from explorer.profiling import build_request, profiler_lock
from explorer.profiling.runner import MemoryTimeline, ProfileResult
from explorer.profiling.shared import RECENT_RUNS, RecentRuns
from explorer.views import profiler as views


def _result(request) -> ProfileResult:
    return ProfileResult(
        request=request, estimate=None, rows=[], events=None, step_us=[1.0], wall_profiled_s=[1.0], wall_plain_s=[1.0],  # type: ignore[arg-type]
        backward_flops=0, timeline=MemoryTimeline(t_ms=[], bytes=[], spans=[]), device_label="cpu", started_at="12:00:00",
    )


def test_a_burst_released_at_once_starts_one_run() -> None:
    """Thirty sessions released by one barrier: looking for a flight and claiming one is a single step."""
    runs, request, calls = RecentRuns(), build_request("transformer"), []
    barrier = threading.Barrier(30)

    def run() -> ProfileResult:
        calls.append(1)
        time.sleep(0.2)
        return _result(request)

    def session(seed: int) -> None:
        barrier.wait(5)
        runs.get_or_run(dataclasses.replace(request, seed=seed), run)

    threads = [threading.Thread(target=session, args=(seed,)) for seed in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1
    assert runs.in_flight() == 0 and runs.available(request)


def test_auto_run_pauses_while_another_configuration_holds_the_profiler() -> None:
    RECENT_RUNS.clear()
    mine = build_request("transformer", d_model=32, n_heads=2, n_layers=1, d_ff=64, batch_size=2, seq_len=16)
    planned = views.Plan(mine, views.check_budget(mine, max_seconds=60), None)
    assert views.profiler_busy(mine) is None
    with profiler_lock(what="another session's run"):
        busy = views.profiler_busy(mine)
        assert busy is not None and "another session's run" in busy
        assert not views.should_run(planned, None, clicked=False, auto=True, busy=busy)
        assert views.should_run(planned, None, clicked=True, auto=True, busy=busy)  # a click still queues
        RECENT_RUNS.get_or_run(mine, lambda: _result(mine))  # a shareable result costs nothing: not busy
        assert views.profiler_busy(mine) is None
    RECENT_RUNS.clear()


def test_columns_keep_one_unit_and_one_format_each_and_names_are_never_cut() -> None:
    frame = pd.DataFrame({
        "module": ["encoder"], "path": ["encoder.layers.0.self_attn.out_proj"], "kind": ["MultiHeadAttention"],
        "calls": [3], "params": [950336], "total ms": [1.23456], "± ms": [0.1], "share %": [12.5], "CPU net mem KiB": [-4.0], "MFLOP": [2.0],
    })
    settings = views.column_settings(frame)
    formats = {name: s["type_config"]["format"] for name, s in settings.items() if "type_config" in s}  # type: ignore[index]
    assert formats == {"calls": "%d", "params": "%d", "total ms": "%.3f", "± ms": "%.3f", "share %": "%.1f", "CPU net mem KiB": "%.1f", "MFLOP": "%.2f"}
    # At about 7 px per character in the table's font, the widths hold the names the issue saw cut.
    for name, text in (("path", "encoder.layers.0.self_attn.out_proj"), ("kind", "MultiHeadAttention")):
        assert settings[name]["width"] >= 7.5 * len(text)  # type: ignore[operator]


def test_figure_titles_fit_a_phone_and_the_memory_bands_are_named_below_the_line() -> None:
    """Plotly never wraps a title: at 390 px about 45 characters fit, the rest is cut off. Band names sit in
    bars under the line, hidden (never cut) when a bar is too narrow for 11 px text."""
    from explorer.figures import profiler as figs

    spans = [("src_embed", 0.0, 0.1), ("encoder.layers.0", 0.1, 5.0), ("generator", 5.0, 5.05)]
    memory = figs.memory_timeline([0.0, 1.0, 5.05], [0, 2**20, 0], spans)
    figures = [
        figs.time_icicle(["(model)"], [""], [1.0], [1.0], ["model"]), figs.top_modules_bar(["a"], [1.0], [1.0], ["linear"]),
        memory, figs.path_comparison_figure(["a"], [1.0], [2.0]), figs.prompt_sweep_figure([16, 64], [{"attention": 0.1}] * 2),
    ]
    for figure in figures:
        assert len(figure.layout.title.text) <= 45, figure.layout.title.text
    bars = [t for t in memory.data if t.type == "bar"]
    assert len(bars) == 1 and list(bars[0].text) == [s[0] for s in spans]
    assert memory.layout.uniformtext.mode == "hide" and memory.layout.uniformtext.minsize >= 11
    assert not memory.layout.annotations  # no label drawn over the line or past the plot's edge
