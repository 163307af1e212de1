"""Transformer: translate a sentence or a date, watch every attention head, replay the dates model's training,
weigh attention by value norms, and see scaled dot-product attention step by step.

Widgets -> ``explorer.views.transformer`` (tables, figures, numbers, the URL schema) -> placed here. Every
widget that defines the view is bound to a URL query parameter, so a link reproduces it; hostile URL values
get a visible notice. User text is only ever shown as plain text (code blocks, dataframes, chart labels).
"""

from __future__ import annotations

import time

import streamlit as st

from explorer.analysis.stepwise import KIND_LABELS
from explorer.inputs.text import (
    MAX_PREFIX_CHARS,
    MAX_TEXT_CHARS,
    TEMPERATURE_MAX,
    check_temperature,
    check_text,
    escape_markdown,
    replace_surrogates,
    surrogate_notice,
)
from explorer.views import transformer as tfv
from explorer.views.translation import DEFAULT_TEXT as SENTENCES
from explorer.views.translation import TRANSLATORS, translator_shape
from ui import cache
from ui.dates_view import place_mistake, place_output, place_training_panel
from ui.share import clean_link
from ui.translator import place_steps, place_value_shares, plot, value_toggle
from ui.translator import render as render_translator

DEFAULT_TEXT = "Thursday 26 November 2026"
CHOICES = tfv.model_choices()  # the first is the default: a new visitor sees a real translation (English -> Portuguese)
NO_STEPS = {  # why the training-step slider is not there, one line per model without snapshots
    "translator": "Training steps: only for the dates model trained here (Mozilla trained the Marian translators and ships only their final weights).",
    "untrained": "Training steps: only for the trained dates model (this one is its initialisation, random weights).",
}


def _shape(model_key: str):  # a ModelShape
    return translator_shape(model_key) if model_key in TRANSLATORS else tfv.dates_shape(cache.zoo_model(tfv.MODELS[model_key]).config)


def _snapshots():  # (Snapshots | None, one-line reason | None)
    try:
        return cache.lab_snapshots(), None
    except ValueError as error:  # missing or damaged files: the rest of the page works without them
        return None, str(error)


def _on_model_change() -> None:
    """Switching model: an untouched default text becomes the new model's default (typed text stays), and
    layer and head are clamped to the new model's counts (the step slider, gone, leaves the link by itself)."""
    new = st.session_state.get("tf_model", "")
    if st.session_state.get("tf_text") in {DEFAULT_TEXT, *SENTENCES.values()}:
        # Set, not popped: the text box keeps its identity (its key) across models, and the browser only
        # replaces what it shows when the value comes through session state; a popped key left the old
        # model's sentence in the box while the server translated the new default.
        st.session_state["tf_text"] = SENTENCES.get(new, DEFAULT_TEXT)
        st.query_params.pop("tf_text", None)
    shape = _shape(tfv.chosen_model(new, None))
    for key, top in (("tf_layer", shape.n_layers - 1), ("tf_head", shape.n_heads - 1)):
        if int(st.session_state.get(key, 0) or 0) > top:
            st.session_state[key] = top


started = time.perf_counter()
st.title("Transformer: attention at work")
st.caption(
    "Encoder-decoder Transformers (Vaswani et al. 2017) at work: Mozilla's tiny pretrained Marian translating English and "
    "Portuguese, or a small model trained here that rewrites a date as ISO 8601 (YYYY-MM-DD). Below: what the model reads, "
    "what it writes, and where every attention head looks."
)

# ``clean_link`` drops URL values that do not fit, with a notice, BEFORE any bound widget is created
# (Streamlit would otherwise reset them silently, or raise on some). The ranges are the chosen model's,
# so the model is read from the radio's state or the link first. A value a widget already holds came
# from that widget, not from a link (a link opens a new session): after a model switch the URL keeps
# the old model's layer until the widget, clamped by ``_on_model_change``, writes the new one.
model_key = tfv.chosen_model(st.session_state.get("tf_model"), st.query_params.get("tf_model"))
snaps, snaps_error = _snapshots() if model_key == "trained" else (None, None)
schema = tfv.url_schema(_shape(model_key), tfv.step_choices(snaps.steps) if snaps is not None else ())
clean_link({name: spec for name, spec in schema.items() if name not in st.session_state})
if snaps is None and "tf_step" in st.query_params and "tf_step" not in st.session_state:
    st.query_params.pop("tf_step")
    st.warning(f"Ignored from the link: 'tf_step'. {snaps_error or NO_STEPS.get(model_key, NO_STEPS['translator'])}", icon=":material/link:")
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
model_choice = top[1].radio(
    "Model", list(CHOICES), captions=list(CHOICES.values()), key="tf_model", bind="query-params",
    on_change=_on_model_change,
    help="A pretrained translator, the dates model trained here, or the dates architecture with random weights.",
)
if model_choice != "trained":
    top[1].caption(NO_STEPS.get(model_choice, NO_STEPS["translator"]))
