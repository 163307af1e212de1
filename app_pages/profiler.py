"""Profiler: where a Transformer's or ViT's time, memory and FLOPs go, module by module.

Widgets (bound to the URL, so a link reproduces the run) -> ``explorer.views.profiler`` (the
validated request, its estimate, the run policy, one view per tab) -> placed here. Only one profiler
can run per process, so a run may wait for another session's; the status box says so.
"""

from __future__ import annotations

import time

import streamlit as st

from explorer.profiling import SORT_KEYS, ProfilingError, default_sizes, parse_sizes, scaling_sweep
from explorer.views import profiler as views
from explorer.views.profiler import ACTIVATIONS, AUTO_RUN_SECONDS, CHARTS, DEVICES, MODE_LABELS, NORMS, PAGE_MAX_SECONDS, POSITIONS, TABS, URL_SCHEMA, WEIGHTS
from ui.share import clean_link

PLOT_CONFIG = {"displaylogo": False}
RESULT, BASELINE, SCALING = "profiler_result", "profiler_baseline", "profiler_scaling"
GENERATION, PATHS, PYTHON, PROMPT_SWEEP = "profiler_generation", "profiler_paths", "profiler_python", "profiler_prompt_sweep"


st.title("Profiler")
st.caption(
    "A live `torch.profiler` run of the explorer's models: per-module time, memory and FLOPs, the operator table, "
    "scaling with sequence length, a diff against a baseline, and trace export for Perfetto or TensorBoard."
)
clean_link(URL_SCHEMA)

# ---------------------------------------------------------------------------------------------
# What to profile
# ---------------------------------------------------------------------------------------------

top = st.columns([1.2, 1.6, 1.4, 0.8])
# Bound radios and selects show their raw option values: Streamlit writes the *formatted* label to the
# URL when a format_func is given, so plain values keep links short and stable.
model = top[0].radio("Model", views.MODELS, key="prof_model", bind="query-params", horizontal=True,
                     captions=["encoder-decoder (text)", "Vision Transformer"])
weights = top[1].radio("Weights", tuple(WEIGHTS), captions=list(WEIGHTS.values()), key="prof_weights", bind="query-params", horizontal=True)
mode = top[2].radio("Pass", tuple(MODE_LABELS), captions=list(MODE_LABELS.values()), key="prof_mode", bind="query-params", horizontal=True,
                    help="Train = forward + backward: gradients of a dummy loss (no optimiser step).")
device = top[3].selectbox("Device", DEVICES, key="prof_device", bind="query-params")
trained = weights == "trained"

with st.expander("Architecture" + (" (fixed by the trained checkpoint)" if trained else ""), expanded=not trained):
    arch = st.columns(4)
    d_model = arch[0].number_input("d_model", 1, 4096, 128, step=8, key="prof_d_model", bind="query-params", disabled=trained)
    heads = arch[1].number_input("heads", 1, 64, 4, key="prof_heads", bind="query-params", disabled=trained)
    kv_heads = arch[2].number_input("key/value heads (0 = same as heads)", 0, 64, 0, key="prof_kv_heads", bind="query-params",
                                    disabled=trained, help="1 = multi-query, a divisor of heads = grouped-query attention.")
    layers = arch[3].number_input("layers" + (" (encoder and decoder each)" if model == "transformer" else ""), 1, 48, 2,
                                  key="prof_layers", bind="query-params", disabled=trained)
    arch2 = st.columns(4)
    d_ff = arch2[0].number_input("d_ff", 1, 16384, 512, step=64, key="prof_d_ff", bind="query-params", disabled=trained)
    norm = arch2[1].selectbox("LayerNorm", NORMS, key="prof_norm", bind="query-params", disabled=trained)
    activation = arch2[2].selectbox("activation", ACTIVATIONS, key="prof_act", bind="query-params", disabled=trained)
    positions = arch2[3].selectbox("positions", POSITIONS, key="prof_pos", bind="query-params", disabled=trained)
    patch = None
    if model == "vit":
        patch = st.number_input("patch size", 1, 64, 4, key="prof_patch", bind="query-params", disabled=trained)

