"""Reveal functions: the answers lessons show, computed from the models at reveal time.

Each function takes a model getter (``name -> ZooModel``-like object; the lesson page passes
:func:`explorer.zoo.load_model`, tests pass other models) plus the step's arguments, and
returns a :class:`Reveal`: the correct answer (one of the function's ``outcomes`` for a
choice question, a number for a guess) and named values the reveal text may quote as
``{name}`` or ``{name:.2f}``. Registered with :func:`reveal`, which declares the values and
outcomes so the loader can check a lesson file before any model is loaded.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

ModelGetter = Callable[[str], Any]

DEFAULT_TEXT = "Thursday 26 November 2026"


@dataclass(frozen=True)
class Reveal:
    """The computed answer, the named values for the reveal text, and an optional small table."""

    answer: str | float
    values: dict[str, Any]
    table: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RevealSpec:
    """A registered reveal function: its kind ("choice" or "number"), outcomes, value names and arguments."""

    name: str
    kind: str
    outcomes: tuple[str, ...]
    values: tuple[str, ...]
    args: dict[str, type]
    fn: Callable[..., Reveal]


REGISTRY: dict[str, RevealSpec] = {}


def reveal(kind: str, values: tuple[str, ...], outcomes: tuple[str, ...] = ()) -> Callable[[Callable[..., Reveal]], Callable[..., Reveal]]:
    """Register a reveal function; its keyword arguments (after ``get``) are what a lesson step may pass."""

    def register(fn: Callable[..., Reveal]) -> Callable[..., Reveal]:
        params = list(inspect.signature(fn).parameters.values())[1:]
        args = {p.name: type(p.default) for p in params}
        REGISTRY[fn.__name__] = RevealSpec(fn.__name__, kind, outcomes, ("answer", *values), args, fn)
        return fn

    return register


def run_reveal(name: str, get: ModelGetter, args: dict[str, Any] | None = None) -> Reveal:
    """Call reveal function ``name`` with ``args`` (checked against its signature)."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise ValueError(f"unknown reveal function {name!r}")
    return spec.fn(get, **(args or {}))


def _dates(get: ModelGetter) -> tuple[Any, Any]:
    entry = get("dates")
    return entry.model, entry.tokenizer


def _checked_text(text: str, entry_config: Any, tokenizer: Any) -> str:
    from explorer.inputs.text import check_text

    check = check_text(text, tokenizer, entry_config.max_len)
    if not check.ok:
        raise ValueError(check.error)
    return check.text


# ----------------------------------------------------------------------------- attention and the mask
@reveal("choice", ("max_future_weight", "n_maps", "output"), ("exactly 0", "small but not 0", "as much as the past"))
def masked_future_weight(get: ModelGetter, text: str = DEFAULT_TEXT) -> Reveal:
    """Largest decoder self-attention weight on a *later* position, over every layer, head and query.

    The causal mask (Vaswani et al. Section 3.2.3) sets those scores to -inf, so the softmax gives exactly 0.
    """
    from explorer.analysis.stepwise import translate_and_record

    model, tokenizer = _dates(get)
    run = translate_and_record(model, tokenizer, _checked_text(text, model.config, tokenizer))
    maps = run.attention.maps["decoder_self"]  # (L, H, T, T)
    future = np.triu(np.ones(maps.shape[-2:], dtype=bool), k=1)
    largest = float(maps[..., future].max()) if future.any() else 0.0
    past = float(maps[..., ~future].mean())
    answer = "exactly 0" if largest == 0.0 else ("small but not 0" if largest < past else "as much as the past")
    return Reveal(answer, {"max_future_weight": largest, "n_maps": int(maps.shape[0] * maps.shape[1]),
                           "output": run.decode.text})  # type: ignore[attr-defined]


