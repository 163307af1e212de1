"""Run and record a translation, for the Marian translators and the dates model alike.

One record, whichever model: the source pieces as the model reads them, greedy decoding step by
step with the top-k alternatives at each step, and every attention map as numpy arrays
(layers, heads, queries, keys) by kind. Marian records "encoder_self" and "decoder_cross" only:
its decoder replaces masked self-attention with an SSRU (Kim et al. 2019, Section 3.2), so it
has no decoder self-attention to show; the dates model (Vaswani et al. 2017's exact layout)
records all three kinds.

Row ``i`` of a decoder map is the step that produced ``output_pieces[i]``; the last output piece
is ``</s>`` when decoding finished. Pieces keep SentencePiece's word-boundary mark "▁" (U+2581),
so the viewer sees where words start exactly as the model does.

The dates model knows only its training formats and years: :func:`dates_coverage` lists them
(from ``explorer.tasks.dates``) and :func:`read_as_trained_date` says whether the reference
parser reads a text as one of them, so a page can warn before showing a confident made-up date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from explorer.tasks import dates as dates_task

MARIAN_MODELS = {"marian-en-pt": "English -> Portuguese", "marian-pt-en": "Portuguese -> English"}
SSRU_NOTE = (
    "Mozilla's tiny Marian has no decoder self-attention: for speed its decoder replaces masked "
    "self-attention with an SSRU, a recurrent cell that carries one running summary of the words "
    "produced so far (Kim et al. 2019). There is no map to show here; the dates model has all three "
    "kinds of attention."
)


@dataclass(frozen=True)
class Step:
    """One decoding step: the piece chosen, its probability, and the top-k (piece, probability)."""

    piece: str
    token_id: int
    probability: float
    top_k: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class TranslationRecord:
    """Everything one translation showed, as plain data (picklable, cacheable, read-only by convention)."""

    model: str  # "marian-en-pt" | "marian-pt-en" | "dates"
    source_text: str
    source_ids: tuple[int, ...]
    source_pieces: tuple[str, ...]
    output_text: str
    output_ids: tuple[int, ...]  # includes the end token when finished
    output_pieces: tuple[str, ...]
    finished: bool
    steps: tuple[Step, ...]
    attention: dict[str, np.ndarray]  # kind -> (L, H, Tq, Tk) float32
    decoder_input_pieces: tuple[str, ...] = ()  # queries of decoder self-attention (dates only)
    # kind -> per layer (query input (Tq, D), key/value input (Tk, D)): for Eq. 1 step by step
    attention_inputs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # kind -> why it is missing

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.attention)

    def query_pieces(self, kind: str) -> tuple[str, ...]:
        return self.source_pieces if kind == "encoder_self" else self.output_pieces

    def key_pieces(self, kind: str) -> tuple[str, ...]:
        if kind == "decoder_self":
            return self.decoder_input_pieces
        return self.source_pieces


def run_marian(name: str, model: object, tokenizer: object, text: str, src_ids: list[int], top_k: int = 5, use_shortlist: bool = False) -> TranslationRecord:
    """Greedy translation of already-checked ``src_ids`` (``explorer.inputs.translation.check_sentence``).

    One encoder pass, then one cached decoder step per output piece (``MarianModel.greedy``);
    the maps come from those very steps, so nothing is recomputed for display.
    """
    result = model.greedy(list(src_ids), top_k=max(1, top_k), return_attention=True, use_shortlist=use_shortlist)  # type: ignore[attr-defined]
    output_ids = list(result.ids) + ([int(tokenizer.eos_id)] if result.finished else [])  # type: ignore[attr-defined]
    pieces = tokenizer.pieces  # type: ignore[attr-defined]
    steps = []
    for token_id, alternatives in zip(output_ids, result.top_k, strict=True):
        probability = dict(alternatives).get(token_id, 0.0)
        shown = tuple((pieces([i])[0], p) for i, p in alternatives[:top_k])
        steps.append(Step(pieces([token_id])[0], token_id, float(probability), shown))
    attention = {kind: np.concatenate(maps, axis=0).astype(np.float32) for kind, maps in result.attention.items()}
    return TranslationRecord(
        model=name,
        source_text=text,
        source_ids=tuple(int(i) for i in src_ids),
        source_pieces=tuple(pieces(list(src_ids))),
        output_text=tokenizer.decode(result.ids),  # type: ignore[attr-defined]
        output_ids=tuple(output_ids),
        output_pieces=tuple(pieces(output_ids)),
        finished=bool(result.finished),
        steps=tuple(steps),
        attention=attention,
        attention_inputs=dict(result.attention_inputs or {}),
        notes={"decoder_self": SSRU_NOTE},
    )


def run_dates(model: object, tokenizer: object, text: str, top_k: int = 5) -> TranslationRecord:
    """The dates model through the page's existing recorder (``analysis.stepwise.translate_and_record``)."""
    from explorer.analysis.stepwise import translate_and_record  # torch only when running

    run = translate_and_record(model, tokenizer, text, top_k=max(1, top_k))  # type: ignore[arg-type]
    result = run.decode
    steps = tuple(
        Step(s.token, s.token_id, float(s.probability), tuple((t, float(p)) for t, p in s.top_k[:top_k]))
        for s in result.steps  # type: ignore[attr-defined]
    )
    return TranslationRecord(
        model="dates",
        source_text=result.source_text,  # type: ignore[attr-defined]
        source_ids=tuple(result.source_ids),  # type: ignore[attr-defined]
        source_pieces=tuple(result.source_tokens),  # type: ignore[attr-defined]
        output_text=result.text,  # type: ignore[attr-defined]
        output_ids=tuple(result.target_ids),  # type: ignore[attr-defined]
        output_pieces=tuple(result.output_tokens),  # type: ignore[attr-defined]
        finished=bool(result.finished),  # type: ignore[attr-defined]
        steps=steps,
        attention={kind: maps.astype(np.float32) for kind, maps in run.attention.maps.items()},
        decoder_input_pieces=tuple(result.decoder_input_tokens),  # type: ignore[attr-defined]
        attention_inputs=dict(run.attention.inputs),
    )


