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

_HF_NAMES = {
    "norm1": "input_layernorm",
    "norm2": "post_attention_layernorm",
    "self_attn.out_proj": "self_attn.o_proj",
    "feed_forward.linear1": "mlp.gate_proj",
    "feed_forward.gate": "mlp.up_proj",
    "feed_forward.linear2": "mlp.down_proj",
}


def hf_name(name: str) -> str:
    if name == "embed.weight":
        return "model.embed_tokens.weight"
    if name == "norm.weight":
        return "model.norm.weight"
    for ours, theirs in _HF_NAMES.items():
        name = name.replace(f".{ours}.", f".{theirs}.")
    return "model." + name


@pytest.fixture(scope="module")
def pair():  # noqa: ANN201
    if pretrained_status("smollm2-135m") is not None:
        pytest.skip(pretrained_status("smollm2-135m"))
    transformers = pytest.importorskip("transformers")
    ours = load_pretrained("smollm2-135m")
    c = ours.model.config
    config = transformers.LlamaConfig(
        vocab_size=c.vocab_size,
        hidden_size=c.d_model,
        intermediate_size=c.d_ff,
        num_hidden_layers=c.n_layers,
        num_attention_heads=c.n_heads,
        num_key_value_heads=c.n_kv_heads,
        max_position_embeddings=c.max_len,
        rms_norm_eps=c.norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": c.rope_base},
        tie_word_embeddings=True,
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=ours.tokenizer.bos_id,
        eos_token_id=ours.tokenizer.eos_id,
        pad_token_id=ours.tokenizer.eos_id,
    )
    theirs = transformers.LlamaForCausalLM(config)
    state = {hf_name(name): value.clone() for name, value in ours.model.state_dict().items()}
    state["lm_head.weight"] = state["model.embed_tokens.weight"]
    missing, unexpected = theirs.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    theirs.eval()
    return ours, theirs


@pytest.mark.parametrize("prompt", PROMPTS)
def test_logits_equal_transformers(pair, prompt: str) -> None:  # noqa: ANN001
    ours, theirs = pair
    ids = torch.tensor([ours.tokenizer.encode(prompt)])
    with torch.inference_mode():
        expected = theirs(ids).logits
        got = ours.model(ids).logits
    assert (got - expected).abs().max().item() <= 1e-3


def test_greedy_continuation_equals_transformers_generate(pair) -> None:  # noqa: ANN001
    ours, theirs = pair
    ids = ours.tokenizer.encode(PROMPTS[0])
    mine = generate(ours.model, ours.tokenizer, ids, max_new_tokens=20, stop_at_eos=False).new_ids
    with torch.inference_mode():
        out = theirs.generate(torch.tensor([ids]), max_new_tokens=20, do_sample=False, min_new_tokens=20)
    assert list(mine) == out[0, len(ids) :].tolist()
