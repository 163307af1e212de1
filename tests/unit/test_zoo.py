"""The model zoo: shared read-only models, and a clear fallback when a checkpoint is missing or corrupt."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from explorer import zoo


def _write_checkpoint(directory: Path, base: str) -> zoo.ZooModel:
    """A valid checkpoint in ``directory``, made from the untrained twin with one recognisable change."""
    twin = zoo.load_uncached(f"{base}-untrained", directory)
    state = {k: v.clone() for k, v in twin.model.state_dict().items()}
    first = next(iter(state))
    state[first] = torch.full_like(state[first], 0.125)
    torch.save(state, directory / f"{base}.pt")
    (directory / f"{base}.json").write_text(json.dumps(twin.meta), encoding="utf-8")
    return twin


@pytest.mark.parametrize("base", ["dates", "shapes"])
def test_valid_checkpoint_loads_as_trained(tmp_path: Path, base: str) -> None:
    _write_checkpoint(tmp_path, base)
    entry = zoo.load_uncached(base, tmp_path)
    assert entry.trained and entry.warning is None
    first = next(iter(entry.model.state_dict().values()))
    assert torch.all(first == 0.125)


@pytest.mark.parametrize("base", ["dates", "shapes"])
def test_missing_checkpoint_falls_back_to_untrained_with_a_warning(tmp_path: Path, base: str) -> None:
    entry = zoo.load_uncached(base, tmp_path)
    assert not entry.trained
    assert "missing" in entry.warning and "untrained" in entry.warning
    assert str(tmp_path) not in entry.warning  # no server paths shown to users


@pytest.mark.parametrize("damage", ["garbage-weights", "truncated-weights", "wrong-shapes", "bad-json", "bad-config"])
def test_corrupt_checkpoint_falls_back_with_a_clear_message(tmp_path: Path, damage: str) -> None:
    _write_checkpoint(tmp_path, "dates")
    weights, sidecar = tmp_path / "dates.pt", tmp_path / "dates.json"
    if damage == "garbage-weights":
        weights.write_bytes(b"this is not a checkpoint")
    elif damage == "truncated-weights":
        weights.write_bytes(weights.read_bytes()[:200])
    elif damage == "wrong-shapes":
        torch.save({"src_embed.tokens.weight": torch.zeros(3, 3)}, weights)
    elif damage == "bad-json":
        sidecar.write_text("{not json", encoding="utf-8")
    else:
        meta = json.loads(sidecar.read_text())
        meta["config"]["d_model"] = 30  # not divisible by the heads
        sidecar.write_text(json.dumps(meta), encoding="utf-8")
    entry = zoo.load_uncached("dates", tmp_path)
    assert not entry.trained and entry.warning
    assert "could not be loaded" in entry.warning
    with torch.no_grad():  # the fallback still runs
        out = entry.model(torch.tensor([[5, 6, 7]]), torch.tensor([[1]]))
    assert torch.isfinite(out.logits).all()


def test_shared_models_are_cached_frozen_and_in_eval_mode() -> None:
    first, second = zoo.load_model("shapes-untrained"), zoo.load_model("shapes-untrained")
    assert first is second
    assert not first.model.training
    assert all(not p.requires_grad for p in first.model.parameters())


def test_untrained_twins_are_identical_across_loads(tmp_path: Path) -> None:
    a = zoo.load_uncached("dates-untrained", tmp_path)
    b = zoo.load_uncached("dates-untrained", tmp_path)
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(x, y), name


def test_unknown_model_name_is_refused() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        zoo.load_model("gpt-5")


def test_shipped_checkpoints_are_small_and_load_as_trained() -> None:
    for base in zoo.TRAINED_NAMES:
        weights, sidecar = zoo.checkpoint_paths(base)
        if not weights.exists():
            pytest.fail(f"{weights.name} is not shipped")
        assert weights.stat().st_size < 5 * 1024 * 1024
        entry = zoo.load_uncached(base)
        assert entry.trained, entry.warning
        assert "metrics" in json.loads(sidecar.read_text())


def test_copying_a_checkpoint_folder_keeps_it_usable(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    _write_checkpoint(tmp_path / "a", "shapes")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert zoo.load_uncached("shapes", tmp_path / "b").trained