# ----- what the dates model knows -------------------------------------------------------------
@dataclass(frozen=True)
class DatesCoverage:
    """The formats (name, example for 26 Nov 2026, field order) and the years the model was trained on."""

    formats: tuple[tuple[str, str, str], ...]
    year_min: int
    year_max: int
    numeric_rules: str


def dates_coverage() -> DatesCoverage:
    """Read from ``explorer.tasks.dates``, the generator the checkpoint was trained with."""
    formats = tuple((name, example, order) for name, (example, order) in dates_task.FORMAT_INFO.items())
    rules = (
        "Numbers only: year first is year-month-day; year last with dots or dashes is day.month.year; "
        "year last with slashes is month/day/year (US), so 31/12/1999 is not a date to it and 01/02/2000 is 2 January."
    )
    return DatesCoverage(formats, dates_task.YEAR_MIN, dates_task.YEAR_MAX, rules)


@dataclass(frozen=True)
class DateReading:
    """Whether the reference parser reads a text as one of the trained formats, and what it reads."""

    known: bool
    iso: str | None
    reason: str  # one line: what was read, or why it is outside what the model knows


def read_as_trained_date(text: str) -> DateReading:
    """Read ``text`` with the dates task's reference parser and check the year range.

    ``known`` False means the model's output is a guess by a model that only knows these dates.
    """
    try:
        parsed: date = dates_task.parse(text)
    except ValueError:
        return DateReading(False, None, "not one of the trained date formats")
    iso = parsed.isoformat()
    if not dates_task.YEAR_MIN <= parsed.year <= dates_task.YEAR_MAX:
        return DateReading(False, iso, f"year {parsed.year} is outside the trained range {dates_task.YEAR_MIN}-{dates_task.YEAR_MAX}")
    return DateReading(True, iso, f"read as {iso}")
