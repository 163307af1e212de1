"""Train the dates model: `python -m explorer train dates`.

A small encoder-decoder Transformer (Vaswani et al. 2017) learns to rewrite human-written
dates as ISO "YYYY-MM-DD", character by character. Every batch is freshly generated from
the training calendar dates (:func:`explorer.tasks.dates.is_heldout` reserves 1 date in 10),
so the held-out sample is made of dates never seen in any format. Training follows the
paper's recipe where it matters at this size: Adam with beta2 = 0.98 and eps = 1e-9 and a
linear warm-up (Section 5.3), teacher forcing with a shifted target, cross-entropy loss;
then a cosine decay to zero instead of the inverse-square-root schedule, so a short run ends
at a settled minimum. Seeded end to end (model init, data, dropout) and reproducible on the
same machine and thread count.

Writes ``explorer/checkpoints/dates.pt`` (state dict) and ``dates.json`` (sidecar: config,
vocabulary, training settings, wall time, metrics), and the training scrubber's snapshots
(``dates_snapshots.pt``/``.json``, see :mod:`explorer.lab.snapshots`): copying the weights at
a few steps reads no random numbers, so the run is the same with or without them.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import torch
import torch.nn.functional as F

from explorer import CHECKPOINT_DIR, architectures
from explorer.analysis.alignment import alignment_report
from explorer.decoding import greedy_batch, pad_batch
from explorer.models import Transformer, TransformerConfig
from explorer.tasks import dates as dates_task
from explorer.tasks.dates import DateExample
from explorer.tasks.tokenizer import CharTokenizer

NAME = "dates"

DEFAULT_STEPS = 1500
DEFAULT_BATCH_SIZE = 64
DEFAULT_LR = 2e-3
DEFAULT_WARMUP = 100
HELDOUT_SEED = 20261126  # held-out sample: its own seed *and* held-out calendar dates only
HELDOUT_SIZE = 1700  # 100 per format
ALIGNMENT_SIZE = 500
DEFAULT_THREADS = 1


def make_config(tokenizer: CharTokenizer, **overrides: Any) -> TransformerConfig:
    """The shipped architecture: small, but every part of the paper's model is there."""
    base = architectures.dates(tokenizer.vocab_size, tokenizer.pad_id)
    return replace(base, **overrides)


