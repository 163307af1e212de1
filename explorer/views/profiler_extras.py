"""The profiler page's deeper tabs: a real LLM's prefill and decode, eager vs fused attention, and the
Python around the model (pyinstrument). Each runs only on a click and goes through the process-wide
profiler lock, as the main run does (:mod:`explorer.views.profiler`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go

from explorer.figures import profiler as figs
from explorer.profiling import ProfileRequest, ProfileResult, ProfilingError, format_bytes
from explorer.profiling.estimate import format_flops

if TYPE_CHECKING:
    from explorer.profiling.paths import PathComparison
    from explorer.profiling.phases import PhaseProfile

PAGE_MAX_SECONDS = 60.0  # refuse anything estimated longer: other sessions share the cores
LOCK_WAIT_SECONDS = 180.0  # the longest a click waits for another session's profiler run


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
        from explorer.views.profiler import pictures_view  # the main view imports this module

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
