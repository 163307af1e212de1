"""Date normalisation: human-written dates in many formats -> ISO 8601 "YYYY-MM-DD".

Why this task: translating "Thursday 26 November 2026" into "2026-11-26" is a tiny
sequence-to-sequence problem whose correct *alignment* is known in advance. Each output
character comes from one field of the source (year, month or day), so the decoder's
cross-attention (Vaswani et al. 2017, Section 3.2.3, "encoder-decoder attention") can be
checked against the truth: every example carries the character spans of its fields.

Formats and how numeric forms are read (the generator only makes unambiguous strings):

* Word forms name the month, so order is never in doubt: "26 Nov 2026", "November 26, 2026",
  "Thursday 26 November 2026", "26th of November 2026", "Thu, Nov 26, 2026", "26-Nov-2026" ...
* Numeric forms follow one fixed rule per separator, documented here and used by :func:`parse`:
    - year first (``2026-11-26``, ``2026/11/26``, ``20261126``): year, month, day (ISO order);
    - year last with dots or dashes (``26.11.2026``, ``26-11-2026``): day, month, year (European);
    - year last with slashes (``11/26/2026``): month, day, year (US).
  A British "26/11/2026" is therefore *not* produced; under the rules it would be read US-style.
* Noise applied on top of any format (``noise=True``): upper/lower/mixed case and odd
  spacing (doubled spaces, leading/trailing spaces, no space after a comma).

Years run from 1950 to 2079. Dates are split into train and held-out *by calendar date*
(:func:`is_heldout`), so a held-out date is never seen in training in any format.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta

YEAR_MIN = 1950
YEAR_MAX = 2079
_FIRST = date(YEAR_MIN, 1, 1)
_N_DAYS = (date(YEAR_MAX, 12, 31) - _FIRST).days + 1

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
MONTHS_SHORT = tuple(m[:3] for m in MONTHS)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS_SHORT = tuple(w[:3] for w in WEEKDAYS)

FIELDS = ("year", "month", "day")
SPLITS = ("all", "train", "heldout")
HELDOUT_SHARE = 10  # one calendar date in 10 is held out

# name -> (example for 2026-11-26, order of the fields as written)
FORMAT_INFO: dict[str, tuple[str, str]] = {
    "d_mon_y": ("26 Nov 2026", "DMY"),
    "d_month_y": ("26 November 2026", "DMY"),
    "d-mon-y": ("26-Nov-2026", "DMY"),
    "month_d_y": ("November 26, 2026", "MDY"),
    "mon_d_y": ("Nov 26, 2026", "MDY"),
    "weekday_d_month_y": ("Thursday 26 November 2026", "DMY"),
    "wkd_d_mon_y": ("Thu 26 Nov 2026", "DMY"),
    "wkd_mon_d_y": ("Thu, Nov 26, 2026", "MDY"),
    "dth_of_month_y": ("26th of November 2026", "DMY"),
    "month_dth_y": ("November 26th, 2026", "MDY"),
    "weekday_the_dth_of_month_y": ("Thursday, the 26th of November, 2026", "DMY"),
    "dd.mm.yyyy": ("26.11.2026", "DMY"),
    "dd-mm-yyyy": ("26-11-2026", "DMY"),
    "mm/dd/yyyy": ("11/26/2026", "MDY"),
    "yyyy/mm/dd": ("2026/11/26", "YMD"),
    "yyyy-mm-dd": ("2026-11-26", "YMD"),
    "yyyymmdd": ("20261126", "YMD"),
}
FORMATS: tuple[str, ...] = tuple(FORMAT_INFO)

Piece = tuple[str, str | None]  # (text, field name or None for separators/weekday)


@dataclass(frozen=True)
class DateExample:
    """One source string, its ISO target, the format it came from and its field spans.

    ``spans[field] = (start, end)`` indexes ``text[start:end]`` (end exclusive). The day span
    includes an ordinal suffix ("26th"), since that is how the day is written.
    """

    text: str
    iso: str
    format: str
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)


def ordinal(day: int) -> str:
    """'1st', '2nd', '3rd', '4th', ..., '11th', '12th', '13th', '21st', ..."""
    if 10 <= day % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def is_heldout(d: date) -> bool:
    """True for the ~10% of calendar dates reserved for evaluation (stable hash, not random state)."""
    return zlib.crc32(d.isoformat().encode()) % HELDOUT_SHARE == 0


def _day_text(d: date, rng: random.Random, pad_prob: float) -> str:
    return f"{d.day:02d}" if d.day < 10 and rng.random() < pad_prob else str(d.day)


def _month_num(d: date, rng: random.Random, pad_prob: float) -> str:
    return f"{d.month:02d}" if d.month < 10 and rng.random() < pad_prob else str(d.month)


def _pieces(d: date, fmt: str, rng: random.Random) -> list[Piece]:
    """The source string as a list of (text, field) pieces, so spans survive any later noise."""
    year: Piece = (str(d.year), "year")
    month_long: Piece = (MONTHS[d.month - 1], "month")
    month_short: Piece = (MONTHS_SHORT[d.month - 1], "month")
    weekday_long: Piece = (WEEKDAYS[d.weekday()], None)
    weekday_short: Piece = (WEEKDAYS_SHORT[d.weekday()], None)
    day: Piece = (_day_text(d, rng, 0.15), "day")
    day_ord: Piece = (ordinal(d.day), "day")
    sp: Piece = (" ", None)
    comma: Piece = (", ", None)
    if fmt == "d_mon_y":
        return [day, sp, month_short, sp, year]
    if fmt == "d_month_y":
        return [day, sp, month_long, sp, year]
    if fmt == "d-mon-y":
        return [(f"{d.day:02d}", "day"), ("-", None), month_short, ("-", None), year]
    if fmt == "month_d_y":
        return [month_long, sp, day, comma, year]
    if fmt == "mon_d_y":
        return [month_short, sp, day, comma, year]
    if fmt == "weekday_d_month_y":
        return [weekday_long, sp, day, sp, month_long, sp, year]
    if fmt == "wkd_d_mon_y":
        return [weekday_short, sp, day, sp, month_short, sp, year]
    if fmt == "wkd_mon_d_y":
        return [weekday_short, comma, month_short, sp, day, comma, year]
    if fmt == "dth_of_month_y":
        return [day_ord, (" of ", None), month_long, sp, year]
    if fmt == "month_dth_y":
        return [month_long, sp, day_ord, comma, year]
    if fmt == "weekday_the_dth_of_month_y":
        return [weekday_long, (", the ", None), day_ord, (" of ", None), month_long, comma, year]
    if fmt in ("dd.mm.yyyy", "dd-mm-yyyy"):
        sep: Piece = (fmt[2], None)
        return [(_day_text(d, rng, 0.6), "day"), sep, (_month_num(d, rng, 0.6), "month"), sep, year]
    if fmt == "mm/dd/yyyy":
        return [(_month_num(d, rng, 0.6), "month"), ("/", None), (_day_text(d, rng, 0.6), "day"), ("/", None), year]
    if fmt == "yyyy/mm/dd":
        return [year, ("/", None), (_month_num(d, rng, 0.7), "month"), ("/", None), (_day_text(d, rng, 0.7), "day")]
    if fmt == "yyyy-mm-dd":
        return [year, ("-", None), (f"{d.month:02d}", "month"), ("-", None), (f"{d.day:02d}", "day")]
    if fmt == "yyyymmdd":
        return [year, (f"{d.month:02d}", "month"), (f"{d.day:02d}", "day")]
    raise ValueError(f"unknown date format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _respace(piece: str, rng: random.Random) -> str:
    """Odd spacing inside a separator: doubled spaces, or no space after a comma."""
    if piece.startswith(",") and rng.random() < 0.3:
        piece = piece.replace(", ", ",", 1)
    return re.sub(" ", lambda _: " " * rng.choice((1, 1, 2, 3)), piece)


def _case(text: str, style: str, rng: random.Random) -> str:
    if style == "lower":
        return text.lower()
    if style == "upper":
        return text.upper()
    if style == "random":
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)
    return text


def _assemble(pieces: list[Piece], fmt: str, iso: str, rng: random.Random | None) -> DateExample:
    """Join pieces into the text, applying noise (if ``rng``) and recording each field's span."""
    style = "as-is"
    lead = trail = ""
    spaced = False
    if rng is not None:
        style = rng.choices(("as-is", "lower", "upper", "random"), weights=(0.5, 0.25, 0.15, 0.1))[0]
        spaced = rng.random() < 0.3
        if rng.random() < 0.1:
            lead = " " * rng.randint(1, 2)
        if rng.random() < 0.1:
            trail = " " * rng.randint(1, 2)
    parts: list[str] = [lead]
    spans: dict[str, tuple[int, int]] = {}
    pos = len(lead)
    for text, name in pieces:
        if rng is not None:
            if name is None and spaced:
                text = _respace(text, rng)
            text = _case(text, style, rng)
        if name is not None:
            spans[name] = (pos, pos + len(text))
        parts.append(text)
        pos += len(text)
    parts.append(trail)
    return DateExample("".join(parts), iso, fmt, spans)


