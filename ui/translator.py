"""The Transformer page's translator section (Mozilla's tiny Marian), placed by ``app_pages/transformer.py``.

Widgets -> ``explorer.views.translation`` (check, run, tables, figures) -> placed here. Widget keys
share the page's ``tf_`` prefix and are bound to the URL, so a link reproduces the view. User text is
only shown as plain text (code blocks, dataframes, chart labels).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from explorer.analysis.stepwise import KIND_LABELS
from explorer.inputs.text import escape_markdown

MAX_PASTE = 5000  # the box takes a long paste; the checker cuts it to the model's cap and says so
TOP_K_MAX = 10


def _plot(fig: Any, key: str, caption: str, width: str = "stretch") -> None:  # noqa: ANN401 - a go.Figure
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": f"transformer_{key}"}}
    st.plotly_chart(fig, key=f"tf_{key}", config=config, theme="streamlit", width=width)
    st.caption(caption)


def render(model_key: str, text_column: Any) -> None:  # noqa: ANN401 - a Streamlit container
    """The whole translator view for ``model_key`` ("en-pt" or "pt-en")."""
    from explorer.views import translation as tv  # noqa: PLC0415 - torch only on this page

    source_lang, target_lang = tv.LANGUAGES[model_key]
    text_raw = text_column.text_area(
        f"{source_lang} text to translate", value=tv.DEFAULT_TEXT[model_key], max_chars=MAX_PASTE, key="tf_text",
        bind="query-params", height=80,
        help="A sentence (plain text). The model reads at most its cap in pieces and characters; longer text is cut and the page says so.",
    )
    with st.expander("Decoding settings", expanded="tf_topk" in st.query_params):
        top_k = st.slider("Top-k shown per step", 1, TOP_K_MAX, 5, key="tf_topk", bind="query-params")
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
    align_layer = acols[0].number_input("Decoder layer", 0, 1, 1, key="tf_align_layer", bind="query-params")
    align_heads = acols[1].selectbox("Heads", ["mean", *(str(h) for h in range(8))], key="tf_align_head", bind="query-params",
                                     help="Averaged over the layer's 8 heads, or one head.")
    merge = acols[2].toggle("Merge a word's pieces (mean)", value=True, key="tf_merge", bind="query-params")
    alignment_area = st.container()
    st.subheader("Attention")
    vcols = st.columns([2, 1, 1, 1])
    view_name = vcols[0].radio(
        "View", list(tv.VIEWS), captions=[KIND_LABELS[k] for k in tv.VIEWS.values()], key="tf_view", bind="query-params",
        help="The encoder's self-attention, the decoder's (Marian has none: see below), or the decoder's look at the source.",
    )
    layer = vcols[1].number_input("Layer", min_value=0, max_value=5, value=0, step=1, key="tf_layer", bind="query-params")
    head = vcols[2].number_input("Head", min_value=0, max_value=7, value=0, step=1, key="tf_head", bind="query-params")
    head_mode = vcols[3].radio("Heads", tv.HEAD_MODES, key="tf_heads", bind="query-params")
    settings = tv.TranslatorSettings(
        model_key, int(top_k), view_name, int(layer), int(head), head_mode,
        align_layer=int(align_layer), align_head=None if align_heads == "mean" else int(align_heads), merge_words=bool(merge),
    )
    view = tv.translator_view(record, settings)

    with output_area:
        st.subheader("Pieces and output")
        st.markdown("**Source pieces** (what the encoder reads; ▁ starts a word, `<unk>` = not in the vocabulary)")
        st.dataframe(view.tokens, width="stretch")
        st.markdown(f"**{target_lang}**" + ("" if view.finished else " (stopped at the length limit, no end piece)"))
        st.code(view.output or "(empty)", language=None)
        st.markdown("**Decoding, step by step** (probabilities over the whole vocabulary)")
        st.dataframe(view.steps, hide_index=True, width="stretch")

    with alignment_area:
        _plot(view.alignment, "alignment", view.alignment_caption, width="content")
        st.markdown(f"**Strongest {source_lang} word for each {target_lang} word**")
        st.dataframe(view.alignment_pairs, hide_index=True)

    if view.note is not None:
        st.info(view.note, icon=":material/info:")
    else:
        _plot(view.heatmap, "heatmap", "Rows are queries, columns are keys; each row sums to 1 (for 'max' it need not).", width="content")
        _plot(view.overview, "overview", "All layers (rows) × heads (columns) of this attention type, one colour scale.")
        _plot(view.entropy, "entropy", "Mean normalised entropy of each head's rows: 0 = sharp (dark), 1 = uniform (light).")
        ecols = st.columns(3)
        ecols[0].download_button("Download CSV", data=view.csv, file_name=f"{view.export_stem}.csv", mime="text/csv",
                                 on_click="ignore", key="tf_dl_csv")
        ecols[1].download_button("Download NPZ", data=view.npz, file_name=f"{view.export_stem}.npz",
                                 mime="application/octet-stream", on_click="ignore", key="tf_dl_npz")
        _step_by_step(tv, record, view)


def _step_by_step(tv: Any, record: Any, view: Any) -> None:  # noqa: ANN401
    """Eq. 1 for one head and one query, from the inputs the attention module saw."""
    from explorer.pretrained import load_pretrained  # noqa: PLC0415

    st.subheader("Scaled dot-product attention, step by step")
    st.caption("Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V  (Vaswani et al. 2017, Eq. 1), for one head and one query of this sentence.")
    n_queries = len(record.query_pieces(view.kind))
    if int(st.session_state.get("tf_query", 0) or 0) >= n_queries:
        st.session_state["tf_query"] = 0
    query = st.slider("Query position", 0, max(1, n_queries - 1), key="tf_query", bind="query-params", disabled=n_queries == 1)
    step = tv.translator_step_view(load_pretrained(tv.TRANSLATORS[record.model.removeprefix("marian-")]).model, record, view, int(query))
    if step is None:
        return
    st.markdown(escape_markdown(f"Layer {step.layer}, head {step.head}, query {step.query} = {step.query_label}, d_k = {step.d_k}."))
    st.dataframe(step.table, hide_index=True, width="stretch")
    st.caption(
        f"Recomputed weights match the model's own to {step.gap:.1e}. Nothing is masked in Marian's encoder or "
        "cross-attention, so the 'mask with 0' mistake has nothing to leak here: choose the dates model's decoder to see it."
    )
    _plot(step.figure, "steps", "Top: scaled scores of this query for each key. Bottom: the weights after the softmax.")
