"""Byte-level BPE (Radford et al. 2019, GPT-2 Section 2.2) built with Hugging Face ``tokenizers``.

A byte-level BPE first maps every UTF-8 byte to a printable character (so any text, in any
script, with emoji or control characters, has a spelling and nothing is ever "unknown"), then
merges frequent adjacent pairs in the order they were learned. SmolLM2 ships its vocabulary
and merge list inside the GGUF file; this module rebuilds the exact tokenizer from them with the
``tokenizers`` library instead of a hand-written merge loop.

SmolLM2's pre-tokenizer (llama.cpp's "smollm" pre-type, the same as StarCoder's) first splits
every digit on its own, then applies GPT-2's regex split; the decoder turns the byte characters
back into UTF-8.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers


@lru_cache(maxsize=1)
def byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's ``bytes_to_unicode``: printable character -> the byte it spells.

    Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls, space, ...) are
    shifted to 256 + n in order, so a space is spelled "Ġ" (U+0120).
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(char): byte for byte, char in zip(printable, chars)}


class ByteBPETokenizer:
    """encode/decode/pieces over a ``tokenizers.Tokenizer`` with the model's special tokens."""

    def __init__(
        self,
        tokens: Sequence[str],
        merges: Sequence[str],
        special_ids: Sequence[int],
        bos_id: int | None,
        eos_id: int | None,
        chat_template: str | None = None,
    ) -> None:
        vocab = {token: index for index, token in enumerate(tokens)}
        pairs = [(left, right) for left, right in (merge.split(" ", 1) for merge in merges)]
        bpe = models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False)
        tokenizer = Tokenizer(bpe)
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
            ]
        )
        tokenizer.decoder = decoders.ByteLevel()
        tokenizer.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False) for i in special_ids])
        self._tokenizer = tokenizer
        self.tokens = list(tokens)
        self.special_ids = frozenset(special_ids)
        self.bos_id = bos_id
        self.eos_id = eos_id
        self.chat_template = chat_template
        self.vocab_size = len(tokens)

    def encode(self, text: str) -> list[int]:
        """Token ids; special-token spellings in the text (e.g. ``<|im_end|>``) become those tokens."""
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int], skip_special: bool = False) -> str:
        return self._tokenizer.decode(list(ids), skip_special_tokens=skip_special)

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes a token stands for (special tokens: their spelling)."""
        token = self.tokens[token_id]
        if token_id in self.special_ids:
            return token.encode("utf-8")
        table = byte_decoder()
        return bytes(table[char] for char in token)

    def pieces(self, ids: Sequence[int]) -> list[str]:
        """Each token as text; a token holding part of a multi-byte character shows its bytes (``<0xF0>``)."""
        out = []
        for token_id in ids:
            raw = self.token_bytes(int(token_id))
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                out.append("".join(f"<0x{byte:02X}>" for byte in raw))
        return out

    def apply_chat_template(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """Render the model's own Jinja chat template (from the GGUF metadata) in a sandbox."""
        if not self.chat_template:
            raise ValueError("this model has no chat template")
        from jinja2.sandbox import ImmutableSandboxedEnvironment  # only chat mode needs it

        template: Any = _compile_template(self.chat_template, ImmutableSandboxedEnvironment)
        return template.render(messages=list(messages), add_generation_prompt=add_generation_prompt)


@lru_cache(maxsize=4)
def _compile_template(source: str, environment: type) -> object:
    return environment(trim_blocks=True, lstrip_blocks=True).from_string(source)
