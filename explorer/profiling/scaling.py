"""Scaling: how time and memory of each module kind grow with the sequence length.

For each size we profile the same model and add up the modules of one kind (every
``MultiHeadAttention``, every ``FeedForward``). A straight line on log-log axes,
y = c x^k, has slope k: the fitted **exponent**. The feed-forward network touches each
token on its own, so k ~ 1; attention compares every query with every key (Eq. 1), so its
score products grow as T^2 and k creeps towards 2 once T is large next to d_model (below
that, attention's four linear projections, which are linear in T, dominate). The fit
uses the upper half of the sweep, where fixed per-call costs matter least.
For the ViT the x axis is the number of tokens, 1 + (S/P)^2 for an S x S image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from explorer.profiling.estimate import DEFAULT_MAX_SECONDS, estimate
from explorer.profiling.request import ProfileRequest, ProfilingError, with_size
from explorer.profiling.runner import ProfileResult, profile_model

KINDS = ("attention", "feed_forward")
KIND_LABELS = {"attention": "attention", "feed_forward": "feed-forward", "model": "whole model"}
MAX_POINTS = 8


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


def default_sizes(request: ProfileRequest, points: int = 5) -> list[int]:
    """Doubling sizes ending at the request's size: sequence lengths, or image sides (multiples of the patch)."""
    if request.model == "transformer":
        top = request.seq_len
        sizes = [top // 2**i for i in range(points)][::-1]
        return sorted({max(1, s) for s in sizes})
    patch = request.resolved_config().patch_size  # type: ignore[union-attr]
    top = request.image_size // patch
    sides = sorted({max(1, top // 2**i) for i in range(points)})
    return [s * patch for s in sides]


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


def _kind_totals(result: ProfileResult) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    time_us = {kind: 0.0 for kind in KINDS}
    memory = {kind: 0.0 for kind in KINDS}
    flops = {kind: 0.0 for kind in KINDS}
    for row in result.rows:
        if row.category in KINDS:
            time_us[row.category] += row.total_us
            memory[row.category] = max(memory[row.category], row.cpu_mem_peak)
            flops[row.category] += row.flops
    root = result.rows[0]
    time_us["model"] = root.total_us
    memory["model"] = root.cpu_mem_peak
    flops["model"] = float(root.flops)
    return time_us, memory, flops


def scaling_sweep(
    request: ProfileRequest,
    sizes: Sequence[int] | None = None,
    *,
    on_wait: Callable[[str], None] | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    max_bytes: int | None = None,
) -> ScalingResult:
    """Profile ``request`` at each size (no traces, no overhead reference) and fit exponents per kind."""
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
    mem_series: dict[str, list[float]] = {}
    flop_series: dict[str, list[float]] = {}
    tokens = []
    for i, req in enumerate(requests):
        if progress is not None:
            progress(i, len(requests), sizes[i])
        result = profile_model(req, on_wait=on_wait, keep_trace=False, measure_overhead=False, max_seconds=max_seconds, max_bytes=max_bytes)
        t, m, f = _kind_totals(result)
        for kind in t:
            series.setdefault(kind, []).append(t[kind])
            mem_series.setdefault(kind, []).append(m[kind])
            flop_series.setdefault(kind, []).append(f[kind])
        tokens.append(req.tokens)
    out = ScalingResult(sizes=list(sizes), tokens=tokens, time_us=series, memory=mem_series, flops=flop_series)
    for kind in series:
        out.time_exponent[kind] = fit_exponent(tokens, series[kind])
        out.memory_exponent[kind] = fit_exponent(tokens, mem_series[kind])
        out.flops_exponent[kind] = fit_exponent(tokens, flop_series[kind])
    return out
