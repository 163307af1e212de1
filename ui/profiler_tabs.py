"""The profiler page's placing helpers and its click-to-run tabs (scaling sweep, LLM phases, eager vs
fused, the Python view), as spacy-streamlit's ``visualize_*`` functions: each is handed what the page
already has (the result, the request), asks ``explorer.views.profiler*`` for everything it shows, and
places it. No maths here; the runs go through the process-wide profiler lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from explorer.profiling import ProfileRequest, ProfileResult, ProfilingError, default_sizes, parse_sizes, scaling_sweep
from explorer.views import profiler as views
from explorer.views import profiler_extras as extras

PLOT_CONFIG = {"displaylogo": False}
SCALING, GENERATION, PATHS, PYTHON, PROMPT_SWEEP = (
    "profiler_scaling", "profiler_generation", "profiler_paths", "profiler_python", "profiler_prompt_sweep",
)


def table(frame: pd.DataFrame, **kwargs: Any) -> None:
    # Plain dicts with ColumnConfig's keys: the view builds them without importing Streamlit's TypedDict.
    st.dataframe(frame, hide_index=True, column_config=views.column_settings(frame), **kwargs)  # type: ignore[arg-type]


def chart(figure: Any, where: Any = st) -> None:
    where.plotly_chart(figure, config=PLOT_CONFIG)


def measure(label: str, work: Callable[[Callable[[str], None], Any], Any], done: str | Callable[[Any], str]) -> Any:
    """Run ``work(on_wait, status)`` in a status box; a ``ProfilingError`` is one line, never a traceback."""
    with st.status(label, expanded=False) as box:

        def on_wait(message: str) -> None:
            box.update(label="Waiting for another session's profiler run...", state="running", expanded=True)
            box.write(message)

        try:
            value = work(on_wait, box)
        except ProfilingError as error:
            box.update(label="The profiler run failed", state="error", expanded=True)
            st.error(str(error), icon=":material/block:")
            return None
        box.update(label=done if isinstance(done, str) else done(value), state="complete")
        return value


def scaling_tab(result: ProfileResult, request: ProfileRequest | None) -> None:
    """Time and memory against the sequence length (or image size), with the fitted exponents."""
    unit = "sequence lengths" if result.request.model == "transformer" else "image sizes (pixels, multiples of the patch)"
    sizes_text = st.text_input(f"Sizes to sweep ({unit})", value="", placeholder=", ".join(map(str, default_sizes(result.request))),
                               key="prof_sizes", bind="query-params", max_chars=80,
                               help="Empty = the default sweep: batch 1, doubling up to T = 8 d_model, where attention's T² term shows.")
    if st.button("Run scaling sweep", disabled=request is None):
        try:
            sizes = parse_sizes(sizes_text) if sizes_text.strip() else None  # None: the default sweep
        except ProfilingError as error:
            st.error(str(error), icon=":material/block:")
        else:
            sweep = measure("Sweeping...", lambda on_wait, box: scaling_sweep(
                result.request, sizes, on_wait=on_wait, max_seconds=extras.PAGE_MAX_SECONDS,
                progress=lambda i, n, size: box.update(label=f"Sweeping: size {size} ({i + 1} of {n})")), "Sweep done")
            if sweep is not None:
                st.session_state[SCALING] = (result.request.fingerprint(), sweep)
    stored_sweep = st.session_state.get(SCALING)
    if stored_sweep is None:
        st.info("Press **Run scaling sweep** to profile the current configuration at several sizes.")
    else:
        if stored_sweep[0] != result.request.fingerprint():
            st.caption("This sweep was run for an earlier configuration.")
        scaling = views.scaling_view(stored_sweep[1])
        scols = st.columns(2)
        chart(scaling.time, scols[0])
        chart(scaling.memory, scols[1])
        table(scaling.exponents)
        st.caption("k is the slope of a straight-line fit on log-log axes over the upper half of the sweep (y ~ tokens^k); each "
                   "point is the median of the active steps. " + scaling.statement)


def generation_tab() -> None:
    """A real LLM's prefill and decode with the KV cache, and attention's share as the prompt grows."""
    gcols = st.columns([2, 1, 1, 1])
    # No format_func: a URL-bound selectbox stores what it displays, and the link must hold the model id.
    gen_model = gcols[0].selectbox("Model", extras.GENERATION_MODELS, key="prof_gen_model", bind="query-params",
                                   help="; ".join(f"{k}: {v}" for k, v in extras.GENERATION_LABELS.items()))
    prompt_tokens = gcols[1].number_input("prompt tokens", 1, 2048, 64, key="prof_gen_prompt", bind="query-params")
    new_tokens = gcols[2].number_input("new tokens", 1, 256, 16, key="prof_gen_new", bind="query-params")
    gen_path = gcols[3].radio("attention", ("fused", "eager"), key="prof_gen_path", bind="query-params", horizontal=True)
    status_line = extras.generation_status(gen_model)
    if status_line:
        st.warning(status_line, icon=":material/block:")
    buttons = st.container(horizontal=True)  # one wrapping row: labels are never cut
    if buttons.button("Profile generation", type="primary", disabled=bool(status_line)):
        profiled = measure(f"Profiling {gen_model}: prefill then decode...", lambda on_wait, _: extras.run_generation(
            gen_model, int(prompt_tokens), int(new_tokens), gen_path, on_wait=on_wait), "Generation profiled")
        if profiled is not None:
            st.session_state[GENERATION] = profiled
    if buttons.button("Sweep prompt length", disabled=bool(status_line),
                       help=f"Prefill at {', '.join(map(str, extras.SWEEP_PROMPTS))} tokens: attention's growing share."):
        st.session_state[PROMPT_SWEEP] = measure("Sweeping the prompt length...", lambda *_: extras.run_prompt_sweep(gen_model),
                                                 "Prompt lengths swept") or st.session_state.get(PROMPT_SWEEP)
    profiled = st.session_state.get(GENERATION)
    if profiled is None:
        st.info("Press **Profile generation**: the prompt is read in one prefill, then tokens are added one at a time with the KV cache.")
    else:
        pcols = st.columns([1, 1])
        phase = pcols[0].radio("phase", extras.PHASE_NAMES, key="prof_gen_phase", bind="query-params", horizontal=True)
        gen_view = extras.generation_view(profiled, phase, pcols[1].slider("depth", 0, 6, 3, key="prof_gen_depth", bind="query-params"))
        for column, (label, value, help_text) in zip(st.columns(len(gen_view.metrics)), gen_view.metrics):
            column.metric(label, value, help=help_text)
        st.caption(f"{profiled.name} · {profiled.attention_path} attention · {profiled.prompt_len} + {profiled.new_tokens} tokens. {gen_view.caption}")
        chart(gen_view.shares)
        chart(gen_view.parts)
        table(gen_view.table)
    if st.session_state.get(PROMPT_SWEEP):
        sweep_figure, sweep_text = extras.prompt_sweep_view(st.session_state[PROMPT_SWEEP])
        chart(sweep_figure)
        st.caption(sweep_text)


def paths_tab(request: ProfileRequest | None) -> None:
    """The same configuration with the fused attention kernel and with the explicit softmax path."""
    st.caption("Asking for attention maps forces the explicit softmax path; the fused kernel never stores the T x T weights. "
               "The current configuration, profiled both ways.")
    if st.button("Compare fused and eager", type="primary", disabled=request is None) and request is not None:
        compared = measure("Profiling both attention paths...", lambda on_wait, _: extras.compare_paths(request, on_wait=on_wait),
                           "Both paths profiled")
        if compared is not None:
            st.session_state[PATHS] = compared
    if st.session_state.get(PATHS) is not None:
        shown = extras.paths_view(st.session_state[PATHS])
        st.markdown(shown.statement)
        chart(shown.figure)
        table(shown.table)


def python_tab(request: ProfileRequest | None, result: ProfileResult) -> None:
    """pyinstrument's view of the whole request: the Python around the model, not just its operators."""
    py_kind = st.radio("Request", extras.PYTHON_REQUESTS, key="prof_py_request", bind="query-params", horizontal=True,
                       help="The current configuration's steps and pictures, or a whole generation with the model chosen in LLM phases.")
    if st.button("Profile the Python", type="primary"):
        sampled = measure("Sampling the request with pyinstrument...", lambda *_: extras.python_view(extras.python_request(
            py_kind, request, st.session_state.get("prof_gen_model", "smollm2-135m"), result)), "Python sampled")
        if sampled is not None:
            st.session_state[PYTHON] = sampled
    python_shown = st.session_state.get(PYTHON)
    if python_shown is not None:
        chart(python_shown.icicle)
        table(python_shown.shares)
        st.caption(python_shown.caption)
    st.markdown("**Which profiler answers which question**")
    st.markdown(extras.profiler_guide())
