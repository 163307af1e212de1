"""The Transformer page's view: a decoded date, its attention maps and one head's Eq. 1 worked through.

Two steps, because the page places the query slider between them (its range depends on the view):
:func:`attention_view` (tokens, output, decoding steps, heatmaps, head entropy, exports) and
:func:`step_view` (scaled dot-product attention for one layer, head and query, Vaswani et al. 2017,
Section 3.2.1, with the "mask with 0" mistake of Section 3.2.3). The model run itself is
:func:`explorer.analysis.stepwise.translate_and_record` (one decoding, one recording pass), cached by
``ui/cache.py``.

Also here, shared with the translator's view (``explorer.views.translation``): the page's URL schema
(:func:`url_schema`, sized by the chosen model), value-weighted attention (Kobayashi et al. 2020,
Section 3: :func:`value_weighted_maps`, :func:`sink_shares`) and the training scrubber's side panel
(:func:`training_panel`, snapshots from ``explorer.lab.snapshots``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorer.analysis.heads import COMBINE_MODES, combine_heads, entropy_by_kind, sharpest_and_most_diffuse
from explorer.analysis.stepwise import KIND_LABELS, TranslationRun, attention_module, steps_from_run
from explorer.analysis.value_weighted import first_token_share, value_norms, value_weighted
from explorer.exports import AttentionTable
from explorer.figures import attention as figs
from explorer.figures import lab as lab_figs
from explorer.inputs.params import ParamSpec
from explorer.inputs.text import TEMPERATURE_MAX, display_token
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
SHIPPED_STEP = "shipped"  # the training-step choice that means "the shipped dates.pt, no snapshot"
VALUE_LABEL = "‖αf‖"  # what a value-weighted map's cells hold (colour bar, hover): a norm, not a weight
VALUE_WEIGHTED_NOTE = (
    "Value-weighted: each cell is ||α_ij f_h(x_j)||, the size of what key j adds to query i's output through this head "
    "(Kobayashi et al. 2020, Section 3: f_h(x) = (x W_V + b_V) W_O restricted to head h), not the weight α_ij alone. "
    "A key that takes much weight but carries a short value vector (a 'sink') moves little."
)


@dataclass(frozen=True)
class ModelShape:
    """What bounds the page's URL values for one model: its layer and head counts and longest query axis."""

    n_layers: int  # the most layers of any attention kind
    n_decoder_layers: int
    n_heads: int
    max_queries: int


def dates_shape(config: Any) -> ModelShape:  # a TransformerConfig
    """The dates architecture's shape; queries: at most ``max_len`` characters or decoder steps."""
    return ModelShape(max(config.n_encoder_layers, config.n_decoder_layers), config.n_decoder_layers, config.n_heads, config.max_len)


def model_choices() -> dict[str, str]:
    """The page's model radio, value -> caption; the first is a new visitor's (a real translation)."""
    from explorer.views.translation import MODEL_LABELS, TRANSLATORS  # that module imports this one

    return {**{key: MODEL_LABELS[key] for key in TRANSLATORS}, "trained": MODEL_LABELS["dates"], "untrained": "dates, untrained (random weights)"}


def chosen_model(state_value: object, url_value: object) -> str:
    """The model the page will show, known before any widget exists: the radio's state, else the link's, else the default."""
    choices = model_choices()
    for value in (state_value, url_value):
        if isinstance(value, str) and value in choices:
            return value
    return next(iter(choices))


def step_choices(steps: Sequence[int]) -> tuple[str, ...]:
    """The training-step slider's options: every snapshot step, then the shipped model (the default)."""
    return (*(str(s) for s in steps), SHIPPED_STEP)


def url_schema(shape: ModelShape, steps: Sequence[str] = ()) -> dict[str, ParamSpec]:
    """Every URL-bound widget of the page and what its value may hold for a model of ``shape``.

    ``steps`` are the training-step choices (``step_choices``); empty when the model has no
    snapshots (Marian, the untrained twin), so ``tf_step`` is then not part of the page.
    """
    schema = {
        "tf_model": ParamSpec("choice", choices=tuple(model_choices())),
        "tf_temp": ParamSpec("float", minimum=0.0, maximum=TEMPERATURE_MAX),
        "tf_topk": ParamSpec("int", minimum=1, maximum=TOP_K_MAX),
        "tf_view": ParamSpec("choice", choices=tuple(VIEWS)),
        "tf_layer": ParamSpec("int", minimum=0, maximum=shape.n_layers - 1),
        "tf_head": ParamSpec("int", minimum=0, maximum=shape.n_heads - 1),
        "tf_align_layer": ParamSpec("int", minimum=0, maximum=shape.n_decoder_layers - 1),
        "tf_align_head": ParamSpec("choice", choices=("mean", *(str(h) for h in range(shape.n_heads)))),
        "tf_merge": ParamSpec("bool"),
        "tf_heads": ParamSpec("choice", choices=HEAD_MODES),
        "tf_query": ParamSpec("int", minimum=0, maximum=shape.max_queries),
        "tf_mistake": ParamSpec("bool"),
        "tf_vw": ParamSpec("bool"),
    }
    if steps:
        schema["tf_step"] = ParamSpec("choice", choices=tuple(steps))
    return schema


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
    value_weighted: bool = False  # show ||alpha f(x)|| instead of alpha (Kobayashi et al. 2020)


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
    value_shares: pd.DataFrame | None = None  # per head, with value weighting on: see ``sink_shares``
    value_caption: str = ""


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


