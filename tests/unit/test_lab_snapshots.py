"""The shipped training snapshots: near chance at initialisation, the shipped accuracy at the end, small."""

from __future__ import annotations

import json

import pytest

from explorer.lab.snapshots import CHECKPOINT_DIR, SIDECAR_NAME, WEIGHTS_NAME, load_snapshots, read_snapshots, run_snapshot
from explorer.training.dates import evaluate, heldout_examples
from explorer.zoo import load_model

SHIPPED = json.loads((CHECKPOINT_DIR / "dates.json").read_text())


@pytest.fixture(scope="module")
def snaps():  # Snapshots
    return load_snapshots()


@pytest.fixture(scope="module")
def heldout():  # list of examples
    return heldout_examples(SHIPPED["metrics"]["heldout_size"])


def test_files_are_small_and_cover_training(snaps) -> None:
    assert (CHECKPOINT_DIR / WEIGHTS_NAME).stat().st_size + (CHECKPOINT_DIR / SIDECAR_NAME).stat().st_size < 5_000_000
    assert snaps.steps[0] == 0 and snaps.steps[-1] == SHIPPED["training"]["steps"]
    assert 8 <= len(snaps.steps) <= 12 and list(snaps.steps) == sorted(set(snaps.steps))


@pytest.mark.slow
def test_first_snapshot_is_near_chance_and_last_is_the_shipped_accuracy(snaps, heldout) -> None:
    tokenizer = load_model("dates").tokenizer
    first = evaluate(snaps.model(snaps.steps[0]), tokenizer, heldout)["heldout_accuracy"]
    last = evaluate(snaps.model(snaps.steps[-1]), tokenizer, heldout)["heldout_accuracy"]
    assert first < 0.01  # exact match of a 10-character date by an untrained model: chance is ~0
    # The snapshots come from a retrain with the shipped seed and settings on today's code; when it
    # is not bit-identical to dates.pt (the sidecar says so), it must still reach the shipped accuracy.
    assert abs(last - SHIPPED["metrics"]["heldout_accuracy"]) <= 0.005
    assert snaps.metrics[-1]["heldout_accuracy"] == pytest.approx(last, abs=0.002)  # float16 copy of the float32 final


def test_recorded_metrics_rise_from_chance(snaps) -> None:
    accuracy = [m["heldout_accuracy"] for m in snaps.metrics]
    assert accuracy[0] < 0.01 and accuracy[-1] > 0.97
    assert snaps.metrics[-1]["alignment"] > snaps.metrics[0]["alignment"] + 0.3


def test_a_middle_snapshot_runs_on_the_students_input(snaps) -> None:
    out_first = run_snapshot(snaps, snaps.steps[0], "26 Nov 2026").text
    out_last = run_snapshot(snaps, snaps.steps[-1], "26 Nov 2026").text
    assert out_last == "2026-11-26" and out_first != out_last
    with pytest.raises(ValueError, match="no snapshot at step 7"):
        snaps.model(7)


def test_missing_files_are_one_line(tmp_path) -> None:
    with pytest.raises(ValueError, match="^training snapshots are missing .*run: python -m explorer snapshots dates$"):
        read_snapshots(tmp_path)
    (tmp_path / SIDECAR_NAME).write_text("{not json")
    (tmp_path / WEIGHTS_NAME).write_bytes(b"junk")
    with pytest.raises(ValueError, match="^training snapshots are unreadable"):
        read_snapshots(tmp_path)
