"""Is the dates model's cross-attention an alignment? Measured, not assumed.

Bahdanau et al. (2015) showed attention weights as soft alignments between output and input
words; Vaswani et al. (2017, Section 3.2.3) use the same encoder-decoder attention. For
date normalisation the true alignment is known: output characters 0-3 of "YYYY-MM-DD" come
from the year field of the source, 5-6 from the month, 8-9 from the day (the dashes come from
nowhere). The metric: for each such output character, take one decoder layer's
cross-attention averaged over heads, find the source position with the largest weight, and
count a hit if it lies inside the matching field's character span. Reported per layer; the
best layer is the headline number.

The target is teacher-forced (decoder input ``<s>`` + the true ISO string), so every example
is scored on the same characters whatever the model would have generated; query row ``k``
is the position whose prediction is output character ``k``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from explorer.decoding import pad_batch
from explorer.models import Transformer
from explorer.tasks.dates import DateExample
from explorer.tasks.tokenizer import CharTokenizer

# Which source field each character of "YYYY-MM-DD" comes from (None: the dashes).
ISO_FIELDS: tuple[str | None, ...] = ("year",) * 4 + (None,) + ("month",) * 2 + (None,) + ("day",) * 2


@dataclass
class AlignmentReport:
    """Share of aligned output characters per decoder layer, the best layer, and its per-field shares."""

    per_layer: list[float]
    best_layer: int
    best: float
    per_field: dict[str, float] = field(default_factory=dict)
    n_chars: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "per_layer": [round(v, 4) for v in self.per_layer],
            "best_layer": self.best_layer,
            "best": round(self.best, 4),
            "per_field": {k: round(v, 4) for k, v in self.per_field.items()},
            "n_chars": self.n_chars,
        }


def field_hits(cross: torch.Tensor, spans: dict[str, tuple[int, int]]) -> list[tuple[str, bool]]:
    """For one example: ``cross`` (queries >= 10, source keys), heads already averaged.

    Returns (field, hit) for each year/month/day output character, in output order.
    """
    peaks = cross[: len(ISO_FIELDS)].argmax(dim=-1).tolist()
    hits: list[tuple[str, bool]] = []
    for peak, name in zip(peaks, ISO_FIELDS):
        if name is not None:
            start, end = spans[name]
            hits.append((name, start <= peak < end))
    return hits


def cross_attention_batch(
    model: Transformer, tokenizer: CharTokenizer, examples: Sequence[DateExample]
) -> list[torch.Tensor]:
    """Teacher-forced decoder cross-attention per layer, heads averaged: list of (B, T_tgt, T_src)."""
    src, src_mask = pad_batch([tokenizer.encode(ex.text) for ex in examples], tokenizer.pad_id)
    tgt, tgt_mask = pad_batch([[tokenizer.bos_id] + tokenizer.encode(ex.iso) for ex in examples], tokenizer.pad_id)
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model(src.to(device), tgt.to(device), src_mask.to(device), tgt_mask.to(device), return_attention=True)
    assert out.attention is not None
    return [layer.mean(dim=1).float().cpu() for layer in out.attention["decoder_cross"]]


def alignment_report(
    model: Transformer, tokenizer: CharTokenizer, examples: Sequence[DateExample], batch_size: int = 256
) -> AlignmentReport:
    """Alignment share per decoder layer over ``examples`` (the model is not modified).

    A model in training mode is scored on an eval-mode copy so dropout cannot blur the maps.
    """
    if not examples:
        raise ValueError("alignment needs at least one example")
    if model.training:
        import copy

        model = copy.deepcopy(model).eval()
    n_layers = model.config.n_decoder_layers
    hits = [0] * n_layers
    field_hits_count = [{name: [0, 0] for name in ("year", "month", "day")} for _ in range(n_layers)]
    total = 0
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        layers = cross_attention_batch(model, tokenizer, chunk)
        for layer_idx, cross in enumerate(layers):
            for row, ex in enumerate(chunk):
                for name, hit in field_hits(cross[row], ex.spans):
                    hits[layer_idx] += hit
                    field_hits_count[layer_idx][name][0] += hit
                    field_hits_count[layer_idx][name][1] += 1
        total += sum(1 for name in ISO_FIELDS if name is not None) * len(chunk)
    per_layer = [h / total for h in hits]
    best_layer = max(range(n_layers), key=lambda i: per_layer[i])
    per_field = {name: h / n for name, (h, n) in field_hits_count[best_layer].items()}
    return AlignmentReport(per_layer, best_layer, per_layer[best_layer], per_field, total)


# ----- word alignment from a translator's cross-attention --------------------------------------
# Bahdanau et al. (2015, Section 5.2.2) read attention weights as soft word alignments. A
# SentencePiece model reads pieces, not words: "▁" (U+2581) starts a word, other pieces continue
# it. Merging pieces back into words (mean over a word's pieces on both axes) gives a grid a
# reader can check against a dictionary.

WORD_START = "\u2581"
SPECIAL_PIECES = frozenset({"</s>", "<s>", "<pad>"})


@dataclass(frozen=True)
class Word:
    """A word and the piece positions it was read from."""

    text: str
    pieces: tuple[int, ...]


@dataclass(frozen=True)
class WordAlignment:
    """Cross-attention between words: ``grid`` (target words, source words), rows summing to <= 1."""

    source: tuple[Word, ...]
    target: tuple[Word, ...]
    grid: np.ndarray
    layer: int
    head: int | None  # None: mean over heads
    pairs: tuple[tuple[str, str, float], ...]  # (target word, strongest source word, its weight)


def _is_punctuation(piece: str) -> bool:
    body = piece.lstrip(WORD_START)
    return bool(body) and all(not ch.isalnum() for ch in body)


def words_from_pieces(pieces: Sequence[str], merge: bool = True) -> tuple[Word, ...]:
    """Group SentencePiece pieces into words; special pieces (``</s>``) are left out.

    A word starts at a piece beginning with "▁". Trailing punctuation ("sofa" + ".") is its own
    word so a full stop aligns with a full stop; punctuation inside a word ("didn" "'" "t") is
    not split off. ``merge=False`` keeps every piece as its own "word".
    """
    words: list[tuple[str, list[int]]] = []
    for i, piece in enumerate(pieces):
        if piece in SPECIAL_PIECES:
            continue
        nxt = pieces[i + 1] if i + 1 < len(pieces) else None
        trailing = _is_punctuation(piece) and (nxt is None or nxt in SPECIAL_PIECES or nxt.startswith(WORD_START))
        starts = not merge or not words or piece.startswith(WORD_START) or trailing or _is_punctuation(words[-1][0])
        text = piece.replace(WORD_START, "")
        if starts:
            words.append((text, [i]))
        else:
            words[-1] = (words[-1][0] + text, words[-1][1] + [i])
    return tuple(Word(text or WORD_START, tuple(idx)) for text, idx in words)


def merge_grid(weights: np.ndarray, target: Sequence[Word], source: Sequence[Word]) -> np.ndarray:
    """Mean of a (Tq, Tk) piece grid over each word's pieces, on both axes -> (words_t, words_s)."""
    rows = np.stack([weights[list(w.pieces)].mean(axis=0) for w in target]) if target else np.zeros((0, weights.shape[1]))
    return np.stack([rows[:, list(w.pieces)].mean(axis=1) for w in source], axis=1) if source else np.zeros((len(target), 0))