if model_choice in TRANSLATORS:
    render_translator(model_choice, top[0], _shape(model_choice))
    st.caption(f"Server time for this view: {(time.perf_counter() - started) * 1000:.0f} ms.")
    st.stop()
text_raw = top[0].text_input(
    "Text to translate", value=DEFAULT_TEXT, max_chars=MAX_TEXT_CHARS, key="tf_text", bind="query-params",
    help=f"Any date, in any format. The model reads at most its max_len characters; the box takes {MAX_TEXT_CHARS}.",
)

entry = cache.zoo_model(tfv.MODELS[model_choice])
cfg = entry.config
n_layers_by_kind = tfv.layer_counts(cfg)
max_layers = max(n_layers_by_kind.values())
train_step = None  # None: the shipped weights; else the snapshot after that many training steps
if snaps is not None:
    chosen_step = top[0].select_slider(
        "Training step (replay training on this input)", options=tfv.step_choices(snaps.steps), value=tfv.SHIPPED_STEP, key="tf_step",
        bind="query-params", help="Every view below at a snapshot of training: 0 = the random initialisation; 'shipped' = the model as shipped. "
        "The snapshots come from a retrain with the shipped seed, not bit-identical to the shipped weights.",
    )
    train_step = None if chosen_step == tfv.SHIPPED_STEP else int(chosen_step)
elif snaps_error:
    top[1].caption(escape_markdown(f"Training steps unavailable: {snaps_error}"))
if train_step is not None:
    place_training_panel(tfv.training_panel(snaps, train_step))

if entry.warning:
    st.warning(entry.warning)
elif not entry.trained:
    st.info(
        "Untrained model: random weights, so the output is gibberish. Its attention is not uniform: random "
        "projections still give scaled scores with a standard deviation of 1.3-1.4 across a row's keys, so on the "
        "default date the encoder's first layer has normalised entropy 0.77-0.80 (the trained model's: 0.72-0.86) "
        "and each query's largest weight averages 0.21-0.28, against 0.04 for uniform attention over the 25 keys. "
        "What training changes is where the weight goes: compare the patterns."
    )

# Open if the link sets a decoding value, decided once per session: re-derived on every run, `expanded`
# flipped to False when Temperature went back to 0 (a default leaves the URL) and the browser closed it.
decoding_open = st.session_state.setdefault("_tf_decoding_open", any(k in st.query_params for k in ("tf_temp", "tf_topk", "tf_prefix")))
with st.expander("Decoding settings", expanded=decoding_open, key="tf_decoding"):
    dcols = st.columns(3)
    temperature_in = dcols[0].number_input(
        "Temperature", min_value=0.0, max_value=TEMPERATURE_MAX, value=0.0, step=0.1, key="tf_temp", bind="query-params",
        help="0 = greedy (argmax). Above 0, the next token is sampled from softmax(logits / T), seeded by the sidebar seed.",
    )
    top_k = dcols[1].slider("Top-k shown per step", 1, tfv.TOP_K_MAX, 5, key="tf_topk", bind="query-params")
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

seed = int(st.session_state.get("seed", 0) or 0) if temperature > 0 else 0
try:
    if train_step is None:
        run = cache.translation(tfv.MODELS[model_choice], bool(entry.trained), text_check.text, temperature, int(top_k), prefix_check.text, seed)
    else:
        run = cache.snapshot_translation(train_step, text_check.text, temperature, int(top_k), prefix_check.text, seed)
except ValueError as error:  # e.g. a config the decoder refuses; one line, no traceback
    st.error(escape_markdown(f"The model could not run on this input: {error}"))
    st.stop()

