"""What to profile: a validated request, the private model copy it runs on, and its inputs.

Everything a user controls (page widgets, URL query values, CLI flags) becomes a
:class:`ProfileRequest` through :func:`build_request`, which turns every impossible or
oversized choice into a :class:`ProfilingError` with a one-line message. The model the
profiler runs is always a private copy: hooks and ``train()`` must never touch a model
that other sessions share (the zoo's cached models are read-only).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from explorer.models import Transformer, TransformerConfig, ViT, ViTConfig

MODELS = ("transformer", "vit")
MODES = ("forward", "train")
MODE_LABELS = {"forward": "forward only", "train": "forward + backward"}
DEVICES = ("cpu", "cuda")
TRAINED_NAMES = {"transformer": "dates", "vit": "shapes"}

MAX_BATCH = 1024
MAX_SEQ_LEN = 8192
MAX_IMAGE_SIZE = 1024
MAX_ACTIVE = 50
MAX_WARMUP = 20
MAX_WAIT = 20
ATTENTION_PATHS = ("fused", "eager")
# Enough steps that the median step and the overhead ratio stop moving on a shared 2-core machine
# (measured: with 1 + 3 steps the page showed "overhead x0.82"; see bench/bench_profiler.py).
DEFAULT_WARMUP = 2
DEFAULT_ACTIVE = 8


class ProfilingError(ValueError):
    """A request that cannot or should not run; the message is one line meant for the user."""


@dataclass(frozen=True)
class ProfileRequest:
    """One profiling run: which model, which input size, which steps.

    ``config`` is None for a trained model from the zoo (its config comes from the
    checkpoint). For the Transformer, ``seq_len`` is both the source and the target length;
    for the ViT, ``image_size`` is the side of the square input image.
    The schedule follows ``torch.profiler.schedule``: ``wait`` steps run unrecorded,
    ``warmup`` steps are recorded and thrown away (caches, allocator, lazy init),
    ``active`` steps are kept.
    """

    model: str = "transformer"
    config: TransformerConfig | ViTConfig | None = None
    trained: bool = False
    batch_size: int = 8
    seq_len: int = 64
    image_size: int = 32
    mode: str = "forward"
    device: str = "cpu"
    wait: int = 0
    warmup: int = DEFAULT_WARMUP
    active: int = DEFAULT_ACTIVE
    record_shapes: bool = True
    profile_memory: bool = True
    seed: int = 0
    attention_path: str = "fused"

    @property
    def total_steps(self) -> int:
        return self.wait + self.warmup + self.active

    @property
    def tokens(self) -> int:
        """Sequence length the attention sees: T for text, 1 + (S/P)^2 for images ([CLS] + patches)."""
        if self.model == "vit":
            patch = self.resolved_config().patch_size  # type: ignore[union-attr]
            return 1 + (self.image_size // patch) ** 2
        return self.seq_len

    def resolved_config(self) -> TransformerConfig | ViTConfig:
        """The config the run uses; for trained models the zoo's config."""
        if self.config is not None:
            return self.config
        return load_trained(self.model).config

    def fingerprint(self) -> str:
        """A stable text key for caching results of identical requests."""
        cfg = self.config.to_dict() if self.config is not None else None
        return repr(
            (self.model, cfg, self.trained, self.batch_size, self.seq_len, self.image_size, self.mode, self.device,
             self.wait, self.warmup, self.active, self.record_shapes, self.profile_memory, self.seed,
             self.attention_path)
        )

    def describe(self) -> str:
        """A one-line human summary, e.g. for figure titles and CLI headers."""
        cfg = self.resolved_config()
        size = f"T={self.seq_len}" if self.model == "transformer" else f"image {self.image_size}px ({self.tokens} tokens)"
        layers = (
            f"{cfg.n_encoder_layers}+{cfg.n_decoder_layers} layers"
            if isinstance(cfg, TransformerConfig)
            else f"{cfg.n_layers} layers"
        )
        source = f"zoo model '{TRAINED_NAMES[self.model]}'" if self.trained else "random init"
        return (
            f"{self.model} ({source}, d_model {cfg.d_model}, {cfg.n_heads} heads, {layers}), batch {self.batch_size}, {size}, "
            f"{MODE_LABELS[self.mode]}, {self.device}, {self.warmup} warm-up + {self.active} active steps"
            + (", eager attention (weights returned)" if self.attention_path == "eager" else "")
        )


