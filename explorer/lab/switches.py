"""The switches of the architecture lab: the original Transformer against PaLM's changes.

Vaswani et al. 2017 is the original (post-LN, ReLU, sinusoidal positions, multi-head
attention, biases, separate embeddings, sequential sub-layers). PaLM (Chowdhery et al. 2022,
Section 2 "Model Architecture") lists the changes it makes to that recipe; with pre-LN
(Xiong et al. 2020), which PaLM and almost every large model use, they are the switches
below. Each maps to a field of :class:`~explorer.models.TransformerConfig`, so any mix is
a model you can build, count, time and train.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from explorer.models import TransformerConfig


@dataclass(frozen=True)
class Switch:
    """One architectural change: the config fields it sets and what its paper claims."""

    name: str
    label: str
    overrides: dict[str, Any]
    claim: str
    source: str


SWITCHES: tuple[Switch, ...] = (
    Switch(
        "pre_ln", "pre-LN", {"norm_first": True},
        "LayerNorm inside the residual branch keeps gradients well scaled at initialisation, so training is stable "
        "and needs little or no learning-rate warm-up; PaLM uses it like most large models.",
        "Xiong et al. 2020, Section 3; PaLM Section 2",
    ),
    Switch(
        "swiglu", "SwiGLU", {"activation": "swiglu"},
        "Swish(xW) * xV activations \"significantly increase quality in compute-equivalent experiments\"; the gate "
        "adds a third d_model x d_ff matrix to the MLP.",
        "PaLM Section 2; Shazeer 2020",
    ),
    Switch(
        "parallel", "parallel layers", {"parallel": True},
        "y = x + MLP(LN(x)) + Attention(LN(x)) trains \"roughly 15% faster at large scales\" because the input "
        "matrix products can be fused; small quality loss at 8B, none at 62B.",
        "PaLM Section 2",
    ),
    Switch(
        "mqa", "multi-query", {"n_kv_heads": 1},
        "One key/value head shared by all query heads: \"a neutral effect on model quality and training speed\" "
        "but \"a significant cost savings at autoregressive decoding time\" (the KV cache shrinks n_heads-fold).",
        "PaLM Section 2; Shazeer 2019",
    ),
    Switch(
        "rope", "RoPE", {"positions": "rope"},
        "Rotating queries and keys by their position makes scores depend on the offset only; \"better performance "
        "on long sequence lengths\". No position parameters. (Never applied to cross-attention here.)",
        "PaLM Section 2; Su et al. 2021",
    ),
    Switch(
        "tied", "tied embeddings", {"tie_embeddings": True},
        "One matrix for the input embeddings and the pre-softmax projection (as the original's Section 3.4 also "
        "suggests): fewer parameters at no loss.",
        "PaLM Section 2; Press & Wolf 2017",
    ),
    Switch(
        "no_bias", "no biases", {"bias": False},
        "No biases in dense layers \"result in increased training stability for large models\". (PaLM also drops "
        "LayerNorm biases; our LayerNorms keep theirs.)",
        "PaLM Section 2",
    ),
)
SWITCH_NAMES: tuple[str, ...] = tuple(s.name for s in SWITCHES)
PALM_SWITCHES: tuple[str, ...] = SWITCH_NAMES  # every change on: PaLM's recipe at this scale
_BY_NAME = {s.name: s for s in SWITCHES}


def get_switch(name: str) -> Switch:
    """The switch called ``name``; ``ValueError`` naming the valid ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown switch {name!r}; choose from {', '.join(SWITCH_NAMES)}") from None


def parse_switches(names: Iterable[str] | str) -> tuple[str, ...]:
    """Validated switch names in canonical order; accepts a comma-separated string (URL form)."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    chosen = set()
    for name in names:
        get_switch(name)
        chosen.add(name)
    return tuple(n for n in SWITCH_NAMES if n in chosen)


def apply_switches(base: TransformerConfig, names: Iterable[str]) -> TransformerConfig:
    """``base`` with every named switch turned on (the config validates the result)."""
    overrides: dict[str, Any] = {}
    for name in parse_switches(list(names)):
        overrides.update(get_switch(name).overrides)
    return replace(base, **overrides)


def variant_name(names: Iterable[str]) -> str:
    """A stable name for a mix: "original", one switch's name, "palm" for all, else names joined by '+'."""
    names = parse_switches(list(names))
    if not names:
        return "original"
    if names == PALM_SWITCHES:
        return "palm"
    return "+".join(names)


def lab_base_config(**overrides: Any) -> TransformerConfig:
    """The original Transformer at the dates model's size (the shipped checkpoint's shape)."""
    from explorer.tasks.tokenizer import CharTokenizer
    from explorer.training.dates import make_config

    return make_config(CharTokenizer(), **overrides)


def trained_variants() -> tuple[tuple[str, ...], ...]:
    """The mixes the shipped table trains: the original, each switch alone, and all of them (PaLM)."""
    return ((),) + tuple((name,) for name in SWITCH_NAMES) + (PALM_SWITCHES,)