# ---- View controls (placed below the output, read here: the view needs them) --------------------
output_area = st.container()
st.subheader("Attention")
vcols = st.columns([2, 1, 1, 1])
view_name = vcols[0].radio(
    "View", list(tfv.VIEWS), captions=[KIND_LABELS[k] for k in tfv.VIEWS.values()], key="tf_view", bind="query-params",
    help="Which attention to look at: the encoder's, the decoder's masked self-attention, or the decoder's look at the source.",
)
layer = vcols[1].number_input("Layer", min_value=0, max_value=max(0, max_layers - 1), value=0, step=1, key="tf_layer", bind="query-params")
head = vcols[2].number_input("Head", min_value=0, max_value=cfg.n_heads - 1, value=0, step=1, key="tf_head", bind="query-params")
head_mode = vcols[3].radio("Heads", tfv.HEAD_MODES, key="tf_heads", bind="query-params", help="One head, or all heads of the layer combined by mean or max.")
weighted = value_toggle()
cut = text_check.original_length - len(text_check.text) if text_check.truncated else 0
settings = tfv.AttentionSettings(model_choice, text_check.text, cut, int(top_k), view_name, int(layer), int(head), head_mode, weighted)
run_key = (tfv.MODELS[model_choice], bool(entry.trained), temperature, prefix_check.text, seed, train_step)
view = cache.dates_view(*run_key, settings)

# ---- Tokens and output ------------------------------------------------------------------------
with output_area:
    place_output(view, text_check.text, cfg.max_len if run.decode.truncated or text_check.truncated else None)

plot(
    view.heatmap, "heatmap", caption=
    "Rows are queries (the token doing the looking), columns are keys (the tokens looked at); each row of weights sums to 1 "
    "(for 'max' it need not). Hover a cell for query, key and weight. " + view.heatmap_note,
)
place_value_shares(view)
plot(
    view.overview, "overview",
    "All layers (rows) × heads (columns) of this attention type in one figure with one colour scale, so the same colour is "
    "the same weight everywhere. Look for heads that agree (redundant) and heads that specialise.",
)
(low_l, low_h), (high_l, high_h) = view.sharpest, view.most_diffuse
plot(
    view.entropy, "entropy",
    "Mean entropy of each head's attention rows, each divided by log(number of keys that row may see): 0 = every query "
    "looks at one key (sharp, dark), 1 = uniform over what it may see (diffuse, light). Rows that may see only one key "
    "have no choice and are left out (the first decoder position); '–' marks a head with no such row. "
    f"Sharpest here: layer {low_l} head {low_h}; most diffuse: layer {high_l} head {high_h}. The red box is the head selected above.",
)

# ---- Export --------------------------------------------------------------------------------
ecols = st.columns(3)
ecols[0].download_button("Download CSV", data=view.csv, file_name=f"{view.export_stem}.csv", mime="text/csv", on_click="ignore", key="tf_dl_csv")
ecols[1].download_button(
    "Download NPZ", data=view.npz, file_name=f"{view.export_stem}.npz", mime="application/octet-stream", on_click="ignore", key="tf_dl_npz",
)
ecols[2].caption("Exports hold every layer and head of the current view. For a PNG of any chart, use the camera icon on the chart.")

# ---- Step by step ------------------------------------------------------------------------
st.subheader("Scaled dot-product attention, step by step")
st.caption("Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V  (Vaswani et al. 2017, Eq. 1), recomputed for one head and one query from this input.")
n_queries = len(view.query_tokens)
if raw_query_param is not None and raw_query_param.strip().isdigit() and int(raw_query_param) >= n_queries:
    st.warning(f"Ignored from the link: 'tf_query' (this view has queries 0 to {n_queries - 1}). Showing query 0 instead.", icon=":material/link:")
if int(st.session_state.get("tf_query", 0) or 0) >= n_queries:
    st.session_state["tf_query"] = 0
scols = st.columns([2, 1])
query = scols[0].slider(
    "Query position", 0, max(1, n_queries - 1), key="tf_query", bind="query-params",
    help="The row of the attention map to compute by hand.", disabled=n_queries == 1,
)
mistake = scols[1].toggle("Mask with 0 instead of −∞ (the mistake)", key="tf_mistake", bind="query-params")
step = cache.dates_step_view(*run_key, settings, int(query), bool(mistake))
if head_mode != "single":
    st.caption(f"The maths is per head: showing head {step.head} (the heatmap above combines heads by {head_mode}).")
place_steps(step, "Scaling by √d_k keeps the dot products from growing with d_k and saturating the softmax (Section 3.2.1).")
if mistake:
    place_mistake(step)

st.caption(f"Server time for this view: {(time.perf_counter() - started) * 1000:.0f} ms.")