def _whole(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ProfilingError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ProfilingError(f"{name} must be between {low} and {high}, got {value}")
    return value


def validate_request(request: ProfileRequest) -> ProfileRequest:
    """Check a request; raise :class:`ProfilingError` with a one-line reason, else return it."""
    if request.model not in MODELS:
        raise ProfilingError(f"model must be one of {', '.join(MODELS)}, got {request.model!r}")
    if request.mode not in MODES:
        raise ProfilingError(f"mode must be one of {', '.join(MODES)}, got {request.mode!r}")
    if request.attention_path not in ATTENTION_PATHS:
        raise ProfilingError(f"attention path must be fused or eager, got {request.attention_path!r}")
    if request.device not in DEVICES:
        raise ProfilingError(f"device must be cpu or cuda, got {request.device!r}")
    if request.device == "cuda" and not torch.cuda.is_available():
        raise ProfilingError("CUDA was requested but this machine has no CUDA device; choose cpu")
    _whole("batch size", request.batch_size, 1, MAX_BATCH)
    if request.active == 0:
        raise ProfilingError("active steps is 0: nothing would be measured; choose at least 1 active step")
    _whole("active steps", request.active, 1, MAX_ACTIVE)
    _whole("warm-up steps", request.warmup, 0, MAX_WARMUP)
    _whole("wait steps", request.wait, 0, MAX_WAIT)
    if request.config is None and not request.trained:
        raise ProfilingError("a config is needed unless a trained model is profiled")
    if request.config is not None:
        expected = TransformerConfig if request.model == "transformer" else ViTConfig
        if not isinstance(request.config, expected):
            raise ProfilingError(f"the {request.model} needs a {expected.__name__}, got {type(request.config).__name__}")
    cfg = request.resolved_config()
    if request.model == "transformer":
        _whole("sequence length", request.seq_len, 1, MAX_SEQ_LEN)
        if request.seq_len > cfg.max_len:  # type: ignore[union-attr]
            raise ProfilingError(
                f"sequence length {request.seq_len} is longer than the model's max_len {cfg.max_len}; shorten it"  # type: ignore[union-attr]
            )
    else:
        _whole("image size", request.image_size, 1, MAX_IMAGE_SIZE)
        patch = cfg.patch_size  # type: ignore[union-attr]
        if request.image_size % patch:
            raise ProfilingError(f"image size {request.image_size} is not a multiple of the patch size {patch}")
    return request


def small_config(model: str, **overrides: Any) -> TransformerConfig | ViTConfig:
    """A classroom-sized config (fast on 2 CPU cores); invalid overrides raise :class:`ProfilingError`."""
    try:
        if model == "transformer":
            base: dict[str, Any] = dict(
                d_model=128, n_heads=4, n_encoder_layers=2, n_decoder_layers=2, d_ff=512, dropout=0.0, max_len=512
            )
            base.update(overrides)
            return TransformerConfig(**base)
        if model == "vit":
            base = dict(image_size=32, patch_size=4, d_model=64, n_heads=4, n_layers=4, d_ff=128)
            base.update(overrides)
            return ViTConfig(**base)
    except (TypeError, ValueError) as exc:
        raise ProfilingError(str(exc).splitlines()[0]) from None
    raise ProfilingError(f"model must be one of {', '.join(MODELS)}, got {model!r}")


def build_request(
    model: str = "transformer",
    *,
    trained: bool = False,
    d_model: int | None = None,
    n_heads: int | None = None,
    n_kv_heads: int | None = None,
    n_layers: int | None = None,
    d_ff: int | None = None,
    patch_size: int | None = None,
    activation: str | None = None,
    norm_first: bool | None = None,
    positions: str | None = None,
    batch_size: int = 8,
    seq_len: int = 64,
    image_size: int = 32,
    mode: str = "forward",
    device: str = "cpu",
    wait: int = 0,
    warmup: int = DEFAULT_WARMUP,
    active: int = DEFAULT_ACTIVE,
    record_shapes: bool = True,
    profile_memory: bool = True,
    seed: int = 0,
    attention_path: str = "fused",
) -> ProfileRequest:
    """Turn user-facing choices into a validated :class:`ProfileRequest` (page and CLI share this).

    ``n_layers`` sets both the encoder and decoder depth of the Transformer. Size fields are
    ignored for trained models, whose shape is fixed by their checkpoint.
    """
    if model not in MODELS:
        raise ProfilingError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    config: TransformerConfig | ViTConfig | None = None
    if not trained:
        overrides: dict[str, Any] = {}
        for key, value in dict(
            d_model=d_model, n_heads=n_heads, n_kv_heads=n_kv_heads, d_ff=d_ff, activation=activation,
            norm_first=norm_first, positions=positions,
        ).items():
            if value is not None:
                overrides[key] = value
        if n_layers is not None:
            if model == "transformer":
                overrides.update(n_encoder_layers=n_layers, n_decoder_layers=n_layers)
            else:
                overrides["n_layers"] = n_layers
        if model == "transformer":
            if isinstance(seq_len, int) and not isinstance(seq_len, bool) and 0 < seq_len <= MAX_SEQ_LEN:
                overrides["max_len"] = max(seq_len, 16)
        else:
            if patch_size is not None:
                overrides["patch_size"] = patch_size
            # The model is built for the profiled size, so no position-embedding interpolation runs.
            if isinstance(image_size, int) and not isinstance(image_size, bool) and 0 < image_size <= MAX_IMAGE_SIZE:
                patch = overrides.get("patch_size", 4)
                if isinstance(patch, int) and patch > 0 and image_size % patch == 0:
                    overrides["image_size"] = image_size
        config = small_config(model, **overrides)
    request = ProfileRequest(
        model=model, config=config, trained=trained, batch_size=batch_size, seq_len=seq_len, image_size=image_size,
        mode=mode, device=device, wait=wait, warmup=warmup, active=active, record_shapes=record_shapes,
        profile_memory=profile_memory, seed=seed, attention_path=attention_path,
    )
    return validate_request(request)


def with_size(request: ProfileRequest, size: int) -> ProfileRequest:
    """The same request at another sequence length (text) or image size (ViT), for scaling sweeps."""
    if request.model == "transformer":
        config = request.config
        if config is not None and size > config.max_len:  # type: ignore[union-attr]
            config = replace(config, max_len=size)  # type: ignore[arg-type]
        return validate_request(replace(request, seq_len=size, config=config))
    config = request.config
    if config is not None:
        config = replace(config, image_size=size)  # type: ignore[arg-type]
    return validate_request(replace(request, image_size=size, config=config))


# --------------------------------------------------------------------------- models and inputs


def zoo_available() -> bool:
    """True when the lead's model zoo is importable (trained checkpoints)."""
    try:
        import explorer.zoo  # noqa: F401
    except ImportError:
        return False
    return True


def load_trained(model: str) -> Any:
    """The zoo entry for the trained model of this kind ("dates" Transformer or "shapes" ViT)."""
    try:
        from explorer.zoo import load_model
    except ImportError:
        raise ProfilingError("trained models are not available (explorer.zoo is missing); profile a config instead") from None
    try:
        return load_model(TRAINED_NAMES[model])
    except KeyError:
        raise ProfilingError(f"no trained model for {model!r}") from None


def build_model(request: ProfileRequest, device: torch.device | None = None) -> nn.Module:
    """A private model for this run: built from the config, or a deep copy of the shared zoo model.

    Deep-copying matters: the profiler installs scopes and (in train mode) switches dropout on
    and fills ``.grad``; the cached zoo model is shared by every session and stays untouched.
    """
    device = device or torch.device(request.device)
    if request.trained or request.config is None:
        model = copy.deepcopy(load_trained(request.model).model)
    else:
        torch.manual_seed(request.seed)
        model = Transformer(request.config) if request.model == "transformer" else ViT(request.config)  # type: ignore[arg-type]
    model = model.to(device)
    model.train(request.mode == "train")
    for param in model.parameters():
        param.requires_grad_(request.mode == "train")
    return model


def make_inputs(request: ProfileRequest, device: torch.device | None = None) -> tuple[torch.Tensor, ...]:
    """Random inputs of the requested size: token ids in [1, vocab) (0 is padding) or images in [0, 1)."""
    device = device or torch.device(request.device)
    cfg = request.resolved_config()
    generator = torch.Generator().manual_seed(request.seed)
    if request.model == "transformer":
        src = torch.randint(1, cfg.src_vocab_size, (request.batch_size, request.seq_len), generator=generator)  # type: ignore[union-attr]
        tgt = torch.randint(1, cfg.tgt_vocab_size, (request.batch_size, request.seq_len), generator=generator)  # type: ignore[union-attr]
        return src.to(device), tgt.to(device)
    images = torch.rand(request.batch_size, cfg.in_channels, request.image_size, request.image_size, generator=generator)  # type: ignore[union-attr]
    return (images.to(device),)


def logits_of(output: Any) -> torch.Tensor:
    """The logits tensor of either model's output dataclass."""
    return output.logits if hasattr(output, "logits") else output


def loss_of(output: Any) -> torch.Tensor:
    """A scalar to backpropagate in train mode: mean squared logit (no labels needed, same graph)."""
    return logits_of(output).float().pow(2).mean()
