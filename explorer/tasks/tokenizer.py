"""A character-level tokenizer: one token per character, plus four special tokens.

Vaswani et al. 2017 use learned embeddings of (sub-word) tokens (Section 3.4); for dates,
characters are the natural unit, and they make attention maps easy to read because every
source cell is one visible character.

Special ids are fixed: ``<pad>`` = 0 (padding, ignored by attention and the loss), ``<s>`` = 1
(start: the decoder's first input), ``</s>`` = 2 (end: the decoder says it is done),
``<unk>`` = 3 (any character outside the vocabulary).

Case: the dates vocabulary holds lower-case letters only, and a character that is missing
from the vocabulary but whose lower-case form is present is *folded* to lower case. So
"NOV", "Nov" and "nov" are the same three tokens, which makes the model case-insensitive
by construction (it never has to learn that "N" and "n" mean the same) and halves the
letters it must learn; ``tokens()`` shows the folded characters, i.e. what the model sees.
A vocabulary that contains upper-case letters keeps case (folding only applies to misses).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS: tuple[str, ...] = (PAD, BOS, EOS, UNK)

# Everything the dates task writes, after case folding, plus the rest of the alphabet so a
# typo like "Noveber" or "Octobre" still maps to letters rather than <unk>.
DATES_CHARS: str = " ,-./" + string.digits + string.ascii_lowercase


class CharTokenizer:
    """Maps text to character ids and back; specials occupy ids 0-3."""

    pad_id = 0
    bos_id = 1
    eos_id = 2
    unk_id = 3

    def __init__(self, chars: Iterable[str] = DATES_CHARS) -> None:
        seen: list[str] = []
        for ch in chars:
            if len(ch) != 1:
                raise ValueError(f"vocabulary entries must be single characters, got {ch!r}")
            if ch not in seen:
                seen.append(ch)
        self.vocab: list[str] = list(SPECIALS) + seen
        self._index: dict[str, int] = {tok: i for i, tok in enumerate(self.vocab)}

    @classmethod
    def from_vocab(cls, vocab: Sequence[str]) -> CharTokenizer:
        """Rebuild a tokenizer from a saved ``vocab`` list (e.g. a checkpoint sidecar); ids are preserved."""
        vocab = list(vocab)
        if vocab[: len(SPECIALS)] != list(SPECIALS):
            raise ValueError(f"vocab must start with the special tokens {list(SPECIALS)}, got {vocab[:4]}")
        return cls(vocab[len(SPECIALS) :])

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _id(self, ch: str) -> int:
        idx = self._index.get(ch)
        if idx is None:
            idx = self._index.get(ch.lower())
        return self.unk_id if idx is None or idx < len(SPECIALS) else idx

    def encode(self, text: str) -> list[int]:
        """One id per character, no special tokens; unknown characters -> ``unk_id``."""
        return [self._id(ch) for ch in text]

    def decode(self, ids: Iterable[int]) -> str:
        """Characters for ``ids``, skipping pad/start/end/unknown (and any out-of-range id)."""
        out: list[str] = []
        for i in ids:
            i = int(i)
            if len(SPECIALS) <= i < len(self.vocab):
                out.append(self.vocab[i])
        return "".join(out)

    def token(self, idx: int) -> str:
        """The display name of one id, e.g. 'a', '<s>'; '<?>' for an id outside the vocabulary."""
        return self.vocab[idx] if 0 <= idx < len(self.vocab) else "<?>"

    def tokens(self, text: str) -> list[str]:
        """What the model sees, one entry per character: folded characters, unknowns as '<unk:😀>'."""
        out: list[str] = []
        for ch in text:
            idx = self._id(ch)
            out.append(f"<unk:{ch}>" if idx == self.unk_id else self.vocab[idx])
        return out

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={len(self.vocab)})"
