"""Two-phase (prefill / decode with KV cache) profiling: tables per phase, FLOPs equal to the closed form,
cache memory, eager vs fused attention, the shared model untouched; the real models in the slow lane."""

from __future__ import annotations

import gzip
import json

import pytest
import torch

from explorer.profiling import ProfilingError
from explorer.profiling.phases import profile_phases, prompt_sweep, tiny_generator
from explorer.profiling.tiny_lm import TinyLMConfig, build_tiny_lm, decode_flops, prefill_flops

CFG = TinyLMConfig(vocab_size=64, d_model=32, n_heads=4, n_layers=2, d_ff=64)
BATCH, PROMPT, NEW = 2, 16, 4


@pytest.fixture(scope="module")
def generator():
    return tiny_generator(build_tiny_lm(CFG))


@pytest.fixture(scope="module")
def result(generator):
    ids = torch.randint(0, CFG.vocab_size, (BATCH, PROMPT), generator=torch.Generator().manual_seed(0))
    return profile_phases(generator, ids, NEW, warmup=1, active=2, keep_trace=True)


def test_both_phases_have_tables_with_positive_times(result):
    for phase in (result.prefill, result.decode):
        assert phase.rows and phase.profiled_us > 0
        assert all(r.total_us >= 0 and r.self_us >= 0 for r in phase.rows)
        attn = [r for r in phase.rows if r.category == "attention"]
        assert len(attn) == CFG.n_layers and all(r.total_us > 0 for r in attn)
        assert phase.tokens_per_s > 0
    assert result.prefill.tokens == BATCH * PROMPT and result.decode.tokens == BATCH * NEW
    # one decode call per new token and layer
    assert result.decode.rows[[r.path for r in result.decode.rows].index("layers.0.self_attn")].calls == NEW


def test_flops_equal_the_closed_form(result):
    assert result.prefill.flops == prefill_flops(CFG, BATCH, PROMPT)
    assert result.decode.flops == decode_flops(CFG, BATCH, PROMPT, NEW)


def test_cache_memory_is_two_tensors_per_layer(result):
    per_token = CFG.n_layers * 2 * BATCH * CFG.d_model * 4  # K and V, float32
    assert result.prefill.cache_bytes == per_token * PROMPT
    assert result.decode.cache_bytes == per_token * (PROMPT + NEW)


def test_shares_cover_attention_mlp_embedding_and_unembedding_without_double_counting(result):
    for phase in (result.prefill, result.decode):
        shares = phase.category_shares()
        assert {"attention", "mlp", "embedding", "unembedding", "norm"} <= set(shares)
        assert 0 < sum(shares.values()) <= 1.0 + 1e-6
        parts = phase.part_shares()
        assert "lm_head" in parts and "layers" in parts and sum(parts.values()) <= 1.0 + 1e-6


def test_module_ranges_nest_inside_the_phase_ranges_in_the_trace(result):
    trace = json.loads(gzip.decompress(result.chrome_trace_gz))
    events = [e for e in trace["traceEvents"] if e.get("ph") == "X"]
    phases = [e for e in events if e["name"] in ("phase::prefill", "phase::decode")]
    attn = [e for e in events if e["name"] == "module::layers.1.self_attn"]
    assert phases and attn
    for a in attn:
        assert any(p["ts"] <= a["ts"] and a["ts"] + a["dur"] <= p["ts"] + p["dur"] for p in phases)


def test_the_shared_model_is_not_touched(generator, result):
    assert all("forward" not in vars(m) for m in generator.model.modules())
    assert not any(p.requires_grad for p in generator.model.parameters())


def test_eager_path_runs_the_explicit_softmax(generator):
    ids = torch.randint(0, CFG.vocab_size, (1, 8))
    eager = profile_phases(generator, ids, 2, warmup=0, active=1, attention_path="eager", keep_trace=True)
    fused = profile_phases(generator, ids, 2, warmup=0, active=1, keep_trace=True)
    names = lambda r: {e.get("name") for e in json.loads(gzip.decompress(r.chrome_trace_gz))["traceEvents"]}
    assert "aten::softmax" in names(eager) and not any("scaled_dot_product" in str(n) for n in names(eager))
    assert any("scaled_dot_product" in str(n) for n in names(fused))
    assert eager.prefill.flops == fused.prefill.flops  # same maths, same count


def test_prompt_sweep_reports_shares_per_length(generator):
    out = prompt_sweep(generator, [8, 32], active=1, warmup=0)
    assert [length for length, _, _ in out] == [8, 32]
    assert all("attention" in shares and tps > 0 for _, shares, tps in out)


@pytest.mark.parametrize("kwargs,needle", [({"new_tokens": 0}, "new tokens"), ({"warmup": -1}, "warm-up"), ({"active": 0}, "active")])
def test_bad_requests_are_refused_with_one_line(generator, kwargs, needle):
    args = {"new_tokens": 2, "warmup": 0, "active": 1, **kwargs}
    with pytest.raises(ProfilingError, match=needle) as info:
        profile_phases(generator, torch.zeros(1, 4, dtype=torch.long), args.pop("new_tokens"), **args)
    assert "\n" not in str(info.value)


def test_a_one_dimensional_prompt_is_refused(generator):
    with pytest.raises(ProfilingError, match="batch, tokens"):
        profile_phases(generator, torch.zeros(4, dtype=torch.long), 2)


# ------------------------------------------------------------------ the real models (slow lane)


def _pretrained(name):
    from explorer.pretrained import pretrained_status

    status = pretrained_status(name)
    if status is not None:
        pytest.skip(status)
    from explorer.pretrained import load_pretrained

    return load_pretrained(name)


@pytest.mark.slow
def test_smollm2_prefill_and_decode():
    from explorer.profiling.phases import lm_generator

    pre = _pretrained("smollm2-135m")
    before = {n: p.data_ptr() for n, p in pre.model.named_parameters()}
    ids = torch.tensor([pre.tokenizer.encode("The capital of France is Paris, and the capital of Portugal is")])
    result = profile_phases(lm_generator(pre.model), ids, 3, warmup=0, active=1)
    assert result.prefill.category_shares()["attention"] > 0 and result.decode.category_shares()["unembedding"] > 0
    cfg = pre.model.config
    kv = cfg.n_kv_heads * (cfg.d_model // cfg.n_heads)
    assert result.prefill.cache_bytes >= cfg.n_layers * 2 * ids.shape[1] * kv * 4
    assert all("forward" not in vars(m) and "unembed" not in vars(m) for m in pre.model.modules())
    assert before == {n: p.data_ptr() for n, p in pre.model.named_parameters()}


@pytest.mark.slow
def test_marian_encoder_decoder_and_cross_attention_shares():
    from explorer.profiling.phases import marian_generator

    pre = _pretrained("marian-en-pt")
    ids = torch.tensor([pre.tokenizer.encode("The cat is sleeping on the sofa.")])
    result = profile_phases(marian_generator(pre.model), ids, 3, warmup=0, active=1)
    parts = result.prefill.part_shares()
    assert parts["encoder"] > 0 and parts["decoder_layers"] > 0
    assert result.decode.category_shares()["cross_attention"] > 0 and "encoder" not in result.decode.part_shares()
    assert all("_cached_cross" not in vars(m) and "encode" not in vars(m) for m in pre.model.modules())
