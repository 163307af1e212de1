"""The training scrubber: the dates model at ~10 points of its training run.

Every existing tool shows a finished model; watching cross-attention go from diffuse to a
clean alignment while the output goes from garbage to the right date shows *how* it formed.
`python -m explorer train dates` keeps a float16 copy of the weights after each step in
:data:`SNAPSHOT_STEPS` (0 = the initialisation) and writes them with their held-out accuracy,
alignment and the training-loss curve; `python -m explorer snapshots dates` retrains with the
shipped seed without touching ``dates.pt`` and checks its final weights against it.

Snapshots are read-only shared models like the zoo's: eval mode, no gradients, float32
copies of the float16 weights, built once per process.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

import torch

from explorer import CHECKPOINT_DIR
from explorer.models import Transformer, TransformerConfig

ConfigT = TypeVar("ConfigT")
ModelT = TypeVar("ModelT", bound=torch.nn.Module)

WEIGHTS_NAME = "dates_snapshots.pt"
SIDECAR_NAME = "dates_snapshots.json"
# Dense early (where attention changes fastest), sparse late; the last is the end of training.
SNAPSHOT_STEPS: tuple[int, ...] = (0, 25, 50, 100, 275, 400, 600, 900, 1500)  # 9 x 0.5 MB float16 < 5 MB
ALIGNMENT_SIZE = 200
CURVE_EVERY = 10

_lock = threading.Lock()


def _flatten(snapshots: dict[int, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One flat name -> tensor dict ("<step>/<parameter>"), loadable with ``weights_only=True``."""
    return {f"{step}/{key}": tensor for step, state in snapshots.items() for key, tensor in state.items()}


def _unflatten(flat: dict[str, torch.Tensor]) -> dict[int, dict[str, torch.Tensor]]:
    out: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in flat.items():
        step, key = name.split("/", 1)
        out.setdefault(int(step), {})[key] = tensor
    return out


def frozen(model: ModelT, state: dict[str, torch.Tensor]) -> ModelT:
    """``model`` holding ``state`` (float16 or not) in float32, in eval mode, without gradients: a shared read-only model."""
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def loss_curve(losses: list[float], every: int) -> list[list[float]]:
    """[step, mean loss] over each window of ``every`` steps: a small curve of the whole run for the sidecar."""
    windows = [losses[i : i + every] for i in range(0, len(losses), every)]
    return [[i * every + len(w), round(sum(w) / len(w), 5)] for i, w in enumerate(windows)]


def write_states(snapshots: dict[int, dict[str, torch.Tensor]], path: Path) -> Path:
    """Save step -> state dict as one flat file (``_flatten``), creating its folder; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(_flatten(snapshots), path)
    return path


def build_model(config: TransformerConfig, state: dict[str, torch.Tensor]) -> Transformer:
    """A frozen float32 model from a (float16) state dict."""
    return frozen(Transformer(config), state)


def max_abs_difference(model: torch.nn.Module, checkpoint: Path) -> float:
    """Largest absolute difference between ``model``'s weights and a saved state dict."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    ours = model.state_dict()
    return max(float((ours[k].float() - v.float()).abs().max()) for k, v in saved.items())


def evaluate_snapshots(
    config: TransformerConfig, snapshots: dict[int, dict[str, torch.Tensor]], tokenizer: Any, heldout: list[Any]
) -> list[dict[str, Any]]:
    """Held-out exact match and alignment of each snapshot, as a student would see it (float16 weights)."""
    from explorer.analysis.alignment import alignment_report
    from explorer.training.dates import evaluate

    rows = []
    for step in sorted(snapshots):
        model = build_model(config, snapshots[step])
        metrics = evaluate(model, tokenizer, heldout)
        align = alignment_report(model, tokenizer, heldout[:ALIGNMENT_SIZE])
        rows.append({
            "step": step,
            "heldout_accuracy": round(metrics["heldout_accuracy"], 4),
            "alignment": round(align.best, 4),
            "alignment_per_layer": [round(v, 4) for v in align.per_layer],
        })
    return rows