run_cols = st.columns(4)
batch = run_cols[0].number_input("batch", 1, 1024, 8, key="prof_batch", bind="query-params")
if model == "transformer":
    seq_len = run_cols[1].number_input("sequence length (source = target)", 1, 8192, 64, step=16, key="prof_seq_len", bind="query-params")
    image_size = 32
else:
    image_size = run_cols[1].number_input("image size (pixels)", 1, 1024, 32, step=8, key="prof_image", bind="query-params")
    seq_len = 64
warmup = run_cols[2].number_input("warm-up steps", 0, 20, views.DEFAULT_WARMUP, key="prof_warmup", bind="query-params",
                                  help="Recorded and thrown away: first calls pay for caches and allocations.")
active = run_cols[3].number_input("active steps", 0, 50, views.DEFAULT_ACTIVE, key="prof_active", bind="query-params",
                                  help="Measured steps; tables show the mean and spread over them.")

settings = views.Settings(
    model, weights, mode, device, int(d_model), int(heads), int(kv_heads), int(layers), int(d_ff), norm, activation, positions,
    int(patch) if patch else None, int(batch), int(seq_len), int(image_size), int(warmup), int(active),
    int(st.session_state.get("seed", 0) or 0),
)
planned = views.plan(settings)
if planned.error:
    st.error(planned.error, icon=":material/block:")
request = planned.request

controls = st.columns([1, 2.2, 3])
run_clicked = controls[0].button("Run profiler", type="primary", disabled=request is None)
auto = controls[1].toggle(f"Auto-run if quick (< {AUTO_RUN_SECONDS:.0f} s)", value=True, key="prof_auto_run",
                          help="Profile as soon as the configuration changes when the estimate is this short.")
if planned.estimate is not None:
    controls[2].caption(f"Estimate: {planned.estimate.summary()}.")

stored = st.session_state.get(RESULT)
if request is not None and views.should_run(planned, stored[0] if stored else None, run_clicked, auto):
    with st.status("Profiling...", expanded=False) as status:

        def on_wait(message: str) -> None:
            status.update(label="Waiting for another session's profiler run...", state="running", expanded=True)
            status.write(message)

        started = time.perf_counter()
        try:
            outcome = views.run(request, run_clicked, on_wait)
        except ProfilingError as error:
            status.update(label="The profiler run failed", state="error", expanded=True)
            st.error(str(error), icon=":material/block:")
        else:
            st.session_state[RESULT] = (request.fingerprint(), outcome.result)
            label = (
                f"Reused a run of this configuration from {outcome.age_seconds:.0f} s ago ({outcome.result.started_at})"
                if outcome.shared
                else f"Profiled in {time.perf_counter() - started:.1f} s ({outcome.result.started_at})"
            )
            status.update(label=label, state="complete")
        stored = st.session_state.get(RESULT)
fresh = stored is not None and request is not None and stored[0] == request.fingerprint()

if stored is None:
    if request is not None:
        st.info("Press **Run profiler** to measure this configuration.")
    st.stop()

result = stored[1]
if not fresh:
    st.warning("The results below are from a previous configuration; press **Run profiler** to measure the current one.")
for note in result.notes:
    st.info(note)

head = views.headline(result)
metrics = st.columns(4)
metrics[0].metric("step (profiled)", f"{head.step_ms:.1f} ms", help="Mean over the active steps, from the profiler's step events.")
metrics[1].metric("spread (std)", f"{head.spread_ms:.1f} ms", help="Standard deviation over the active steps.")
metrics[2].metric("profiler overhead", head.overhead_label, help=head.overhead_text)
metrics[3].metric("forward FLOPs", head.flops, help=head.flop_convention)
st.caption(head.caption)

# Keyed and bound to the URL: the open tab survives reruns (button clicks inside it) and links.
tabs = st.tabs(TABS, key="prof_tab", bind="query-params", on_change="rerun")

