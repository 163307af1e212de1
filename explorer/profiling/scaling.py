"""Scaling: how time and memory of each module kind grow with the sequence length.

For each size we profile the same model and add up the modules of one kind (every
``MultiHeadAttention``, every ``FeedForward``). A straight line on log-log axes,
y = c x^k, has slope k: the fitted **exponent**. The feed-forward network touches each
token on its own, so k ~ 1; attention compares every query with every key (Eq. 1), so its
score products grow as T^2 and k creeps towards 2 once T is large next to d_model (below
that, attention's four linear projections, which are linear in T, dominate). The fit
uses the upper half of the sweep, where fixed per-call costs matter least.
For the ViT the x axis is the number of tokens, 1 + (S/P)^2 for an S x S image.

How far the sweep must go: one attention module costs 8 T d^2 FLOPs in its projections and
4 T^2 d in its two products, so the local log-log slope is 1 + T / (T + 2d): 1.2 at T = d/2,
1.5 at T = 2d, 1.8 at T = 8d. A sweep that stops at T ~ d cannot show the quadratic term, so
the default sweep (:func:`default_sizes`) runs batch 1 up to T = 8 d_model.
Each point is the median of the active steps, and the fitted exponent carries a standard error
from the per-step samples, so a caption can say when the noise is larger than the effect.

Time is measured in a separate pass with the profiler off (:func:`timed_kinds`): light wrappers
on the attention and feed-forward modules read this thread's CPU clock (with one torch thread it
is the whole computation, and other processes on a shared machine do not inflate it). The
profiler's own per-operator records, which cost the same at every T, would flatten the slope.
Memory and FLOPs still come from a short profiled run at each size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from explorer.profiling.estimate import DEFAULT_MAX_SECONDS, attention_linear_flops_per_token, estimate
from explorer.profiling.request import (
    MAX_IMAGE_SIZE,
    ProfileRequest,
    ProfilingError,
    build_model,
    make_inputs,
    validate_request,
    with_size,
)
from explorer.profiling.runner import ProfileResult, _make_step, category_of, profile_model

KINDS = ("attention", "feed_forward")
KIND_LABELS = {"attention": "attention", "feed_forward": "feed-forward", "model": "whole model"}
MAX_POINTS = 8
TOKENS_PER_D_MODEL = 8  # the default sweep ends at T = 8 d_model (local attention slope 1.8)
MAX_SWEEP_TOKENS = 2048
SWEEP_POINTS = 6
SWEEP_WARMUP = 1
SWEEP_ACTIVE = 5


@dataclass
class ScalingResult:
    """Per size: tokens, time (us/step) and peak memory (bytes) per kind, plus fitted exponents."""

    sizes: list[int]
    tokens: list[int]
    time_us: dict[str, list[float]]
    memory: dict[str, list[float]]
    flops: dict[str, list[float]]
    time_exponent: dict[str, float] = field(default_factory=dict)
    memory_exponent: dict[str, float] = field(default_factory=dict)
    flops_exponent: dict[str, float] = field(default_factory=dict)
    time_exponent_se: dict[str, float] = field(default_factory=dict)
    time_spread: dict[str, list[float]] = field(default_factory=dict)  # per size: (max - min) / median of the steps
    batch_size: int = 1
    d_model: int = 0
    attention_linear_per_token: int = 0  # closed-form A in F(T) = A T + 4 d T^2 per attention call
    clock: str = "profiler wall time"
    # exponent of (time - time at the smallest size): the work above the fixed per-call cost
    net_time_exponent: dict[str, float] = field(default_factory=dict)


def fit_exponent(x: Sequence[float], y: Sequence[float], upper_half: bool = True) -> float:
    """Slope of log y against log x (least squares); NaN if fewer than 2 usable points."""
    pairs = [(a, b) for a, b in zip(x, y) if a > 0 and b > 0]
    if upper_half and len(pairs) > 3:
        pairs = pairs[len(pairs) // 2 - (len(pairs) % 2 == 0) :]
    if len(pairs) < 2:
        return float("nan")
    lx = np.log([p[0] for p in pairs])
    ly = np.log([p[1] for p in pairs])
    if np.ptp(lx) == 0:
        return float("nan")
    slope, _ = np.polyfit(lx, ly, 1)
    return float(slope)


def fit_exponent_with_error(x: Sequence[float], samples: Sequence[Sequence[float]], upper_half: bool = True) -> tuple[float, float]:
    """Slope and its standard error from every per-step sample (log y against log x), upper half of x.

    The standard error is the ordinary least-squares one; it shrinks with more steps and grows
    with the machine's noise, which is what a caption needs to say "cannot tell".
    """
    points = [(a, list(b)) for a, b in zip(x, samples) if a > 0 and b]
    if upper_half and len(points) > 3:
        points = points[len(points) // 2 - (len(points) % 2 == 0) :]
    lx = np.array([math.log(a) for a, ys in points for y in ys if y > 0])
    ly = np.array([math.log(y) for a, ys in points for y in ys if y > 0])
    if len(set(lx.tolist())) < 2:
        return float("nan"), float("nan")
    design = np.vstack([lx, np.ones_like(lx)]).T
    coef, *_ = np.linalg.lstsq(design, ly, rcond=None)
    residual = ly - design @ coef
    dof = max(1, len(lx) - 2)
    sxx = float(((lx - lx.mean()) ** 2).sum())
    se = math.sqrt(float((residual**2).sum()) / dof / sxx) if sxx > 0 else float("nan")
    return float(coef[0]), se


def local_attention_exponent(tokens: float, d_model: int) -> float:
    """d log F / d log T of one attention call, F = 8 T d^2 + 4 T^2 d: 1 + T / (T + 2d)."""
    return 1.0 + tokens / (tokens + 2.0 * d_model)


def closed_form_attention_exponent(tokens: Sequence[int], linear_per_token: int, d_model: int) -> float:
    """The exponent the closed form F(T) = A T + 4 d T^2 gives over the same points and fit as the sweep."""
    return fit_exponent(tokens, [linear_per_token * t + 4 * d_model * t * t for t in tokens])


def default_sizes(request: ProfileRequest, points: int = SWEEP_POINTS) -> list[int]:
    """Doubling sizes ending at T = 8 d_model tokens (see the module docstring for why that far).

    Sequence lengths for text; image sides (multiples of the patch) for the ViT, whose token
    count 1 + (S/P)^2 then roughly doubles from one size to the next.
    """
    cfg = request.resolved_config()
    top_tokens = min(MAX_SWEEP_TOKENS, TOKENS_PER_D_MODEL * cfg.d_model)
    if request.model == "transformer":
        sizes = {max(1, top_tokens // 2**i) for i in range(points)}
        return sorted(s for s in sizes if s >= min(8, top_tokens))
    patch = cfg.patch_size  # type: ignore[union-attr]
    max_side = MAX_IMAGE_SIZE // patch
    sides = {min(max_side, max(1, round(math.sqrt(top_tokens / 2**i)))) for i in range(points)}
    return sorted(s * patch for s in sides)


def sweep_request(request: ProfileRequest) -> ProfileRequest:
    """The request the default sweep runs: batch 1 (the sequence, not the batch, is what grows) and short schedules."""
    return validate_request(replace(request, batch_size=1, warmup=SWEEP_WARMUP, active=SWEEP_ACTIVE))


def parse_sizes(text: str) -> list[int]:
    """'16, 32, 64' -> [16, 32, 64]; raises :class:`ProfilingError` on anything else."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        sizes = sorted({int(p) for p in parts})
    except ValueError:
        raise ProfilingError(f"sizes must be whole numbers separated by commas, got {text!r}") from None
    if len(sizes) < 2:
        raise ProfilingError("give at least two different sizes to fit a slope")
    if len(sizes) > MAX_POINTS:
        raise ProfilingError(f"at most {MAX_POINTS} sizes, got {len(sizes)}")
    if sizes[0] < 1:
        raise ProfilingError("sizes must be at least 1")
    return sizes


