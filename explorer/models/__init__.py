"""The maths: attention, blocks, the Transformer, the ViT and position schemes (one idea per file)."""

from explorer.models.attention import MultiHeadAttention
from explorer.models.config import TransformerConfig, ViTConfig
from explorer.models.transformer import Transformer, TransformerOutput
from explorer.models.vit import ViT, ViTOutput

__all__ = [
    "MultiHeadAttention",
    "Transformer",
    "TransformerConfig",
    "TransformerOutput",
    "ViT",
    "ViTConfig",
    "ViTOutput",
]
