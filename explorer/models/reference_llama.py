"""Oracle: our SmolLM2 weights inside Hugging Face ``transformers``' ``LlamaForCausalLM``.

A test-and-benchmark-only bridge (``transformers`` is not an app dependency): the same float32
tensors under Hugging Face's names, so the two implementations can be compared logit for logit
and timed side by side. Our reader already put W_q/W_k back into Hugging Face's "halves" RoPE
layout, so no permutation happens here.
"""

from __future__ import annotations

from typing import Any

_HF_NAMES = {
    "norm1": "input_layernorm",
    "norm2": "post_attention_layernorm",
    "self_attn.out_proj": "self_attn.o_proj",
    "feed_forward.linear1": "mlp.gate_proj",
    "feed_forward.gate": "mlp.up_proj",
    "feed_forward.linear2": "mlp.down_proj",
}


def hf_name(name: str) -> str:
    """Our parameter name -> ``LlamaForCausalLM``'s."""
    if name == "embed.weight":
        return "model.embed_tokens.weight"
    if name == "norm.weight":
        return "model.norm.weight"
    for ours, theirs in _HF_NAMES.items():
        name = name.replace(f".{ours}.", f".{theirs}.")
    return "model." + name


def to_transformers_llama(model: Any, bos_id: int | None = None, eos_id: int | None = None) -> Any:
    """A ``transformers.LlamaForCausalLM`` (eval, float32) holding copies of ``model``'s weights."""
    import transformers  # test/bench-only dependency

    c = model.config
    if c.rope_pairs != "halves" or c.norm != "rmsnorm" or c.activation != "swiglu" or c.bias:
        raise ValueError("only a Llama-style LMConfig (rmsnorm, swiglu, rope halves, no bias) maps onto LlamaForCausalLM")
    config = transformers.LlamaConfig(
        vocab_size=c.vocab_size,
        hidden_size=c.d_model,
        intermediate_size=c.d_ff,
        num_hidden_layers=c.n_layers,
        num_attention_heads=c.n_heads,
        num_key_value_heads=c.n_kv_heads or c.n_heads,
        max_position_embeddings=c.max_len,
        rms_norm_eps=c.norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": c.rope_base},
        tie_word_embeddings=c.tie_embeddings,
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    theirs = transformers.LlamaForCausalLM(config)
    state = {hf_name(name): value.clone() for name, value in model.state_dict().items()}
    if c.tie_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    missing, unexpected = theirs.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"weights did not map: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return theirs.eval().requires_grad_(False)
