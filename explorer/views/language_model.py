"""The language-model page's view: SmolLM2-135M on any text, computed without Streamlit.

The page is thin: it turns widgets into a ``Settings`` and calls the functions here, each of
which returns a frozen dataclass of exactly what is shown (numbers, figures, downloads). The
model is the shared read-only ``explorer.pretrained`` copy; ablations are forward arguments.
Per-input results are cached in bounded LRU caches (keys are hashable settings, never a model),
so a class on the same link shares one computation and memory stays bounded.

What is taught where: next-token distribution (Radford et al. 2019), head roles (Olsson et al.
2022; Xiao et al. 2024; Clark et al. 2019), the logit lens (nostalgebraist 2020), head ablation
(Michel et al. 2019) and the KV cache (Pope et al. 2022, Section 2).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch

from explorer.analysis import head_roles as roles
from explorer.analysis.heads import causal_mask
from explorer.analysis.value_weighted import first_token_share, value_norms, value_weighted
from explorer.exports import AttentionTable, table_csv
from explorer.figures import attention as attention_figs
from explorer.figures import lm as figs
from explorer.figures.lab import share_bars
from explorer.inputs.params import ParamSpec
from explorer.runs import lm as runs

MODEL = "smollm2-135m"
PAGE_MAX_TOKENS = 256  # attention of all 270 heads is kept per prompt: 256 tokens = 35 MB in float16
DEFAULT_TEXT = "The capital of France is Paris. The capital of Germany is Berlin. The capital of Italy is"
LENS_POSITIONS = 10
UNCACHED_STEPS = 8  # re-running the whole sequence per step is the slow way; timed for the first steps only
GENERATION_TIME_LIMIT = 30.0
TOP_N = 10
# The selected head's map sits in the wider of two columns (1:3): about 700 px wide in a 1,400 px window
# and 1,090 px in a 1,920 px one. Its height is chosen for a column between the two, so its cells stay
# square-ish on both (the server never sees the browser's width).
ATTENTION_COLUMN_PX = 800
SCORE_LABELS = {
    "previous_token": "previous-token",
    "induction": "induction",
    "first_token": "first-token (sink)",
    "self": "self",
    "entropy": "mean normalised entropy",
}
N_LAYERS, N_HEADS = 30, 9  # SmolLM2-135M; the widgets' choices exist before the model loads
HEADS = tuple(f"{layer}.{head}" for layer in range(N_LAYERS) for head in range(N_HEADS))
TABS = ("Prediction and heads", "Generate and KV cache", "Logit lens", "Ablation")
URL_SCHEMA: dict[str, ParamSpec] = {
    "lm_mode": ParamSpec("choice", choices=runs.MODES),
    "lm_temp": ParamSpec("float", minimum=0.0, maximum=runs.TEMPERATURE_MAX),
    "lm_topk": ParamSpec("int", minimum=0, maximum=runs.MAX_TOP_K),
    "lm_topp": ParamSpec("float", minimum=0.01, maximum=1.0),
    "lm_new": ParamSpec("int", minimum=1, maximum=runs.MAX_NEW_TOKENS),
    "lm_generate": ParamSpec("bool"),
    "lm_score": ParamSpec("choice", choices=tuple(SCORE_LABELS)),
    "lm_head": ParamSpec("choice", choices=("top", *HEADS)),
    "lm_vw": ParamSpec("bool"),
    "lm_from": ParamSpec("int", minimum=0, maximum=PAGE_MAX_TOKENS - 1),
    "lm_to": ParamSpec("int", minimum=0, maximum=PAGE_MAX_TOKENS - 1),
    "lm_ablate_top": ParamSpec("int", minimum=0, maximum=10),
    "lm_tab": ParamSpec("choice", choices=TABS),
}


def parse_head(label: str) -> tuple[int, int]:
    """``"18.6"`` -> (18, 6): a head label of the widgets (layer.head, both from 0)."""
    layer, head = label.split(".")
    return int(layer), int(head)


@dataclass(frozen=True)
class GuidedExample:
    """A preset a teacher can click: URL parameters (prefix lm_) and what to look at."""

    key: str
    title: str
    what_to_see: str
    params: dict[str, str] = field(default_factory=dict)


GUIDED = (
    GuidedExample(
        "it_animal",
        "Which heads send “it” to “animal”?",
        "Pick the query token “ it”: the ranked list shows the heads whose attention from “ it” lands on “ animal”.",
        # positions 8 and 1 are " it" and " animal" in SmolLM2's tokenisation (a test checks it)
        {"lm_text": "The animal didn't cross the street because it was too tired", "lm_from": "8", "lm_to": "1"},
    ),
    GuidedExample(
        "induction",
        "Induction heads",
        "Random tokens repeated twice: the loss per token drops on the second copy, and the induction map lights up "
        "a few heads in the middle layers. Ablate the top 3 and the drop disappears.",
        {"lm_score": "induction", "lm_ablate_top": "3", "lm_tab": "Ablation"},
    ),
    GuidedExample(
        "sinks",
        "Attention sinks",
        "Most heads park most of their attention on the very first token when they have nothing better to do. "
        "The per-layer bars set that weight against the share of ‖α f(x)‖ (value-weighted, switched on): "
        "the sink's value vectors are small, so heavy weight on it moves the output less than it seems.",
        {"lm_text": "Once upon a time, in a small village by the sea, there lived an old fisherman and his wife.",
         "lm_score": "first_token", "lm_vw": "true"},
    ),
    GuidedExample(
        "chat",
        "A chat prompt",
        "The chat template wraps the question in <|im_start|>/<|im_end|> turns; generate to see the answer form.",
        {"lm_text": "What is the capital of France?", "lm_mode": "chat", "lm_new": "16", "lm_generate": "true",
         "lm_tab": "Generate and KV cache"},
    ),
)


_R = TypeVar("_R")


def bounded(maxsize: int) -> Callable[[Callable[..., _R]], Callable[..., _R]]:
    """An LRU cache of ``maxsize`` results that computes each key once even when sessions ask at once.

    Thirty students opening the same link must not run thirty identical forward passes: the
    first computes, the others wait on that key's lock and then read the cache. The key is the
    positional arguments; keyword arguments are callbacks (e.g. streaming), never part of it.
    """

    def decorate(fn: Callable[..., _R]) -> Callable[..., _R]:
        store: OrderedDict[tuple, _R] = OrderedDict()
        guard = threading.Lock()
        in_flight: dict[tuple, threading.Lock] = {}

        def lookup(args: tuple) -> tuple[bool, _R | None]:
            with guard:
                if args in store:
                    store.move_to_end(args)
                    return True, store[args]
            return False, None

        @functools.wraps(fn)
        def wrapper(*args: Any, **callbacks: Any) -> _R:
            found, value = lookup(args)
            if found:
                return value  # type: ignore[return-value]
            with guard:
                lock = in_flight.setdefault(args, threading.Lock())
            with lock:
                found, value = lookup(args)
                if found:
                    return value  # type: ignore[return-value]
                result = fn(*args, **callbacks)
                with guard:
                    store[args] = result
                    while len(store) > maxsize:
                        store.popitem(last=False)
                    in_flight.pop(args, None)
                return result

        wrapper.cache_clear = store.clear  # type: ignore[attr-defined]
        wrapper.cached = lambda *args: lookup(args)[0]  # type: ignore[attr-defined]
        return wrapper

    return decorate


def partial_text(ids: list[int]) -> str:
    """Text of the tokens generated so far (for streaming), end-of-text tokens dropped."""
    return model().tokenizer.decode(ids, skip_special=True)


def model() -> Any:  # a Pretrained
    from explorer.pretrained import load_pretrained

    return load_pretrained(MODEL)


def warm_defaults() -> None:
    """Load the model and compute what a new visitor's default view reads (prompt, next token, heads).

    Called once at server start on the preload thread: the page's first visitor then finds the
    results in the bounded caches below and only the figures are built for them.
    """
    ids = prompt(DEFAULT_TEXT, runs.MODES[0]).ids
    next_token(ids, runs.Sampling())
    analysis(ids)


# --- the prompt ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    ids: tuple[int, ...]
    pieces: tuple[str, ...]
    error: str | None
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.ids)


@bounded(64)
def prompt(text: str, mode: str) -> Prompt:
    """Checked and tokenised (chat mode: inside the chat template), cut to ``PAGE_MAX_TOKENS`` with a message."""
    lm = model()
    check = runs.check_prompt(text, lm.tokenizer, mode=mode, truncate=True, max_tokens=PAGE_MAX_TOKENS)
    if not check.ok:
        return Prompt((), (), check.error, check.warnings)
    ids = check.ids[-PAGE_MAX_TOKENS:] if len(check.ids) > PAGE_MAX_TOKENS else check.ids
    return Prompt(ids, tuple(lm.tokenizer.pieces(ids)), None, check.warnings)


# --- next token ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NextToken:
    top: tuple[tuple[int, str, float], ...]
    figure: go.Figure


@bounded(64)
def next_token(ids: tuple[int, ...], sampling: runs.Sampling, ablate: tuple[tuple[int, int], ...] = ()) -> NextToken:
    lm = model()
    top = runs.next_token(lm.model, lm.tokenizer, ids, sampling, TOP_N, ablate_heads=ablate)
    what = "plain softmax" if sampling.greedy else f"T {sampling.temperature:g}, top-k {sampling.top_k or 'off'}, top-p {sampling.top_p:g}"
    figure = figs.next_token_bars([p for _, p, _ in top], [q for _, _, q in top], [i for i, _, _ in top], f"Next token ({what})")
    return NextToken(top, figure)


# --- one inspected forward pass per prompt ------------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    """Every head's attention on the prompt (float16, (L, H, T, T)), the five head scores (L, H), and for
    value-weighted attention (Kobayashi et al. 2020, Section 3) every head's ||f_h(x_j)|| (L, H, T) with the
    share of attention weight and of weighted norm that goes to the first token ((L, H) each)."""

    ids: tuple[int, ...]
    pieces: tuple[str, ...]
    maps: np.ndarray
    scores: dict[str, np.ndarray]
    value_norms: np.ndarray
    sink_weight: np.ndarray
    sink_norm: np.ndarray


@bounded(1)
def induction_reference() -> np.ndarray:
    """Induction scores on the built-in repeated random sequence (the same for every prompt)."""
    lm = model()
    return roles.induction_scores(lm.model, lm.tokenizer.vocab_size)


def attention_and_inputs(net: Any, ids: tuple[int, ...]) -> tuple[np.ndarray, list[torch.Tensor]]:
    """Every head's attention (L, H, T, T) and what each layer's self-attention read (per layer (T, D)).

    The inputs are the normalised residual stream each layer attended over: ||f_h(x_j)|| needs the
    very vectors the values were projected from.
    """
    with torch.inference_mode():
        out = net(torch.tensor([list(ids)]), return_attention=True, return_attention_inputs=True, last_only=True)
    assert out.attention is not None and out.attention_inputs is not None
    maps = torch.stack([m[0] for m in out.attention["self"]]).numpy()
    return maps, [x[0] for x in out.attention_inputs]


def sink_shares(maps: np.ndarray, norms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per layer and head, the mean share of attention weight and of ||alpha f(x)|| that lands on token 0.

    Query 0 can only see itself under the causal mask (trivially 100 %), so it is left out when there
    are other queries.
    """
    n = maps.shape[-1]
    rows = np.arange(1, n) if n > 1 else None
    shares = [first_token_share(w, value_weighted(w, v), rows) for w, v in zip(maps, norms)]
    return np.stack([s.weight_share for s in shares]), np.stack([s.norm_share for s in shares])


