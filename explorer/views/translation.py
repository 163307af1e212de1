"""The Transformer page's translator view: a real sentence through Mozilla's tiny Marian, and the
dates model's honesty box. Settings in, one frozen dataclass of everything shown out.

* :func:`check` validates the text (``explorer.inputs.translation``: empty, blank, control
  characters, the cap in pieces and characters, a long paste cut with both lengths said).
* :func:`run` records one greedy translation (``explorer.runs.translation.run_marian``).
* :func:`translator_view` turns a record into tables and figures: pieces with the word boundary
  "▁" visible, decoding steps with top-k, one attention map per kind/layer/head (or combined
  over heads), head entropy, exports, and the word alignment of Bahdanau et al. (2015, Section
  5.2.2): cross-attention of one decoder layer between words, with the strongest source word of
  each target word. Marian has no decoder self-attention (SSRU, Kim et al. 2019): that view
  returns the explanation instead of a map. With value weighting on, maps show ||alpha f(x)||
  (Kobayashi et al. 2020) and a table says how much weight and how much weighted norm each head
  gives to the first piece and to the sink (measured: mostly the closing "</s>" in the encoder).
* :func:`dates_notice` lists what the dates model was trained on and warns, in a box, when the
  reference parser does not read the input as one of those formats.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorer.analysis.alignment import translator_alignment_layer, word_alignment
from explorer.analysis.heads import combine_heads, entropy_by_kind
from explorer.analysis.stepwise import KIND_LABELS, steps_for_head
from explorer.exports import AttentionTable
from explorer.figures import attention as figs
from explorer.inputs.text import display_token
from explorer.inputs.translation import MAX_TOKENS, SentenceCheck, check_sentence
from explorer.runs.translation import SSRU_NOTE, TranslationRecord, dates_coverage, read_as_trained_date, run_marian
from explorer.views.transformer import VALUE_LABEL, ModelShape, StepView, sink_shares, value_weighted_maps

TRANSLATORS = {"en-pt": "marian-en-pt", "pt-en": "marian-pt-en"}  # widget value -> pretrained name
MODEL_LABELS = {
    "en-pt": "English → Portuguese (Mozilla's tiny Marian, pretrained)",
    "pt-en": "Portuguese → English (Mozilla's tiny Marian, pretrained)",
    "dates": "dates (trained here, the paper's exact architecture)",
}
DEFAULT_MODEL = "en-pt"
# Chosen because it aligns visibly: adjectives swap places (black cat -> gato preto, red sofa -> sofá vermelho).
DEFAULT_TEXT = {
    "en-pt": "The black cat is sleeping on the red sofa near the window.",
    "pt-en": "O gato preto está dormindo no sofá vermelho perto da janela.",
}
DEFAULT_TOP_K = 5  # alternatives shown per decoding step
VIEWS = {"encoder": "encoder_self", "decoder": "decoder_self", "cross": "decoder_cross"}
HEAD_MODES = ("single", "mean", "max")
LANGUAGES = {"en-pt": ("English", "Portuguese"), "pt-en": ("Portuguese", "English")}


@dataclass(frozen=True)
class TranslatorSettings:
    """Validated widget values (layer/head are clamped to the model by the view)."""

    model: str  # a key of TRANSLATORS
    top_k: int = 5
    view: str = "cross"  # a key of VIEWS
    layer: int = 0
    head: int = 0
    head_mode: str = "single"  # one of HEAD_MODES
    align_layer: int | None = None  # None: translator_alignment_layer (the last decoder layer)
    align_head: int | None = None  # None: mean over heads
    merge_words: bool = True
    value_weighted: bool = False  # maps of ||alpha f(x)|| (Kobayashi et al. 2020) instead of alpha


@dataclass(frozen=True)
class TranslatorView:
    """Everything the page shows for one Marian translation."""

    output: str
    finished: bool
    tokens: pd.DataFrame  # one column per source piece: piece ("▁" visible), id
    output_tokens: pd.DataFrame
    unknown_pieces: int
    steps: pd.DataFrame  # one row per decoding step
    kind: str
    kind_label: str
    note: str | None  # set instead of a map when the kind does not exist in this model
    heatmap: go.Figure | None
    overview: go.Figure | None
    entropy: go.Figure | None
    layer: int
    head: int
    n_layers: int
    n_heads: int
    alignment: go.Figure
    alignment_pairs: pd.DataFrame  # target word, strongest source word, weight
    alignment_caption: str
    export_stem: str
    csv: Callable[[], bytes] | None
    npz: Callable[[], bytes] | None
    value_shares: pd.DataFrame | None = None  # per head, with value weighting on: see ``sink_shares``
    value_caption: str = ""


@dataclass(frozen=True)
class Prepared:
    """A checked text and its recorded translation, or the one-line reason there is none."""

    check: SentenceCheck | None
    record: TranslationRecord | None
    error: str | None  # model unavailable, or the text refused


@functools.lru_cache(maxsize=64)
def prepare(model_key: str, text: str, top_k: int) -> Prepared:
    """Load (once per process), check and translate; bounded per input so a class's reruns are cheap."""
    from explorer.pretrained import ModelUnavailable, load_pretrained  # torch only when translating

    try:
        entry = load_pretrained(TRANSLATORS[model_key])
    except ModelUnavailable as missing:
        return Prepared(None, None, str(missing))
    checked = check(text, entry.tokenizer)
    if not checked.ok:
        return Prepared(checked, None, checked.error)
    return Prepared(checked, run(model_key, entry, checked, top_k), None)


