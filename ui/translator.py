"""The Transformer page's translator section (Mozilla's tiny Marian), placed by ``app_pages/transformer.py``,
and the placement helpers both of the page's models share (charts, the step-by-step panel,
value-weighted attention).

Widgets -> ``explorer.views.translation`` (check, run, tables, figures) -> placed here. Widget keys
share the page's ``tf_`` prefix and are bound to the URL, so a link reproduces the view. User text is
only shown as plain text (``st.text``, dataframes, escaped chart labels).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from explorer.analysis.stepwise import KIND_LABELS
from explorer.inputs.text import escape_markdown
from ui import cache

MAX_PASTE = 5000  # the box takes a long paste; the checker cuts it to the model's cap and says so
TOP_K_MAX = 10


def plot(fig: Any, key: str, caption: str) -> None:  # a go.Figure
    """Place a figure across its column, with a PNG download (the modebar camera) named after the chart, and its caption.

    The attention figures choose their height for a column of ``explorer.figures.attention.COLUMN_PX`` and
    stretch to the real width, so a map fills a wide screen's column and stays about square."""
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": f"transformer_{key}"}}
    st.plotly_chart(fig, key=f"tf_{key}", config=config, theme="streamlit", width="stretch")
    st.caption(caption)


def output_box(text: str, empty: str = "(empty)") -> None:
    """A model's output, in a bordered box as plain text.

    Not ``st.code``: a code box makes the browser load Streamlit's syntax-highlighter chunk (1.6 MB of
    JavaScript, a new visitor's slowest download; bench/bench_first_visit.py) to show one line. ``st.text``
    parses neither Markdown nor HTML, so whatever the model or the user typed stays text."""
    st.container(border=True).text(text or empty)


def value_toggle() -> bool:
    """The URL-bound switch between attention weights and value-weighted norms (Kobayashi et al. 2020)."""
    return bool(st.toggle(
        "Value-weighted (‖α f(x)‖)", key="tf_vw", bind="query-params",
        help="Weigh each attention weight by the norm of the value vector it mixes in: how much a key really moves the output.",
    ))


def place_value_shares(view: Any) -> None:  # an AttentionView or TranslatorView
    """With value weighting on: what it means, and per head how much weight vs weighted norm goes to the first key and the sink."""
    if view.value_shares is None:
        return
    from explorer.views.transformer import VALUE_WEIGHTED_NOTE

    st.caption(VALUE_WEIGHTED_NOTE + " Head entropy, the step-by-step panel and the downloads stay on the weights α.")
    st.markdown(f"**Per head, layer {view.layer}: attention weight vs weighted norm**")
    st.dataframe(view.value_shares, hide_index=True)
    st.caption(escape_markdown(view.value_caption))


def place_steps(step: Any, caption: str) -> None:  # a StepView
    """Eq. 1 for one head and one query: Q/K/V, the per-key table, the chart and the head's output row."""
    st.markdown(escape_markdown(f"Layer {step.layer}, head {step.head}, query {step.query} = {step.query_label}, d_k = {step.d_k}."))
    # Lazy: the three matrices are built into the page only while the expander is open (three tables
    # fewer for every first visit to draw).
    qkv = st.expander("1 · Q, K and V (projections of the layer input)", expanded=False, key="tf_qkv", on_change="rerun")
    if qkv.open:
        with qkv:
            st.caption("q = x_query W_Q, k = x_key W_K, v = x_key W_V for this head (Section 3.2.2). Rounded to 3 decimals.")
            for title, frame in (("**q** (the query row)", step.q), ("**K** (one row per key)", step.k), ("**V** (one row per key)", step.v)):
                st.markdown(title)
                st.dataframe(frame, width="stretch")
    st.markdown("**2-5 · scores, scaling, mask, softmax** (one row per key)")
    st.dataframe(step.table, hide_index=True, width="stretch")
    st.caption(f"Recomputed weights match the model's own to {step.gap:.1e} (max absolute difference over the whole head). " + caption)
    plot(step.figure, "steps", "Top: the scaled scores of this query for each key" + (" (grey = hidden by the mask)" if step.hidden else "")
         + ". Bottom: the weights after the softmax.")
    st.markdown("**6 · weighted sum of V** (the head's output for this query)")
    st.dataframe(step.output, width="stretch")


