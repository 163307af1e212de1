"""Attention rollout (Abnar & Zuidema 2020) and the box-mass metric."""

from __future__ import annotations

import pytest
import torch

from explorer.analysis.rollout import (
    box_mass_ratio,
    box_patch_mask,
    cls_rollout_map,
    discard_lowest,
    fuse_heads,
    rollout,
    rollout_by_layer,
)


def random_attention(batch: int = 2, heads: int = 3, tokens: int = 17, layers: int = 4, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.softmax(3 * torch.randn(batch, heads, tokens, tokens, generator=gen), dim=-1) for _ in range(layers)]


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("residual", [True, False])
def test_rows_sum_to_one(fusion: str, discard: float, residual: bool) -> None:
    out = rollout(random_attention(), head_fusion=fusion, discard_ratio=discard, add_residual=residual)
    assert out.shape == (2, 17, 17)
    assert (out >= 0).all()
    torch.testing.assert_close(out.sum(-1), torch.ones(2, 17), atol=1e-5, rtol=0)


def test_identity_attention_gives_identity() -> None:
    eye = torch.eye(10).expand(2, 4, 10, 10).clone()
    for residual in (True, False):
        out = rollout([eye] * 5, add_residual=residual)
        torch.testing.assert_close(out, torch.eye(10).expand(2, 10, 10))


@pytest.mark.parametrize("layers", [1, 2, 3, 6])
def test_uniform_attention_matches_closed_form(layers: int) -> None:
    # A_hat = 0.5 U + 0.5 I with U = 11^T / T idempotent, so A_hat^L = 2^-L I + (1 - 2^-L) U.
    tokens = 9
    uniform = torch.full((1, 2, tokens, tokens), 1.0 / tokens)
    out = rollout([uniform] * layers)[0]
    expected = 0.5**layers * torch.eye(tokens) + (1 - 0.5**layers) * torch.full((tokens, tokens), 1.0 / tokens)
    torch.testing.assert_close(out, expected)
    # Without the residual, uniform mixing stays uniform.
    torch.testing.assert_close(rollout([uniform] * layers, add_residual=False)[0], torch.full((tokens, tokens), 1.0 / tokens))


def test_matches_explicit_matrix_product() -> None:
    atts = random_attention(batch=1, layers=3)
    eye = torch.eye(17, dtype=torch.float64)
    hats = [0.5 * a[0].double().mean(0) + 0.5 * eye for a in atts]
    expected = hats[2] @ hats[1] @ hats[0]  # later layers multiply on the left
    torch.testing.assert_close(rollout(atts)[0].double(), expected, atol=1e-6, rtol=0)


def test_discard_keeps_cls_and_drops_lowest_per_row() -> None:
    fused = torch.tensor([[[0.01, 0.5, 0.02, 0.3, 0.17], [0.001, 0.002, 0.9, 0.05, 0.047]]])
    out = discard_lowest(fused, 0.5)  # 2 of the 4 non-[CLS] columns per row
    assert out[0, 0, 0] == pytest.approx(0.01)  # [CLS] column kept although it is the row minimum
    assert out[0, 1, 0] == pytest.approx(0.001)
    assert torch.equal(out[0, 0, 1:] == 0, torch.tensor([False, True, False, True]))
    assert torch.equal(out[0, 1, 1:] == 0, torch.tensor([True, False, False, True]))
    assert fused[0, 0, 2] == pytest.approx(0.02)  # the input is not modified


def test_discard_keeps_cls_in_rollout() -> None:
    atts = random_attention(tokens=17)
    # Make [CLS] the least attended key everywhere: discard must still keep it.
    atts = [a.clone() for a in atts]
    for a in atts:
        a[..., 0] = 1e-6
        a /= a.sum(-1, keepdim=True)
    out = rollout(atts, discard_ratio=0.99, add_residual=False)
    assert (out[..., 0] > 0).all()
    before = [a.clone() for a in atts]
    rollout(atts, discard_ratio=0.9)
    assert all(torch.equal(a, b) for a, b in zip(atts, before))


def test_discard_all_patches_leaves_cls_only() -> None:
    out = rollout(random_attention(layers=1), discard_ratio=1.0, add_residual=False)
    expected = torch.zeros(2, 17, 17)
    expected[..., 0] = 1.0
    torch.testing.assert_close(out, expected)