# ---------------------------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------------------------
with tabs[0]:
    if tabs[0].open:  # only the open tab is computed and sent
        mcols = st.columns([2, 2, 3])
        depth = mcols[0].slider("Depth", 0, 8, 4, key="prof_depth", bind="query-params", help="0 = the whole model; each level opens one more layer of sub-modules.")
        hide = mcols[1].toggle("Hide modules that never ran", value=True, key="prof_hide_uncalled",
                               help="e.g. attention dropout on the fused path, or containers that only hold layers.")
        modules = views.modules_view(result, depth, hide)
        st.dataframe(
            modules.frame,
            hide_index=True,
            height=min(36 * (len(modules.frame) + 1) + 4, 640),
            column_config={
                "share %": st.column_config.ProgressColumn("share %", min_value=0, max_value=100, format="%.1f"),
                "total ms": st.column_config.NumberColumn(format="%.3f"),
                "± ms": st.column_config.NumberColumn(format="%.3f"),
                "self ms": st.column_config.NumberColumn(format="%.3f"),
                modules.net_column: st.column_config.NumberColumn(format="%.1f"),
                modules.peak_column: st.column_config.NumberColumn(format="%.1f"),
                "path": st.column_config.TextColumn("path", width="large", help="The full dotted module path."),
                "MFLOP": st.column_config.NumberColumn(format="%.2f"),
                "GFLOP/s": st.column_config.NumberColumn(format="%.2f"),
                "calls": st.column_config.NumberColumn(format="%.0f"),
            },
        )
        st.caption(
            "**total** = the module's scope, children included; **self** = total minus its child modules (operators it runs "
            "itself stay in). Containers that are never called (e.g. `encoder`, `layers`) show the sum of their children. "
            "Times are per step (mean and standard deviation over the active steps). FLOPs come from a separate, untimed "
            "pass with `FlopCounterMode`: one multiply-add = 2 FLOPs, matrix products only."
        )
        if modules.has_negative_net:
            st.info(
                "**Why some net memory is negative.** Net memory is what a module allocated minus what was freed while it "
                "ran. A module that releases tensors made before it started (its input's intermediates, or in backward the "
                "activations saved during forward) frees more than it allocates, so its net is negative. Peak memory (the "
                "highest point above the level at entry) is never negative."
            )

# ---------------------------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------------------------
with tabs[1]:
    if tabs[1].open:  # only the open tab is computed and sent
        ocols = st.columns(4)
        sort_by = ocols[0].selectbox("Sort by", SORT_KEYS, key="prof_op_sort", bind="query-params")
        limit = ocols[1].number_input("Rows", 1, 500, 20, key="prof_op_limit", bind="query-params")
        by_shape = ocols[2].toggle("Group by input shape", key="prof_op_shapes", bind="query-params")
        top_level = ocols[3].toggle("Top-level operators only", key="prof_op_top", bind="query-params",
                                    help="Operators called from model code, not the ones they call (aten::linear, not the aten::addmm inside).")
        try:
            ops = views.operators_frame(result, sort_by, int(limit), by_shape, top_level)
        except ValueError as error:
            st.error(str(error))
        else:
            st.dataframe(ops, hide_index=True)
            st.caption(
                f"As `prof.key_averages()` gives it: summed over the {result.active_steps} active steps. Self time excludes "
                "operators called inside; total includes them."
            )
            if by_shape and not result.request.record_shapes:
                st.warning("Shapes were not recorded for this run.")

# ---------------------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------------------
with tabs[2]:
    if tabs[2].open:  # only the open tab is computed and sent
        chart = st.radio("Layout", CHARTS, key="prof_chart", bind="query-params", horizontal=True)
        pictures = views.pictures_view(result, chart)
        for figure in (pictures.hierarchy, pictures.top_modules, pictures.memory):
            st.plotly_chart(figure, config=PLOT_CONFIG)
        st.caption("Memory: the profiler's allocation records during the first active step, relative to the step start; shaded bands are blocks and top-level modules.")

