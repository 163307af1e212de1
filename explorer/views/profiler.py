"""The profiler page's view: settings -> a validated request and its estimate, the run policy, and
one frozen view per tab of a finished :class:`explorer.profiling.ProfileResult`.

The run itself goes through :mod:`explorer.profiling.shared` (identical concurrent requests run once,
a failed run is never handed to another session, a click measures anew) and the process-wide
profiler lock; this module only decides when to run and what to draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from explorer.exports import table_csv
from explorer.figures import profiler as figs
from explorer.inputs.params import ParamSpec
from explorer.profiling import (
    MODE_LABELS,
    SORT_KEYS,
    Estimate,
    ProfileRequest,
    ProfileResult,
    ProfilingError,
    ScalingResult,
    build_request,
    check_budget,
    diff_modules,
    diff_operators,
    format_bytes,
    module_table,
    operator_table,
    profile_model,
    result_summary,
    to_json,
)
from explorer.profiling.captions import exponent_rows, memory_statement, overhead_statement, scaling_statement
from explorer.profiling.estimate import format_flops
from explorer.profiling.lock import lock_status, waiting_count
from explorer.profiling.request import DEFAULT_ACTIVE as DEFAULT_ACTIVE  # the page's step widgets start here
from explorer.profiling.request import DEFAULT_WARMUP as DEFAULT_WARMUP
from explorer.profiling.shared import RECENT_RUNS, Outcome
from explorer.profiling.tables import NET_MEM, module_display_frame, operator_display_frame, peak_column, timeline_spans
from explorer.views.profiler_extras import (
    GENERATION_MODELS,
    LOCK_WAIT_SECONDS,
    PAGE_MAX_SECONDS,
    PHASE_NAMES,
    PYTHON_REQUESTS,
)

AUTO_RUN_SECONDS = 5.0  # run without a click when the estimate is this quick
MODELS = ("transformer", "vit")
WEIGHTS = {"random": "any config", "trained": "zoo: dates / shapes"}
MODES = tuple(MODE_LABELS)
DEVICES = ("cpu", "cuda")
NORMS = ("default", "pre-LN", "post-LN")
ACTIVATIONS = ("default", "relu", "gelu", "swiglu")
POSITIONS = ("default", "sinusoidal", "learned", "rope", "none")
CHARTS = ("icicle", "treemap")


@dataclass(frozen=True)
class Settings:
    """The page's widgets, as chosen (the ranges are the widgets' own; ``build_request`` checks the rest)."""

    model: str
    weights: str
    mode: str
    device: str
    d_model: int
    heads: int
    kv_heads: int  # 0 = as many as heads
    layers: int
    d_ff: int
    norm: str
    activation: str
    positions: str
    patch: int | None
    batch: int
    seq_len: int
    image_size: int
    warmup: int
    active: int
    seed: int


@dataclass(frozen=True)
class Plan:
    """A validated request with its cost estimate, or the one-line reason there is none."""

    request: ProfileRequest | None
    estimate: Estimate | None
    error: str | None


def plan(settings: Settings) -> Plan:
    try:
        request = build_request(
            settings.model, trained=settings.weights == "trained", d_model=settings.d_model, n_heads=settings.heads,
            n_kv_heads=settings.kv_heads or None, n_layers=settings.layers, d_ff=settings.d_ff, patch_size=settings.patch,
            activation=None if settings.activation == "default" else settings.activation,
            norm_first=None if settings.norm == "default" else settings.norm == "pre-LN",
            positions=None if settings.positions == "default" else settings.positions,
            batch_size=settings.batch, seq_len=settings.seq_len, image_size=settings.image_size, mode=settings.mode,
            device=settings.device, warmup=settings.warmup, active=settings.active, seed=settings.seed,
        )
        return Plan(request, check_budget(request, max_seconds=PAGE_MAX_SECONDS), None)
    except ProfilingError as error:
        return Plan(None, None, str(error))


def should_run(planned: Plan, stored_fingerprint: str | None, clicked: bool, auto: bool, busy: str | None = None) -> bool:
    """Run on a click, or automatically when the estimate is quick, the stored result is for another
    configuration and the profiler is not ``busy`` with someone else's (see :func:`profiler_busy`)."""
    if planned.request is None:
        return False
    if clicked:
        return True
    fresh = stored_fingerprint == planned.request.fingerprint()
    quick = planned.estimate is not None and planned.estimate.seconds <= AUTO_RUN_SECONDS
    return auto and not fresh and quick and busy is None


