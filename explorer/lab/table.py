"""``python -m explorer lab-train``: every lab variant trained on the dates task, same budget, same seed.

The shipped table (``explorer/checkpoints/lab_table.json``) holds, per variant, the held-out
exact-match accuracy and loss, the cross-attention alignment, the training-loss curve and
the training time. The variants are the original Transformer, each switch alone, and all
switches together (PaLM's recipe at this scale): see :func:`explorer.lab.switches.trained_variants`.

The budget is deliberately small (300 steps each, about 7 CPU-minutes for all nine runs on one
thread; the wall time depends on what else shares the machine): it ranks how fast each variant
learns, not where it ends.
The shipped dates model trains 1500 steps with the same recipe (Adam beta2 0.98, linear
warm-up then cosine decay, seeded data). Same seed means the same data stream and the same
initialisation *procedure*; switches that add or remove parameters necessarily change which
random numbers land where.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from explorer.lab.costs import count_params
from explorer.lab.switches import apply_switches, lab_base_config, parse_switches, trained_variants, variant_name

TABLE_PATH = Path(__file__).resolve().parent.parent / "checkpoints" / "lab_table.json"


@dataclass(frozen=True)
class Budget:
    """What every variant gets: identical for all, recorded in the table."""

    steps: int = 300
    batch_size: int = 64
    lr: float = 2e-3
    warmup: int = 30
    seed: int = 0
    heldout_size: int = 850  # 50 per date format, held-out calendar dates only
    alignment_size: int = 200
    curve_every: int = 10  # the loss curve keeps the mean of every `curve_every` steps

    def validate(self) -> None:
        for name in ("steps", "batch_size", "heldout_size", "curve_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 0 <= self.warmup < self.steps:
            raise ValueError(f"warmup must be between 0 and steps - 1 ({self.steps - 1})")
        if not 0 < self.lr <= 1:
            raise ValueError(f"lr must be in (0, 1], got {self.lr}")


def heldout_loss(model: torch.nn.Module, tokenizer: Any, examples: list[Any]) -> float:
    """Teacher-forced cross-entropy per target token on the held-out sample (what training minimises)."""
    from explorer.training.dates import make_batch

    src, src_mask, tgt_in, tgt_mask, tgt_out = make_batch(examples, tokenizer)
    with torch.inference_mode():
        logits = model(src, tgt_in, src_mask, tgt_mask).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=tokenizer.pad_id)
    return float(loss)


def _curve(losses: list[float], every: int) -> list[list[float]]:
    """[[last step of the window, mean loss]] per window of ``every`` steps."""
    out = []
    for start in range(0, len(losses), every):
        window = losses[start : start + every]
        out.append([start + len(window), round(sum(window) / len(window), 5)])
    return out


def train_variant(switches: tuple[str, ...], budget: Budget) -> dict[str, Any]:
    """Train one mix from scratch with ``budget``; return its row of the table."""
    from explorer.training.dates import heldout_examples, train

    config = apply_switches(lab_base_config(), switches)
    result = train(
        seed=budget.seed, steps=budget.steps, out_dir=None, progress=False, batch_size=budget.batch_size,
        lr=budget.lr, warmup=budget.warmup, heldout_size=budget.heldout_size, alignment_size=budget.alignment_size,
        config_overrides={k: getattr(config, k) for k in ("norm_first", "activation", "parallel", "n_kv_heads",
                                                          "positions", "tie_embeddings", "bias")},
    )
    loss = heldout_loss(result["model"], result["tokenizer"], heldout_examples(budget.heldout_size))
    return {
        "name": variant_name(switches),
        "switches": list(switches),
        "params": count_params(config),
        "heldout_accuracy": round(result["heldout_accuracy"], 4),
        "min_format_accuracy": round(result["min_format_accuracy"], 4),
        "heldout_loss": round(loss, 5),
        "alignment": round(result["alignment"], 4),
        "final_train_loss": round(result["final_train_loss"], 5),
        "loss_curve": _curve(result["loss_history"], budget.curve_every),
        "train_time_s": result["training"]["train_time_s"],
        "cpu_time_s": result["training"]["cpu_time_s"],
    }


def build_table(budget: Budget, variants: tuple[tuple[str, ...], ...] | None = None, log: Any = sys.stderr) -> dict[str, Any]:
    """Train every variant in turn (one thread each, as the shipped dates model) and collect the table."""
    budget.validate()
    rows = []
    started = time.perf_counter()
    for switches in variants or trained_variants():
        row = train_variant(switches, budget)
        rows.append(row)
        print(
            f"{row['name']:>10}: held-out {row['heldout_accuracy']:.1%}, loss {row['heldout_loss']:.4f}, "
            f"alignment {row['alignment']:.1%}, {row['params']} params, {row['train_time_s']:.0f}s",
            file=log, flush=True,
        )
    return {
        "task": "dates",
        "budget": budget.__dict__,
        "base_config": lab_base_config().to_dict(),
        "torch": torch.__version__,
        "threads": 1,
        "total_wall_time_s": round(time.perf_counter() - started, 1),
        "variants": rows,
    }


def read_table(path: Path = TABLE_PATH) -> dict[str, Any] | None:
    """The shipped table, or None when it is missing or unreadable (the lab page says so)."""
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(table, dict) or not isinstance(table.get("variants"), list):
        return None
    return table


def main(args: argparse.Namespace) -> int:
    """Entry point of `python -m explorer lab-train`."""
    budget = Budget(steps=args.steps, seed=args.seed, warmup=min(Budget().warmup, max(0, args.steps - 1)))
    try:
        budget.validate()
        variants = (parse_switches(args.only),) if args.only is not None else None
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    table = build_table(budget, variants)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {out} ({len(table['variants'])} variants, {table['total_wall_time_s']:.0f}s)")
    return 0
