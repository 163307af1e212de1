"""Tables from a run: the per-module table, the operator table (``key_averages``), diffs, CSV/JSON.

The operator table follows the PyTorch profiler recipe: ``key_averages()`` grouped by
operator name (optionally also by input shape), sorted by any column, cut to a row limit.
"Top-level only" keeps operators called directly from model code, not the ones they call
in turn (``aten::linear`` but not the ``aten::addmm`` inside it), so self and total times
are not counted twice. Operator numbers are summed over the active steps, as
``key_averages`` gives them; the diff divides by the number of steps so runs with
different step counts compare.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from explorer.profiling.captions import memory_statement, overhead_statement
from explorer.profiling.runner import ProfileResult, event_list

MODULE_COLUMNS = [
    "path", "depth", "kind", "category", "calls", "total_us", "total_std_us", "self_us", "share",
    "cpu_mem_net", "cpu_mem_peak", "flops", "gflops_per_s", "params", "input_shapes", "output_shapes",
]
DEVICE_COLUMNS = ["device_total_us", "device_self_us", "device_mem_net"]
OPERATOR_COLUMNS = [
    "name", "input_shapes", "calls", "self_cpu_us", "cpu_total_us", "cpu_avg_us", "self_cpu_mem", "cpu_mem",
    "self_device_us", "device_total_us",
]
SORT_KEYS = ("self_cpu_us", "cpu_total_us", "cpu_avg_us", "calls", "self_cpu_mem", "cpu_mem", "self_device_us", "device_total_us", "name")


def module_table(result: ProfileResult, max_depth: int | None = None, include_device: bool | None = None) -> pd.DataFrame:
    """The per-module table, rows in tree order, down to ``max_depth`` (0 = the model only)."""
    records = result.module_records(max_depth)
    frame = pd.DataFrame.from_records(records)
    if include_device is None:
        include_device = result.request.device == "cuda"
    columns = MODULE_COLUMNS + (DEVICE_COLUMNS if include_device else [])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    return frame[columns].reset_index(drop=True)


def _is_top_level(event: Any) -> bool:
    """No operator among the ancestors (module scopes and step markers do not count)."""
    parent = event.cpu_parent
    while parent is not None:
        name = parent.name
        if not name.startswith(("module::", "ProfilerStep")):
            return False
        parent = parent.cpu_parent
    return True


def operator_table(
    result: ProfileResult,
    sort_by: str = "self_cpu_us",
    limit: int | None = 20,
    group_by_input_shape: bool = False,
    top_level_only: bool = False,
) -> pd.DataFrame:
    """``key_averages()`` of the run's operators as a DataFrame (totals over the active steps)."""
    if sort_by not in SORT_KEYS:
        raise ValueError(f"sort_by must be one of {', '.join(SORT_KEYS)}, got {sort_by!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"row limit must be a positive whole number, got {limit!r}")
    events = result.events
    if top_level_only:
        events = event_list([e for e in events if _is_top_level(e)], events)
    averages = events.key_averages(group_by_input_shapes=group_by_input_shape)
    rows = []
    for avg in averages:
        rows.append(
            {
                "name": avg.key,
                "input_shapes": str(avg.input_shapes) if group_by_input_shape else "",
                "calls": int(avg.count),
                "self_cpu_us": float(avg.self_cpu_time_total),
                "cpu_total_us": float(avg.cpu_time_total),
                "cpu_avg_us": float(avg.cpu_time_total) / max(1, int(avg.count)),
                "self_cpu_mem": float(avg.self_cpu_memory_usage),
                "cpu_mem": float(avg.cpu_memory_usage),
                "self_device_us": float(getattr(avg, "self_device_time_total", 0.0) or 0.0),
                "device_total_us": float(getattr(avg, "device_time_total", 0.0) or 0.0),
            }
        )
    frame = pd.DataFrame.from_records(rows, columns=OPERATOR_COLUMNS)
    frame = frame.sort_values(sort_by, ascending=(sort_by == "name"), kind="stable").reset_index(drop=True)
    if limit is not None:
        frame = frame.head(limit)
    return frame


def diff_modules(baseline: ProfileResult, current: ProfileResult) -> pd.DataFrame:
    """Per-module deltas (current - baseline), matched by dotted path; modules in only one run keep NaN on the other side."""
    base = module_table(baseline, include_device=False).set_index("path")
    cur = module_table(current, include_device=False).set_index("path")
    paths = list(cur.index) + [p for p in base.index if p not in cur.index]
    frame = pd.DataFrame(index=pd.Index(paths, name="path"))
    for column in ("total_us", "self_us", "cpu_mem_net", "cpu_mem_peak", "flops"):
        frame[f"base_{column}"] = base[column].reindex(frame.index)
        frame[f"cur_{column}"] = cur[column].reindex(frame.index)
        frame[f"delta_{column}"] = frame[f"cur_{column}"] - frame[f"base_{column}"]
    frame["ratio_total"] = frame["cur_total_us"] / frame["base_total_us"].where(frame["base_total_us"] > 0)
    depth = cur["depth"].reindex(frame.index).fillna(base["depth"].reindex(frame.index))
    frame.insert(0, "depth", depth.astype(int))
    return frame.reset_index()


def diff_operators(baseline: ProfileResult, current: ProfileResult) -> pd.DataFrame:
    """Per-operator deltas of self CPU time and calls, per step, sorted by the size of the change."""
    base = operator_table(baseline, limit=None).set_index("name")
    cur = operator_table(current, limit=None).set_index("name")
    names = list(cur.index) + [n for n in base.index if n not in cur.index]
    frame = pd.DataFrame(index=pd.Index(names, name="name"))
    base_steps = max(1, baseline.active_steps)
    cur_steps = max(1, current.active_steps)
    frame["base_self_us"] = base["self_cpu_us"].reindex(frame.index).fillna(0.0) / base_steps
    frame["cur_self_us"] = cur["self_cpu_us"].reindex(frame.index).fillna(0.0) / cur_steps
    frame["delta_self_us"] = frame["cur_self_us"] - frame["base_self_us"]
    frame["base_calls"] = base["calls"].reindex(frame.index).fillna(0.0) / base_steps
    frame["cur_calls"] = cur["calls"].reindex(frame.index).fillna(0.0) / cur_steps
    frame["ratio"] = frame["cur_self_us"] / frame["base_self_us"].where(frame["base_self_us"] > 0)
    frame = frame.reindex(frame["delta_self_us"].abs().sort_values(ascending=False, kind="stable").index)
    return frame.reset_index()


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def result_summary(result: ProfileResult) -> dict[str, Any]:
    """Run-level numbers: step time (mean, spread), overhead ratio, FLOPs, estimate."""
    wall_plain = result.wall_plain_s
    wall_prof = result.wall_profiled_s
    return {
        "request": result.request.describe(),
        "device": result.device_label,
        "started_at": result.started_at,
        "active_steps": result.active_steps,
        "step_us_mean": result.step_mean_us,
        "step_us_std": float(pd.Series(result.step_us).std()) if len(result.step_us) > 1 else 0.0,
        "wall_profiled_ms_median": float(pd.Series(wall_prof).median() * 1e3) if wall_prof else None,
        "wall_plain_ms_median": float(pd.Series(wall_plain).median() * 1e3) if wall_plain else None,
        "overhead_ratio": _clean(result.overhead_ratio),
        "overhead_statement": overhead_statement(result),  # a ratio below 1 is called noise, never a speed-up
        "memory_statement": memory_statement(result),
        "forward_flops": result.rows[0].flops if result.rows else 0,
        "backward_flops": result.backward_flops,
        "flop_convention": "one multiply-add = 2 FLOPs; matrix products only",
        "estimate": result.estimate.summary(),
    }


def to_json(result: ProfileResult, max_depth: int | None = None) -> str:
    """The module table plus the run summary as JSON (for scripts)."""
    table = module_table(result, max_depth)
    modules = [{k: _clean(v) for k, v in row.items()} for row in table.to_dict(orient="records")]
    return json.dumps({"summary": result_summary(result), "modules": modules}, indent=2)


# --------------------------------------------------------------------------- display-ready frames (page and CLI)

INDENT = "\u2003"  # em space: survives table rendering, unlike leading ASCII spaces


NET_MEM = "CPU net mem KiB"  # the profiler attributes net memory on the CPU allocator


def peak_column(result: ProfileResult) -> str:
    """The peak column names its device: on CUDA the peak comes from the CUDA allocator's records."""
    return f"{'CUDA' if result.request.device == 'cuda' else 'CPU'} peak mem KiB"


def module_display_frame(result: ProfileResult, max_depth: int | None = None, hide_uncalled: bool = False) -> pd.DataFrame:
    """The module table in display units: ms, %, KiB, MFLOP; the tree drawn by indentation."""
    frame = module_table(result, max_depth)
    if hide_uncalled:
        frame = frame[(frame["calls"] > 0) | (frame["total_us"] > 0)]
    names = [
        (INDENT * int(d)) + (p.rsplit(".", 1)[-1] if d > 0 and "." in p else p)
        for p, d in zip(frame["path"], frame["depth"])
    ]
    out = pd.DataFrame(
        {
            "module": names,
            "path": frame["path"],
            "kind": frame["kind"],
            "calls": frame["calls"],
            "total ms": frame["total_us"] / 1e3,
            "± ms": frame["total_std_us"] / 1e3,
            "self ms": frame["self_us"] / 1e3,
            "share %": frame["share"] * 100,
            NET_MEM: frame["cpu_mem_net"] / 1024,
            peak_column(result): frame["cpu_mem_peak"] / 1024,
            "MFLOP": frame["flops"] / 1e6,
            "GFLOP/s": frame["gflops_per_s"],
            "params": frame["params"],
            "input shapes": frame["input_shapes"],
            "output shapes": frame["output_shapes"],
        }
    )
    if "device_total_us" in frame:
        out["CUDA total ms"] = frame["device_total_us"] / 1e3
        out["CUDA self ms"] = frame["device_self_us"] / 1e3
        out["CUDA net mem KiB"] = frame["device_mem_net"] / 1024
    return out.reset_index(drop=True)


def operator_display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """An operator table in ms and KiB; input shapes only when grouped by them."""
    out = pd.DataFrame(
        {
            "operator": frame["name"],
            "input shapes": frame["input_shapes"],
            "calls": frame["calls"],
            "self CPU ms": frame["self_cpu_us"] / 1e3,
            "CPU total ms": frame["cpu_total_us"] / 1e3,
            "CPU avg ms": frame["cpu_avg_us"] / 1e3,
            "self CPU mem KiB": frame["self_cpu_mem"] / 1024,
            "CPU mem KiB": frame["cpu_mem"] / 1024,
        }
    )
    if frame["device_total_us"].abs().sum() > 0:
        out["self CUDA ms"] = frame["self_device_us"] / 1e3
        out["CUDA total ms"] = frame["device_total_us"] / 1e3
    if not frame["input_shapes"].astype(bool).any():
        out = out.drop(columns=["input shapes"])
    return out


def timeline_spans(result: ProfileResult, max_spans: int = 40) -> list[tuple[str, float, float]]:
    """Module calls worth shading on the memory timeline: blocks, embeddings and top-level modules."""
    kinds = {r.path: r for r in result.rows}
    spans = []
    for path, depth, start, end in result.timeline.spans:
        row = kinds.get(path)
        if row is None:
            continue
        if row.category in ("block", "embedding", "backward", "loss") or (depth == 1 and row.called):
            if row.category == "embedding" and row.parent not in (None, "(model)"):
                continue
            spans.append((path, start, end))
    return spans[:max_spans]
