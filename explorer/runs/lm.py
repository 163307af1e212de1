"""Running the language model: prompt checks, next-token distributions and step-by-step generation.

Generation is autoregressive (Radford et al. 2019, Section 2): the model reads the prompt once
("prefill"), then each new token is appended and only that token is pushed through the network,
its keys and values joining the ``KVCache`` (Pope et al. 2022, Section 2). Greedy decoding is the
default so a shared link always reproduces the same text; sampling uses temperature, top-k (Fan
et al. 2018) and nucleus / top-p (Holtzman et al. 2020) filtering with a seeded generator.

The model is shared and read-only: everything runs under ``torch.inference_mode`` and ablations
are forward arguments.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import torch

MAX_PROMPT_TOKENS = 512
MAX_PROMPT_CHARS = 20_000  # cut before tokenising so a pasted book costs nothing
MAX_NEW_TOKENS = 64
TEMPERATURE_MAX = 5.0
MAX_TOP_K = 1000
MODES = ("complete", "chat")
_KEEP_CONTROLS = {"\n", "\t"}


@dataclass(frozen=True)
class PromptCheck:
    """What the model will read (``ids``) and one-line messages; ``error`` set = refused."""

    text: str
    ids: tuple[int, ...] = ()
    error: str | None = None
    warnings: tuple[str, ...] = ()
    original_tokens: int = 0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def clean_text(text: str) -> tuple[str, list[str]]:
    """Replace lone surrogates by U+FFFD and drop control characters other than newline and tab."""
    warnings: list[str] = []
    surrogates = sum(1 for ch in text if 0xD800 <= ord(ch) <= 0xDFFF)
    if surrogates:
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
        warnings.append(f"replaced {surrogates} invalid character(s) (lone surrogates) by U+FFFD")
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in _KEEP_CONTROLS)
    if controls:
        text = "".join(ch for ch in text if not (unicodedata.category(ch) == "Cc" and ch not in _KEEP_CONTROLS))
        warnings.append(f"removed {controls} control character(s)")
    return text, warnings


def check_prompt(
    text: str, tokenizer: Any, mode: str = "complete", truncate: bool = True, max_tokens: int = MAX_PROMPT_TOKENS
) -> PromptCheck:
    """Validate a prompt and tokenise it (in chat mode, wrapped in the model's chat template).

    Byte-level BPE can spell any text, so no script is refused; what is refused is an empty
    prompt, and (with ``truncate=False``) one longer than ``max_tokens``. With ``truncate=True``
    a long prompt keeps its first ``max_tokens`` tokens and the warning gives both lengths.
    """
    if mode not in MODES:
        return PromptCheck(text="", error=f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    if not isinstance(text, str):  # a URL or a caller may hand anything
        return PromptCheck(text="", error="the prompt must be text")
    warnings: list[str] = []
    if len(text) > MAX_PROMPT_CHARS:
        warnings.append(f"the text has {len(text):,} characters; only the first {MAX_PROMPT_CHARS:,} were read")
        text = text[:MAX_PROMPT_CHARS]
    text, cleaning = clean_text(text)
    warnings += cleaning
    if not text.strip():
        return PromptCheck(text=text, error="the prompt is empty: type some text")
    user_ids = tokenizer.encode(text)
    n_tokens = len(user_ids)
    truncated = False
    if n_tokens > max_tokens:
        if not truncate:
            return PromptCheck(
                text=text,
                error=f"the prompt is {n_tokens} tokens; the cap is {max_tokens} tokens: shorten it",
                original_tokens=n_tokens,
            )
        user_ids = user_ids[:max_tokens]
        text = tokenizer.decode(user_ids)
        truncated = True
        warnings.append(f"the prompt is {n_tokens} tokens; only the first {max_tokens} were kept (the cap)")
    ids = user_ids
    if mode == "chat":
        ids = tokenizer.encode(tokenizer.apply_chat_template([{"role": "user", "content": text}]))
    return PromptCheck(
        text=text, ids=tuple(ids), warnings=tuple(warnings), original_tokens=n_tokens, truncated=truncated
    )


@dataclass(frozen=True)
class Sampling:
    """Decoding settings; ``temperature == 0`` is greedy (argmax). ``top_k == 0`` and ``top_p == 1`` are off."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.temperature) <= TEMPERATURE_MAX:
            raise ValueError(f"temperature must be between 0 and {TEMPERATURE_MAX:g}; got {self.temperature}")
        if not (isinstance(self.top_k, int) and 0 <= self.top_k <= MAX_TOP_K):
            raise ValueError(f"top-k must be a whole number from 0 (off) to {MAX_TOP_K}; got {self.top_k}")
        if not 0.0 < float(self.top_p) <= 1.0:
            raise ValueError(f"top-p must be in (0, 1]; got {self.top_p}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**32):
            raise ValueError(f"seed must be a whole number from 0 to 2^32 - 1; got {self.seed}")

    @property
    def greedy(self) -> bool:
        return float(self.temperature) == 0.0


def sampling_distribution(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """The distribution a token is drawn from: softmax(logits / T) restricted to top-k, then top-p, renormalised.

    Greedy decoding reports the plain softmax (temperature 1) and takes its argmax.
    """
    logits = logits.float()
    if sampling.greedy:
        return torch.softmax(logits, dim=-1)
    scaled = logits / float(sampling.temperature)
    if sampling.top_k:
        kth = torch.topk(scaled, min(sampling.top_k, scaled.shape[-1])).values[..., -1:]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    probs = torch.softmax(scaled, dim=-1)
    if sampling.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs  # mass of the tokens ranked above
        sorted_probs = sorted_probs.masked_fill(before >= float(sampling.top_p), 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs


def top_tokens(probs: torch.Tensor, tokenizer: Any, k: int = 10) -> tuple[tuple[int, str, float], ...]:
    """(id, piece, probability) of the k most probable tokens of a (V,) distribution."""
    values, indices = torch.topk(probs, min(k, probs.shape[-1]))
    ids = [int(i) for i in indices]
    return tuple(zip(ids, tokenizer.pieces(ids), (float(v) for v in values)))


@dataclass(frozen=True)
class Step:
    """One generated token: what was chosen, the top alternatives, the cache size and the real time."""

    token_id: int
    piece: str
    probability: float
    top: tuple[tuple[int, str, float], ...]
    cache_tokens: int
    cache_bytes: int
    seconds: float


@dataclass(frozen=True)
class Generation:
    prompt_ids: tuple[int, ...]
    new_ids: tuple[int, ...]
    text: str
    steps: tuple[Step, ...]
    prefill_seconds: float
    stopped: str  # "eos" | "length" | "time"
    use_cache: bool


def iter_generate(
    model: Any,
    tokenizer: Any,
    prompt_ids: Iterable[int],
    max_new_tokens: int = 16,
    sampling: Sampling | None = None,
    use_cache: bool = True,
    top_n: int = 5,
    ablate_heads: Iterable[tuple[int, int]] | None = None,
    stop_at_eos: bool = True,
    time_limit: float | None = None,
) -> Iterator[Step]:
    """Yield one ``Step`` per new token (for streaming); see ``generate`` for the arguments.

    Without the cache every step re-reads the whole sequence, which is the cost the cache removes;
    both are offered so the page can time them side by side.
    """
    sampling = sampling or Sampling()
    if not (isinstance(max_new_tokens, int) and 1 <= max_new_tokens <= MAX_NEW_TOKENS):
        raise ValueError(f"the number of new tokens must be from 1 to {MAX_NEW_TOKENS}; got {max_new_tokens}")
    ids = list(prompt_ids)
    if not ids:
        raise ValueError("the prompt has no tokens")
    ablations = list(ablate_heads or ())
    generator = torch.Generator().manual_seed(int(sampling.seed))
    cache = model.new_cache() if use_cache else None
    started = time.perf_counter()
    with torch.inference_mode():
        pending = torch.tensor([ids])
        for _ in range(max_new_tokens):
            tick = time.perf_counter()
            inputs = pending if use_cache else torch.tensor([ids])
            logits = model(inputs, cache=cache, ablate_heads=ablations, last_only=True).logits[0, -1]
            probs = sampling_distribution(logits, sampling)
            token = int(probs.argmax()) if sampling.greedy else int(torch.multinomial(probs, 1, generator=generator))
            ids.append(token)
            pending = torch.tensor([[token]])
            yield Step(
                token_id=token,
                piece=tokenizer.pieces([token])[0],
                probability=float(probs[token]),
                top=top_tokens(probs, tokenizer, top_n),
                cache_tokens=cache.length if cache is not None else 0,
                cache_bytes=cache.nbytes if cache is not None else 0,
                seconds=time.perf_counter() - tick,
            )
            if stop_at_eos and token == tokenizer.eos_id:
                return
            if time_limit is not None and time.perf_counter() - started > time_limit:
                return


class GenerateOptions(TypedDict, total=False):
    """The keyword options of :func:`iter_generate` that :func:`generate` passes through."""

    use_cache: bool
    top_n: int
    ablate_heads: Iterable[tuple[int, int]] | None
    stop_at_eos: bool
    time_limit: float | None


def generate(
    model: Any,
    tokenizer: Any,
    prompt_ids: Iterable[int],
    max_new_tokens: int = 16,
    sampling: Sampling | None = None,
    **options: Unpack[GenerateOptions],
) -> Generation:
    """Generate up to ``max_new_tokens`` tokens after ``prompt_ids``; stops at end-of-sequence or ``time_limit`` s.

    ``Step.seconds`` of the first step includes reading the prompt (prefill); ``prefill_seconds`` repeats it.
    """
    prompt = tuple(int(i) for i in prompt_ids)
    steps = list(iter_generate(model, tokenizer, prompt, max_new_tokens, sampling, **options))
    return finish_generation(tokenizer, prompt, steps, max_new_tokens, options.get("use_cache", True), options.get("stop_at_eos", True))


def finish_generation(
    tokenizer: Any,
    prompt_ids: Iterable[int],
    steps: list[Step],
    max_new_tokens: int,
    use_cache: bool = True,
    stop_at_eos: bool = True,
) -> Generation:
    """The ``Generation`` record of steps produced by ``iter_generate`` (why it stopped, the text)."""
    new_ids = tuple(step.token_id for step in steps)
    if steps and stop_at_eos and new_ids[-1] == tokenizer.eos_id:
        stopped = "eos"
    elif len(steps) < max_new_tokens:
        stopped = "time"
    else:
        stopped = "length"
    shown = [i for i in new_ids if i != tokenizer.eos_id]
    return Generation(
        prompt_ids=tuple(int(i) for i in prompt_ids),
        new_ids=new_ids,
        text=tokenizer.decode(shown, skip_special=True),
        steps=tuple(steps),
        prefill_seconds=steps[0].seconds if steps else 0.0,
        stopped=stopped,
        use_cache=use_cache,
    )


def next_token(
    model: Any,
    tokenizer: Any,
    prompt_ids: Iterable[int],
    sampling: Sampling | None = None,
    k: int = 10,
    ablate_heads: Iterable[tuple[int, int]] | None = None,
) -> tuple[tuple[int, str, float], ...]:
    """The top-k of the next-token distribution after the prompt."""
    with torch.inference_mode():
        logits = model(torch.tensor([list(prompt_ids)]), ablate_heads=ablate_heads, last_only=True).logits[0, -1]
    return top_tokens(sampling_distribution(logits, sampling or Sampling()), tokenizer, k)