def profiler_busy(request: ProfileRequest | None) -> str | None:
    """Why an auto-run would not be quick: the one profiler of the process is measuring another configuration.

    A result that can be shared (measured moments ago, or being measured now for the same configuration)
    costs nothing, so it never counts as busy. Anything else would queue behind the lock: in a class
    burst thirty reruns would wait for each other's runs, so the page waits for a click instead.
    """
    if request is None or RECENT_RUNS.available(request):
        return None
    holder = lock_status()
    if holder is None and waiting_count() == 0 and RECENT_RUNS.in_flight() == 0:
        return None
    return (
        f"Auto-run is paused: the profiler is measuring another configuration ({holder or 'finishing'}). "
        "Press **Run profiler** to measure this configuration (it queues for the profiler)."
    )


def run(request: ProfileRequest, clicked: bool, on_wait: Callable[[str], None]) -> Outcome:
    """Profile ``request``: an auto-run reuses an identical run measured moments ago (or being measured
    now) for another session; a click always measures anew. Raises ``ProfilingError``."""
    return RECENT_RUNS.get_or_run(
        request,
        lambda: profile_model(request, on_wait=on_wait, max_seconds=PAGE_MAX_SECONDS, lock_timeout=LOCK_WAIT_SECONDS),
        fresh=clicked, on_wait=on_wait, wait_timeout=LOCK_WAIT_SECONDS,
    )


def outcome_label(outcome: Outcome, seconds: float) -> str:
    """The status line after a run: measured now, or shared from another session's identical run."""
    if outcome.shared:
        return f"Reused a run of this configuration from {outcome.age_seconds:.0f} s ago ({outcome.result.started_at})"
    return f"Profiled in {seconds:.1f} s ({outcome.result.started_at})"


MODULES_CAPTION = (
    "**total** = the module's scope, children included; **self** = total minus its child modules (operators it runs "
    "itself stay in). Containers that are never called (e.g. `encoder`, `layers`) show the sum of their children. "
    "Times are per step (mean and standard deviation over the active steps). FLOPs come from a separate, untimed "
    "pass with `FlopCounterMode`: one multiply-add = 2 FLOPs, matrix products only."
)
NEGATIVE_NET_NOTE = (
    "**Why some net memory is negative.** Net memory is what a module allocated minus what was freed while it "
    "ran. A module that releases tensors made before it started (its input's intermediates, or in backward the "
    "activations saved during forward) frees more than it allocates, so its net is negative. Peak memory (the "
    "highest point above the level at entry) is never negative."
)


@dataclass(frozen=True)
class Headline:
    step_ms: float
    spread_ms: float
    overhead: float
    flops: str
    flop_convention: str
    caption: str
    overhead_label: str  # "x1.21", or "x0.95 (noise)": a ratio below 1 is never shown as a speed-up
    overhead_text: str


def headline(result: ProfileResult) -> Headline:
    summary = result_summary(result)
    ratio = result.overhead_ratio
    low, _ = result.overhead_range
    noisy = ratio < 1.0 or low <= 1.0
    return Headline(
        result.step_mean_us / 1e3, summary["step_us_std"] / 1e3, ratio, format_flops(summary["forward_flops"]),
        summary["flop_convention"], f"{summary['request']} · {result.rows[0].params:,} parameters · {summary['device']}",
        f"x{ratio:.2f}" + (" (noise)" if noisy else ""), overhead_statement(result),
    )


# Text columns wide enough for their longest usual value ("encoder.layers.0.self_attn.out_proj",
# "MultiHeadAttention", "aten::_scaled_dot_product_flash_attention_for_cpu"): nothing is cut at 1400 px.
TEXT_WIDTHS = {
    "module": 200, "path": 300, "operator": 340, "kind": 170, "category": 120, "input shapes": 300,
    "output shapes": 300, "where": 200, "phase": 90, "name": 300,
}


def number_format(label: str) -> str:
    """One unit per column and one number of decimals per unit: ms to the microsecond, KiB and % to one
    decimal, counts whole, MFLOP, GFLOP/s, ratios and exponents to two."""
    if label == "ms" or label.endswith(" ms"):
        return "%.3f"
    if "KiB" in label or label.endswith("%") or "tokens/s" in label:
        return "%.1f"
    if "calls" in label or label == "params":
        return "%d"
    return "%.2f"


def column_settings(frame: pd.DataFrame) -> dict[str, dict[str, object]]:
    """``st.dataframe``'s ``column_config`` for a display frame, as the plain dicts Streamlit accepts
    (so the view needs no Streamlit): fixed widths for names, one format per numeric column."""
    settings: dict[str, dict[str, object]] = {}
    for name in frame.columns:
        label = str(name)
        if label == "share %":
            settings[label] = {"width": 130, "type_config": {"type": "progress", "format": "%.1f", "min_value": 0, "max_value": 100}}
        elif label in TEXT_WIDTHS:
            settings[label] = {"width": TEXT_WIDTHS[label]}
        elif pd.api.types.is_numeric_dtype(frame[name]):
            settings[label] = {"type_config": {"type": "number", "format": number_format(label)}}
    return settings


