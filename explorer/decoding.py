"""Autoregressive decoding for the encoder-decoder Transformer: greedy, sampled, or teacher-forced.

Vaswani et al. 2017, Section 3.1: "At each step the model is auto-regressive, consuming the
previously generated symbols as additional input when generating the next." The encoder runs
once; the decoder is re-run on the growing target prefix ``<s> y1 ... yt`` and the last
position's logits give the next token. (No key/value cache: sequences here are a dozen tokens,
and re-running keeps every step inspectable.)

Conventions shared with the dates task and its checkpoint:

* source ids are the characters of the text, with **no** special tokens;
* the target is ``<s>`` + characters + ``</s>``; decoding starts from ``<s>`` and stops at ``</s>``.

The model is shared and read-only: everything runs under ``torch.inference_mode`` and nothing
on the model is changed. A model left in training mode is copied and the copy put in eval
mode, so dropout never makes a displayed prediction random.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch

from explorer.models import Transformer
from explorer.tasks.tokenizer import CharTokenizer

DEFAULT_MAX_NEW_TOKENS = 16


@dataclass
class DecodeStep:
    """One decoding step: the token emitted, its probability, and the model's top-k alternatives.

    ``forced`` steps come from the ``prefix`` (teacher forcing): the token was given, and
    ``top_k`` shows what the model would have preferred there.
    """

    token: str
    token_id: int
    probability: float
    top_k: list[tuple[str, float]]
    forced: bool = False


@dataclass
class DecodeResult:
    """The output of :func:`generate`.

    ``attention`` comes from one extra forward pass over the final sequence with decoder
    input ``decoder_input_tokens`` = ``<s>`` + every emitted token but the last, so query row
    ``i`` of every decoder map is the step that produced ``output_tokens[i]``. Maps are
    (1, heads, queries, keys) per layer, grouped as ``encoder_self``, ``decoder_self`` and
    ``decoder_cross`` (keys of ``decoder_cross`` are ``source_tokens``).
    """

    text: str
    source_text: str
    source_ids: list[int]
    source_tokens: list[str]
    target_ids: list[int]
    output_tokens: list[str]
    decoder_input_tokens: list[str]
    steps: list[DecodeStep]
    attention: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    truncated: bool = False
    finished: bool = False

    @property
    def output(self) -> str:
        """The translated text (alias of ``text``)."""
        return self.text


def _read_only(model: Transformer) -> Transformer:
    """The model itself if it is in eval mode; otherwise an eval-mode copy (the shared one is not touched)."""
    return copy.deepcopy(model).eval() if model.training else model


def encode_source(tokenizer: CharTokenizer, text: str, max_len: int) -> tuple[list[int], bool]:
    """Source ids for ``text`` (no specials), cut to ``max_len``; the flag says whether it was cut."""
    ids = tokenizer.encode(text)
    if len(ids) > max_len:
        return ids[:max_len], True
    return ids, False


def _model_device(model: Transformer) -> torch.device:
    return next(model.parameters()).device


def _top_k(probs: torch.Tensor, tokenizer: CharTokenizer, k: int) -> list[tuple[str, float]]:
    k = max(1, min(k, probs.shape[-1]))
    values, indices = probs.topk(k)
    return [(tokenizer.token(int(i)), float(v)) for v, i in zip(values, indices)]


def generate(
    model: Transformer,
    tokenizer: CharTokenizer,
    text: str,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    temperature: float = 0.0,
    top_k: int = 5,
    prefix: str | None = None,
    seed: int = 0,
    record_attention: bool = True,
) -> DecodeResult:
    """Translate ``text`` one token at a time.

    ``temperature`` 0 is greedy (argmax); above 0, the next token is sampled from
    softmax(logits / temperature) with a private ``torch.Generator`` seeded by ``seed``, so the
    same call gives the same output and the global random state is untouched. ``prefix`` forces
    the first target characters (teacher forcing); ``max_new_tokens`` counts the tokens
    generated after it (the end token included). The reported probabilities (``top_k`` per
    step) are always at temperature 1, i.e. the model's own distribution.
    Text longer than the model's ``max_len`` is cut and ``truncated`` is set. ``record_attention``
    False skips the recording pass (a caller that records attention itself, as
    :func:`explorer.analysis.stepwise.translate_and_record` does, needs no second one).
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if not text:
        raise ValueError("nothing to translate: the text is empty")
    model = _read_only(model)
    max_len = model.config.max_len
    device = _model_device(model)
    src_ids, truncated = encode_source(tokenizer, text, max_len)
    forced = tokenizer.encode(prefix or "")[: max_len - 1]
    generator = torch.Generator(device="cpu").manual_seed(seed)
    tgt: list[int] = [tokenizer.bos_id]
    steps: list[DecodeStep] = []
    finished = False
    with torch.inference_mode():
        src = torch.tensor([src_ids], dtype=torch.long, device=device)
        src_mask = None
        memory, _ = model.encode(src, src_mask)
        n_steps = min(len(forced) + max_new_tokens, max_len - 1)
        for step in range(n_steps):
            out = model.decode(torch.tensor([tgt], dtype=torch.long, device=device), memory, src_mask)
            logits = out.logits[0, -1].float().cpu()
            probs = torch.softmax(logits, dim=-1)
            if step < len(forced):
                next_id, is_forced = forced[step], True
            elif temperature == 0.0:
                next_id, is_forced = int(probs.argmax()), False
            else:
                sample_probs = torch.softmax(logits / temperature, dim=-1)
                next_id, is_forced = int(torch.multinomial(sample_probs, 1, generator=generator)), False
            steps.append(DecodeStep(tokenizer.token(next_id), next_id, float(probs[next_id]), _top_k(probs, tokenizer, top_k), is_forced))
            tgt.append(next_id)
            if next_id == tokenizer.eos_id and not is_forced:
                finished = True
                break
        attention = _final_attention(model, src, src_mask, tgt[:-1] if len(tgt) > 1 else tgt) if record_attention else {}
    target_ids = tgt[1:]
    return DecodeResult(
        text=tokenizer.decode(target_ids),
        source_text=text,
        source_ids=src_ids,
        source_tokens=tokenizer.tokens(text)[: len(src_ids)],
        target_ids=target_ids,
        output_tokens=[tokenizer.token(i) for i in target_ids],
        decoder_input_tokens=[tokenizer.token(i) for i in (tgt[:-1] if len(tgt) > 1 else tgt)],
        steps=steps,
        attention=attention,
        truncated=truncated,
        finished=finished,
    )