@reveal("number", ("leak_percent", "layer", "head", "n_queries"))
def zero_mask_leak(get: ModelGetter, text: str = DEFAULT_TEXT, layer: int = 0, head: int = 0) -> Reveal:
    """Mean share of weight that goes to future positions when the mask fills scores with 0 instead of -inf (%)."""
    from explorer.analysis.stepwise import steps_from_run, translate_and_record

    model, tokenizer = _dates(get)
    run = translate_and_record(model, tokenizer, _checked_text(text, model.config, tokenizer))
    steps = steps_from_run(model, run.attention, "decoder_self", layer, head)
    leak = float(np.mean(steps.leaked_mass)) * 100
    return Reveal(leak, {"leak_percent": leak, "layer": layer, "head": head, "n_queries": int(len(steps.leaked_mass))})


@reveal("choice", ("month_share", "year_share", "day_share", "n_examples", "layer"), ("month", "year", "day", "elsewhere"))
def month_alignment(get: ModelGetter, n_examples: int = 200) -> Reveal:
    """Where the best-aligned decoder layer's cross-attention peaks while writing the month digits.

    Over held-out dates: for the two month characters of YYYY-MM-DD, which source field holds the
    cross-attention peak (heads averaged)? Bahdanau et al. 2015's soft alignment, measured.
    """
    from explorer.analysis.alignment import ISO_FIELDS, alignment_report, cross_attention_batch
    from explorer.training.dates import heldout_examples

    if not 1 <= n_examples <= 1700:
        raise ValueError("n_examples must be between 1 and 1700")
    model, tokenizer = _dates(get)
    examples = heldout_examples(n_examples)
    layer = alignment_report(model, tokenizer, examples).best_layer
    cross = cross_attention_batch(model, tokenizer, examples)[layer]  # (B, Tq, Tk), heads averaged
    counts = {"month": 0, "year": 0, "day": 0, "elsewhere": 0}
    month_rows = [i for i, name in enumerate(ISO_FIELDS) if name == "month"]
    for row, ex in enumerate(examples):
        for q in month_rows:
            peak = int(cross[row, q].argmax())
            hit = next((f for f, (a, b) in ex.spans.items() if a <= peak < b), "elsewhere")
            counts[hit if hit in counts else "elsewhere"] += 1
    total = sum(counts.values())
    answer = max(counts, key=lambda k: counts[k])
    return Reveal(answer, {"month_share": 100 * counts["month"] / total, "year_share": 100 * counts["year"] / total,
                           "day_share": 100 * counts["day"] / total, "n_examples": n_examples, "layer": layer})


@reveal("number", ("accuracy_percent", "n_examples", "n_wrong"))
def dates_accuracy(get: ModelGetter, n_examples: int = 340) -> Reveal:
    """Exact-match accuracy (%) of greedy decoding on held-out dates (never seen in training, any format)."""
    from explorer.training.dates import evaluate, heldout_examples

    if not 1 <= n_examples <= 1700:
        raise ValueError("n_examples must be between 1 and 1700")
    model, tokenizer = _dates(get)
    metrics = evaluate(model, tokenizer, heldout_examples(n_examples))
    acc = 100 * metrics["heldout_accuracy"]
    wrong = [{"input": t, "expected": e, "model wrote": p} for t, e, p in metrics["errors"][:5]]
    return Reveal(acc, {"accuracy_percent": acc, "n_examples": n_examples,
                        "n_wrong": round(n_examples * (1 - metrics["heldout_accuracy"]))}, wrong)