# ---------------------------------------------------------------------------------------------
# Scaling
# ---------------------------------------------------------------------------------------------
with tabs[3]:
    if tabs[3].open:  # only the open tab is computed and sent
        unit = "sequence lengths" if result.request.model == "transformer" else "image sizes (pixels, multiples of the patch)"
        suggested = ", ".join(str(s) for s in default_sizes(result.request))
        sizes_text = st.text_input(f"Sizes to sweep ({unit})", value="", placeholder=suggested, key="prof_sizes", bind="query-params",
                                   max_chars=80, help="Empty = the default sweep: batch 1, doubling up to T = 8 d_model, where attention's T² term shows.")
        if st.button("Run scaling sweep", disabled=request is None):
            try:
                sizes = parse_sizes(sizes_text) if sizes_text.strip() else None  # None: the default sweep
                with st.status("Sweeping...", expanded=False) as sweep_status:

                    def sweep_wait(message: str) -> None:
                        sweep_status.update(label="Waiting for another session's profiler run...", expanded=True)
                        sweep_status.write(message)

                    def sweep_progress(i: int, n: int, size: int) -> None:
                        sweep_status.update(label=f"Sweeping: size {size} ({i + 1} of {n})")

                    sweep = scaling_sweep(result.request, sizes, on_wait=sweep_wait, progress=sweep_progress, max_seconds=PAGE_MAX_SECONDS)
                    sweep_status.update(label="Sweep done", state="complete")
                st.session_state[SCALING] = (result.request.fingerprint(), sweep)
            except ProfilingError as error:
                st.error(str(error), icon=":material/block:")
        stored_sweep = st.session_state.get(SCALING)
        if stored_sweep is not None:
            sweep = stored_sweep[1]
            if stored_sweep[0] != result.request.fingerprint():
                st.caption("This sweep was run for an earlier configuration.")
            scaling = views.scaling_view(sweep)
            scols = st.columns(2)
            scols[0].plotly_chart(scaling.time, config=PLOT_CONFIG)
            scols[1].plotly_chart(scaling.memory, config=PLOT_CONFIG)
            st.dataframe(scaling.exponents, hide_index=True)
            st.caption(
                "k is the slope of a straight-line fit on log-log axes over the upper half of the sweep (y ~ tokens^k); each "
                "point is the median of the active steps. " + scaling.statement
            )
        else:
            st.info("Press **Run scaling sweep** to profile the current configuration at several sizes.")

# ---------------------------------------------------------------------------------------------
# Diff
# ---------------------------------------------------------------------------------------------
with tabs[4]:
    if tabs[4].open:  # only the open tab is computed and sent
        dcols = st.columns([1, 1, 3])
        if dcols[0].button("Keep this run as the baseline"):
            st.session_state[BASELINE] = result
        if dcols[1].button("Clear the baseline"):
            st.session_state.pop(BASELINE, None)
        baseline = st.session_state.get(BASELINE)
        if baseline is None:
            st.info("Keep a run as the baseline, change the configuration, run again: this tab then shows what changed.")
        else:
            st.caption(f"Baseline: {baseline.request.describe()} ({baseline.started_at}).")
            st.caption(f"Current: {result.request.describe()} ({result.started_at}).")
            diff = views.diff_view(baseline, result)
            st.plotly_chart(diff.modules, config=PLOT_CONFIG)
            st.dataframe(diff.modules_table, hide_index=True)
            st.plotly_chart(diff.operators, config=PLOT_CONFIG)
            st.dataframe(diff.operators_table, hide_index=True)
            st.caption("Module rows: times in us per step, memory in bytes; operator rows: self CPU time in us and calls per step.")