def _final_attention(
    model: Transformer, src: torch.Tensor, src_mask: torch.Tensor | None, decoder_input: list[int]
) -> dict[str, list[torch.Tensor]]:
    """Every attention map for the finished sequence, from one forward pass (detached, on CPU)."""
    tgt = torch.tensor([decoder_input], dtype=torch.long, device=src.device)
    out = model(src, tgt, src_key_padding_mask=src_mask, return_attention=True)
    assert out.attention is not None
    return {kind: [m.detach().cpu() for m in maps] for kind, maps in out.attention.items()}


def pad_batch(seqs: list[list[int]], pad_id: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists to one (B, T) tensor; also returns the padding mask (True = padding)."""
    length = max(1, max((len(s) for s in seqs), default=1))
    ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    mask = torch.ones((len(seqs), length), dtype=torch.bool)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = False
    if device is not None:
        ids, mask = ids.to(device), mask.to(device)
    return ids, mask


def greedy_batch(
    model: Transformer,
    tokenizer: CharTokenizer,
    texts: list[str],
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    batch_size: int = 256,
) -> list[str]:
    """Greedy translations of many texts at once (for evaluation; no per-step details)."""
    if any(not t for t in texts):
        raise ValueError("nothing to translate: one of the texts is empty")
    model = _read_only(model)
    device = _model_device(model)
    max_len = model.config.max_len
    results: list[str] = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chunk = [encode_source(tokenizer, t, max_len)[0] for t in texts[start : start + batch_size]]
            src, src_mask = pad_batch(chunk, tokenizer.pad_id, device)
            memory, _ = model.encode(src, src_mask)
            tgt = torch.full((len(chunk), 1), tokenizer.bos_id, dtype=torch.long, device=device)
            done = torch.zeros(len(chunk), dtype=torch.bool, device=device)
            for _ in range(min(max_new_tokens, max_len - 1)):
                logits = model.decode(tgt, memory, src_mask).logits[:, -1]
                next_id = logits.argmax(dim=-1)
                next_id = torch.where(done, torch.full_like(next_id, tokenizer.pad_id), next_id)
                tgt = torch.cat([tgt, next_id[:, None]], dim=1)
                done |= next_id == tokenizer.eos_id
                if bool(done.all()):
                    break
            for row in tgt[:, 1:].tolist():
                ids = row[: row.index(tokenizer.eos_id)] if tokenizer.eos_id in row else row
                results.append(tokenizer.decode(ids))
    return results
