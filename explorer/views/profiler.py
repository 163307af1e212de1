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

from explorer.figures import profiler as figs
from explorer.profiling import (
    MODE_LABELS,
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
    to_csv,
    to_json,
)
from explorer.profiling.estimate import format_flops
from explorer.profiling.shared import RECENT_RUNS, Outcome
from explorer.profiling.tables import module_display_frame, operator_display_frame, timeline_spans

PAGE_MAX_SECONDS = 60.0  # refuse anything estimated longer: other sessions share the cores
AUTO_RUN_SECONDS = 5.0  # run without a click when the estimate is this quick
LOCK_WAIT_SECONDS = 180.0
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


def should_run(planned: Plan, stored_fingerprint: str | None, clicked: bool, auto: bool) -> bool:
    """Run on a click, or automatically when the estimate is quick and the stored result is for another configuration."""
    if planned.request is None:
        return False
    if clicked:
        return True
    fresh = stored_fingerprint == planned.request.fingerprint()
    return auto and not fresh and planned.estimate is not None and planned.estimate.seconds <= AUTO_RUN_SECONDS


def run(request: ProfileRequest, clicked: bool, on_wait: Callable[[str], None]) -> Outcome:
    """Profile ``request``: an auto-run reuses an identical run measured moments ago (or being measured
    now) for another session; a click always measures anew. Raises ``ProfilingError``."""
    return RECENT_RUNS.get_or_run(
        request,
        lambda: profile_model(request, on_wait=on_wait, max_seconds=PAGE_MAX_SECONDS, lock_timeout=LOCK_WAIT_SECONDS),
        fresh=clicked, on_wait=on_wait, wait_timeout=LOCK_WAIT_SECONDS,
    )


@dataclass(frozen=True)
class Headline:
    step_ms: float
    spread_ms: float
    overhead: float
    flops: str
    flop_convention: str
    caption: str


def headline(result: ProfileResult) -> Headline:
    summary = result_summary(result)
    return Headline(
        result.step_mean_us / 1e3, summary["step_us_std"] / 1e3, result.overhead_ratio, format_flops(summary["forward_flops"]),
        summary["flop_convention"], f"{summary['request']} · {result.rows[0].params:,} parameters · {summary['device']}",
    )


@dataclass(frozen=True)
class ModulesView:
    frame: pd.DataFrame
    has_negative_net: bool  # explain why net memory can be negative


def modules_view(result: ProfileResult, depth: int, hide_uncalled: bool) -> ModulesView:
    frame = module_display_frame(result, depth, hide_uncalled=hide_uncalled)
    negative = bool((frame["net mem KiB"] < 0).any()) or any(r.cpu_mem_net < 0 for r in result.rows)
    return ModulesView(frame.drop(columns=["path"]), negative)


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


def scaling_view(sweep: ScalingResult) -> ScalingView:
    return ScalingView(
        figs.scaling_figure(sweep.tokens, sweep.time_us, sweep.time_exponent, title="Time per step vs tokens (log-log)"),
        figs.scaling_figure(sweep.tokens, sweep.memory, sweep.memory_exponent, y_title="peak memory (MiB)", scale=1 / 2**20,
                            title="Peak memory inside the module vs tokens (log-log)"),
        pd.DataFrame({
            "kind": list(sweep.time_exponent),
            "time exponent": [round(v, 2) for v in sweep.time_exponent.values()],
            "memory exponent": [round(v, 2) for v in sweep.memory_exponent.values()],
            "FLOP exponent": [round(v, 2) for v in sweep.flops_exponent.values()],
        }),
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
        figs.diff_bar(modules["path"], modules["delta_self_us"], title="Per-module change in self time (current - baseline)"),
        modules.round(1),
        figs.diff_bar(ops["name"], ops["delta_self_us"], title="Per-operator change in self time per step"),
        ops.round(2),
    )


def step_times(result: ProfileResult) -> go.Figure:
    return figs.step_times_figure([t * 1e3 for t in result.wall_plain_s], [t * 1e3 for t in result.wall_profiled_s])


def measured_peak(result: ProfileResult) -> str:
    return format_bytes(result.rows[0].cpu_mem_peak)


@dataclass(frozen=True)
class Exports:
    modules_csv: str
    operators_csv: str
    json: str


def exports(result: ProfileResult) -> Exports:
    return Exports(to_csv(module_table(result)), to_csv(operator_table(result, limit=None)), to_json(result))