def translator_shape(model_key: str) -> ModelShape:
    """The loaded translator's layer and head counts (the config's defaults when it is not installed: the page
    then shows the install line, and a link's layer or head only needs a range to be checked against)."""
    from explorer.models.marian import MarianConfig
    from explorer.pretrained import ModelUnavailable, load_pretrained

    try:
        config = load_pretrained(TRANSLATORS[model_key]).model.config
    except ModelUnavailable:
        config = MarianConfig()
    # Greedy decoding stops at 2.5 x the source length (Marian's max-length-factor), so no axis is longer.
    return ModelShape(max(config.n_encoder_layers, config.n_decoder_layers), config.n_decoder_layers, config.n_heads, int(2.5 * MAX_TOKENS))


def _attention_module(model: object, kind: str, layer: int) -> object:
    """Marian's attention module of ``kind`` in ``layer``: encoder self-attention or decoder cross-attention."""
    if kind == "encoder_self":
        return model.encoder_layers[layer].self_attn  # type: ignore[attr-defined]
    return model.decoder_layers[layer].cross_attn  # type: ignore[attr-defined]


def check(text: str | None, tokenizer: object) -> SentenceCheck:
    """The page's check: a long paste is cut (never silently ignored) and both lengths are said."""
    return check_sentence(text, tokenizer, truncate=True)  # type: ignore[arg-type]


def run(model_key: str, entry: object, checked: SentenceCheck, top_k: int) -> TranslationRecord:
    """One recorded translation of checked text with a loaded ``explorer.pretrained.Pretrained``."""
    if model_key not in TRANSLATORS:
        raise ValueError(f"model must be one of {sorted(TRANSLATORS)}, got {model_key!r}")
    if not checked.ok:
        raise ValueError(checked.error)
    return run_marian(TRANSLATORS[model_key], entry.model, entry.tokenizer, checked.text, checked.ids, top_k=top_k)  # type: ignore[attr-defined]


def _pieces_table(pieces: tuple[str, ...], ids: tuple[int, ...]) -> pd.DataFrame:
    columns = [f"{i}" for i in range(len(pieces))]
    # Ids as text: a column mixing a string row and an int row cannot be sent as Arrow without a slow fallback.
    return pd.DataFrame([[display_token(p) for p in pieces], [str(i) for i in ids]], index=["piece", "id"], columns=columns)


def _steps_table(record: TranslationRecord, k: int) -> pd.DataFrame:
    rows = []
    for i, step in enumerate(record.steps):
        alternatives = ", ".join(f"{display_token(p)} {q:.2f}" for p, q in step.top_k[:k])
        rows.append({"step": i, "piece": display_token(step.piece), "probability": round(step.probability, 3), f"top {k}": alternatives})
    return pd.DataFrame(rows)