@reveal("number", ("weight_percent", "norm_percent", "head", "layer", "verdict"))
def start_token_norm_share(get: ModelGetter, text: str = DEFAULT_TEXT, layer: int = 0) -> Reveal:
    """Decoder self-attention: for the head that puts most weight on <s>, the share of its weighted norm
    ||alpha f(x)|| (Kobayashi et al. 2020) that goes to <s> (%), over queries after the first."""
    from explorer.analysis.stepwise import attention_module, translate_and_record
    from explorer.analysis.value_weighted import first_token_share, value_norms, value_weighted

    model, tokenizer = _dates(get)
    if not 0 <= layer < model.config.n_decoder_layers:
        raise ValueError(f"layer must be between 0 and {model.config.n_decoder_layers - 1}")
    run = translate_and_record(model, tokenizer, _checked_text(text, model.config, tokenizer)).attention
    x_q, x_kv = run.inputs["decoder_self"][layer]
    weights = run.maps["decoder_self"][layer]
    norms = value_norms(attention_module(model, "decoder_self", layer), x_q, x_kv)
    share = first_token_share(weights, value_weighted(weights, norms), np.arange(1, weights.shape[1]))
    head = int(np.argmax(share.weight_share))
    norm, weight = 100 * float(share.norm_share[head]), 100 * float(share.weight_share[head])
    verdict = ("about as much as its weight: <s> carries an ordinary value vector, so it is no sink here" if abs(norm - weight) <= 0.25 * weight
               else ("much less than its weight: heavy attention to <s> moves little, a sink" if norm < weight
                     else "more than its weight: <s> carries a large value vector"))
    return Reveal(norm, {"weight_percent": weight, "norm_percent": norm, "head": head, "layer": layer, "verdict": verdict},
                  [{"head": h, "weight to <s> (%)": round(100 * float(w), 1), "weighted norm to <s> (%)": round(100 * float(n), 1)}
                   for h, (w, n) in enumerate(zip(share.weight_share, share.norm_share))])


# ----------------------------------------------------------------------------- positions
@reveal("choice", ("spread", "offset", "mean_dot"), ("only the offset", "the offset and the position", "only the position"))
def sinusoidal_offset(get: ModelGetter, d_model: int = 64, offset: int = 3) -> Reveal:
    """Spread of PE(pos) . PE(pos + k) over positions pos = 0..49 for one offset k (Section 3.5's sinusoids).

    Each sin/cos pair gives cos(w k) whatever pos is, so the dot product depends on k alone.
    """
    from explorer.models.positions import sinusoidal_encoding

    if not 2 <= d_model <= 1024 or d_model % 2 or not 1 <= offset <= 100:
        raise ValueError("d_model must be even, 2..1024, and offset 1..100")
    pe = sinusoidal_encoding(50 + offset, d_model).double()
    dots = (pe[:50] * pe[offset : offset + 50]).sum(-1)
    spread = float(dots.max() - dots.min())
    answer = "only the offset" if spread < 1e-6 * float(dots.abs().mean()) else "the offset and the position"
    return Reveal(answer, {"spread": spread, "offset": offset, "mean_dot": float(dots.mean())})


@reveal("choice", ("difference", "score_a", "score_b"), ("identical (up to rounding)", "a little different", "very different"))
def rope_offset(get: ModelGetter, first: int = 0, second: int = 10, offset: int = 3, seed: int = 0) -> Reveal:
    """RoPE (Su et al. 2021): q at position p, k at p + offset; compare the score at two positions p."""
    from explorer.models.positions import apply_rope

    generator = torch.Generator().manual_seed(seed)
    q, k = torch.randn(1, 1, 1, 64, generator=generator, dtype=torch.float64), torch.randn(1, 1, 1, 64, generator=generator, dtype=torch.float64)

    def score(p: int) -> float:
        qr = apply_rope(q, torch.tensor([p]))
        kr = apply_rope(k, torch.tensor([p + offset]))
        return float((qr * kr).sum())

    a, b = score(first), score(second)
    diff = abs(a - b)
    answer = "identical (up to rounding)" if diff < 1e-6 * max(1.0, abs(a)) else ("a little different" if diff < 0.1 * abs(a) else "very different")
    return Reveal(answer, {"difference": diff, "score_a": a, "score_b": b})