@dataclass(frozen=True)
class ModulesView:
    frame: pd.DataFrame
    has_negative_net: bool  # explain why net memory can be negative
    peak_column: str  # names its device (CPU or CUDA)
    net_column: str


def modules_view(result: ProfileResult, depth: int, hide_uncalled: bool) -> ModulesView:
    """The module table with the full dotted path beside the indented name (``norm1`` and ``norm2`` of every layer apart)."""
    frame = module_display_frame(result, depth, hide_uncalled=hide_uncalled)
    # The numbers a student compares first sit beside the name; the full path follows them.
    first = ["module", "kind", "calls", "total ms", "± ms", "self ms", "share %", "path"]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    negative = bool((frame[NET_MEM] < 0).any()) or any(r.cpu_mem_net < 0 for r in result.rows)
    return ModulesView(frame, negative, peak_column(result), NET_MEM)


def operators_frame(result: ProfileResult, sort_by: str, limit: int, by_shape: bool, top_level: bool) -> pd.DataFrame:
    """The operator table as shown; raises ``ValueError`` for an option the run cannot give."""
    ops = operator_table(result, sort_by=sort_by, limit=limit, group_by_input_shape=by_shape, top_level_only=top_level)
    return operator_display_frame(ops)


@dataclass(frozen=True)
class PicturesView:
    hierarchy: go.Figure
    top_modules: go.Figure
    memory: go.Figure


def pictures_view(result: ProfileResult, style: str) -> PicturesView:
    ran = [r for r in result.rows if r.called or r.total_us > 0]
    leaves = [r for r in result.rows if r.called]
    return PicturesView(
        figs.time_icicle([r.path for r in ran], [r.parent for r in ran], [r.self_us for r in ran], [r.total_us for r in ran],
                         [r.category for r in ran], style=style),
        figs.top_modules_bar([r.path for r in leaves], [r.self_us for r in leaves], [r.total_us for r in leaves], [r.category for r in leaves]),
        figs.memory_timeline(result.timeline.t_ms, result.timeline.bytes, timeline_spans(result)),
    )


@dataclass(frozen=True)
class ScalingView:
    time: go.Figure
    memory: go.Figure
    exponents: pd.DataFrame
    statement: str  # expected slope 1 + T/(T+2d) over the swept range vs the measured one, computed


def scaling_view(sweep: ScalingResult) -> ScalingView:
    return ScalingView(
        figs.scaling_figure(sweep.tokens, sweep.time_us, sweep.time_exponent, title=f"Time per step vs tokens (batch {sweep.batch_size})",
                            flop_exponents=sweep.flops_exponent),
        figs.scaling_figure(sweep.tokens, sweep.memory, sweep.memory_exponent, y_title="peak memory (MiB)", scale=1 / 2**20,
                            title="Peak memory vs tokens"),
        pd.DataFrame.from_records(exponent_rows(sweep)),
        scaling_statement(sweep),
    )


@dataclass(frozen=True)
class DiffView:
    modules: go.Figure
    modules_table: pd.DataFrame
    operators: go.Figure
    operators_table: pd.DataFrame


def diff_view(baseline: ProfileResult, result: ProfileResult) -> DiffView:
    modules, ops = diff_modules(baseline, result), diff_operators(baseline, result)
    return DiffView(
        figs.diff_bar(modules["path"], modules["delta_self_us"], title="Per-module change in self time"),
        pd.DataFrame({
            "path": modules["path"],
            "baseline total ms": modules["base_total_us"] / 1e3, "current total ms": modules["cur_total_us"] / 1e3,
            "Δ total ms": modules["delta_total_us"] / 1e3, "Δ self ms": modules["delta_self_us"] / 1e3,
            "Δ CPU net mem KiB": modules["delta_cpu_mem_net"] / 1024, "Δ CPU peak mem KiB": modules["delta_cpu_mem_peak"] / 1024,
            "Δ MFLOP": modules["delta_flops"] / 1e6, "total current / baseline": modules["ratio_total"],
        }),
        figs.diff_bar(ops["name"], ops["delta_self_us"], title="Per-operator change in self time per step"),
        pd.DataFrame({
            "operator": ops["name"],
            "baseline self ms": ops["base_self_us"] / 1e3, "current self ms": ops["cur_self_us"] / 1e3,
            "Δ self ms": ops["delta_self_us"] / 1e3, "baseline calls": ops["base_calls"], "current calls": ops["cur_calls"],
            "self current / baseline": ops["ratio"],
        }),
    )


