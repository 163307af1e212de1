"""Position information: sinusoidal encodings, rotary embeddings and ViT grid resampling.

Self-attention is permutation-equivariant, so order must be injected. Three ways live here:

* ``sinusoidal_encoding``: Vaswani et al. 2017, Section 3.5,
  PE(pos, 2i) = sin(pos / base^(2i/d)), PE(pos, 2i+1) = cos(pos / base^(2i/d)).
* rotary embeddings (Su et al. 2021, "RoFormer"): each (2i, 2i+1) pair of a query or key is
  rotated by the angle pos * base^(-2i/d), so q.k depends only on the offset between positions.
* ``interpolate_pos_embed``: the ViT paper (Section 3.2, "Fine-tuning and higher
  resolution") resamples learned patch position embeddings in 2-D for a new grid.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F


def inverse_frequencies(dim: int, base: float = 10000.0) -> torch.Tensor:
    """Angular frequency of each (sin, cos) pair: base^(-2i/dim) for i = 0 .. dim/2 - 1."""
    if dim <= 0 or dim % 2 != 0:
        raise ValueError(f"the encoding dimension must be a positive even number, got {dim}")
    if not base > 1.0:
        raise ValueError(f"the base must be greater than 1, got {base}")
    exponents = torch.arange(0, dim, 2, dtype=torch.float64) / dim
    return (base ** -exponents).to(torch.float32)


def sinusoidal_encoding(max_len: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The paper's fixed encoding, shape (max_len, d_model); even columns sin, odd columns cos.

    Frequencies, angles and sin/cos are float64 and only the result is cast: float32 frequencies
    (relative error 2^-24) would move the angle pos * w_i by ~6e-8 * pos radians, 3e-5 at pos 1000.
    """
    if max_len <= 0:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    inverse_frequencies(d_model, base)  # validates d_model and base: one set of error messages
    freqs = base ** -(torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # (d/2,)
    angles = torch.arange(max_len, dtype=torch.float64)[:, None] * freqs[None, :]  # (L, d/2)
    pe = torch.empty(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe.to(torch.float32)


@functools.lru_cache(maxsize=16)
def _rope_frequencies(dim: int, base: float) -> torch.Tensor:
    """``inverse_frequencies`` computed once per (dim, base): every layer of every decoding step asks for it."""
    with torch.inference_mode(False):  # a normal tensor even if first asked for under inference_mode (training reuses it)
        return inverse_frequencies(dim, base)


def rope_angles(positions: torch.Tensor, dim: int, base: float = 10000.0) -> torch.Tensor:
    """Rotation angle of each pair at each position, shape (T, dim/2)."""
    freqs = _rope_frequencies(dim, float(base)).to(positions.device)
    return positions.to(torch.float32)[:, None] * freqs[None, :]


ROPE_PAIRS = ("interleaved", "halves")


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0, pairs: str = "interleaved") -> torch.Tensor:
    """Rotate the pairs of ``x`` (..., T, D) at ``positions`` (T,) by pos * base^(-2i/D).

    Rotating q at position m and k at position n gives q_m . k_n = Re[sum q_i conj(k_i) e^{i(m-n)theta_i}]:
    the score sees only m - n (RoFormer, Eq. 16). ``pairs`` says which coordinates form pair i:
    ``"interleaved"`` = (x[2i], x[2i+1]) as in the RoFormer paper and llama.cpp, ``"halves"`` =
    (x[i], x[i + D/2]) as in GPT-NeoX and Hugging Face's Llama (``rotate_half``). The two are the
    same rotation after permuting the columns of W_q and W_k, which is exactly what the GGUF
    converter does to Llama checkpoints.
    """
    if pairs not in ROPE_PAIRS:
        raise ValueError(f"pairs must be one of {', '.join(ROPE_PAIRS)}; got {pairs!r}")
    dim = x.shape[-1]
    if positions.shape[-1] != x.shape[-2]:
        raise ValueError(f"got {positions.shape[-1]} positions for {x.shape[-2]} tokens")
    angles = rope_angles(positions, dim, base).to(x.dtype)  # (T, D/2)
    return rotate_pairs(x, torch.cos(angles), torch.sin(angles), pairs)


@functools.lru_cache(maxsize=64)
def rope_cos_sin(start: int, stop: int, dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles for positions start..stop-1, (T, dim/2) each, computed once.

    Every layer (and both q and k) of one forward pass rotates by the same angles; caching them
    turns 60 cos/sin evaluations per SmolLM2 step into one.
    """
    with torch.inference_mode(False):  # normal tensors even if first asked for under inference_mode
        angles = rope_angles(torch.arange(start, stop), dim, base)
        return torch.cos(angles), torch.sin(angles)


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, pairs: str = "interleaved") -> torch.Tensor:
    """Rotate the pairs of ``x`` (..., T, D) by angles whose cos and sin are (T, D/2) (see ``apply_rope``)."""
    cos, sin = cos.to(device=x.device, dtype=x.dtype), sin.to(device=x.device, dtype=x.dtype)
    dim = x.shape[-1]
    if pairs == "halves":
        first, second = x[..., : dim // 2], x[..., dim // 2 :]
        return torch.cat((first * cos - second * sin, first * sin + second * cos), dim=-1)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]
    rotated_even = x_even * cos - x_odd * sin
    rotated_odd = x_even * sin + x_odd * cos
    return torch.stack((rotated_even, rotated_odd), dim=-1).flatten(-2)


def interpolate_pos_embed(
    pos_embed: torch.Tensor,
    old_grid: tuple[int, int],
    new_grid: tuple[int, int],
    n_prefix_tokens: int = 1,
    mode: str = "bicubic",
) -> torch.Tensor:
    """Resample (1, prefix + gh*gw, D) patch position embeddings to a new grid.

    The [CLS] (prefix) embedding is kept as is; the patch embeddings are laid out as a
    gh x gw image with D channels and resized in 2-D, as in timm's ``resample_abs_pos_embed``.
    Resizing to the same grid returns the input unchanged.
    """
    old_h, old_w = old_grid
    new_h, new_w = new_grid
    if pos_embed.shape[1] != n_prefix_tokens + old_h * old_w:
        raise ValueError(
            f"pos_embed has {pos_embed.shape[1]} tokens, expected {n_prefix_tokens} + {old_h}x{old_w}"
        )
    if (old_h, old_w) == (new_h, new_w):
        return pos_embed
    prefix, patches = pos_embed[:, :n_prefix_tokens], pos_embed[:, n_prefix_tokens:]
    dim = patches.shape[-1]
    grid = patches.reshape(1, old_h, old_w, dim).permute(0, 3, 1, 2)  # (1, D, gh, gw)
    # align_corners is only defined for the interpolating modes; "nearest" refuses the argument.
    corners = {"align_corners": False} if mode in ("linear", "bilinear", "bicubic", "trilinear") else {}
    resized = F.interpolate(grid.float(), size=(new_h, new_w), mode=mode, **corners)
    resized = resized.to(pos_embed.dtype).permute(0, 2, 3, 1).reshape(1, new_h * new_w, dim)
    return torch.cat((prefix, resized), dim=1)


def sinusoidal_2d_grid(grid: tuple[int, int], dim: int, base: float = 10000.0) -> torch.Tensor:
    """Fixed 2-D sin-cos embedding (half the channels for rows, half for columns), (gh*gw, dim).

    Used when a ViT is configured with ``positions="sinusoidal"`` (as in MAE / "ViT-S/16 baselines").
    """
    if dim % 4 != 0:
        raise ValueError(f"2-D sinusoidal positions need d_model divisible by 4, got {dim}")
    gh, gw = grid
    rows = sinusoidal_encoding(gh, dim // 2, base)  # (gh, dim/2)
    cols = sinusoidal_encoding(gw, dim // 2, base)  # (gw, dim/2)
    grid_rows = rows[:, None, :].expand(gh, gw, dim // 2)
    grid_cols = cols[None, :, :].expand(gh, gw, dim // 2)
    return torch.cat((grid_rows, grid_cols), dim=-1).reshape(gh * gw, dim)


def wavelength(dim_index: int, d_model: int, base: float = 10000.0) -> float:
    """Wavelength in positions of encoding dimension ``dim_index``: 2*pi * base^(2i/d)."""
    pair = dim_index // 2
    return 2.0 * math.pi * base ** (2.0 * pair / d_model)
