"""Train the shapes ViT: ``python -m explorer train shapes``.

A small ViT (Dosovitskiy et al. 2021) learns the eight classes of ``explorer.tasks.shapes``
from images generated in code. The run is seeded (same seed and thread count -> same
weights), prints train loss and held-out accuracy, and writes ``explorer/checkpoints/shapes.pt``
(a state dict) and ``shapes.json`` (config, classes, preprocessing, training settings, wall
time and metrics: held-out accuracy and the attention-rollout box ratio of
``explorer.analysis.rollout.box_mass_ratio``).

Data: a pool of generated images (generating costs about a millisecond each, so a pool is
cheaper than fresh images every step), augmented with horizontal flips. The held-out images
come from a different seed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from explorer import CHECKPOINT_DIR, architectures
from explorer.analysis.rollout import box_mass_ratio, cls_rollout_map
from explorer.models import ViT, ViTConfig
from explorer.tasks import shapes as task

NAME = "shapes"
HELDOUT_SEED = 1_000_003  # never used for training pools (those use the training seed)


@dataclass
class TrainSettings:
    """Everything that determines the trained weights (with the thread count; see ``train``)."""

    seed: int = 0
    steps: int = 6000
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup_steps: int = 200
    pool_size: int = 20_000
    heldout_size: int = 1_000
    eval_every: int = 500
    augment: bool = True
    config: dict[str, Any] = field(default_factory=lambda: architectures.shapes_vit().to_dict())


# --- data --------------------------------------------------------------------------------------


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flip: every class, and the generator's +-30 degree rotation range, are
    symmetric under it (a quarter turn or vertical flip would leave the training distribution)."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def heldout_set(n: int = 1_000, seed: int = HELDOUT_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, labels, boxes the model never trains on (a seed no training pool uses)."""
    return task.generate(n, seed)  # type: ignore[return-value]


# --- evaluation --------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(
    model: ViT,
    images: np.ndarray,
    labels: np.ndarray,
    boxes: np.ndarray,
    mean: tuple[float, ...] = task.DEFAULT_MEAN,
    std: tuple[float, ...] = task.DEFAULT_STD,
    batch_size: int = 250,
) -> dict[str, float]:
    """Accuracy and rollout focus on a labelled set, without changing the model (no ``.train()``).

    ``rollout_box_ratio``: mean over images of ``box_mass_ratio`` (mean fusion, no discard,
    residual; Abnar & Zuidema's rollout), chance = the box's share of the image area (issue 3).
    ``rollout_box_ratio_patches``: the stricter chance = the overlapping patches' share.
    ``uniform_box_ratio``: what a uniform map would score under the first definition.
    """
    correct = 0
    ratios, ratios_p, uniform = [], [], []
    size = model.config.image_size
    for start in range(0, len(images), batch_size):
        x = task.to_tensor(images[start : start + batch_size], mean, std)
        out = model(x, return_attention=True)
        correct += int((out.logits.argmax(-1) == torch.as_tensor(labels[start : start + batch_size])).sum())
        maps = cls_rollout_map(out.attention, grid=model.grid_size)
        b = torch.as_tensor(boxes[start : start + batch_size])
        ratios.append(box_mass_ratio(maps, b, size))
        ratios_p.append(box_mass_ratio(maps, b, size, baseline="patches"))
        uniform.append(box_mass_ratio(torch.ones_like(maps), b, size))
    return {
        "heldout_accuracy": correct / max(1, len(images)),
        "rollout_box_ratio": float(torch.cat(ratios).mean()),
        "rollout_box_ratio_patches": float(torch.cat(ratios_p).mean()),
        "uniform_box_ratio": float(torch.cat(uniform).mean()),
        "heldout_size": len(images),
    }


# --- training ----------------------------------------------------------------------------------


def half_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A float16 copy of the weights: nine of them fit the scrubber's 3 MB budget."""
    return {k: v.detach().to(torch.float16).clone() for k, v in model.state_dict().items()}


def _lr_at(step: int, settings: TrainSettings) -> float:
    """Linear warm-up then cosine decay to 5% of the peak."""
    if step < settings.warmup_steps:
        return settings.lr * (step + 1) / settings.warmup_steps
    progress = (step - settings.warmup_steps) / max(1, settings.steps - settings.warmup_steps)
    return settings.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


