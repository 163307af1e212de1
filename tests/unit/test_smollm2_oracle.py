"""Our SmolLM2 against Hugging Face ``transformers``' LlamaForCausalLM with the same dequantised weights.

``transformers`` is a test-only oracle. Both models get the weights our GGUF reader produced, in
the Hugging Face (halves) RoPE layout; that the un-permutation itself is right is checked
separately (interleaved RoPE on the file's raw rows gives the same logits, and " Paris").
"""

from __future__ import annotations

import pytest
import torch

from explorer.pretrained import load_pretrained, pretrained_status
from explorer.runs.lm import generate

pytestmark = pytest.mark.slow
PROMPTS = (
    "The capital of France is",
    "The animal didn't cross the street because it was too tired. It",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
)


@pytest.fixture(scope="module")
def pair():
    if pretrained_status("smollm2-135m") is not None:
        pytest.skip(pretrained_status("smollm2-135m"))
    pytest.importorskip("transformers")
    from explorer.models.reference_llama import to_transformers_llama

    ours = load_pretrained("smollm2-135m")
    theirs = to_transformers_llama(ours.model, ours.tokenizer.bos_id, ours.tokenizer.eos_id)
    return ours, theirs


@pytest.mark.parametrize("prompt", PROMPTS)
def test_logits_equal_transformers(pair, prompt: str) -> None:
    ours, theirs = pair
    ids = torch.tensor([ours.tokenizer.encode(prompt)])
    with torch.inference_mode():
        expected = theirs(ids).logits
        got = ours.model(ids).logits
    assert (got - expected).abs().max().item() <= 1e-3


def test_greedy_continuation_equals_transformers_generate(pair) -> None:
    ours, theirs = pair
    ids = ours.tokenizer.encode(PROMPTS[0])
    mine = generate(ours.model, ours.tokenizer, ids, max_new_tokens=20, stop_at_eos=False).new_ids
    with torch.inference_mode():
        out = theirs.generate(torch.tensor([ids]), max_new_tokens=20, do_sample=False, min_new_tokens=20)
    assert list(mine) == out[0, len(ids) :].tolist()


def test_attention_maps_equal_transformers_output_attentions(pair) -> None:
    """The maps the page shows are the ones BertViz would show from transformers (eager attention)."""
    ours, theirs = pair
    ids = torch.tensor([ours.tokenizer.encode(PROMPTS[1])])
    theirs.set_attn_implementation("eager")
    try:
        with torch.inference_mode():
            expected = theirs(ids, output_attentions=True).attentions
            got = ours.model(ids, return_attention=True).attention["self"]
    finally:
        theirs.set_attn_implementation("sdpa")
    assert len(got) == len(expected) == 30
    for mine, reference in zip(got, expected):
        assert mine.shape == reference.shape == (1, 9, ids.shape[1], ids.shape[1])
        assert (mine - reference).abs().max().item() <= 1e-4