def save_snapshots(result: dict[str, Any], out_dir: Path) -> Path:
    """Evaluate and write the snapshots of a finished ``train()`` result; returns the weights path.

    The last snapshot is the end of training, i.e. the ``dates.pt`` written next to it: when
    ``out_dir/dates.pt`` holds exactly the run's final weights it is referenced, not stored again
    (ten float16 copies would not fit in 5 MB), and its row carries the full-precision metrics.
    """
    from explorer.training.dates import heldout_examples

    snapshots: dict[int, dict[str, torch.Tensor]] = dict(result["snapshots"])
    model: Transformer = result["model"]
    final = max(snapshots)
    difference = compare_with_shipped(model, out_dir) if (out_dir / "dates.pt").exists() else None
    final_in_checkpoint = difference == 0.0
    heldout = heldout_examples(result["heldout_size"])
    rows = evaluate_snapshots(model.config, {k: v for k, v in snapshots.items() if k != final}, result["tokenizer"], heldout)
    rows.append({
        "step": final,
        "heldout_accuracy": round(result["heldout_accuracy"], 4),
        "alignment": round(result["alignment_report"]["best"], 4),
        "alignment_per_layer": result["alignment_report"]["per_layer"],
    })
    if final_in_checkpoint:
        del snapshots[final]
    curve = loss_curve(result["loss_history"], CURVE_EVERY)
    weights = write_states(snapshots, out_dir / WEIGHTS_NAME)
    meta = {
        "name": "dates",
        "config": model.config.to_dict(),
        "vocab": result["tokenizer"].vocab,
        "dtype": "float16",
        "steps": [row["step"] for row in rows],
        "final_step_in_dates_pt": final_in_checkpoint,
        # How far this run's final weights are from the dates.pt next to them (0 = the same run).
        "max_abs_difference_to_dates_pt": difference,
        "snapshots": rows,
        "loss_curve": curve,
        "curve_every": CURVE_EVERY,
        "training": {k: result["training"][k] for k in ("seed", "steps", "batch_size", "lr", "warmup", "threads", "torch")},
        "heldout": result["training"]["heldout"],
    }
    (out_dir / SIDECAR_NAME).write_text(json.dumps(meta, indent=1) + "\n")
    return weights


@dataclass(frozen=True, eq=False)  # hashed by identity: the model cache is keyed on the object
class Snapshots(Generic[ConfigT, ModelT]):
    """The shipped snapshots: steps, per-step metrics and the loss curve; models built on demand.

    Generic in the model family: the dates Transformer here, the shapes ViT in
    :mod:`explorer.lab.vit_snapshots` (which overrides :meth:`build`).
    """

    config: ConfigT
    steps: tuple[int, ...]
    metrics: tuple[dict[str, Any], ...]
    loss_curve: tuple[tuple[int, float], ...]
    meta: dict[str, Any]
    states: dict[int, dict[str, torch.Tensor]]

    def index_of(self, step: int) -> int:
        """Position of ``step`` in :attr:`steps`; ``ValueError`` listing the valid steps."""
        if step not in self.steps:
            raise ValueError(f"no snapshot at step {step}; choose one of {', '.join(map(str, self.steps))}")
        return self.steps.index(step)

    def model(self, step: int) -> ModelT:
        """The frozen model after ``step`` optimizer steps (built once, shared, never mutate it)."""
        self.index_of(step)
        with _lock:
            return cast(ModelT, _model_cache(self, step))

    def build(self, state: dict[str, torch.Tensor]) -> torch.nn.Module:
        """A frozen float32 model of this family from one (float16) state dict."""
        return build_model(cast(TransformerConfig, self.config), state)


@functools.lru_cache(maxsize=32)  # the dates and the shapes snapshots, ~10 each
def _model_cache(snaps: Snapshots[Any, Any], step: int) -> torch.nn.Module:
    return snaps.build(snaps.states[step])