def _alignment(record: TranslationRecord, settings: TranslatorSettings) -> tuple[go.Figure, pd.DataFrame, str]:
    cross = record.attention["decoder_cross"]
    n_layers, n_heads = cross.shape[:2]
    layer = translator_alignment_layer(n_layers) if settings.align_layer is None else min(max(settings.align_layer, 0), n_layers - 1)
    head = None if settings.align_head is None else min(max(settings.align_head, 0), n_heads - 1)
    aligned = word_alignment(cross, record.source_pieces, record.output_pieces, layer, head, settings.merge_words)
    source_lang, target_lang = LANGUAGES.get(record.model.removeprefix("marian-"), ("source", "target"))
    unit = "word" if settings.merge_words else "piece"
    heads_said = f"mean over its {n_heads} heads" if head is None else f"head {head}"
    merged_said = "pieces of one word merged by their mean on both axes" if settings.merge_words else "pieces shown as they are"
    caption = (
        f"Cross-attention of decoder layer {layer} ({heads_said}); {merged_said}; '</s>' left out. "
        "Layer numbers start at 0. The last layer is the default: the first layer looks at the source word of the "
        "previous output word, the last at the word being translated."
    )
    figure = figs.attention_heatmap(
        aligned.grid,
        [w.text for w in aligned.target],
        [w.text for w in aligned.source],
        f"Alignment: {target_lang} {unit}s (rows) × {source_lang} {unit}s (columns)",
        query_title=f"{target_lang} {unit} (output)",
        key_title=f"{source_lang} {unit} (source)",
    )
    pairs = pd.DataFrame([{f"{target_lang} {unit}": t, f"looks most at ({source_lang})": s, "weight": round(w, 2)} for t, s, w in aligned.pairs])
    return figure, pairs, caption


def translator_view(record: TranslationRecord, settings: TranslatorSettings, model: object | None = None) -> TranslatorView:
    """Tables and figures for one recorded translation and the chosen kind, layer and head.

    ``model`` is the translator that made ``record``; needed only with ``settings.value_weighted``.
    """
    kind = VIEWS.get(settings.view, "decoder_cross")
    label = KIND_LABELS[kind]
    alignment, pairs, caption = _alignment(record, settings)
    common = dict(
        output=record.output_text,
        finished=record.finished,
        tokens=_pieces_table(record.source_pieces, record.source_ids),
        output_tokens=_pieces_table(record.output_pieces, record.output_ids),
        unknown_pieces=sum(1 for p in record.source_pieces if p == "<unk>"),
        steps=_steps_table(record, max(1, settings.top_k)),
        kind=kind,
        kind_label=label,
        alignment=alignment,
        alignment_pairs=pairs,
        alignment_caption=caption,
        export_stem=f"attention_{kind}_{record.model}",
    )
    if kind not in record.attention:
        return TranslatorView(
            **common,
            note=record.notes.get(kind, SSRU_NOTE),
            heatmap=None,
            overview=None,
            entropy=None,
            layer=0,
            head=0,
            n_layers=0,
            n_heads=0,
            csv=None,
            npz=None,
        )
    weights = record.attention[kind]
    n_layers, n_heads = weights.shape[:2]
    layer, head = min(max(settings.layer, 0), n_layers - 1), min(max(settings.head, 0), n_heads - 1)
    q_tokens = [display_token(t) for t in record.query_pieces(kind)]
    k_tokens = [display_token(t) for t in record.key_pieces(kind)]
    maps, shares, share_caption, value_label = weights, None, "", "weight"
    if settings.value_weighted:
        if model is None:
            raise ValueError("value-weighted attention needs the model that made the record")
        maps = value_weighted_maps(weights, record.attention_inputs[kind], lambda i: _attention_module(model, kind, i))
        shares, share_caption = sink_shares(weights[layer], maps[layer], k_tokens)
        label, value_label = f"‖αf‖ {label}", VALUE_LABEL
    if settings.head_mode == "single":
        shown, title = maps[layer, head], f"{label} · layer {layer} · head {head}"
    else:
        shown, title = combine_heads(maps[layer], settings.head_mode), f"{label} · layer {layer} · {settings.head_mode} over {n_heads} heads"
    entropy = entropy_by_kind({kind: weights})[kind]
    download = AttentionTable(weights, q_tokens, k_tokens, kind)
    return TranslatorView(
        **common,
        note=None,
        heatmap=figs.attention_heatmap(shown, q_tokens, k_tokens, title, value_label=value_label),
        overview=figs.attention_overview(maps, q_tokens, k_tokens, f"{label}: every layer × head", value_label=value_label),
        entropy=figs.entropy_heatmap(entropy, f"Head entropy: {KIND_LABELS[kind]}", selected=(layer, head)),
        layer=layer,
        head=head,
        n_layers=n_layers,
        n_heads=n_heads,
        csv=download.csv,
        npz=download.npz,
        value_shares=shares,
        value_caption=share_caption,
    )