# ---------------------------------------------------------------------------------------------
# Honest numbers
# ---------------------------------------------------------------------------------------------
with tabs[5]:
    if tabs[5].open:  # only the open tab is computed and sent
        st.plotly_chart(views.step_times(result), config=PLOT_CONFIG)
        st.markdown(
            f"""
    - **Profiler overhead**: {views.honest_statements(result)[0]}
    - **Mean and spread**: every time is the mean over {result.active_steps} active steps; the module table's ± column is their standard
      deviation. {result.request.warmup} warm-up step(s) were recorded and discarded (first calls pay for allocation and caches).
    - **Memory**: *net* = allocations minus frees inside a module; it can be negative (see the Modules tab). *Peak* = the
      highest point above the level at entry.
    - **FLOPs**: counted once in an untimed pass; one multiply-add = 2 FLOPs; only matrix products count (norms, softmax
      and activations are left out, as usual).
    - **Estimate before the run**: {result.estimate.summary()}.
    - **Estimated vs measured memory**: {views.honest_statements(result)[1]}
    - **Shared machine**: sessions share CPU cores; another session's work slows yours. Only one profiler runs at a time,
      so you may wait for another session's run.
    """
        )

# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------
with tabs[6]:
    if tabs[6].open:  # only the open tab is computed and sent
        ecols = st.columns(5)
        if result.chrome_trace_gz:
            ecols[0].download_button("Chrome trace (.json.gz)", result.chrome_trace_gz, file_name="profiler_trace.json.gz",
                                     mime="application/gzip", help="Open in https://ui.perfetto.dev or chrome://tracing.")
        if result.tensorboard_zip:
            ecols[1].download_button("TensorBoard trace dir (.zip)", result.tensorboard_zip, file_name="profiler_tensorboard.zip",
                                     mime="application/zip", help="Unzip, then: tensorboard --logdir profiler_trace")
        files = views.exports(result)
        ecols[2].download_button("Modules (CSV)", files.modules_csv, file_name="profiler_modules.csv", mime="text/csv")
        ecols[3].download_button("Operators (CSV)", files.operators_csv, file_name="profiler_operators.csv", mime="text/csv")
        ecols[4].download_button("Summary + modules (JSON)", files.json, file_name="profiler.json", mime="application/json")
        st.caption("The same table from the command line: `python -m explorer profile --model transformer --format csv`.")

# ---------------------------------------------------------------------------------------------
# LLM phases: a real model's prefill and decode with the KV cache
# ---------------------------------------------------------------------------------------------
with tabs[7]:
    if tabs[7].open:
        gcols = st.columns([2, 1, 1, 1])
        # No format_func: a URL-bound selectbox stores what it displays, and the link must hold the model id.
        gen_model = gcols[0].selectbox("Model", views.GENERATION_MODELS, key="prof_gen_model", bind="query-params",
                                       help="; ".join(f"{k}: {v}" for k, v in views.GENERATION_LABELS.items()))
        prompt_tokens = gcols[1].number_input("prompt tokens", 1, 2048, 64, key="prof_gen_prompt", bind="query-params")
        new_tokens = gcols[2].number_input("new tokens", 1, 256, 16, key="prof_gen_new", bind="query-params")
        gen_path = gcols[3].radio("attention", ("fused", "eager"), key="prof_gen_path", bind="query-params", horizontal=True)
        status_line = views.generation_status(gen_model)
        if status_line:
            st.warning(status_line, icon=":material/block:")
        bcols = st.columns([1, 1, 3])
        if bcols[0].button("Profile generation", type="primary", disabled=bool(status_line)):
            with st.status(f"Profiling {gen_model}: prefill then decode...") as gen_status:
                try:
                    profiled = views.run_generation(gen_model, int(prompt_tokens), int(new_tokens), gen_path,
                                                    on_wait=lambda m: gen_status.update(label=m))
                    st.session_state[GENERATION] = profiled
                    gen_status.update(label="Generation profiled", state="complete")
                except ProfilingError as error:
                    gen_status.update(label="The run failed", state="error")
                    st.error(str(error), icon=":material/block:")
        if bcols[1].button("Sweep prompt length", disabled=bool(status_line),
                           help=f"Prefill at {', '.join(map(str, views.SWEEP_PROMPTS))} tokens: attention's growing share."):
            try:
                with st.spinner("Sweeping the prompt length..."):
                    st.session_state[PROMPT_SWEEP] = views.run_prompt_sweep(gen_model)
            except ProfilingError as error:
                st.error(str(error), icon=":material/block:")
        profiled = st.session_state.get(GENERATION)
        if profiled is None:
            st.info("Press **Profile generation**: the prompt is read in one prefill, then tokens are added one at a time with the KV cache.")
        else:
            pcols = st.columns([1, 1])
            phase = pcols[0].radio("phase", views.PHASE_NAMES, key="prof_gen_phase", bind="query-params", horizontal=True)
            gen_depth = pcols[1].slider("depth", 0, 6, 3, key="prof_gen_depth", bind="query-params")
            gen_view = views.generation_view(profiled, phase, gen_depth)
            for column, (label, value, help_text) in zip(st.columns(len(gen_view.metrics)), gen_view.metrics):
                column.metric(label, value, help=help_text)
            st.caption(f"{profiled.name} · {profiled.attention_path} attention · {profiled.prompt_len} + {profiled.new_tokens} tokens. {gen_view.caption}")
            st.plotly_chart(gen_view.shares, config=PLOT_CONFIG)
            st.plotly_chart(gen_view.parts, config=PLOT_CONFIG)
            st.dataframe(gen_view.table, hide_index=True, column_config={
                "path": st.column_config.TextColumn("path", width="large"),
                "share %": st.column_config.ProgressColumn("share %", min_value=0, max_value=100, format="%.1f"),
                "total ms": st.column_config.NumberColumn(format="%.3f"), "self ms": st.column_config.NumberColumn(format="%.3f"),
                "MFLOP": st.column_config.NumberColumn(format="%.2f"), "calls": st.column_config.NumberColumn(format="%.0f"),
            })
        sweep_points = st.session_state.get(PROMPT_SWEEP)
        if sweep_points:
            sweep_figure, sweep_text = views.prompt_sweep_view(sweep_points)
            st.plotly_chart(sweep_figure, config=PLOT_CONFIG)
            st.caption(sweep_text)

