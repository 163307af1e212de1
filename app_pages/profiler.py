"""Profiler: where a Transformer's or ViT's time, memory and FLOPs go, module by module.

Widgets (bound to the URL, so a link reproduces the run) -> ``explorer.views.profiler`` (the
validated request, its estimate, the run policy, one view per tab; the deeper tabs in
``explorer.views.profiler_extras``) -> placed here. Only one profiler runs per process, so a click
may wait for another session's run (the status box says so) and auto-run pauses while it is busy.
"""

from __future__ import annotations

import time

import streamlit as st

from explorer.profiling import SORT_KEYS
from explorer.views import profiler as views
from explorer.views.profiler import ACTIVATIONS, AUTO_RUN_SECONDS, CHARTS, DEVICES, MODE_LABELS, NORMS, POSITIONS, TABS, URL_SCHEMA, WEIGHTS
from ui import profiler_tabs as tabs_ui
from ui.profiler_tabs import chart, measure, table
from ui.share import clean_link

RESULT, BASELINE = "profiler_result", "profiler_baseline"

st.title("Profiler")
st.caption(
    "A live `torch.profiler` run of the explorer's models: per-module time, memory and FLOPs, the operator table, "
    "scaling with sequence length, a diff against a baseline, and trace export for Perfetto or TensorBoard."
)
clean_link(URL_SCHEMA)

# Bound radios and selects show their raw option values: Streamlit writes the *formatted* label to the
# URL when a format_func is given, so plain values keep links short and stable.
top = st.columns([1.2, 1.6, 1.4, 0.8])
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
    d_ff = arch[0].number_input("d_ff", 1, 16384, 512, step=64, key="prof_d_ff", bind="query-params", disabled=trained)
    norm = arch[1].selectbox("LayerNorm", NORMS, key="prof_norm", bind="query-params", disabled=trained)
    activation = arch[2].selectbox("activation", ACTIVATIONS, key="prof_act", bind="query-params", disabled=trained)
    positions = arch[3].selectbox("positions", POSITIONS, key="prof_pos", bind="query-params", disabled=trained)
    patch = st.number_input("patch size", 1, 64, 4, key="prof_patch", bind="query-params", disabled=trained) if model == "vit" else None

run_cols = st.columns(4)
batch = run_cols[0].number_input("batch", 1, 1024, 8, key="prof_batch", bind="query-params")
if model == "transformer":
    seq_len, image_size = run_cols[1].number_input("sequence length (source = target)", 1, 8192, 64, step=16, key="prof_seq_len", bind="query-params"), 32
else:
    seq_len, image_size = 64, run_cols[1].number_input("image size (pixels)", 1, 1024, 32, step=8, key="prof_image", bind="query-params")
warmup = run_cols[2].number_input("warm-up steps", 0, 20, views.DEFAULT_WARMUP, key="prof_warmup", bind="query-params",
                                  help="Recorded and thrown away: first calls pay for caches and allocations.")
active = run_cols[3].number_input("active steps", 0, 50, views.DEFAULT_ACTIVE, key="prof_active", bind="query-params",
                                  help="Measured steps; tables show the mean and spread over them.")

planned = views.plan(views.Settings(
    model, weights, mode, device, int(d_model), int(heads), int(kv_heads), int(layers), int(d_ff), norm, activation, positions,
    int(patch) if patch else None, int(batch), int(seq_len), int(image_size), int(warmup), int(active),
    int(st.session_state.get("seed", 0) or 0),
))
if planned.error:
    st.error(planned.error, icon=":material/block:")
request = planned.request

controls = st.columns([1, 2.2, 3])
run_clicked = controls[0].button("Run profiler", type="primary", disabled=request is None)
auto = controls[1].toggle(f"Auto-run if quick (< {AUTO_RUN_SECONDS:.0f} s)", value=True, key="prof_auto_run",
                          help="Profile as soon as the configuration changes when the estimate is this short and the profiler is free.")
if planned.estimate is not None:
    controls[2].caption(f"Estimate: {planned.estimate.summary()}.")

stored = st.session_state.get(RESULT)
busy = views.profiler_busy(request)
if request is not None and views.should_run(planned, stored[0] if stored else None, run_clicked, auto, busy):
    started, chosen = time.perf_counter(), request
    outcome = measure("Profiling...", lambda on_wait, _: views.run(chosen, run_clicked, on_wait),
                      lambda out: views.outcome_label(out, time.perf_counter() - started))
    if outcome is not None:
        st.session_state[RESULT] = stored = (request.fingerprint(), outcome.result)
fresh = stored is not None and request is not None and stored[0] == request.fingerprint()
if busy and auto and not fresh:
    st.info(busy, icon=":material/hourglass_top:")
if stored is None:
    if request is not None and not busy:
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

# Keyed and bound to the URL: the open tab survives reruns (button clicks inside it) and links; only the open tab is computed and sent.
tabs = st.tabs(TABS, key="prof_tab", bind="query-params", on_change="rerun")