@bounded(8)
def analysis(ids: tuple[int, ...]) -> Analysis:
    lm = model()
    maps, inputs = attention_and_inputs(lm.model, ids)
    scores = roles.prompt_scores(maps) if len(ids) > 1 else {name: np.zeros(maps.shape[:2]) for name in roles.SCORES}
    scores["induction"] = induction_reference()
    norms = np.stack([value_norms(layer.self_attn, x, x) for layer, x in zip(lm.model.layers, inputs)]).astype(np.float32)
    sink_weight, sink_norm = sink_shares(maps, norms)
    maps16 = maps.astype(np.float16)
    for arr in (maps16, norms, sink_weight, sink_norm):
        arr.setflags(write=False)
    return Analysis(ids, tuple(lm.tokenizer.pieces(ids)), maps16, {name: scores[name] for name in roles.SCORES}, norms,
                    sink_weight, sink_norm)


def best_head(scores: np.ndarray) -> tuple[int, int]:
    layer, head = np.unravel_index(int(np.nanargmax(scores)), scores.shape)
    return int(layer), int(head)


@dataclass(frozen=True)
class HeadPanel:
    score: str
    caption: str
    map_figure: go.Figure
    selected: tuple[int, int]
    attention_figure: go.Figure
    ranking: tuple[tuple[int, int, float], ...]  # (layer, head, score), best first
    value_weighted: bool
    sink_weight: float  # the selected head's mean share of attention weight on the first token
    sink_norm: float  # ... and of ||alpha f(x)||


