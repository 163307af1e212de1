"""The Vision Transformer of "An Image is Worth 16x16 Words" (Dosovitskiy et al. 2021).

Section 3.1, Eq. 1-4: the image is cut into P x P patches, each flattened and linearly
projected (Eq. 1); a learnable [CLS] token is prepended and learnable 1-D position
embeddings added; L pre-LN encoder blocks with a GELU MLP follow (Eq. 2-3); the
classification head reads LayerNorm of the [CLS] output (Eq. 4). Images of another size
than the training size use 2-D interpolated position embeddings (Section 3.2).
The block decomposition follows timm's ``vision_transformer.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from explorer.models.blocks import EncoderLayer, LayerSpec
from explorer.models.config import ViTConfig
from explorer.models.positions import interpolate_pos_embed, sinusoidal_2d_grid
from explorer.models.records import LayerRecord


@dataclass
class ViTOutput:
    """Logits (B, n_classes) and, when asked, per-layer attention (B, H, 1+N, 1+N)."""

    logits: torch.Tensor
    attention: list[torch.Tensor] | None = None


class PatchEmbed(nn.Module):
    """Eq. 1: x_p^i E for each flattened patch x_p^i of P*P*C values.

    Written as reshape + ``nn.Linear`` to mirror the paper literally; it is the same map as
    timm's stride-P convolution (a test checks this).
    """

    def __init__(self, patch_size: int, in_channels: int, d_model: int, bias: bool = True) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.in_channels = in_channels
        self.proj = nn.Linear(patch_size * patch_size * in_channels, d_model, bias=bias)

    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, N, C*P*P), patches in row-major order, values ordered (C, P, P)."""
        batch, channels, height, width = images.shape
        p = self.patch_size
        if channels != self.in_channels:
            raise ValueError(f"expected {self.in_channels} colour channels, got {channels}")
        if height % p or width % p:
            raise ValueError(f"image size {height}x{width} is not a multiple of the patch size {p}; resize it")
        x = images.reshape(batch, channels, height // p, p, width // p, p)
        x = x.permute(0, 2, 4, 1, 3, 5)  # (B, gh, gw, C, P, P)
        return x.reshape(batch, (height // p) * (width // p), channels * p * p)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(self.patchify(images))  # (B, N, D)


class ViT(nn.Module):
    """Vision Transformer classifier; ``forward(images)`` returns class logits."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        self.patch_embed = PatchEmbed(config.patch_size, config.in_channels, config.d_model, config.bias)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.d_model))
        self.pos_embed = (
            nn.Parameter(torch.zeros(1, 1 + config.n_patches, config.d_model)) if config.positions == "learned" else None
        )
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList([EncoderLayer(LayerSpec.of(config)) for _ in range(config.n_layers)])
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.head = nn.Linear(config.d_model, config.n_classes, bias=config.bias)
        self._init_weights()

    @property
    def grid_size(self) -> tuple[int, int]:
        """Patch grid (rows, columns) at the training resolution."""
        return self.config.grid_size

    def _init_weights(self) -> None:
        """timm-style: truncated normal 0.02 for position embeddings and linear weights, zero biases."""
        if self.pos_embed is not None:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def position_embeddings(self, grid: tuple[int, int]) -> torch.Tensor | None:
        """Position embeddings (1, 1+gh*gw, D) for a patch grid, interpolated if it is not the training grid."""
        if self.config.positions == "none":
            return None
        if self.config.positions == "sinusoidal":
            patches = sinusoidal_2d_grid(grid, self.config.d_model).to(self.cls_token.device)
            return torch.cat((torch.zeros_like(patches[:1]), patches), dim=0)[None]
        assert self.pos_embed is not None
        return interpolate_pos_embed(self.pos_embed, self.grid_size, grid)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Eq. 1: z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos, shape (B, 1+N, D)."""
        p = self.config.patch_size
        grid = (images.shape[-2] // p, images.shape[-1] // p)
        patches = self.patch_embed(images)
        cls = self.cls_token.expand(patches.shape[0], -1, -1)
        x = torch.cat((cls, patches), dim=1)
        pos = self.position_embeddings(grid)
        if pos is not None:
            x = x + pos
        return self.dropout(x)

    def forward(self, images: torch.Tensor, return_attention: bool = False) -> ViTOutput:
        x = self.embed(images)
        attention: list[torch.Tensor] = []
        for layer in self.layers:
            record = LayerRecord() if return_attention else None
            x = layer(x, need_weights=return_attention, record=record)
            if record is not None:
                attention.append(record.self_attn.maps())
        cls_out = self.norm(x)[:, 0]  # Eq. 4: y = LN(z_L^0)
        logits = self.head(cls_out)
        if not return_attention:
            return ViTOutput(logits)
        return ViTOutput(logits, attention)