def translator_step_view(model: object, record: TranslationRecord, view: TranslatorView, query: int) -> StepView | None:
    """Eq. 1 (Vaswani et al. 2017) recomputed for the view's layer and head at ``query`` from the
    inputs the attention module really saw during decoding; None where the kind does not exist.

    No mask hides any key in Marian's encoder or cross-attention, so the "mask with 0" mistake
    changes nothing here (the page says so and points to the dates model's decoder).
    """
    if view.note is not None or view.kind not in record.attention_inputs:
        return None
    x_q, x_kv = record.attention_inputs[view.kind][view.layer]
    steps = steps_for_head(_attention_module(model, view.kind, view.layer), x_q, x_kv, view.head, causal=False)  # type: ignore[arg-type]
    own = record.attention[view.kind][view.layer, view.head]
    queries = [display_token(t) for t in record.query_pieces(view.kind)]
    keys = [display_token(t) for t in record.key_pieces(view.kind)]
    query = min(max(query, 0), len(queries) - 1)
    table = pd.DataFrame(
        {
            "key": keys,
            "q·k": np.round(steps.scores[query], 3),
            "÷√d_k": np.round(steps.scaled[query], 3),
            "mask": "keep",
            "masked score": [f"{v:.3f}" for v in steps.scaled[query]],
            "softmax weight": np.round(steps.weights[query], 4),
            "model's weight": np.round(own[query], 4),
        }
    )
    label = queries[query]

    def vectors(rows: np.ndarray, labels: list[str], prefix: str) -> pd.DataFrame:
        arr = np.atleast_2d(rows)
        return pd.DataFrame(np.round(arr, 3), index=labels, columns=[f"{prefix}{i}" for i in range(arr.shape[1])])

    return StepView(
        layer=view.layer,
        head=view.head,
        query=query,
        query_label=label,
        d_k=steps.d_k,
        q=vectors(steps.q[query], [label], "q"),
        k=vectors(steps.k, keys, "k"),
        v=vectors(steps.v, keys, "v"),
        table=table,
        gap=float(np.abs(steps.weights - own).max()),
        figure=figs.stepwise_figure(steps, query, keys, show_mistake=False, query_label=label),
        output=vectors(steps.output[query], ["Σ weight·v"], "o"),
        has_mask=False,
        hidden=[],
        leaked=0.0,
    )


# ----- dates honesty ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DatesNotice:
    """What the dates model knows, and what to say about this input."""

    warning: str | None  # shown in a warning box: the output is a guess
    info: str | None  # the day/month teaching moment
    formats: pd.DataFrame  # format, example (for 26 Nov 2026), field order
    years: str
    example_link_model: str | None  # "en-pt" when the example link should switch to a real sentence


def dates_notice(text: str) -> DatesNotice:
    """Say what the dates model was trained on and whether ``text`` is one of those dates."""
    coverage = dates_coverage()
    formats = pd.DataFrame([{"format": n, "example": e, "order": o} for n, e, o in coverage.formats])
    years = f"{coverage.year_min}-{coverage.year_max}"
    reading = read_as_trained_date(text)
    if not reading.known:
        warning = (
            f"This model only knows dates: the reference parser finds {reading.reason} "
            f"(trained formats below, years {years}). Whatever it prints is a guess by a model that only knows "
            "dates. For a real sentence, choose English → Portuguese."
        )
        return DatesNotice(warning, None, formats, years, "en-pt")
    info = None
    if "/" in text and not text.strip()[:4].isdigit():
        info = (
            f"Read as month/day/year ({reading.iso}): with slashes the training data is US style, so 31/12 is not a date to this model and 01/02 is 2 January."
        )
    return DatesNotice(None, info, formats, years, None)


def alignment_matrix(record: TranslationRecord, layer: int | None = None) -> np.ndarray:
    """Word alignment grid of a record (default layer as on the page): for notebooks and tests."""
    cross = record.attention["decoder_cross"]
    chosen = translator_alignment_layer(cross.shape[0]) if layer is None else layer
    return word_alignment(cross, record.source_pieces, record.output_pieces, chosen).grid
