"""Measured latency of a lab variant: prefill and per generated token.

The encoder-decoder has no key/value cache (:mod:`explorer.decoding` re-runs the decoder on
the growing prefix so every step stays inspectable), so a generated token costs a decoder pass
over the whole prefix, and multi-query attention's smaller cache cannot pay off here: its
saving shows in :func:`explorer.lab.costs.kv_cache_bytes`, not in these timings. What we time
is exactly what the Transformer page does:

* **prefill**: encode the source once and run the decoder on ``<s>`` (first token's logits);
* **per generated token**: one decoder pass over a prefix of 2, 3, ... tokens (memory reused),
  each step timed separately, averaged over ``new_tokens`` steps.

Each figure is the best of ``repeats`` runs: on a shared machine other work only ever adds
time, so the minimum is the most repeatable estimate of the model's own cost. Weights are a
fresh seeded initialisation: latency does not depend on what the weights learned.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from explorer.models import Transformer, TransformerConfig

DEFAULT_TEXT = "Thursday, 26 November 2026"
MAX_REPEATS = 50
MAX_NEW_TOKENS = 32


@dataclass(frozen=True)
class Latency:
    """Best-of-``repeats`` and median milliseconds, plus how they were measured."""

    prefill_ms: float
    per_token_ms: float
    prefill_median_ms: float
    per_token_median_ms: float
    src_len: int
    new_tokens: int
    repeats: int
    threads: int


def _time(fn: object, repeats: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return min(samples) * 1e3, statistics.median(samples) * 1e3


def measure_latency(
    config: TransformerConfig, src_len: int = len(DEFAULT_TEXT), new_tokens: int = 11, repeats: int = 25, seed: int = 0
) -> Latency:
    """Time prefill and per-token decoding of ``Transformer(config)`` on one sequence (batch 1)."""
    if not 1 <= repeats <= MAX_REPEATS:
        raise ValueError(f"repeats must be between 1 and {MAX_REPEATS}, got {repeats}")
    if not 1 <= new_tokens <= min(MAX_NEW_TOKENS, config.max_len - 1):
        raise ValueError(f"new_tokens must be between 1 and {min(MAX_NEW_TOKENS, config.max_len - 1)}, got {new_tokens}")
    if not 1 <= src_len <= config.max_len:
        raise ValueError(f"src_len must be between 1 and {config.max_len}, got {src_len}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = Transformer(config).eval()
        src = torch.randint(4, config.src_vocab_size, (1, src_len))
        tgt = torch.randint(4, config.tgt_vocab_size, (1, new_tokens + 1))
    with torch.inference_mode():
        memory, _ = model.encode(src)

        def prefill() -> None:
            mem, _ = model.encode(src)
            model.decode(tgt[:, :1], mem)

        def generate() -> None:
            for length in range(2, new_tokens + 2):
                model.decode(tgt[:, :length], memory)

        prefill()  # warm-up: first calls allocate and pick kernels
        prefill_best, prefill_median = _time(prefill, repeats)
        # Each step timed on its own (a whole 11-step loop would usually be cut by the scheduler).
        steps = [_time(lambda n=length: model.decode(tgt[:, :n], memory), repeats) for length in range(2, new_tokens + 2)]
        gen_best, gen_median = sum(b for b, _ in steps), sum(m for _, m in steps)
    return Latency(
        prefill_ms=prefill_best, per_token_ms=gen_best / new_tokens, prefill_median_ms=prefill_median,
        per_token_median_ms=gen_median / new_tokens, src_len=src_len, new_tokens=new_tokens, repeats=repeats,
        threads=torch.get_num_threads(),
    )
