"""Architecture lab: the original Transformer against PaLM's changes, measured; and the dates model's training replayed.

Widgets -> ``explorer.views.lab`` -> placed here. Every control is bound to a URL parameter (``lab_`` prefix).
"""

from __future__ import annotations

import streamlit as st

from explorer.inputs.params import ParamSpec
from explorer.inputs.text import MAX_TEXT_CHARS, check_text, escape_markdown
from explorer.lab.switches import SWITCHES, parse_switches, variant_name
from explorer.lab.table import read_table
from explorer.views.lab import TABS, VALUE_KINDS, compare_view, table_view, training_view, value_view
from ui import cache
from ui.share import clean_link
from ui.translator import output_box

DEFAULT_TEXT = "Thursday 26 November 2026"
BY_LABEL = {s.label: s.name for s in SWITCHES}

st.title("Architecture lab")
st.caption(
    "The original Transformer (Vaswani et al. 2017) against the changes PaLM made (Chowdhery et al. 2022, Section 2) "
    "and pre-LN, each a switch of the same from-scratch model at the dates model's size. Parameters and FLOPs are closed "
    "forms (tested equal to the counted ones), latencies are measured here and now, accuracy and loss come from a table "
    "trained by one command with the same budget and seed for every variant."
)

clean_link({
    "lab_tab": ParamSpec("choice", choices=TABS),
    "lab_layer": ParamSpec("int", minimum=0, maximum=1),
    "lab_head": ParamSpec("int", minimum=0, maximum=3),
    "lab_kind": ParamSpec("choice", choices=tuple(VALUE_KINDS)),
})
table = read_table()
tabs = st.tabs(TABS, key="lab_tab", bind="query-params", on_change="rerun")

with tabs[0]:
    if tabs[0].open:
        # Options are the labels themselves: a bound widget writes its formatted label into the URL.
        picked = st.pills("Switches (any mix)", list(BY_LABEL), selection_mode="multi", key="lab_switches",
                          bind="query-params", default=[])
        switches = parse_switches([BY_LABEL[label] for label in picked or []])
        names = {(): "original", switches: variant_name(switches), **{(s,): s for s in switches}}
        latencies = {name: cache.lab_latency(mix) for mix, name in names.items()}
        view = compare_view(switches, latencies, table)
        st.dataframe(view.numbers, width="stretch")
        st.caption(
            "FLOPs: matrix products only, a multiply-add = 2. KV cache: float32 keys and values a decoder keeps per token. "
            "Latency: best of 25 runs on this shared machine, batch 1; this app's encoder-decoder decodes without a KV "
            "cache (each step re-runs the decoder on the prefix), so multi-query attention's saving shows in the cache "
            "bytes, not in these timings."
        )
        if view.trained_note:
            st.info(view.trained_note)
        for label, claim, measured in view.captions:
            with st.container(border=True):
                st.markdown(f"**{label}** — the paper: {claim}")
                st.markdown(f"Here: {measured}")
        if view.curves is not None:
            st.plotly_chart(view.curves, key="lab_curves_chart")
            st.caption(view.curves_caption)

with tabs[1]:
    if tabs[1].open:
        if table is None:
            st.info("The trained table is missing: run `python -m explorer lab-train` (about 7 CPU-minutes).")
        else:
            shown = table_view(table)
            st.dataframe(shown.table, hide_index=True, width="stretch",
                         column_config={name: st.column_config.NumberColumn(format=f) for name, f in shown.formats.items()})
            st.caption(shown.budget + " Reproduce: `python -m explorer lab-train`.")
            st.plotly_chart(shown.curves, key="lab_table_chart")
            st.caption("Cross-entropy on the training batches (log scale), one line per variant of the table above.")

with tabs[2]:
    if tabs[2].open:
        try:
            snaps = cache.lab_snapshots()
        except ValueError as error:
            st.warning(str(error))
            st.stop()
        step = st.select_slider("Training step", options=list(snaps.steps), value=snaps.steps[-1], key="lab_step", bind="query-params")
        left, right = st.columns([3, 1])
        text = left.text_input("Date to translate", value=DEFAULT_TEXT, max_chars=MAX_TEXT_CHARS, key="lab_text", bind="query-params")
        layer = right.number_input("Decoder layer", 0, snaps.config.n_decoder_layers - 1, 1, key="lab_layer", bind="query-params")
        check = check_text(text, cache.zoo_model("dates").tokenizer, snaps.config.max_len)
        if not check.ok:
            st.warning(escape_markdown(check.error))
            st.stop()
        trained = training_view(snaps, int(step), check.text, int(layer))
        st.markdown(f"After **{trained.step}** steps the model writes:")
        output_box(trained.output, "(nothing)")
        st.caption(f"At this snapshot: held-out exact match {trained.accuracy:.1%}, cross-attention alignment {trained.alignment:.1%}. "
                   + trained.provenance)
        st.plotly_chart(trained.cross, key="lab_cross_chart")
        st.caption(f"Rows are the decoder's inputs, columns the source characters; the mean of the layer's heads after {trained.step} steps.")
        st.plotly_chart(trained.metrics, key="lab_metrics_chart")
        st.plotly_chart(trained.loss, key="lab_loss_chart")
        st.caption("Cross-entropy on the training batches (log scale); the dashed line marks the chosen step.")

with tabs[3]:
    if tabs[3].open:
        st.caption(
            "Kobayashi et al. 2020: a head adds α_ij f(x_j) to query i, so a token's contribution is ||α_ij f(x_j)||, not α_ij. "
            "A token that soaks up weight (a 'sink') may carry a small value vector and move little."
        )
        c1, c2, c3 = st.columns(3)
        kind = c1.segmented_control("Attention", list(VALUE_KINDS), key="lab_kind", bind="query-params", default="encoder", required=True)
        vlayer = c2.number_input("Layer", 0, 1, 0, key="lab_vlayer", bind="query-params")
        head = c3.number_input("Head", 0, 3, 0, key="lab_head", bind="query-params")
        run = cache.translation("dates", True, DEFAULT_TEXT, 0.0, 5, "", 0)
        shown = value_view(run.attention, cache.zoo_model("dates").model, VALUE_KINDS[kind], int(vlayer), int(head))
        st.plotly_chart(shown.bars, key="lab_value_bars")
        st.dataframe(shown.shares, hide_index=True)
        st.caption(f"Input: {DEFAULT_TEXT!r}; first token = {shown.first_token}. Shares are averaged over query rows.")
        a, b = st.columns(2)
        a.plotly_chart(shown.raw, key="lab_value_raw")
        b.plotly_chart(shown.weighted, key="lab_value_weighted")
        st.caption("Left: the weights α of one head. Right: ‖α_ij f(x_j)‖ of the same head divided by its largest cell, "
                   "so both maps run from 0 to 1 and a key whose value vector is short fades on the right.")
