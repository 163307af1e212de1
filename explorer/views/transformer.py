"""The Transformer page's view: a decoded date, its attention maps and one head's Eq. 1 worked through.

Two steps, because the page places the query slider between them (its range depends on the view):
:func:`attention_view` (tokens, output, decoding steps, heatmaps, head entropy, exports) and
:func:`step_view` (scaled dot-product attention for one layer, head and query, Vaswani et al. 2017,
Section 3.2.1, with the "mask with 0" mistake of Section 3.2.3). The model run itself is
:func:`explorer.analysis.stepwise.translate_and_record` (one decoding, one recording pass), cached by
``ui/cache.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorer.analysis.heads import COMBINE_MODES, attention_csv, attention_npz, combine_heads, entropy_by_kind, sharpest_and_most_diffuse
from explorer.analysis.stepwise import KIND_LABELS, TranslationRun, steps_from_run
from explorer.figures import attention as figs
from explorer.inputs.text import display_token
from explorer.models import Transformer
from explorer.tasks.dates import parse as parse_date

MODELS = {"trained": "dates", "untrained": "dates-untrained"}  # radio value -> zoo name
HEAD_MODES = ("single", *COMBINE_MODES)
VIEWS = {"encoder": "encoder_self", "decoder": "decoder_self", "cross": "decoder_cross"}  # URL value -> attention kind
TOP_K_MAX = 10
UNKNOWN_STYLE = "background-color: #ffe0b2; color: #111"  # a character the tokenizer reads as <unk>
CUT_STYLE = "background-color: #ffcdd2; color: #111"  # the "✂ cut" column of a truncated text
HEATMAP_NOTES = {
    "encoder_self": "Encoder: every source character looks at every other.",
    "decoder_self": "Decoder self-attention is masked: a position sees only itself and earlier outputs (the empty upper triangle).",
    "decoder_cross": "Cross-attention: each output step (row) looks at the source characters; a trained model lines up year, month and day.",
}


@dataclass(frozen=True)
class AttentionSettings:
    """What the page's widgets chose, already validated (text and prefix by ``explorer.inputs.text``)."""

    model: str  # a key of MODELS
    text: str
    cut: int  # characters of the typed text the model does not read
    top_k: int
    view: str  # a key of VIEWS
    layer: int
    head: int
    head_mode: str  # one of HEAD_MODES


@dataclass(frozen=True)
class AttentionView:
    """Everything the page shows above the step-by-step panel."""

    tokens: pd.DataFrame  # one column per source position: typed character, token, id
    tokens_highlight: bool  # a cell to colour (unknown character or cut marker): style with ``token_styles``
    output: str
    finished: bool
    expected: str | None  # what the reference parser reads, or None when it cannot
    steps: pd.DataFrame  # one row per decoding step
    kind: str
    kind_label: str
    layer: int  # clamped to the kind's layer count
    head: int
    query_tokens: list[str]
    key_tokens: list[str]
    heatmap: go.Figure
    heatmap_note: str
    overview: go.Figure
    entropy: go.Figure
    sharpest: tuple[int, int]
    most_diffuse: tuple[int, int]
    export_stem: str
    csv: Callable[[], bytes]
    npz: Callable[[], bytes]


@dataclass(frozen=True)
class StepView:
    """Eq. 1 for one layer, head and query, with the numbers the captions quote."""

    layer: int
    head: int
    query: int
    query_label: str
    d_k: int
    q: pd.DataFrame
    k: pd.DataFrame
    v: pd.DataFrame
    table: pd.DataFrame  # one row per key: score, scaling, mask, softmax, the model's own weight
    gap: float  # max |recomputed - model| weight over the whole head
    figure: go.Figure
    output: pd.DataFrame
    has_mask: bool
    hidden: list[str]  # "index:token" of keys hidden from this query
    leaked: float  # weight the mistake puts on hidden keys


def _token_table(chars: list[str], tokens: list[str], ids: list[int], unk_id: int, cut: int) -> pd.DataFrame:
    columns = {}
    for i, (ch, tok, idx) in enumerate(zip(chars, tokens, ids)):
        mark = " ⚠" if idx == unk_id else ""
        columns[f"{i}"] = [display_token(ch), display_token(tok) + mark, str(idx)]
    if cut > 0:
        columns["✂"] = [f"+{cut:,} cut", "not read", ""]
    return pd.DataFrame(columns, index=["typed", "token", "id"])


def _column_styles(frame: pd.DataFrame) -> np.ndarray:
    unknown = np.array(["⚠" in str(value) for value in frame.loc["token"]], dtype=bool)
    cut = np.asarray(frame.columns == "✂", dtype=bool)
    return np.where(cut, CUT_STYLE, np.where(unknown, UNKNOWN_STYLE, "")).astype(object)


def token_styles(frame: pd.DataFrame) -> pd.DataFrame:
    """Styler CSS for the token table (``frame.style.apply(token_styles, axis=None)``), built as one block.

    A Styler is the page's most expensive element, so the page uses it only when
    ``AttentionView.tokens_highlight`` says a cell is coloured.
    """
    per_column = _column_styles(frame)
    return pd.DataFrame(np.tile(per_column, (len(frame.index), 1)), index=frame.index, columns=frame.columns, dtype=object)


def _steps_table(steps: list, reads: list[str], k: int) -> pd.DataFrame:
    rows = []
    for i, s in enumerate(steps):
        read = display_token(reads[i]) if i < len(reads) else ""
        row = {"step": i, "reads": read, "token": display_token(s.token), "p": round(s.probability, 4), "forced": "yes" if s.forced else ""}
        for j, (tok, p) in enumerate(s.top_k[:k]):
            row[f"#{j + 1}"] = f"{display_token(tok)}  {p:.3f}"
        rows.append(row)
    return pd.DataFrame(rows)


