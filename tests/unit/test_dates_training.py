"""Dates training: a few steps lower the loss; the shipped checkpoint loads safely and meets the thresholds."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import torch

from explorer.analysis.alignment import alignment_report
from explorer.models import Transformer, TransformerConfig
from explorer.tasks import dates as D
from explorer.tasks.tokenizer import CharTokenizer
from explorer.training import dates as T

CHECKPOINTS = Path(__file__).resolve().parents[2] / "explorer" / "checkpoints"
TINY = dict(d_model=32, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=64)


def _load_shipped() -> tuple[Transformer, CharTokenizer, dict]:
    meta = json.loads((CHECKPOINTS / "dates.json").read_text())
    model = Transformer(TransformerConfig.from_dict(meta["config"]))
    state = torch.load(CHECKPOINTS / "dates.pt", weights_only=True)
    model.load_state_dict(state)  # strict: every key present, no extras
    return model.eval(), CharTokenizer.from_vocab(meta["vocab"]), meta


@pytest.fixture(scope="module")
def shipped() -> tuple[Transformer, CharTokenizer, dict]:
    return _load_shipped()


@pytest.mark.slow  # trains or starts a Python process: full lane only (test.sh)
def test_a_few_steps_lower_the_loss(tmp_path: Path) -> None:
    state = torch.random.get_rng_state()
    result = T.train(seed=0, steps=40, out_dir=tmp_path, progress=False, batch_size=32, lr=3e-3, warmup=5,
                     heldout_size=34, alignment_size=17, config_overrides=TINY)
    losses = result["loss_history"]
    assert len(losses) == 40
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    assert torch.equal(state, torch.random.get_rng_state()), "training must not disturb the caller's RNG"
    # what it saved is a loadable state dict plus a sidecar in the agreed schema
    meta = json.loads((tmp_path / "dates.json").read_text())
    assert meta["name"] == "dates" and meta["kind"] == "transformer"
    assert meta["config"]["d_model"] == 32
    assert {"seed", "steps", "batch_size", "lr", "wall_time_s"} <= set(meta["training"])
    assert {"heldout_accuracy", "alignment"} <= set(meta["metrics"])
    model = Transformer(TransformerConfig.from_dict(meta["config"]))
    model.load_state_dict(torch.load(tmp_path / "dates.pt", weights_only=True))


@pytest.mark.slow  # trains twice (3 s CPU, 6 s wall under load)
def test_training_is_reproducible() -> None:
    kwargs = dict(seed=3, steps=6, out_dir=None, progress=False, batch_size=16, heldout_size=17, alignment_size=17,
                  config_overrides=TINY)
    assert T.train(**kwargs)["loss_history"] == T.train(**kwargs)["loss_history"]


def test_shipped_checkpoint_files() -> None:
    weights = CHECKPOINTS / "dates.pt"
    assert weights.stat().st_size < 5 * 1024 * 1024
    meta = json.loads((CHECKPOINTS / "dates.json").read_text())
    assert meta["vocab"][:4] == ["<pad>", "<s>", "</s>", "<unk>"]
    assert meta["metrics"]["heldout_accuracy"] >= 0.97
    assert meta["metrics"]["alignment"] >= 0.70
    assert meta["training"]["wall_time_s"] > 0


def test_shipped_checkpoint_is_accurate_on_every_format(shipped) -> None:
    model, tok, _ = shipped
    examples = T.heldout_examples(n=20 * len(D.FORMATS), seed=424242)
    seen_in_training = [ex for ex in examples if not D.is_heldout(date.fromisoformat(ex.iso))]
    assert not seen_in_training
    metrics = T.evaluate(model, tok, examples)
    assert metrics["heldout_accuracy"] >= 0.97, metrics["errors"]
    assert set(metrics["per_format_accuracy"]) == set(D.FORMATS)
    assert metrics["min_format_accuracy"] >= 0.90, metrics["per_format_accuracy"]


def test_shipped_checkpoint_attention_is_aligned(shipped) -> None:
    model, tok, _ = shipped
    report = alignment_report(model, tok, T.heldout_examples(n=300, seed=777))
    assert len(report.per_layer) == model.config.n_decoder_layers
    assert report.best == max(report.per_layer) >= 0.70
    assert report.n_chars == 300 * 8


def test_alignment_metric_can_fail() -> None:
    """An untrained model of the same shape must score far lower: the metric measures something."""
    _, tok, meta = _load_shipped()
    torch.manual_seed(0)
    untrained = Transformer(TransformerConfig.from_dict(meta["config"])).eval()
    report = alignment_report(untrained, tok, T.heldout_examples(n=100, seed=777))
    assert report.best < 0.6