def test_max_and_min_fusion() -> None:
    a = torch.zeros(1, 2, 3, 3)
    a[0, 0] = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.1, 0.1, 0.8]])
    a[0, 1] = torch.tensor([[0.2, 0.2, 0.6], [0.5, 0.4, 0.1], [0.3, 0.3, 0.4]])
    torch.testing.assert_close(fuse_heads(a, "max")[0], torch.maximum(a[0, 0], a[0, 1]))
    torch.testing.assert_close(fuse_heads(a, "min")[0], torch.minimum(a[0, 0], a[0, 1]))
    mx = torch.maximum(a[0, 0], a[0, 1])
    expected = mx / mx.sum(-1, keepdim=True)
    torch.testing.assert_close(rollout([a], head_fusion="max", add_residual=False)[0], expected)
    mn = torch.minimum(a[0, 0], a[0, 1])
    expected = (mn + torch.eye(3)) / (mn.sum(-1, keepdim=True) + 1)  # (A + I), rows normalised: residual 1 / (1 + s)
    torch.testing.assert_close(rollout([a], head_fusion="min")[0], expected)
    assert not torch.allclose(rollout([a], head_fusion="max"), rollout([a], head_fusion="min"))


def test_upto_layer_and_by_layer() -> None:
    atts = random_attention(layers=4)
    stack = rollout_by_layer(atts)
    assert stack.shape == (4, 2, 17, 17)
    for layer in range(4):
        torch.testing.assert_close(rollout(atts, upto_layer=layer), stack[layer])
        torch.testing.assert_close(rollout(atts[: layer + 1]), stack[layer])
    torch.testing.assert_close(rollout(atts, upto_layer=-1), rollout(atts))
    with pytest.raises(ValueError):
        rollout(atts, upto_layer=4)


@pytest.mark.parametrize(
    "kwargs",
    [{"head_fusion": "median"}, {"discard_ratio": 1.5}, {"discard_ratio": -0.1}],
)
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        rollout(random_attention(), **kwargs)


def test_bad_shapes() -> None:
    with pytest.raises(ValueError):
        rollout([])
    with pytest.raises(ValueError):
        rollout([torch.ones(2, 5, 5)])
    with pytest.raises(ValueError):
        rollout([torch.ones(1, 1, 5, 5) / 5, torch.ones(1, 1, 4, 4) / 4])


def test_cls_rollout_map_is_row_zero_reshaped() -> None:
    atts = random_attention(tokens=1 + 4 * 4)
    maps = cls_rollout_map(atts, head_fusion="max", discard_ratio=0.3)
    full = rollout(atts, head_fusion="max", discard_ratio=0.3)
    assert maps.shape == (2, 4, 4)
    torch.testing.assert_close(maps.reshape(2, -1), full[:, 0, 1:])
    assert cls_rollout_map(random_attention(tokens=1 + 2 * 8), grid=(2, 8)).shape == (2, 2, 8)
    with pytest.raises(ValueError):
        cls_rollout_map(random_attention(tokens=1 + 2 * 3))  # 6 patches: no square grid, none given
    with pytest.raises(ValueError):
        cls_rollout_map(random_attention(tokens=1 + 2 * 8), grid=(3, 5))


def test_box_patch_mask() -> None:
    # 32 px, 4x4 grid of 8 px patches; box x 8..16 (exclusive), y 0..9 touches rows 0 and 1, column 1 only.
    mask = box_patch_mask(torch.tensor([[8, 0, 16, 9]]), (4, 4), 32)[0]
    expected = torch.zeros(4, 4, dtype=torch.bool)
    expected[0:2, 1] = True
    assert torch.equal(mask, expected)


def test_box_mass_ratio() -> None:
    box = torch.tensor([[8.0, 8.0, 16.0, 16.0]])  # exactly one 8x8 patch of a 4x4 grid over 32x32
    focused = torch.zeros(1, 4, 4)
    focused[0, 1, 1] = 1.0
    assert box_mass_ratio(focused, box, 32).item() == pytest.approx(16.0)
    uniform = torch.ones(1, 4, 4)
    assert box_mass_ratio(uniform, box, 32).item() == pytest.approx(1.0)
    # A box straddling patches: uniform scores > 1 against the box area, exactly 1 against the patches.
    box2 = torch.tensor([[4.0, 4.0, 12.0, 12.0]])
    assert box_mass_ratio(uniform, box2, 32).item() == pytest.approx((4 / 16) / (64 / 1024))
    assert box_mass_ratio(uniform, box2, 32, baseline="patches").item() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        box_mass_ratio(uniform, box2, 32, baseline="nope")