class _Progress:
    """A dependency-free progress bar on stderr (tqdm is not installed here)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.start = total, enabled, time.perf_counter()
        self.tty = sys.stderr.isatty()

    def update(self, step: int, text: str) -> None:
        if not self.enabled:
            return
        if not self.tty and step % 50 and step != self.total:
            return
        done = int(30 * step / self.total)
        elapsed = time.perf_counter() - self.start
        eta = elapsed / max(step, 1) * (self.total - step)
        line = f"[{'#' * done}{'.' * (30 - done)}] {step}/{self.total} {text} {elapsed:5.0f}s eta {eta:4.0f}s"
        print(("\r" if self.tty else "") + line, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled and self.tty:
            print(file=sys.stderr)


def train_model(
    settings: TrainSettings, progress: bool = True, log=print, snapshot_steps: Sequence[int] = ()
) -> tuple[ViT, dict[str, Any]]:
    """Train a ViT per ``settings``; return the model (eval mode) and a record of the run.

    ``snapshot_steps`` lists after how many optimiser steps to keep a float16 copy of the weights
    (0 = the initialisation) for the training scrubber; copying draws no random numbers, so the
    run's weights are the same with or without them. They come back as ``record["snapshots"]``,
    with every step's training loss as ``record["loss_history"]``.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    config = ViTConfig.from_dict(settings.config)
    mean, std = task.DEFAULT_MEAN, task.DEFAULT_STD

    images, labels = task.generate(settings.pool_size, settings.seed)[:2]
    pool = task.to_tensor(images, mean, std)
    pool_labels = torch.as_tensor(labels)
    held_images, held_labels, held_boxes = heldout_set(settings.heldout_size)
    data_time = time.perf_counter() - t0
    log(f"generated {settings.pool_size} training and {settings.heldout_size} held-out images in {data_time:.1f}s")

    model = ViT(config)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos_embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "pos_embed" not in n)]
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.lr,
        betas=(0.9, 0.99),
    )
    bar = _Progress(settings.steps, progress)
    history: list[dict[str, float]] = []
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    loss_history: list[float] = []
    running = None
    model.train()
    for step in range(settings.steps):
        if step in snapshot_steps:
            snapshots[step] = half_state(model)
        for group in optimiser.param_groups:
            group["lr"] = _lr_at(step, settings)
        idx = torch.randint(0, len(pool), (settings.batch_size,), generator=generator)
        x = pool[idx]
        if settings.augment:
            x = augment(x, generator)
        loss = F.cross_entropy(model(x).logits, pool_labels[idx])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        loss_history.append(loss.item())
        running = loss_history[-1] if running is None else 0.95 * running + 0.05 * loss_history[-1]
        bar.update(step + 1, f"loss {running:.3f}")
        if (step + 1) % settings.eval_every == 0 or step + 1 == settings.steps:
            model.eval()
            n_quick = min(500, len(held_images))
            quick = evaluate(model, held_images[:n_quick], held_labels[:n_quick], held_boxes[:n_quick], mean, std)
            model.train()
            history.append({"step": step + 1, "train_loss": running, **{k: quick[k] for k in ("heldout_accuracy", "rollout_box_ratio")}})
            bar.close()  # end the bar's line before the log line
            log(
                f"step {step + 1:5d}  train loss {running:.4f}  held-out acc {quick['heldout_accuracy']:.3f}"
                f"  rollout box ratio {quick['rollout_box_ratio']:.2f}"
            )
    bar.close()
    model.eval()
    if settings.steps in snapshot_steps:
        snapshots[settings.steps] = half_state(model)
    train_time = time.perf_counter() - t0
    metrics = evaluate(model, held_images, held_labels, held_boxes, mean, std)
    wall = time.perf_counter() - t0
    record = {
        "cpu_time_s": time.process_time() - c0,
        "settings": settings,
        "metrics": metrics,
        "history": history,
        "wall_time_s": wall,
        "train_time_s": train_time,
        "data_time_s": data_time,
        "final_train_loss": running,
        "snapshots": snapshots,
        "loss_history": loss_history,
    }
    return model, record


def sidecar(model: ViT, record: dict[str, Any]) -> dict[str, Any]:
    """The JSON sidecar the zoo reads: what the zoo and the page need to use and explain the weights."""
    settings: TrainSettings = record["settings"]
    training = {k: v for k, v in asdict(settings).items() if k != "config"}
    training.update(
        {
            "wall_time_s": round(record["wall_time_s"], 1),
            "train_time_s": round(record["train_time_s"], 1),
            "data_time_s": round(record["data_time_s"], 1),
            "cpu_time_s": round(record["cpu_time_s"], 1),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "heldout_seed": HELDOUT_SEED,
            "final_train_loss": round(float(record["final_train_loss"]), 4),
            "history": record["history"],
            "command": "python -m explorer train shapes",
        }
    )
    metrics = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in record["metrics"].items()}
    metrics["rollout"] = {"head_fusion": "mean", "discard_ratio": 0.0, "add_residual": True}
    return {
        "name": NAME,
        "kind": "vit",
        "config": model.config.to_dict(),
        "classes": list(task.CLASSES),
        "preprocess": {"image_size": model.config.image_size, "mean": list(task.DEFAULT_MEAN), "std": list(task.DEFAULT_STD)},
        "training": training,
        "metrics": metrics,
    }