def read_snapshots(directory: Path = CHECKPOINT_DIR) -> Snapshots[TransformerConfig, Transformer]:
    """Read the snapshot files; ``ValueError`` with a one-line reason when missing or damaged."""
    try:
        meta = json.loads((directory / SIDECAR_NAME).read_text(encoding="utf-8"))
        flat = torch.load(directory / WEIGHTS_NAME, map_location="cpu", weights_only=True)
        states = _unflatten(flat)
        config = TransformerConfig.from_dict(meta["config"])
        steps = tuple(int(s) for s in meta["steps"])
        if meta.get("final_step_in_dates_pt"):
            states[steps[-1]] = torch.load(directory / "dates.pt", map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise ValueError(f"training snapshots are missing ({Path(str(error.filename)).name}); run: python -m explorer snapshots dates") from error
    except Exception as error:
        raise ValueError(f"training snapshots are unreadable ({type(error).__name__}); run: python -m explorer snapshots dates") from error
    if sorted(states) != sorted(steps):
        raise ValueError("training snapshots do not match their sidecar; run: python -m explorer snapshots dates")
    return Snapshots(
        config=config, steps=steps, metrics=tuple(meta["snapshots"]),
        loss_curve=tuple((int(a), float(b)) for a, b in meta["loss_curve"]), meta=meta, states=states,
    )


@functools.lru_cache(maxsize=1)
def _shipped() -> Snapshots[TransformerConfig, Transformer]:
    return read_snapshots(CHECKPOINT_DIR)


def load_snapshots() -> Snapshots[TransformerConfig, Transformer]:
    """The shipped snapshots, read once per process (``ValueError`` when unusable)."""
    with _lock:
        return _shipped()


def run_snapshot(snaps: Snapshots, step: int, text: str) -> Any:
    """Translate ``text`` with the model at ``step``: output, per-step top-k and every attention map."""
    from explorer.decoding import generate
    from explorer.tasks.tokenizer import CharTokenizer

    tokenizer = CharTokenizer.from_vocab(snaps.meta["vocab"])
    return generate(snaps.model(step), tokenizer, text)


def snapshot_tokenizer(snaps: Snapshots) -> Any:
    """The character tokenizer the snapshots were trained with (their sidecar's vocabulary)."""
    from explorer.tasks.tokenizer import CharTokenizer

    return CharTokenizer.from_vocab(snaps.meta["vocab"])


def record_snapshot(
    snaps: Snapshots, step: int, text: str, temperature: float = 0.0, top_k: int = 5, prefix: str | None = None, seed: int = 0
) -> Any:
    """Decode ``text`` with the model at ``step`` and record every map and attention input
    (``explorer.analysis.stepwise.translate_and_record``), so every view of the Transformer page
    can be replayed at that point of training, the step-by-step panel included."""
    from explorer.analysis.stepwise import translate_and_record

    return translate_and_record(snaps.model(step), snapshot_tokenizer(snaps), text, temperature=temperature, top_k=top_k,
                                prefix=prefix, seed=seed)


def compare_with_shipped(model: Transformer, directory: Path = CHECKPOINT_DIR) -> float:
    """Largest absolute difference between ``model``'s weights and the shipped ``dates.pt``."""
    return max_abs_difference(model, directory / "dates.pt")


def main(args: Any) -> int:
    """`python -m explorer snapshots dates`: retrain with the shipped settings, save only the snapshots."""
    from explorer.training.dates import save, train
    from explorer.zoo import read_sidecar

    try:
        shipped = read_sidecar("dates", CHECKPOINT_DIR)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    settings = shipped["training"]
    started = time.perf_counter()
    result = train(
        seed=settings["seed"], steps=settings["steps"], out_dir=None, progress=not getattr(args, "quiet", False),
        batch_size=settings["batch_size"], lr=settings["lr"], warmup=settings["warmup"], threads=settings["threads"],
        snapshot_steps=[s for s in SNAPSHOT_STEPS if s < settings["steps"]] + [settings["steps"]],
    )
    difference = compare_with_shipped(result["model"])
    out_dir = Path(getattr(args, "out_dir", None) or CHECKPOINT_DIR)
    if out_dir.resolve() != CHECKPOINT_DIR.resolve():
        save(result["model"], result["tokenizer"], result["training"], result, out_dir)  # a private copy of the whole run
    weights = save_snapshots(result, out_dir)
    shipped_accuracy = shipped["metrics"]["heldout_accuracy"]
    print(
        f"wrote {weights} ({weights.stat().st_size / 1e6:.2f} MB) in {time.perf_counter() - started:.0f}s; "
        f"final accuracy {result['heldout_accuracy']:.4f} (shipped {shipped_accuracy:.4f}); "
        f"max |weight - dates.pt| = {difference:.3g}"
    )
    if difference > 1e-6 or abs(result["heldout_accuracy"] - shipped_accuracy) > 1e-9:
        print("warning: this run does not reproduce the shipped dates.pt exactly (different CPU kernels or threads?)")
    return 0
