"""Configuration dataclasses for the two models.

Configs are frozen dataclasses validated on construction, so an impossible model (for
example ``d_model`` not divisible by ``n_heads``) fails early with a message that says
what to change, instead of failing deep inside a matrix multiply with a shape error.
The defaults reproduce the papers: the base Transformer of "Attention Is All You Need"
(Table 3, row "base") and ViT-style pre-LN blocks with GELU ("An Image is Worth 16x16
Words", Eq. 1-4), scaled down for the ViT so it fits a classroom laptop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

ACTIVATIONS = ("relu", "gelu", "swiglu")
TEXT_POSITIONS = ("sinusoidal", "learned", "rope", "none")
VIT_POSITIONS = ("learned", "sinusoidal", "none")

# Caps that keep a config something a 2-core laptop can build; anything larger is refused
# with a message rather than allowed to exhaust memory.
MAX_D_MODEL = 4096
MAX_LAYERS = 48
MAX_HEADS = 64
MAX_LEN = 8192


def _positive(name: str, value: int, upper: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be at least 1, got {value}; choose a positive size")
    if upper is not None and value > upper:
        raise ValueError(f"{name} = {value} is larger than the supported maximum {upper}; choose a smaller value")


def _check_heads(d_model: int, n_heads: int, n_kv_heads: int | None) -> None:
    _positive("n_heads", n_heads, MAX_HEADS)
    if d_model % n_heads != 0:
        raise ValueError(
            f"d_model ({d_model}) must be divisible by n_heads ({n_heads}); "
            f"try n_heads in {[h for h in range(1, min(d_model, MAX_HEADS) + 1) if d_model % h == 0][-6:]}"
        )
    if n_kv_heads is not None:
        _positive("n_kv_heads", n_kv_heads, MAX_HEADS)
        if n_heads % n_kv_heads != 0:
            raise ValueError(
                f"n_heads ({n_heads}) must be a multiple of n_kv_heads ({n_kv_heads}) for grouped-query attention; "
                "use 1 for multi-query, n_heads for multi-head, or a divisor of n_heads"
            )


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _check_dropout(dropout: float) -> None:
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


def _check_eps(eps: float) -> None:
    if not float(eps) > 0.0:
        raise ValueError(f"layer_norm_eps must be positive, got {eps}")


class _ConfigMixin:
    """Round-trips through plain dicts so configs can live in JSON sidecars and URLs."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):  # returns cls
        """Build a config from a dict, ignoring unknown keys (older or newer sidecars)."""
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class TransformerConfig(_ConfigMixin):
    """The encoder-decoder Transformer (Vaswani et al. 2017, Section 3).

    Defaults are the paper's base model (d_model 512, 8 heads, 6+6 layers, d_ff 2048,
    dropout 0.1, post-LN, ReLU, sinusoidal positions). The switches select the modern
    variants: ``norm_first`` (pre-LN), ``activation`` (GELU/SwiGLU), ``positions``
    (learned/RoPE/none), ``n_kv_heads`` (1 = multi-query, divisor of n_heads =
    grouped-query), ``bias``, ``tie_embeddings`` (Section 3.4 shares the weights) and
    ``parallel`` (PaLM, Chowdhery et al. 2022, Section 2: attention and MLP read the same
    normalised input, y = x + MLP(LN(x)) + Attn(LN(x))).
    """

    src_vocab_size: int = 64
    tgt_vocab_size: int = 64
    d_model: int = 512
    n_heads: int = 8
    n_kv_heads: int | None = None
    n_encoder_layers: int = 6
    n_decoder_layers: int = 6
    d_ff: int = 2048
    dropout: float = 0.1
    max_len: int = 512
    norm_first: bool = False
    activation: str = "relu"
    positions: str = "sinusoidal"
    bias: bool = True
    tie_embeddings: bool = False
    layer_norm_eps: float = 1e-5
    pad_id: int = 0
    parallel: bool = False

    def __post_init__(self) -> None:
        _positive("src_vocab_size", self.src_vocab_size, 1_000_000)
        _positive("tgt_vocab_size", self.tgt_vocab_size, 1_000_000)
        _positive("d_model", self.d_model, MAX_D_MODEL)
        _check_heads(self.d_model, self.n_heads, self.n_kv_heads)
        _positive("n_encoder_layers", self.n_encoder_layers, MAX_LAYERS)
        _positive("n_decoder_layers", self.n_decoder_layers, MAX_LAYERS)
        _positive("d_ff", self.d_ff, 4 * MAX_D_MODEL)
        _positive("max_len", self.max_len, MAX_LEN)
        _check_dropout(self.dropout)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("positions", self.positions, TEXT_POSITIONS)
        _check_eps(self.layer_norm_eps)
        if not isinstance(self.parallel, bool):
            raise ValueError(f"parallel must be true or false, got {self.parallel!r}")
        if self.positions == "rope" and (self.d_model // self.n_heads) % 2 != 0:
            raise ValueError(
                f"rotary positions need an even head size; d_model/n_heads = {self.d_model // self.n_heads} is odd"
            )
        if self.positions == "sinusoidal" and self.d_model % 2 != 0:
            raise ValueError(f"sinusoidal positions need an even d_model (sin/cos pairs); got {self.d_model}")
        if self.tie_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError(
                "tie_embeddings shares one matrix between source, target and output, so "
                f"src_vocab_size ({self.src_vocab_size}) must equal tgt_vocab_size ({self.tgt_vocab_size})"
            )
        if not 0 <= self.pad_id < min(self.src_vocab_size, self.tgt_vocab_size):
            raise ValueError(f"pad_id ({self.pad_id}) must be a valid token id of both vocabularies")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


@dataclass(frozen=True)
class ViTConfig(_ConfigMixin):
    """The Vision Transformer (Dosovitskiy et al. 2021, Section 3.1, Eq. 1-4).

    An image is cut into ``patch_size`` x ``patch_size`` patches, each linearly projected
    to ``d_model``; a learnable [CLS] token is prepended, learnable 1-D position
    embeddings are added, and pre-LN blocks with a GELU MLP follow. Defaults are a
    small ViT for 32 x 32 images (ViT-Base would be d_model 768, 12 layers, 12 heads).
    """

    image_size: int = 32
    patch_size: int = 4
    in_channels: int = 3
    n_classes: int = 8
    d_model: int = 64
    n_heads: int = 4
    n_kv_heads: int | None = None
    n_layers: int = 4
    d_ff: int = 128
    dropout: float = 0.0
    norm_first: bool = True
    activation: str = "gelu"
    positions: str = "learned"
    bias: bool = True
    layer_norm_eps: float = 1e-6

    def __post_init__(self) -> None:
        _positive("image_size", self.image_size, 4096)
        _positive("patch_size", self.patch_size, 4096)
        if self.image_size % self.patch_size != 0:
            raise ValueError(
                f"patch_size ({self.patch_size}) must divide image_size ({self.image_size}) so the image cuts into whole patches"
            )
        _positive("in_channels", self.in_channels, 16)
        _positive("n_classes", self.n_classes, 100_000)
        _positive("d_model", self.d_model, MAX_D_MODEL)
        _check_heads(self.d_model, self.n_heads, self.n_kv_heads)
        _positive("n_layers", self.n_layers, MAX_LAYERS)
        _positive("d_ff", self.d_ff, 4 * MAX_D_MODEL)
        _check_dropout(self.dropout)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("positions", self.positions, VIT_POSITIONS)
        _check_eps(self.layer_norm_eps)
        if self.positions == "sinusoidal" and self.d_model % 4 != 0:
            raise ValueError(f"2-D sinusoidal positions need d_model divisible by 4 (sin/cos for rows and columns); got {self.d_model}")

    @property
    def grid_size(self) -> tuple[int, int]:
        side = self.image_size // self.patch_size
        return side, side

    @property
    def n_patches(self) -> int:
        gh, gw = self.grid_size
        return gh * gw
