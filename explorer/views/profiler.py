"""The profiler page's view: settings -> a validated request and its estimate, the run policy, and
one frozen view per tab of a finished :class:`explorer.profiling.ProfileResult`.

The run itself goes through :mod:`explorer.profiling.shared` (identical concurrent requests run once,
a failed run is never handed to another session, a click measures anew) and the process-wide
profiler lock; this module only decides when to run and what to draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go

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
    to_csv,
    to_json,
)
from explorer.profiling.captions import exponent_rows, memory_statement, overhead_statement, scaling_statement
from explorer.profiling.estimate import format_flops
from explorer.profiling.request import DEFAULT_ACTIVE as DEFAULT_ACTIVE  # the page's step widgets start here
from explorer.profiling.request import DEFAULT_WARMUP as DEFAULT_WARMUP
from explorer.profiling.shared import RECENT_RUNS, Outcome
from explorer.profiling.tables import NET_MEM, module_display_frame, operator_display_frame, peak_column, timeline_spans

if TYPE_CHECKING:
    from explorer.profiling.paths import PathComparison
    from explorer.profiling.phases import PhaseProfile

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


@dataclass(frozen=True)
class ModulesView:
    frame: pd.DataFrame
    has_negative_net: bool  # explain why net memory can be negative
    peak_column: str  # names its device (CPU or CUDA)
    net_column: str


def modules_view(result: ProfileResult, depth: int, hide_uncalled: bool) -> ModulesView:
    """The module table with the full dotted path beside the indented name (``norm1`` and ``norm2`` of every layer apart)."""
    frame = module_display_frame(result, depth, hide_uncalled=hide_uncalled)
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
        figs.scaling_figure(sweep.tokens, sweep.time_us, sweep.time_exponent, title=f"Time per step vs tokens (log-log, batch {sweep.batch_size}, medians)",
                            flop_exponents=sweep.flops_exponent),
        figs.scaling_figure(sweep.tokens, sweep.memory, sweep.memory_exponent, y_title="peak memory (MiB)", scale=1 / 2**20,
                            title="Peak memory inside the module vs tokens (log-log)"),
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
        figs.diff_bar(modules["path"], modules["delta_self_us"], title="Per-module change in self time (current - baseline)"),
        modules.round(1),
        figs.diff_bar(ops["name"], ops["delta_self_us"], title="Per-operator change in self time per step"),
        ops.round(2),
    )


def step_times(result: ProfileResult) -> go.Figure:
    return figs.step_times_figure([t * 1e3 for t in result.wall_plain_s], [t * 1e3 for t in result.wall_profiled_s])


def measured_peak(result: ProfileResult) -> str:
    return format_bytes(result.rows[0].cpu_mem_peak)


def honest_statements(result: ProfileResult) -> tuple[str, str]:
    """(overhead, memory): the two sentences of the Honest numbers tab, computed from the run."""
    return overhead_statement(result), memory_statement(result)


@dataclass(frozen=True)
class Exports:
    modules_csv: str
    operators_csv: str
    json: str


def exports(result: ProfileResult) -> Exports:
    return Exports(to_csv(module_table(result)), to_csv(operator_table(result, limit=None)), to_json(result))


# --------------------------------------------------------------------------- generation in two phases (LLM phases tab)

GENERATION_MODELS = ("smollm2-135m", "marian-en-pt", "tiny-lm")
GENERATION_LABELS = {"smollm2-135m": "SmolLM2-135M (decoder-only)", "marian-en-pt": "Marian en-pt (translator)", "tiny-lm": "tiny LM (2 layers)"}
SWEEP_PROMPTS = (16, 64, 256)
PHASE_NAMES = ("prefill", "decode")


def generation_status(name: str) -> str | None:
    """None when the model can be profiled, else the one-line reason (cheap: no load)."""
    if name == "tiny-lm":
        return None
    from explorer.pretrained import pretrained_status

    return pretrained_status(name)


def run_generation(name: str, prompt_tokens: int, new_tokens: int, attention_path: str,
                   on_wait: Callable[[str], None] | None = None) -> PhaseProfile:
    """Prefill of a ``prompt_tokens``-token English prompt, then ``new_tokens`` greedy decode steps. Raises ``ProfilingError``."""
    from explorer.profiling.phases import generator_for, profile_phases, prompt_ids

    gen, tokenizer = generator_for(name)
    ids = prompt_ids(gen, tokenizer, prompt_tokens)
    return profile_phases(gen, ids, new_tokens, warmup=1, active=3, attention_path=attention_path, on_wait=on_wait,
                          lock_timeout=LOCK_WAIT_SECONDS)


def run_prompt_sweep(name: str, lengths: tuple[int, ...] = SWEEP_PROMPTS) -> list[tuple[int, dict[str, float], float]]:
    from explorer.profiling.phases import generator_for, profile_phases, prompt_ids

    gen, tokenizer = generator_for(name)
    out = []
    for length in lengths:
        result = profile_phases(gen, prompt_ids(gen, tokenizer, length), 1, warmup=1, active=2, lock_timeout=LOCK_WAIT_SECONDS)
        out.append((length, result.prefill.category_shares(), result.prefill.tokens_per_s))
    return out


@dataclass(frozen=True)
class GenerationView:
    metrics: tuple[tuple[str, str, str], ...]  # (label, value, help)
    shares: go.Figure
    parts: go.Figure
    table: pd.DataFrame
    caption: str


def generation_view(profile: PhaseProfile, phase: str, depth: int) -> GenerationView:
    """Both phases' tokens/s and shares, and one phase's module table (times in ms per profiled step)."""
    pre, dec = profile.prefill, profile.decode
    metrics = (
        ("prefill", f"{pre.tokens_per_s:,.0f} tok/s", f"{profile.prompt_len} prompt tokens in {pre.plain_median_s * 1e3:.1f} ms (median, profiler off)"),
        ("decode", f"{dec.tokens_per_s:,.1f} tok/s", f"{profile.new_tokens} tokens in {dec.plain_median_s * 1e3:.1f} ms, one at a time with the KV cache"),
        ("KV cache", format_bytes(dec.cache_bytes), f"after prefill {format_bytes(pre.cache_bytes)}; weights {format_bytes(profile.weight_bytes)}"),
        ("FLOPs per token", f"{format_flops(pre.flops / max(1, pre.tokens))} / {format_flops(dec.flops / max(1, dec.tokens))}",
         "prefill / decode, matrix products, one multiply-add = 2 FLOPs"),
    )
    table = profile.table(phase)
    rows = [r for r in table.rows if r.depth <= depth]
    frame = pd.DataFrame({
        "module": ["\u2003" * r.depth + r.path.rsplit(".", 1)[-1] for r in rows],
        "path": [r.path for r in rows],
        "kind": [r.kind for r in rows],
        "category": [r.category.replace("_", " ") for r in rows],
        "calls": [r.calls for r in rows],
        "total ms": [r.total_us / 1e3 for r in rows],
        "self ms": [r.self_us / 1e3 for r in rows],
        "share %": [100 * r.share for r in rows],
        "MFLOP": [r.flops / 1e6 for r in rows],
    })
    attention = pre.category_shares().get("attention", 0.0) + pre.category_shares().get("cross_attention", 0.0)
    d_attention = dec.category_shares().get("attention", 0.0) + dec.category_shares().get("cross_attention", 0.0)
    caption = (
        f"Prefill reads all {profile.prompt_len} prompt tokens at once: {pre.tokens_per_s:,.0f} tokens/s, attention "
        f"{100 * attention:.0f}% of its time. Decode adds one token per step and must read every weight "
        f"({format_bytes(profile.weight_bytes)}) and the cache for it: {dec.tokens_per_s:,.1f} tokens/s, "
        f"{pre.tokens_per_s / dec.tokens_per_s if dec.tokens_per_s > 0 else float('nan'):,.0f}x fewer; attention "
        f"{100 * d_attention:.0f}% of it. Shares come from the outermost module of each kind (never counted twice); "
        "module times are means over the profiled steps, tokens/s is measured with the profiler off."
    )
    return GenerationView(
        metrics,
        figs.share_bars({p: profile.table(p).category_shares() for p in PHASE_NAMES}, title="Share of each phase's time by kind"),
        figs.share_bars({p: profile.table(p).part_shares() for p in PHASE_NAMES}, title="Share of each phase's time by part of the model"),
        frame,
        caption,
    )


def prompt_sweep_view(points: list[tuple[int, dict[str, float], float]]) -> tuple[go.Figure, str]:
    lengths = [p[0] for p in points]
    figure = figs.prompt_sweep_figure(lengths, [p[1] for p in points])
    shares = [100 * (p[1].get("attention", 0.0) + p[1].get("cross_attention", 0.0)) for p in points]
    grows = shares[-1] > shares[0]
    text = (
        f"Attention's share of the prefill: {', '.join(f'{s:.0f}% at {n}' for s, n in zip(shares, lengths))} tokens. "
        + ("It grows with the prompt, as the T² products take over from the per-token matrices."
           if grows else "It did not grow in this run: at these lengths the per-token matrices still dominate, or noise hides the change.")
    )
    return figure, text


# --------------------------------------------------------------------------- eager vs fused attention

@dataclass(frozen=True)
class PathsView:
    figure: go.Figure
    table: pd.DataFrame
    statement: str


def compare_paths(request: ProfileRequest, on_wait: Callable[[str], None] | None = None) -> PathComparison:
    from explorer.profiling.paths import compare_attention_paths

    return compare_attention_paths(request, on_wait=on_wait, max_seconds=PAGE_MAX_SECONDS, lock_timeout=LOCK_WAIT_SECONDS)


def paths_view(comparison: PathComparison) -> PathsView:
    frame = comparison.frame()
    attn = frame[frame["module"] != "(model)"]
    return PathsView(
        figs.path_comparison_figure(list(attn["module"]), list(attn["fused ms"]), list(attn["eager ms"])),
        frame.round(3),
        comparison.statement(),
    )


# --------------------------------------------------------------------------- the Python around the model

PYTHON_REQUESTS = ("current configuration", "generation")


@dataclass(frozen=True)
class PythonView:
    icicle: go.Figure
    shares: pd.DataFrame
    caption: str


def python_request(kind: str, request: ProfileRequest | None, generation_model: str, result: ProfileResult | None) -> Callable[[], object]:
    """The request to sample: the configuration's steps as the page runs them (private model, inputs, forward
    steps, the pictures of the last result), or a whole generation (tokenize, prefill, decode, detokenize, figure)."""
    if kind == "generation":
        from explorer.profiling.phases import generator_for
        from explorer.profiling.python_view import generation_request

        gen, tokenizer = generator_for(generation_model)
        if tokenizer is None:
            raise ProfilingError("the tiny LM has no tokenizer; choose SmolLM2 or Marian for a generation request")
        from explorer.profiling.phases import PARAGRAPH

        return generation_request(gen.model, tokenizer, PARAGRAPH, 16, gen)
    if request is None:
        raise ProfilingError("choose a valid configuration first")
    from explorer.profiling.request import build_model, make_inputs
    from explorer.profiling.runner import _make_step

    def run() -> object:
        model = build_model(request)
        step = _make_step(model, make_inputs(request), request.mode == "train", scoped=False)
        for _ in range(request.warmup + request.active):
            step()
        return pictures_view(result, "icicle") if result is not None else None

    return run


def python_view(run: Callable[[], object]) -> PythonView:
    from explorer.profiling.python_view import python_profile

    profile = python_profile(run)
    data = profile.icicle_data()
    shares = profile.group_shares()
    table = pd.DataFrame({"where": list(shares), "share %": [100 * v for v in shares.values()],
                          "ms": [1e3 * profile.group_seconds[g] for g in shares]})
    caption = (
        f"pyinstrument sampled the request every {profile.interval_s * 1e3:.1f} ms: its root covers {profile.root_s * 1e3:.0f} ms "
        f"of {profile.wall_s * 1e3:.0f} ms wall time. Native calls made from torch or model code count as torch ops; the "
        "rest is Python: torch's module machinery, the explorer's own code, the tokenizer, figure building."
    )
    return PythonView(
        figs.python_icicle(data["ids"], data["labels"], data["parents"], data["values"], data["groups"], data["locations"]),
        table.round(1), caption,
    )


def profiler_guide() -> str:
    from explorer.profiling.python_view import PROFILER_GUIDE

    return PROFILER_GUIDE


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
