"""Language model: type any text and see what SmolLM2-135M's 270 attention heads do.

Widgets -> ``explorer.views.language_model`` (frozen results, figures, downloads) -> placed here.
Every control that defines the view is bound to a URL parameter (prefix lm_), so a link reproduces
it, generated text included (greedy by default; sampling seeded by the sidebar seed). User text is
shown only as plain text (code blocks, dataframes, chart labels escaped for Plotly).
"""

from __future__ import annotations

import time

import streamlit as st

from explorer.inputs.text import escape_markdown
from explorer.pretrained import pretrained_status
from explorer.runs.lm import MAX_NEW_TOKENS, MAX_PROMPT_CHARS, MAX_TOP_K, MODES, TEMPERATURE_MAX, Sampling
from explorer.views import language_model as views
from explorer.views.language_model import HEADS, TABS, URL_SCHEMA, parse_head
from ui.share import clean_link

PLOT_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


def plot(fig, key: str, caption: str, **options: object) -> None:
    config = {**PLOT_CONFIG, "toImageButtonOptions": {**PLOT_CONFIG["toImageButtonOptions"], "filename": f"language_model_{key}"}}
    st.plotly_chart(fig, key=f"lm_{key}_chart", config=config, theme="streamlit", **options)
    st.caption(caption)


def pick_head() -> None:
    """on_select callback of the head map: runs before the rerun, so it may still set the bound ``lm_head`` widget."""
    event = st.session_state.get("lm_heads_chart")
    picked = views.figs.picked_head(list(event.selection.points) if event is not None else [], 30, 9)
    if picked is not None:
        st.session_state["lm_head"] = f"{picked[0]}.{picked[1]}"


started = time.perf_counter()
st.title("Language model: inside SmolLM2-135M")
st.caption(
    "A real pretrained LLM (SmolLM2-135M-Instruct, 30 layers × 9 heads, Llama architecture) running in this "
    "project's own from-scratch PyTorch code. Type anything; see the next token, what every head does, "
    "how the answer forms layer by layer, and what breaks when heads are switched off."
)
problem = pretrained_status(views.MODEL)
if problem:
    st.error(escape_markdown(problem))
    st.stop()

clean_link(URL_SCHEMA)


def apply_example(params: dict[str, str]) -> None:
    """Button callback (runs before the widgets): reset to the defaults, then set the preset's values."""
    for key in ("lm_text", "lm_mode", "lm_score", "lm_head", "lm_vw", "lm_ablate", "lm_ablate_top", "lm_from", "lm_to", "lm_new",
                "lm_generate", "lm_tab"):
        st.session_state.pop(key, None)
    for key, value in params.items():
        if key in ("lm_ablate_top", "lm_new", "lm_from", "lm_to"):
            st.session_state[key] = int(value)
        else:
            st.session_state[key] = value == "true" if key in ("lm_generate", "lm_vw") else value


with st.expander("Guided examples", expanded=False, icon=":material/school:"):
    for example in views.GUIDED:
        cols = st.columns([1, 3])
        cols[0].button(example.title, key=f"lm_example_{example.key}", on_click=apply_example, args=(example.params,))
        cols[1].caption(example.what_to_see)

top = st.columns([3, 1])
text = top[0].text_area("Prompt", value=views.DEFAULT_TEXT, max_chars=MAX_PROMPT_CHARS, key="lm_text", bind="query-params",
                        height=90, help=f"Any text in any script. The page reads at most {views.PAGE_MAX_TOKENS} tokens.")
mode = top[1].radio("Mode", MODES, key="lm_mode", bind="query-params",
                    help="complete: continue the text. chat: wrap it as a user turn in the model's chat template.")
with st.expander("Sampling", expanded=any(k in st.query_params for k in ("lm_temp", "lm_topk", "lm_topp"))):
    c = st.columns(3)
    temperature = c[0].number_input("Temperature", 0.0, TEMPERATURE_MAX, 0.0, 0.1, key="lm_temp", bind="query-params",
                                    help="0 = greedy (always the most likely token): a link always reproduces the text.")
    top_k = c[1].number_input("Top-k (0 = off)", 0, MAX_TOP_K, 0, 1, key="lm_topk", bind="query-params")
    top_p = c[2].number_input("Top-p (1 = off)", 0.01, 1.0, 1.0, 0.05, key="lm_topp", bind="query-params")
