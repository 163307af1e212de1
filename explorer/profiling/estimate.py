"""Estimate a run's cost *before* running it, so oversized configs are refused with numbers.

Closed-form counts from the config, in microseconds, whatever the size (tests check the
FLOP formula against ``FlopCounterMode`` exactly). Convention: a multiply-add is 2 FLOPs and
only matrix products are counted, as ``torch.utils.flop_counter`` does.

* A linear layer d_in -> d_out costs 2 d_in d_out FLOPs per token.
* Attention's two products (Q K^T and weights x V; Vaswani et al. 2017, Eq. 1) cost
  2 x 2 x T_q x T_k x d_head per head: the only term quadratic in the sequence length.
* Backward costs about twice the forward (a gradient for the input and one for the weight
  of every product), so a train step is ~3x a forward step.

Time is FLOPs over a throughput measured once on this machine, plus a fixed cost per
operator call (dispatcher and profiler bookkeeping dominate small models). Memory is
parameters (plus gradients and saved activations when training) plus the largest live
activations; deliberately on the high side.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass

import torch

from explorer.models import TransformerConfig, ViTConfig
from explorer.profiling.request import ProfileRequest, ProfilingError

BYTES = 4  # float32
# Per-op cost of a profiled step on CPU: Python dispatch + profiler event + memory record.
PER_OP_SECONDS = 40e-6
# Profiled steps cost more than plain ones; used for the wall-time estimate only.
PROFILED_FACTOR = 2.0
TRAIN_FACTOR = 3.0
DEFAULT_MAX_SECONDS = 60.0
# Operator calls per layer and fixed per model (counted once from the profiler's operator table).
OPS_PER_ENCODER_LAYER = 45
OPS_PER_DECODER_LAYER = 75
OPS_FIXED = 40


def default_max_bytes() -> int:
    """Half the machine's physical memory, capped at 4 GiB: other sessions need room too."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return int(min(4 * 2**30, total // 2))


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; negative values keep their sign."""
    sign = "-" if n < 0 else ""
    value = abs(float(n))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{sign}{value:.0f} {unit}" if unit == "B" else f"{sign}{value:.1f} {unit}"
        value /= 1024
    return f"{sign}{value:.1f} GiB"  # pragma: no cover - loop always returns


def format_flops(n: float) -> str:
    """2.5e9 -> '2.50 GFLOP'."""
    value = float(n)
    for unit in ("FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP"):
        if abs(value) < 1000 or unit == "PFLOP":
            return f"{value:.0f} {unit}" if unit == "FLOP" else f"{value:.2f} {unit}"
        value /= 1000
    return f"{value:.2f} PFLOP"  # pragma: no cover


@functools.lru_cache(maxsize=1)
def cpu_flops_per_second() -> float:
    """Measured float32 matmul throughput of this process (a 256^3 product, best of 20 after one warm-up).

    Measured once per process and used for every estimate, so it must not catch a busy moment: the first
    product pays for thread-pool start-up, and on a shared machine most repetitions are interrupted (a best
    of 5 taken under load can read several times too slow, and the page then never auto-runs for the life
    of the server). The best of many is the machine's own speed; each repetition is ~1 ms.
    """
    a = torch.randn(256, 256)
    b = torch.randn(256, 256)
    a @ b
    best = float("inf")
    for _ in range(20):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return max(1e9, 2 * 256**3 / max(best, 1e-9))


def attention_linear_flops_per_token(d_model: int, n_heads: int, n_kv_heads: int | None) -> int:
    """Q, K, V and output projections of one attention module, per query token (K/V: fewer heads for GQA/MQA)."""
    d_head = d_model // n_heads
    kv = (n_kv_heads or n_heads) * d_head
    return 2 * (d_model * d_model + 2 * d_model * kv + d_model * d_model)


def attention_product_flops(batch: int, n_heads: int, d_head: int, t_q: int, t_k: int) -> int:
    """Q K^T and weights x V (Eq. 1): 2 products x 2 FLOPs x T_q x T_k x d_head, per head and sequence."""
    return 2 * 2 * batch * n_heads * t_q * t_k * d_head


def feed_forward_flops_per_token(d_model: int, d_ff: int, activation: str) -> int:
    """Section 3.3's two matrices (three with SwiGLU's gate)."""
    return 2 * d_model * d_ff * (3 if activation == "swiglu" else 2)


def forward_flops(config: TransformerConfig | ViTConfig, batch: int, size: int) -> int:
    """Matmul FLOPs of one forward pass; ``size`` is the sequence length (text) or image side (ViT)."""
    d, h = config.d_model, config.n_heads
    attn_lin = attention_linear_flops_per_token(d, h, config.n_kv_heads)
    ffn = feed_forward_flops_per_token(d, config.d_ff, config.activation)
    d_head = d // h
    if isinstance(config, TransformerConfig):
        t = size
        tokens = batch * t
        encoder = config.n_encoder_layers * (tokens * (attn_lin + ffn) + attention_product_flops(batch, h, d_head, t, t))
        decoder = config.n_decoder_layers * (
            tokens * (2 * attn_lin + ffn) + 2 * attention_product_flops(batch, h, d_head, t, t)
        )
        generator = 2 * tokens * d * config.tgt_vocab_size
        return encoder + decoder + generator
    patches = (size // config.patch_size) ** 2
    n = 1 + patches
    patch_embed = 2 * batch * patches * config.patch_size**2 * config.in_channels * d
    layers = config.n_layers * (batch * n * (attn_lin + ffn) + attention_product_flops(batch, h, d_head, n, n))
    head = 2 * batch * d * config.n_classes
    return patch_embed + layers + head


def parameter_count(config: TransformerConfig | ViTConfig) -> int:
    """Parameters implied by a config (close to exact; used to refuse configs before allocating them)."""
    d, dff = config.d_model, config.d_ff
    kv = (config.n_kv_heads or config.n_heads) * (d // config.n_heads)
    bias = 1 if config.bias else 0
    attn = 2 * d * d + 2 * d * kv + bias * (2 * d + 2 * kv)
    mats = 3 if config.activation == "swiglu" else 2
    ffn = mats * d * dff + bias * ((mats - 1) * dff + d)
    norm = 2 * d
    if isinstance(config, TransformerConfig):
        embed = (config.src_vocab_size + config.tgt_vocab_size) * d
        if config.positions == "learned":
            embed += 2 * config.max_len * d
        encoder = config.n_encoder_layers * (attn + ffn + 2 * norm)
        decoder = config.n_decoder_layers * (2 * attn + ffn + 3 * norm)
        finals = 2 * norm if config.norm_first else 0
        generator = 0 if config.tie_embeddings else d * config.tgt_vocab_size
        return embed + encoder + decoder + finals + generator + bias * config.tgt_vocab_size
    patch = config.patch_size**2 * config.in_channels * d + bias * d
    pos = (1 + config.n_patches) * d if config.positions == "learned" else 0
    layers = config.n_layers * (attn + ffn + 2 * norm)
    head = d * config.n_classes + bias * config.n_classes
    return patch + d + pos + layers + norm + head


@dataclass(frozen=True)
class Estimate:
    """Predicted cost of a request: FLOPs per step, parameters, peak memory and wall time."""

    flops_per_step: int
    params: int
    param_bytes: int
    ops_per_step: int
    peak_bytes: int
    seconds: float
    activation_bytes: int = 0

    @property
    def resident_bytes(self) -> int:
        """What the peak holds before the step starts: parameters (and their gradients when training)."""
        return self.peak_bytes - self.activation_bytes

    def summary(self) -> str:
        return (
            f"about {format_flops(self.flops_per_step)} and ~{self.ops_per_step} operator calls per step, "
            f"{self.params / 1e6:.2f} M parameters, peak memory ~{format_bytes(self.peak_bytes)} "
            f"(weights{' + gradients' if self.resident_bytes > self.param_bytes else ''} {format_bytes(self.resident_bytes)} "
            f"+ activations {format_bytes(self.activation_bytes)}), ~{self.seconds:.1f} s in total"
        )


def estimate(request: ProfileRequest) -> Estimate:
    """Closed-form cost of a request (see the module docstring for the formulas)."""
    config = request.resolved_config()
    batch = request.batch_size
    size = request.seq_len if request.model == "transformer" else request.image_size
    flops = forward_flops(config, batch, size)
    train = request.mode == "train"
    if train:
        flops = int(flops * TRAIN_FACTOR)
    params = parameter_count(config)
    param_bytes = params * BYTES
    d, h = config.d_model, config.n_heads
    if isinstance(config, TransformerConfig):
        t, layers, vocab = size, config.n_encoder_layers + config.n_decoder_layers, config.tgt_vocab_size
        ops = OPS_FIXED + OPS_PER_ENCODER_LAYER * config.n_encoder_layers + OPS_PER_DECODER_LAYER * config.n_decoder_layers
    else:
        t, layers, vocab = 1 + (size // config.patch_size) ** 2, config.n_layers, config.n_classes
        ops = OPS_FIXED + OPS_PER_ENCODER_LAYER * config.n_layers
    width = 6 * d + 3 * config.d_ff
    live = BYTES * batch * (t * width + t * vocab + h * t * t)
    if train:
        saved_per_layer = BYTES * batch * (t * (10 * d + 3 * config.d_ff) + h * t * t)
        activations = layers * saved_per_layer + live
        peak = 2 * param_bytes + activations
        ops *= 3
    else:
        activations = live
        peak = param_bytes + live
    per_step = flops / cpu_flops_per_second() + ops * PER_OP_SECONDS
    if request.device == "cuda":
        per_step = ops * PER_OP_SECONDS
    steps = request.total_steps + request.warmup + request.active + 1  # profiled + unprofiled reference + FLOP pass
    seconds = steps * per_step * PROFILED_FACTOR
    return Estimate(
        flops_per_step=int(flops), params=int(params), param_bytes=int(param_bytes), ops_per_step=int(ops),
        peak_bytes=int(peak), seconds=float(seconds), activation_bytes=int(activations),
    )


def check_budget(
    request: ProfileRequest, max_seconds: float = DEFAULT_MAX_SECONDS, max_bytes: int | None = None
) -> Estimate:
    """Estimate, then refuse (:class:`ProfilingError` quoting the estimate) if it is over budget."""
    est = estimate(request)
    limit = default_max_bytes() if max_bytes is None else max_bytes
    if est.peak_bytes > limit:
        raise ProfilingError(
            f"refused: estimated peak memory {format_bytes(est.peak_bytes)} exceeds the {format_bytes(limit)} budget "
            f"({format_flops(est.flops_per_step)}/step); use a smaller batch, sequence or model"
        )
    if est.seconds > max_seconds:
        raise ProfilingError(
            f"refused: estimated {est.seconds:.0f} s (> {max_seconds:.0f} s budget) for "
            f"{format_flops(est.flops_per_step)}/step x {request.total_steps} steps; use fewer steps or a smaller config"
        )
    return est
