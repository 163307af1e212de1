"""Transformer: type a date, watch every attention head, and see scaled dot-product attention step by step.

Thin page: widgets -> ``explorer.inputs`` (validation) -> cached model run (``explorer.analysis``)
-> figures (``explorer.figures.attention``). Every widget that defines the view is bound to a
URL query parameter, so a link reproduces it; hostile URL values get a visible notice.
User text is only ever shown as plain text (code blocks, dataframes, chart labels).
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from explorer.analysis.heads import COMBINE_MODES, attention_csv, attention_npz, combine_heads, entropy_by_kind, sharpest_and_most_diffuse
from explorer.analysis.stepwise import KIND_LABELS, TranslationRun, steps_from_run, translate_and_record
from explorer.figures import attention as figs
from explorer.inputs.params import ParamSpec
from explorer.tasks.dates import parse as parse_date
from explorer.inputs.text import (
    MAX_PREFIX_CHARS,
    MAX_TEXT_CHARS,
    TEMPERATURE_MAX,
    check_temperature,
    check_text,
    display_token,
    escape_markdown,
    replace_surrogates,
    surrogate_notice,
)
from ui.share import clean_link

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler


DEFAULT_TEXT = "Thursday 26 November 2026"
MODELS = {"trained": "dates", "untrained": "dates-untrained"}
HEAD_MODES = ("single", *COMBINE_MODES)
VIEWS = {"encoder": "encoder_self", "decoder": "decoder_self", "cross": "decoder_cross"}  # URL value -> attention kind
TOP_K_MAX = 10
PLOT_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


# ---------------------------------------------------------------------------------------------
# Model and cached runs
# ---------------------------------------------------------------------------------------------


@st.cache_resource(max_entries=len(MODELS), show_spinner=False)
def _local_twin(name: str, reason: str) -> SimpleNamespace:
    """Private adapter: an untrained dates-sized model when the zoo itself raises (it should not)."""
    import torch  # noqa: PLC0415

    from explorer.models import Transformer, TransformerConfig  # noqa: PLC0415
    from explorer.tasks.tokenizer import CharTokenizer  # noqa: PLC0415

    tokenizer = CharTokenizer()
    config = TransformerConfig(
        src_vocab_size=len(tokenizer), tgt_vocab_size=len(tokenizer), d_model=64, n_heads=4,
        n_encoder_layers=2, n_decoder_layers=2, d_ff=256, dropout=0.0, max_len=64,
    )
    torch.manual_seed(0)
    model = Transformer(config).eval()
    for param in model.parameters():
        param.requires_grad_(False)
    warning = f"The model '{name}' could not be loaded ({reason}); showing untrained weights instead."
    return SimpleNamespace(name=name, model=model, tokenizer=tokenizer, config=config, trained=False, warning=warning, meta={})


def load_entry(name: str):  # noqa: ANN201 - a zoo entry (or the adapter's stand-in)
    """The shared, read-only zoo model (the zoo caches it); never mutated here."""
    try:
        from explorer.zoo import load_model  # noqa: PLC0415

        return load_model(name)
    except Exception as error:  # noqa: BLE001 - the page must stay up; the notice says what happened
        return _local_twin(name, type(error).__name__)


@st.cache_data(max_entries=64, show_spinner="Running the model…")
def run_model(name: str, trained: bool, text: str, temperature: float, top_k: int, prefix: str, seed: int) -> TranslationRun:
    """Decode ``text`` and record every attention map; cached per input (bounded).

    ``trained`` is part of the key so a run on fallback weights is never served once the checkpoint loads.
    """
    entry = load_entry(name)
    return translate_and_record(entry.model, entry.tokenizer, text, temperature=temperature, top_k=top_k, prefix=prefix, seed=seed)


# ---------------------------------------------------------------------------------------------
# Small display helpers (tables only; no maths)
# ---------------------------------------------------------------------------------------------


def token_table(chars: list[str], tokens: list[str], ids: list[int], unk_id: int, cut: int) -> pd.DataFrame:
    """One column per position: the character typed, the token the model sees, its id."""
    columns = {}
    for i, (ch, tok, idx) in enumerate(zip(chars, tokens, ids)):
        mark = " ⚠" if idx == unk_id else ""
        columns[f"{i}"] = [display_token(ch), display_token(tok) + mark, str(idx)]
    if cut > 0:
        columns["✂"] = [f"+{cut:,} cut", "not read", ""]
    return pd.DataFrame(columns, index=["typed", "token", "id"])


UNKNOWN_STYLE = "background-color: #ffe0b2; color: #111"  # a character the tokenizer reads as <unk>
CUT_STYLE = "background-color: #ffcdd2; color: #111"  # the "✂ cut" column of a truncated text


def _column_styles(frame: pd.DataFrame) -> np.ndarray:
    """One CSS string per column of the token table: cut marker, unknown character, or none."""
    unknown = np.array(["⚠" in str(value) for value in frame.loc["token"]], dtype=bool)
    cut = np.asarray(frame.columns == "✂", dtype=bool)
    return np.where(cut, CUT_STYLE, np.where(unknown, UNKNOWN_STYLE, "")).astype(object)


def _needs_highlight(frame: pd.DataFrame) -> bool:
    """True when the token table has a cell to colour: an unknown character (⚠) or the cut marker (✂)."""
    return bool(_column_styles(frame).astype(bool).any())


def styled_token_table(frame: pd.DataFrame) -> pd.DataFrame | Styler:
    """The token table, as a Styler only when a cell is coloured.

    A Styler is the page's most expensive element: pandas renders every cell's CSS and display
    text and Streamlit writes the display values back column by column (~35 ms for the default
    25-character text, ~50 ms at the 64-character limit), against ~3 ms for the plain frame. With
    no coloured cell both show the same strings, so the common case skips it.
    """
    return frame.style.apply(_highlight_unknown, axis=None) if _needs_highlight(frame) else frame


def _highlight_unknown(frame: pd.DataFrame) -> pd.DataFrame:
    """Styler CSS for the token table, built as one block (a per-column loop cost ~10 ms at 64 columns)."""
    per_column = _column_styles(frame)
    return pd.DataFrame(np.tile(per_column, (len(frame.index), 1)), index=frame.index, columns=frame.columns, dtype=object)


def steps_table(steps: list, reads: list[str], k: int) -> pd.DataFrame:
    """Per decoding step: the target token the decoder reads, the token it emits, its probability,
    whether it was forced (teacher forcing), and the top-k candidates."""
    rows = []
    for i, s in enumerate(steps):
        read = display_token(reads[i]) if i < len(reads) else ""
        row = {"step": i, "reads": read, "token": display_token(s.token), "p": round(s.probability, 4), "forced": "yes" if s.forced else ""}
        for j, (tok, p) in enumerate(s.top_k[:k]):
            row[f"#{j + 1}"] = f"{display_token(tok)}  {p:.3f}"
        rows.append(row)
    return pd.DataFrame(rows)


def vector_frame(rows: np.ndarray, labels: list[str], prefix: str) -> pd.DataFrame:
    return pd.DataFrame(np.round(np.atleast_2d(rows), 3), index=labels, columns=[f"{prefix}{i}" for i in range(np.atleast_2d(rows).shape[1])])


def plot(fig, key: str, caption: str, width: str = "stretch") -> None:  # noqa: ANN001
    """Place a figure with a PNG download (the modebar camera) named after the chart, and its caption."""
    config = {**PLOT_CONFIG, "toImageButtonOptions": {**PLOT_CONFIG["toImageButtonOptions"], "filename": f"transformer_{key}"}}
    st.plotly_chart(fig, key=f"tf_{key}", config=config, theme="streamlit", width=width)
    st.caption(caption)


# ---------------------------------------------------------------------------------------------
# Page
# ---------------------------------------------------------------------------------------------

started = time.perf_counter()
st.title("Transformer: attention at work")
st.caption(
    "A small encoder-decoder Transformer (Vaswani et al. 2017) rewrites a date in any format as ISO 8601 "
    "(YYYY-MM-DD), one character per step. Below: what it reads, what it writes, and where every attention head looks."
)

# Every URL-bound widget and what its value may hold. ``clean_link`` drops values that do not fit,
# with a notice, BEFORE any bound widget is created (Streamlit would otherwise reset them silently,
# or raise on some). Both models share one architecture, so the ranges come from the trained entry.
_arch = load_entry(MODELS["trained"]).config
URL_SCHEMA = {
    "tf_model": ParamSpec("choice", choices=tuple(MODELS)),
    "tf_temp": ParamSpec("float", minimum=0.0, maximum=TEMPERATURE_MAX),
    "tf_topk": ParamSpec("int", minimum=1, maximum=TOP_K_MAX),
    "tf_view": ParamSpec("choice", choices=tuple(VIEWS)),
    "tf_layer": ParamSpec("int", minimum=0, maximum=max(_arch.n_encoder_layers, _arch.n_decoder_layers) - 1),
    "tf_head": ParamSpec("int", minimum=0, maximum=_arch.n_heads - 1),
    "tf_heads": ParamSpec("choice", choices=HEAD_MODES),
    "tf_query": ParamSpec("int", minimum=0, maximum=_arch.max_len),
    "tf_mistake": ParamSpec("bool"),
}
clean_link(URL_SCHEMA)
# Text is not in the schema: a 10,000-character link is cut with a message, not dropped. Its raw
# length is read here because the text box's max_chars cuts it silently.
raw_text_param = st.query_params.get("tf_text")
raw_query_param = st.query_params.get("tf_query")

# A lone surrogate cannot be encoded as UTF-8 (nor put in the URL): clean widget state before the widgets see it.
for state_key, what in (("tf_text", "text"), ("tf_prefix", "prefix")):
    state_value = st.session_state.get(state_key)
    if isinstance(state_value, str):
        clean_value, n_bad = replace_surrogates(state_value)
        if n_bad:
            st.session_state[state_key] = clean_value
            st.warning(escape_markdown(surrogate_notice(n_bad, what)))

top = st.columns([3, 1])
text_raw = top[0].text_input(
    "Text to translate", value=DEFAULT_TEXT, max_chars=MAX_TEXT_CHARS, key="tf_text", bind="query-params",
    help=f"Any date, in any format. The model reads at most its max_len characters; the box takes {MAX_TEXT_CHARS}.",
)
model_choice = top[1].radio("Model", list(MODELS), key="tf_model", bind="query-params", horizontal=True,
                            help="The trained model, or the same architecture with random weights: compare what training changed.")

entry = load_entry(MODELS[model_choice])
cfg = entry.config
n_layers_by_kind = {"encoder_self": cfg.n_encoder_layers, "decoder_self": cfg.n_decoder_layers, "decoder_cross": cfg.n_decoder_layers}
max_layers = max(n_layers_by_kind.values())

if entry.warning:
    st.warning(entry.warning)
elif not entry.trained:
    st.info("Untrained model: random weights, so the output is gibberish and attention is nearly uniform. That is the point of comparing.")

with st.expander("Decoding settings", expanded=any(k in st.query_params for k in ("tf_temp", "tf_topk", "tf_prefix"))):
    dcols = st.columns(3)
    temperature_in = dcols[0].number_input(
        "Temperature", min_value=0.0, max_value=TEMPERATURE_MAX, value=0.0, step=0.1, key="tf_temp", bind="query-params",
        help="0 = greedy (argmax). Above 0, the next token is sampled from softmax(logits / T), seeded by the sidebar seed.",
    )
    top_k = dcols[1].slider("Top-k shown per step", 1, TOP_K_MAX, 5, key="tf_topk", bind="query-params")
    prefix_raw = dcols[2].text_input(
        "Target prefix (teacher forcing)", value="", max_chars=MAX_PREFIX_CHARS, key="tf_prefix", bind="query-params",
        help="Characters forced as the first output, e.g. '19' to make the model start the year with 19.",
    )

temperature, temp_warning, temp_info = check_temperature(temperature_in)
if temp_warning:
    st.warning(temp_warning)
if temp_info:
    st.caption(temp_info)

text_len_from_url = len(raw_text_param) if raw_text_param is not None else None
text_check = check_text(text_raw, entry.tokenizer, cfg.max_len, original_length=text_len_from_url)
prefix_check = check_text(prefix_raw, entry.tokenizer, cfg.max_len - 1, what="prefix", allow_empty=True)
if text_check.error:
    st.error(escape_markdown(text_check.error))
    st.stop()
if prefix_check.error:
    st.warning(escape_markdown(prefix_check.error.rstrip(".") + "; the prefix is ignored."))
for message in text_check.warnings + prefix_check.warnings:  # they quote user characters: escaped, never markup
    st.warning(escape_markdown(message))
for message in text_check.infos + prefix_check.infos:
    st.info(escape_markdown(message))

seed = int(st.session_state.get("seed", 0) or 0)
try:
    result = run_model(MODELS[model_choice], bool(entry.trained), text_check.text, temperature, int(top_k), prefix_check.text, seed if temperature > 0 else 0)
except ValueError as error:  # e.g. a config the decoder refuses; one line, no traceback
    st.error(escape_markdown(f"The model could not run on this input: {error}"))
    st.stop()
dec = result.decode

# ---- Tokens and output ------------------------------------------------------------------------
st.subheader("Tokens and output")
source_chars = list(text_check.text)
cut = text_check.original_length - len(text_check.text) if text_check.truncated else 0
frame = token_table(source_chars, dec.source_tokens, dec.source_ids, entry.tokenizer.unk_id, cut)
st.markdown("**Source tokens** (what the encoder reads; ⚠ = unknown character read as `<unk>`, ✂ = truncation)")
st.dataframe(styled_token_table(frame), width="stretch")
st.markdown("**Output**" + ("" if dec.finished else " (stopped at the step limit, no end token)"))
st.code(dec.text or "(empty)", language=None)
try:
    expected = parse_date(text_check.text).isoformat()
except ValueError:
    expected = None
if expected is None:
    st.caption("The reference parser does not read this as a date in a known format, so there is no answer to check against.")
elif dec.text == expected:
    st.success(f"Correct: the reference parser also reads {expected}.", icon=":material/check_circle:")
else:
    st.caption(f"✗ Not what the reference parser reads: {expected}.")
if dec.truncated or text_check.truncated:
    st.caption(f"✂ Only the first {cfg.max_len} characters were read.")
st.markdown("**Decoding, step by step** (probabilities at temperature 1: the model's own distribution)")
st.dataframe(steps_table(dec.steps, dec.decoder_input_tokens, int(top_k)), hide_index=True, width="stretch")
st.caption(
    "Each row is one decoder step: the target token the decoder reads (the previous output, starting from <s>), the token it "
    "emitted, that token's probability and the top-k candidates; </s> ends the output. "
    "'forced' rows came from the target prefix (teacher forcing): the model was told the token, and the row shows what it would have preferred."
)

# ---- View controls ----------------------------------------------------------------------------
st.subheader("Attention")
vcols = st.columns([2, 1, 1, 1])
view_name = vcols[0].radio(
    "View", list(VIEWS), captions=[KIND_LABELS[k] for k in VIEWS.values()], key="tf_view", bind="query-params",
    help="Which attention to look at: the encoder's, the decoder's masked self-attention, or the decoder's look at the source.",
)
view = VIEWS[view_name]
n_layers = n_layers_by_kind[view]
layer = vcols[1].number_input("Layer", min_value=0, max_value=max(0, max_layers - 1), value=0, step=1, key="tf_layer", bind="query-params")
head = vcols[2].number_input("Head", min_value=0, max_value=cfg.n_heads - 1, value=0, step=1, key="tf_head", bind="query-params")
head_mode = vcols[3].radio("Heads", HEAD_MODES, key="tf_heads", bind="query-params", help="One head, or all heads of the layer combined by mean or max.")
layer = min(int(layer), n_layers - 1)
head = int(head)

maps = result.attention.maps[view]  # (L, H, Tq, Tk)
q_tokens = [display_token(t) for t in result.query_tokens(view)]
k_tokens = [display_token(t) for t in result.key_tokens(view)]
if head_mode == "single":
    single = maps[layer, head]
    title = f"{KIND_LABELS[view]} · layer {layer} · head {head}"
else:
    single = combine_heads(maps[layer], head_mode)
    title = f"{KIND_LABELS[view]} · layer {layer} · {head_mode} over {cfg.n_heads} heads"
charts: dict[str, object] = {}
charts["heatmap"] = figs.attention_heatmap(single, q_tokens, k_tokens, title)
plot(
    charts["heatmap"], "heatmap", width="content", caption=
    "Rows are queries (the token doing the looking), columns are keys (the tokens looked at); each row sums to 1 "
    "(for 'max' it need not). Hover a cell for query, key and weight. "
    + {"encoder_self": "Encoder: every source character looks at every other.",
       "decoder_self": "Decoder self-attention is masked: a position sees only itself and earlier outputs (the empty upper triangle).",
       "decoder_cross": "Cross-attention: each output step (row) looks at the source characters; a trained model lines up year, month and day."}[view],
)

charts["overview"] = figs.attention_overview(maps, q_tokens, k_tokens, f"{KIND_LABELS[view]}: every layer × head")
plot(
    charts["overview"], "overview",
    "All layers (rows) × heads (columns) of this attention type in one figure with one colour scale, so the same colour is "
    "the same weight everywhere. Look for heads that agree (redundant) and heads that specialise.",
)

entropy = entropy_by_kind({view: maps})[view]
charts["entropy"] = figs.entropy_heatmap(entropy, f"Head entropy: {KIND_LABELS[view]}", selected=(layer, head))
(low_l, low_h), (high_l, high_h) = sharpest_and_most_diffuse(entropy)
plot(
    charts["entropy"], "entropy",
    "Mean entropy of each head's attention rows, divided by log(number of visible keys): 0 = every query looks at one key "
    f"(sharp), 1 = uniform (diffuse). Sharpest here: layer {low_l} head {low_h}; most diffuse: layer {high_l} head {high_h}. "
    "The red box is the head selected above.",
)

# ---- Export --------------------------------------------------------------------------------
stem = f"attention_{view}_{model_choice}"
ecols = st.columns(3)
ecols[0].download_button(
    "Download CSV", data=lambda: attention_csv(maps, q_tokens, k_tokens, view), file_name=f"{stem}.csv",
    mime="text/csv", on_click="ignore", key="tf_dl_csv",
)
ecols[1].download_button(
    "Download NPZ", data=lambda: attention_npz(maps, q_tokens, k_tokens, view), file_name=f"{stem}.npz",
    mime="application/octet-stream", on_click="ignore", key="tf_dl_npz",
)
ecols[2].caption("Exports hold every layer and head of the current view. For a PNG of any chart, use the camera icon on the chart.")

# ---- Step by step ------------------------------------------------------------------------
st.subheader("Scaled dot-product attention, step by step")
st.caption("Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V  (Vaswani et al. 2017, Eq. 1), recomputed for one head and one query from this input.")
n_queries = len(q_tokens)
if raw_query_param is not None and raw_query_param.strip().isdigit() and int(raw_query_param) >= n_queries:
    st.warning(f"Ignored from the link: 'tf_query' (this view has queries 0 to {n_queries - 1}). Showing query 0 instead.", icon=":material/link:")
if int(st.session_state.get("tf_query", 0) or 0) >= n_queries:
    st.session_state["tf_query"] = 0
scols = st.columns([2, 1])
query = scols[0].slider(
    "Query position", 0, max(1, n_queries - 1), key="tf_query", bind="query-params",
    help="The row of the attention map to compute by hand.", disabled=n_queries == 1,
)
query = min(int(query), n_queries - 1)
mistake = scols[1].toggle("Mask with 0 instead of −∞ (the mistake)", key="tf_mistake", bind="query-params")
sel_head = head
steps = steps_from_run(entry.model, result.attention, view, layer, sel_head)
gap = float(np.abs(steps.weights - maps[layer, sel_head]).max())
st.markdown(escape_markdown(f"Layer {layer}, head {sel_head}, query {query} = {q_tokens[query]}, d_k = {steps.d_k}."))
if head_mode != "single":
    st.caption(f"The maths is per head: showing head {sel_head} (the heatmap above combines heads by {head_mode}).")

with st.expander("1 · Q, K and V (projections of the layer input)", expanded=False):
    st.caption("q = x_query W_Q, k = x_key W_K, v = x_key W_V for this head (Section 3.2.2). Rounded to 3 decimals.")
    st.markdown("**q** (the query row)")
    st.dataframe(vector_frame(steps.q[query], [q_tokens[query]], "q"), width="stretch")
    st.markdown("**K** (one row per key)")
    st.dataframe(vector_frame(steps.k, k_tokens, "k"), width="stretch")
    st.markdown("**V** (one row per key)")
    st.dataframe(vector_frame(steps.v, k_tokens, "v"), width="stretch")

table = pd.DataFrame(
    {
        "key": k_tokens,
        "q·k": np.round(steps.scores[query], 3),
        "÷√d_k": np.round(steps.scaled[query], 3),
        "mask": np.where(steps.keep[query], "keep", "hide"),
        "masked score": [f"{s:.3f}" if k else "-inf" for s, k in zip(steps.scaled[query], steps.keep[query])],
        "softmax weight": np.round(steps.weights[query], 4),
        "model's weight": np.round(maps[layer, sel_head, query], 4),
    }
)
if mistake:
    table["masked with 0"] = [f"{s:.3f}" if k else "0 ✗" for s, k in zip(steps.scaled[query], steps.keep[query])]
    table["weight (mask 0)"] = np.round(steps.wrong_weights[query], 4)
st.markdown("**2-5 · scores, scaling, mask, softmax** (one row per key)")
st.dataframe(table, hide_index=True, width="stretch")
st.caption(
    f"Recomputed weights match the model's own to {gap:.1e} (max absolute difference over the whole head). "
    "Scaling by √d_k keeps the dot products from growing with d_k and saturating the softmax (Section 3.2.1)."
)
charts["steps"] = figs.stepwise_figure(steps, query, k_tokens, show_mistake=mistake, query_label=q_tokens[query])
plot(charts["steps"], "steps", "Top: the scaled scores of this query for each key (grey = hidden by the mask). Bottom: the weights after the softmax.")
st.markdown("**6 · weighted sum of V** (the head's output for this query)")
out_rows = [steps.output[query]]
out_labels = ["Σ weight·v (mask −∞)"]
if mistake:
    out_rows += [steps.wrong_output[query], steps.leak[query]]
    out_labels += ["Σ weight·v (mask 0)", "leak: part from hidden keys"]
st.dataframe(vector_frame(np.array(out_rows), out_labels, "o"), width="stretch")
if mistake:
    if steps.has_mask:
        hidden = [f"{j}:{k_tokens[j]}" for j in np.flatnonzero(~steps.keep[query])]
        leaked = float(steps.leaked_mass[query])
        if hidden:
            st.error(escape_markdown(
                f"With 0 instead of −∞, exp(0) = 1 gives the {len(hidden)} hidden future token(s) "
                f"{', '.join(hidden[:8])}{' …' if len(hidden) > 8 else ''} a total weight of {leaked:.1%}: "
                "their values leak into this query's output, so in training the model could copy the answer it should predict."
            ))
        else:
            st.info("This query is the last position: it may see every key, so nothing is hidden and nothing leaks. Pick an earlier query.")
    else:
        st.info("This attention has no mask (every query may see every key), so 0 and −∞ agree. Pick decoder masked self-attention to see the leak.")

elapsed = time.perf_counter() - started
st.caption(f"Server time for this view: {elapsed * 1000:.0f} ms.")