VALIDATION_SEED = 1_000_033  # temperature and OOD threshold; neither training pools nor the held-out set use it
# The OOD threshold: this quantile of the validation images' scores. Measured on held-out images
# (``ood_report.report``'s "quantiles"): 95% flagged 6.8% of in-distribution images (the default
# sample among them), 99% flags 1.6% while still catching 92% of photos and 97% of Fashion-MNIST;
# uniform noise is where it pays (67% -> 35% caught), and noise is the least likely upload.
OOD_QUANTILE = 0.99


def evaluate_honesty(model: ViT, meta: dict[str, Any], seed: int = 0, log=print) -> dict[str, Any]:
    """Add calibration (Guo et al. 2017) and the OOD check (Lee et al. 2018) to ``meta``; no weights change.

    Features for the class means: 5 000 images generated with the training seed; temperature
    and threshold: 1 000 images of ``VALIDATION_SEED``; reported figures: the held-out set,
    passed through the same steps an upload takes (polarity normalisation included).
    """
    import functools

    from PIL import Image

    from explorer.analysis import ood, ood_report
    from explorer.classify import shapes_prepare_steps
    from explorer.inputs.shapes_look import clean_drawing, object_is_darker

    pre = meta["preprocess"]
    mean, std = tuple(pre["mean"]), tuple(pre["std"])
    size = model.config.image_size
    preprocess = functools.partial(task.preprocess, image_size=size, mean=mean, std=std)

    def prepare(image: Image.Image) -> torch.Tensor:
        return shapes_prepare_steps(image, size, preprocess)[0]

    train_images, train_labels = task.generate(5_000, seed)[:2]
    val_images, val_labels = task.generate(1_000, VALIDATION_SEED)[:2]
    held_images, held_labels, _ = heldout_set(1_000)
    _, train_feat = ood.logits_and_features(model, task.to_tensor(train_images, mean, std))
    val_logits, val_feat = ood.logits_and_features(model, torch.stack([prepare(Image.fromarray(a)) for a in val_images]))
    temperature = ood.fit_temperature(val_logits, torch.as_tensor(val_labels))
    stats = ood.calibrate(train_feat.numpy(), train_labels, val_feat.numpy(), len(task.CLASSES), quantile=OOD_QUANTILE)
    held_pil = [Image.fromarray(a) for a in held_images]
    held_logits, _ = ood.logits_and_features(model, torch.stack([prepare(im) for im in held_pil]))
    probs = torch.softmax(held_logits.double(), -1).numpy()
    probs_t = torch.softmax(held_logits.double() / temperature, -1).numpy()
    flipped = float(np.mean([object_is_darker(im)[0] for im in held_pil]))
    drawings = {}
    for dark in (True, False):
        for fill in (0.35, 0.45, 0.55):
            images = [clean_drawing(c, dark, fill=fill) for c in task.CLASSES]
            with torch.no_grad():
                pred = model(torch.stack([prepare(im) for im in images])).logits.argmax(-1).numpy()
            drawings[f"{'dark_on_white' if dark else 'light_on_black'}_fill_{fill}"] = int((pred == np.arange(len(task.CLASSES))).sum())
    metrics = meta.setdefault("metrics", {})
    metrics.update({
        "heldout_accuracy_with_upload_steps": round(float((probs.argmax(1) == held_labels).mean()), 4),
        "heldout_polarity_inverted_fraction": round(flipped, 4),
        "ece_heldout": round(ood.expected_calibration_error(probs, held_labels), 4),
        "ece_heldout_temperature_scaled": round(ood.expected_calibration_error(probs_t, held_labels), 4),
        "temperature": round(temperature, 4),
        "clean_drawings_correct_of_8": drawings,
    })
    meta["calibration"] = {"method": "temperature scaling (Guo et al. 2017), fitted on 1000 validation images",
                           "temperature": round(temperature, 4)}
    meta["polarity"] = {"method": "visible normalisation step: invert when the object is darker than the border "
                                  "(explorer.inputs.shapes_look); the weights were trained on light-on-dark shapes only"}
    meta["ood"] = stats.to_dict()
    meta["ood"]["evaluation"] = ood_report.report(model, prepare, stats, held_pil, ood_report.fashion_set(), "fashion",
                                                  val_images=[Image.fromarray(a) for a in val_images])
    log(f"shapes: held-out acc with upload steps {metrics['heldout_accuracy_with_upload_steps']:.4f} "
        f"(polarity step fired on {flipped:.3f}); ECE {metrics['ece_heldout']:.4f} -> "
        f"{metrics['ece_heldout_temperature_scaled']:.4f} at T={temperature:.3f}; drawings {drawings}")
    log(f"shapes OOD: {meta['ood']['evaluation']}")
    return meta


