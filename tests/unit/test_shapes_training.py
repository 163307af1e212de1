"""Training the shapes ViT (a few steps only) and the shipped checkpoint's quality."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from explorer import architectures
from explorer.models import ViT, ViTConfig
from explorer.tasks import shapes as task
from explorer.training import shapes as training

CHECKPOINT = training.CHECKPOINT_DIR / "shapes.pt"
SIDECAR = training.CHECKPOINT_DIR / "shapes.json"
TEST_SEED = 20_240_607  # a fixed held-out sample: neither the training pool nor the sidecar's held-out seed


def tiny_settings(**kw) -> training.TrainSettings:
    config = architectures.shapes_vit().to_dict() | {"d_model": 32, "n_heads": 2, "n_layers": 2, "d_ff": 64}
    base = dict(seed=3, steps=25, batch_size=32, lr=2e-3, warmup_steps=5, pool_size=32, heldout_size=16, eval_every=100, augment=False, config=config)
    return training.TrainSettings(**(base | kw))


def test_a_few_steps_lower_the_loss() -> None:
    settings = tiny_settings()
    model, record = training.train_model(settings, progress=False, log=lambda *a: None)
    images, labels, _ = task.generate(settings.pool_size, settings.seed)
    x, y = task.to_tensor(images), torch.as_tensor(labels)
    torch.manual_seed(settings.seed)
    untrained = ViT(ViTConfig.from_dict(settings.config))  # the same initial weights train_model started from
    with torch.no_grad():
        before = F.cross_entropy(untrained(x).logits, y).item()
        after = F.cross_entropy(model(x).logits, y).item()
    assert after < before - 0.3, (before, after)
    assert not model.training
    assert set(record["metrics"]) >= {"heldout_accuracy", "rollout_box_ratio", "rollout_box_ratio_patches"}


def test_training_is_reproducible() -> None:
    a, _ = training.train_model(tiny_settings(steps=5), progress=False, log=lambda *a: None)
    b, _ = training.train_model(tiny_settings(steps=5), progress=False, log=lambda *a: None)
    c, _ = training.train_model(tiny_settings(steps=5, seed=4), progress=False, log=lambda *a: None)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    assert not torch.equal(a.head.weight, c.head.weight)


@pytest.mark.slow  # trains or starts a Python process: full lane only (test.sh)
def test_train_writes_checkpoint_and_sidecar(tmp_path: Path) -> None:
    settings = tiny_settings(steps=3)
    meta = training.train(
        seed=settings.seed, steps=3, out_dir=tmp_path, progress=False, log=lambda *a: None,
        **{k: v for k, v in vars(settings).items() if k not in ("seed", "steps")},
    )
    state = torch.load(tmp_path / "shapes.pt", weights_only=True)
    written = json.loads((tmp_path / "shapes.json").read_text())
    assert written == json.loads(json.dumps(meta))
    model = ViT(ViTConfig.from_dict(written["config"]))
    model.load_state_dict(state)
    assert written["kind"] == "vit" and written["classes"] == list(task.CLASSES)
    assert written["preprocess"]["image_size"] == 32 and len(written["preprocess"]["mean"]) == 3
    assert written["training"]["steps"] == 3 and written["training"]["seed"] == 3


def test_main_rejects_bad_steps(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    assert training.main(argparse.Namespace(steps=0)) == 2
    assert "--steps" in capsys.readouterr().err


def test_cli_arguments() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    training.add_cli_arguments(parser)
    args = parser.parse_args(["--seed", "3", "--steps", "10", "--threads", "1", "--no-progress", "--out-dir", "x"])
    assert (args.seed, args.steps, args.threads, args.no_progress, args.out_dir) == (3, 10, 1, True, "x")
    defaults = parser.parse_args([])
    assert defaults.steps == training.TrainSettings().steps and defaults.threads == 2


def test_augment_keeps_pixels_and_shapes() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, 32, 32)
    out = training.augment(x, gen)
    assert out.shape == x.shape
    # each image is a flip/rotation of itself: same multiset of values
    torch.testing.assert_close(out.flatten(1).sort(-1).values, x.flatten(1).sort(-1).values)


# --- the shipped checkpoint ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> tuple[ViT, dict]:
    assert CHECKPOINT.exists() and SIDECAR.exists(), "run `python -m explorer train shapes` to make the checkpoint"
    meta = json.loads(SIDECAR.read_text())
    model = ViT(ViTConfig.from_dict(meta["config"]))
    model.load_state_dict(torch.load(CHECKPOINT, weights_only=True))
    model.eval()
    return model, meta


def test_checkpoint_is_small_and_sidecar_complete(shipped: tuple[ViT, dict]) -> None:
    _, meta = shipped
    assert CHECKPOINT.stat().st_size < 5 * 1024 * 1024
    assert meta["name"] == "shapes" and meta["kind"] == "vit"
    assert meta["classes"] == list(task.CLASSES)
    assert set(meta["preprocess"]) == {"image_size", "mean", "std"}
    for key in ("seed", "steps", "batch_size", "lr", "wall_time_s"):
        assert key in meta["training"]
    assert meta["metrics"]["heldout_accuracy"] >= 0.95
    assert meta["metrics"]["rollout_box_ratio"] >= 2.0


@pytest.mark.slow  # trains or starts a Python process: full lane only (test.sh)
def test_checkpoint_meets_thresholds_on_fixed_heldout_sample(shipped: tuple[ViT, dict]) -> None:
    model, meta = shipped
    images, labels, boxes = task.generate(600, TEST_SEED)
    pre = meta["preprocess"]
    metrics = training.evaluate(model, images, labels, boxes, tuple(pre["mean"]), tuple(pre["std"]))
    assert metrics["heldout_accuracy"] >= 0.95, metrics
    assert metrics["rollout_box_ratio"] >= 2.0, metrics  # issue 3: >= 2x the box's share of the image area
    assert metrics["rollout_box_ratio"] > metrics["uniform_box_ratio"], metrics  # and better than a flat map


def test_checkpoint_classifies_sample_images_via_preprocess(shipped: tuple[ViT, dict]) -> None:
    model, meta = shipped
    pre = meta["preprocess"]
    batch = torch.stack(
        [task.preprocess(task.sample_image(name, seed), pre["image_size"], pre["mean"], pre["std"]) for name in task.CLASSES for seed in range(5)]
    )
    with torch.no_grad():
        predicted = model(batch).logits.argmax(-1)
    expected = torch.arange(len(task.CLASSES)).repeat_interleave(5)
    assert (predicted == expected).float().mean() >= 0.9