@reveal("number", ("neighbour_cosine", "far_cosine", "grid"))
def vit_position_similarity(get: ModelGetter) -> Reveal:
    """Mean cosine similarity of a patch's learned position embedding with its 4 neighbours (ViT paper, Fig. 7 centre).

    ``far_cosine`` is the same for patches at least half the grid apart.
    """
    entry = get("shapes")
    pos = entry.model.pos_embed
    table = (pos.detach() if isinstance(pos, torch.Tensor) else pos.weight.detach())[0, 1:].double()  # drop [CLS]
    gh, gw = entry.config.grid_size
    unit = torch.nn.functional.normalize(table, dim=-1)
    cos = (unit @ unit.T).reshape(gh, gw, gh, gw)
    near, far = [], []
    for r in range(gh):
        for c in range(gw):
            for rr in range(gh):
                for cc in range(gw):
                    d = abs(r - rr) + abs(c - cc)
                    if d == 1:
                        near.append(float(cos[r, c, rr, cc]))
                    elif max(abs(r - rr), abs(c - cc)) >= gh // 2:
                        far.append(float(cos[r, c, rr, cc]))
    neighbour = float(np.mean(near))
    return Reveal(neighbour, {"neighbour_cosine": neighbour, "far_cosine": float(np.mean(far)), "grid": f"{gh}x{gw}"})


@reveal("number", ("learned_params", "max_len", "d_model"))
def learned_position_params(get: ModelGetter) -> Reveal:
    """Parameters that learned positions would add to the dates model: a max_len x d_model table per side."""
    from dataclasses import replace

    from explorer.lab.costs import count_params

    config = get("dates").config
    extra = count_params(replace(config, positions="learned")) - count_params(replace(config, positions="sinusoidal"))
    return Reveal(float(extra), {"learned_params": extra, "max_len": config.max_len, "d_model": config.d_model})


# ----------------------------------------------------------------------------- the ViT and rollout
def _shape_sample(get: ModelGetter, shape: str, seed: int) -> tuple[Any, Any, np.ndarray]:
    from explorer.analysis.distance import run_vit
    from explorer.tasks.shapes import CLASSES, sample_with_box

    if shape not in CLASSES:
        raise ValueError(f"shape must be one of {', '.join(CLASSES)}")
    entry = get("shapes")
    image, box = sample_with_box(shape, seed)
    tensor = entry.preprocess(image)
    return entry, run_vit(entry.model, tensor, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)), box


@reveal("choice", ("predicted", "probability"), ("circle", "square", "triangle", "star", "cross", "heart", "ring", "arrow"))
def vit_prediction(get: ModelGetter, shape: str = "star", seed: int = 0) -> Reveal:
    """What the ViT predicts for the generated sample (the ViT page's sample picker, same seed)."""
    entry, run, _ = _shape_sample(get, shape, seed)
    best = int(np.argmax(run.probabilities))
    rows = sorted(({"class": c, "probability": float(p)} for c, p in zip(entry.classes, run.probabilities)),
                  key=lambda r: -r["probability"])[:3]
    return Reveal(entry.classes[best], {"predicted": entry.classes[best], "probability": 100 * float(run.probabilities[best])}, rows)


@reveal("number", ("ratio", "box_share", "raw_share"))
def rollout_on_object(get: ModelGetter, shape: str = "star", seed: int = 0) -> Reveal:
    """Attention rollout (Abnar & Zuidema 2020) of [CLS] on the object's box, as a multiple of the box's area share."""
    from explorer.analysis.rollout import box_mass_ratio, box_patch_mask, cls_rollout_map

    entry, run, box = _shape_sample(get, shape, seed)
    maps = cls_rollout_map([torch.from_numpy(a[None]) for a in run.attention])
    ratio = float(box_mass_ratio(maps, torch.as_tensor(box)[None], run.image_size)[0])
    mask = box_patch_mask(torch.as_tensor(box)[None], run.grid, run.image_size)[0]
    share = float((maps[0] / maps[0].sum())[mask].sum())
    x0, y0, x1, y1 = (float(v) for v in box)
    return Reveal(ratio, {"ratio": ratio, "box_share": 100 * (x1 - x0) * (y1 - y0) / run.image_size**2, "raw_share": 100 * share})


