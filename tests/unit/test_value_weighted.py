"""Value-weighted attention (Kobayashi et al. 2020): the decomposition must rebuild the module's own output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.analysis.value_weighted import first_token_share, value_norms, value_weighted
from explorer.models.attention import MultiHeadAttention


@torch.no_grad()
def _vectors(module: MultiHeadAttention, x_q: torch.Tensor, x_kv: torch.Tensor) -> torch.Tensor:
    """f_h(x_j) for every head and key, (H, Tk, D), computed independently of the library."""
    _, _, v = module.project(x_q[None], x_kv[None])
    dh = module.d_head
    return torch.stack([v[0, h] @ module.out_proj.weight[:, h * dh : (h + 1) * dh].T for h in range(module.n_heads)])


@pytest.mark.parametrize("n_kv_heads", [None, 1, 2])
def test_weighted_vectors_sum_to_the_module_output(n_kv_heads: int | None) -> None:
    torch.manual_seed(0)
    module = MultiHeadAttention(16, 4, n_kv_heads).eval()
    x_q, x_kv = torch.randn(5, 16), torch.randn(7, 16)
    with torch.no_grad():
        out, weights = module(x_q[None], x_kv[None], need_weights=True)
    f = _vectors(module, x_q, x_kv)
    rebuilt = torch.einsum("hqk,hkd->qd", weights[0], f) + module.out_proj.bias
    torch.testing.assert_close(rebuilt, out[0], atol=1e-5, rtol=1e-5)
    norms = value_norms(module, x_q.numpy(), x_kv.numpy())
    np.testing.assert_allclose(norms, f.norm(dim=-1).numpy(), rtol=1e-5)
    weighted = value_weighted(weights[0].numpy(), norms)
    expected = (weights[0][..., None] * f[:, None]).norm(dim=-1).numpy()  # ||alpha_ij f(x_j)||
    np.testing.assert_allclose(weighted, expected, rtol=1e-4, atol=1e-7)


def test_a_sink_with_a_small_value_moves_little() -> None:
    weights = np.array([[[0.8, 0.1, 0.1], [0.6, 0.2, 0.2]]])  # (H=1, Tq=2, Tk=3): most weight on token 0
    norms = np.array([[0.05, 1.0, 1.0]])  # ...whose value vector is tiny
    share = first_token_share(weights, value_weighted(weights, norms))
    assert share.weight_share[0] == pytest.approx(0.7)
    assert share.norm_share[0] == pytest.approx(np.mean([0.04 / 0.24, 0.03 / 0.43]))
    assert share.norm_share[0] < 0.2 < share.weight_share[0]


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="weights must be"):
        value_weighted(np.ones((2, 3, 4)), np.ones((2, 3)))


def test_vit_shares_use_the_models_own_attention() -> None:
    from explorer.analysis.value_weighted import vit_first_token_shares
    from explorer.models import ViT, ViTConfig

    torch.manual_seed(0)
    model = ViT(ViTConfig(image_size=8, patch_size=4, d_model=16, n_heads=2, n_layers=2, d_ff=32)).eval()
    image = torch.randn(1, 3, 8, 8)
    shares = vit_first_token_shares(model, image)
    with torch.no_grad():
        maps = model(image, return_attention=True).attention
    assert len(shares) == 2
    for share, weights in zip(shares, maps):
        np.testing.assert_allclose(share.weight_share, weights[0, :, :, 0].mean(-1).numpy(), rtol=1e-5)
        assert ((share.norm_share >= 0) & (share.norm_share <= 1)).all()