with st.spinner("Loading SmolLM2 (once per server, about 10 s)…"):
    views.model()
prompt = views.prompt(text, mode)
if prompt.error:
    st.error(escape_markdown(prompt.error))
    st.stop()
for message in prompt.warnings:
    st.warning(escape_markdown(message))
seed = int(st.session_state.get("seed", 0) or 0)
sampling = Sampling(float(temperature), int(top_k), float(top_p), seed if temperature > 0 else 0)
st.markdown(f"**Tokens** ({len(prompt.ids)}; ␣ = a leading space, as the model sees it)")
st.dataframe({"token": [views.figs.show_piece(p) for p in prompt.pieces], "id": list(prompt.ids)}, height=150, width="stretch")

with st.container(border=True):
    c = st.columns([1, 1, 2])
    score = c[0].selectbox("Head score", list(views.SCORE_LABELS), format_func=views.SCORE_LABELS.get, key="lm_score",
                           bind="query-params")
    head_label = c[1].selectbox("Head (layer.head)", ["top", *HEADS], key="lm_head", bind="query-params",
                                help="'top' = the head with the highest score.")
    ablate_labels = c[2].multiselect("Heads to ablate (zero their output)", HEADS, key="lm_ablate", bind="query-params")
    c = st.columns([1, 1, 1, 1])
    ablate_top = c[0].number_input("+ top N induction heads", 0, 10, 0, 1, key="lm_ablate_top", bind="query-params")
    n_new = c[1].number_input("Tokens to generate", 1, MAX_NEW_TOKENS, 8, 1, key="lm_new", bind="query-params")
    generate_on = c[2].toggle("Generate", key="lm_generate", bind="query-params")
    last = len(prompt.ids) - 1
    query_pos = c[3].number_input("Link from position", 0, views.PAGE_MAX_TOKENS - 1, last, 1, key="lm_from", bind="query-params",
                                  help="Rank the heads by how much this token attends to the 'to' position (first tab).")
    to_pos = c[3].number_input("… to position", 0, views.PAGE_MAX_TOKENS - 1, 0, 1, key="lm_to", bind="query-params")
ablate = tuple(sorted({*map(parse_head, ablate_labels), *views.top_induction_heads(int(ablate_top))}))
if query_pos > last:
    st.info(f"Position {query_pos} is past the prompt's last token ({last}); using {last}.")
    query_pos = last

analysis = views.analysis(prompt.ids)
chosen = None if head_label == "top" else parse_head(head_label)
tabs = st.tabs(list(TABS), key="lm_tab", bind="query-params")

with tabs[0]:
    if tabs[0].open:
        nxt = views.next_token(prompt.ids, sampling, ablate)
        plot(nxt.figure, "next", "The model's probability for each candidate next token" + (" with the ablation below applied." if ablate else "."))
        cols = st.columns([1, 3])  # the selected head's map gets the width
        with cols[1]:
            value_weighted = st.toggle("Value-weighted (‖α f(x)‖)", key="lm_vw", bind="query-params",
                                       help="Weigh each attention weight by the size of the value vector it mixes "
                                            "(Kobayashi et al. 2020): how much a token moves the output, not how much it is looked at.")
        panel = views.head_panel(analysis, score, *(chosen or (None, None)), weighted=value_weighted)
        with cols[0]:
            plot(panel.map_figure, "heads", panel.caption + " Red box: the selected head; click a cell to select it.",
                 on_select=pick_head, selection_mode="points")
        with cols[1]:
            shown = ("‖α_ij f(x_j)‖, the attention weight times the size of the value it mixes, as each row's share"
                     if value_weighted else "attention weights")
            plot(panel.attention_figure, "attention", f"Layer {panel.selected[0]} · head {panel.selected[1]}, {shown}: rows are "
                 "queries, columns the keys they look at; the empty upper triangle is the causal mask (no peeking ahead). "
                 f"To the first token: {panel.sink_weight:.0%} of the weight, {panel.sink_norm:.0%} of ‖α f(x)‖.")
            st.markdown(f"**Top heads for {views.SCORE_LABELS[score]}**")
            st.dataframe([{"layer": l, "head": h, "score": round(v, 3)} for l, h, v in panel.ranking], hide_index=True)
        to_pos = min(int(to_pos), int(query_pos))
        st.markdown(escape_markdown(f"Heads ranked by the weight “{prompt.pieces[query_pos]}” ({query_pos}) puts on "
                                    f"“{prompt.pieces[int(to_pos)]}” ({int(to_pos)}):"))
        st.dataframe([{"layer": l, "head": h, "weight": round(w, 3)} for l, h, w in views.heads_linking(analysis, int(query_pos), int(to_pos))],
                     hide_index=True)
        plot(views.sinks_figure(analysis), "sinks", "Share of every layer's attention that goes to the first token (an 'attention "
             "sink') against its share of ‖α f(x)‖ (Kobayashi et al. 2020): heavy weight on a sink often moves little, "
             "because its value vector is small. Mean over heads and over queries after the first.")
        d = st.columns(3)
        d[0].download_button("Selected head (CSV)", views.head_csv(analysis, *panel.selected), "lm_head_attention.csv", "text/csv",
                             key="lm_dl_head", on_click="ignore")
        d[1].download_button("All attention (NPZ)", views.all_attention_npz(analysis), "lm_attention.npz", "application/octet-stream",
                             key="lm_dl_npz", on_click="ignore")
        d[2].download_button("Head scores (CSV)", views.scores_csv(analysis), "lm_head_scores.csv", "text/csv", key="lm_dl_scores",
                             on_click="ignore")

