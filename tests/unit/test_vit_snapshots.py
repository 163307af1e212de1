"""The shipped shapes-ViT training snapshots: near chance at initialisation, the run's recorded accuracy at the end, small."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.lab.vit_snapshots import (
    CHECKPOINT_DIR,
    COMMAND,
    SIDECAR_NAME,
    WEIGHTS_NAME,
    load_snapshots,
    read_snapshots,
    shipped_settings,
)
from explorer.tasks import shapes as task
from explorer.training.shapes import evaluate, heldout_set

CHANCE = 1 / len(task.CLASSES)


@pytest.fixture(scope="module")
def snaps():  # ViTSnapshots
    return load_snapshots()


def test_files_are_small_and_cover_training(snaps) -> None:
    assert (CHECKPOINT_DIR / WEIGHTS_NAME).stat().st_size + (CHECKPOINT_DIR / SIDECAR_NAME).stat().st_size < 3_000_000
    assert snaps.steps[0] == 0 and snaps.steps[-1] == snaps.meta["training"]["steps"]
    assert 8 <= len(snaps.steps) <= 12 and list(snaps.steps) == sorted(set(snaps.steps))
    assert all(t.dtype == torch.float16 for state in snaps.states.values() for t in state.values())
    # the run's settings are the shipped model's (seed, optimiser, data), whatever its step budget
    shipped = shipped_settings()
    assert (snaps.meta["training"]["seed"], snaps.meta["training"]["lr"]) == (shipped.seed, shipped.lr)


def test_recorded_metrics_rise_from_chance(snaps) -> None:
    accuracy = [m["heldout_accuracy"] for m in snaps.metrics]
    focus = [m["rollout_box_ratio_patches"] for m in snaps.metrics]
    assert abs(accuracy[0] - CHANCE) < 0.1 and accuracy[-1] > 0.9
    assert focus[-1] > focus[0] + 0.5  # the [CLS] rollout settles on the object's patches


@pytest.mark.slow
def test_first_snapshot_is_near_chance_and_last_is_the_recorded_accuracy(snaps) -> None:
    images, labels, boxes = heldout_set(1_000)
    first = evaluate(snaps.model(snaps.steps[0]), images, labels, boxes)
    last = evaluate(snaps.model(snaps.steps[-1]), images, labels, boxes)
    assert abs(first["heldout_accuracy"] - CHANCE) < 0.1
    assert first["heldout_accuracy"] == pytest.approx(snaps.metrics[0]["heldout_accuracy"], abs=1e-3)
    assert last["heldout_accuracy"] == pytest.approx(snaps.metrics[-1]["heldout_accuracy"], abs=1e-3)
    assert last["rollout_box_ratio_patches"] == pytest.approx(snaps.metrics[-1]["rollout_box_ratio_patches"], abs=1e-3)


def test_snapshots_are_distinct_frozen_models(snaps) -> None:
    first, last = snaps.model(snaps.steps[0]), snaps.model(snaps.steps[-1])
    assert snaps.model(snaps.steps[-1]) is last  # built once, shared
    assert not any(p.requires_grad for p in last.parameters()) and not last.training
    images, labels = task.generate(64, 7)[:2]
    x = task.to_tensor(images, task.DEFAULT_MEAN, task.DEFAULT_STD)
    with torch.no_grad():
        right_first = (first(x).logits.argmax(-1).numpy() == labels).mean()
        right_last = (last(x).logits.argmax(-1).numpy() == labels).mean()
    assert right_last > right_first + 0.4
    with pytest.raises(ValueError, match="no snapshot at step 7"):
        snaps.model(7)


def test_missing_files_are_one_line(tmp_path) -> None:
    with pytest.raises(ValueError, match=f"^ViT training snapshots are missing .*run: {COMMAND}$"):
        read_snapshots(tmp_path)


def test_damaged_or_mismatched_files_are_one_line(tmp_path) -> None:
    meta = json.loads((CHECKPOINT_DIR / SIDECAR_NAME).read_text())
    (tmp_path / SIDECAR_NAME).write_text(json.dumps(meta))
    (tmp_path / WEIGHTS_NAME).write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="^ViT training snapshots are unreadable"):
        read_snapshots(tmp_path)
    torch.save({"0/cls_token": torch.zeros(1)}, tmp_path / WEIGHTS_NAME)
    with pytest.raises(ValueError, match="^ViT training snapshots do not match their sidecar"):
        read_snapshots(tmp_path)


def test_a_snapshot_runs_through_the_page_view(snaps) -> None:
    from explorer.views import vit as views

    pixels = np.asarray(task.sample_image("circle", 0))
    run = views.run_snapshot_image(snaps, snaps.steps[-1], pixels, 32)
    assert run.attention.shape[:2] == (snaps.config.n_layers, snaps.config.n_heads)
    assert run.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    shown = views.training_view(snaps, snaps.steps[1], {"metrics": {}})
    assert shown.accuracy == snaps.metrics[1]["heldout_accuracy"] and f"after {snaps.steps[1]} optimiser steps" in shown.caption
    assert views.parse_step(views.step_options(snaps.steps)[-1]) is None
