"""Validation of a sentence for the Marian translators (no Streamlit here).

The text can come from a text box, a shared URL or the command line, so it can be anything.
Marian's SentencePiece vocabulary covers Latin-script text; other scripts and emoji become
``<unk>`` pieces, which the model does read (and are shown), so they are warned about, not refused.

The cap: Mozilla's students were trained on sentences, and greedy decoding may produce up to 2.5
target pieces per source piece (Marian's ``max-length-factor``), so one request is held to
``MAX_TOKENS`` source pieces and ``MAX_CHARS`` characters. The page cuts longer text and says so
with both lengths; the CLI refuses it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Protocol

from explorer.inputs.text import _looks_like_markup, replace_surrogates, surrogate_notice, visible_char

MAX_CHARS = 500
MAX_TOKENS = 128  # source pieces including the closing "</s>"
_KEEP_CONTROLS = {"\t", "\n", "\r"}  # whitespace: SentencePiece reads them as spaces


class PieceTokenizer(Protocol):
    """What validation needs (``explorer.readers.marian.MarianTokenizer`` fits)."""

    unk_id: int

    def encode(self, text: str, add_eos: bool = True) -> list[int]: ...


@dataclass
class SentenceCheck:
    """The text the model will read (valid only when ``error`` is None) and one-line messages."""

    text: str
    ids: list[int] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    truncated: bool = False
    original_chars: int = 0
    original_tokens: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


def cap_message() -> str:
    return f"at most {MAX_TOKENS} pieces and {MAX_CHARS} characters"


def _drop_controls(text: str) -> tuple[str, list[str]]:
    """Remove control/format characters other than tab and newlines; returns what was removed."""
    removed: list[str] = []
    kept = []
    for ch in text:
        if ch not in _KEEP_CONTROLS and unicodedata.category(ch) in ("Cc", "Cf"):
            removed.append(ch)
        else:
            kept.append(ch)
    return "".join(kept), removed


def _cut_to_tokens(text: str, tokenizer: PieceTokenizer, limit: int) -> str:
    """The longest prefix (at a space when possible) whose pieces, with "</s>", fit ``limit``."""
    low, high = 0, len(text)
    while low < high:  # binary search on characters: piece counts grow with the prefix
        mid = (low + high + 1) // 2
        if len(tokenizer.encode(text[:mid])) <= limit:
            low = mid
        else:
            high = mid - 1
    cut = text[:low]
    space = cut.rfind(" ")
    return cut[:space] if space > low // 2 else cut


def check_sentence(raw: str | None, tokenizer: PieceTokenizer, truncate: bool = True) -> SentenceCheck:
    """Check one sentence for a Marian model.

    - empty / whitespace only -> ``error``;
    - control characters (other than tab/newline) -> removed, with a warning listing them;
    - lone surrogates -> replaced by U+FFFD (read as ``<unk>``), with a warning;
    - over ``MAX_CHARS`` characters or ``MAX_TOKENS`` pieces -> cut with both lengths said
      (``truncate=True``, the page) or ``error`` (``truncate=False``, the CLI);
    - pieces outside the vocabulary (other scripts, emoji) -> a warning: they are read as ``<unk>``;
    - markup -> an info line: plain characters, never HTML.
    """
    text = "" if raw is None else str(raw)
    check = SentenceCheck(text="", original_chars=len(text))
    if text.strip() == "":
        check.error = "The text is empty" if text == "" else "The text is only whitespace"
        check.error += ": type a sentence such as 'The cat is sleeping on the sofa.'"
        return check
    text, n_surrogates = replace_surrogates(text)
    if n_surrogates:
        check.warnings.append(surrogate_notice(n_surrogates))
    text, removed = _drop_controls(text)
    if removed:
        shown = ", ".join(dict.fromkeys(visible_char(c) for c in removed))
        check.warnings.append(f"Removed {len(removed)} control character(s) ({shown}): the translator reads plain text.")
    if text.strip() == "":
        check.error = "The text has no visible characters: type a sentence such as 'The cat is sleeping on the sofa.'"
        return check
    ids = tokenizer.encode(text)
    check.original_tokens = len(ids)
    if len(text) > MAX_CHARS or len(ids) > MAX_TOKENS:
        said = f"The text has {check.original_chars:,} characters ({len(ids):,} pieces); the translator takes {cap_message()}"
        if not truncate:
            check.error = said + ": shorten it."
            return check
        text = _cut_to_tokens(text[:MAX_CHARS], tokenizer, MAX_TOKENS)
        ids = tokenizer.encode(text)
        check.truncated = True
        check.warnings.append(f"{said}, so it was cut to the first {len(text):,} characters ({len(ids)} pieces).")
    n_unknown = sum(1 for i in ids if i == tokenizer.unk_id)
    if n_unknown:
        check.warnings.append(
            f"{n_unknown} piece(s) are not in the model's vocabulary (other scripts, emoji, rare symbols) "
            "and are read as <unk>; the translation may drop or garble them."
        )
    if _looks_like_markup(text):
        check.infos.append("The text looks like HTML or script; it is translated as plain characters and never rendered.")
    check.text = text
    check.ids = ids
    return check