with tabs[1]:
    if tabs[1].open:
        if not generate_on:
            st.info("Switch on **Generate** above to continue the prompt token by token.")
        else:
            # Plain text in a box, not st.code: a code box loads the browser's 1.6 MB syntax highlighter.
            live = st.container(border=True).empty()
            so_far: list[int] = []

            def show(step) -> None:  # one generated token, shown as it arrives
                so_far.append(step.token_id)
                live.text(views.partial_text(so_far) + " …")

            gen = views.generation(prompt.ids, sampling, int(n_new), ablate, on_step=show)
            live.text(gen.generation.text or "(nothing: the model ended the text)")
            if gen.generation.stopped == "time":
                st.warning(f"Stopped after {views.GENERATION_TIME_LIMIT:.0f} s.")
            st.dataframe([{"step": i + 1, "token": views.figs.show_piece(s.piece), "id": s.token_id, "p": round(s.probability, 3),
                           "top-5": "  ".join(f"{views.figs.show_piece(p)} {q:.2f}" for _, p, q in s.top),
                           "cache tokens": s.cache_tokens, "ms": round(s.seconds * 1e3)} for i, s in enumerate(gen.generation.steps)],
                         hide_index=True, width="stretch")
            plot(gen.figure, "cache", f"Keys and values cached per token: {gen.kv_per_token_bytes / 1024:.1f} KiB (30 layers × 3 key/value "
                 f"heads × 64 × 2 × 4 bytes). With the cache each step pushes one token through the network; without it, every step "
                 f"re-reads the whole sequence (timed for the first {len(gen.uncached_ms)} steps). Step 1 includes reading the prompt.")

with tabs[2]:
    if tabs[2].open:
        lens = views.logit_lens(prompt.ids)
        plot(lens.figure, "lens", "Each row applies the final RMSNorm and the output layer to the residual stream after that "
             f"layer (the 'logit lens'), for the last {len(lens.positions)} positions: the guess for the NEXT token at each position.")

with tabs[3]:
    if tabs[3].open:
        if not ablate:
            st.info("Pick heads to ablate above (or 'top N induction heads') to compare before and after.")
        else:
            result = views.ablation(prompt.ids, ablate, sampling)
            st.markdown(escape_markdown("Ablated: " + ", ".join(f"layer {l} · head {h}" for l, h in result.heads)))
            plot(result.next_token_figure, "ablation_next", "Probabilities of the unablated model's top tokens, before and after.")
            m = st.columns(2)
            m[0].metric("Second-copy loss, model", f"{result.demo_before.second_copy_loss:.2f} nats")
            m[1].metric("Second-copy loss, ablated", f"{result.demo_after.second_copy_loss:.2f} nats",
                        delta=f"{result.demo_after.second_copy_loss - result.demo_before.second_copy_loss:+.2f}", delta_color="inverse")
            plot(result.loss_figure, "ablation_loss", f"Built-in random tokens repeated twice (the second copy starts at {result.demo_before.period}): "
                 "induction heads let the model copy, so its loss drops on the second copy; ablating them removes the drop.")

st.caption(f"Server time for this view: {(time.perf_counter() - started) * 1000:.0f} ms.")
