"""The OOD check and calibration maths on cases with known answers, and the feature pass against the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.analysis import ood
from explorer.models import ViT, ViTConfig


def test_auroc_known_cases() -> None:
    assert ood.auroc(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 1.0
    assert ood.auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 0.0
    assert ood.auroc(np.array([1.0, 1.0]), np.array([1.0, 1.0])) == 0.5  # ties count half
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=400), rng.normal(1.0, size=400)
    brute = np.mean([(x > y) + 0.5 * (x == y) for x in b for y in a])
    assert ood.auroc(a, b) == pytest.approx(brute, abs=1e-12)


def test_mahalanobis_separates_gaussians_and_thresholds_at_the_quantile() -> None:
    rng = np.random.default_rng(1)
    means = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    labels = rng.integers(0, 2, 4000)
    train = means[labels] + rng.normal(size=(4000, 3)) * np.array([1.0, 0.2, 3.0])
    val = means[rng.integers(0, 2, 1000)] + rng.normal(size=(1000, 3)) * np.array([1.0, 0.2, 3.0])
    stats = ood.calibrate(train, labels, val, 2, quantile=0.9)
    assert np.allclose(stats.means, means, atol=0.15)
    flagged = np.mean([not r.in_distribution for r in ood.check(val, stats)])
    assert flagged == pytest.approx(0.1, abs=0.01)
    far = np.array([[2.5, 2.0, 0.0]])  # 10 sigma off along the narrow axis, between the means
    assert not ood.check(far, stats)[0].in_distribution
    again = ood.MahalanobisStats.from_dict(stats.to_dict())
    assert again.threshold == pytest.approx(stats.threshold, rel=1e-5) and again.feature == stats.feature


def test_ece_and_temperature() -> None:
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(5000, 4)) * 2.0
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(4, p=row) for row in p])  # softmax(logits) is exactly calibrated
    overconfident = torch.as_tensor(logits * 4.0)
    t = ood.fit_temperature(overconfident, torch.as_tensor(labels))
    assert t == pytest.approx(4.0, rel=0.15)  # undoes the scaling the logits were given
    before = ood.expected_calibration_error(torch.softmax(overconfident, -1).numpy(), labels)
    after = ood.expected_calibration_error(torch.softmax(overconfident / t, -1).numpy(), labels)
    assert after < before / 2
    perfect = np.eye(4)[labels]
    assert ood.expected_calibration_error(perfect, labels) == 0.0


@pytest.mark.parametrize("feature", ood.FEATURES)
def test_feature_pass_matches_the_model(feature: str) -> None:
    torch.manual_seed(0)
    model = ViT(ViTConfig(image_size=28, patch_size=7, in_channels=1, n_classes=10)).eval()
    x = torch.randn(5, 1, 28, 28)
    logits, feats = ood.logits_and_features(model, x, feature, batch_size=2)
    with torch.no_grad():
        assert torch.allclose(logits, model(x).logits, atol=1e-6)
    assert feats.shape == (5, 64)
