"""The ViT training scrubber: the shapes ViT at nine points of its training run.

The dates scrubber (:mod:`explorer.lab.snapshots`) shows cross-attention forming; this one
shows the [CLS] attention settling on the object (Dosovitskiy et al. 2021, Section 4.5; rollout
of Abnar & Zuidema 2020). ``python -m explorer snapshots shapes`` retrains the shapes ViT with
the shipped seed and settings, WITHOUT touching ``shapes.pt``, keeps a float16 copy of the
weights after each step in :data:`SNAPSHOT_STEPS` (0 = the initialisation) and writes them with
each one's held-out accuracy and rollout-box ratio and the training-loss curve.

The run uses one CPU thread (the shipped ``shapes.pt`` was made with two; a different thread
count reorders floating-point sums, so the last snapshot is close to, not bit-equal to, the
shipped weights; the sidecar records how close). The file format (flat ``"<step>/<param>"``
state dicts) and the read-only sharing follow the dates scrubber.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from explorer import CHECKPOINT_DIR
from explorer.lab.snapshots import Snapshots, _unflatten, frozen, loss_curve, max_abs_difference, write_states
from explorer.models import ViT, ViTConfig

WEIGHTS_NAME = "shapes_snapshots.pt"
SIDECAR_NAME = "shapes_snapshots.json"
COMMAND = "python -m explorer snapshots shapes"
# Dense early, where the [CLS] attention moves fastest; 9 x 0.28 MB float16 < 3 MB.
SNAPSHOT_STEPS: tuple[int, ...] = (0, 100, 250, 500, 1000, 1500, 2500, 4000, 6000)
CURVE_EVERY = 50
THREADS = 1

_lock = threading.Lock()


def shipped_settings(directory: Path = CHECKPOINT_DIR) -> Any:
    """The ``TrainSettings`` of the shipped ``shapes.json`` (seed, steps, optimiser, data pool)."""
    from explorer.training.shapes import TrainSettings

    meta = json.loads((directory / "shapes.json").read_text(encoding="utf-8"))
    names = {f.name for f in fields(TrainSettings)} - {"config"}
    return TrainSettings(**{k: v for k, v in meta["training"].items() if k in names}, config=meta["config"])


def train_run(settings: Any, progress: bool = True, log: Any = print) -> tuple[ViT, dict[str, Any]]:
    """Train the shapes ViT per ``settings`` on :data:`THREADS` thread(s), keeping the snapshots."""
    from explorer.training.shapes import train_model

    torch.set_num_threads(THREADS)
    steps = [s for s in SNAPSHOT_STEPS if s < settings.steps] + [settings.steps]
    return train_model(settings, progress=progress, log=log, snapshot_steps=steps)


def evaluate_snapshots(config: ViTConfig, snapshots: dict[int, dict[str, torch.Tensor]], heldout_size: int) -> list[dict[str, Any]]:
    """Held-out accuracy and rollout-box ratios of each snapshot as the page runs it (float16 weights).

    ``rollout_box_ratio_patches``: share of the [CLS] rollout on the patches overlapping the shape's
    box over those patches' share of the image (1 = no better than a uniform map); see
    :func:`explorer.training.shapes.evaluate`.
    """
    from explorer.training.shapes import evaluate, heldout_set

    images, labels, boxes = heldout_set(heldout_size)
    rows = []
    for step in sorted(snapshots):
        metrics = evaluate(build_model(config, snapshots[step]), images, labels, boxes)
        rows.append({"step": step, **{k: round(float(metrics[k]), 4) for k in
                                       ("heldout_accuracy", "rollout_box_ratio", "rollout_box_ratio_patches", "uniform_box_ratio")}})
    return rows


def build_model(config: ViTConfig, state: dict[str, torch.Tensor]) -> ViT:
    """A frozen float32 ViT from a (float16) state dict."""
    return frozen(ViT(config), state)


def save_snapshots(model: ViT, record: dict[str, Any], settings: Any, out_dir: Path) -> Path:
    """Evaluate and write the snapshots of a finished :func:`train_run`; returns the weights path."""
    snapshots: dict[int, dict[str, torch.Tensor]] = record["snapshots"]
    rows = evaluate_snapshots(model.config, snapshots, settings.heldout_size)
    curve = loss_curve(record["loss_history"], CURVE_EVERY)
    shipped_meta = json.loads((CHECKPOINT_DIR / "shapes.json").read_text(encoding="utf-8"))
    weights = write_states(snapshots, out_dir / WEIGHTS_NAME)
    meta = {
        "name": "shapes",
        "config": model.config.to_dict(),
        "classes": shipped_meta["classes"],
        "preprocess": shipped_meta["preprocess"],
        "dtype": "float16",
        "steps": [row["step"] for row in rows],
        # How far this run's final (float32) weights are from the shipped shapes.pt (0 = the same run).
        "max_abs_difference_to_shapes_pt": max_abs_difference(model, CHECKPOINT_DIR / "shapes.pt"),
        "shipped_heldout_accuracy": shipped_meta["metrics"]["heldout_accuracy"],
        "snapshots": rows,
        "loss_curve": curve,
        "curve_every": CURVE_EVERY,
        "training": {
            "seed": settings.seed, "steps": settings.steps, "batch_size": settings.batch_size, "lr": settings.lr,
            "threads": THREADS, "shipped_threads": shipped_meta["training"]["threads"], "torch": torch.__version__,
            "wall_time_s": round(record["wall_time_s"], 1), "cpu_time_s": round(record["cpu_time_s"], 1),
            "budget": "the full shipped budget" if settings.steps == shipped_meta["training"]["steps"]
            else f"SHORTER than the shipped model's {shipped_meta['training']['steps']} steps",
            "command": COMMAND,
        },
        "heldout": f"{settings.heldout_size} generated images of the held-out seed (never used for training)",
    }
    (out_dir / SIDECAR_NAME).write_text(json.dumps(meta, indent=1) + "\n")
    return weights


class ViTSnapshots(Snapshots[ViTConfig, ViT]):
    """The shipped shapes snapshots (the dates scrubber's container, building ViTs)."""

    def build(self, state: dict[str, torch.Tensor]) -> ViT:
        return build_model(self.config, state)


def read_snapshots(directory: Path = CHECKPOINT_DIR) -> ViTSnapshots:
    """Read the snapshot files; ``ValueError`` with a one-line reason when missing or damaged."""
    try:
        meta = json.loads((directory / SIDECAR_NAME).read_text(encoding="utf-8"))
        states = _unflatten(torch.load(directory / WEIGHTS_NAME, map_location="cpu", weights_only=True))
        config = ViTConfig.from_dict(meta["config"])
        steps = tuple(int(s) for s in meta["steps"])
        curve = tuple((int(a), float(b)) for a, b in meta["loss_curve"])
    except FileNotFoundError as error:
        raise ValueError(f"ViT training snapshots are missing ({Path(str(error.filename)).name}); run: {COMMAND}") from error
    except Exception as error:
        raise ValueError(f"ViT training snapshots are unreadable ({type(error).__name__}); run: {COMMAND}") from error
    if sorted(states) != sorted(steps) or len(meta["snapshots"]) != len(steps):
        raise ValueError(f"ViT training snapshots do not match their sidecar; run: {COMMAND}")
    return ViTSnapshots(config, steps, tuple(meta["snapshots"]), curve, meta, states)


@functools.lru_cache(maxsize=1)
def _shipped() -> ViTSnapshots:
    return read_snapshots(CHECKPOINT_DIR)


def load_snapshots() -> ViTSnapshots:
    """The shipped snapshots, read once per process (``ValueError`` when unusable)."""
    with _lock:
        return _shipped()


def main(args: Any) -> int:
    """``python -m explorer snapshots shapes``: retrain with the shipped settings, save only the snapshots."""
    try:
        settings = shipped_settings()
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"error: the shipped shapes.json is unusable ({type(error).__name__}); run: python -m explorer train shapes",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    model, record = train_run(settings, progress=not getattr(args, "quiet", False))
    out_dir = Path(getattr(args, "out_dir", None) or CHECKPOINT_DIR)
    weights = save_snapshots(model, record, settings, out_dir)
    meta = json.loads((out_dir / SIDECAR_NAME).read_text(encoding="utf-8"))
    print(
        f"wrote {weights} ({weights.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - started:.0f}s; "
        f"final held-out accuracy {meta['snapshots'][-1]['heldout_accuracy']:.4f} (float16 copy; shipped "
        f"{meta['shipped_heldout_accuracy']:.4f}); max |weight - shapes.pt| = {meta['max_abs_difference_to_shapes_pt']:.3g}"
    )
    return 0