def value_weighted_maps(maps: np.ndarray, inputs: Sequence[tuple[np.ndarray, np.ndarray]], module_of: Callable[[int], Any]) -> np.ndarray:
    """||alpha_ij f_h(x_j)|| for every layer and head, (L, H, Tq, Tk) float32 (Kobayashi et al. 2020, Section 3).

    ``inputs[layer]`` is what that layer's attention module saw (query input, key/value input);
    ``module_of(layer)`` returns the module, which is only called (``value_norms``), never changed.
    """
    layers = [value_weighted(maps[layer], value_norms(module_of(layer), *inputs[layer])) for layer in range(maps.shape[0])]
    return np.stack(layers).astype(np.float32)


def sink_shares(weights: np.ndarray, weighted: np.ndarray, key_tokens: Sequence[str], rows: np.ndarray | None = None) -> tuple[pd.DataFrame, str]:
    """Per head of one layer: the share of attention weight and of weighted norm that goes to the first key and to
    the layer's sink, with a caption that quotes the numbers.

    The sink is measured, not assumed: the key with the most attention weight averaged over heads and query
    rows. Measured on the default inputs: in Marian's encoder it is the closing ``</s>``, which in the first
    three layers gets about twice the share of weight that it gets of weighted norm (en-pt, layer 2: 43% vs
    22%); in cross-attention it gets as much norm as weight; the dates model has no such sink.
    ``weights``/``weighted`` are (H, Tq, Tk); ``rows`` selects the query rows to average (the decoder's
    first row can only see its first key, so it says nothing).
    """
    seen = weights if rows is None else weights[:, rows]
    sink = int(np.argmax(seen.mean(axis=(0, 1))))
    first = first_token_share(weights, weighted, rows)
    # first_token_share measures key 0; rolling the key axis puts the sink there.
    at_sink = first_token_share(np.roll(weights, -sink, axis=-1), np.roll(weighted, -sink, axis=-1), rows)
    names = [f"0:{key_tokens[0]}", f"{sink}:{key_tokens[sink]}"]
    table: dict[str, object] = {"head": [f"head {h}" for h in range(weights.shape[0])]}
    for name, share in zip(names[: 1 if sink == 0 else 2], (first, at_sink)):
        table[f"weight → {name} (%)"] = np.round(100 * share.weight_share, 1)
        table[f"‖αf‖ → {name} (%)"] = np.round(100 * share.norm_share, 1)
    weight, norm = float(at_sink.weight_share.mean()), float(at_sink.norm_share.mean())
    verdict = ("so it moves less than its weight suggests: a sink" if norm < 0.8 * weight
               else "so its value vector is not small: its weight is real" if norm <= 1.25 * weight
               else "so it moves more than its weight suggests")
    caption = (
        f"The key this layer attends to most is '{key_tokens[sink]}' ({'the first key' if sink == 0 else f'position {sink}'}): "
        f"averaged over heads it takes {weight:.0%} of a query's attention weight but {norm:.0%} of its weighted norm, {verdict}. "
        "Shares are averaged over query rows" + (" after the first." if rows is not None else ".")
    )
    return pd.DataFrame(table), caption


