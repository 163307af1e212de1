"""Mean attention distance, entropy, maps on the patch grid, and the analysed forward pass."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from explorer.analysis import distance
from explorer.models import ViT, ViTConfig


def with_cls(block: np.ndarray, cls_weight: float = 0.0) -> np.ndarray:
    """Wrap an (N, N) patch block into (1+N, 1+N): [CLS] row uniform, each patch row puts ``cls_weight`` on [CLS]."""
    n = block.shape[-1]
    full = np.zeros((n + 1, n + 1))
    full[0] = 1.0 / (n + 1)
    full[1:, 0] = cls_weight
    full[1:, 1:] = block * (1.0 - cls_weight)
    return full


def test_patch_centres_row_major() -> None:
    centres = distance.patch_centres((2, 3), patch_size=4)
    assert centres.shape == (6, 2)
    np.testing.assert_allclose(centres[0], [2, 2])
    np.testing.assert_allclose(centres[1], [2, 6])  # next column, same row
    np.testing.assert_allclose(centres[3], [6, 2])  # next row


def test_attention_to_self_has_zero_distance() -> None:
    attention = with_cls(np.eye(16))
    assert distance.mean_attention_distance(attention, (4, 4), patch_size=4) == pytest.approx(0.0)


def test_uniform_on_a_line_matches_closed_form() -> None:
    n, p = 7, 3
    attention = with_cls(np.full((n, n), 1.0 / n))
    expected = (n * n - 1) / (3 * n) * p  # mean |i - j| over all ordered pairs, in pixels
    assert distance.mean_attention_distance(attention, (1, n), patch_size=p) == pytest.approx(expected)
    assert distance.uniform_attention_distance((1, n), p) == pytest.approx(expected)


def test_uniform_on_two_by_two() -> None:
    attention = with_cls(np.full((4, 4), 0.25))
    assert distance.mean_attention_distance(attention, (2, 2)) == pytest.approx((2 + math.sqrt(2)) / 4)


def test_neighbour_attention_is_one_patch() -> None:
    n = 5
    block = np.zeros((n, n))
    for i in range(n):
        block[i, i + 1 if i + 1 < n else i - 1] = 1.0
    assert distance.mean_attention_distance(with_cls(block), (1, n), patch_size=16) == pytest.approx(16.0)


def test_mass_on_cls_is_renormalised_away() -> None:
    block = np.full((4, 4), 0.25)
    plain = distance.mean_attention_distance(with_cls(block), (2, 2))
    heavy = distance.mean_attention_distance(with_cls(block, cls_weight=0.9), (2, 2))
    raw = distance.mean_attention_distance(with_cls(block, cls_weight=0.9), (2, 2), renormalise=False)
    assert heavy == pytest.approx(plain)
    assert raw == pytest.approx(0.1 * plain)


def test_batched_shapes_and_torch_input() -> None:
    attention = torch.softmax(torch.randn(3, 4, 17, 17), dim=-1)  # (L, H, T, T)
    result = distance.mean_attention_distance(attention, (4, 4), 4)
    assert result.shape == (3, 4)
    assert (result > 0).all()


def test_wrong_token_count_is_refused() -> None:
    with pytest.raises(ValueError):
        distance.mean_attention_distance(np.eye(11), (3, 3))


def test_entropy_one_hot_and_uniform() -> None:
    t = 9
    assert distance.attention_entropy(np.eye(t)) == pytest.approx(0.0)
    uniform = np.full((t, t), 1.0 / t)
    assert distance.attention_entropy(uniform) == pytest.approx(math.log(t))
    assert distance.attention_entropy(uniform, normalised=True) == pytest.approx(1.0)


def test_entropy_query_selection() -> None:
    attention = np.eye(5)
    attention[0] = 0.2  # [CLS] uniform, patches one-hot
    assert distance.attention_entropy(attention, queries="cls") == pytest.approx(math.log(5))
    assert distance.attention_entropy(attention, queries="patches") == pytest.approx(0.0)
    with pytest.raises(ValueError):
        distance.attention_entropy(attention, queries="keys")


def test_cls_maps_and_patch_query_map_layout() -> None:
    attention = np.zeros((2, 3, 7, 7))  # (L, H, 1+6, 1+6), grid 2 x 3
    attention[1, 2, 0, 1 + 4] = 1.0  # [CLS] -> patch 4 = row 1, col 1
    attention[0, 0, 1 + 5, 1 + 2] = 0.7  # patch 5 -> patch 2 (row 0, col 2)
    attention[0, 0, 1 + 5, 0] = 0.3
    maps = distance.cls_maps(attention, (2, 3))
    assert maps.shape == (2, 3, 2, 3) and maps[1, 2, 1, 1] == 1.0 and maps.sum() == 1.0
    patch_map, to_cls = distance.patch_query_map(attention[0, 0], 5, (2, 3))
    assert patch_map[0, 2] == pytest.approx(0.7) and to_cls == pytest.approx(0.3)
    with pytest.raises(ValueError):
        distance.patch_query_map(attention[0, 0], 6, (2, 3))


def test_resample_and_correlation() -> None:
    small = np.arange(16, dtype=float).reshape(4, 4)
    big = np.kron(small, np.ones((2, 2)))  # each value repeated over a 2 x 2 block
    np.testing.assert_allclose(distance.resample_map(big, (4, 4)), small)
    assert distance.map_correlation(small, big) == pytest.approx(1.0)
    assert distance.map_correlation(small, -big) == pytest.approx(-1.0)
    assert math.isnan(distance.map_correlation(np.ones((2, 2)), small))


def test_run_vit_shapes_and_leaves_the_model_untouched() -> None:
    torch.manual_seed(0)
    model = ViT(ViTConfig()).eval()
    before = copy.deepcopy(model.state_dict())
    image = torch.randn(3, 32, 32)
    run = distance.run_vit(model, image, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert run.attention.shape == (4, 4, 65, 65)
    np.testing.assert_allclose(run.attention.sum(-1), 1.0, atol=1e-5)
    assert run.probabilities.shape == (8,) and run.probabilities.sum() == pytest.approx(1.0)
    assert run.model_view.shape == (32, 32, 3) and run.model_view.dtype == np.uint8
    assert run.patch_vectors.shape == (64, 48) and run.grid == (8, 8) and run.image_size == 32
    assert not model.training
    assert not model._forward_hooks and not model._forward_pre_hooks
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name])


def test_run_vit_at_a_larger_size_uses_a_bigger_grid() -> None:
    torch.manual_seed(0)
    model = ViT(ViTConfig()).eval()
    run = distance.run_vit(model, torch.zeros(3, 64, 64), (0.5,) * 3, (0.5,) * 3)
    assert run.attention.shape == (4, 4, 257, 257) and run.grid == (16, 16)
    np.testing.assert_array_equal(run.model_view, 128)  # 0 normalised with mean 0.5, std 0.5 -> 0.5 -> 128