with tabs[0]:
    if tabs[0].open:
        mcols = st.columns([2, 2, 3])
        depth = mcols[0].slider("Depth", 0, 8, 4, key="prof_depth", bind="query-params", help="0 = the whole model; each level opens one more layer of sub-modules.")
        hide = mcols[1].toggle("Hide modules that never ran", value=True, key="prof_hide_uncalled",
                               help="e.g. attention dropout on the fused path, or containers that only hold layers.")
        modules = views.modules_view(result, depth, hide)
        table(modules.frame, height=min(36 * (len(modules.frame) + 1) + 4, 640))
        st.caption(views.MODULES_CAPTION)
        if modules.has_negative_net:
            st.info(views.NEGATIVE_NET_NOTE)

with tabs[1]:
    if tabs[1].open:
        ocols = st.columns(4)
        sort_by = ocols[0].selectbox("Sort by", SORT_KEYS, key="prof_op_sort", bind="query-params")
        limit = ocols[1].number_input("Rows", 1, 500, 20, key="prof_op_limit", bind="query-params")
        by_shape = ocols[2].toggle("Group by input shape", key="prof_op_shapes", bind="query-params")
        top_level = ocols[3].toggle("Top-level operators only", key="prof_op_top", bind="query-params",
                                    help="Operators called from model code, not the ones they call (aten::linear, not the aten::addmm inside).")
        try:
            table(views.operators_frame(result, sort_by, int(limit), by_shape, top_level))
            st.caption(f"As `prof.key_averages()` gives it: summed over the {result.active_steps} active steps. Self time excludes "
                       "operators called inside; total includes them.")
            if by_shape and not result.request.record_shapes:
                st.warning("Shapes were not recorded for this run.")
        except ValueError as error:
            st.error(str(error))

with tabs[2]:
    if tabs[2].open:
        pictures = views.pictures_view(result, st.radio("Layout", CHARTS, key="prof_chart", bind="query-params", horizontal=True))
        for figure in (pictures.hierarchy, pictures.top_modules, pictures.memory):
            chart(figure)
        st.caption("Time: a box's size is its total time; click a box to zoom. Memory: the profiler's allocation records "
                   "(allocations minus frees) during the first active step, relative to the step start; the shaded bands are "
                   "blocks and top-level modules, named in the strip below the line (hover a bar for its full path).")

with tabs[3]:
    if tabs[3].open:
        tabs_ui.scaling_tab(result, request)

with tabs[4]:
    if tabs[4].open:
        buttons = st.container(horizontal=True)  # buttons keep their whole label and wrap on a phone
        if buttons.button("Keep this run as the baseline"):
            st.session_state[BASELINE] = result
        if buttons.button("Clear the baseline"):
            st.session_state.pop(BASELINE, None)
        baseline = st.session_state.get(BASELINE)
        if baseline is None:
            st.info("Keep a run as the baseline, change the configuration, run again: this tab then shows what changed.")
        else:
            st.caption(f"Baseline: {baseline.request.describe()} ({baseline.started_at}).  \nCurrent: {result.request.describe()} ({result.started_at}).")
            diff = views.diff_view(baseline, result)
            chart(diff.modules)
            table(diff.modules_table)
            chart(diff.operators)
            table(diff.operators_table)
            st.caption("Times in ms per step (operators: self CPU time, summed over a step); memory in KiB; Δ = current - baseline.")

with tabs[5]:
    if tabs[5].open:
        chart(views.step_times(result))
        st.markdown(views.honest_markdown(result))

with tabs[6]:
    if tabs[6].open:
        files = views.exports(result)
        with st.container(horizontal=True):  # buttons keep their whole label and wrap on a phone
            if result.chrome_trace_gz:
                st.download_button("Chrome trace (.json.gz)", result.chrome_trace_gz, file_name="profiler_trace.json.gz",
                                   mime="application/gzip", help="Open in https://ui.perfetto.dev or chrome://tracing.")
            if result.tensorboard_zip:
                st.download_button("TensorBoard trace (.zip)", result.tensorboard_zip, file_name="profiler_tensorboard.zip",
                                   mime="application/zip", help="The trace directory, zipped. Unzip, then: tensorboard --logdir profiler_trace")
            st.download_button("Modules (CSV)", files.modules_csv, file_name="profiler_modules.csv", mime="text/csv")
            st.download_button("Operators (CSV)", files.operators_csv, file_name="profiler_operators.csv", mime="text/csv")
            st.download_button("Summary + modules (JSON)", files.json, file_name="profiler.json", mime="application/json")
        st.caption("The same table from the command line: `python -m explorer profile --model transformer --format csv`.")

with tabs[7]:
    if tabs[7].open:
        tabs_ui.generation_tab()

with tabs[8]:
    if tabs[8].open:
        tabs_ui.paths_tab(request)

with tabs[9]:
    if tabs[9].open:
        tabs_ui.python_tab(request, result)
