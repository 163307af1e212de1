"""The shipped architectures, each declared once and looked up by name (as timm's ``@register_model``).

Training, the zoo and the architecture lab all build the same named model from here, so a change
to, say, the dates model's width is made in one place and every consumer follows. The pretrained
models (SmolLM2, Marian) are not here: their architecture is whatever their files say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from explorer.models.config import TransformerConfig, ViTConfig
from explorer.tasks import fashion, shapes

ARCHITECTURES: dict[str, Callable[..., Any]] = {}


def register(builder: Callable[..., Any]) -> Callable[..., Any]:
    """Record ``builder`` under its function name."""
    ARCHITECTURES[builder.__name__] = builder
    return builder


def architecture(name: str, **arguments: Any) -> TransformerConfig | ViTConfig:
    """The config of a shipped architecture by name; a one-line error lists the names that exist."""
    if name not in ARCHITECTURES:
        raise ValueError(f"no architecture {name!r}; choose one of {', '.join(sorted(ARCHITECTURES))}")
    config: TransformerConfig | ViTConfig = ARCHITECTURES[name](**arguments)
    return config


@register
def dates(vocab_size: int, pad_id: int) -> TransformerConfig:
    """The paper's encoder-decoder (Vaswani et al. 2017), small: 2 + 2 post-LN layers of width 64."""
    return TransformerConfig(
        src_vocab_size=vocab_size, tgt_vocab_size=vocab_size, d_model=64, n_heads=4, n_encoder_layers=2,
        n_decoder_layers=2, d_ff=256, dropout=0.0, max_len=64, norm_first=False, activation="relu",
        positions="sinusoidal", pad_id=pad_id,
    )


def _small_vit(image_size: int, patch_size: int, in_channels: int, n_classes: int) -> ViTConfig:
    """ViT-style (Dosovitskiy et al. 2021, Section 3.1: pre-LN, GELU MLP, learned positions), 4 layers of width 64."""
    return ViTConfig(
        image_size=image_size, patch_size=patch_size, in_channels=in_channels, n_classes=n_classes, d_model=64,
        n_heads=4, n_layers=4, d_ff=128, dropout=0.0, norm_first=True, activation="gelu", positions="learned",
    )


@register
def shapes_vit() -> ViTConfig:
    """32 x 32 colour images in 4 x 4 patches: an 8 x 8 grid, fine enough for rollout maps to show a shape."""
    return _small_vit(shapes.IMAGE_SIZE, 4, 3, len(shapes.CLASSES))


@register
def fashion_vit() -> ViTConfig:
    """28 x 28 grayscale in 7 x 7 patches (patch 4 was measured 4x slower per step for this budget)."""
    return _small_vit(fashion.IMAGE_SIZE, 7, 1, len(fashion.CLASSES))