def _kind_totals(result: ProfileResult) -> tuple[dict[str, list[float]], dict[str, float], dict[str, float]]:
    """Per kind: the per-step time samples (modules of the kind summed per step), peak memory, FLOPs."""
    steps = max(1, result.active_steps)
    samples = {kind: [0.0] * steps for kind in KINDS}
    memory = {kind: 0.0 for kind in KINDS}
    flops = {kind: 0.0 for kind in KINDS}
    for row in result.rows:
        if row.category in KINDS:
            series = row.total_samples_us or [row.total_us] * steps
            samples[row.category] = [a + b for a, b in zip(samples[row.category], series)]
            memory[row.category] = max(memory[row.category], row.cpu_mem_peak)
            flops[row.category] += row.flops
    root = result.rows[0]
    samples["model"] = list(root.total_samples_us or [root.total_us])
    memory["model"] = root.cpu_mem_peak
    flops["model"] = float(root.flops)
    return samples, memory, flops


def step_clock() -> tuple[Callable[[], float], str]:
    """This thread's CPU time when torch runs on one thread (immune to other processes), else wall time."""
    if torch.get_num_threads() == 1:
        return time.thread_time, "CPU time of the computing thread"
    return time.perf_counter, "wall time"


def timed_kinds(request: ProfileRequest, warmup: int, active: int) -> dict[str, list[float]]:
    """Per-step time (us) of every attention and feed-forward module summed per kind, and of the whole model,
    measured with wrappers on a private model and the profiler off (see the module docstring)."""
    clock, _ = step_clock()
    model = build_model(request)
    totals = {kind: 0.0 for kind in (*KINDS, "model")}

    def wrap(module: nn.Module, kind: str) -> None:
        original = module.forward

        def forward(*args: object, **kwargs: object) -> object:
            start = clock()
            try:
                return original(*args, **kwargs)
            finally:
                totals[kind] += clock() - start

        module.forward = forward  # instance attribute on the private copy

    for path, module in model.named_modules():
        kind = "model" if path == "" else category_of(module, path)
        if kind in totals:
            wrap(module, kind)
    step = _make_step(model, make_inputs(request), request.mode == "train", scoped=False, eager=request.attention_path == "eager")
    samples: dict[str, list[float]] = {kind: [] for kind in totals}
    for i in range(warmup + active):
        for kind in totals:
            totals[kind] = 0.0
        step()
        if i >= warmup:
            for kind, value in totals.items():
                samples[kind].append(value * 1e6)
    return samples