def attention_view(
    run: TranslationRun, unk_id: int, n_layers: dict[str, int], settings: AttentionSettings, model: Transformer | None = None
) -> AttentionView:
    """Tables and figures for one decoded input and the chosen kind, layer and head.

    ``model`` is the model that made ``run``; needed only with ``settings.value_weighted``.
    """
    dec = run.decode
    kind = VIEWS[settings.view]
    layer = min(settings.layer, n_layers[kind] - 1)
    weights = run.attention.maps[kind]  # (L, H, Tq, Tk)
    n_heads = weights.shape[1]
    q_tokens = [display_token(t) for t in run.query_tokens(kind)]
    k_tokens = [display_token(t) for t in run.key_tokens(kind)]
    label = KIND_LABELS[kind]
    maps, shares, share_caption, value_label = weights, None, "", "weight"
    if settings.value_weighted:
        if model is None:
            raise ValueError("value-weighted attention needs the model that made the run")
        maps = value_weighted_maps(weights, run.attention.inputs[kind], lambda i: attention_module(model, kind, i))
        rows = np.arange(1, maps.shape[2]) if kind == "decoder_self" and maps.shape[2] > 1 else None
        shares, share_caption = sink_shares(weights[layer], maps[layer], k_tokens, rows)
        label, value_label = f"‖αf‖ {label}", VALUE_LABEL
    if settings.head_mode == "single":
        shown, title = maps[layer, settings.head], f"{label} · layer {layer} · head {settings.head}"
    else:
        shown, title = combine_heads(maps[layer], settings.head_mode), f"{label} · layer {layer} · {settings.head_mode} over {n_heads} heads"
    entropy = entropy_by_kind({kind: weights}, {kind: run.attention.keep_mask(kind)})[kind]
    sharpest, most_diffuse = sharpest_and_most_diffuse(entropy)
    tokens = _token_table(list(settings.text), dec.source_tokens, dec.source_ids, unk_id, settings.cut)  # type: ignore[attr-defined]
    download = AttentionTable(weights, q_tokens, k_tokens, kind)
    return AttentionView(
        tokens=tokens,
        tokens_highlight=bool(_column_styles(tokens).astype(bool).any()),
        output=dec.text,  # type: ignore[attr-defined]
        finished=dec.finished,  # type: ignore[attr-defined]
        expected=_reference_answer(settings.text),
        steps=_steps_table(dec.steps, dec.decoder_input_tokens, settings.top_k),  # type: ignore[attr-defined]
        kind=kind,
        kind_label=KIND_LABELS[kind],
        layer=layer,
        head=settings.head,
        query_tokens=q_tokens,
        key_tokens=k_tokens,
        heatmap=figs.attention_heatmap(shown, q_tokens, k_tokens, title, keep=run.attention.keep_mask(kind), value_label=value_label),
        heatmap_note=HEATMAP_NOTES[kind],
        overview=figs.attention_overview(maps, q_tokens, k_tokens, f"{label}: every layer × head", keep=run.attention.keep_mask(kind),
                                         value_label=value_label),
        entropy=figs.entropy_heatmap(entropy, f"Head entropy: {KIND_LABELS[kind]}", selected=(layer, settings.head)),
        sharpest=sharpest,
        most_diffuse=most_diffuse,
        export_stem=f"attention_{kind}_{settings.model}",
        csv=download.csv,
        npz=download.npz,
        value_shares=shares,
        value_caption=share_caption,
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


@dataclass(frozen=True)
class TrainingPanel:
    """The scrubber's side panel: where in training the chosen snapshot sits, and where the snapshots come from."""

    step: int
    loss: go.Figure  # training loss curve, a dashed line at ``step``
    metrics: go.Figure  # held-out exact match and alignment per snapshot, a dashed line at ``step``
    summary: str
    provenance: str


def training_panel(snaps: Any, step: int) -> TrainingPanel:  # explorer.lab.snapshots.Snapshots
    """Loss curve, held-out exact match and cross-attention alignment of the snapshot run, marked at ``step``.

    Numbers come from the snapshots' sidecar (measured when they were written); ``ValueError`` for a step
    that has no snapshot.
    """
    index = snaps.index_of(step)
    metrics: Mapping[str, Any] = snaps.metrics[index]
    training = snaps.meta["training"]
    loss = lab_figs.loss_curves({"snapshot run": snaps.loss_curve}, "Training loss (mean of every 10 steps)", marker_step=step)
    per_step = lab_figs.snapshot_metrics(snaps.steps, [m["heldout_accuracy"] for m in snaps.metrics], [m["alignment"] for m in snaps.metrics], step)
    summary = (
        f"After {step} of {training['steps']} steps: held-out exact match {metrics['heldout_accuracy']:.1%}, "
        f"cross-attention alignment {metrics['alignment']:.1%} (share of output digits whose most-attended source character, heads averaged, lies in the field they come from)."
    )
    difference = snaps.meta.get("max_abs_difference_to_dates_pt")
    if snaps.meta.get("final_step_in_dates_pt"):
        provenance = f"The snapshots are one training run (seed {training['seed']}); its last step is the shipped dates model."
    else:
        provenance = (
            f"The snapshots come from a retrain with the shipped model's seed ({training['seed']}) and settings, not from the run that made "
            "the shipped dates.pt: CPU kernels differ, so the weights are not bit-identical"
            + (f" (largest difference {difference:.3g})" if difference is not None else "")
            + f" and step {snaps.steps[-1]} can differ from 'shipped' on some inputs."
        )
    return TrainingPanel(step, loss, per_step, summary, provenance)