def evaluate_only(out_dir: Path | str = CHECKPOINT_DIR, log=print) -> dict[str, Any]:
    """Recompute the calibration and OOD sections of an existing ``shapes.json`` from ``shapes.pt``."""
    meta_path = Path(out_dir) / f"{NAME}.json"
    meta = json.loads(meta_path.read_text())
    model = ViT(ViTConfig.from_dict(meta["config"]))
    model.load_state_dict(torch.load(Path(out_dir) / f"{NAME}.pt", map_location="cpu", weights_only=True))
    model.eval()
    meta = evaluate_honesty(model, meta, seed=int(meta["training"]["seed"]), log=log)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def save(model: ViT, meta: dict[str, Any], out_dir: Path | str = CHECKPOINT_DIR) -> tuple[Path, Path]:
    """Write ``shapes.pt`` (float32 state dict, loadable with ``weights_only=True``) and ``shapes.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights, meta_path = out / f"{NAME}.pt", out / f"{NAME}.json"
    state = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in model.state_dict().items()}
    torch.save(state, weights)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return weights, meta_path


def train(
    seed: int = 0,
    steps: int | None = None,
    out_dir: Path | str | None = CHECKPOINT_DIR,
    progress: bool = True,
    threads: int | None = None,
    log=print,
    **overrides: Any,
) -> dict[str, Any]:
    """Train, evaluate and (unless ``out_dir`` is None) save; return the sidecar dict.

    Same seed, settings and thread count reproduce the same weights (thread count changes
    the order of floating-point sums, hence the last bits).
    """
    if threads is not None:
        torch.set_num_threads(int(threads))
    settings = TrainSettings(seed=int(seed), **overrides)
    if steps is not None:
        settings.steps = int(steps)
    model, record = train_model(settings, progress=progress, log=log)
    meta = sidecar(model, record)
    meta = evaluate_honesty(model, meta, seed=settings.seed, log=log)
    m = meta["metrics"]
    log(
        f"held-out accuracy {m['heldout_accuracy']:.4f} on {m['heldout_size']} images; rollout box ratio "
        f"{m['rollout_box_ratio']:.2f} (uniform map would score {m['uniform_box_ratio']:.2f}; stricter patch-area "
        f"ratio {m['rollout_box_ratio_patches']:.2f}); wall time {record['wall_time_s']:.0f}s"
    )
    if out_dir is not None:
        weights, meta_path = save(model, meta, out_dir)
        log(f"wrote {weights} ({weights.stat().st_size / 1e6:.2f} MB) and {meta_path}")
    return meta


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m explorer train shapes`` (the CLI calls this, then ``main``)."""
    defaults = TrainSettings()
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0, the shipped checkpoint)")
    parser.add_argument("--steps", type=int, default=defaults.steps, help=f"optimiser steps (default {defaults.steps})")
    parser.add_argument("--out-dir", default=str(CHECKPOINT_DIR), help="where to write shapes.pt and shapes.json")
    parser.add_argument(
        "--threads", type=int, default=2,
        help="torch CPU threads (default 2, as the shipped weights were made; another count reorders float sums)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--evaluate-only", action="store_true", help="recompute calibration and OOD sections from saved weights")


def main(args: argparse.Namespace | None = None) -> int:
    """Entry point for ``python -m explorer train shapes``; missing attributes take the defaults."""
    if args is None:
        parser = argparse.ArgumentParser(prog="python -m explorer train shapes", description=__doc__.splitlines()[0])
        add_cli_arguments(parser)
        args = parser.parse_args()
    if getattr(args, "evaluate_only", False):
        torch.set_num_threads(int(getattr(args, "threads", 2) or 2))
        evaluate_only(getattr(args, "out_dir", None) or CHECKPOINT_DIR)
        return 0
    steps = getattr(args, "steps", None)
    if steps is not None and steps <= 0:
        print(f"error: --steps must be positive, got {steps}", file=sys.stderr)
        return 2
    train(
        seed=int(getattr(args, "seed", 0) or 0),
        steps=steps,
        out_dir=getattr(args, "out_dir", None) or CHECKPOINT_DIR,
        progress=not getattr(args, "no_progress", False),
        threads=getattr(args, "threads", None) or 2,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