def row_shares(weights: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """||alpha_ij f(x_j)|| as each query row's share (Tq, Tk): rows sum to 1, like the weights they replace."""
    weighted = value_weighted(weights[None], norms[None])[0]
    totals = weighted.sum(-1, keepdims=True)
    return np.divide(weighted, totals, out=np.zeros_like(weighted), where=totals > 0)


def head_panel(result: Analysis, score: str, layer: int | None = None, head: int | None = None,
               weighted: bool = False) -> HeadPanel:
    """The 30 x 9 head-role map for ``score`` and one head's attention (default: the top head for that score).

    ``weighted`` draws ||alpha_ij f_h(x_j)|| (Kobayashi et al. 2020, Section 3) as each row's share
    instead of alpha_ij: how much each key token actually moves the output, not how much it is looked at.
    """
    if score not in roles.SCORES:
        raise ValueError(f"score must be one of {', '.join(roles.SCORES)}")
    values = result.scores[score]
    n_layers, n_heads = values.shape
    selected = best_head(values) if layer is None or head is None else (int(layer), int(head))
    if not (0 <= selected[0] < n_layers and 0 <= selected[1] < n_heads):
        raise ValueError(f"no head ({selected[0]}, {selected[1]}): layers 0..{n_layers - 1}, heads 0..{n_heads - 1}")
    order = np.argsort(-np.nan_to_num(values, nan=-1.0), axis=None)[:10]
    ranking = tuple((int(i // n_heads), int(i % n_heads), float(values.flat[i])) for i in order)
    where = "the built-in repeated random sequence" if score == "induction" else "this prompt"
    caption = f"{SCORE_LABELS[score]}: {roles.SCORE_CAPTIONS[score]}; computed on {where}."
    label = SCORE_LABELS[score]
    # two short lines: the map's column is about 230 px wide in a 1,400 px window
    map_figure = figs.head_map(values, f"{label}<br>score of every head", label, selected)
    n = len(result.pieces)
    weights = result.maps[selected[0], selected[1]].astype(np.float32)
    shown = row_shares(weights, result.value_norms[selected[0], selected[1]]) if weighted else weights
    what = "‖α f(x)‖" if weighted else "weights α"  # the page's caption says the rest
    attention_figure = attention_figs.attention_heatmap(
        shown, result.pieces, result.pieces, f"layer {selected[0]} · head {selected[1]} on the prompt: {what}",
        zmax=1.0, keep=causal_mask(n, n), column_px=ATTENTION_COLUMN_PX, value_label="‖αf‖ share" if weighted else "weight",
    )
    return HeadPanel(score, caption, map_figure, selected, attention_figure, ranking, weighted,
                     float(result.sink_weight[selected]), float(result.sink_norm[selected]))


def token_positions(result: Analysis, piece: str) -> list[int]:
    """Positions whose token text, stripped of spaces, equals ``piece`` (case-insensitive)."""
    wanted = piece.strip().lower()
    return [i for i, p in enumerate(result.pieces) if p.strip().lower() == wanted]


def heads_linking(result: Analysis, query: int, key: int, top: int = 10) -> tuple[tuple[int, int, float], ...]:
    """Heads ranked by the weight query position ``query`` puts on key position ``key``."""
    if not (0 <= key <= query < len(result.ids)):
        raise ValueError(f"positions must satisfy 0 <= key <= query < {len(result.ids)}")
    weights = result.maps[:, :, query, key].astype(np.float32)
    order = np.argsort(-weights, axis=None)[:top]
    n_heads = weights.shape[1]
    return tuple((int(i // n_heads), int(i % n_heads), float(weights.flat[i])) for i in order)


def sinks_figure(result: Analysis) -> go.Figure:
    """Per layer (mean over heads and queries): the share of attention weight on the first token against
    the share of ||alpha f(x)|| on it. The gap is the lesson: a sink takes weight but moves little."""
    layers = [str(layer) for layer in range(result.sink_weight.shape[0])]
    figure = share_bars(layers, result.sink_weight.mean(axis=1), result.sink_norm.mean(axis=1),
                        "What goes to the first token, per layer")  # "mean over heads": in the page's caption
    figure.update_layout(xaxis_title="layer")
    return figure


# --- logit lens ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lens:
    positions: tuple[int, ...]
    tokens: tuple[tuple[str, ...], ...]  # (L, P) top token after each layer
    probabilities: np.ndarray  # (L, P)
    figure: go.Figure


@bounded(16)
def logit_lens(ids: tuple[int, ...], last: int = LENS_POSITIONS) -> Lens:
    """Top prediction from the residual stream after every layer (final norm + tied unembedding), last positions."""
    lm = model()
    with torch.inference_mode():
        hidden = lm.model(torch.tensor([list(ids)]), return_hidden=True, last_only=True).hidden
        start = max(0, len(ids) - last)
        stream = torch.stack([h[0, start:] for h in hidden])  # (L, P, D)
        probs = torch.softmax(lm.model.unembed(stream).float(), dim=-1)
        best, which = probs.max(dim=-1)
    pieces = lm.tokenizer.pieces(which.flatten().tolist())
    width = which.shape[1]
    tokens = tuple(tuple(pieces[r * width : (r + 1) * width]) for r in range(which.shape[0]))
    positions = tuple(range(start, len(ids)))
    labels = lm.tokenizer.pieces([ids[i] for i in positions])
    figure = figs.logit_lens(tokens, best.numpy(), labels, "Logit lens: top next-token guess per layer")
    return Lens(positions, tokens, best.numpy(), figure)


# --- ablation and the induction demo -------------------------------------------------------------------------


@dataclass(frozen=True)
class InductionDemo:
    """Per-token loss (nats) on the built-in repeated sequence; the second copy starts at ``period``."""

    period: int
    losses: np.ndarray
    first_copy_loss: float
    second_copy_loss: float


@bounded(32)
def induction_demo(ablate: tuple[tuple[int, int], ...] = ()) -> InductionDemo:
    lm = model()
    ids = roles.induction_tokens(lm.tokenizer.vocab_size)
    period = len(ids) // 2
    with torch.inference_mode():
        logits = lm.model(torch.tensor([ids]), ablate_heads=ablate).logits[0, :-1]
        losses = torch.nn.functional.cross_entropy(logits.float(), torch.tensor(ids[1:]), reduction="none").numpy()
    full = np.concatenate([[np.nan], losses])  # position 0 has no prediction
    return InductionDemo(period, full, float(np.nanmean(full[1:period])), float(np.mean(full[period + 1 :])))


def top_induction_heads(n: int) -> tuple[tuple[int, int], ...]:
    scores = induction_reference()
    order = np.argsort(-scores, axis=None)[:n]
    return tuple((int(i // scores.shape[1]), int(i % scores.shape[1])) for i in order)


@dataclass(frozen=True)
class Ablation:
    heads: tuple[tuple[int, int], ...]
    before: NextToken
    after_probabilities: tuple[float, ...]  # of ``before``'s top tokens
    after: NextToken
    next_token_figure: go.Figure
    demo_before: InductionDemo
    demo_after: InductionDemo
    loss_figure: go.Figure


def ablation(ids: tuple[int, ...], heads: tuple[tuple[int, int], ...], sampling: runs.Sampling) -> Ablation:
    """Next-token distribution and the induction demo's loss with and without ``heads`` zeroed."""
    heads = tuple(sorted(set(heads)))
    before = next_token(ids, sampling)
    after = next_token(ids, sampling, heads)
    lm = model()
    with torch.inference_mode():
        logits = lm.model(torch.tensor([list(ids)]), ablate_heads=heads, last_only=True).logits[0, -1]
    probs = runs.sampling_distribution(logits, sampling)
    after_probs = tuple(float(probs[i]) for i, _, _ in before.top)
    figure = figs.compare_bars([p for _, p, _ in before.top], [q for _, _, q in before.top], after_probs,
                               "Next token before and after the ablation")
    demo_before, demo_after = induction_demo(), induction_demo(heads)
    loss_figure = figs.loss_curves(demo_before.losses, demo_after.losses if heads else None, demo_before.period,
                                   "Loss per token, random tokens repeated twice")
    return Ablation(heads, before, after_probs, after, figure, demo_before, demo_after, loss_figure)


# --- generation and the KV cache ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationPanel:
    generation: runs.Generation
    uncached_ms: tuple[float, ...]
    figure: go.Figure
    kv_per_token_bytes: int
    per_layer_kib: float


@bounded(16)
def generation(
    ids: tuple[int, ...],
    sampling: runs.Sampling,
    n: int,
    ablate: tuple[tuple[int, int], ...] = (),
    on_step: Callable[[runs.Step], None] | None = None,
) -> GenerationPanel:
    """Generate ``n`` tokens with the cache (timed per step; ``on_step`` sees each as it comes), then
    time the first steps again without the cache."""
    lm = model()
    steps: list[runs.Step] = []
    for step in runs.iter_generate(lm.model, lm.tokenizer, ids, n, sampling, use_cache=True, top_n=5,
                                   ablate_heads=ablate, time_limit=GENERATION_TIME_LIMIT):
        steps.append(step)
        if on_step is not None:
            on_step(step)
    result = runs.finish_generation(lm.tokenizer, ids, steps, n, use_cache=True)
    uncached: list[float] = []
    with torch.inference_mode():
        sequence = list(ids)
        for token in result.new_ids[:UNCACHED_STEPS]:
            tick = time.perf_counter()
            lm.model(torch.tensor([sequence]), ablate_heads=ablate, last_only=True)
            uncached.append((time.perf_counter() - tick) * 1e3)
            sequence.append(token)
    c = lm.model.config
    per_token = 2 * c.n_layers * (c.n_kv_heads or c.n_heads) * c.d_head * 4
    done = result.steps
    figure = figs.cache_and_timing(
        [s.cache_bytes / 1024 for s in done], [s.seconds * 1e3 for s in done], uncached,
        "KV cache size and time per generated token",
    )
    per_layer = done[-1].cache_bytes / c.n_layers / 1024 if done else 0.0
    return GenerationPanel(result, tuple(uncached), figure, per_token, per_layer)


# --- downloads ---------------------------------------------------------------------------------------------------


def head_csv(result: Analysis, layer: int, head: int) -> bytes:
    return AttentionTable(result.maps[layer, head].astype(np.float32), result.pieces, result.pieces, kind="self").csv()


def all_attention_npz(result: Analysis) -> bytes:
    return AttentionTable(result.maps.astype(np.float32), result.pieces, result.pieces, kind="self").npz()


def scores_csv(result: Analysis) -> bytes:
    n_layers, n_heads = result.scores[roles.SCORES[0]].shape
    layer, head = np.divmod(np.arange(n_layers * n_heads), n_heads)
    table = pd.DataFrame({"layer": layer, "head": head, **{s: result.scores[s].reshape(-1).round(6) for s in roles.SCORES}})
    return table_csv(table)