# ---------------------------------------------------------------------------------------------
# Eager vs fused attention on the same model
# ---------------------------------------------------------------------------------------------
with tabs[8]:
    if tabs[8].open:
        st.caption("Asking for attention maps forces the explicit softmax path; the fused kernel never stores the T x T weights. "
                   "The current configuration, profiled both ways.")
        if st.button("Compare fused and eager", type="primary", disabled=request is None) and request is not None:
            with st.status("Profiling both attention paths...") as paths_status:
                try:
                    st.session_state[PATHS] = views.compare_paths(request, on_wait=lambda m: paths_status.update(label=m))
                    paths_status.update(label="Both paths profiled", state="complete")
                except ProfilingError as error:
                    paths_status.update(label="The run failed", state="error")
                    st.error(str(error), icon=":material/block:")
        comparison = st.session_state.get(PATHS)
        if comparison is not None:
            shown = views.paths_view(comparison)
            st.markdown(shown.statement)
            st.plotly_chart(shown.figure, config=PLOT_CONFIG)
            st.dataframe(shown.table, hide_index=True, column_config={"module": st.column_config.TextColumn("module", width="large")})

# ---------------------------------------------------------------------------------------------
# The Python around the model
# ---------------------------------------------------------------------------------------------
with tabs[9]:
    if tabs[9].open:
        py_kind = st.radio("Request", views.PYTHON_REQUESTS, key="prof_py_request", bind="query-params", horizontal=True,
                           help="The current configuration's steps and pictures, or a whole generation with the model chosen in LLM phases.")
        if st.button("Profile the Python", type="primary"):
            try:
                with st.spinner("Sampling the request with pyinstrument..."):
                    run_request = views.python_request(py_kind, request, st.session_state.get("prof_gen_model", "smollm2-135m"), result)
                    st.session_state[PYTHON] = views.python_view(run_request)
            except ProfilingError as error:
                st.error(str(error), icon=":material/block:")
        python_shown = st.session_state.get(PYTHON)
        if python_shown is not None:
            st.plotly_chart(python_shown.icicle, config=PLOT_CONFIG)
            st.dataframe(python_shown.shares, hide_index=True)
            st.caption(python_shown.caption)
        st.markdown("**Which profiler answers which question**")
        st.markdown(views.profiler_guide())