def make_batch(
    examples: list[DateExample], tokenizer: CharTokenizer
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source ids + mask, decoder input ``<s> y1..yn`` + mask, and targets ``y1..yn </s>`` (pad = ignored)."""
    src, src_mask = pad_batch([tokenizer.encode(ex.text) for ex in examples], tokenizer.pad_id)
    target = [tokenizer.encode(ex.iso) for ex in examples]
    tgt_in, tgt_mask = pad_batch([[tokenizer.bos_id] + t for t in target], tokenizer.pad_id)
    tgt_out, _ = pad_batch([t + [tokenizer.eos_id] for t in target], tokenizer.pad_id)
    return src, src_mask, tgt_in, tgt_mask, tgt_out


def heldout_examples(n: int = HELDOUT_SIZE, seed: int = HELDOUT_SEED) -> list[DateExample]:
    """The fixed evaluation sample: held-out calendar dates only, every format equally often."""
    return dates_task.generate_examples(n, seed, split="heldout")


def evaluate(model: Transformer, tokenizer: CharTokenizer, examples: list[DateExample]) -> dict[str, Any]:
    """Exact-match accuracy of greedy decoding, overall and per format."""
    predictions = greedy_batch(model, tokenizer, [ex.text for ex in examples])
    per_format: dict[str, list[int]] = {}
    for ex, pred in zip(examples, predictions):
        counts = per_format.setdefault(ex.format, [0, 0])
        counts[0] += pred == ex.iso
        counts[1] += 1
    correct = sum(c for c, _ in per_format.values())
    return {
        "heldout_accuracy": correct / len(examples),
        "heldout_size": len(examples),
        "per_format_accuracy": {fmt: round(c / n, 4) for fmt, (c, n) in sorted(per_format.items())},
        "min_format_accuracy": min(c / n for c, n in per_format.values()),
        "errors": [(ex.text, ex.iso, p) for ex, p in zip(examples, predictions) if p != ex.iso][:10],
    }


def lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warm-up (Section 5.3) then cosine decay to zero."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class ProgressBar:
    """A dependency-free progress bar: redraws in place on a terminal, prints every 10% otherwise."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, enabled: bool = True, width: int = 30) -> None:
        self.total, self.stream, self.enabled, self.width = total, stream, enabled, width
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.start = time.perf_counter()
        self._last_decile = -1

    def update(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        frac = done / max(1, self.total)
        elapsed = time.perf_counter() - self.start
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        bar = "#" * int(self.width * frac) + "-" * (self.width - int(self.width * frac))
        line = f"[{bar}] {done}/{self.total} {elapsed:5.0f}s eta {eta:4.0f}s {note}"
        if self.tty:
            self.stream.write("\r" + line)
            if done >= self.total:
                self.stream.write("\n")
            self.stream.flush()
        elif int(frac * 10) != self._last_decile:
            self._last_decile = int(frac * 10)
            self.stream.write(line + "\n")
            self.stream.flush()


def train(
    seed: int = 0,
    steps: int = DEFAULT_STEPS,
    out_dir: str | Path | None = CHECKPOINT_DIR,
    progress: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lr: float = DEFAULT_LR,
    warmup: int = DEFAULT_WARMUP,
    heldout_size: int = HELDOUT_SIZE,
    alignment_size: int = ALIGNMENT_SIZE,
    config_overrides: dict[str, Any] | None = None,
    log: TextIO = sys.stdout,
    threads: int | None = DEFAULT_THREADS,
    snapshot_steps: Sequence[int] = (),
) -> dict[str, Any]:
    """Train from scratch, evaluate on the held-out sample, save to ``out_dir`` (None = don't save).

    Returns the metrics dict (also stored in the sidecar), plus ``model``/``tokenizer``/
    ``loss_history`` entries for callers such as tests (not written to JSON). ``threads``
    (default 1) pins torch's intra-op threads for the run and restores them afterwards: float
    sums depend on how work is split, so a fixed count makes the run reproducible bit for bit
    on any machine with the same CPU kernels, and this model is too small to gain much from more.
    ``snapshot_steps`` lists after how many optimizer steps to keep a float16 copy of the weights
    (0 = the initialisation); they come back as ``result["snapshots"]`` (step -> state dict).
    """
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _train(seed, steps, out_dir, progress, batch_size, lr, warmup, heldout_size, alignment_size,
                      config_overrides, log, tuple(snapshot_steps))
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    seed: int,
    steps: int,
    out_dir: str | Path | None,
    progress: bool,
    batch_size: int,
    lr: float,
    warmup: int,
    heldout_size: int,
    alignment_size: int,
    config_overrides: dict[str, Any] | None,
    log: TextIO,
    snapshot_steps: tuple[int, ...] = (),
) -> dict[str, Any]:
    tokenizer = CharTokenizer()
    config = make_config(tokenizer, **(config_overrides or {}))
    data_rng = random.Random(seed)
    loss_history: list[float] = []
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    started = time.perf_counter()
    cpu_started = time.process_time()
    with torch.random.fork_rng():  # the caller's global RNG state is left as it was
        torch.manual_seed(seed)
        model = Transformer(config)
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9)
        bar = ProgressBar(steps, enabled=progress)
        running = None
        for step in range(steps):
            if step in snapshot_steps:
                snapshots[step] = half_state(model)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, steps, lr, warmup)
            examples = dates_task.generate_examples(batch_size, data_rng.randrange(2**31), split="train")
            src, src_mask, tgt_in, tgt_mask, tgt_out = make_batch(examples, tokenizer)
            logits = model(src, tgt_in, src_mask, tgt_mask).logits
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=tokenizer.pad_id)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            value = loss.item()
            loss_history.append(value)
            running = value if running is None else 0.95 * running + 0.05 * value
            bar.update(step + 1, f"loss {running:.4f}")
            if progress and (step + 1) % max(1, steps // 5) == 0 and not bar.tty:
                print(f"step {step + 1}/{steps}  train loss {running:.4f}", file=log, flush=True)
    if steps in snapshot_steps:
        snapshots[steps] = half_state(model)
    model.eval()
    train_time = time.perf_counter() - started

    heldout = heldout_examples(heldout_size)
    metrics = evaluate(model, tokenizer, heldout)
    align = alignment_report(model, tokenizer, heldout[:alignment_size])
    metrics["alignment"] = align.best
    metrics["alignment_report"] = align.to_dict()
    metrics["final_train_loss"] = running
    wall_time = time.perf_counter() - started
    cpu_time = time.process_time() - cpu_started
    if progress:
        print(
            f"train loss {running:.4f} | held-out exact match {metrics['heldout_accuracy']:.2%} "
            f"(worst format {metrics['min_format_accuracy']:.2%}) | alignment {align.best:.2%} "
            f"(per layer {', '.join(f'{v:.2%}' for v in align.per_layer)}) | {wall_time:.0f}s",
            file=log,
            flush=True,
        )
    training = {
        "seed": seed,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "warmup": warmup,
        "schedule": "linear warm-up then cosine decay to 0",
        "optimizer": "Adam(betas=(0.9, 0.98), eps=1e-9), grad clip 1.0",
        "loss": "cross-entropy on <s>-shifted target, no label smoothing",
        "data": "fresh generated batches from training calendar dates (explorer.tasks.dates, split='train')",
        "source_format": "characters of the text, no special tokens",
        "target_format": "<s> + YYYY-MM-DD characters + </s>",
        "heldout": f"{heldout_size} examples, seed {HELDOUT_SEED}, held-out calendar dates only (never in training)",
        "train_time_s": round(train_time, 1),
        "wall_time_s": round(wall_time, 1),
        "cpu_time_s": round(cpu_time, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if out_dir is not None:
        save(model, tokenizer, training, metrics, Path(out_dir))
    result = dict(metrics)
    result.update({"training": training, "model": model, "tokenizer": tokenizer, "loss_history": loss_history,
                   "snapshots": snapshots})
    return result


def half_state(model: Transformer) -> dict[str, torch.Tensor]:
    """A float16 copy of the weights (half the bytes; the scrubber's snapshots)."""
    return {k: v.detach().to(torch.float16).clone() for k, v in model.state_dict().items()}


def sidecar(config: TransformerConfig, tokenizer: CharTokenizer, training: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """The JSON sidecar the zoo reads (``explorer.zoo.read_sidecar``): config, vocabulary, training settings, metrics."""
    return {
        "name": NAME,
        "kind": "transformer",
        "config": config.to_dict(),
        "vocab": tokenizer.vocab,
        "training": training,
        "metrics": {k: v for k, v in metrics.items() if k != "errors"} | {"sample_errors": metrics.get("errors", [])},
    }


def save(model: Transformer, tokenizer: CharTokenizer, training: dict[str, Any], metrics: dict[str, Any], out_dir: Path) -> Path:
    """Write ``dates.pt`` (state dict only, loadable with ``weights_only=True``) and ``dates.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{NAME}.pt"
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, weights)
    meta = sidecar(model.config, tokenizer, training, metrics)
    (out_dir / f"{NAME}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return weights


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `python -m explorer train dates` (the CLI dispatcher calls this)."""
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0: reproduces the shipped checkpoint)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"optimizer steps (default {DEFAULT_STEPS})")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help=f"batch size (default {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--lr", type=float, default=DEFAULT_LR, help=f"peak learning rate (default {DEFAULT_LR})")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"torch threads (default {DEFAULT_THREADS}, the setting the shipped checkpoint was made with)")
    parser.add_argument("--out-dir", type=Path, default=CHECKPOINT_DIR, help="where to write dates.pt and dates.json")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace | None = None) -> int:
    """Entry point for `python -m explorer train dates`; missing attributes fall back to defaults."""
    if args is None:
        parser = argparse.ArgumentParser(prog="python -m explorer train dates")
        add_cli_arguments(parser)
        args = parser.parse_args()
    steps = int(getattr(args, "steps", DEFAULT_STEPS) or DEFAULT_STEPS)
    batch_size = int(getattr(args, "batch_size", DEFAULT_BATCH_SIZE) or DEFAULT_BATCH_SIZE)
    threads = getattr(args, "threads", DEFAULT_THREADS)
    if steps < 1 or batch_size < 1 or (threads is not None and threads < 1):
        print("error: --steps, --batch-size and --threads must be at least 1", file=sys.stderr)
        return 2
    out_dir = getattr(args, "out_dir", None) or CHECKPOINT_DIR
    from explorer.lab.snapshots import SNAPSHOT_STEPS, save_snapshots

    result = train(
        seed=int(getattr(args, "seed", 0) or 0),
        steps=steps,
        out_dir=out_dir,
        progress=not (getattr(args, "quiet", False) or getattr(args, "no_progress", False)),
        batch_size=batch_size,
        lr=float(getattr(args, "lr", DEFAULT_LR) or DEFAULT_LR),
        threads=threads,
        snapshot_steps=[s for s in SNAPSHOT_STEPS if s < steps] + [steps],
    )
    if out_dir is not None:
        print(f"wrote {Path(out_dir) / (NAME + '.pt')} and {NAME}.json")
        print(f"wrote {save_snapshots(result, Path(out_dir))}")
    if result["heldout_accuracy"] < 0.97:
        print(f"warning: held-out accuracy {result['heldout_accuracy']:.2%} is below the 97% target; train longer (--steps)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