@reveal("choice", ("first_layer_px", "last_layer_px", "uniform_px"), ("nearer", "farther", "about the same"))
def vit_attention_distance(get: ModelGetter, shape: str = "star", seed: int = 0) -> Reveal:
    """Mean attention distance (ViT paper, Fig. 7 right) of layer 0's heads compared with the last layer's."""
    from explorer.analysis.distance import mean_attention_distance, uniform_attention_distance

    _, run, _ = _shape_sample(get, shape, seed)
    dist = mean_attention_distance(run.attention, run.grid, run.patch_size)  # (L, H)
    first, last = float(dist[0].mean()), float(dist[-1].mean())
    answer = "about the same" if abs(first - last) < 0.1 * max(first, last) else ("nearer" if first < last else "farther")
    return Reveal(answer, {"first_layer_px": first, "last_layer_px": last,
                           "uniform_px": uniform_attention_distance(run.grid, run.patch_size)},
                  [{"layer": i, "mean distance (px)": round(float(d.mean()), 2)} for i, d in enumerate(dist)])


# ----------------------------------------------------------------------------- what costs time
@reveal("number", ("score_factor", "total_factor", "short", "long"))
def quadratic_growth(get: ModelGetter, short: int = 256, long: int = 512) -> Reveal:
    """Factor by which attention's score FLOPs grow when source and target lengths go from ``short`` to ``long``."""
    from dataclasses import replace

    from explorer.lab.costs import forward_flops

    if not 1 <= short < long <= 8192:
        raise ValueError("need 1 <= short < long <= 8192")
    config = replace(get("dates").config, max_len=long)
    a, b = forward_flops(config, short, short), forward_flops(config, long, long)
    factor = b.attention_scores / a.attention_scores
    return Reveal(factor, {"score_factor": factor, "total_factor": b.total / a.total, "short": short, "long": long})


@reveal("number", ("crossover", "d_model", "d_ff"))
def quadratic_crossover(get: ModelGetter) -> Reveal:
    """Sequence length (source = target) from which attention scores cost more FLOPs than everything else."""
    from dataclasses import replace

    from explorer.lab.costs import forward_flops

    config = replace(get("dates").config, max_len=8192)
    n = 1
    while n < 8192:
        f = forward_flops(config, n, n)
        if f.attention_scores >= f.total - f.attention_scores:
            break
        n += 1
    return Reveal(float(n), {"crossover": n, "d_model": config.d_model, "d_ff": config.d_ff})


@reveal("number", ("mha_bytes", "mqa_bytes", "heads", "layers"))
def kv_cache_per_token(get: ModelGetter) -> Reveal:
    """Bytes of self-attention KV cache per generated token for the dates decoder (float32), and with multi-query."""
    from dataclasses import replace

    from explorer.lab.costs import kv_cache_bytes

    config = get("dates").config
    mha = kv_cache_bytes(config).self_per_token
    mqa = kv_cache_bytes(replace(config, n_kv_heads=1)).self_per_token
    return Reveal(float(mha), {"mha_bytes": mha, "mqa_bytes": mqa, "heads": config.n_heads, "layers": config.n_decoder_layers})


@reveal("number", ("ratio", "flops_first", "flops_last", "steps"))
def no_cache_cost(get: ModelGetter, steps: int = 10) -> Reveal:
    """Without a KV cache each step re-runs the decoder on the whole prefix: FLOPs of the last step over the first."""
    from explorer.lab.costs import forward_flops

    config = get("dates").config
    if not 2 <= steps < config.max_len:
        raise ValueError(f"steps must be between 2 and {config.max_len - 1}")
    src = 26

    def decoder(t: int) -> int:
        f = forward_flops(config, src, t)
        return f.decoder + f.generator

    ratio = decoder(steps) / decoder(1)
    return Reveal(ratio, {"ratio": ratio, "flops_first": decoder(1), "flops_last": decoder(steps), "steps": steps})


def format_values(values: dict[str, Any]) -> dict[str, Any]:
    """Floats rounded for display when the text gives no format spec (``{x}`` shows 3 significant digits)."""
    return {k: (_Num(v) if isinstance(v, float) and math.isfinite(v) else v) for k, v in values.items()}


class _Num(float):
    """A float whose plain ``{}`` formatting is 3 significant digits; explicit specs work as usual."""

    def __format__(self, spec: str) -> str:
        return float.__format__(self, spec or ".3g")
