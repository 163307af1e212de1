"""Head statistics: stacking, combining, entropy and exports."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.analysis.heads import (
    combine_heads,
    entropy_by_kind,
    head_entropy,
    row_entropy,
    sharpest_and_most_diffuse,
    stack_layers,
)


def test_stack_layers_accepts_tensors_and_checks_shapes() -> None:
    layers = [torch.rand(1, 2, 3, 4), torch.rand(1, 2, 3, 4)]
    out = stack_layers(layers)
    assert out.shape == (2, 2, 3, 4) and out.dtype == np.float32
    with pytest.raises(ValueError):
        stack_layers([])
    with pytest.raises(ValueError, match="batch of one"):
        stack_layers([torch.rand(2, 2, 3, 4)])


def test_combine_heads_mean_and_max() -> None:
    w = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # (H=2, Tq=1, Tk=2)
    np.testing.assert_allclose(combine_heads(w, "mean"), [[0.5, 0.5]])
    np.testing.assert_allclose(combine_heads(w, "max"), [[1.0, 1.0]])
    with pytest.raises(ValueError, match="combine must be"):
        combine_heads(w, "median")


def test_entropy_of_one_hot_is_zero_and_of_uniform_is_log_n() -> None:
    one_hot = np.eye(4)[None]  # (1, 4, 4)
    uniform = np.full((1, 4, 4), 0.25)
    assert head_entropy(one_hot, normalise=False)[0] == pytest.approx(0.0)
    assert head_entropy(uniform, normalise=False)[0] == pytest.approx(math.log(4))
    assert head_entropy(uniform)[0] == pytest.approx(1.0)


def test_normalised_entropy_counts_only_visible_keys_under_a_causal_mask() -> None:
    causal_uniform = np.tril(np.ones((4, 4)))
    causal_uniform /= causal_uniform.sum(axis=-1, keepdims=True)
    keep = np.tril(np.ones((4, 4), dtype=bool))  # the mask is passed, never guessed from zero weights
    ent = row_entropy(causal_uniform, normalise=True, mask=keep)
    assert np.isnan(ent[0])  # the first row sees one key: no choice, no normalised entropy
    np.testing.assert_allclose(ent[1:], [1.0, 1.0, 1.0])
    assert head_entropy(causal_uniform[None], mask=keep)[0] == pytest.approx(1.0)  # uniform causal head = 1


def test_entropy_table_and_extremes() -> None:
    sharp = np.eye(3)
    flat = np.full((3, 3), 1 / 3)
    maps = {"encoder_self": np.stack([np.stack([sharp, flat]), np.stack([flat, flat])])}  # (L=2, H=2, 3, 3)
    table = entropy_by_kind(maps)["encoder_self"]
    assert table.shape == (2, 2)
    low, high = sharpest_and_most_diffuse(table)
    assert low == (0, 0) and table[high] == pytest.approx(1.0)
