"""Validation of everything a student controls on the Transformer page (no Streamlit here).

Text arrives from a text box or from a shared URL, so it can be anything: empty, blank,
10,000 characters long, emoji, CJK, right-to-left script, control characters, a lone UTF-16
surrogate (which cannot even be encoded as UTF-8 and would crash the page's transport), or
``<script>`` tags. Each function here turns raw input into something safe to compute with,
plus one-line messages that say what was done and why. Pages show those messages with
``st.error``/``st.warning``/``st.info`` and render user text only as plain text.

Other URL query parameters (layer, head, view ...) are checked by ``explorer.inputs.params``.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from typing import Protocol

MAX_TEXT_CHARS = 5000  # text box cap. Streamlit ignores a paste longer than the cap outright (the box keeps its old text,
# no message), so the cap sits far above any real paste and check_text cuts to the model with a message.
MAX_PREFIX_CHARS = 32
TEMPERATURE_MIN = 0.0
TEMPERATURE_MAX = 5.0
_REPLACEMENT = "\ufffd"


class Tokenizer(Protocol):
    """What validation needs from a tokenizer (``explorer.tasks.tokenizer.CharTokenizer`` fits)."""

    unk_id: int

    def encode(self, text: str) -> list[int]: ...


@dataclass
class TextCheck:
    """The outcome of checking one text.

    ``text`` is what the model will read (surrogates replaced, cut to ``max_len``); it is only
    meaningful when ``error`` is None. ``warnings`` and ``infos`` are one-line messages.
    """

    text: str
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    truncated: bool = False
    original_length: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


def replace_surrogates(text: str) -> tuple[str, int]:
    """Replace lone UTF-16 surrogates (U+D800-U+DFFF) by U+FFFD; returns the text and how many."""
    count = 0
    out = []
    for ch in text:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(_REPLACEMENT)
            count += 1
        else:
            out.append(ch)
    return "".join(out), count


_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:=&")


def escape_markdown(message: str) -> str:
    """Backslash-escape every character Streamlit's markdown would act on, so a message that quotes
    user text (``st.warning``/``st.error`` render markdown) shows it literally: no links, emphasis,
    LaTeX (``$``) or HTML. CommonMark allows escaping any ASCII punctuation this way.
    """
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in message)


def surrogate_notice(count: int, what: str = "text") -> str:
    """The one-line message for ``count`` replaced lone surrogates."""
    return (
        f"The {what} contained {count} invalid character(s) (lone UTF-16 surrogates, which are not text); "
        "each was replaced by U+FFFD and is read as <unk>."
    )


def visible_char(ch: str) -> str:
    """A printable stand-in for one character: spaces as '␣', controls and invisibles as 'U+0007'."""
    if ch == " ":
        return "␣"
    if 0xD800 <= ord(ch) <= 0xDFFF:
        return f"U+{ord(ch):04X}"
    category = unicodedata.category(ch)
    if category[0] in ("C", "Z"):  # control, format, surrogate, private use, other separators
        return f"U+{ord(ch):04X}"
    return ch


def display_token(token: str) -> str:
    """A token string as it should appear on an axis or in a table (never interpreted as HTML).

    Tokenizer names like ``<s>`` or ``<unk:😀>`` keep their brackets; the character inside an
    ``<unk:…>`` and a bare character are made visible with :func:`visible_char`.
    """
    if token.startswith("<unk:") and token.endswith(">") and len(token) > 6:
        inner = token[5:-1]
        return "<unk:" + "".join(visible_char(c) for c in inner) + ">"
    if len(token) == 1:
        return visible_char(token)
    return "".join(visible_char(c) if not c.isprintable() else c for c in token)


def _looks_like_markup(text: str) -> bool:
    lowered = text.lower()
    return "<" in text and ">" in text or "&#" in lowered or "javascript:" in lowered


def check_text(
    raw: str | None,
    tokenizer: Tokenizer,
    max_len: int,
    original_length: int | None = None,
    what: str = "text",
    allow_empty: bool = False,
) -> TextCheck:
    """Check the source text (or, with ``allow_empty``, a target prefix) against the model.

    - empty / whitespace only -> ``error`` (unless ``allow_empty`` and truly empty);
    - lone surrogates -> replaced by U+FFFD (read as ``<unk>``), with a warning;
    - characters outside the vocabulary -> read as ``<unk>``, with a warning listing them;
    - longer than ``max_len`` characters -> cut, with a warning giving both lengths
      (``original_length`` reports the length before a text box's own cap, e.g. from a URL);
    - markup such as ``<script>`` -> an info line: it is plain characters here, never HTML.
    """
    text = "" if raw is None else str(raw)
    length = len(text) if original_length is None else max(int(original_length), len(text))
    check = TextCheck(text="", original_length=length)
    if text == "":
        if not allow_empty:
            check.error = f"The {what} is empty: type a date such as 'Thursday 26 November 2026'."
        return check
    if text.strip() == "":
        hint = "leave it empty or type characters" if allow_empty else "type a date such as '26 Nov 2026'"
        check.error = f"The {what} is only whitespace: {hint}."
        return check
    text, n_surrogates = replace_surrogates(text)
    if n_surrogates:
        check.warnings.append(surrogate_notice(n_surrogates, what))
    if length > max_len:
        text = text[:max_len]
        check.truncated = True
        check.warnings.append(
            f"The {what} has {length:,} characters; the model reads at most {max_len}, "
            f"so only the first {max_len} are used (the cut is marked ✂ in the tokens)."
        )
    ids = tokenizer.encode(text)
    unknown: list[str] = []
    for ch, idx in zip(text, ids):
        if idx == tokenizer.unk_id and ch not in unknown:
            unknown.append(ch)
    if unknown:
        shown = ", ".join(visible_char(c) for c in unknown[:8]) + (" …" if len(unknown) > 8 else "")
        n_unknown = sum(1 for idx in ids if idx == tokenizer.unk_id)
        check.warnings.append(
            f"{n_unknown} character(s) of the {what} ({len(unknown)} distinct) are not in the model's vocabulary "
            f"and are read as <unk>: {shown}"
        )
    if _looks_like_markup(text):
        check.infos.append(f"The {what} looks like HTML or script; it is treated as plain characters and never rendered as HTML.")
    check.text = text
    return check


def check_temperature(value: object) -> tuple[float, str | None, str | None]:
    """(temperature to use, warning, info). Temperature 0 is valid: it means greedy decoding.

    A non-number, NaN, infinity or a value outside [0, 5] falls back to 0 with a warning;
    softmax(logits / T) is undefined at T = 0, so 0 is handled as argmax, and said so.
    """
    try:
        t = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0, f"Temperature {str(value)[:20]!r} is not a number; using 0 (greedy).", None
    if not math.isfinite(t) or t < TEMPERATURE_MIN or t > TEMPERATURE_MAX:
        return 0.0, f"Temperature must be between {TEMPERATURE_MIN:g} and {TEMPERATURE_MAX:g}; using 0 (greedy).", None
    if t == 0.0:
        return 0.0, None, "Temperature 0 means greedy decoding: each step takes the most likely token (argmax), no sampling."
    return t, None, None