def step_times(result: ProfileResult) -> go.Figure:
    return figs.step_times_figure([t * 1e3 for t in result.wall_plain_s], [t * 1e3 for t in result.wall_profiled_s])


def measured_peak(result: ProfileResult) -> str:
    return format_bytes(result.rows[0].cpu_mem_peak)


def honest_statements(result: ProfileResult) -> tuple[str, str]:
    """(overhead, memory): the two sentences of the Honest numbers tab, computed from the run."""
    return overhead_statement(result), memory_statement(result)


def honest_markdown(result: ProfileResult) -> str:
    """The Honest numbers tab: what each number on the page is, and how far to trust it (computed sentences)."""
    overhead, memory = honest_statements(result)
    return f"""
- **Profiler overhead**: {overhead}
- **Mean and spread**: every time is the mean over {result.active_steps} active steps; the module table's ± column is their
  standard deviation. {result.request.warmup} warm-up step(s) were recorded and discarded (first calls pay for allocation and caches).
- **Memory**: *net* = allocations minus frees inside a module; it can be negative (see the Modules tab). *Peak* = the
  highest point above the level at entry.
- **FLOPs**: counted once in an untimed pass; one multiply-add = 2 FLOPs; only matrix products count (norms, softmax
  and activations are left out, as usual).
- **Estimate before the run**: {result.estimate.summary()}.
- **Estimated vs measured memory**: {memory}
- **Shared machine**: sessions share CPU cores; another session's work slows yours. Only one profiler runs at a time,
  so you may wait for another session's run, and auto-run pauses while the profiler measures someone else's configuration.
"""


@dataclass(frozen=True)
class Exports:
    modules_csv: bytes
    operators_csv: bytes
    json: str


def exports(result: ProfileResult) -> Exports:
    return Exports(table_csv(module_table(result)), table_csv(operator_table(result, limit=None)), to_json(result))


# The tabs and every URL-bound widget of the page, with what its value may hold (``ui.share.clean_link``).
TABS = ("Modules", "Operators", "Pictures", "Scaling", "Diff", "Honest numbers", "Export", "LLM phases", "Eager vs fused", "Python view")
URL_SCHEMA: dict[str, ParamSpec] = {
    "prof_model": ParamSpec("choice", choices=MODELS),
    "prof_weights": ParamSpec("choice", choices=tuple(WEIGHTS)),
    "prof_mode": ParamSpec("choice", choices=tuple(MODE_LABELS)),
    "prof_device": ParamSpec("choice", choices=DEVICES),
    "prof_d_model": ParamSpec("int", minimum=1, maximum=4096),
    "prof_heads": ParamSpec("int", minimum=1, maximum=64),
    "prof_kv_heads": ParamSpec("int", minimum=0, maximum=64),
    "prof_layers": ParamSpec("int", minimum=1, maximum=48),
    "prof_d_ff": ParamSpec("int", minimum=1, maximum=16384),
    "prof_norm": ParamSpec("choice", choices=NORMS),
    "prof_act": ParamSpec("choice", choices=ACTIVATIONS),
    "prof_pos": ParamSpec("choice", choices=POSITIONS),
    "prof_patch": ParamSpec("int", minimum=1, maximum=64),
    "prof_batch": ParamSpec("int", minimum=1, maximum=1024),
    "prof_seq_len": ParamSpec("int", minimum=1, maximum=8192),
    "prof_image": ParamSpec("int", minimum=1, maximum=1024),
    "prof_warmup": ParamSpec("int", minimum=0, maximum=20),
    "prof_active": ParamSpec("int", minimum=0, maximum=50),
    "prof_depth": ParamSpec("int", minimum=0, maximum=8),
    "prof_chart": ParamSpec("choice", choices=CHARTS),
    "prof_op_sort": ParamSpec("choice", choices=SORT_KEYS),
    "prof_op_limit": ParamSpec("int", minimum=1, maximum=500),
    "prof_op_shapes": ParamSpec("bool"),
    "prof_op_top": ParamSpec("bool"),
    "prof_sizes": ParamSpec("text", max_chars=80),
    "prof_tab": ParamSpec("choice", choices=TABS),
    "prof_gen_model": ParamSpec("choice", choices=GENERATION_MODELS),
    "prof_gen_prompt": ParamSpec("int", minimum=1, maximum=2048),
    "prof_gen_new": ParamSpec("int", minimum=1, maximum=256),
    "prof_gen_path": ParamSpec("choice", choices=("fused", "eager")),
    "prof_gen_phase": ParamSpec("choice", choices=PHASE_NAMES),
    "prof_gen_depth": ParamSpec("int", minimum=0, maximum=6),
    "prof_py_request": ParamSpec("choice", choices=PYTHON_REQUESTS),
}