def word_alignment(
    cross: np.ndarray,
    source_pieces: Sequence[str],
    target_pieces: Sequence[str],
    layer: int,
    head: int | None = None,
    merge: bool = True,
) -> WordAlignment:
    """Word grid and strongest source word per target word from cross-attention (L, H, Tq, Tk).

    ``head`` None averages the heads (said in the caption by the caller).
    """
    if not 0 <= layer < cross.shape[0]:
        raise ValueError(f"layer {layer} is out of range 0..{cross.shape[0] - 1}")
    if head is not None and not 0 <= head < cross.shape[1]:
        raise ValueError(f"head {head} is out of range 0..{cross.shape[1] - 1}")
    weights = cross[layer].mean(axis=0) if head is None else cross[layer, head]
    target = words_from_pieces(target_pieces[: weights.shape[0]], merge)
    source = words_from_pieces(source_pieces[: weights.shape[1]], merge)
    grid = merge_grid(weights, target, source)
    pairs = tuple(
        (t.text, source[int(row.argmax())].text, float(row.max())) for t, row in zip(target, grid, strict=True)
    ) if source else ()
    return WordAlignment(source, target, grid, layer, head, pairs)


def translator_alignment_layer(n_decoder_layers: int) -> int:
    """The decoder layer whose cross-attention the alignment view shows: the last one.

    Why: each decoder layer's query at step t is built from the piece emitted at step t-1, and in
    Mozilla's 2-layer students layer 0 looks at the source word of that *previous* output
    ("gato" -> "The", "dormindo" -> "is"), while the last layer looks at the word being
    translated ("gato" -> "cat"): measured on the pairs in tests/unit/test_translation_runs.py.
    It is also the layer Marian supervises when trained with guided alignment
    (``transformer-guided-alignment-layer: last`` in the models' own config).
    """
    if n_decoder_layers < 1:
        raise ValueError("a translator has at least one decoder layer")
    return n_decoder_layers - 1
