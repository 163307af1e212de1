"""Named, cached, read-only models: "dates", "shapes", "fashion" and their untrained twins.

Every Streamlit session runs in the same process, so a model is loaded once and shared.
Sharing is only safe if nobody changes it: the zoo returns models in eval mode with
gradients off, and callers must never add hooks, call ``.train()`` or edit parameters
(copy the model with ``copy.deepcopy`` first if you must). The cache is bounded.

A missing or corrupt checkpoint does not stop the app: the entry falls back to untrained
weights of the same shape and says so in ``warning``, so the page can label it clearly.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from explorer import CHECKPOINT_DIR, architectures
from explorer.models import Transformer, TransformerConfig, ViT, ViTConfig

TRAINED_NAMES = ("dates", "shapes", "fashion")
MODEL_NAMES = ("dates", "dates-untrained", "shapes", "shapes-untrained", "fashion", "fashion-untrained")
UNTRAINED_SEED = 0  # untrained twins are initialised from a fixed seed so every student sees the same weights

_load_lock = threading.Lock()


@dataclass
class ZooModel:
    """A loaded model with what is needed to feed it; treat every field as read-only."""

    name: str
    kind: str  # "transformer" or "vit"
    model: nn.Module
    config: TransformerConfig | ViTConfig
    trained: bool
    meta: dict[str, Any] = field(default_factory=dict)
    warning: str | None = None
    tokenizer: Any = None  # CharTokenizer for "dates"
    classes: list[str] = field(default_factory=list)  # class names for "shapes"
    preprocess: Callable[..., torch.Tensor] | None = None  # PIL image -> (3, S, S) tensor for "shapes"


def checkpoint_paths(base: str, directory: Path = CHECKPOINT_DIR) -> tuple[Path, Path]:
    """The weights file and JSON sidecar of a trained model."""
    return directory / f"{base}.pt", directory / f"{base}.json"


def read_sidecar(base: str, directory: Path = CHECKPOINT_DIR) -> dict[str, Any]:
    """The JSON sidecar of a checkpoint; raises ``FileNotFoundError`` or ``ValueError`` when unusable."""
    _, sidecar = checkpoint_paths(base, directory)
    try:
        text = sidecar.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ValueError(f"{sidecar.name} is missing") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{sidecar.name} cannot be read") from error
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{sidecar.name} is not valid JSON ({error.msg})") from error
    if not isinstance(meta, dict) or "config" not in meta:
        raise ValueError(f"{sidecar.name} has no 'config' entry")
    return meta


def _build(kind: str, config_dict: dict[str, Any]) -> tuple[nn.Module, TransformerConfig | ViTConfig]:
    if kind == "transformer":
        text = TransformerConfig.from_dict(config_dict)
        return Transformer(text), text
    vision = ViTConfig.from_dict(config_dict)
    return ViT(vision), vision


def _freeze(model: nn.Module, device: torch.device) -> nn.Module:
    """Eval mode, no gradients, on ``device``: the state every shared model is kept in."""
    model.to(device).eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def _load_state(model: nn.Module, weights: Path) -> None:
    state = torch.load(weights, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{weights.name} does not hold a state dict")
    model.load_state_dict(state, strict=True)


def _default_meta(base: str) -> dict[str, Any]:
    """What an untrained twin looks like when no sidecar can be read at all."""
    if base == "dates":
        from explorer.tasks.tokenizer import CharTokenizer  # torch-free tokenizer, imported only when needed

        tokenizer = CharTokenizer()
        config = architectures.dates(tokenizer.vocab_size, tokenizer.pad_id)
        return {"name": "dates", "kind": "transformer", "config": config.to_dict(), "vocab": tokenizer.vocab}
    if base == "fashion":
        from explorer.tasks import fashion

        return {
            "name": "fashion", "kind": "vit", "config": architectures.fashion_vit().to_dict(), "classes": list(fashion.CLASSES),
            "preprocess": {"image_size": fashion.IMAGE_SIZE, "mean": [fashion.MEAN], "std": [fashion.STD], "grayscale": True},
        }
    from explorer.tasks import shapes

    vision = architectures.shapes_vit()
    return {
        "name": "shapes", "kind": "vit", "config": vision.to_dict(), "classes": list(shapes.CLASSES),
        "preprocess": {"image_size": vision.image_size, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
    }


def _attach_io(entry: ZooModel) -> None:
    """Attach the tokenizer (dates) or class names and preprocessing (shapes) from the sidecar."""
    if entry.kind == "transformer":
        from explorer.tasks.tokenizer import CharTokenizer

        entry.tokenizer = CharTokenizer.from_vocab(entry.meta["vocab"])
        return
    entry.classes = list(entry.meta.get("classes", []))
    if entry.name.removesuffix("-untrained") == "fashion":
        from explorer.classify import fashion_preprocess

        entry.preprocess = fashion_preprocess  # PIL image -> (1, 28, 28): Fashion-MNIST's look, then normalised
        return
    from explorer.tasks.shapes import preprocess

    settings = entry.meta.get("preprocess", {})
    size = int(settings.get("image_size", entry.config.image_size))  # type: ignore[union-attr]
    mean = tuple(settings.get("mean", (0.5, 0.5, 0.5)))
    std = tuple(settings.get("std", (0.5, 0.5, 0.5)))
    entry.preprocess = functools.partial(preprocess, image_size=size, mean=mean, std=std)


def _read_meta(base: str, directory: Path) -> tuple[dict[str, Any], str | None]:
    """The sidecar, or the built-in description of the model and the reason the sidecar was unusable."""
    try:
        meta = read_sidecar(base, directory)
        _build(meta.get("kind", "transformer" if base == "dates" else "vit"), meta["config"])  # the config must build
        return meta, None
    except (ValueError, TypeError, KeyError) as error:
        reason = str(error) if isinstance(error, ValueError) else f"{base}.json does not describe a valid model"
        return _default_meta(base), reason


def _trained_weights_error(model: nn.Module, weights: Path) -> str | None:
    """Load ``weights`` into ``model``; None on success, else a one-line reason (file names only, no server paths)."""
    try:
        _load_state(model, weights)
    except FileNotFoundError:
        return f"{weights.name} is missing"
    except Exception as error:  # noqa: BLE001 - torch.load on a damaged file raises many kinds; all mean "unusable"
        return f"{weights.name} is unreadable or does not fit the model ({type(error).__name__})"
    return None


def load_uncached(name: str, directory: Path = CHECKPOINT_DIR, device: torch.device | None = None) -> ZooModel:
    """Load a named model without the cache (tests use this to point at broken checkpoint folders).

    Models run on the CPU unless ``device`` says otherwise: the teaching models are so small
    that a GPU would spend more time copying than computing.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    base = name.removesuffix("-untrained")
    want_trained = name == base
    meta, problem = _read_meta(base, directory)
    kind = meta.get("kind", "transformer" if base == "dates" else "vit")
    torch.manual_seed(UNTRAINED_SEED)  # the untrained twin is the same for every student
    model, config = _build(kind, meta["config"])
    trained = False
    if want_trained and problem is None:
        problem = _trained_weights_error(model, checkpoint_paths(base, directory)[0])
        trained = problem is None
        if not trained:  # a partial load may have left some tensors changed: rebuild cleanly
            torch.manual_seed(UNTRAINED_SEED)
            model, config = _build(kind, meta["config"])
    warning = None
    if want_trained and not trained:
        warning = f"The trained '{base}' model could not be loaded ({problem}); showing untrained weights instead."
    entry = ZooModel(
        name=name, kind=kind, model=_freeze(model, device or torch.device("cpu")), config=config,
        trained=trained, meta=meta, warning=warning,
    )
    _attach_io(entry)
    return entry


@functools.lru_cache(maxsize=len(MODEL_NAMES))
def _cached(name: str, device_str: str) -> ZooModel:
    return load_uncached(name, CHECKPOINT_DIR, torch.device(device_str))


def load_model(name: str, device: torch.device | str | None = None) -> ZooModel:
    """The shared, read-only model called ``name`` (one of ``MODEL_NAMES``), loaded once per process."""
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    device_str = str(device) if device is not None else "cpu"
    with _load_lock:  # two sessions asking at once load it once
        return _cached(name, device_str)
