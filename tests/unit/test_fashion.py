"""Fashion-MNIST: IDX reading, the missing-dataset message, a training smoke test, the shipped model's figures."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import architectures
from explorer.tasks import fashion as task
from explorer.training import fashion as training

SIDECAR = training.CHECKPOINT_DIR / "fashion.json"


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def _fake_dataset(root: Path, n_train: int = 400, n_test: int = 100, seed: int = 0) -> Path:
    """Tiny IDX files where the class is readable from the image (a bright band whose row = label)."""
    rng = np.random.default_rng(seed)
    directory = root / "usr/share/datasets/fashion-mnist"  # the dpkg-deb -x layout
    directory.mkdir(parents=True)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for i, y in enumerate(labels):
            images[i, 2 * y + 4 : 2 * y + 7, 4:24] = 255
        images_name, labels_name = task.FILES[split]
        _write_idx(directory / images_name, images)
        _write_idx(directory / labels_name, labels)
    return directory


def test_idx_round_trip_and_dpkg_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dataset(tmp_path)
    monkeypatch.setenv(task.ENV_VAR, str(tmp_path))  # the extraction dir itself, not the nested path
    images, labels = task.load_split("train")
    assert images.shape == (400, 28, 28) and labels.shape == (400,) and labels.dtype == np.int64
    assert task.to_tensor(images[:3]).shape == (3, 1, 28, 28)


def test_missing_dataset_says_how_to_install_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(task.ENV_VAR, str(tmp_path / "nowhere"))
    monkeypatch.setattr(task, "DEFAULT_DIR", tmp_path / "also-nowhere")
    with pytest.raises(task.DatasetMissing) as info:
        task.load_split("train")
    message = str(info.value)
    assert "\n" not in message and "apt-get download dataset-fashion-mnist" in message and task.ENV_VAR in message


def test_train_command_refuses_without_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.cli import main

    monkeypatch.setenv(task.ENV_VAR, str(tmp_path / "nowhere"))
    monkeypatch.setattr(task, "DEFAULT_DIR", tmp_path / "also-nowhere")
    assert main(["train", "fashion", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "dataset-fashion-mnist" in err
    assert not list(tmp_path.glob("*.pt"))


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00", b"not gzip at all"])
def test_damaged_idx_is_a_one_line_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        task.read_idx(path)
    assert "\n" not in str(info.value)


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
def test_training_smoke_is_seeded_and_learns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dataset(tmp_path)
    monkeypatch.setenv(task.ENV_VAR, str(tmp_path))
    small = architectures.fashion_vit().to_dict() | {"d_model": 32, "n_layers": 1, "d_ff": 64}
    settings = dict(epochs=2, finetune_epochs=1, batch_size=32, limit=320, val_size=50, warmup_steps=5, config=small)
    quiet = dict(progress=False, log=lambda *_: None)
    model_a, record = training.train_model(training.TrainSettings(**settings), **quiet)
    model_b, _ = training.train_model(training.TrainSettings(**settings), **quiet)
    for (name, a), (_, b) in zip(model_a.state_dict().items(), model_b.state_dict().items()):
        assert torch.equal(a, b), name
    assert len(record["history"]) == 3
    assert record["history"][-1]["val_accuracy"] > 0.3  # chance is 0.1; the band's row gives the class away

    # phase 2 run later from saved phase-1 weights = one uninterrupted run
    phase1, phase1_record = training.train_model(training.TrainSettings(**(settings | {"finetune_epochs": 0})), **quiet)
    training.save_weights(phase1, tmp_path / "phase1.pt")
    resumed, _ = training.train_model(training.TrainSettings(**settings), phase1_weights=tmp_path / "phase1.pt",
                                      phase1_record={"history": phase1_record["history"]}, **quiet)
    for (name, a), (_, b) in zip(model_a.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name


# --- the shipped model -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> dict:
    if not SIDECAR.exists() or not training.HELDOUT_FILE.exists():
        pytest.fail("fashion.json or fashion_heldout.npz is not shipped")
    from explorer.zoo import load_uncached

    entry = load_uncached("fashion")
    assert entry.trained, entry.warning
    with np.load(training.HELDOUT_FILE) as data:
        images, labels = data["images"], data["labels"]
    return {"entry": entry, "meta": json.loads(SIDECAR.read_text()), "images": images, "labels": labels}


def test_shipped_checkpoint_is_small_and_meets_the_target(shipped: dict) -> None:
    assert (training.CHECKPOINT_DIR / "fashion.pt").stat().st_size < 5 * 1024 * 1024
    metrics = shipped["meta"]["metrics"]
    assert metrics["test_size"] == 10_000
    assert set(metrics["per_class_accuracy"]) == set(task.CLASSES)
    assert metrics["test_accuracy"] >= 0.85


@pytest.mark.xfail(strict=True, reason="missed: the shipped model reaches 87.5% test accuracy, issue 17 asks for 88% "
                   "(8 + 3 epochs were what a shared 2-core machine allowed; the validation curve was still rising)")
def test_shipped_checkpoint_meets_the_issue_target(shipped: dict) -> None:
    assert shipped["meta"]["metrics"]["test_accuracy"] >= 0.88


def test_shipped_accuracy_on_the_shipped_sample_matches_the_sidecar(shipped: dict) -> None:
    model = shipped["entry"].model
    with torch.no_grad():
        pred = model(task.to_tensor(shipped["images"])).logits.argmax(-1).numpy()
    accuracy = float((pred == shipped["labels"]).mean())
    assert len(shipped["labels"]) >= 200
    assert abs(accuracy - shipped["meta"]["metrics"]["test_accuracy"]) <= 0.02 + 1e-9
    assert accuracy == pytest.approx(shipped["meta"]["metrics"]["heldout_sample_accuracy"], abs=1e-4)


def test_ood_check_fires_on_noise_and_photos_not_on_most_heldout(shipped: dict) -> None:
    from explorer.analysis import ood_report
    from explorer.classify import classify

    entry = shipped["entry"]
    held = [Image.fromarray(a, mode="L") for a in shipped["images"][:100]]
    in_dist = [p.in_distribution for p in classify(entry, held)]
    assert np.mean(in_dist) >= 0.85
    photos = list(ood_report.photos().values())
    assert len(photos) >= 5
    flagged_photos = [not p.in_distribution for p in classify(entry, photos)]
    assert np.mean(flagged_photos) >= 0.8
    rng = np.random.default_rng(0)
    noise = [Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8), mode="L") for _ in range(20)]
    assert np.mean([not p.in_distribution for p in classify(entry, noise)]) >= 0.8


def test_phone_photo_like_uploads_are_mostly_right_after_the_steps(shipped: dict) -> None:
    from explorer.classify import classify
    from explorer.inputs.fashion_look import phone_photo_like

    rng = np.random.default_rng(3)
    pick = rng.choice(len(shipped["labels"]), 60, replace=False)
    photos = [phone_photo_like(shipped["images"][i], rng) for i in pick]
    predictions = classify(shipped["entry"], photos)
    accuracy = np.mean([p.class_index == shipped["labels"][i] for p, i in zip(predictions, pick)])
    assert accuracy >= shipped["meta"]["metrics"]["transformed_accuracy"] - 0.12  # 60 images: +-~6 points of noise
    assert all(len(p.steps) == 5 for p in predictions)


def test_sidecar_records_calibration_and_ood(shipped: dict) -> None:
    meta = shipped["meta"]
    assert meta["metrics"]["ece_test_temperature_scaled"] <= meta["metrics"]["ece_test"] + 0.005
    evaluation = meta["ood"]["evaluation"]
    for key in ("auroc_photos", "auroc_noise", "auroc_shapes"):
        assert 0.0 <= evaluation[key] <= 1.0
    assert len(meta["training"]["history"]) == meta["training"]["epochs"] + meta["training"]["finetune_epochs"]