def render(model_key: str, text_column: Any, shape: Any) -> None:  # a Streamlit container, a ModelShape
    """The whole translator view for ``model_key`` ("en-pt" or "pt-en"), widgets bounded by the model's ``shape``."""
    from explorer.views import translation as tv  # torch only on this page

    source_lang, target_lang = tv.LANGUAGES[model_key]
    text_raw = text_column.text_area(
        f"{source_lang} text to translate", value=tv.DEFAULT_TEXT[model_key], max_chars=MAX_PASTE, key="tf_text",
        bind="query-params", height=80,
        help="A sentence (plain text). The model reads at most its cap in pieces and characters; longer text is cut and the page says so.",
    )
    with st.expander("Decoding settings", expanded="tf_topk" in st.query_params):
        top_k = st.slider("Top-k shown per step", 1, TOP_K_MAX, tv.DEFAULT_TOP_K, key="tf_topk", bind="query-params")
        st.caption("Greedy decoding (Marian's beam size 1): each step takes the most likely piece; the table shows the alternatives.")
    prepared = tv.prepare(model_key, text_raw or "", int(top_k))
    if prepared.error:
        st.error(escape_markdown(prepared.error))
        st.stop()
    assert prepared.check is not None and prepared.record is not None
    for message in prepared.check.warnings:
        st.warning(escape_markdown(message))
    for message in prepared.check.infos:
        st.info(escape_markdown(message))
    record = prepared.record

    output_area = st.container()
    st.subheader("Which words each output word looked at")
    acols = st.columns([1, 1, 2])
    last = shape.n_decoder_layers - 1
    align_layer = acols[0].number_input("Decoder layer", 0, last, last, key="tf_align_layer", bind="query-params")
    align_heads = acols[1].selectbox("Heads", ["mean", *(str(h) for h in range(shape.n_heads))], key="tf_align_head", bind="query-params",
                                     help=f"Averaged over the layer's {shape.n_heads} heads, or one head.")
    merge = acols[2].toggle("Merge a word's pieces (mean)", value=True, key="tf_merge", bind="query-params")
    alignment_area = st.container()
    st.subheader("Attention")
    vcols = st.columns([2, 1, 1, 1])
    view_name = vcols[0].radio(
        "View", list(tv.VIEWS), captions=[KIND_LABELS[k] for k in tv.VIEWS.values()], key="tf_view", bind="query-params",
        help="The encoder's self-attention, the decoder's (Marian has none: see below), or the decoder's look at the source.",
    )
    layer = vcols[1].number_input("Layer", min_value=0, max_value=shape.n_layers - 1, value=0, step=1, key="tf_layer", bind="query-params")
    head = vcols[2].number_input("Head", min_value=0, max_value=shape.n_heads - 1, value=0, step=1, key="tf_head", bind="query-params")
    head_mode = vcols[3].radio("Heads", tv.HEAD_MODES, key="tf_heads", bind="query-params")
    weighted = value_toggle()
    settings = tv.TranslatorSettings(
        model_key, int(top_k), view_name, int(layer), int(head), head_mode,
        align_layer=int(align_layer), align_head=None if align_heads == "mean" else int(align_heads), merge_words=bool(merge),
        value_weighted=weighted,
    )
    view = cache.translator_view(text_raw or "", settings)

    with output_area:
        st.subheader("Pieces and output")
        st.markdown("**Source pieces** (what the encoder reads; ▁ starts a word, `<unk>` = not in the vocabulary)")
        st.dataframe(view.tokens, width="stretch")
        st.markdown(f"**{target_lang}**" + ("" if view.finished else " (stopped at the length limit, no end piece)"))
        output_box(view.output)
        st.markdown("**Decoding, step by step** (probabilities over the whole vocabulary)")
        st.dataframe(view.steps, hide_index=True, width="stretch")

    with alignment_area:
        plot(view.alignment, "alignment", view.alignment_caption)
        st.markdown(f"**Strongest {source_lang} word for each {target_lang} word**")
        st.dataframe(view.alignment_pairs, hide_index=True)

    if view.note is not None:
        st.info(view.note, icon=":material/info:")
    else:
        plot(view.heatmap, "heatmap", "Rows are queries, columns are keys; each row of weights sums to 1 (for 'max' it need not).")
        place_value_shares(view)
        plot(view.overview, "overview", "All layers (rows) × heads (columns) of this attention type, one colour scale.")
        plot(view.entropy, "entropy", "Mean normalised entropy of each head's rows: 0 = sharp (dark), 1 = uniform (light).")
        ecols = st.columns(3)
        ecols[0].download_button("Download CSV", data=view.csv, file_name=f"{view.export_stem}.csv", mime="text/csv",
                                 on_click="ignore", key="tf_dl_csv")
        ecols[1].download_button("Download NPZ", data=view.npz, file_name=f"{view.export_stem}.npz",
                                 mime="application/octet-stream", on_click="ignore", key="tf_dl_npz")
        _step_by_step(record, view, text_raw or "", settings)


def _step_by_step(record: Any, view: Any, text: str, settings: Any) -> None:  # a TranslationRecord, its TranslatorView
    """Eq. 1 for one head and one query, from the inputs the attention module saw."""
    st.subheader("Scaled dot-product attention, step by step")
    st.caption("Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V  (Vaswani et al. 2017, Eq. 1), for one head and one query of this sentence.")
    n_queries = len(record.query_pieces(view.kind))
    if int(st.session_state.get("tf_query", 0) or 0) >= n_queries:
        st.session_state["tf_query"] = 0
    query = st.slider("Query position", 0, max(1, n_queries - 1), key="tf_query", bind="query-params", disabled=n_queries == 1)
    step = cache.translator_step_view(text, settings, int(query))
    if step is not None:
        place_steps(step, "Nothing is masked in Marian's encoder or cross-attention, so the 'mask with 0' mistake has nothing "
                          "to leak here: choose the dates model's decoder to see it.")