def _vectors(rows: np.ndarray, labels: list[str], prefix: str) -> pd.DataFrame:
    rows = np.atleast_2d(rows)
    return pd.DataFrame(np.round(rows, 3), index=labels, columns=[f"{prefix}{i}" for i in range(rows.shape[1])])


def _reference_answer(text: str) -> str | None:
    try:
        return parse_date(text).isoformat()
    except ValueError:
        return None


def layer_counts(config: object) -> dict[str, int]:
    """Layers per attention kind of a Transformer config."""
    return {"encoder_self": config.n_encoder_layers, "decoder_self": config.n_decoder_layers, "decoder_cross": config.n_decoder_layers}  # type: ignore[attr-defined]


def attention_view(run: TranslationRun, unk_id: int, n_layers: dict[str, int], settings: AttentionSettings) -> AttentionView:
    """Tables and figures for one decoded input and the chosen kind, layer and head."""
    dec = run.decode
    kind = VIEWS[settings.view]
    layer = min(settings.layer, n_layers[kind] - 1)
    maps = run.attention.maps[kind]  # (L, H, Tq, Tk)
    n_heads = maps.shape[1]
    q_tokens = [display_token(t) for t in run.query_tokens(kind)]
    k_tokens = [display_token(t) for t in run.key_tokens(kind)]
    label = KIND_LABELS[kind]
    if settings.head_mode == "single":
        shown, title = maps[layer, settings.head], f"{label} · layer {layer} · head {settings.head}"
    else:
        shown, title = combine_heads(maps[layer], settings.head_mode), f"{label} · layer {layer} · {settings.head_mode} over {n_heads} heads"
    entropy = entropy_by_kind({kind: maps}, {kind: run.attention.keep_mask(kind)})[kind]
    sharpest, most_diffuse = sharpest_and_most_diffuse(entropy)
    tokens = _token_table(list(settings.text), dec.source_tokens, dec.source_ids, unk_id, settings.cut)  # type: ignore[attr-defined]
    return AttentionView(
        tokens=tokens,
        tokens_highlight=bool(_column_styles(tokens).astype(bool).any()),
        output=dec.text,  # type: ignore[attr-defined]
        finished=dec.finished,  # type: ignore[attr-defined]
        expected=_reference_answer(settings.text),
        steps=_steps_table(dec.steps, dec.decoder_input_tokens, settings.top_k),  # type: ignore[attr-defined]
        kind=kind,
        kind_label=label,
        layer=layer,
        head=settings.head,
        query_tokens=q_tokens,
        key_tokens=k_tokens,
        heatmap=figs.attention_heatmap(shown, q_tokens, k_tokens, title, keep=run.attention.keep_mask(kind)),
        heatmap_note=HEATMAP_NOTES[kind],
        overview=figs.attention_overview(maps, q_tokens, k_tokens, f"{label}: every layer × head", keep=run.attention.keep_mask(kind)),
        entropy=figs.entropy_heatmap(entropy, f"Head entropy: {label}", selected=(layer, settings.head)),
        sharpest=sharpest,
        most_diffuse=most_diffuse,
        export_stem=f"attention_{kind}_{settings.model}",
        csv=lambda: attention_csv(maps, q_tokens, k_tokens, kind),
        npz=lambda: attention_npz(maps, q_tokens, k_tokens, kind),
    )


def step_view(model: Transformer, run: TranslationRun, view: AttentionView, query: int, mistake: bool) -> StepView:
    """Eq. 1 recomputed for ``view``'s layer and head at ``query`` (clamped to the rows there are)."""
    query = min(query, len(view.query_tokens) - 1)
    steps = steps_from_run(model, run.attention, view.kind, view.layer, view.head)
    own = run.attention.maps[view.kind][view.layer, view.head]
    keep = steps.keep[query]
    table = pd.DataFrame({
        "key": view.key_tokens,
        "q·k": np.round(steps.scores[query], 3),
        "÷√d_k": np.round(steps.scaled[query], 3),
        "mask": np.where(keep, "keep", "hide"),
        "masked score": [f"{s:.3f}" if k else "-inf" for s, k in zip(steps.scaled[query], keep)],
        "softmax weight": np.round(steps.weights[query], 4),
        "model's weight": np.round(own[query], 4),
    })
    rows, labels = [steps.output[query]], ["Σ weight·v (mask −∞)"]
    if mistake:
        table["masked with 0"] = [f"{s:.3f}" if k else "0 ✗" for s, k in zip(steps.scaled[query], keep)]
        table["weight (mask 0)"] = np.round(steps.wrong_weights[query], 4)
        rows += [steps.wrong_output[query], steps.leak[query]]
        labels += ["Σ weight·v (mask 0)", "leak: part from hidden keys"]
    label = view.query_tokens[query]
    return StepView(
        layer=view.layer, head=view.head, query=query, query_label=label, d_k=steps.d_k,
        q=_vectors(steps.q[query], [label], "q"), k=_vectors(steps.k, view.key_tokens, "k"), v=_vectors(steps.v, view.key_tokens, "v"),
        table=table,
        gap=float(np.abs(steps.weights - own).max()),
        figure=figs.stepwise_figure(steps, query, view.key_tokens, show_mistake=mistake, query_label=label),
        output=_vectors(np.array(rows), labels, "o"),
        has_mask=steps.has_mask,
        hidden=[f"{j}:{view.key_tokens[j]}" for j in np.flatnonzero(~keep)],
        leaked=float(steps.leaked_mass[query]),
    )
