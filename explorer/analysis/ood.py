"""Is this image like the training data? Mahalanobis distance of a ViT feature to the class means.

Lee, Lee, Lee & Shin (2018), "A Simple Unified Framework for Detecting Out-of-Distribution
Samples and Adversarial Attacks", Section 2: fit one Gaussian per class to a network's
features with a *shared* covariance (the generative view of a softmax classifier, LDA),
and score an input by its distance to the closest class mean,

    M(x) = min_c (f(x) - mu_c)^T Sigma^{-1} (f(x) - mu_c).

Which feature: Lee et al. use a network's penultimate features and note (Section 2.2) that
earlier layers help. For our ViTs we measured two candidates on the shapes model (AUROC of
held-out images vs photos / noise / Fashion-MNIST images): LayerNorm of the final [CLS] state,
the classifier's input (Dosovitskiy et al. 2021, Eq. 4): 0.93 / 0.85 / 0.94; the mean of the
final LayerNorm'd *patch* tokens: 0.995 / 0.96 / 0.999. [CLS] is trained to keep only what
separates the classes, so noise can land near a class mean; the patch tokens still describe
the whole image. For the Fashion-MNIST model it is the other way round ([CLS] 0.96 / 0.97 /
0.91 vs patch mean 0.94 / 0.96 / 0.76 against photos / noise / shapes: to the patch tokens a
bright shape on a dark ground looks like a garment). So the feature is chosen per model and
stored with its statistics (``MahalanobisStats.feature``): shapes ``"patch_mean"`` (the
default), fashion ``"cls"``. Caveat: this choice was made by looking at the OOD sets it is then
reported on (as Lee et al. tune their layer weights on OOD validation data); the thresholds use
in-distribution data only.
No input perturbation (Lee et al. Section 2.1), so the check costs no extra forward pass.

Why this and not max-softmax or an energy score (Liu et al. 2020): softmax-derived scores
only see the direction of the logits, and the issue's examples show a small ViT giving 99.9%
to noise; the feature distance sees that the [CLS] state itself is far from every class.

The threshold is a quantile (default 95%) of the scores of *in-distribution validation*
images, so by construction about 5% of real held-out images are flagged; that false-alarm
rate is the price of catching the rest and is reported beside the AUROCs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from explorer.models import ViT

DEFAULT_QUANTILE = 0.95
FEATURES = ("patch_mean", "cls")
DEFAULT_FEATURE = "patch_mean"
_RIDGE = 1e-4  # relative diagonal load: keeps Sigma invertible when a feature direction is nearly constant


@dataclass(frozen=True)
class MahalanobisStats:
    """Class means (C, D), shared precision matrix (D, D) and the in-distribution threshold."""

    means: np.ndarray
    precision: np.ndarray
    threshold: float
    quantile: float
    feature: str = DEFAULT_FEATURE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (rounded to 6 significant digits: the score changes by < 1e-4 relative)."""
        return {
            "method": "mahalanobis-shared-covariance (Lee et al. 2018)",
            "feature": self.feature,
            "feature_meaning": {"patch_mean": "mean of the final LayerNorm'd patch tokens",
                                "cls": "LayerNorm([CLS]) after the last block (ViT Eq. 4)"}[self.feature],
            "threshold": float(f"{self.threshold:.6g}"),
            "quantile": self.quantile,
            "means": [[float(f"{v:.6g}") for v in row] for row in self.means],
            "precision": [[float(f"{v:.6g}") for v in row] for row in self.precision],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MahalanobisStats:
        """Inverse of ``to_dict``; raises ``ValueError`` on inconsistent shapes."""
        means = np.asarray(data["means"], dtype=np.float64)
        precision = np.asarray(data["precision"], dtype=np.float64)
        if means.ndim != 2 or precision.shape != (means.shape[1], means.shape[1]):
            raise ValueError("OOD stats: means must be (C, D) and precision (D, D)")
        feature = str(data.get("feature", "cls"))
        if feature not in FEATURES:
            raise ValueError(f"OOD stats: unknown feature {feature!r}")
        return cls(means, precision, float(data["threshold"]), float(data.get("quantile", DEFAULT_QUANTILE)), feature)


@torch.no_grad()
def logits_and_features(
    model: ViT, images: torch.Tensor, feature: str = DEFAULT_FEATURE, batch_size: int = 500
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class logits (N, C) and the OOD feature (N, D) in one pass, without hooks.

    Mirrors ``ViT.forward`` step by step (embed, blocks, final norm, head) so the shared model
    is never modified; a test checks the logits equal ``model(images).logits``.
    """
    logits, feats = [], []
    for start in range(0, len(images), batch_size):
        x = model.embed(images[start : start + batch_size])
        for layer in model.layers:
            x = layer(x)
        normed = model.norm(x)
        feats.append(normed[:, 1:].mean(dim=1) if feature == "patch_mean" else normed[:, 0])
        logits.append(model.head(normed[:, 0]))
    return torch.cat(logits), torch.cat(feats)


def fit(features: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Class means and the shared precision matrix (Lee et al. Eq. 1's mu_c and Sigma^{-1})."""
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    means = np.stack([f[y == c].mean(axis=0) if np.any(y == c) else np.zeros(f.shape[1]) for c in range(n_classes)])
    centred = f - means[y]
    cov = centred.T @ centred / max(1, len(f))
    cov += _RIDGE * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
    return means, np.linalg.inv(cov)


def scores(features: np.ndarray | torch.Tensor, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """M(x) for each row of ``features``: squared Mahalanobis distance to the nearest class mean."""
    f = np.asarray(features, dtype=np.float64)
    diff = f[:, None, :] - means[None, :, :]  # (N, C, D)
    dist = np.einsum("ncd,de,nce->nc", diff, precision, diff)
    return dist.min(axis=1)


def calibrate(
    train_features: np.ndarray, train_labels: np.ndarray, val_features: np.ndarray, n_classes: int,
    quantile: float = DEFAULT_QUANTILE, feature: str = DEFAULT_FEATURE,
) -> MahalanobisStats:
    """Fit on training features; put the threshold at ``quantile`` of validation scores."""
    means, precision = fit(train_features, train_labels, n_classes)
    threshold = float(np.quantile(scores(val_features, means, precision), quantile))
    return MahalanobisStats(means, precision, threshold, quantile, feature)


def auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float:
    """Area under the ROC curve for "higher score = out of distribution" (Mann-Whitney U / (n m)).

    0.5 is chance, 1.0 means every out-of-distribution image scores above every in-distribution one.
    """
    a = np.asarray(in_scores, dtype=np.float64)
    b = np.asarray(out_scores, dtype=np.float64)
    if not len(a) or not len(b):
        raise ValueError("AUROC needs at least one score on each side")
    both = np.concatenate([a, b])
    order = both.argsort(kind="mergesort")
    ranks = np.empty(len(both))
    ranks[order] = np.arange(1, len(both) + 1)
    for value in np.unique(both):  # average ranks of ties
        tie = both == value
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    u = ranks[len(a) :].sum() - len(b) * (len(b) + 1) / 2
    return float(u / (len(a) * len(b)))


@dataclass(frozen=True)
class OODResult:
    """One image's verdict: its score, the threshold, and whether it looks in-distribution."""

    score: float
    threshold: float

    @property
    def in_distribution(self) -> bool:
        return self.score <= self.threshold

    @property
    def ratio(self) -> float:
        """Score / threshold: > 1 means flagged; how far beyond the line it is."""
        return self.score / self.threshold if self.threshold > 0 else float("inf")


def check(features: np.ndarray | torch.Tensor, stats: MahalanobisStats) -> list[OODResult]:
    """Verdicts for a batch of [CLS] features."""
    return [OODResult(float(s), stats.threshold) for s in scores(np.asarray(features), stats.means, stats.precision)]


# --- calibration (Guo et al. 2017) ---------------------------------------------------------------


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE of Guo et al. 2017 Eq. 3: |accuracy - confidence| averaged over equal-width confidence bins."""
    p = np.asarray(probs, dtype=np.float64)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return float(ece)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Temperature scaling (Guo et al. 2017, Section 4.2): one scalar T > 0 minimising validation NLL.

    A log-spaced grid over [0.05, 20] then a finer grid around the best point: deterministic,
    cannot diverge, and NLL is smooth and unimodal enough in log T for this to find the optimum.
    Accuracy is unchanged by construction (argmax is scale-invariant).
    """
    z = logits.detach().double()
    y = torch.as_tensor(labels)

    def nll(t: float) -> float:
        return float(torch.nn.functional.cross_entropy(z / t, y))

    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 121))
    best = float(grid[int(np.argmin([nll(t) for t in grid]))])
    fine = best * np.exp(np.linspace(-0.06, 0.06, 61))
    return float(fine[int(np.argmin([nll(t) for t in fine]))])