def render(d: date, fmt: str, rng: random.Random | None = None, noise: bool = True) -> DateExample:
    """Write date ``d`` in format ``fmt``; ``rng`` drives optional choices (zero padding) and noise.

    Without an ``rng`` the output is the canonical clean form (as in :data:`FORMAT_INFO`).
    """
    if not YEAR_MIN <= d.year <= YEAR_MAX:
        raise ValueError(f"year {d.year} is outside the task's range {YEAR_MIN}-{YEAR_MAX}")
    choice_rng = rng if rng is not None else _NoPadRandom()
    pieces = _pieces(d, fmt, choice_rng)
    return _assemble(pieces, fmt, d.isoformat(), rng if noise else None)


class _NoPadRandom(random.Random):
    """A Random whose ``random()`` is always 0.99, so optional zero padding is off (canonical form)."""

    def random(self) -> float:
        return 0.99


def random_date(rng: random.Random, split: str = "all") -> date:
    """A uniformly random calendar date in range; ``split`` keeps only train or held-out dates."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    while True:
        d = _FIRST + timedelta(days=rng.randrange(_N_DAYS))
        if split == "all" or is_heldout(d) == (split == "heldout"):
            return d


def generate_examples(
    n: int,
    seed: int,
    formats: list[str] | tuple[str, ...] | None = None,
    split: str = "all",
    noise: bool = True,
) -> list[DateExample]:
    """``n`` seeded examples with spans; formats cycle in a shuffled round-robin so all are covered."""
    chosen = tuple(formats) if formats else FORMATS
    for fmt in chosen:
        if fmt not in FORMAT_INFO:
            raise ValueError(f"unknown date format {fmt!r}; choose from {', '.join(FORMATS)}")
    rng = random.Random(seed)
    examples: list[DateExample] = []
    order: list[str] = []
    for _ in range(n):
        if not order:
            order = list(chosen)
            rng.shuffle(order)
        examples.append(render(random_date(rng, split), order.pop(), rng, noise))
    return examples


def generate(
    n: int,
    seed: int,
    formats: list[str] | tuple[str, ...] | None = None,
    split: str = "all",
    noise: bool = True,
) -> list[tuple[str, str]]:
    """``n`` seeded (source text, ISO date) pairs; same seed, same list."""
    return [(ex.text, ex.iso) for ex in generate_examples(n, seed, formats, split, noise)]


# ---------------------------------------------------------------------------------------------
# An independent reference parser: tests use it to check that every generated string means the
# date it is labelled with (the generator and the parser are written separately on purpose).

_MONTH_BY_NAME = {m.lower(): i + 1 for i, m in enumerate(MONTHS)} | {m.lower(): i + 1 for i, m in enumerate(MONTHS_SHORT)}
_WEEKDAY_BY_NAME = {w.lower(): i for i, w in enumerate(WEEKDAYS)} | {w.lower(): i for i, w in enumerate(WEEKDAYS_SHORT)}
_MONTH_RE = "(" + "|".join(sorted(_MONTH_BY_NAME, key=len, reverse=True)) + ")"
_WEEKDAY_RE = "(?:(" + "|".join(sorted(_WEEKDAY_BY_NAME, key=len, reverse=True)) + r")\s*,?\s*)?"
_NUMERIC = (
    (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), "YMD"),
    (re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"), "YMD"),
    (re.compile(r"(\d{4})(\d{2})(\d{2})"), "YMD"),
    (re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})"), "DMY"),
    (re.compile(r"(\d{1,2})-(\d{1,2})-(\d{4})"), "DMY"),
    (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})"), "MDY"),
)
_DAY_RE = r"(\d{1,2})(st|nd|rd|th)?"
_WORDY = (
    (re.compile(_WEEKDAY_RE + r"(?:the\s+)?" + _DAY_RE + r"\s+(?:of\s+)?" + _MONTH_RE + r"\s*,?\s*(\d{4})"), "DMY"),
    (re.compile(_WEEKDAY_RE + r"(\d{1,2})()-" + _MONTH_RE + r"-(\d{4})"), "DMY"),
    (re.compile(_WEEKDAY_RE + _MONTH_RE + r"\s+" + _DAY_RE + r"\s*,?\s*(\d{4})"), "MDY"),
)


def parse(text: str) -> date:
    """Read a date written in any generated format (case and spacing ignored); ValueError otherwise.

    Checks what a careful reader would: a weekday, if given, must match the date, and an
    ordinal suffix must be the right one ("26th", not "26st").
    """
    clean = " ".join(text.strip().lower().split())
    for pattern, order in _NUMERIC:
        m = pattern.fullmatch(clean)
        if m:
            parts = dict(zip(order, (int(g) for g in m.groups())))
            return date(parts["Y"], parts["M"], parts["D"])
    for pattern, order in _WORDY:
        m = pattern.fullmatch(clean)
        if not m:
            continue
        weekday = m.group(1)
        rest = m.groups()[1:]
        if order == "DMY":
            day_s, suffix, month_s, year_s = rest
        else:
            month_s, day_s, suffix, year_s = rest
        result = date(int(year_s), _MONTH_BY_NAME[month_s], int(day_s))
        if suffix and ordinal(result.day) != f"{result.day}{suffix}":
            raise ValueError(f"wrong ordinal suffix in {text!r}")
        if weekday and _WEEKDAY_BY_NAME[weekday] != result.weekday():
            raise ValueError(f"weekday does not match the date in {text!r}")
        return result
    raise ValueError(f"not a date in a known format: {text!r}")


def parse_check(text: str, iso: str) -> bool:
    """True when the reference parser reads ``text`` as the date ``iso``."""
    try:
        return parse(text).isoformat() == iso
    except ValueError:
        return False


def spans_check(example: DateExample) -> bool:
    """True when each field span holds that field's value (month by name or number, day with suffix)."""
    d = date.fromisoformat(example.iso)
    if set(example.spans) != set(FIELDS):
        return False
    year = example.text[slice(*example.spans["year"])]
    month = example.text[slice(*example.spans["month"])].lower()
    day = example.text[slice(*example.spans["day"])].lower()
    month_ok = month.isdigit() and int(month) == d.month or _MONTH_BY_NAME.get(month) == d.month
    day_digits = day[:-2] if day[-2:] in ("st", "nd", "rd", "th") else day
    return year == str(d.year) and month_ok and day_digits.isdigit() and int(day_digits) == d.day
