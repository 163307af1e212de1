"""The named architectures are the ones the shipped checkpoints were trained with."""

from __future__ import annotations

import json

import pytest

from explorer import CHECKPOINT_DIR, architectures
from explorer.tasks.tokenizer import CharTokenizer


@pytest.mark.parametrize(("name", "checkpoint"), [("dates", "dates"), ("shapes_vit", "shapes"), ("fashion_vit", "fashion")])
def test_each_architecture_matches_its_shipped_checkpoint(name: str, checkpoint: str) -> None:
    arguments = {"vocab_size": CharTokenizer().vocab_size, "pad_id": CharTokenizer().pad_id} if name == "dates" else {}
    declared = architectures.architecture(name, **arguments)
    stored = json.loads((CHECKPOINT_DIR / f"{checkpoint}.json").read_text())["config"]
    assert declared == type(declared).from_dict(stored)  # fields added since (e.g. parallel) take their defaults


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="choose one of dates, fashion_vit, shapes_vit"):
        architectures.architecture("gpt5")
