"""Eager vs fused attention, side by side: what looking at the attention maps costs.

``F.scaled_dot_product_attention`` computes softmax(Q K^T / sqrt(d)) V in one fused kernel that
never stores the (B, h, T, T) weight matrix (on CPU a flash-attention-style tiled loop). Asking
for the maps forces the explicit path: the scores, the masked softmax and the weights are real
tensors, written to memory and read back. The same model and inputs are profiled both ways and
compared module by module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import torch

from explorer.profiling.estimate import format_bytes
from explorer.profiling.phases import Generator, PhaseProfile, profile_phases
from explorer.profiling.request import ProfileRequest, validate_request
from explorer.profiling.runner import ProfileResult, profile_model


@dataclass
class PathComparison:
    fused: ProfileResult
    eager: ProfileResult

    def frame(self) -> pd.DataFrame:
        """One row per attention module plus the whole model: ms per step and peak memory (KiB), both ways."""
        rows = []
        eager_rows = {r.path: r for r in self.eager.rows}
        for r in self.fused.rows:
            if r.category != "attention" and r.path != "(model)":
                continue
            e = eager_rows.get(r.path)
            if e is None:
                continue
            rows.append(
                {
                    "module": r.path,
                    "fused ms": r.total_median_us / 1e3,
                    "eager ms": e.total_median_us / 1e3,
                    "eager / fused": e.total_median_us / r.total_median_us if r.total_median_us > 0 else float("nan"),
                    "fused peak KiB": r.cpu_mem_peak / 1024,
                    "eager peak KiB": e.cpu_mem_peak / 1024,
                }
            )
        return pd.DataFrame.from_records(rows)

    def attention_totals(self) -> tuple[float, float]:
        """Summed median time (us) of every attention module, fused and eager."""
        def total(result: ProfileResult) -> float:
            return sum(r.total_median_us for r in result.rows if r.category == "attention")

        return total(self.fused), total(self.eager)

    def statement(self) -> str:
        fused_us, eager_us = self.attention_totals()
        ratio = eager_us / fused_us if fused_us > 0 else float("nan")
        f_peak = self.fused.rows[0].cpu_mem_peak
        e_peak = self.eager.rows[0].cpu_mem_peak
        req = self.fused.request
        cfg = req.resolved_config()
        heads, tokens = cfg.n_heads, req.tokens
        weights = 4 * req.batch_size * heads * tokens * tokens
        text = (
            f"Attention with the maps (eager): {eager_us / 1e3:.2f} ms per step, fused: {fused_us / 1e3:.2f} ms (x{ratio:.2f}); "
            f"model peak memory {format_bytes(e_peak)} eager vs {format_bytes(f_peak)} fused. One layer's weights are "
            f"batch x heads x T x T floats = {format_bytes(weights)} here, a tensor the fused kernel never stores."
        )
        if not math.isnan(ratio) and ratio < 1.0:
            text += (
                " The eager path measured faster: at this size the fused kernel's fixed cost dominates or the difference "
                "is within the machine's noise; it is not evidence that storing the maps is free."
            )
        return text


def compare_attention_paths(request: ProfileRequest, **kwargs: Any) -> PathComparison:
    """Profile ``request`` with fused attention and again with the explicit (eager) path; no traces."""
    kwargs.setdefault("keep_trace", False)
    fused = profile_model(validate_request(replace(request, attention_path="fused")), **kwargs)
    eager = profile_model(validate_request(replace(request, attention_path="eager")), **kwargs)
    return PathComparison(fused, eager)


@dataclass
class PhasePathComparison:
    fused: PhaseProfile
    eager: PhaseProfile

    def frame(self) -> pd.DataFrame:
        """Per phase: attention ms, phase ms and tokens/s both ways."""
        rows = []
        for phase in ("prefill", "decode"):
            f, e = self.fused.table(phase), self.eager.table(phase)
            fa = sum(r.total_us for r in f.rows if r.category == "attention")
            ea = sum(r.total_us for r in e.rows if r.category == "attention")
            rows.append(
                {
                    "phase": phase, "fused attention ms": fa / 1e3, "eager attention ms": ea / 1e3,
                    "eager / fused": ea / fa if fa > 0 else float("nan"),
                    "fused tokens/s": f.tokens_per_s, "eager tokens/s": e.tokens_per_s,
                }
            )
        return pd.DataFrame.from_records(rows)


def compare_phase_paths(gen: Generator, prompt_ids: torch.Tensor, new_tokens: int, **kwargs: Any) -> PhasePathComparison:
    fused = profile_phases(gen, prompt_ids, new_tokens, attention_path="fused", **kwargs)
    eager = profile_phases(gen, prompt_ids, new_tokens, attention_path="eager", **kwargs)
    return PhasePathComparison(fused, eager)
