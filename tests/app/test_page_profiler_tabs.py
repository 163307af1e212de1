"""AppTest runs of the profiler page's newer tabs: LLM phases, eager vs fused, Python view, and the default
scaling sweep and honest-number statements computed from the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptools import chart_titles, frame_with
from streamlit.testing.v1 import AppTest

from explorer.profiling.shared import RECENT_RUNS

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "profiler.py")
SMALL = dict(prof_d_model="32", prof_heads="2", prof_layers="1", prof_d_ff="64", prof_batch="2", prof_seq_len="16", prof_warmup="0", prof_active="2")


@pytest.fixture(autouse=True)
def _no_shared_results() -> None:
    RECENT_RUNS.clear()


def _page(**params: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=300)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click()
    return at.run()


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
def test_llm_phases_tab_profiles_prefill_and_decode() -> None:
    at = _page(prof_tab="LLM phases", prof_gen_prompt="16", prof_gen_new="2", **SMALL)
    _clean(at)
    # Picked on the widget: Streamlit binds a selectbox with format_func to its label, so ?prof_gen_model=tiny-lm
    # is ignored and the page would load and profile SmolLM2 (18 s of CPU instead of 0.3 s).
    at.selectbox(key="prof_gen_model").set_value("tiny-lm").run()
    assert at.session_state["prof_gen_model"] == "tiny-lm"
    at = _click(at, "Profile generation")
    _clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["prefill"].endswith("tok/s") and metrics["decode"].endswith("tok/s") and "KV cache" in metrics
    titles = chart_titles(at)
    assert any("by kind" in t for t in titles) and any("part of the model" in t for t in titles)
    table = frame_with(at, "path")
    assert "layers.0.self_attn" in set(table["path"])  # full dotted paths, never cut
    at.radio(key="prof_gen_phase").set_value("decode").run()
    _clean(at)
    assert (frame_with(at, "path")["calls"] > 1).any()  # decode calls each module once per new token


@pytest.mark.slow
def test_llm_phases_prompt_sweep_shows_attention_share_by_length() -> None:
    at = _page(prof_tab="LLM phases", **SMALL)
    at.selectbox(key="prof_gen_model").set_value("tiny-lm").run()  # not through the URL: see the test above
    at = _click(at, "Sweep prompt length")
    _clean(at)
    assert any("vs prompt length" in t for t in chart_titles(at))
    assert any("share of the prefill" in c.value for c in at.caption)


def test_eager_vs_fused_tab_compares_the_same_model() -> None:
    at = _page(prof_tab="Eager vs fused", **SMALL)
    _clean(at)
    at = _click(at, "Compare fused and eager")
    _clean(at)
    assert any("fused vs explicit softmax" in t for t in chart_titles(at))
    table = frame_with(at, "eager / fused")
    assert "encoder.layers.0.self_attn" in set(table["module"])
    assert any("Attention with the maps (eager)" in m.value for m in at.markdown)


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
def test_python_view_tab_shows_the_call_tree_and_the_guide() -> None:
    at = _page(prof_tab="Python view", **SMALL)
    _clean(at)
    assert any("py-spy" in m.value for m in at.markdown)  # the guide is there before any run
    at = _click(at, "Profile the Python")
    _clean(at)
    assert any("Python call by call" in t for t in chart_titles(at))
    shares = frame_with(at, "share %")
    assert "torch ops (C++)" in set(shares["where"]) and abs(shares["share %"].sum() - 100) < 1
    assert any("pyinstrument sampled" in c.value for c in at.caption)


@pytest.mark.slow  # a few seconds: the full suite runs it, the fast lane stays under 2 minutes
def test_default_sweep_reaches_eight_d_model_and_states_its_exponents() -> None:
    at = _page(prof_tab="Scaling", **SMALL)
    _clean(at)
    at = _click(at, "Run scaling sweep")  # empty sizes: the default sweep
    _clean(at)
    exponents = frame_with(at, "time exponent")
    assert {"FLOP exponent", "± (std. error)"} <= set(exponents.columns)
    sweep = at.session_state["profiler_scaling"][1]
    assert sweep.batch_size == 1 and sweep.tokens[-1] == 8 * 32
    assert any("1 + T/(T+2d)" in c.value for c in at.caption)


def test_honest_numbers_compare_memory_like_with_like() -> None:
    at = _page(prof_tab="Honest numbers", **SMALL)
    _clean(at)
    text = " ".join(m.value for m in at.markdown)
    assert "weights excluded on both sides" in text and "Profiler overhead x" in text
    overhead = next(m for m in at.metric if m.label == "profiler overhead").value
    ratio = float(overhead.split()[0].lstrip("x"))
    assert ratio >= 1.0 or "(noise)" in overhead


@pytest.mark.slow
def test_llm_phases_tab_with_smollm2() -> None:
    from explorer.pretrained import pretrained_status

    if pretrained_status("smollm2-135m") is not None:
        pytest.skip(pretrained_status("smollm2-135m"))
    at = _page(prof_tab="LLM phases", prof_gen_model="smollm2-135m", prof_gen_prompt="32", prof_gen_new="4", **SMALL)
    at = _click(at, "Profile generation")
    _clean(at)
    assert "KV cache" in {m.label for m in at.metric}
    assert "layers.0.self_attn" in set(frame_with(at, "path")["path"])
