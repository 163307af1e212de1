"""Sentences the profiler shows next to its numbers, computed from those numbers.

A caption that promises "about 1 and toward 2" next to a measured 0.25 teaches the wrong thing,
so every claim here is checked against the run it describes: where the measurement cannot show
an effect (noise larger than the effect, a range too short for the quadratic term), the sentence
says so instead of asserting the effect.
"""

from __future__ import annotations

import math

from explorer.profiling.estimate import format_bytes
from explorer.profiling.runner import ProfileResult
from explorer.profiling.scaling import (
    ScalingResult,
    closed_form_attention_exponent,
    fit_exponent,
    local_attention_exponent,
)

AGREE_WITHIN = 0.2  # exponents this close count as agreeing (the bench's target)
NOISY_SE = 0.15  # a fitted exponent with a larger standard error cannot separate 1.2 from 1.5


def overhead_statement(result: ProfileResult) -> str:
    """The profiler's cost, with its noise band; a ratio below 1 is called noise, never a speed-up."""
    ratio = result.overhead_ratio
    if math.isnan(ratio):
        return "Profiler overhead: not measured for this run."
    low, high = result.overhead_range
    band = "" if math.isnan(low) else f" (quartile band x{low:.2f}-x{high:.2f})"
    base = (
        f"Profiler overhead x{ratio:.2f}{band}: median profiled step over median plain step, "
        f"{len(result.wall_profiled_s)} profiled and {len(result.wall_plain_s)} plain steps."
    )
    if ratio < 1.0:
        return base + (
            " A profiled step cannot be faster than a plain one: a ratio below 1 is the shared machine's noise, "
            "and the profiler's real cost here is smaller than that noise."
        )
    if not math.isnan(low) and low <= 1.0:
        return base + " The band includes 1: on this machine the profiler's cost is within the noise between steps."
    return base + " Each module scope and operator record costs a little; small models feel it most."


def memory_statement(result: ProfileResult) -> str:
    """Estimated vs measured peak, like with like: activations only on both sides (weights excluded)."""
    est = result.estimate
    measured = result.rows[0].cpu_mem_peak if result.rows else 0.0
    resident = "weights and gradients" if result.request.mode == "train" else "weights"
    return (
        f"Activation memory, weights excluded on both sides: estimated ~{format_bytes(est.activation_bytes)} before the run "
        f"(deliberately on the high side), measured peak {format_bytes(measured)} inside the model's forward above the level "
        f"at its start. The estimate's full peak ~{format_bytes(est.peak_bytes)} adds the {resident} "
        f"({format_bytes(est.resident_bytes)}), which were allocated before the step and so never appear in a measured peak."
    )


def scaling_statement(sweep: ScalingResult) -> str:
    """Expected vs measured attention exponent over the swept range, and whether noise hides it."""
    d = sweep.d_model
    tokens = sweep.tokens
    if len(tokens) < 2 or d <= 0:
        return "Too few sizes to fit a slope."
    lo, hi = tokens[0], tokens[-1]
    upper = tokens[len(tokens) // 2 - (len(tokens) % 2 == 0) :] if len(tokens) > 3 else tokens
    expected = closed_form_attention_exponent(tokens, sweep.attention_linear_per_token, d) if sweep.attention_linear_per_token else float("nan")
    flop_k = sweep.flops_exponent.get("attention", float("nan"))
    time_k = sweep.time_exponent.get("attention", float("nan"))
    se = sweep.time_exponent_se.get("attention", float("nan"))
    ff_k = sweep.time_exponent.get("feed_forward", float("nan"))
    net_k = sweep.net_time_exponent.get("attention", float("nan"))
    parts = [
        f"Attention FLOPs per call are 8Td² + 4T²d (projections + the two products), so the local log-log slope is "
        f"1 + T/(T+2d): {local_attention_exponent(lo, d):.2f} at T = {lo} and {local_attention_exponent(hi, d):.2f} at "
        f"T = {hi} (d = {d}, T/d up to {hi / d:.1f}).",
        f"Fitted over the upper half (T = {upper[0]}-{upper[-1]}): counted FLOPs grow as T^{flop_k:.2f}"
        + (f" (closed form T^{expected:.2f})" if not math.isnan(expected) else "")
        + f", measured attention time ({sweep.clock}, profiler off) as T^{time_k:.2f} ± {se:.2f} (standard error over the per-step samples)"
        + (f", feed-forward time as T^{ff_k:.2f} (FLOPs: T^1.00)." if not math.isnan(ff_k) else "."),
    ]
    if hi < 4 * d:
        parts.append(
            f"This sweep stops at T = {hi / d:.1f} d_model: the quadratic term is still small there, so a slope near 1 "
            "is what the maths predicts, not a failure of the measurement. Sweep to T = 8 d_model to see it."
        )
    if math.isnan(time_k) or math.isnan(flop_k):
        parts.append("The fit failed (too few positive times); no exponent is claimed.")
    elif not math.isnan(se) and se > NOISY_SE:
        parts.append(
            f"The standard error ({se:.2f}) is larger than the effect this sweep can show: on this machine, now, the noise "
            "between steps hides the difference between linear and quadratic growth. Rerun when the machine is quieter "
            "or with more active steps."
        )
    elif abs(time_k - flop_k) <= max(AGREE_WITHIN, 2 * (se if not math.isnan(se) else 0.0)):
        parts.append(f"Measured and counted exponents agree within {max(AGREE_WITHIN, 2 * se):.2f}: time follows the FLOPs here.")
    elif time_k < flop_k:
        parts.append(
            f"Time grows more slowly than the FLOPs (by {flop_k - time_k:.2f}): fixed costs per operator call (Python and "
            "the dispatcher) are the same at every T and still weigh at the small end, and the fused kernel runs "
            "faster per FLOP on larger tiles. The quadratic term shows, diluted."
            + (f" Taking away the time at T = {lo} (almost all fixed cost) leaves work growing as T^{net_k:.2f}."
               if not math.isnan(net_k) else "")
        )
    else:
        parts.append(
            f"Time grows faster than the FLOPs (by {time_k - flop_k:.2f}): at the top of the sweep the T x T work no "
            "longer fits in the CPU caches, so memory traffic, not arithmetic, sets the pace."
        )
    return " ".join(parts)


def exponent_rows(sweep: ScalingResult) -> list[dict[str, object]]:
    """One row per kind: time exponent (± standard error) beside the FLOP and memory exponents."""
    rows = []
    for kind, time_k in sweep.time_exponent.items():
        rows.append(
            {
                "kind": kind,
                "time exponent": round(time_k, 2),
                "± (std. error)": round(sweep.time_exponent_se.get(kind, float("nan")), 2),
                "time above smallest size, exponent": round(sweep.net_time_exponent.get(kind, float("nan")), 2),
                "FLOP exponent": round(sweep.flops_exponent.get(kind, float("nan")), 2),
                "memory exponent": round(sweep.memory_exponent.get(kind, float("nan")), 2),
                "largest step spread": f"{100 * max(sweep.time_spread.get(kind, [0.0])):.0f}%",
            }
        )
    return rows


__all__ = ["exponent_rows", "fit_exponent", "memory_statement", "overhead_statement", "scaling_statement"]