def scaling_sweep(
    request: ProfileRequest,
    sizes: Sequence[int] | None = None,
    *,
    on_wait: Callable[[str], None] | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    max_bytes: int | None = None,
) -> ScalingResult:
    """Profile ``request`` at each size (no traces, no overhead reference) and fit exponents per kind.

    Without ``sizes`` this is the default sweep: batch 1, up to T = 8 d_model (:func:`default_sizes`),
    a short schedule per point (:func:`sweep_request`). Times are per-step medians.
    """
    if not sizes:
        request = sweep_request(request)
    sizes = sorted(set(sizes or default_sizes(request)))
    if len(sizes) < 2:
        raise ProfilingError("the sweep needs at least two different sizes; raise the sequence length or image size")
    requests = [with_size(request, s) for s in sizes]
    total = sum(estimate(r).seconds for r in requests)
    if total > max_seconds:
        raise ProfilingError(
            f"refused: the sweep is estimated at {total:.0f} s (> {max_seconds:.0f} s budget); use fewer or smaller sizes"
        )
    series: dict[str, list[float]] = {}
    samples: dict[str, list[list[float]]] = {}
    spread: dict[str, list[float]] = {}
    mem_series: dict[str, list[float]] = {}
    flop_series: dict[str, list[float]] = {}
    tokens = []
    for i, req in enumerate(requests):
        if progress is not None:
            progress(i, len(requests), sizes[i])
        short = validate_request(replace(req, warmup=min(req.warmup, 1), active=1))
        result = profile_model(short, on_wait=on_wait, keep_trace=False, measure_overhead=False, max_seconds=max_seconds, max_bytes=max_bytes)
        _, m, f = _kind_totals(result)
        t = timed_kinds(req, max(1, req.warmup), req.active)
        for kind in t:
            median = float(np.median(t[kind]))
            series.setdefault(kind, []).append(median)
            samples.setdefault(kind, []).append(t[kind])
            spread.setdefault(kind, []).append((max(t[kind]) - min(t[kind])) / median if median > 0 else 0.0)
            mem_series.setdefault(kind, []).append(m[kind])
            flop_series.setdefault(kind, []).append(f[kind])
        tokens.append(req.tokens)
    cfg = request.resolved_config()
    out = ScalingResult(
        sizes=list(sizes), tokens=tokens, time_us=series, memory=mem_series, flops=flop_series, time_spread=spread,
        batch_size=request.batch_size, d_model=cfg.d_model,
        attention_linear_per_token=attention_linear_flops_per_token(cfg.d_model, cfg.n_heads, cfg.n_kv_heads),
        clock=step_clock()[1],
    )
    for kind in series:
        out.time_exponent[kind] = fit_exponent(tokens, series[kind])
        out.time_exponent_se[kind] = fit_exponent_with_error(tokens, samples[kind])[1]
        base = series[kind][0]
        out.net_time_exponent[kind] = fit_exponent(tokens[1:], [v - base for v in series[kind][1:]])
        out.memory_exponent[kind] = fit_exponent(tokens, mem_series[kind])
        out.flops_exponent[kind] = fit_exponent(tokens, flop_series[kind])
    return out
