"""The lab's closed forms against the built model: parameter counts, FLOPs, KV-cache bytes, the parallel switch."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from explorer.lab.cli import LAB_STEPS
from explorer.lab.costs import count_params, forward_flops, kv_cache_bytes
from explorer.lab.switches import (
    PALM_SWITCHES,
    SWITCH_NAMES,
    apply_switches,
    lab_base_config,
    parse_switches,
    trained_variants,
    variant_name,
)
from explorer.lab.table import Budget
from explorer.models import Transformer, TransformerConfig
from explorer.models.blocks import DecoderLayer, EncoderLayer, LayerSpec
from explorer.profiling.flops import EXTRA_FLOP_FORMULAS

SMALL = TransformerConfig(src_vocab_size=13, tgt_vocab_size=13, d_model=16, n_heads=4, n_encoder_layers=1,
                          n_decoder_layers=2, d_ff=24, dropout=0.0, max_len=20)


def _mixes() -> list[tuple[str, ...]]:
    """Every single switch, the pairs whose formulas interact, and all of them."""
    pairs = [("parallel", "pre_ln"), ("mqa", "no_bias"), ("swiglu", "no_bias"), ("tied", "no_bias"), ("rope", "mqa")]
    return [()] + [(n,) for n in SWITCH_NAMES] + pairs + [PALM_SWITCHES]


@pytest.mark.parametrize("mix", _mixes(), ids=lambda m: variant_name(m))
def test_params_and_flops_equal_closed_forms(mix: tuple[str, ...]) -> None:
    config = apply_switches(SMALL, mix)
    torch.manual_seed(0)
    model = Transformer(config).eval()
    assert count_params(config) == sum(p.numel() for p in model.parameters())
    src, tgt = torch.randint(1, 13, (2, 7)), torch.randint(1, 13, (2, 5))
    with FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS) as counter, torch.no_grad():
        model(src, tgt)
    assert forward_flops(config, 7, 5).total * 2 == counter.get_total_flops()  # batch of 2


def test_flops_quadratic_term_is_the_only_quadratic_one() -> None:
    short, long = forward_flops(SMALL, 8, 8), forward_flops(SMALL, 16, 16)
    assert long.attention_scores == 4 * short.attention_scores
    assert long.total - long.attention_scores == 2 * (short.total - short.attention_scores)


@pytest.mark.parametrize("heads", [2, 4, 8])
def test_multi_query_kv_cache_is_one_over_heads(heads: int) -> None:
    mha = TransformerConfig(d_model=32, n_heads=heads, n_encoder_layers=1, n_decoder_layers=3, d_ff=64)
    mqa = apply_switches(mha, ["mqa"])
    assert kv_cache_bytes(mqa).self_per_token * heads == kv_cache_bytes(mha).self_per_token
    assert kv_cache_bytes(mqa).cross_per_source_token * heads == kv_cache_bytes(mha).cross_per_source_token
    # 2 (K and V) x layers x d_model x 4 bytes, the textbook figure for multi-head attention
    assert kv_cache_bytes(mha).self_per_token == 2 * 3 * 32 * 4


@pytest.mark.parametrize("norm_first", [True, False])
def test_parallel_encoder_layer_is_palm_formula(norm_first: bool) -> None:
    torch.manual_seed(0)
    layer = EncoderLayer(LayerSpec(16, 4, 32, norm_first=norm_first, parallel=True)).eval()
    assert layer.norm2 is None
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        out = layer(x)
        if norm_first:
            h = layer.norm1(x)
            expected = x + layer.self_attn(h, h)[0] + layer.feed_forward(h)
        else:
            expected = layer.norm1(x + layer.self_attn(x, x)[0] + layer.feed_forward(x))
    torch.testing.assert_close(out, expected)


def test_parallel_decoder_layer_runs_cross_attention_beside_the_mlp() -> None:
    torch.manual_seed(0)
    layer = DecoderLayer(LayerSpec(16, 4, 32, norm_first=True, parallel=True)).eval()
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    with torch.no_grad():
        out = layer(x, memory)
        h = layer.norm1(x)
        x1 = x + layer.self_attn(h, h, causal=True)[0]
        h2 = layer.norm2(x1)
        expected = x1 + layer.cross_attn(h2, memory)[0] + layer.feed_forward(h2)
    torch.testing.assert_close(out, expected)


def test_sequential_layers_unchanged_by_the_switch() -> None:
    """parallel=False must be the model the shipped checkpoint was trained as (same state-dict keys)."""
    base = Transformer(SMALL).state_dict().keys()
    assert any(".norm3." in k for k in base) and any("encoder.layers.0.norm2." in k for k in base)
    assert TransformerConfig.from_dict(SMALL.to_dict()).parallel is False


def test_config_validates_parallel() -> None:
    with pytest.raises(ValueError, match="parallel must be true or false"):
        TransformerConfig(parallel="yes")  # type: ignore[arg-type]


def test_switch_parsing() -> None:
    assert parse_switches("rope, mqa") == ("mqa", "rope")  # canonical order
    assert parse_switches("") == ()
    with pytest.raises(ValueError, match="unknown switch 'gelu'"):
        parse_switches("gelu")
    assert variant_name(PALM_SWITCHES) == "palm" and variant_name(()) == "original"
    assert len(trained_variants()) == len(SWITCH_NAMES) + 2


def test_lab_base_is_the_dates_architecture() -> None:
    config = lab_base_config()
    assert (config.d_model, config.n_heads, config.n_encoder_layers, config.d_ff) == (64, 4, 2, 256)
    assert not config.norm_first and config.activation == "relu" and config.positions == "sinusoidal"


def test_cli_default_matches_budget() -> None:
    assert Budget().steps == LAB_STEPS
